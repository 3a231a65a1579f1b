//! Consent and transfer rules (clauses 3.4 and 3.5 of the clinic's policy,
//! 152-FZ art. 9): which forms need consent and how it is given, and which
//! third parties may receive what, on which legal ground. Pure: the proxy
//! brings the submitted fields and the ledger's answers.

use std::path::PathBuf;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::raw::{RawAction, RawDestination, RawForm, RawHeaders};
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

/// Response headers for HTML pages (clause 3.4 in the browser): a
/// `Referrer-Policy`, and a `Content-Security-Policy` that admits
/// third-party hosts (analytics, social widgets) only when the visitor's
/// consent cookie says so.
#[derive(Clone, Debug, Default)]
pub struct HeaderPolicy {
    pub referrer_policy: Option<String>,
    csp: Option<Csp>,
}

#[derive(Clone, Debug)]
struct Csp {
    /// Directives in order: name and sources.
    base: Vec<(String, Vec<String>)>,
    cookie: (String, String),
    third_party: Vec<(String, Vec<String>)>,
}

impl HeaderPolicy {
    pub fn has_csp(&self) -> bool {
        self.csp.is_some()
    }

    /// The CSP for a request with this `Cookie` header, if one is set.
    pub fn csp(&self, cookie: Option<&str>) -> Option<String> {
        let c = self.csp.as_ref()?;
        let consented = cookie.is_some_and(|h| {
            h.split(';').any(|kv| {
                kv.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k == c.cookie.0 && v == c.cookie.1)
            })
        });
        let mut dirs = c.base.clone();
        if consented {
            for (name, extra) in &c.third_party {
                match dirs.iter_mut().find(|(n, _)| n == name) {
                    Some((_, v)) => v.extend(extra.iter().cloned()),
                    None => {
                        // A directive the base leaves to default-src.
                        let mut v = dirs
                            .iter()
                            .find(|(n, _)| n == "default-src")
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        v.extend(extra.iter().cloned());
                        dirs.push((name.clone(), v));
                    }
                }
            }
        }
        Some(
            dirs.iter()
                .map(|(n, v)| {
                    if v.is_empty() {
                        n.clone()
                    } else {
                        format!("{n} {}", v.join(" "))
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

fn header_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b';' && b != b',')
}

pub(super) fn compile_headers(
    file: &str,
    raw: RawHeaders,
    errors: &mut Vec<RuleError>,
) -> HeaderPolicy {
    let referrer_policy = raw.referrer_policy.and_then(|r| {
        const OK: [&str; 8] = [
            "no-referrer",
            "no-referrer-when-downgrade",
            "origin",
            "origin-when-cross-origin",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
            "unsafe-url",
        ];
        if OK.contains(&r.value.as_str()) {
            Some(r.value)
        } else {
            errors.push(error_at(
                file,
                r.referenced,
                format!("`{}` is not a Referrer-Policy value", r.value),
            ));
            None
        }
    });
    let csp = raw.content_security_policy.map(|c| {
        let mut base = Vec::new();
        for d in c.base.value.split(';') {
            let mut words = d.split_whitespace();
            let Some(name) = words.next() else { continue };
            let sources: Vec<String> = words.map(str::to_string).collect();
            if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                || !sources.iter().all(|s| header_safe(s))
            {
                errors.push(error_at(
                    file,
                    c.base.referenced,
                    format!("`{}` is not a CSP directive", d.trim()),
                ));
            }
            base.push((name.to_string(), sources));
        }
        let mut third_party = Vec::new();
        for (name, sources) in c.third_party {
            let mut v = Vec::new();
            for s in sources {
                if header_safe(&s.value) && !s.value.contains(char::is_whitespace) {
                    v.push(s.value);
                } else {
                    errors.push(error_at(
                        file,
                        s.referenced,
                        format!("`{}` is not a CSP source", s.value),
                    ));
                }
            }
            third_party.push((name, v));
        }
        Csp {
            base,
            cookie: (c.consent_cookie.name, c.consent_cookie.value),
            third_party,
        }
    });
    HeaderPolicy {
        referrer_policy,
        csp,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csp_admits_third_parties_only_with_consent() {
        let text = r#"
headers:
  referrer_policy: strict-origin-when-cross-origin
  content_security_policy:
    base: "default-src 'self'; script-src 'self'; img-src 'self' data:"
    consent_cookie: { name: cookie_consent, value: all }
    third_party:
      script-src: [https://mc.yandex.ru]
      frame-src: [https://vk.com]
"#;
        let set = super::super::compile(&[("h.policies.yaml", text)]).unwrap();
        let h = &set.headers;
        assert_eq!(
            h.referrer_policy.as_deref(),
            Some("strict-origin-when-cross-origin")
        );
        let none = "default-src 'self'; script-src 'self'; img-src 'self' data:";
        assert_eq!(h.csp(None).unwrap(), none);
        assert_eq!(h.csp(Some("a=b; cookie_consent=necessary")).unwrap(), none);
        assert_eq!(
            h.csp(Some("a=b; cookie_consent=all")).unwrap(),
            "default-src 'self'; script-src 'self' https://mc.yandex.ru; img-src 'self' data:; frame-src 'self' https://vk.com"
        );
        let bad = "headers:\n  referrer_policy: always\n";
        let e = super::super::compile(&[("b.policies.yaml", bad)]).unwrap_err();
        assert!(e.to_string().contains("b.policies.yaml:2:20"), "{e}");
    }
}
