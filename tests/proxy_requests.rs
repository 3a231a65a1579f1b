//! The request flow: URL query strings, URL-encoded forms, JSON, JSON in a
//! form field and multipart bodies are scanned with field names as
//! context; masks reach the upstream, blocks never do.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;

fn post(path: &str, ctype: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", ctype)
        .body(Full::new(body.into()))
        .unwrap()
}

const POLICIES: &str = "policies:
  - id: block-cards
    flow: request
    categories: [card]
    action: block
  - id: mask-request-snils
    flow: request
    categories: [snils]
    action: mask
    mask: { strategy: keep_last, keep: 2 }
  - id: watch
    flow: request
    action: monitor
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_scanned_by_kind_with_field_names() {
    let up = upstream().await;
    let dir = Scratch::new("requests");
    let policies = dir.write("site.policies.yaml", POLICIES);
    let running = proxy(
        &dir,
        up.addr,
        &format!("policies: [\"{}\"]\n", policies.display()),
    )
    .await;
    let addr = running.listen;

    // URL-encoded form: the SNILS is masked before it is forwarded.
    let g = send(
        addr,
        post(
            "/form1",
            "application/x-www-form-urlencoded",
            "fio=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2&snils=112-233-445+95&agree=on",
        ),
    )
    .await;
    assert_eq!(g.status, 404, "forwarded");
    let got = String::from_utf8(up.last("/form1").unwrap().body.to_vec()).unwrap();
    assert_eq!(
        got,
        "fio=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2&snils=***-***-***+95&agree=on"
    );

    // JSON, and JSON inside a form field.
    send(
        addr,
        post(
            "/api1",
            "application/json",
            r#"{"patient":{"snils":"11223344595"}}"#,
        ),
    )
    .await;
    let got = up.last("/api1").unwrap().body;
    assert_eq!(&got[..], br#"{"patient":{"snils":"*********95"}}"#);
    send(
        addr,
        post(
            "/form2",
            "application/x-www-form-urlencoded",
            "payload=%7B%22snils%22%3A%2211223344595%22%7D",
        ),
    )
    .await;
    let got = String::from_utf8(up.last("/form2").unwrap().body.to_vec()).unwrap();
    assert!(!got.contains("11223344595"), "{got}");
    assert!(got.contains("95%22%7D"), "{got}");

    // A phone is only a phone by its field name.
    send(
        addr,
        post(
            "/form3",
            "application/x-www-form-urlencoded",
            "tel=%2B7+921+555-12-34",
        ),
    )
    .await;

    // Multipart: text parts scanned with their names, files counted.
    let mp = "--b0undary\r\nContent-Disposition: form-data; name=\"snils\"\r\n\r\n112-233-445 95\r\n--b0undary\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"snils.txt\"\r\nContent-Type: text/plain\r\n\r\nСНИЛС 112-233-445 95\r\n--b0undary--\r\n";
    send(
        addr,
        post("/upload", "multipart/form-data; boundary=b0undary", mp),
    )
    .await;
    let got = String::from_utf8(up.last("/upload").unwrap().body.to_vec()).unwrap();
    assert!(
        got.contains("name=\"snils\"\r\n\r\n***-***-*** 95\r\n"),
        "{got}"
    );
    // The file goes on as it came: files are counted, not read.
    assert!(got.contains("СНИЛС 112-233-445 95"), "{got}");
    assert_eq!(got.len(), mp.len());

    // A broken multipart body is scanned whole.
    send(
        addr,
        post(
            "/upload2",
            "multipart/form-data; boundary=b0undary",
            "СНИЛС 112-233-445 95",
        ),
    )
    .await;
    let got = String::from_utf8(up.last("/upload2").unwrap().body.to_vec()).unwrap();
    assert_eq!(got, "СНИЛС ***-***-*** 95");

    // The query string.
    send(addr, post("/q?snils=112-233-445+95&x=1", "text/plain", "")).await;
    assert_eq!(
        up.last("/q").unwrap().path_and_query,
        "/q?snils=***-***-***+95&x=1"
    );

    // Blocked: a page in Russian, and the upstream never sees it.
    let g = send(
        addr,
        post(
            "/pay",
            "application/x-www-form-urlencoded",
            "card=4111+1111+1111+1111",
        ),
    )
    .await;
    assert_eq!(g.status, 403);
    assert!(g.text().contains("Данные не были переданы"));
    assert!(up.last("/pay").is_none());

    let m = metrics(&running).await;
    let found = |cat: &str| {
        metric(
            &m,
            "zaslon_findings_total",
            &["flow=\"request\"", &format!("category=\"{cat}\"")],
        )
    };
    assert_eq!(found("snils"), 6.0);
    assert_eq!(found("phone"), 1.0);
    assert_eq!(found("card"), 1.0);
    assert_eq!(
        metric(
            &m,
            "zaslon_uninspected_bodies_total",
            &[
                "flow=\"request\"",
                "reason=\"file_part\"",
                "handling=\"fail_open\""
            ]
        ),
        1.0
    );
    assert_eq!(
        metric(&m, "zaslon_blocked_total", &["policy=\"block-cards\""]),
        1.0
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_and_fail_closed_files() {
    let up = upstream().await;
    let dir = Scratch::new("reqlimits");
    let running = proxy(
        &dir,
        up.addr,
        "limits: { request_body_bytes: 4096 }\nroutes:\n  - { upstream: site, uninspected: fail_closed }\n",
    )
    .await;
    let addr = running.listen;
    let g = send(
        addr,
        post(
            "/big",
            "text/plain",
            format!("СНИЛС {SNILS} {}", filler(10_000)),
        ),
    )
    .await;
    assert_eq!(g.status, 413);
    assert!(up.last("/big").is_none());
    let mp = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n\x01\x02\r\n--b--\r\n";
    let g = send(addr, post("/file", "multipart/form-data; boundary=b", mp)).await;
    assert_eq!(g.status, 403);
    assert!(up.last("/file").is_none());
    let g = send(
        addr,
        post("/bin", "application/octet-stream", vec![1u8, 2, 3]),
    )
    .await;
    assert_eq!(g.status, 403);
    assert!(up.last("/bin").is_none());
    running.shutdown().await;
}

/// Headers on the way to the upstream: hop-by-hop ones (and those that
/// `Connection` names) are dropped and `X-Forwarded-*` set; the request id
/// is kept when it is a safe token, made anew otherwise, and comes back to
/// the client, with inspection on and off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_hop_by_hop_and_request_ids() {
    let up = upstream().await;
    for (tag, extra) in [("ids-on", ""), ("ids-off", "inspect: false\n")] {
        let dir = Scratch::new(tag);
        let running = proxy(&dir, up.addr, extra).await;
        let addr = running.listen;
        let path = format!("/clean?{tag}");
        let g = send(
            addr,
            Request::get(path.as_str())
                .header("x-request-id", "order-42_a.b")
                .header("connection", "x-hop-secret")
                .header("x-hop-secret", "1")
                .header("keep-alive", "timeout=5")
                .header("x-forwarded-for", "10.1.2.3")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        assert_eq!(g.status, 200, "{tag}");
        assert_eq!(g.headers["x-request-id"], "order-42_a.b", "{tag}");
        let r = up.last(&path).unwrap();
        assert_eq!(r.headers["x-request-id"], "order-42_a.b", "{tag}");
        assert!(r.headers.get("x-hop-secret").is_none(), "{tag}");
        assert!(r.headers.get("keep-alive").is_none(), "{tag}");
        assert_eq!(r.headers["x-forwarded-for"], "10.1.2.3, 127.0.0.1", "{tag}");
        assert_eq!(r.headers["x-forwarded-proto"], "http", "{tag}");
        assert_eq!(
            r.headers["x-forwarded-host"],
            addr.to_string().as_str(),
            "{tag}"
        );

        // No id, one too long, one with a byte outside the token: a new id,
        // the same to the upstream and back.
        for (case, sent) in [
            ("none", None),
            ("long", Some("a".repeat(65))),
            ("semicolon", Some("x;y".to_string())),
        ] {
            let path = format!("/clean?{tag}-{case}");
            let mut req = Request::get(path.as_str());
            if let Some(id) = &sent {
                req = req.header("x-request-id", id.as_str());
            }
            let g = send(addr, req.body(Full::new(Bytes::new())).unwrap()).await;
            assert_eq!(g.status, 200, "{tag} {case}");
            let back = g.headers["x-request-id"].to_str().unwrap().to_string();
            assert_eq!(back.len(), 32, "{tag} {case}: {back}");
            assert!(back.bytes().all(|b| b.is_ascii_hexdigit()), "{tag} {case}");
            assert_eq!(
                up.last(&path).unwrap().headers["x-request-id"],
                back.as_str()
            );
        }
        running.shutdown().await;
    }
}
