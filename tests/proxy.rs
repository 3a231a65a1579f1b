//! `zaslon serve` end to end: a real upstream hyper server and a real client
//! on loopback, the proxy between them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use zaslon::proxy::{Overrides, Source, start};

const SNILS: &str = "112-233-445 95";

/// An upstream that answers by path.
async fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let path = req.uri().path().to_string();
                    let resp = match path.as_str() {
                        "/clean" => Response::builder()
                            .header("content-type", "text/html; charset=utf-8")
                            .body(Full::new(Bytes::from("<p>Часы работы: 9:00–21:00</p>")).boxed())
                            .unwrap(),
                        "/patient" => Response::builder()
                            .header("content-type", "text/html")
                            .body(Full::new(Bytes::from(format!("<td>СНИЛС {SNILS}</td>"))).boxed())
                            .unwrap(),
                        "/stream" => {
                            // The SNILS split across two chunks, no length.
                            let chunks: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                                Ok(Frame::data(Bytes::from("<p>СНИЛС 112-23"))),
                                Ok(Frame::data(Bytes::from("3-445 95</p>"))),
                            ];
                            Response::builder()
                                .header("content-type", "text/html")
                                .body(StreamBody::new(futures_stream(chunks)).boxed())
                                .unwrap()
                        }
                        "/export" => {
                            let mut s = String::from("[");
                            for i in 0..30u64 {
                                s.push_str(&format!(
                                    "{{\"phone\":\"+7 999 {:03} {:02} {:02}\"}},",
                                    i,
                                    i % 100,
                                    7
                                ));
                            }
                            s.push(']');
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(s)).boxed())
                                .unwrap()
                        }
                        _ => Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::new()).boxed())
                            .unwrap(),
                    };
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

fn futures_stream(
    v: Vec<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    tokio_stream::iter(v)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}{path}").parse().unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .unwrap()
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_blocks_counts_and_never_leaks() {
    let up = upstream().await;
    let dir = std::env::temp_dir().join(format!("zaslon-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let config = dir.join("zaslon.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstreams:\n  site: {{ url: \"http://{up}\" }}\nroutes:\n  - {{ upstream: site }}\naudit: {{ path: \"{}\" }}\n",
            audit.display()
        ),
    )
    .unwrap();
    let running = start(Source {
        config: Some(config),
        overrides: Overrides::default(),
    })
    .await
    .unwrap();
    let addr = running.listen;

    let (s, body) = get(addr, "/clean").await;
    assert_eq!((s, body.as_str()), (200, "<p>Часы работы: 9:00–21:00</p>"));

    let (s, body) = get(addr, "/patient").await;
    assert_eq!(s, 200);
    assert_eq!(body, "<td>СНИЛС ***-***-*** 95</td>");

    let (s, body) = get(addr, "/stream").await;
    assert_eq!(s, 200);
    assert_eq!(body, "<p>СНИЛС ***-***-*** 95</p>");

    let (s, body) = get(addr, "/export").await;
    assert_eq!(s, 451, "{body}");
    assert!(!body.contains("+7 999"));

    // Request flow: monitored by default, forwarded.
    let (s, _) = get(addr, "/nothing?snils=112-233-445+95").await;
    assert_eq!(s, 404);

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
    let (s, _) = get(down.listen, "/").await;
    assert_eq!(s, 502);
    down.shutdown().await;

    let (s, metrics) = get(running.admin.unwrap(), "/metrics").await;
    assert_eq!(s, 200);
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
    let (s, _) = get(running.admin.unwrap(), "/readyz").await;
    assert_eq!(s, 200);
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
    let _ = std::fs::remove_dir_all(&dir);
}
