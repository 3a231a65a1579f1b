//! Acting on findings: policy decision, masking in place, counting,
//! auditing, and the bulk-leak count. Shared by the request and response
//! flows and by whole and streamed bodies.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use crate::detect::Finding;
use crate::policy::{Action, Flow, Mode, Target, apply_mask};

use super::State;
use super::audit::{Event, now};
use super::metrics::{ActionLabels, FindingLabels};

/// Who and where: the request a message belongs to.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub request_id: String,
    pub route: String,
    pub host: String,
    pub method: String,
    pub path: String,
}

/// The outcome of acting on findings.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The policy that blocks the message, if one does (in enforce mode).
    pub blocked: Option<String>,
    /// A bulk rule fired: `(policy, status)`.
    pub bulk: Option<(String, u16)>,
    /// Values masked in place.
    pub masked: usize,
}

/// Acts on the findings of one message (a URL, a request body, a
/// response body), possibly over many calls as a body streams.
pub struct Inspector {
    pub flow: Flow,
    pub content_type: String,
    pub location: &'static str,
    /// Distinct identifiers seen, as keyed 64-bit hashes (no values kept).
    distinct: HashSet<u64>,
    hasher: RandomState,
    bulk_fired: bool,
}

impl Inspector {
    pub fn new(flow: Flow, content_type: &str, location: &'static str) -> Inspector {
        Inspector {
            flow,
            content_type: media_type(content_type),
            location,
            distinct: HashSet::new(),
            hasher: RandomState::new(),
            bulk_fired: false,
        }
    }

    /// Acts on `findings`, whose offsets are absolute; `buf` holds the raw
    /// bytes from absolute offset `base` and is masked in place.
    pub fn act(
        &mut self,
        st: &State,
        ctx: &Ctx,
        findings: &[Finding],
        buf: &mut [u8],
        base: u64,
    ) -> Verdict {
        let mut v = Verdict::default();
        let target = Target {
            flow: self.flow,
            host: &ctx.host,
            method: &ctx.method,
            path: &ctx.path,
            content_type: &self.content_type,
        };
        let bulk: Vec<_> = st.policies.bulk_for(&target).collect();
        for f in findings {
            let raw_range = f.start.checked_sub(base).and_then(|s| {
                let e = f.end - base;
                (e as usize <= buf.len()).then_some(s as usize..e as usize)
            });
            // Bulk counting, whatever the policies say.
            for b in &bulk {
                if b.counts(&f.category) {
                    let mut h = self.hasher.build_hasher();
                    f.category.as_str().hash(&mut h);
                    f.value.as_str().hash(&mut h);
                    self.distinct.insert(h.finish());
                    if self.distinct.len() > b.distinct && !self.bulk_fired {
                        self.bulk_fired = true;
                        let mode = b.mode;
                        st.metrics
                            .blocked
                            .get_or_create(&ActionLabels {
                                flow: self.flow.as_str(),
                                policy: b.id.to_string(),
                                mode: mode.as_str(),
                            })
                            .inc();
                        tracing::warn!(
                            request_id = %ctx.request_id,
                            route = %ctx.route,
                            policy = %b.id,
                            distinct = self.distinct.len(),
                            mode = mode.as_str(),
                            "bulk leak"
                        );
                        if mode == Mode::Enforce {
                            v.bulk = Some((b.id.to_string(), b.status));
                        }
                    }
                }
            }
            let Some(p) = st.policies.decide(&target, &f.category) else {
                continue;
            };
            let mode = p.mode;
            st.metrics
                .findings
                .get_or_create(&FindingLabels {
                    category: f.category.as_str().to_string(),
                    flow: self.flow.as_str(),
                    policy: p.id.to_string(),
                    action: p.action.as_str(),
                    mode: mode.as_str(),
                })
                .inc();
            if p.action == Action::Allow {
                continue;
            }
            let preview = match &raw_range {
                Some(r) => f.preview(&buf[r.clone()]),
                None => "***".into(),
            };
            let labels = ActionLabels {
                flow: self.flow.as_str(),
                policy: p.id.to_string(),
                mode: mode.as_str(),
            };
            match &p.action {
                Action::Mask(m) => {
                    st.metrics.masked.get_or_create(&labels).inc();
                    if mode == Mode::Enforce
                        && let Some(r) = raw_range.clone()
                    {
                        apply_mask(m, f, &mut buf[r], &st.key);
                        v.masked += 1;
                    }
                }
                Action::Block => {
                    st.metrics.blocked.get_or_create(&labels).inc();
                    if mode == Mode::Enforce && v.blocked.is_none() {
                        v.blocked = Some(p.id.to_string());
                    }
                }
                _ => {}
            }
            let fingerprint = st.key.fingerprint(&f.category, &f.value);
            st.audit.write(&Event {
                time: now(),
                request_id: &ctx.request_id,
                route: &ctx.route,
                flow: self.flow.as_str(),
                policy: &p.id,
                category: f.category.as_str(),
                detector: &f.detector,
                action: p.action.as_str(),
                mode: mode.as_str(),
                start: f.start,
                end: f.end,
                location: self.location,
                preview: &preview,
                fingerprint: &fingerprint,
            });
        }
        v
    }
}

/// `text/html; charset=utf-8` → `text/html`.
pub fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is text Zaslon reads.
pub fn is_text(media: &str) -> bool {
    media.starts_with("text/")
        || matches!(
            media,
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/x-www-form-urlencoded"
                | "multipart/form-data"
                | "application/ld+json"
                | "application/problem+json"
                | "application/csv"
                | ""
        )
        || media.ends_with("+json")
        || media.ends_with("+xml")
}
