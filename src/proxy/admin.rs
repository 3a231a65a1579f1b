//! The consent API on the admin listener, behind a bearer token (compared
//! in constant time; no token configured, no API). Subjects are named by
//! e-mail or phone in the request body, never in the URL, and every call
//! is audited with the subject's fingerprint only.
//!
//! - `POST /api/v1/consents/lookup` `{"email": "…"}` or `{"phone": "…"}`:
//!   the subject's purposes and whether each is active;
//! - `POST /api/v1/consents/withdraw` `{"email": "…", "purposes": ["mailing"],
//!   "source": "letter"}`: records a withdrawal (all purposes when
//!   `purposes` is empty or absent);
//! - `POST /api/v1/consents/export` `{"phone": "…"}`: the evidence, every
//!   event of the subject.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::detect::{Builtin, Category};

use super::State;
use super::audit::now;
use super::metrics::AdminLabels;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    purposes: Vec<String>,
    source: Option<String>,
}

fn json(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(v.to_string())))
        .expect("static response")
}

/// The fingerprint of the subject named in a call: the value is read by
/// the engine itself, so it is normalised exactly as in traffic.
fn fingerprint(st: &State, s: &Subject) -> Option<String> {
    let (cue, value, want) = match (&s.email, &s.phone) {
        (Some(e), None) => ("email: ", e, Builtin::Email),
        (None, Some(p)) => ("телефон: ", p, Builtin::Phone),
        _ => return None,
    };
    let text = format!("{cue}{value}");
    let found = st.engine.scan(text.as_bytes());
    let f = found
        .iter()
        .find(|f| f.category == Category::Builtin(want) && f.start as usize == cue.len())?;
    Some(st.key.fingerprint(&f.category, &f.value))
}

/// Whether a request carries the token. `None` when the API is off.
fn authorized<B>(st: &State, req: &Request<B>) -> Option<bool> {
    let token = st.admin_token.as_ref()?;
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    Some(bool::from(given.as_bytes().ct_eq(token.as_bytes())))
}

pub async fn handle(
    st: &State,
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let call: &'static str = match req.uri().path() {
        "/api/v1/consents/lookup" => "lookup",
        "/api/v1/consents/withdraw" => "withdraw",
        "/api/v1/consents/export" => "export",
        _ => {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "no such call"}),
            );
        }
    };
    let done = |result: &'static str, subject: Option<&str>| {
        st.metrics
            .admin_calls
            .get_or_create(&AdminLabels { call, result })
            .inc();
        st.audit.write_value(&serde_json::json!({
            "time": now(),
            "event": "admin_api",
            "call": call,
            "result": result,
            "subject": subject,
            "client": peer.ip().to_string(),
        }));
    };
    match authorized(st, &req) {
        None => {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "the consent API is off: no token configured"}),
            );
        }
        Some(false) => {
            done("unauthorized", None);
            return json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({"error": "a valid bearer token is required"}),
            );
        }
        Some(true) => {}
    }
    if req.method() != http::Method::POST {
        done("bad_request", None);
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({"error": "use POST with a JSON body"}),
        );
    }
    let body = match Limited::new(req.into_body(), 16 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            done("bad_request", None);
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "body too large"}),
            );
        }
    };
    // The error names the problem, never the value.
    let subject: Subject = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            done("bad_request", None);
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": format!("invalid JSON at line {} column {}", e.line(), e.column())}),
            );
        }
    };
    let Some(fp) = fingerprint(st, &subject) else {
        done("bad_request", None);
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "name the subject by one valid `email` or `phone`"}),
        );
    };
    let Some(ledger) = &st.ledger else {
        done("error", Some(&fp));
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": "no ledger"}),
        );
    };
    let result = match call {
        "withdraw" => {
            let source = subject.source.as_deref().unwrap_or("unspecified");
            let ok_source = source.len() <= 32
                && source
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok_source {
                done("bad_request", Some(&fp));
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "`source` is a short word: letter, email, phone"}),
                );
            }
            ledger
                .withdraw(&fp, &subject.purposes, source)
                .await
                .map(|covered| {
                    serde_json::json!({
                        "subject": fp,
                        "withdrawn": if subject.purposes.is_empty() { vec!["*".to_string()] } else { subject.purposes.clone() },
                        "fingerprints_covered": covered,
                    })
                })
        }
        "lookup" => match ledger.history(&fp).await {
            Ok(events) => {
                let mut purposes: Vec<String> = events
                    .iter()
                    .filter(|e| e.kind == "consent")
                    .flat_map(|e| e.purposes.clone())
                    .collect();
                purposes.sort();
                purposes.dedup();
                let mut active = serde_json::Map::new();
                for p in purposes {
                    let a = ledger.active(&fp, &p).await.unwrap_or(false);
                    active.insert(p, a.into());
                }
                Ok(serde_json::json!({"subject": fp, "purposes": active, "events": events.len()}))
            }
            Err(e) => Err(e),
        },
        _ => ledger.history(&fp).await.map(|events| {
            serde_json::json!({
                "subject": fp,
                "exported": now(),
                "note": "Evidence of consent under 152-FZ art. 9: the subject appears as a keyed fingerprint of the e-mail or phone.",
                "events": events,
            })
        }),
    };
    match result {
        Ok(v) => {
            done("ok", Some(&fp));
            json(StatusCode::OK, v)
        }
        Err(e) => {
            tracing::error!(call, error = %e, "consent API");
            done("error", Some(&fp));
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "the ledger is unavailable"}),
            )
        }
    }
}
