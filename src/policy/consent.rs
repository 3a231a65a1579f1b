//! Consent and transfer rules (clauses 3.4 and 3.5 of the clinic's policy,
//! 152-FZ art. 9): which forms need consent and how it is given, and which
//! third parties may receive what, on which legal ground. Pure: the proxy
//! brings the submitted fields and the ledger's answers.

use std::path::PathBuf;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::raw::{RawAction, RawDestination, RawForm};
use super::{Ids, Mode, RouteMatch, Target, categories, id, routes};
use crate::rules::{RuleError, error_at};

/// How a form's submission gives consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentBy {
    /// A field with one of the accepted values.
    Field { name: String, values: Vec<String> },
    /// Submitting the form is consent.
    Implied,
}

/// A form whose submissions carry personal data only with consent.
#[derive(Clone, Debug)]
pub struct FormRule {
    pub id: Arc<str>,
    route: RouteMatch,
    form_id: Option<(String, String)>,
    pub consent: ConsentBy,
    pub purposes: Vec<String>,
    pub policy_version: String,
    pub page: Option<String>,
    pub mode: Mode,
}

impl FormRule {
    /// Whether a submission to `t` with these fields is this form.
    pub fn matches(&self, t: &Target<'_>, fields: &[(String, String)]) -> bool {
        self.route.matches(t)
            && self
                .form_id
                .as_ref()
                .is_none_or(|(f, v)| fields.iter().any(|(n, x)| n == f && x == v))
    }

    /// Whether the submission gives consent.
    pub fn consented(&self, fields: &[(String, String)]) -> bool {
        match &self.consent {
            ConsentBy::Implied => true,
            ConsentBy::Field { name, values } => fields
                .iter()
                .any(|(n, v)| n == name && values.iter().any(|a| a == v)),
        }
    }
}

/// The legal ground of a transfer (clause 3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ground {
    /// 3.4.1: the subject's consent for this purpose.
    Consent(String),
    /// 3.4.2: a service or contract with the subject needs it.
    Contract,
    /// 3.4.4: the law requires it.
    Law,
}

impl Ground {
    /// The metric label: `consent`, `contract` or `law` (the purpose is in
    /// the destination's config, not in a label).
    pub fn as_str(&self) -> &'static str {
        match self {
            Ground::Consent(_) => "consent",
            Ground::Contract => "contract",
            Ground::Law => "law",
        }
    }
}

/// What happens to a category a destination may not receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Other {
    Block,
    Mask,
}

/// A third party reached through the egress listener.
#[derive(Clone, Debug)]
pub struct Destination {
    pub id: Arc<str>,
    pub prefix: String,
    pub url: http::Uri,
    pub ca: Option<PathBuf>,
    pub ground: Ground,
    pub categories: Vec<String>,
    pub other: Other,
    pub mode: Mode,
}

impl Destination {
    pub fn may_receive(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

pub(super) fn compile_forms(
    file: &str,
    raw: Vec<RawForm>,
    ids: &mut Ids,
    errors: &mut Vec<RuleError>,
) -> Vec<FormRule> {
    let mut out = Vec::new();
    for f in raw {
        let mut route = routes(file, std::slice::from_ref(&f.route), errors)
            .pop()
            .expect("one route");
        if route.methods.is_empty() {
            route.methods = vec!["POST".into()];
        }
        let c = &f.consent.value;
        let consent = match (&c.field, c.implied) {
            (Some(name), false) if !c.values.is_empty() => ConsentBy::Field {
                name: name.clone(),
                values: c.values.clone(),
            },
            (None, true) if c.values.is_empty() => ConsentBy::Implied,
            _ => {
                errors.push(error_at(
                    file,
                    f.consent.referenced,
                    "consent: either `field` with `values`, or `implied: true`",
                ));
                continue;
            }
        };
        let purposes = purposes(file, &f.purposes, errors);
        if purposes.is_empty() {
            errors.push(error_at(
                file,
                f.id.referenced,
                "a form names the purposes its consent covers",
            ));
        }
        out.push(FormRule {
            id: id(file, &f.id, ids, errors),
            route,
            form_id: f.form_id.map(|x| (x.field, x.value)),
            consent,
            purposes,
            policy_version: f.policy_version,
            page: f.page,
            mode: f.mode.unwrap_or_default(),
        });
    }
    out
}

fn purposes(file: &str, raw: &[Spanned<String>], errors: &mut Vec<RuleError>) -> Vec<String> {
    raw.iter()
        .filter_map(|p| {
            let ok = !p.value.is_empty()
                && p.value.len() <= 32
                && p.value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                errors.push(error_at(
                    file,
                    p.referenced,
                    "a purpose is 1 to 32 characters of a-z, 0-9, `_`",
                ));
            }
            ok.then(|| p.value.clone())
        })
        .collect()
}

pub(super) fn compile_destinations(
    file: &str,
    raw: Vec<RawDestination>,
    ids: &mut Ids,
    errors: &mut Vec<RuleError>,
) -> Vec<Destination> {
    let mut out = Vec::new();
    for d in raw {
        let g = d.ground.value.trim();
        let ground = match g.split_once(':') {
            Some(("consent", p)) => {
                let p = purposes(
                    file,
                    &[Spanned {
                        value: p.trim().to_string(),
                        referenced: d.ground.referenced,
                        defined: d.ground.defined,
                    }],
                    errors,
                );
                p.into_iter().next().map(Ground::Consent)
            }
            None if g == "contract" => Some(Ground::Contract),
            None if g == "law" => Some(Ground::Law),
            _ => {
                errors.push(error_at(
                    file,
                    d.ground.referenced,
                    "ground is `consent: <purpose>`, `contract` or `law`",
                ));
                None
            }
        };
        let url = match d.url.value.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                Some(u)
            }
            _ => {
                errors.push(error_at(
                    file,
                    d.url.referenced,
                    format!("`{}` is not an http(s) URL", d.url.value),
                ));
                None
            }
        };
        if !d.prefix.value.starts_with('/') || !d.prefix.value.ends_with('/') {
            errors.push(error_at(
                file,
                d.prefix.referenced,
                "a prefix starts and ends with `/` (`/crm/`)",
            ));
        }
        let other = match d.other {
            None | Some(RawAction::Block) => Other::Block,
            Some(RawAction::Mask) => Other::Mask,
            Some(a) => {
                errors.push(error_at(
                    file,
                    d.id.referenced,
                    format!("`other` is block or mask, not {a:?}"),
                ));
                Other::Block
            }
        };
        let id = id(file, &d.id, ids, errors);
        let categories = categories(file, &d.categories, errors);
        if let (Some(ground), Some(url)) = (ground, url) {
            out.push(Destination {
                id,
                prefix: d.prefix.value,
                url,
                ca: d.ca,
                ground,
                categories,
                other,
                mode: d.mode.unwrap_or_default(),
            });
        }
    }
    out
}
