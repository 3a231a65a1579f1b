//! `zaslon serve`: the reverse proxy. It uses [`crate::policy`], which uses
//! [`crate::detect`].
//!
//! - [`config`]: the YAML config and command-line overrides.
//! - [`handler`]: one request: route, request-flow scan, upstream call,
//!   response-flow scan (whole when small, streamed otherwise).
//! - [`body`]: the streamed, masked response body.
//! - [`inspect`]: policy decisions, masks, bulk count, audit, metrics.
//! - [`metrics`], [`audit`]: what operators see.
//!
//! The running [`State`] (config, engine, policies) sits behind a lock and
//! is replaced whole on reload; requests in flight keep the state they
//! started with.

pub mod admin;
pub mod audit;
pub mod body;
pub mod codec;
pub mod config;
pub mod consent;
pub mod egress;
pub mod form;
pub mod handler;
pub mod inspect;
pub mod metrics;
pub mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::detect::Engine;
use crate::policy::{Keyed, PolicySet};

pub use config::{Config, Overrides};

/// Everything a request needs, replaced whole on reload.
pub struct State {
    pub config: Config,
    pub engine: Arc<Engine>,
    /// Already in report mode when the config or `--report` asks.
    pub policies: PolicySet,
    pub key: Keyed,
    pub metrics: Arc<metrics::Metrics>,
    pub audit: Arc<audit::AuditLog>,
    /// One upstream client per worker (see [`State::client`]).
    pub clients: Vec<handler::Client>,
    /// The consent ledger, when forms, destinations or the API need it.
    pub ledger: Option<crate::ledger::Ledger>,
    /// The consent API's bearer token; none means the API is off.
    pub admin_token: Option<String>,
    /// Certificates are read again on every reload.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub generation: u64,
}

impl State {
    /// The upstream client of the worker running this request.
    pub fn client(&self) -> &handler::Client {
        &self.clients[workers::current() % self.clients.len()]
    }
}

/// How to build the state: the config file (if any) and overrides.
#[derive(Clone, Debug)]
pub struct Source {
    pub config: Option<PathBuf>,
    pub overrides: Overrides,
}

impl Source {
    /// Reads and validates the config, rules and policies.
    pub fn load(&self) -> Result<(Config, Arc<Engine>, PolicySet)> {
        let config = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read", p.display()))?;
                Config::parse(&p.display().to_string(), &text, &self.overrides)?
            }
            None => Config::from_overrides(&self.overrides)?,
        };
        let engine = if config.rules.is_empty() {
            crate::rules::default_engine()?
        } else {
            crate::rules::compile(&crate::rules::load_paths(&config.rules)?)?
        };
        let mut policies = if config.policies.is_empty() {
            PolicySet::default_set()?
        } else {
            let mut files = Vec::new();
            for p in &config.policies {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read", p.display()))?;
                files.push((p.display().to_string(), text));
            }
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            crate::policy::compile(&refs)?
        };
        if config.report_only {
            policies.report_only();
        }
        Ok((config, Arc::new(engine), policies))
    }

    /// Files whose change triggers a reload.
    fn watched(&self, config: &Config) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.config.iter().cloned().collect();
        for p in config.rules.iter().chain(&config.policies) {
            if p.is_dir() {
                if let Ok(rd) = std::fs::read_dir(p) {
                    v.extend(rd.flatten().map(|e| e.path()));
                }
            } else {
                v.push(p.clone());
            }
        }
        v
    }
}

fn mtimes(paths: &[PathBuf]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// The fingerprint key: from the environment variable the config names,
/// else a random key for this process (fingerprints then do not join
/// across restarts; a warning says so).
fn fingerprint_key(env: &str) -> Keyed {
    match std::env::var(env) {
        Ok(k) if k.len() >= 16 => Keyed::new(k.as_bytes()),
        _ => {
            tracing::warn!(
                variable = env,
                "no fingerprint key of 16 bytes or more in the environment: using a random one"
            );
            Keyed::new(uuid::Uuid::new_v4().as_bytes())
        }
    }
}

/// A running proxy: its addresses and a handle to stop it.
pub struct Running {
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
    /// The egress listener, when the config has one.
    pub egress: Option<SocketAddr>,
    egress_done: Option<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    reload: tokio::sync::mpsc::UnboundedSender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Asks for a reload, as SIGHUP does.
    pub fn reload(&self) {
        let _ = self.reload.send(());
    }

    /// Stops accepting, drains requests in flight, and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.done.await;
        if let Some(h) = self.egress_done {
            let _ = h.await;
        }
    }
}

/// Starts the proxy on the current tokio runtime.
pub async fn start(source: Source) -> Result<Running> {
    let (config, engine, policies) = source.load()?;
    let metrics = Arc::new(metrics::Metrics::new());
    let audit = Arc::new(
        audit::AuditLog::open(&config.audit.path)
            .with_context(|| format!("audit log {}", config.audit.path))?,
    );
    let key = fingerprint_key(&config.audit.key_env);
    let secure = config.tls.is_some();
    let shared = Shared {
        key,
        metrics: metrics.clone(),
        audit,
    };
    metrics.generation.set(1);
    let workers = Arc::new(workers::Workers::start(config.workers)?);
    let threads = workers.len();
    for worker in 0..threads as u64 {
        // Every worker shows, an idle one at 0.
        metrics
            .worker_connections
            .get_or_create(&metrics::WorkerLabels { worker })
            .set(0);
    }
    let first = assemble(
        (config.clone(), engine, policies),
        &shared,
        None,
        secure,
        1,
        threads,
    )
    .await?;
    let state = Arc::new(RwLock::new(Arc::new(first)));

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let listen = listener.local_addr()?;
    let admin_listener = match config.admin {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a}"))?,
        ),
        None => None,
    };
    let admin = admin_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(true));

    if let Some(l) = admin_listener {
        tokio::spawn(admin_loop(
            l,
            state.clone(),
            metrics.clone(),
            ready.clone(),
            shutdown_rx.clone(),
        ));
    }

    // Reloads: on request (SIGHUP) or when a watched file changes.
    {
        let state = state.clone();
        let source = source.clone();
        let metrics = metrics.clone();
        let mut shutdown = shutdown_rx.clone();
        let mut watched = source.watched(&config);
        let started_workers = config.workers;
        tokio::spawn(async move {
            let mut seen = mtimes(&watched);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    r = reload_rx.recv() => if r.is_none() { return },
                    _ = tick.tick() => {
                        let now = mtimes(&watched);
                        if now == seen {
                            continue;
                        }
                    }
                }
                match source.load() {
                    Ok(loaded) => {
                        let (current, generation) = {
                            let s = state.read().unwrap_or_else(|p| p.into_inner());
                            (s.ledger.clone(), s.generation + 1)
                        };
                        let next =
                            match assemble(loaded, &shared, current, secure, generation, threads)
                                .await
                            {
                                Ok(n) => n,
                                Err(e) => {
                                    reload_failed(&metrics, &e);
                                    seen = mtimes(&watched);
                                    continue;
                                }
                            };
                        if next.config.workers != started_workers {
                            tracing::warn!("a new number of workers takes effect at restart");
                        }
                        watched = source.watched(&next.config);
                        let mut guard = state.write().unwrap_or_else(|p| p.into_inner());
                        *guard = Arc::new(next);
                        drop(guard);
                        metrics.generation.set(generation as i64);
                        metrics
                            .reloads
                            .get_or_create(&metrics::ResultLabels { result: "ok" })
                            .inc();
                        tracing::info!(generation, "reloaded");
                    }
                    Err(e) => reload_failed(&metrics, &e),
                }
                seen = mtimes(&watched);
            }
        });
    }

    let limits = config.limits.clone();
    let egress = match config.egress {
        Some(a) => {
            let l = TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a}"))?;
            let addr = l.local_addr()?;
            let h = tokio::spawn(accept_loop(
                l,
                false,
                true,
                workers.clone(),
                state.clone(),
                metrics.clone(),
                ready.clone(),
                config.limits.clone(),
                addr,
                shutdown_rx.clone(),
            ));
            Some((addr, h))
        }
        None => None,
    };
    let done = tokio::spawn(accept_loop(
        listener,
        secure,
        false,
        workers,
        state,
        metrics,
        ready,
        limits,
        listen,
        shutdown_rx,
    ));
    let (egress, egress_done) = match egress {
        Some((a, h)) => (Some(a), Some(h)),
        None => (None, None),
    };
    Ok(Running {
        listen,
        admin,
        egress,
        egress_done,
        shutdown: shutdown_tx,
        reload: reload_tx,
        done,
    })
}

/// What every generation of the state shares: the fingerprint key (only a
/// restart changes it), the metrics and the audit log.
struct Shared {
    key: Keyed,
    metrics: Arc<metrics::Metrics>,
    audit: Arc<audit::AuditLog>,
}

/// Builds one generation of the state from a loaded config: the upstream
/// clients (one per worker), the TLS acceptor, the API token and the
/// ledger (a running one is kept).
async fn assemble(
    (config, engine, policies): (Config, Arc<Engine>, PolicySet),
    shared: &Shared,
    ledger: Option<crate::ledger::Ledger>,
    secure: bool,
    generation: u64,
    workers: usize,
) -> Result<State> {
    if config.tls.is_some() != secure {
        anyhow::bail!("turning TLS on or off needs a restart");
    }
    let clients = handler::clients(&config, &policies, workers)?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let admin_token = api_token(&config);
    let ledger = open_ledger(&config, &policies, admin_token.is_some(), ledger).await?;
    Ok(State {
        config,
        engine,
        policies,
        key: shared.key.clone(),
        metrics: shared.metrics.clone(),
        audit: shared.audit.clone(),
        clients,
        ledger,
        admin_token,
        tls,
        generation,
    })
}

fn api_token(config: &Config) -> Option<String> {
    std::env::var(&config.admin_api.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
}

/// Opens the consent ledger when something needs it; a running one is
/// kept across reloads (moving the ledger needs a restart).
async fn open_ledger(
    config: &Config,
    policies: &PolicySet,
    api: bool,
    current: Option<crate::ledger::Ledger>,
) -> Result<Option<crate::ledger::Ledger>> {
    if current.is_some() {
        return Ok(current);
    }
    let needed = !policies.forms.is_empty() || !policies.destinations.is_empty() || api;
    if !needed {
        return Ok(None);
    }
    let ledger = match &config.ledger.postgres_env {
        Some(var) => {
            let conn = std::env::var(var)
                .with_context(|| format!("ledger: no PostgreSQL connection string in ${var}"))?;
            crate::ledger::Ledger::postgres(&conn).await?
        }
        None => crate::ledger::Ledger::sqlite(&config.ledger.sqlite)?,
    };
    Ok(Some(ledger))
}

fn reload_failed(metrics: &metrics::Metrics, e: &anyhow::Error) {
    metrics
        .reloads
        .get_or_create(&metrics::ResultLabels { result: "error" })
        .inc();
    tracing::error!("reload failed, the running config stays: {e:#}");
}

#[allow(clippy::too_many_arguments)]
async fn accept_loop(
    listener: TcpListener,
    secure: bool,
    egress: bool,
    workers: Arc<workers::Workers>,
    state: Arc<RwLock<Arc<State>>>,
    metrics: Arc<metrics::Metrics>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    limits: config::Limits,
    local: SocketAddr,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Over the connection limit: close at once.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The socket is registered again on the worker that serves it, so
        // that its readiness wakes that worker and no other thread.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepted socket unusable");
                continue;
            }
        };
        // The acceptor of the current generation: a reload brings new
        // certificates to new connections. Whether the listener speaks
        // TLS at all is fixed at start.
        let tls = if secure {
            state.read().unwrap_or_else(|p| p.into_inner()).tls.clone()
        } else {
            None
        };
        let state = state.clone();
        let metrics = metrics.clone();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
            .max_buf_size(limits.max_header_bytes.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(limits.max_header_bytes as u32)
            .keep_alive_interval(Some(Duration::from_millis(limits.idle_timeout_ms)));
        let service = service_fn(move |req| {
            let st = state.read().unwrap_or_else(|p| p.into_inner()).clone();
            let fut: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> = if egress {
                Box::pin(egress::handle(st, req, peer))
            } else {
                Box::pin(handler::handle(st, req, peer, local, secure))
            };
            fut
        });
        let watcher = graceful.watcher();
        let idle = Duration::from_millis(limits.idle_timeout_ms);
        workers.spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                tracing::warn!("accepted socket could not join its worker");
                return;
            };
            metrics.connections.inc();
            let on_worker = metrics
                .worker_connections
                .get_or_create(&metrics::WorkerLabels {
                    worker: workers::current() as u64,
                })
                .clone();
            on_worker.inc();
            match tls {
                _ if secure && tls.is_none() => {}
                Some(acceptor) => match tokio::time::timeout(idle, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => {
                        let conn = builder.serve_connection(TokioIo::new(s), service);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                    _ => tracing::debug!("TLS handshake failed"),
                },
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
            // The place is free before the gauges say so.
            drop(permit);
            metrics.connections.dec();
            on_worker.dec();
        });
    }
    ready.store(false, std::sync::atomic::Ordering::SeqCst);
    drop(listener);
    let _ = tokio::time::timeout(
        Duration::from_millis(limits.drain_timeout_ms),
        graceful.shutdown(),
    )
    .await;
}

async fn admin_loop(
    listener: TcpListener,
    state: Arc<RwLock<Arc<State>>>,
    metrics: Arc<metrics::Metrics>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
        };
        let metrics = metrics.clone();
        let ready = ready.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                let ready = ready.load(std::sync::atomic::Ordering::SeqCst);
                let st = state.read().unwrap_or_else(|p| p.into_inner()).clone();
                async move {
                    if req.uri().path().starts_with("/api/") {
                        return Ok::<_, std::convert::Infallible>(
                            admin::handle(&st, req, peer).await,
                        );
                    }
                    let generation = st.generation;
                    let (status, ctype, body) = match req.uri().path() {
                        "/metrics" => (
                            200,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            metrics.encode(),
                        ),
                        "/healthz" => (200, "text/plain", "ok\n".to_string()),
                        "/readyz" if ready => (
                            200,
                            "text/plain",
                            format!("ready generation={generation}\n"),
                        ),
                        "/readyz" => (503, "text/plain", "draining\n".to_string()),
                        _ => (404, "text/plain", "not found\n".to_string()),
                    };
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .header("content-type", ctype)
                            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                            .expect("static response"),
                    )
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A TLS acceptor from PEM files (TLS 1.2 and 1.3, HTTP/2 and 1.1 by ALPN).
pub fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("{}: cannot read certificates", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: invalid PEM", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{}: no private key in PEM form", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Runs `zaslon serve` until SIGTERM or Ctrl-C; SIGHUP reloads.
pub fn run(source: Source) -> Result<()> {
    // Accepting, the admin listener, reloads and the ledger; connections
    // are served on the workers (`workers.rs`). Two threads, so that a
    // reload compiling rules never holds up accepting.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zaslon-main")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let running = start(source).await?;
        tracing::info!(listen = %running.listen, admin = ?running.admin, "serving");
        eprintln!(
            "zaslon: serving on http://{}{}{}",
            running.listen,
            running
                .admin
                .map(|a| format!(", admin on http://{a}/metrics"))
                .unwrap_or_default(),
            running
                .egress
                .map(|a| format!(", egress on http://{a}"))
                .unwrap_or_default()
        );
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = hup.recv() => running.reload(),
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        tracing::info!("draining");
        running.shutdown().await;
        Ok(())
    })
}
