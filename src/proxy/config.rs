//! The serve configuration: listeners, TLS, upstreams, routes, limits,
//! rule and policy files, audit log. YAML, unknown keys rejected, errors as
//! `file:line:column: message`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::rules::{RuleError, RuleErrors, error_at, from_yaml};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<Spanned<String>>,
    pub admin: Option<Spanned<String>>,
    pub tls: Option<RawTls>,
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    #[serde(default)]
    pub report_only: bool,
    /// `false` turns inspection off: a bare proxy, every body counted as
    /// uninspected (reason `inspection_off`). For measuring and for
    /// emergencies only.
    #[serde(default = "yes")]
    pub inspect: bool,
    #[serde(default)]
    pub upstreams: std::collections::BTreeMap<String, RawUpstream>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub audit: Audit,
    /// The egress listener for the backend's calls to third parties.
    pub egress: Option<Spanned<String>>,
    #[serde(default)]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub admin_api: AdminApi,
    /// Threads serving connections; 0 (the default) means one per CPU.
    pub workers: Option<Spanned<usize>>,
}

/// Where consents are kept.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// The SQLite file (relative to the config file), used unless
    /// `postgres_env` is set.
    pub sqlite: PathBuf,
    /// The environment variable holding a PostgreSQL connection string
    /// (`host=… user=… password=… dbname=…`), for several replicas.
    pub postgres_env: Option<String>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            sqlite: "ledger.sqlite".into(),
            postgres_env: None,
        }
    }
}

/// The consent API on the admin listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminApi {
    /// The environment variable holding the bearer token; no token, no API.
    pub token_env: String,
}

impl Default for AdminApi {
    fn default() -> Self {
        AdminApi {
            token_env: "ZASLON_ADMIN_TOKEN".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub url: Spanned<String>,
    /// PEM file of CA certificates to trust for a TLS upstream (default:
    /// the Mozilla roots).
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Route name, used as a metric label (default: the upstream's name).
    pub name: Option<String>,
    /// A host glob (`*.caop1.ru`); no host matches every host.
    pub host: Option<Spanned<String>>,
    /// A path prefix (default `/`).
    pub path: Option<String>,
    pub upstream: Spanned<String>,
    /// What happens to bodies that are not inspected.
    #[serde(default)]
    pub uninspected: Uninspected,
}

/// What happens to a body that is not inspected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Uninspected {
    /// Pass it, and count it.
    #[default]
    FailOpen,
    /// Refuse it.
    FailClosed,
}

impl Uninspected {
    pub fn as_str(self) -> &'static str {
        match self {
            Uninspected::FailOpen => "fail_open",
            Uninspected::FailClosed => "fail_closed",
        }
    }
}

/// Bounds on every buffer and wait.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// Request bodies are buffered for inspection up to this size.
    pub request_body_bytes: usize,
    /// Responses with a Content-Length up to this size are scanned whole
    /// before their headers are sent, so a bulk leak gets a 451 page.
    /// Larger ones stream, and a bulk leak aborts the stream.
    pub hold_bytes: usize,
    /// Responses larger than this are not inspected; compressed ones
    /// stop when their decoded size passes it.
    pub inspect_bytes: u64,
    /// The most decoded bytes per encoded byte a compressed body may
    /// produce (past the first MiB) before it is treated as a bomb.
    pub decode_ratio: u64,
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub response_timeout_ms: u64,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            request_body_bytes: 1024 * 1024,
            hold_bytes: 256 * 1024,
            inspect_bytes: 256 * 1024 * 1024,
            decode_ratio: 100,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            connect_timeout_ms: 3_000,
            response_timeout_ms: 30_000,
            drain_timeout_ms: 30_000,
        }
    }
}

/// The audit log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// A file to append to, or `-` for standard output.
    pub path: String,
    /// The environment variable that holds the fingerprint key.
    pub key_env: String,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            path: "-".into(),
            key_env: "ZASLON_AUDIT_KEY".into(),
        }
    }
}

/// An upstream, validated.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub name: String,
    pub uri: http::Uri,
    pub ca: Option<PathBuf>,
}

/// A route, validated.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub host: Option<globset::GlobMatcher>,
    pub path: String,
    pub upstream: usize,
    pub uninspected: Uninspected,
}

fn yes() -> bool {
    true
}

/// The most worker threads a config may ask for.
pub const MAX_WORKERS: usize = 1024;

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub rules: Vec<PathBuf>,
    pub policies: Vec<PathBuf>,
    pub report_only: bool,
    pub inspect: bool,
    pub upstreams: Vec<Upstream>,
    pub routes: Vec<Route>,
    pub limits: Limits,
    pub audit: Audit,
    pub egress: Option<SocketAddr>,
    pub ledger: LedgerConfig,
    pub admin_api: AdminApi,
    /// Threads serving connections; 0 means one per CPU. Read at start
    /// only.
    pub workers: usize,
}

/// Command-line settings that override the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub upstream: Option<String>,
    pub admin: Option<SocketAddr>,
    pub rules: Vec<PathBuf>,
    pub report_only: bool,
    pub no_inspect: bool,
}

impl Config {
    /// Parses and validates a config file's text.
    pub fn parse(name: &str, text: &str, o: &Overrides) -> Result<Config, RuleErrors> {
        let raw: RawConfig = from_yaml(name, text).map_err(|e| RuleErrors(vec![e]))?;
        Config::from_raw(name, raw, o)
    }

    /// A config from the command line alone.
    pub fn from_overrides(o: &Overrides) -> Result<Config, RuleErrors> {
        Config::parse("<command line>", "{}", o)
    }

    fn from_raw(name: &str, raw: RawConfig, o: &Overrides) -> Result<Config, RuleErrors> {
        let mut errors = Vec::new();
        let mut addr = |v: &Option<Spanned<String>>, what: &str| -> Option<SocketAddr> {
            let v = v.as_ref()?;
            match v.value.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.push(error_at(
                        name,
                        v.referenced,
                        format!(
                            "{what}: `{}` is not an address such as 127.0.0.1:8080",
                            v.value
                        ),
                    ));
                    None
                }
            }
        };
        let listen = o.listen.or_else(|| addr(&raw.listen, "listen"));
        let admin = o.admin.or_else(|| addr(&raw.admin, "admin"));
        let egress = addr(&raw.egress, "egress");
        let workers = match &raw.workers {
            None => 0,
            Some(w) if w.value <= MAX_WORKERS => w.value,
            Some(w) => {
                errors.push(error_at(
                    name,
                    w.referenced,
                    format!(
                        "workers: {} is more than {MAX_WORKERS}; 0 means one per CPU",
                        w.value
                    ),
                ));
                0
            }
        };
        let mut upstreams = Vec::new();
        let mut names = Vec::new();
        for (n, u) in &raw.upstreams {
            match parse_upstream(&u.url.value) {
                Ok(uri) => {
                    names.push(n.clone());
                    upstreams.push(Upstream {
                        name: n.clone(),
                        uri,
                        ca: u.ca.clone(),
                    });
                }
                Err(m) => errors.push(error_at(name, u.url.referenced, m)),
            }
        }
        let mut routes = Vec::new();
        for r in &raw.routes {
            let Some(up) = names.iter().position(|n| *n == r.upstream.value) else {
                errors.push(error_at(
                    name,
                    r.upstream.referenced,
                    format!("no upstream named `{}`", r.upstream.value),
                ));
                continue;
            };
            let host = match &r.host {
                None => None,
                Some(h) => match globset::Glob::new(&h.value.to_ascii_lowercase()) {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(e) => {
                        errors.push(error_at(
                            name,
                            h.referenced,
                            format!("invalid host glob: {}", e.kind()),
                        ));
                        continue;
                    }
                },
            };
            routes.push(Route {
                name: r.name.clone().unwrap_or_else(|| r.upstream.value.clone()),
                host,
                path: r.path.clone().unwrap_or_else(|| "/".into()),
                upstream: up,
                uninspected: r.uninspected,
            });
        }
        if let Some(u) = &o.upstream {
            match parse_upstream(u) {
                Ok(uri) => {
                    upstreams.push(Upstream {
                        name: "default".into(),
                        uri,
                        ca: None,
                    });
                    routes.push(Route {
                        name: "default".into(),
                        host: None,
                        path: "/".into(),
                        upstream: upstreams.len() - 1,
                        uninspected: Uninspected::FailOpen,
                    });
                }
                Err(m) => errors.push(RuleError {
                    file: "--upstream".into(),
                    line: 1,
                    column: 1,
                    message: m,
                }),
            }
        }
        let whole = |m: &str| RuleError {
            file: name.to_string(),
            line: 1,
            column: 1,
            message: m.to_string(),
        };
        if listen.is_none() && errors.is_empty() {
            errors.push(whole("no `listen` address (or --listen)"));
        }
        if routes.is_empty() && errors.is_empty() {
            errors.push(whole(
                "no routes: add `upstreams` and `routes` (or --upstream)",
            ));
        }
        let l = &raw.limits;
        if l.max_connections == 0 || l.request_body_bytes == 0 || l.max_header_bytes < 1024 {
            errors.push(whole(
                "limits: max_connections and request_body_bytes must be positive, max_header_bytes at least 1024",
            ));
        }
        if l.decode_ratio < 2 {
            errors.push(whole("limits: decode_ratio must be at least 2"));
        }
        let base = std::path::Path::new(name)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        let rel = |p: &PathBuf| {
            if p.is_absolute() || name.starts_with('<') {
                p.clone()
            } else {
                base.join(p)
            }
        };
        if !errors.is_empty() {
            return Err(RuleErrors(errors));
        }
        let mut rules: Vec<PathBuf> = raw.rules.iter().map(rel).collect();
        if !o.rules.is_empty() {
            rules = o.rules.clone();
        }
        Ok(Config {
            listen: listen.expect("checked above"),
            admin,
            tls: raw.tls.as_ref().map(|t| (rel(&t.cert), rel(&t.key))),
            rules,
            policies: raw.policies.iter().map(rel).collect(),
            report_only: raw.report_only || o.report_only,
            inspect: raw.inspect && !o.no_inspect,
            upstreams,
            routes,
            limits: raw.limits,
            audit: Audit {
                path: if raw.audit.path == "-" {
                    raw.audit.path.clone()
                } else {
                    rel(&PathBuf::from(&raw.audit.path)).display().to_string()
                },
                key_env: raw.audit.key_env.clone(),
            },
            egress,
            ledger: LedgerConfig {
                sqlite: rel(&raw.ledger.sqlite),
                postgres_env: raw.ledger.postgres_env.clone(),
            },
            admin_api: raw.admin_api.clone(),
            workers,
        })
    }

    /// The route for a host and path: the longest matching path prefix.
    pub fn route(&self, host: &str, path: &str) -> Option<&Route> {
        let host = host.to_ascii_lowercase();
        let host = host.split(':').next().unwrap_or("");
        self.routes
            .iter()
            .filter(|r| r.host.as_ref().is_none_or(|g| g.is_match(host)))
            .filter(|r| path.starts_with(&r.path))
            .max_by_key(|r| r.path.len())
    }
}

fn parse_upstream(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a URL such as http://127.0.0.1:3000"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "`{url}`: an upstream is http:// or https:// with a host"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_alone_are_enough() {
        let o = Overrides {
            listen: Some("127.0.0.1:8080".parse().unwrap()),
            upstream: Some("http://127.0.0.1:3000".into()),
            ..Default::default()
        };
        let c = Config::from_overrides(&o).unwrap();
        assert_eq!(c.route("x", "/a").unwrap().name, "default");
        assert_eq!(c.workers, 0, "one per CPU unless asked");
        let c = Config::parse("c.yaml", "listen: 127.0.0.1:1\nworkers: 3\n", &o).unwrap();
        assert_eq!(c.workers, 3);
    }

    #[test]
    fn routes_by_host_and_longest_prefix() {
        let text = "listen: 127.0.0.1:1\nupstreams:\n  site: { url: \"http://127.0.0.1:2\" }\n  api: { url: \"https://127.0.0.1:3\" }\nroutes:\n  - { upstream: site }\n  - { host: \"*.caop1.ru\", path: /api/, upstream: api, uninspected: fail_closed }\n";
        let c = Config::parse("c.yaml", text, &Overrides::default()).unwrap();
        assert_eq!(c.route("www.caop1.ru:443", "/api/x").unwrap().name, "api");
        assert_eq!(c.route("other", "/api/x").unwrap().name, "site");
        assert_eq!(c.route("www.caop1.ru", "/").unwrap().name, "site");
    }

    #[test]
    fn errors_have_positions() {
        let cases = [
            ("listen: 127.0.0.1:1\ncolour: red\n", "c.yaml:2:1"),
            ("listen: nowhere\n", "c.yaml:1:9"),
            (
                "listen: 127.0.0.1:1\nupstreams:\n  a: { url: \"ftp://x\" }\n",
                "c.yaml:3:13",
            ),
            (
                "listen: 127.0.0.1:1\nroutes:\n  - { upstream: b }\n",
                "c.yaml:3:17",
            ),
            (
                "listen: 127.0.0.1:1\nlimits: { hold_bytes: many }\n",
                "c.yaml:2:23",
            ),
            ("listen: 127.0.0.1:1\nworkers: 5000\n", "c.yaml:2:10"),
            ("listen: 127.0.0.1:1\nworkers: -1\n", "c.yaml:2:10"),
        ];
        for (text, want) in cases {
            let e = Config::parse("c.yaml", text, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{text}\n→ {e}");
        }
    }
}
