//! The egress listener: the site's backend sends its calls to third
//! parties (CRM, SMS and e-mail gateways, analytics) through Zaslon, by
//! path prefix (`/crm/…` → `https://crm.example/…`). Every call is
//! scanned; a category the destination may not receive is blocked or
//! masked; under a consent ground, every subject in the payload (by e-mail
//! or phone) must have an active consent for the purpose (clauses 3.4 and
//! 3.5). The backend gets JSON errors, not pages.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::detect::{Builtin, Category, Finding, mask_in_place};
use crate::policy::consent::{Destination, Ground, Other};
use crate::policy::{Flow, Mode};

use super::State;
use super::audit::now;
use super::handler::ProxyBody;
use super::inspect::{Ctx, Inspector, is_text, media_type};
use super::metrics::TransferLabels;

fn json(status: StatusCode, rid: &str, v: serde_json::Value) -> Response<ProxyBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", rid)
        .body(
            Full::new(Bytes::from(v.to_string()))
                .map_err(|e| match e {})
                .boxed(),
        )
        .expect("static response")
}

fn count(st: &State, d: &Destination, outcome: &'static str) {
    st.metrics
        .transfers
        .get_or_create(&TransferLabels {
            destination: d.id.to_string(),
            ground: d.ground.as_str(),
            outcome,
            mode: d.mode.as_str(),
        })
        .inc();
}

fn audit(st: &State, ctx: &Ctx, d: &Destination, outcome: &str, detail: serde_json::Value) {
    st.audit.write_value(&serde_json::json!({
        "time": now(),
        "request_id": ctx.request_id,
        "flow": "transfer",
        "event": "transfer",
        "destination": d.id.as_ref(),
        "ground": d.ground.as_str(),
        "outcome": outcome,
        "mode": d.mode.as_str(),
        "detail": detail,
    }));
}

pub async fn handle(
    st: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    let rid = uuid::Uuid::new_v4().simple().to_string();
    let path = req.uri().path().to_string();
    let Some(d) = st.policies.destination_for(&path).cloned() else {
        return Ok(json(
            StatusCode::NOT_FOUND,
            &rid,
            serde_json::json!({"error": "no destination for this path"}),
        ));
    };
    let ctx = Ctx {
        request_id: rid.clone(),
        route: d.id.to_string(),
        host: d.url.host().unwrap_or("").to_ascii_lowercase(),
        method: req.method().as_str().to_string(),
        path: path.clone(),
    };
    Ok(transfer(&st, req, &d, &ctx, peer).await)
}

async fn transfer(
    st: &Arc<State>,
    req: Request<Incoming>,
    d: &Destination,
    ctx: &Ctx,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    let rid = &ctx.request_id;
    let (mut parts, body) = req.into_parts();
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = match Limited::new(body, st.config.limits.request_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                rid,
                serde_json::json!({"error": "body over request_body_bytes"}),
            );
        }
    };
    if !body.is_empty() && !is_text(&media_type(&ctype)) {
        // Nothing leaves for a third party unseen.
        count(st, d, "blocked_uninspectable");
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            rid,
            serde_json::json!({"error": "egress bodies must be text Zaslon can inspect"}),
        );
    }
    let mut url = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().as_bytes().to_vec())
        .unwrap_or_default();

    // Transfer policies (`flow: transfer`), then the destination's own list.
    let mut found: Vec<Finding> = Vec::new();
    let mut blocked = None;
    for (buf, location) in [(&mut url, "url"), (&mut body, "body")] {
        let f = st.engine.scan(buf);
        let mut ins = Inspector::new(Flow::Transfer, &ctype, location);
        let v = ins.act(st, ctx, &f, buf, 0);
        if let Some(p) = v.blocked {
            blocked = Some(p);
        }
        for x in &f {
            if x.category.is_personal() && !d.may_receive(x.category.as_str()) {
                match (d.other, d.mode) {
                    (Other::Mask, Mode::Enforce) => {
                        if let Some(raw) = buf.get_mut(x.start as usize..x.end as usize) {
                            mask_in_place(&x.category, raw, 0);
                        }
                    }
                    (Other::Block, Mode::Enforce) => {
                        blocked.get_or_insert_with(|| format!("destination:{}", d.id));
                    }
                    _ => {}
                }
            }
        }
        found.extend(f);
    }
    let not_allowed: Vec<&str> = {
        let mut v: Vec<&str> = found
            .iter()
            .filter(|x| x.category.is_personal() && !d.may_receive(x.category.as_str()))
            .map(|x| x.category.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if let Some(policy) = blocked {
        count(st, d, "blocked_category");
        audit(
            st,
            ctx,
            d,
            "blocked_category",
            serde_json::json!({"policy": policy, "categories": not_allowed}),
        );
        return json(
            StatusCode::FORBIDDEN,
            rid,
            serde_json::json!({"error": "categories this destination may not receive", "categories": not_allowed, "request_id": rid}),
        );
    }

    // The legal ground.
    if let Ground::Consent(purpose) = &d.ground {
        let subjects: Vec<String> = {
            let mut v: Vec<String> = found
                .iter()
                .filter(|f| {
                    matches!(
                        f.category,
                        Category::Builtin(Builtin::Email) | Category::Builtin(Builtin::Phone)
                    )
                })
                .map(|f| st.key.fingerprint(&f.category, &f.value))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let pd = found.iter().any(|f| f.category.is_personal());
        let verdict = if !pd {
            Ok(true)
        } else if subjects.is_empty() {
            // Personal data whose subject cannot be told: consent cannot be shown.
            Ok(false)
        } else {
            match &st.ledger {
                None => Err(()),
                Some(l) => {
                    let mut all = Ok(true);
                    for s in &subjects {
                        match l.active(s, purpose).await {
                            Ok(true) => {}
                            Ok(false) => {
                                all = Ok(false);
                                break;
                            }
                            Err(e) => {
                                tracing::error!(request_id = %rid, error = %e, "consent ledger");
                                all = Err(());
                                break;
                            }
                        }
                    }
                    all
                }
            }
        };
        match verdict {
            Ok(true) => {}
            Ok(false) => {
                count(st, d, "refused_consent");
                audit(
                    st,
                    ctx,
                    d,
                    "refused_consent",
                    serde_json::json!({"purpose": purpose, "subjects": subjects}),
                );
                if d.mode == Mode::Enforce {
                    return json(
                        StatusCode::FORBIDDEN,
                        rid,
                        serde_json::json!({"error": "no active consent for this purpose", "purpose": purpose, "request_id": rid}),
                    );
                }
            }
            Err(()) => {
                count(st, d, "ledger_error");
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    rid,
                    serde_json::json!({"error": "the consent ledger is unavailable", "request_id": rid}),
                );
            }
        }
    }

    // Forward: the destination's base, then the rest of the path.
    let url = String::from_utf8_lossy(&url).into_owned();
    let rest = url.strip_prefix(d.prefix.as_str()).unwrap_or("");
    let base = d.url.to_string();
    let target = format!("{}/{}", base.trim_end_matches('/'), rest);
    let Ok(uri) = target.parse::<Uri>() else {
        count(st, d, "upstream_error");
        return json(
            StatusCode::BAD_GATEWAY,
            rid,
            serde_json::json!({"error": "bad target URL"}),
        );
    };
    super::handler::strip_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    if let Ok(v) = HeaderValue::from_str(rid) {
        parts.headers.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
        parts.headers.insert("x-forwarded-for", v);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    let masked = !not_allowed.is_empty();
    let req = Request::from_parts(
        parts,
        Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed(),
    );
    let timeout = std::time::Duration::from_millis(st.config.limits.response_timeout_ms);
    match tokio::time::timeout(timeout, st.client().request(req)).await {
        Ok(Ok(resp)) => {
            count(st, d, if masked { "masked" } else { "forwarded" });
            let (mut parts, body) = resp.into_parts();
            super::handler::strip_hop(&mut parts.headers);
            Response::from_parts(parts, super::handler::incoming(body))
        }
        _ => {
            count(st, d, "upstream_error");
            json(
                StatusCode::BAD_GATEWAY,
                rid,
                serde_json::json!({"error": "the destination did not answer", "request_id": rid}),
            )
        }
    }
}
