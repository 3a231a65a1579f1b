//! One request, start to end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::policy::Flow;

use super::State;
use super::body::{BoxError, Codec, ScanBody};
use super::codec::{self, Coding, DecodeError};
use super::config::{Config, Uninspected};
use super::inspect::{Ctx, Inspector, is_text, media_type};
use super::metrics::{RequestLabels, UninspectedLabels, code_class};
use super::{consent, form};

pub type ProxyBody = BoxBody<Bytes, BoxError>;
pub type Client =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, ProxyBody>;

/// The pooled upstream clients (plain and TLS), one per worker, each with
/// its own pool: an upstream connection is driven on the worker whose
/// requests it carries. Trusts the web PKI, plus the CA files of upstreams
/// and of egress destinations.
pub fn clients(
    config: &Config,
    policies: &crate::policy::PolicySet,
    workers: usize,
) -> anyhow::Result<Vec<Client>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let cas = config
        .upstreams
        .iter()
        .filter_map(|u| u.ca.as_ref())
        .chain(policies.destinations.iter().filter_map(|d| d.ca.as_ref()));
    for ca in cas {
        {
            use rustls_pki_types::CertificateDer;
            use rustls_pki_types::pem::PemObject;
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
                roots
                    .add(c)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_millis(
        config.limits.connect_timeout_ms,
    )));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = || {
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            // Read ahead from the upstream no further than a few chunks: the
            // scanner releases as it goes, and memory per connection stays small.
            .http1_max_buf_size(64 * 1024)
            .build(https.clone())
    };
    Ok((0..workers.max(1)).map(|_| client()).collect())
}

/// A body from hyper, as the proxy passes it on.
pub fn incoming(b: Incoming) -> ProxyBody {
    b.map_err(|e| Box::new(e) as BoxError).boxed()
}

fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

/// A short page in Russian, for patients.
fn page(status: StatusCode, request_id: &str, title: &str, text: &str) -> Response<ProxyBody> {
    let html = format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p><p>Код обращения: {request_id}</p></body></html>\n"
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-request-id", request_id)
        .body(full(html))
        .expect("static response")
}

const HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those named by `Connection`.
pub fn strip_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP {
        h.remove(n);
    }
}

/// The upstream's answer headers as the client gets them: no hop-by-hop
/// headers, and the request's id, with inspection on or off.
fn answer_headers(h: &mut HeaderMap, ctx: &Ctx) {
    strip_hop(h);
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        h.insert("x-request-id", v);
    }
}

/// A header's value as text; empty when absent or not visible ASCII.
fn header_str(h: &HeaderMap, name: HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn request_id(h: &HeaderMap) -> String {
    h.get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

fn uninspected(st: &State, flow: Flow, reason: &'static str, handling: Uninspected) {
    st.metrics
        .uninspected
        .get_or_create(&UninspectedLabels {
            flow: flow.as_str(),
            reason,
            handling: handling.as_str(),
        })
        .inc();
}

/// Handles one request.
pub async fn handle(
    st: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    secure: bool,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    let started = Instant::now();
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| local.to_string());
    let rid = request_id(req.headers());
    // hyper's HTTP/1 buffer is at least 8 KiB; the configured bound is
    // checked here too, for both protocols.
    let head: usize = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head > st.config.limits.max_header_bytes {
        return Ok(page(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &rid,
            "Слишком большой запрос",
            "Заголовки запроса слишком велики.",
        ));
    }
    let path = req.uri().path().to_string();
    let Some(route) = st.config.route(&host, &path).cloned() else {
        return Ok(page(
            StatusCode::NOT_FOUND,
            &rid,
            "Страница не найдена",
            "Такого адреса на сайте нет.",
        ));
    };
    let ctx = Ctx {
        request_id: rid.clone(),
        route: route.name.clone(),
        host: host.split(':').next().unwrap_or("").to_ascii_lowercase(),
        method: req.method().as_str().to_string(),
        path,
    };
    // Only a consent-aware CSP reads the cookie.
    let cookie = st
        .policies
        .headers
        .has_csp()
        .then(|| header_str(req.headers(), header::COOKIE).to_string());
    let mut resp = forward(&st, req, &ctx, &route, peer, &host, secure).await;
    page_headers(&st, &mut resp, cookie.as_deref());
    let code = resp.status().as_u16();
    let labels = RequestLabels {
        route: route.name.clone(),
        code: code_class(code),
    };
    st.metrics.requests.get_or_create(&labels).inc();
    st.metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    st: &Arc<State>,
    req: Request<Incoming>,
    ctx: &Ctx,
    route: &super::config::Route,
    peer: SocketAddr,
    host: &str,
    secure: bool,
) -> Response<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    let limits = &st.config.limits;
    if !st.config.inspect {
        uninspected(st, Flow::Request, "inspection_off", Uninspected::FailOpen);
        return send_upstream(
            st,
            parts,
            incoming(body),
            ctx,
            route,
            peer,
            host,
            secure,
            false,
        )
        .await;
    }

    // Request flow: the URL.
    let mut url = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().as_bytes().to_vec())
        .unwrap_or_else(|| b"/".to_vec());
    let blocked_page = || {
        page(
            StatusCode::FORBIDDEN,
            &ctx.request_id,
            "Отправка остановлена",
            "Сообщение содержит персональные данные, которые нельзя передавать таким образом. \
             Данные не были переданы. Вернитесь назад и проверьте форму или свяжитесь с клиникой по телефону.",
        )
    };
    let found = st.engine.scan(&url);
    if !found.is_empty() {
        let mut ins = Inspector::new(Flow::Request, "", "url");
        let v = ins.act(st, ctx, &found, &mut url, 0);
        if v.blocked.is_some() {
            return blocked_page();
        }
        if let Some(pq) = std::str::from_utf8(&url)
            .ok()
            .and_then(|s| s.parse::<http::uri::PathAndQuery>().ok())
        {
            let mut p = parts.uri.clone().into_parts();
            p.path_and_query = Some(pq);
            if let Ok(u) = Uri::from_parts(p) {
                parts.uri = u;
            }
        }
    }

    // Request flow: the body, buffered up to a bound.
    let ctype = header_str(&parts.headers, header::CONTENT_TYPE).to_string();
    let has_body = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    let up_body: ProxyBody = if !has_body {
        full(Bytes::new())
    } else if !is_text(&media_type(&ctype)) {
        uninspected(st, Flow::Request, "content_type", route.uninspected);
        if route.uninspected == Uninspected::FailClosed {
            return blocked_page();
        }
        incoming(body)
    } else {
        match Limited::new(body, limits.request_body_bytes)
            .collect()
            .await
        {
            Ok(c) => {
                let mut buf = c.to_bytes().to_vec();
                // Form fields as sent, before any mask, for consent rules.
                let fields = if st.policies.forms.is_empty() {
                    Vec::new()
                } else {
                    form::fields(&media_type(&ctype), &ctype, &buf)
                };
                let (blocked, found) = scan_request_body(st, ctx, route, &ctype, &mut buf);
                if blocked {
                    return blocked_page();
                }
                let target = crate::policy::Target {
                    flow: Flow::Request,
                    host: &ctx.host,
                    method: &ctx.method,
                    path: &ctx.path,
                    content_type: &media_type(&ctype),
                };
                match consent::check(st, ctx, peer, &target, &fields, &found).await {
                    consent::Outcome::Pass => {}
                    consent::Outcome::Missing { page: back } => {
                        return consent_page(ctx, back.as_deref());
                    }
                    consent::Outcome::LedgerDown => {
                        return page(
                            StatusCode::SERVICE_UNAVAILABLE,
                            &ctx.request_id,
                            "Отправка временно невозможна",
                            "Сейчас мы не можем принять форму. Ваши данные не были переданы. \
                             Попробуйте ещё раз через несколько минут или позвоните в клинику.",
                        );
                    }
                }
                full(buf)
            }
            Err(_) => {
                uninspected(st, Flow::Request, "too_large", Uninspected::FailClosed);
                return page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &ctx.request_id,
                    "Слишком большой запрос",
                    "Сообщение слишком велико. Сократите текст или приложите файлы меньшего размера.",
                );
            }
        }
    };

    send_upstream(st, parts, up_body, ctx, route, peer, host, secure, true).await
}

/// Forwards to the upstream and runs the response flow.
#[allow(clippy::too_many_arguments)]
async fn send_upstream(
    st: &Arc<State>,
    mut parts: http::request::Parts,
    up_body: ProxyBody,
    ctx: &Ctx,
    route: &super::config::Route,
    peer: SocketAddr,
    host: &str,
    secure: bool,
    inspect: bool,
) -> Response<ProxyBody> {
    let limits = &st.config.limits;
    // Headers to the upstream.
    strip_hop(&mut parts.headers);
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let set = |h: &mut HeaderMap, n: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(n, v);
        }
    };
    set(&mut parts.headers, "x-forwarded-for", &xff);
    set(
        &mut parts.headers,
        "x-forwarded-proto",
        if secure { "https" } else { "http" },
    );
    set(&mut parts.headers, "x-forwarded-host", host);
    set(&mut parts.headers, "x-request-id", &ctx.request_id);
    if !parts.headers.contains_key(header::HOST) {
        set(&mut parts.headers, "host", host);
    }
    let upstream = &st.config.upstreams[route.upstream];
    let mut up = upstream.uri.clone().into_parts();
    up.path_and_query = parts.uri.path_and_query().cloned();
    parts.uri = match Uri::from_parts(up) {
        Ok(u) => u,
        Err(_) => return bad_gateway(st, ctx, "uri"),
    };
    parts.version = http::Version::HTTP_11;
    let req = Request::from_parts(parts, up_body);

    let resp = match tokio::time::timeout(
        Duration::from_millis(limits.response_timeout_ms),
        st.client().request(req),
    )
    .await
    {
        Err(_) => return bad_gateway(st, ctx, "timeout"),
        Ok(Err(e)) => {
            let kind = if e.is_connect() {
                "connect"
            } else {
                "protocol"
            };
            return bad_gateway(st, ctx, kind);
        }
        Ok(Ok(r)) => r,
    };
    if !inspect {
        let (mut parts, body) = resp.into_parts();
        answer_headers(&mut parts.headers, ctx);
        uninspected(st, Flow::Response, "inspection_off", Uninspected::FailOpen);
        return Response::from_parts(parts, incoming(body));
    }
    respond(st, resp, ctx, route).await
}

/// Scans a buffered request body and masks it in place; true when a
/// policy blocks it. Multipart bodies are scanned part by part, each text
/// part with its own headers for context; file parts are counted, and
/// refused on a `fail_closed` route.
fn scan_request_body(
    st: &State,
    ctx: &Ctx,
    route: &super::config::Route,
    ctype: &str,
    buf: &mut [u8],
) -> (bool, Vec<crate::detect::Finding>) {
    let mut ins = Inspector::new(Flow::Request, ctype, "body");
    let mut all = Vec::new();
    let spans = match (media_type(ctype).as_str(), form::boundary(ctype)) {
        ("multipart/form-data", Some(b)) => form::parts(buf, b),
        _ => None,
    };
    let spans = match spans {
        None => std::iter::once(0..buf.len()).collect(),
        Some(parts) => {
            let mut text = Vec::new();
            for p in parts {
                if p.file {
                    uninspected(st, Flow::Request, "file_part", route.uninspected);
                    if route.uninspected == Uninspected::FailClosed {
                        return (true, all);
                    }
                } else {
                    text.push(p.span);
                }
            }
            text
        }
    };
    let mut blocked = false;
    for span in spans {
        let part = &mut buf[span.clone()];
        let t = Instant::now();
        let found = st.engine.scan(part);
        observe_scan(st, Flow::Request, t, part.len());
        // Offsets in the audit log are offsets in the whole body.
        let found: Vec<_> = found
            .into_iter()
            .map(|mut f| {
                f.start += span.start as u64;
                f.end += span.start as u64;
                f
            })
            .collect();
        let v = ins.act(st, ctx, &found, part, span.start as u64);
        blocked |= v.blocked.is_some();
        all.extend(found);
    }
    (blocked, all)
}

fn observe_scan(st: &State, flow: Flow, t: Instant, n: usize) {
    let l = super::metrics::FlowLabels {
        flow: flow.as_str(),
    };
    st.metrics
        .scan_seconds
        .get_or_create(&l)
        .observe(t.elapsed().as_secs_f64());
    st.metrics.scanned_bytes.get_or_create(&l).inc_by(n as u64);
}

fn bad_gateway(st: &State, ctx: &Ctx, kind: &'static str) -> Response<ProxyBody> {
    st.metrics
        .upstream_errors
        .get_or_create(&super::metrics::KindLabels { kind })
        .inc();
    tracing::warn!(request_id = %ctx.request_id, route = %ctx.route, kind, "upstream error");
    page(
        StatusCode::BAD_GATEWAY,
        &ctx.request_id,
        "Сайт временно недоступен",
        "Попробуйте обновить страницу через несколько минут.",
    )
}

/// `Referrer-Policy` and the consent-aware `Content-Security-Policy` on
/// HTML pages, replacing the upstream's own.
fn page_headers(st: &State, resp: &mut Response<ProxyBody>, cookie: Option<&str>) {
    let h = &st.policies.headers;
    if h.referrer_policy.is_none() && !h.has_csp()
        || !media_type(header_str(resp.headers(), header::CONTENT_TYPE)).ends_with("html")
    {
        return;
    }
    if let Some(v) = h
        .referrer_policy
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(header::REFERRER_POLICY, v);
    }
    if let Some(v) = h.csp(cookie).and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The page for a form sent without consent: why, and what to do.
fn consent_page(ctx: &Ctx, back: Option<&str>) -> Response<ProxyBody> {
    let link = back
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .map(|b| {
            let b = b
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            format!("<p><a href=\"{b}\">Вернуться к форме</a></p>")
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Нужно ваше согласие</title></head>\
         <body><h1>Нужно ваше согласие</h1>\
         <p>Форма содержит персональные данные, а согласие на их обработку не отмечено. \
         По закону (152-ФЗ) клиника может принять эти данные только с вашего согласия, поэтому форма не была отправлена и данные никуда не переданы.</p>\
         <p>Вернитесь к форме, прочитайте политику конфиденциальности, отметьте согласие и отправьте форму ещё раз. \
         Если вы не хотите давать согласие, позвоните в клинику: +7 (812) 923-52-23.</p>{link}\
         <p>Код обращения: {}</p></body></html>\n",
        ctx.request_id
    );
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-request-id", &ctx.request_id)
        .body(full(html))
        .expect("static response")
}

/// The page for a response hidden by a policy.
fn hidden_page(ctx: &Ctx, v: &super::inspect::Verdict) -> Option<Response<ProxyBody>> {
    if let Some((_, status)) = v.bulk {
        return Some(page(
            StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
            &ctx.request_id,
            "Страница недоступна",
            "Эта страница скрыта, чтобы защитить персональные данные пациентов. \
             Служба безопасности клиники уже уведомлена.",
        ));
    }
    v.blocked.as_ref().map(|_| {
        page(
            StatusCode::FORBIDDEN,
            &ctx.request_id,
            "Страница недоступна",
            "Эта страница скрыта, чтобы защитить персональные данные пациентов.",
        )
    })
}

fn unchecked_page(ctx: &Ctx) -> Response<ProxyBody> {
    page(
        StatusCode::BAD_GATEWAY,
        &ctx.request_id,
        "Страница недоступна",
        "Эту страницу нельзя показать: её содержимое не удалось проверить.",
    )
}

/// A body encoded again no longer matches a strong validator.
fn weaken_etag(h: &mut HeaderMap) {
    if let Some(tag) = h.get(header::ETAG)
        && !tag.as_bytes().starts_with(b"W/")
        && let Ok(weak) = HeaderValue::from_bytes(&[b"W/", tag.as_bytes()].concat())
    {
        h.insert(header::ETAG, weak);
    }
}

/// Response flow.
async fn respond(
    st: &Arc<State>,
    resp: Response<Incoming>,
    ctx: &Ctx,
    route: &super::config::Route,
) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    answer_headers(&mut parts.headers, ctx);
    let status = parts.status.as_u16();
    if ctx.method == "HEAD" || status < 200 || status == 204 || status == 304 {
        // No body.
        return Response::from_parts(parts, incoming(body));
    }
    let ctype = header_str(&parts.headers, header::CONTENT_TYPE).to_string();
    let coding = Coding::parse(header_str(&parts.headers, header::CONTENT_ENCODING));
    let length: Option<u64> = header_str(&parts.headers, header::CONTENT_LENGTH)
        .parse()
        .ok();
    let limits = &st.config.limits;
    let reason = if !is_text(&media_type(&ctype)) {
        Some("content_type")
    } else if coding.is_err() {
        Some("encoding")
    } else if length.is_some_and(|l| l > limits.inspect_bytes) {
        Some("too_large")
    } else {
        None
    };
    if let Some(reason) = reason {
        uninspected(st, Flow::Response, reason, route.uninspected);
        if route.uninspected == Uninspected::FailClosed {
            return unchecked_page(ctx);
        }
        return Response::from_parts(parts, incoming(body));
    }
    let coding = coding.unwrap_or(None);
    let mut inspector = Inspector::new(Flow::Response, &ctype, "body");
    let mut held = None;
    let mut body = Some(body);
    if length.is_some_and(|l| l as usize <= limits.hold_bytes)
        && let Some(body) = body.take()
    {
        // Small: scan whole before the headers go, so a bulk leak or a
        // blocking policy gets a page instead of a cut stream.
        let raw = match Limited::new(body, limits.hold_bytes).collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => return bad_gateway(st, ctx, "protocol"),
        };
        // Plain bodies are scanned where they lie; only a decoded one
        // needs a buffer of its own.
        let decoded = match coding {
            None => Ok(None),
            Some(c) => codec::decode_all(
                c,
                &raw,
                limits.inspect_bytes.min(limits.hold_bytes as u64 * 8),
                limits.decode_ratio,
            )
            .map(Some),
        };
        // Too big to hold decoded: stream it, unless it is a bomb, broken
        // or over the inspection bound.
        let decoded = match (decoded, coding) {
            (Err(DecodeError::Size), Some(c)) => {
                match codec::check_all(c, &raw, limits.inspect_bytes, limits.decode_ratio) {
                    Ok(_) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            }
            (d, _) => d.map_err(Some),
        };
        match decoded {
            Ok(dec) => {
                let text = dec.as_deref().unwrap_or(&raw);
                let t = Instant::now();
                let found = st.engine.scan(text);
                observe_scan(st, Flow::Response, t, text.len());
                // Only a body with values masked needs a buffer of its own.
                let masked = if found.is_empty() {
                    None
                } else {
                    let mut buf = dec.unwrap_or_else(|| raw.to_vec());
                    let v = inspector.act(st, ctx, &found, &mut buf, 0);
                    if let Some(page) = hidden_page(ctx, &v) {
                        return page;
                    }
                    (v.masked > 0).then_some(buf)
                };
                let Some(buf) = masked else {
                    // Nothing changed: the upstream's bytes, as they came.
                    return Response::from_parts(parts, full(raw));
                };
                let out = match coding {
                    None => buf,
                    Some(c) => match codec::encode_all(c, &buf) {
                        Ok(enc) => {
                            weaken_etag(&mut parts.headers);
                            parts
                                .headers
                                .insert(header::CONTENT_LENGTH, HeaderValue::from(enc.len()));
                            enc
                        }
                        Err(_) => return unchecked_page(ctx),
                    },
                };
                return Response::from_parts(parts, full(out));
            }
            Err(None) => held = Some(raw),
            Err(Some(e)) => {
                // A client could still decode the part of a broken body
                // before the damage: refused on every route.
                let handling = match e {
                    DecodeError::Corrupt => Uninspected::FailClosed,
                    _ => route.uninspected,
                };
                uninspected(st, Flow::Response, e.reason(), handling);
                if handling == Uninspected::FailClosed {
                    return unchecked_page(ctx);
                }
                return Response::from_parts(parts, full(raw));
            }
        }
    }
    let codec = coding.map(|c| {
        parts.headers.remove(header::CONTENT_LENGTH);
        weaken_etag(&mut parts.headers);
        Codec::new(c, limits.inspect_bytes, limits.decode_ratio)
    });
    let body = match (held, body) {
        (Some(raw), _) => full(raw),
        (None, Some(body)) => incoming(body),
        (None, None) => full(Bytes::new()),
    };
    let body = ScanBody::new(body, codec, st.clone(), ctx.clone(), inspector);
    Response::from_parts(parts, body.boxed())
}
