//! Prometheus metrics (`prometheus-client`). Every label value comes from a
//! bounded set: categories and policy ids from the rule files, route names
//! from the config, fixed words otherwise. No label ever holds a value
//! found in traffic.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub category: String,
    pub flow: &'static str,
    pub policy: String,
    pub action: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub flow: &'static str,
    pub policy: String,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UninspectedLabels {
    pub flow: &'static str,
    pub reason: &'static str,
    pub handling: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub flow: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    /// The worker's number, from 0 to `workers` − 1.
    pub worker: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsentLabels {
    /// The form rule's id.
    pub form: String,
    /// `given`, `implied`, `missing`, `ledger_error`.
    pub outcome: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransferLabels {
    /// The destination's id.
    pub destination: String,
    /// `consent`, `contract`, `law`.
    pub ground: &'static str,
    /// `forwarded`, `masked`, `blocked_category`, `refused_consent`,
    /// `ledger_error`, `upstream_error`.
    pub outcome: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdminLabels {
    /// `lookup`, `withdraw`, `export`.
    pub call: &'static str,
    /// `ok`, `unauthorized`, `bad_request`, `error`.
    pub result: &'static str,
}

/// All of Zaslon's metrics.
pub struct Metrics {
    pub registry: Registry,
    pub findings: Family<FindingLabels, Counter>,
    pub blocked: Family<ActionLabels, Counter>,
    pub masked: Family<ActionLabels, Counter>,
    pub uninspected: Family<UninspectedLabels, Counter>,
    pub scanned_bytes: Family<FlowLabels, Counter>,
    pub scan_seconds: Family<FlowLabels, Histogram>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RequestLabels, Histogram>,
    pub upstream_errors: Family<KindLabels, Counter>,
    pub reloads: Family<ResultLabels, Counter>,
    pub generation: Gauge,
    pub connections: Gauge,
    pub worker_connections: Family<WorkerLabels, Gauge>,
    pub consents: Family<ConsentLabels, Counter>,
    pub transfers: Family<TransferLabels, Counter>,
    pub admin_calls: Family<AdminLabels, Counter>,
}

fn histogram() -> Histogram {
    // 100 µs to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("zaslon"),
            findings: Family::default(),
            blocked: Family::default(),
            masked: Family::default(),
            uninspected: Family::default(),
            scanned_bytes: Family::default(),
            scan_seconds: Family::new_with_constructor(histogram),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(histogram),
            upstream_errors: Family::default(),
            reloads: Family::default(),
            generation: Gauge::default(),
            connections: Gauge::default(),
            worker_connections: Family::default(),
            consents: Family::default(),
            transfers: Family::default(),
            admin_calls: Family::default(),
        };
        m.registry.register(
            "consents",
            "Form submissions under a consent rule, by form and outcome",
            m.consents.clone(),
        );
        m.registry.register(
            "transfers",
            "Egress requests to third parties, by destination, legal ground and outcome",
            m.transfers.clone(),
        );
        m.registry.register(
            "admin_api_calls",
            "Consent API calls, by call and result",
            m.admin_calls.clone(),
        );
        m.registry.register(
            "findings",
            "Findings acted on, by category, flow, policy, action and mode",
            m.findings.clone(),
        );
        m.registry.register(
            "blocked",
            "Messages blocked (or that would be, in report mode)",
            m.blocked.clone(),
        );
        m.registry.register(
            "masked",
            "Values masked (or that would be, in report mode)",
            m.masked.clone(),
        );
        m.registry.register(
            "uninspected_bodies",
            "Bodies not inspected, by reason and handling",
            m.uninspected.clone(),
        );
        m.registry.register(
            "scanned_bytes",
            "Bytes scanned for personal data",
            m.scanned_bytes.clone(),
        );
        m.registry.register(
            "scan_duration_seconds",
            "Time spent scanning one body",
            m.scan_seconds.clone(),
        );
        m.registry.register(
            "requests",
            "Requests served, by route and status class",
            m.requests.clone(),
        );
        m.registry.register(
            "request_duration_seconds",
            "Time from request to response headers",
            m.request_seconds.clone(),
        );
        m.registry.register(
            "upstream_errors",
            "Upstream failures by kind",
            m.upstream_errors.clone(),
        );
        m.registry
            .register("reloads", "Reloads by result", m.reloads.clone());
        m.registry.register(
            "config_generation",
            "Generation of the running config (1 at start, +1 per good reload)",
            m.generation.clone(),
        );
        m.registry.register(
            "open_connections",
            "Client connections open",
            m.connections.clone(),
        );
        m.registry.register(
            "worker_connections",
            "Client connections open on each worker thread",
            m.worker_connections.clone(),
        );
        m
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `2xx`, `4xx`…: a bounded label for a status.
pub fn code_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
