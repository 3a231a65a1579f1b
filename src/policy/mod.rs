//! Policies: what to do with a finding, given where it was found.
//!
//! Pure, like the engine it builds on: no I/O. A policy file is YAML
//! ([`DEFAULT_POLICIES`] is built in); it is parsed into raw structs that
//! reject unknown keys, then compiled into a [`PolicySet`]. The proxy asks
//! the set, for each finding, which policy decides it ([`PolicySet::decide`])
//! and applies the action; bulk rules ([`Bulk`]) count distinct identifiers
//! in a whole response.
//!
//! The first policy in file order that matches a finding wins. Several files
//! are read in order, so a site's own file placed before the defaults
//! overrides them.

pub mod consent;
mod raw;

use std::fmt::Write as _;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use hmac::{Hmac, Mac};
use serde_saphyr::Spanned;
use sha2::Sha256;

use crate::detect::{Category, Finding, mask_in_place, overwrite};
use crate::rules::{RuleError, RuleErrors, error_at, from_yaml};

pub use raw::RawPolicies;

/// The built-in policy file: `(name, text)`.
pub const DEFAULT_POLICIES: (&str, &str) = (
    "rules/default.policies.yaml",
    include_str!("../../rules/default.policies.yaml"),
);

/// Where traffic goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// From clients to the site.
    Request,
    /// From the site to clients.
    Response,
    /// From the site's backend to third parties.
    Transfer,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Request => "request",
            Flow::Response => "response",
            Flow::Transfer => "transfer",
        }
    }
}

/// Enforce the action, or only report what it would do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Report,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Report => "report",
        }
    }
}

/// How a masked value is written. Every strategy keeps the raw length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Every letter and digit becomes `*`; separators stay.
    Full,
    /// As `Full`, but the last N digits stay.
    KeepLast(usize),
    /// A fixed text, padded with `*` or cut to the raw length.
    Token(String),
    /// A keyed HMAC of the value, in hex, cut to the raw length: the same
    /// value always gives the same token, and the token reveals nothing.
    Hmac,
}

/// What a policy does with a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Monitor,
    Mask(Mask),
    Block,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Monitor => "monitor",
            Action::Mask(_) => "mask",
            Action::Block => "block",
        }
    }
}

/// Host, method and path a policy applies to.
#[derive(Clone, Debug)]
struct RouteMatch {
    hosts: Option<GlobSet>,
    paths: Option<GlobSet>,
    methods: Vec<String>,
}

impl RouteMatch {
    fn matches(&self, t: &Target<'_>) -> bool {
        self.hosts.as_ref().is_none_or(|g| g.is_match(t.host))
            && self.paths.as_ref().is_none_or(|g| g.is_match(t.path))
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == t.method))
    }
}

/// One policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: Arc<str>,
    pub flow: Flow,
    routes: Vec<RouteMatch>,
    content_types: Vec<String>,
    /// Empty: every category.
    categories: Vec<String>,
    pub action: Action,
    pub mode: Mode,
}

/// A bulk-leak rule: more than `distinct` different identifiers of the
/// listed categories in one message.
#[derive(Clone, Debug)]
pub struct Bulk {
    pub id: Arc<str>,
    pub flow: Flow,
    routes: Vec<RouteMatch>,
    categories: Vec<String>,
    pub distinct: usize,
    /// The status of the block page (403 or 451).
    pub status: u16,
    pub mode: Mode,
}

impl Bulk {
    /// Whether findings of this category count towards the rule.
    pub fn counts(&self, category: &Category) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category.as_str())
    }
}

/// Where a message is going, as policies see it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub flow: Flow,
    /// Lower case, without the port.
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The media type, lower case, without parameters (`text/html`).
    pub content_type: &'a str,
}

/// Compiled policies.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
    pub bulk: Vec<Bulk>,
    pub forms: Vec<consent::FormRule>,
    pub destinations: Vec<consent::Destination>,
    /// Response headers for pages (the last file that sets them wins).
    pub headers: consent::HeaderPolicy,
}

fn content_type_matches(patterns: &[String], ct: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix("/*") {
            Some(major) => ct.split('/').next() == Some(major),
            None => p == ct,
        })
}

impl PolicySet {
    /// The policy that decides a finding of `category` in `t`.
    pub fn decide(&self, t: &Target<'_>, category: &Category) -> Option<&Policy> {
        self.policies.iter().find(|p| {
            p.flow == t.flow
                && (p.categories.is_empty() || p.categories.iter().any(|c| c == category.as_str()))
                && content_type_matches(&p.content_types, t.content_type)
                && (p.routes.is_empty() || p.routes.iter().any(|r| r.matches(t)))
        })
    }

    /// The bulk rules that apply to `t`.
    pub fn bulk_for<'s>(&'s self, t: &'s Target<'_>) -> impl Iterator<Item = &'s Bulk> + 's {
        self.bulk.iter().filter(move |b| {
            b.flow == t.flow && (b.routes.is_empty() || b.routes.iter().any(|r| r.matches(t)))
        })
    }

    /// The consent rule of a form submission, if one applies.
    pub fn form_for(
        &self,
        t: &Target<'_>,
        fields: &[(String, String)],
    ) -> Option<&consent::FormRule> {
        self.forms.iter().find(|f| f.matches(t, fields))
    }

    /// The destination of an egress request path: the longest prefix.
    pub fn destination_for(&self, path: &str) -> Option<&consent::Destination> {
        self.destinations
            .iter()
            .filter(|d| path.starts_with(&d.prefix))
            .max_by_key(|d| d.prefix.len())
    }

    /// Puts every policy and bulk rule in report mode (`--report`).
    pub fn report_only(&mut self) {
        for p in &mut self.policies {
            p.mode = Mode::Report;
        }
        for b in &mut self.bulk {
            b.mode = Mode::Report;
        }
        for f in &mut self.forms {
            f.mode = Mode::Report;
        }
        for d in &mut self.destinations {
            d.mode = Mode::Report;
        }
    }

    /// The built-in policies.
    pub fn default_set() -> Result<PolicySet, RuleErrors> {
        compile(&[DEFAULT_POLICIES])
    }
}

/// The secret for fingerprints and HMAC masks.
#[derive(Clone)]
pub struct Keyed {
    key: Arc<[u8]>,
}

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyed(<secret>)")
    }
}

impl Keyed {
    pub fn new(key: &[u8]) -> Keyed {
        Keyed { key: key.into() }
    }

    /// HMAC-SHA256 of `category:value`, as 32 hex digits (128 bits): a
    /// stable, keyed fingerprint that joins events about the same value
    /// without revealing it.
    pub fn fingerprint(&self, category: &Category, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(category.as_str().as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(32);
        for b in &out[..16] {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

/// Masks the raw bytes of `finding` in place, keeping their length.
pub fn apply_mask(mask: &Mask, finding: &Finding, raw: &mut [u8], key: &Keyed) {
    match mask {
        Mask::Full => mask_in_place(&finding.category, raw, 0),
        Mask::KeepLast(n) => mask_in_place(&finding.category, raw, *n),
        Mask::Token(t) => overwrite(raw, t),
        Mask::Hmac => overwrite(
            raw,
            &format!("#{}", key.fingerprint(&finding.category, &finding.value)),
        ),
    }
}

/// Parses and compiles policy files `(name, text)`, in order.
pub fn compile(files: &[(&str, &str)]) -> Result<PolicySet, RuleErrors> {
    let mut set = PolicySet::default();
    let mut errors = Vec::new();
    let mut ids = Ids::default();
    for (name, text) in files {
        match from_yaml::<RawPolicies>(name, text) {
            Ok(raw) => compile_one(name, raw, &mut set, &mut ids, &mut errors),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(RuleErrors(errors))
    }
}

fn glob_set(
    file: &str,
    glob: Option<&Spanned<String>>,
    lower: bool,
    errors: &mut Vec<RuleError>,
) -> Option<GlobSet> {
    let g = glob?;
    let text = if lower {
        g.value.to_ascii_lowercase()
    } else {
        g.value.clone()
    };
    let built = GlobBuilder::new(&text)
        .literal_separator(true)
        .build()
        .and_then(|glob| GlobSetBuilder::new().add(glob).build());
    match built {
        Ok(set) => Some(set),
        Err(e) => {
            errors.push(error_at(
                file,
                g.referenced,
                format!("invalid glob `{}`: {}", g.value, e.kind()),
            ));
            None
        }
    }
}

fn routes(file: &str, raw: &[raw::RawRoute], errors: &mut Vec<RuleError>) -> Vec<RouteMatch> {
    raw.iter()
        .map(|r| RouteMatch {
            hosts: glob_set(file, r.host.as_ref(), true, errors),
            paths: glob_set(file, r.path.as_ref(), false, errors),
            methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
        })
        .collect()
}

fn categories(file: &str, raw: &[Spanned<String>], errors: &mut Vec<RuleError>) -> Vec<String> {
    raw.iter()
        .filter_map(|c| {
            let name = c.value.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                errors.push(error_at(
                    file,
                    c.referenced,
                    format!("`{}` is not a category name", c.value),
                ));
                None
            } else {
                Some(name.to_string())
            }
        })
        .collect()
}

/// Policy ids seen so far: ids are unique across files.
#[derive(Default)]
struct Ids(std::collections::HashSet<String>);

fn id(file: &str, raw: &Spanned<String>, ids: &mut Ids, errors: &mut Vec<RuleError>) -> Arc<str> {
    if !ids.0.insert(raw.value.clone()) {
        errors.push(error_at(
            file,
            raw.referenced,
            format!("policy id `{}` is used twice", raw.value),
        ));
    }
    let ok = !raw.value.is_empty()
        && raw.value.len() <= 64
        && raw
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        errors.push(error_at(
            file,
            raw.referenced,
            "a policy id is 1 to 64 characters of a-z, 0-9, `-`, `_`, `.` (it becomes a metric label)",
        ));
    }
    raw.value.as_str().into()
}

fn compile_one(
    file: &str,
    raw: RawPolicies,
    set: &mut PolicySet,
    ids: &mut Ids,
    errors: &mut Vec<RuleError>,
) {
    for p in raw.policies {
        let action = match (p.action.value, p.mask) {
            (raw::RawAction::Mask, Some(m)) => {
                let mask = match (m.strategy, m.keep, m.token) {
                    (raw::RawStrategy::Full, None, None) => Some(Mask::Full),
                    (raw::RawStrategy::KeepLast, Some(k), None) => Some(Mask::KeepLast(k)),
                    (raw::RawStrategy::Token, None, Some(t)) if !t.is_empty() => {
                        Some(Mask::Token(t))
                    }
                    (raw::RawStrategy::Hmac, None, None) => Some(Mask::Hmac),
                    _ => None,
                };
                match mask {
                    Some(m) => Action::Mask(m),
                    None => {
                        errors.push(error_at(
                            file,
                            p.action.referenced,
                            "mask: `keep` goes with keep_last only, a non-empty `token` with token only",
                        ));
                        continue;
                    }
                }
            }
            (raw::RawAction::Mask, None) => Action::Mask(Mask::Full),
            (a, Some(_)) => {
                errors.push(error_at(
                    file,
                    p.action.referenced,
                    format!("`mask` settings need `action: mask`, not `{a:?}`"),
                ));
                continue;
            }
            (raw::RawAction::Allow, None) => Action::Allow,
            (raw::RawAction::Monitor, None) => Action::Monitor,
            (raw::RawAction::Block, None) => Action::Block,
        };
        set.policies.push(Policy {
            id: id(file, &p.id, ids, errors),
            flow: p.flow,
            routes: routes(file, &p.routes, errors),
            content_types: p
                .content_types
                .iter()
                .map(|c| c.trim().to_ascii_lowercase())
                .collect(),
            categories: categories(file, &p.categories, errors),
            action,
            mode: p.mode.unwrap_or_default(),
        });
    }
    for b in raw.bulk {
        if b.distinct.value == 0 {
            errors.push(error_at(
                file,
                b.distinct.referenced,
                "`distinct` must be 1 or more",
            ));
        }
        let status = b.status.as_ref().map_or(451, |s| s.value);
        if let Some(s) = &b.status
            && !matches!(s.value, 403 | 451)
        {
            errors.push(error_at(file, s.referenced, "`status` is 403 or 451"));
        }
        set.bulk.push(Bulk {
            id: id(file, &b.id, ids, errors),
            flow: b.flow,
            routes: routes(file, &b.routes, errors),
            categories: categories(file, &b.categories, errors),
            distinct: b.distinct.value,
            status,
            mode: b.mode.unwrap_or_default(),
        });
    }
    set.forms
        .extend(consent::compile_forms(file, raw.forms, ids, errors));
    set.destinations.extend(consent::compile_destinations(
        file,
        raw.destinations,
        ids,
        errors,
    ));
    if let Some(h) = raw.headers {
        set.headers = consent::compile_headers(file, h, errors);
    }
}

#[cfg(test)]
mod tests;
