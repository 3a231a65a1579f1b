//! `zaslon demo`, the README's first command, as a newcomer would meet it:
//! the real process, its printed addresses, and what each page shows.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;

fn post(form: &str) -> Request<Full<Bytes>> {
    Request::post("/feedback/?send=Y")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form.to_string())))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_masks_blocks_and_records() {
    let dir = Scratch::new("demo");
    let (demo, site, admin) = spawn_demo(&dir.0);

    let home = get(site, "/").await;
    assert!(
        home.text().contains("+7(812)923-52-23"),
        "public contacts stay"
    );
    let p = get(site, "/patient/").await.text();
    assert!(
        p.contains("***-***-*** 95") && !p.contains("112-233-445 95"),
        "{p}"
    );
    assert!(p.contains("**********59") && !p.contains("500100732259"));
    let j = get(site, "/api/patient/1").await.text();
    assert!(j.contains("\"snils\":\"***-***-*** 95\""), "{j}");
    assert_eq!(get(site, "/admin/export").await.status, 451);

    let form = "WEB_FORM_ID=3&form_email_2=ivanova.m%40mail.ru&form_text_3=%2B7+921+555-12-34";
    let g = send(site, post(form)).await;
    assert_eq!(g.status, 403);
    assert!(g.text().contains("согласие"));
    let g = send(site, post(&format!("{form}&form_checkbox_AGREE%5B%5D=12"))).await;
    assert_eq!(g.status, 200);
    assert!(g.text().contains("Спасибо"));

    let m = get(admin, "/metrics").await.text();
    assert_eq!(
        metric(&m, "zaslon_consents_total", &["outcome=\"missing\""]),
        1.0
    );
    assert_eq!(
        metric(&m, "zaslon_consents_total", &["outcome=\"given\""]),
        1.0
    );
    assert_eq!(metric(&m, "zaslon_masked_total", &[]), 7.0);
    assert!(dir.path("ledger.sqlite").exists());
    let audit = std::fs::read_to_string(dir.path("audit.jsonl")).unwrap();
    assert!(audit.contains("consent_recorded") && audit.contains("mask-identifiers"));

    assert!(demo.terminate(), "a clean exit on SIGTERM");
}
