//! A real headless Chromium (Debian's `chromium`) against `zaslon demo`,
//! driven over the DevTools protocol: it fills in the feedback form without
//! ticking consent and sees the block page, ticks it and gets through, and
//! sees the leaked SNILS masked on the patient page. Screenshots go to
//! `target/tmp/browser/`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Whether to run: CI always does; a developer needs `chromium` installed.
fn chromium() -> Option<&'static str> {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match found {
        true => Some("chromium"),
        false if std::env::var("CI").is_ok() => panic!("CI must install chromium"),
        false => {
            eprintln!("skipped: no chromium");
            None
        }
    }
}

/// Whether a DevTools error means the page was navigating away while asked.
fn navigating(error: &serde_json::Value) -> bool {
    let msg = error["error"]["message"].as_str().unwrap_or("");
    msg.contains("navigated or closed") || msg.contains("execution context")
}

/// The DevTools connection of one page.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        match self.try_call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    /// One DevTools call; the protocol's error answer comes back as `Err`.
    async fn try_call(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.next += 1;
        let id = self.next;
        let msg = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("DevTools answers")
                .expect("open")
                .unwrap();
            let Message::Text(t) = m else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                return match v.get("error") {
                    Some(_) => Err(v),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    /// Evaluates `js` in the page: its value, or DevTools' error answer.
    async fn try_eval(&mut self, js: &str) -> Result<serde_json::Value, serde_json::Value> {
        let r = self
            .try_call(
                "Runtime.evaluate",
                serde_json::json!({"expression": js, "returnByValue": true}),
            )
            .await?;
        Ok(r["result"]["value"].clone())
    }

    async fn eval(&mut self, js: &str) -> serde_json::Value {
        match self.try_eval(js).await {
            Ok(v) => v,
            Err(e) => panic!("Runtime.evaluate: {e}"),
        }
    }

    /// Runs `js` that starts a navigation (a click on a link or a submit
    /// button). Should the page already be leaving when the answer is due,
    /// the error says so and the action did happen.
    async fn act(&mut self, js: &str) {
        if let Err(e) = self.try_eval(js).await
            && !navigating(&e)
        {
            panic!("Runtime.evaluate: {e}");
        }
    }

    /// Waits, bounded, until the page's text holds `needle`. A page that
    /// is navigating away answers with an error ("Inspected target
    /// navigated or closed", no execution context); that is "not yet", and
    /// the next try reads the new page. Any other error fails the test.
    async fn wait_text(&mut self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            let js = "document.readyState === 'complete' && document.body ? document.body.innerText : ''";
            match self.try_eval(js).await {
                Ok(v) => {
                    text = v.as_str().unwrap_or("").to_string();
                    if text.contains(needle) {
                        return text;
                    }
                }
                Err(e) if navigating(&e) => {}
                Err(e) => panic!("Runtime.evaluate: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never said {needle:?}: {text}");
    }

    async fn open(&mut self, url: &str) {
        self.call("Page.navigate", serde_json::json!({"url": url}))
            .await;
    }

    async fn screenshot(&mut self, name: &str) {
        let r = self
            .call(
                "Page.captureScreenshot",
                serde_json::json!({"format": "png"}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_meets_the_consent_block_and_the_masks() {
    let Some(bin) = chromium() else { return };
    let dir = common::Scratch::new("browser");
    let (_demo, site, _) = common::spawn_demo(&dir.path("demo"));
    let site = format!("http://{site}");

    let profile = dir.path("profile");
    let browser = Command::new(bin)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--window-size=1000,800",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _browser = common::Process(browser);
    // Chromium writes its DevTools port into the profile.
    let mut port = None;
    for _ in 0..200 {
        if let Ok(t) = std::fs::read_to_string(profile.join("DevToolsActivePort"))
            && let Some(p) = t.lines().next().and_then(|l| l.parse::<u16>().ok())
        {
            port = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let port = port.expect("chromium started");
    let list = common::get(format!("127.0.0.1:{port}").parse().unwrap(), "/json/list").await;
    let targets: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let ws_url = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page")
        .to_string();
    assert!(ws_url.starts_with("ws://127.0.0.1:"));
    let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    let mut page = Page { ws, next: 0 };
    page.call("Page.enable", serde_json::json!({})).await;

    // The form, sent without ticking consent: the block page.
    page.open(&format!("{site}/feedback/")).await;
    page.wait_text("Обратная связь").await;
    assert_eq!(
        page.eval("document.querySelector('#agree').checked").await,
        false
    );
    page.act("document.querySelector('#send').click()").await;
    let text = page.wait_text("Нужно ваше согласие").await;
    assert!(text.contains("не была отправлена"), "{text}");
    page.screenshot("form-without-consent.png").await;

    // Back to the form, consent ticked: through.
    page.act("document.querySelector('a[href=\"/feedback/\"]').click()")
        .await;
    page.wait_text("Обратная связь").await;
    page.act("document.querySelector('#agree').click(); document.querySelector('#send').click()")
        .await;
    page.wait_text("Спасибо! Ваше сообщение отправлено.").await;
    page.screenshot("form-with-consent.png").await;

    // A page with a leaked SNILS shows it masked.
    page.open(&format!("{site}/patient/")).await;
    page.wait_text("Профиль пациента").await;
    assert_eq!(
        page.eval("document.querySelector('#snils').textContent")
            .await,
        "***-***-*** 95"
    );
    let text = page.wait_text("СНИЛС").await;
    assert!(!text.contains("112-233-445"), "{text}");
    page.screenshot("patient-masked.png").await;
}
