//! The real `zaslon serve` process, its log at the most verbose level, its
//! audit log on standard output, and every answer: known identifiers are
//! sent through both flows, then every output is searched for them.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;

/// The identifiers, in the spellings they travel in.
const RAW: [&str; 10] = [
    SNILS,
    "11223344595",
    "112-233-445",
    "+7 921 555-12-34",
    "9215551234",
    "ivanova.m@mail.ru",
    "4111 1111 1111 1111",
    "4111111111111111",
    "500100732259",
    "4510 123456",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_holds_a_raw_value() {
    let up = upstream().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_zaslon"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--upstream",
            &format!("http://{}", up.addr),
        ])
        .env("ZASLON_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The log, read on a thread; the listen address comes from it.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stdout = child.stdout.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let (mut listen, mut admin) = (None, None);
    while listen.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serving line");
        if let Some(rest) = line.strip_prefix("zaslon: serving on http://") {
            let mut it = rest.split(", admin on http://");
            listen = it
                .next()
                .map(|a| a.parse::<std::net::SocketAddr>().unwrap());
            admin = it.next().map(|a| {
                a.trim_end_matches("/metrics")
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
            });
        }
    }
    let addr = listen.unwrap();

    let mut answers = Vec::new();
    for path in [
        "/patient",
        "/stream",
        "/export",
        "/z/patient?enc=gzip",
        "/z/stream?enc=br",
    ] {
        answers.push(get(addr, path).await);
    }
    let form = "snils=112-233-445+95&tel=%2B7+921+555-12-34&email=ivanova.m%40mail.ru&card=4111+1111+1111+1111&inn=500100732259&passport=4510+123456";
    for (path, ctype, body) in [
        (
            "/form",
            "application/x-www-form-urlencoded",
            form.to_string(),
        ),
        (
            "/api",
            "application/json",
            format!("{{\"snils\":\"{SNILS}\",\"phone\":\"+7 921 555-12-34\"}}"),
        ),
    ] {
        answers.push(
            send(
                addr,
                Request::post(path)
                    .header("content-type", ctype)
                    .body(Full::new(Bytes::from(body)))
                    .unwrap(),
            )
            .await,
        );
    }
    answers.push(get(addr, &format!("/q?{form}")).await);
    let metrics = get(admin.unwrap(), "/metrics").await.text();

    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let log = reader.join().unwrap();
    let audit = out_reader.join().unwrap();

    // The outputs are not empty: the test looks at something.
    assert!(audit.lines().count() >= 10, "audit: {audit}");
    assert!(log.contains("bulk leak"), "log: {log}");
    assert!(metrics.contains("zaslon_findings_total"));
    for raw in RAW {
        assert!(!log.contains(raw), "the process log holds {raw}");
        assert!(!audit.contains(raw), "the audit log holds {raw}");
        assert!(!metrics.contains(raw), "/metrics holds {raw}");
        for a in &answers {
            // Answers: masked bodies, block pages, error pages.
            let text = match a.headers.get("content-encoding") {
                Some(c) => String::from_utf8(decode(c.to_str().unwrap(), &a.body)).unwrap(),
                None => a.text(),
            };
            assert!(!text.contains(raw), "an answer holds {raw}: {text}");
        }
    }
}
