//! `zaslon serve` end to end: a real upstream hyper server and a real client
//! on loopback, the proxy between them.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;
use tokio::net::TcpListener;
use zaslon::proxy::{Overrides, Source, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_blocks_counts_and_never_leaks() {
    let up = upstream().await;
    let dir = Scratch::new("proxy");
    let audit = dir.path("audit.jsonl");
    let running = proxy(&dir, up.addr, "").await;
    let addr = running.listen;

    let g = get(addr, "/clean").await;
    assert_eq!(
        (g.status, g.text().as_str()),
        (200, "<p>Часы работы: 9:00–21:00</p>")
    );

    let g = get(addr, "/patient").await;
    assert_eq!(g.status, 200);
    assert_eq!(g.text(), "<td>СНИЛС ***-***-*** 95</td>");

    let g = get(addr, "/stream").await;
    assert_eq!(g.status, 200);
    assert_eq!(g.text(), "<p>СНИЛС ***-***-*** 95</p>");

    let g = get(addr, "/export").await;
    assert_eq!(g.status, 451, "{}", g.text());
    assert!(!g.text().contains("+7 999"));

    // Request flow: monitored by default, forwarded.
    let g = get(addr, "/nothing?snils=112-233-445+95").await;
    assert_eq!(g.status, 404);

    // Upstream down: 502, quickly.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let down = start(Source {
        config: None,
        overrides: Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            upstream: Some(format!("http://{dead_addr}")),
            ..Default::default()
        },
    })
    .await
    .unwrap();
    assert_eq!(get(down.listen, "/").await.status, 502);
    down.shutdown().await;

    let metrics = metrics(&running).await;
    assert_eq!(
        metric(&metrics, "zaslon_masked_total", &["flow=\"response\""]),
        2.0
    );
    assert_eq!(
        metric(
            &metrics,
            "zaslon_blocked_total",
            &["policy=\"bulk-leak\"", "mode=\"enforce\""]
        ),
        1.0
    );
    assert!(
        metric(
            &metrics,
            "zaslon_findings_total",
            &["flow=\"request\"", "category=\"snils\""]
        ) >= 1.0
    );
    assert_eq!(metric(&metrics, "zaslon_config_generation", &[]), 1.0);
    assert_eq!(get(running.admin.unwrap(), "/readyz").await.status, 200);
    running.shutdown().await;

    // No raw value anywhere operators look.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.lines().count() >= 3, "{log}");
    for needle in [SNILS, "11223344595", "112-233-445", "+7 999 001"] {
        assert!(!log.contains(needle), "audit log holds {needle}");
        assert!(!metrics.contains(needle), "metrics hold {needle}");
    }
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["fingerprint"].as_str().unwrap().len(), 32);
    }
}

fn accept(path: &str, coding: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("accept-encoding", coding)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_are_decoded_masked_and_encoded_again() {
    let up = upstream().await;
    let dir = Scratch::new("codings");
    let running = proxy(&dir, up.addr, "").await;
    let addr = running.listen;
    for coding in ["gzip", "deflate", "br", "zstd"] {
        // Clean and compressed: the upstream's bytes, unchanged.
        let direct = get(up.addr, &format!("/z/clean?enc={coding}")).await;
        let g = send(addr, accept(&format!("/z/clean?enc={coding}"), coding)).await;
        assert_eq!(g.status, 200);
        assert_eq!(g.body, direct.body, "{coding}: clean body changed");
        assert_eq!(g.headers["content-encoding"], coding);

        // Held whole: masked, encoded again, length and validator fixed.
        let g = send(addr, accept(&format!("/z/patient?enc={coding}"), coding)).await;
        assert_eq!(g.status, 200, "{coding}");
        assert_eq!(g.headers["content-encoding"], coding);
        assert_eq!(
            g.headers["content-length"].to_str().unwrap(),
            g.body.len().to_string()
        );
        assert_eq!(g.headers["etag"], "W/\"v1\"");
        let plain = String::from_utf8(decode(coding, &g.body)).unwrap();
        assert!(
            plain.contains(&format!("<td>СНИЛС {SNILS_MASKED}</td>")),
            "{coding}"
        );
        assert!(!plain.contains(SNILS));
        assert_eq!(plain.len(), 6000 + format!("<td>СНИЛС {SNILS}</td>").len());

        // Streamed in 997-byte pieces with no length: masked on the fly.
        let g = send(addr, accept(&format!("/z/stream?enc={coding}"), coding)).await;
        assert_eq!(g.status, 200, "{coding}");
        assert!(!g.cut, "{coding}: stream cut");
        assert!(g.headers.get("content-length").is_none());
        let plain = String::from_utf8(decode(coding, &g.body)).unwrap();
        assert_eq!(
            plain.len(),
            500_000 + format!("<td>СНИЛС {SNILS}</td>").len()
        );
        assert!(plain.contains(SNILS_MASKED), "{coding}");
        assert!(!plain.contains(SNILS), "{coding}");
    }
    let m = metrics(&running).await;
    assert_eq!(
        metric(&m, "zaslon_masked_total", &["flow=\"response\""]),
        8.0
    );
    assert_eq!(metric(&m, "zaslon_uninspected_bodies_total", &[]), 0.0);
    assert!(metric(&m, "zaslon_scanned_bytes_total", &["flow=\"response\""]) > 4.0 * 500_000.0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_corrupt_and_unknown_codings_never_pass_unseen() {
    let up = upstream().await;
    let dir = Scratch::new("bombs");
    let routes = "routes:\n  - { upstream: site, path: /open/ , uninspected: fail_open }\n  - { upstream: site, uninspected: fail_closed }\n";
    // The `/open/` prefix reaches the same upstream pages under another path.
    let running = proxy(&dir, up.addr, routes).await;
    let addr = running.listen;
    for coding in ["gzip", "br", "zstd"] {
        // A bomb on a fail_closed route: a page, not the body.
        let g = send(addr, accept(&format!("/z/bomb?enc={coding}"), coding)).await;
        assert_eq!(g.status, 502, "{coding}");
        assert!(g.text().contains("не удалось проверить"));
        // Corrupt: refused on every route, since a client could decode the
        // part before the damage.
        let g = send(addr, accept(&format!("/z/corrupt?enc={coding}"), coding)).await;
        assert_eq!(g.status, 502, "{coding}");
        let g = send(
            addr,
            accept(&format!("/open/z/corrupt?enc={coding}"), coding),
        )
        .await;
        assert_eq!(g.status, 502, "{coding}");
        // On a fail_open route the bomb goes on as it came, counted.
        let direct = get(up.addr, &format!("/z/bomb?enc={coding}")).await;
        let g = send(addr, accept(&format!("/open/z/bomb?enc={coding}"), coding)).await;
        assert_eq!(g.status, 200, "{coding}");
        assert_eq!(g.body, direct.body);
        // Streamed with no length: cut once the ratio is passed.
        let g = send(addr, accept(&format!("/z/bombstream?enc={coding}"), coding)).await;
        assert!(g.cut, "{coding}");
        assert!(g.body.len() < 1 << 20, "{coding}");
    }
    // An unknown coding on a fail_closed route.
    let g = get(addr, "/compress").await;
    assert_eq!(g.status, 502);
    assert!(!g.text().contains(SNILS));
    let m = metrics(&running).await;
    for (reason, handling, n) in [
        ("decode_ratio", "fail_closed", 6.0),
        ("decode_ratio", "fail_open", 3.0),
        ("decode_error", "fail_closed", 6.0),
        ("encoding", "fail_closed", 1.0),
    ] {
        assert_eq!(
            metric(
                &m,
                "zaslon_uninspected_bodies_total",
                &[
                    &format!("reason=\"{reason}\""),
                    &format!("handling=\"{handling}\"")
                ]
            ),
            n,
            "{reason} {handling}"
        );
    }
    running.shutdown().await;
}
