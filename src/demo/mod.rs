//! `zaslon demo`: a small clinic site on loopback that leaks personal data
//! by mistake, with Zaslon in front of it on a caop1.ru-style config, so a
//! newcomer sees masking, a blocked form and a blocked bulk leak at once.
//! It uses [`crate::proxy`] like `zaslon serve` does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::proxy::{Overrides, Source, start};

const HOME: &str = include_str!("home.html");
const FEEDBACK: &str = include_str!("feedback.html");
const PATIENT: &str = include_str!("patient.html");

/// The demo's own policies, on top of the built-in ones: the feedback
/// form's consent rule and the page headers.
const POLICIES: &str = r#"forms:
  - id: feedback
    route: { path: "/feedback/**" }
    form_id: { field: WEB_FORM_ID, value: "3" }
    consent: { field: "form_checkbox_AGREE[]", values: ["12"] }
    purposes: [processing, mailing]
    policy_version: demo
    page: /feedback/
headers:
  referrer_policy: strict-origin-when-cross-origin
  content_security_policy:
    base: "default-src 'self'; style-src 'self' 'unsafe-inline'"
    consent_cookie: { name: cookie_consent, value: all }
    third_party:
      script-src: [https://mc.yandex.ru]
"#;

fn html(body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response")
}

/// The leaky site.
async fn site(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let post = req.method() == hyper::Method::POST;
    let _ = req.into_body().collect().await;
    Ok(match (path.as_str(), post) {
        ("/", _) => html(HOME),
        ("/feedback/", false) => html(FEEDBACK),
        ("/feedback/", true) => html(
            "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Спасибо</title></head>\
             <body><h1 id=\"thanks\">Спасибо! Ваше сообщение отправлено.</h1><p><a href=\"/\">На главную</a></p></body></html>",
        ),
        ("/patient/", _) => html(PATIENT),
        ("/api/patient/1", _) => Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                r#"{"id":1,"fio":"Иванова Мария Петровна","snils":"112-233-445 95","inn":"500100732259","omsPolicy":"6011 0960 1722 2623","phone":"+7 921 555-12-34"}"#,
            )))
            .expect("static response"),
        ("/admin/export", _) => {
            let mut rows = String::from(
                "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Выгрузка</title></head><body><table><tr><th>ФИО</th><th>Телефон</th></tr>",
            );
            for i in 0..40u32 {
                rows.push_str(&format!(
                    "<tr><td>Пациент {i}</td><td>+7 921 {:03}-{:02}-{:02}</td></tr>",
                    100 + i,
                    10 + i,
                    i + 20
                ));
            }
            rows.push_str("</table></body></html>");
            html(&rows)
        }
        _ => Response::builder()
            .status(404)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from("Не найдено")))
            .expect("static response"),
    })
}

async fn serve_site() -> Result<SocketAddr> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), service_fn(site))
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Writes the demo's config into `dir`.
fn write_config(
    dir: &Path,
    site: SocketAddr,
    listen: SocketAddr,
    admin: SocketAddr,
) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::fs::write(
        dir.join("default.policies.yaml"),
        include_str!("../../rules/default.policies.yaml"),
    )?;
    std::fs::write(dir.join("demo.policies.yaml"), POLICIES)?;
    let config = format!(
        "# Written by `zaslon demo`.\n\
         listen: {listen}\n\
         admin: {admin}\n\
         upstreams:\n  clinic: {{ url: \"http://{site}\" }}\n\
         routes:\n  - {{ upstream: clinic }}\n\
         policies: [default.policies.yaml, demo.policies.yaml]\n\
         ledger: {{ sqlite: ledger.sqlite }}\n\
         audit: {{ path: audit.jsonl }}\n"
    );
    let path = dir.join("zaslon.yaml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub fn run(listen: SocketAddr, admin: SocketAddr, dir: Option<std::path::PathBuf>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let site = serve_site().await?;
        let dir = dir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("zaslon-demo-{}", std::process::id()))
        });
        let config = write_config(&dir, site, listen, admin)?;
        let running = start(Source {
            config: Some(config.clone()),
            overrides: Overrides::default(),
        })
        .await?;
        let base = format!("http://{}", running.listen);
        let admin = running.admin.map(|a| a.to_string()).unwrap_or_default();
        println!(
            "zaslon demo: the clinic site through Zaslon: {base}/\n\
             \x20 {base}/patient/        a patient page: SNILS, passport, INN, OMS masked\n\
             \x20 {base}/api/patient/1   the same in JSON\n\
             \x20 {base}/feedback/       a form: blocked without the consent box, recorded with it\n\
             \x20 {base}/admin/export    a patient export: blocked as a bulk leak (451)\n\
             metrics:   http://{admin}/metrics\n\
             audit log: {}\n\
             config:    {}\n\
             (the site itself, unprotected: http://{site}/)  Ctrl-C stops.",
            dir.join("audit.jsonl").display(),
            config.display()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        running.shutdown().await;
        Ok(())
    })
}
