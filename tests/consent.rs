//! Consent and transfers end to end, with real servers on loopback and the
//! SQLite ledger: forms without consent never reach the upstream, consent
//! is recorded, a withdrawal through the admin API stops `consent:
//! mailing` transfers while a `contract` destination still receives, the
//! ledger survives a restart and a killed process, and the API wants its
//! token.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;
use zaslon::proxy::Running;

const EMAIL: &str = "ivanova.m@mail.ru";
const PHONE: &str = "+7 921 555-12-34";

fn policies(up: std::net::SocketAddr) -> String {
    format!(
        r#"forms:
  - id: feedback
    route: {{ path: "/feedback/**" }}
    form_id: {{ field: WEB_FORM_ID, value: "3" }}
    consent: {{ field: "form_checkbox_AGREE[]", values: ["12"] }}
    purposes: [processing, mailing]
    policy_version: caop1-2023-10
    page: /feedback/
destinations:
  - id: mailer
    prefix: /mail/
    url: http://{up}/mailer
    ground: "consent: mailing"
    categories: [email, phone]
  - id: crm
    prefix: /crm/
    url: http://{up}/crmapi
    ground: contract
    categories: [email, phone]
  - id: sms
    prefix: /sms/
    url: http://{up}/smsapi
    ground: law
    categories: [phone]
    other: mask
headers:
  referrer_policy: strict-origin-when-cross-origin
  content_security_policy:
    base: "default-src 'self'; script-src 'self'"
    consent_cookie: {{ name: cookie_consent, value: all }}
    third_party:
      script-src: [https://mc.yandex.ru]
"#
    )
}

struct Site {
    dir: Scratch,
    up: Upstream,
    token_env: String,
    key_env: String,
    postgres: bool,
}

/// Whether to run on PostgreSQL: CI always does, a developer when
/// `ZASLON_TEST_POSTGRES` holds a connection string.
fn postgres_available() -> bool {
    match std::env::var("ZASLON_TEST_POSTGRES") {
        Ok(_) => true,
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CI must set ZASLON_TEST_POSTGRES: the ledger is tested on both stores")
        }
        Err(_) => {
            eprintln!("skipped: ZASLON_TEST_POSTGRES is not set");
            false
        }
    }
}

impl Site {
    async fn new(tag: &str, postgres: bool) -> Site {
        let dir = Scratch::new(tag);
        let up = upstream().await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let token_env = format!("ZASLON_TEST_TOKEN_{id}");
        let key_env = format!("ZASLON_TEST_KEY_{id}");
        // Each test names its own variables: no other test reads them.
        unsafe {
            std::env::set_var(&token_env, "s3cret-token-for-tests");
            std::env::set_var(&key_env, format!("fingerprint-key-{id}"));
        }
        dir.write("site.policies.yaml", &policies(up.addr));
        Site {
            dir,
            up,
            token_env,
            key_env,
            postgres,
        }
    }

    fn config(&self) -> String {
        let ledger = if self.postgres {
            "{ postgres_env: ZASLON_TEST_POSTGRES }"
        } else {
            "{ sqlite: ledger.sqlite }"
        };
        format!(
            "policies: [site.policies.yaml]\negress: 127.0.0.1:0\nledger: {ledger}\nadmin_api: {{ token_env: {} }}\n",
            self.token_env
        )
    }

    async fn start(&self) -> Running {
        let audit = self.dir.path("audit.jsonl");
        let text = format!(
            "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstreams:\n  site: {{ url: \"http://{}\" }}\nroutes:\n  - {{ upstream: site }}\naudit: {{ path: \"{}\", key_env: {} }}\n{}",
            self.up.addr,
            audit.display(),
            self.key_env,
            self.config()
        );
        let config = self.dir.write("zaslon.yaml", &text);
        zaslon::proxy::start(zaslon::proxy::Source {
            config: Some(config),
            overrides: Default::default(),
        })
        .await
        .unwrap()
    }
}

fn form(consent: bool) -> Request<Full<Bytes>> {
    let mut body = format!(
        "WEB_FORM_ID=3&form_text_1=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%D0%B0&form_email_2={}&form_text_3={}",
        EMAIL.replace('@', "%40"),
        PHONE.replace('+', "%2B").replace(' ', "+")
    );
    if consent {
        body.push_str("&form_checkbox_AGREE%5B%5D=12");
    }
    Request::post("/feedback/?send=Y")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn api(call: &str, token: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    Request::post(format!("/api/v1/consents/{call}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn egress(path: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn json(g: &Got) -> serde_json::Value {
    serde_json::from_slice(&g.body).unwrap_or_else(|_| panic!("JSON: {}", g.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_consent_ledger_withdrawal_and_transfers() {
    consent_ledger_withdrawal_and_transfers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_consent_ledger_withdrawal_and_transfers() {
    if postgres_available() {
        consent_ledger_withdrawal_and_transfers(true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_process_keeps_acknowledged_consents() {
    a_killed_process_keeps_acknowledged_consents(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_process_keeps_acknowledged_consents() {
    if postgres_available() {
        a_killed_process_keeps_acknowledged_consents(true).await;
    }
}

async fn consent_ledger_withdrawal_and_transfers(postgres: bool) {
    let site = Site::new("consent", postgres).await;
    let running = site.start().await;
    let (addr, admin, out) = (
        running.listen,
        running.admin.unwrap(),
        running.egress.unwrap(),
    );
    const TOKEN: &str = "s3cret-token-for-tests";

    // Third-party hosts on pages only with the visitor's consent cookie.
    let g = get(addr, "/clean").await;
    assert_eq!(
        g.headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(
        g.headers["content-security-policy"],
        "default-src 'self'; script-src 'self'"
    );
    let g = send(
        addr,
        Request::get("/clean")
            .header("cookie", "x=1; cookie_consent=all")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(
        g.headers["content-security-policy"],
        "default-src 'self'; script-src 'self' https://mc.yandex.ru"
    );

    // No consent: a page in Russian, nothing forwarded.
    let g = send(addr, form(false)).await;
    assert_eq!(g.status, 403);
    assert!(g.text().contains("согласие"), "{}", g.text());
    assert!(g.text().contains("href=\"/feedback/\""));
    assert!(site.up.last("/feedback/").is_none());

    // Consent: forwarded, and recorded.
    let g = send(addr, form(true)).await;
    assert_eq!(g.status, 404, "the upstream answered");
    assert!(site.up.last("/feedback/").is_some());
    let g = send(
        admin,
        api("lookup", TOKEN, serde_json::json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(g.status, 200, "{}", g.text());
    let v = json(&g);
    assert_eq!(v["purposes"]["mailing"], true);
    assert_eq!(v["purposes"]["processing"], true);
    // The phone names the same subject's consent.
    let g = send(
        admin,
        api(
            "lookup",
            TOKEN,
            serde_json::json!({"phone": "8 (921) 555 12 34"}),
        ),
    )
    .await;
    assert_eq!(json(&g)["purposes"]["mailing"], true);

    // A mailing with consent goes out.
    let msg = serde_json::json!({"to": EMAIL, "text": "Напоминание о приёме"});
    let g = send(out, egress("/mail/send", msg.clone())).await;
    assert_eq!(g.status, 404, "reached the gateway: {}", g.text());
    assert_eq!(
        site.up
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path_and_query == "/mailer/send")
            .count(),
        1
    );

    // The API wants its token.
    let g = send(
        admin,
        api("withdraw", "wrong", serde_json::json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(g.status, 401);
    let mut r = api("withdraw", TOKEN, serde_json::json!({"email": EMAIL}));
    r.headers_mut().remove("authorization");
    assert_eq!(send(admin, r).await.status, 401);

    // Withdrawn (clause 3.5): mailing refused, the contract still served.
    let g = send(
        admin,
        api(
            "withdraw",
            TOKEN,
            serde_json::json!({"email": EMAIL, "purposes": ["mailing"], "source": "letter"}),
        ),
    )
    .await;
    assert_eq!(g.status, 200, "{}", g.text());
    let g = send(out, egress("/mail/send", msg.clone())).await;
    assert_eq!(g.status, 403);
    assert_eq!(json(&g)["purpose"], "mailing");
    assert_eq!(
        site.up
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path_and_query == "/mailer/send")
            .count(),
        1
    );
    // By phone too: the withdrawal covers the phone given with the e-mail.
    let g = send(out, egress("/mail/sms", serde_json::json!({"to": PHONE}))).await;
    assert_eq!(g.status, 403);
    let g = send(
        out,
        egress(
            "/crm/leads",
            serde_json::json!({"email": EMAIL, "phone": PHONE}),
        ),
    )
    .await;
    assert_eq!(g.status, 404, "{}", g.text());
    assert!(site.up.last("/crmapi/leads").is_some());
    // A category the CRM may not receive.
    let g = send(
        out,
        egress(
            "/crm/leads",
            serde_json::json!({"email": EMAIL, "snils": SNILS}),
        ),
    )
    .await;
    assert_eq!(g.status, 403);
    assert_eq!(json(&g)["categories"][0], "snils");

    // `other: mask`: what the gateway may not receive goes out masked.
    let g = send(
        out,
        egress(
            "/sms/send",
            serde_json::json!({"to": PHONE, "text": format!("СНИЛС {SNILS}")}),
        ),
    )
    .await;
    assert_eq!(g.status, 404, "{}", g.text());
    let got = String::from_utf8(site.up.last("/smsapi/send").unwrap().body.to_vec()).unwrap();
    assert!(got.contains(PHONE), "{got}");
    assert!(
        !got.contains(SNILS) && got.contains("***-***-*** **"),
        "{got}"
    );

    let m = metrics(&running).await;
    for (dest, outcome, n) in [
        ("sms", "masked", 1.0),
        ("mailer", "forwarded", 1.0),
        ("mailer", "refused_consent", 2.0),
        ("crm", "forwarded", 1.0),
        ("crm", "blocked_category", 1.0),
    ] {
        assert_eq!(
            metric(
                &m,
                "zaslon_transfers_total",
                &[
                    &format!("destination=\"{dest}\""),
                    &format!("outcome=\"{outcome}\"")
                ]
            ),
            n,
            "{dest} {outcome}"
        );
    }
    assert_eq!(
        metric(&m, "zaslon_consents_total", &["outcome=\"missing\""]),
        1.0
    );
    assert_eq!(
        metric(&m, "zaslon_consents_total", &["outcome=\"given\""]),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "zaslon_admin_api_calls_total",
            &["result=\"unauthorized\""]
        ),
        2.0
    );

    // A restart keeps the ledger.
    running.shutdown().await;
    let running = site.start().await;
    let g = send(
        running.admin.unwrap(),
        api("export", TOKEN, serde_json::json!({"email": EMAIL})),
    )
    .await;
    let v = json(&g);
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["consent", "withdrawal"]);
    assert_eq!(v["events"][0]["policy_version"], "caop1-2023-10");
    assert_eq!(v["events"][0]["form"], "feedback");
    let g = send(running.egress.unwrap(), egress("/mail/send", msg)).await;
    assert_eq!(g.status, 403);
    running.shutdown().await;

    // No raw e-mail or phone in the audit log or the ledger file.
    let audit = std::fs::read_to_string(site.dir.path("audit.jsonl")).unwrap();
    assert!(audit.contains("consent_recorded") && audit.contains("admin_api"));
    let ledger = std::fs::read(site.dir.path("ledger.sqlite")).unwrap_or_default();
    assert_eq!(ledger.is_empty(), postgres);
    for raw in [EMAIL, "9215551234", "ivanova"] {
        assert!(!audit.contains(raw), "audit holds {raw}");
        assert!(
            !String::from_utf8_lossy(&ledger).contains(raw),
            "ledger holds {raw}"
        );
    }
}

async fn a_killed_process_keeps_acknowledged_consents(postgres: bool) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let site = Site::new("killed", postgres).await;
    let audit = site.dir.path("audit.jsonl");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstreams:\n  site: {{ url: \"http://{}\" }}\nroutes:\n  - {{ upstream: site }}\naudit: {{ path: \"{}\", key_env: {} }}\n{}",
        site.up.addr,
        audit.display(),
        site.key_env,
        site.config()
    );
    let config = site.dir.write("zaslon.yaml", &text);
    let spawn = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zaslon"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addrs = loop {
            let line = lines.next().expect("a serving line").unwrap();
            if let Some(rest) = line.strip_prefix("zaslon: serving on http://") {
                break rest.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let listen: std::net::SocketAddr = addrs.split(',').next().unwrap().parse().unwrap();
        let admin: std::net::SocketAddr = addrs
            .split(", admin on http://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (child, listen, admin)
    };
    let (mut child, listen, _) = spawn();
    for _ in 0..5 {
        assert_eq!(send(listen, form(true)).await.status, 404);
    }
    // SIGKILL right after the answers: no drain, no clean close.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, _, admin) = spawn();
    let g = send(
        admin,
        api(
            "export",
            "s3cret-token-for-tests",
            serde_json::json!({"email": EMAIL}),
        ),
    )
    .await;
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(json(&g)["events"].as_array().unwrap().len(), 5);
    child.kill().unwrap();
    child.wait().unwrap();
}
