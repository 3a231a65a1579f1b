//! Operating the proxy: TLS (certificates made here, TLS 1.2 and 1.3,
//! HTTP/2 by ALPN), a TLS upstream with its own CA, reload good and bad,
//! header and connection limits, slow clients and upstreams, drain.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A self-signed certificate for localhost and 127.0.0.1, as PEM files.
fn certificate(dir: &Scratch, name: &str) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.write(&format!("{name}.crt"), &ck.cert.pem());
    let key = dir.write(&format!("{name}.key"), &ck.signing_key.serialize_pem());
    (cert, key, ck.cert.pem())
}

fn client_tls(
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// One request over TLS; returns the status, HTTP version and body.
async fn tls_get(
    addr: std::net::SocketAddr,
    tls: rustls::ClientConfig,
    path: &str,
    h2: bool,
) -> (u16, http::Version, String) {
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only();
    let https = if h2 {
        b.enable_http2().build()
    } else {
        b.enable_http1().build()
    };
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(h2)
        .build::<_, Full<Bytes>>(https);
    let uri: hyper::Uri = format!("https://localhost:{}{path}", addr.port())
        .parse()
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .unwrap()
        .unwrap();
    let status = resp.status().as_u16();
    let version = resp.version();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, version, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_http2_and_a_tls_upstream() {
    let up = upstream().await;
    let dir = Scratch::new("tls");
    let (cert, key, pem) = certificate(&dir, "front");

    // A TLS upstream in front of the plain one, with a certificate of its own.
    let (up_cert, up_key, _) = certificate(&dir, "upstream");
    let acceptor = zaslon::proxy::tls_acceptor(&up_cert, &up_key).unwrap();
    let tls_up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_up_addr = tls_up.local_addr().unwrap();
    let plain = up.addr;
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = tls_up.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(s) = acceptor.accept(s).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: Request<hyper::body::Incoming>| async move {
                        let q = req.uri().query().unwrap_or("").to_string();
                        let _ = plain;
                        Ok::<_, std::convert::Infallible>(page(req.uri().path(), &q).await)
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });

    let extra = format!(
        "tls: {{ cert: \"{}\", key: \"{}\" }}\nupstreams:\n  secure: {{ url: \"https://localhost:{}\", ca: \"{}\" }}\nroutes:\n  - {{ upstream: secure, path: /z/ }}\n  - {{ upstream: site }}\n",
        cert.display(),
        key.display(),
        tls_up_addr.port(),
        up_cert.display()
    );
    // `upstreams:` appears twice if written naively; build the config here.
    let audit = dir.path("audit.jsonl");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\naudit: {{ path: \"{}\" }}\n{}",
        audit.display(),
        extra.replace(
            "upstreams:\n",
            &format!("upstreams:\n  site: {{ url: \"http://{}\" }}\n", up.addr)
        )
    );
    // An egress destination behind TLS, trusted through its own CA file.
    let dest = dir.write(
        "egress.policies.yaml",
        &format!(
            "destinations:\n  - {{ id: crm, prefix: /crm/, url: \"https://localhost:{}/\", ca: \"{}\", ground: contract, categories: [email] }}\n",
            tls_up_addr.port(),
            up_cert.display()
        ),
    );
    let text = format!(
        "{text}egress: 127.0.0.1:0\nledger: {{ sqlite: ledger.sqlite }}\npolicies: [\"{}\", \"{}\"]\n",
        dir.write(
            "default.policies.yaml",
            include_str!("../rules/default.policies.yaml")
        )
        .display(),
        dest.display()
    );
    let config = dir.write("zaslon.yaml", &text);
    let running = zaslon::proxy::start(zaslon::proxy::Source {
        config: Some(config),
        overrides: Default::default(),
    })
    .await
    .unwrap();

    let v13 = client_tls(&pem, &[&rustls::version::TLS13]);
    let v12 = client_tls(&pem, &[&rustls::version::TLS12]);
    let (s, v, body) = tls_get(running.listen, v13.clone(), "/patient", true).await;
    assert_eq!((s, v), (200, http::Version::HTTP_2));
    assert_eq!(body, format!("<td>СНИЛС {SNILS_MASKED}</td>"));
    let (s, v, body) = tls_get(running.listen, v12, "/stream", false).await;
    assert_eq!((s, v), (200, http::Version::HTTP_11));
    assert_eq!(body, format!("<p>СНИЛС {SNILS_MASKED}</p>"));
    // Through the TLS upstream, over HTTP/2 from the client.
    let (s, _, body) = tls_get(running.listen, v13.clone(), "/z/clean?enc=gzip", true).await;
    assert_eq!(s, 200);
    assert!(!body.is_empty());

    // The backend's call goes out over TLS to the destination.
    let g = send(
        running.egress.unwrap(),
        Request::post("/crm/clean")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from("{\"email\":\"ivanova.m@mail.ru\"}")))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (g.status, g.text().as_str()),
        (200, "<p>Часы работы: 9:00–21:00</p>")
    );

    // A client that does not trust the certificate gets no answer.
    let (_, _, other) = certificate(&dir, "other");
    let stranger = client_tls(&other, &[&rustls::version::TLS13]);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(stranger)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(https);
    let uri: hyper::Uri = format!("https://localhost:{}/clean", running.listen.port())
        .parse()
        .unwrap();
    assert!(client.get(uri).await.is_err());

    // Plain HTTP on the TLS port is refused, not served.
    let mut s = TcpStream::connect(running.listen).await.unwrap();
    s.write_all(b"GET /patient HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("СНИЛС"));
    running.shutdown().await;
}

/// A client connection kept open, for several requests in turn.
async fn kept_alive(addr: std::net::SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// `GET path` on a kept-alive connection.
async fn get_on(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
) -> hyper::Response<hyper::body::Incoming> {
    sender
        .send_request(
            Request::get(path)
                .header("host", "x")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn wait_for(
    running: &zaslon::proxy::Running,
    name: &str,
    labels: &[&str],
    want: f64,
) -> String {
    wait_until(running, name, labels, |v| v >= want).await
}

/// The metrics once `name` with `labels` passes `ok`.
async fn wait_until(
    running: &zaslon::proxy::Running,
    name: &str,
    labels: &[&str],
    ok: impl Fn(f64) -> bool,
) -> String {
    // Bounded: 100 looks, 100 ms apart.
    for _ in 0..100 {
        let m = metrics(running).await;
        if ok(metric(&m, name, labels)) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} {labels:?} never got where it was awaited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_good_and_bad() {
    let up = upstream().await;
    let dir = Scratch::new("reload");
    let mask = "policies:\n  - { id: p, flow: response, categories: [snils], action: mask, mask: { strategy: full } }\n";
    let block = "policies:\n  - { id: p, flow: response, categories: [snils], action: block }\n";
    let policies = dir.write("site.policies.yaml", mask);
    let running = proxy(
        &dir,
        up.addr,
        &format!("policies: [\"{}\"]\n", policies.display()),
    )
    .await;
    let addr = running.listen;
    assert_eq!(
        get(addr, "/patient").await.text(),
        "<td>СНИЛС ***-***-*** **</td>"
    );

    // A connection kept open across reloads keeps working.
    let mut sender = kept_alive(addr).await;

    // Good: by SIGHUP's path.
    std::fs::write(&policies, block).unwrap();
    running.reload();
    wait_for(&running, "zaslon_reloads_total", &["result=\"ok\""], 1.0).await;
    assert_eq!(get(addr, "/patient").await.status, 403);
    let r = get_on(&mut sender, "/patient").await;
    assert_eq!(r.status(), 403);

    // Bad: a broken file, noticed by its change. The old rules stay. (The
    // watcher may also have seen the good write above and loaded it a
    // second time: every good reload, and only those, moves the
    // generation on.)
    std::fs::write(&policies, "policies:\n  - { id: p, flow: sideways }\n").unwrap();
    let m = wait_for(&running, "zaslon_reloads_total", &["result=\"error\""], 1.0).await;
    let ok = metric(&m, "zaslon_reloads_total", &["result=\"ok\""]);
    assert!(ok >= 1.0);
    assert_eq!(metric(&m, "zaslon_config_generation", &[]), 1.0 + ok);
    assert_eq!(get(addr, "/patient").await.status, 403);
    let r = get_on(&mut sender, "/clean").await;
    assert_eq!(r.status(), 200);

    // Good again, by file change.
    std::fs::write(&policies, mask).unwrap();
    let m = wait_for(
        &running,
        "zaslon_reloads_total",
        &["result=\"ok\""],
        ok + 1.0,
    )
    .await;
    let now = metric(&m, "zaslon_reloads_total", &["result=\"ok\""]);
    assert_eq!(metric(&m, "zaslon_config_generation", &[]), 1.0 + now);
    assert_eq!(get(addr, "/patient").await.status, 200);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_slow_peers_and_drain() {
    let up = upstream().await;
    let dir = Scratch::new("limits");
    let running = proxy(
        &dir,
        up.addr,
        "limits: { max_header_bytes: 4096, header_timeout_ms: 300, response_timeout_ms: 5000, max_connections: 8 }\n",
    )
    .await;
    let addr = running.listen;

    // Oversized headers.
    let big = "x".repeat(8000);
    let g = send(
        addr,
        Request::get("/clean")
            .header("x-big", big)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(g.status, 431);

    // A client that sends half a head and waits is cut off.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /clean HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the proxy closed the slow connection");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // Connections past the limit are closed at once; those within work.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let mut one = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(10), extra.read(&mut one)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "closed at once");
    drop(held);
    drop(extra);
    // The proxy frees their places as it sees them closed, not at once.
    wait_until(&running, "zaslon_open_connections", &[], |v| v == 0.0).await;

    // A slow upstream answers within the response timeout; drain waits
    // for it while new connections are refused.
    let slow = tokio::spawn(async move { get(addr, "/slow").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let admin = running.admin.unwrap();
    let stop = tokio::spawn(running.shutdown());
    let g = slow.await.unwrap();
    assert_eq!((g.status, g.text().as_str()), (200, "late"));
    stop.await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(TcpStream::connect(admin).await.is_err());

    // An upstream slower than the response timeout: 502.
    let dir2 = Scratch::new("limits2");
    let running = proxy(&dir2, up.addr, "limits: { response_timeout_ms: 300 }\n").await;
    let g = get(running.listen, "/slow").await;
    assert_eq!(g.status, 502);
    let m = metrics(&running).await;
    assert_eq!(
        metric(&m, "zaslon_upstream_errors_total", &["kind=\"timeout\""]),
        1.0
    );
    running.shutdown().await;
}

/// Connections are spread over the worker threads, each connection served
/// whole by one worker, with masking on every worker alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_the_workers() {
    let up = upstream().await;
    let dir = Scratch::new("workers");
    let running = proxy(&dir, up.addr, "workers: 2\n").await;
    let m = metrics(&running).await;
    for w in ["worker=\"0\"", "worker=\"1\""] {
        assert_eq!(metric(&m, "zaslon_worker_connections", &[w]), 0.0);
    }
    let mut senders = Vec::new();
    for _ in 0..4 {
        senders.push(kept_alive(running.listen).await);
    }
    // Twice round: the second request of each connection rides the
    // upstream connection its worker's pool kept.
    for _ in 0..2 {
        for s in &mut senders {
            let r = get_on(s, "/patient").await;
            let body = r.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(
                String::from_utf8_lossy(&body),
                format!("<td>СНИЛС {SNILS_MASKED}</td>")
            );
        }
    }
    let m = metrics(&running).await;
    assert_eq!(metric(&m, "zaslon_open_connections", &[]), 4.0);
    for w in ["worker=\"0\"", "worker=\"1\""] {
        assert_eq!(metric(&m, "zaslon_worker_connections", &[w]), 2.0, "{w}");
    }
    // Closed connections leave their worker's count.
    senders.truncate(1);
    let mut left = 0.0;
    for _ in 0..100 {
        // Summed over every worker's line.
        left = metric(&metrics(&running).await, "zaslon_worker_connections", &[]);
        if left == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 1.0);
    running.shutdown().await;
}
