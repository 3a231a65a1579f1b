//! Raw policy-file structs: what the YAML says, before validation. Unknown
//! keys are errors; values that need checking keep their position.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Flow, Mode};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    #[serde(default)]
    pub bulk: Vec<RawBulk>,
    #[serde(default)]
    pub forms: Vec<RawForm>,
    #[serde(default)]
    pub destinations: Vec<RawDestination>,
    pub headers: Option<RawHeaders>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub id: Spanned<String>,
    pub flow: Flow,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub content_types: Vec<String>,
    #[serde(default)]
    pub categories: Vec<Spanned<String>>,
    pub action: Spanned<RawAction>,
    pub mask: Option<RawMask>,
    pub mode: Option<Mode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// A glob over the host name (`*.caop1.ru`).
    pub host: Option<Spanned<String>>,
    /// A glob over the path (`/api/**`); `*` does not cross `/`.
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub methods: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawAction {
    Allow,
    Monitor,
    Mask,
    Block,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawStrategy {
    Full,
    KeepLast,
    Token,
    Hmac,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMask {
    pub strategy: RawStrategy,
    pub keep: Option<usize>,
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBulk {
    pub id: Spanned<String>,
    pub flow: Flow,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub categories: Vec<Spanned<String>>,
    pub distinct: Spanned<usize>,
    pub status: Option<Spanned<u16>>,
    pub mode: Option<Mode>,
}

/// A form whose submissions need consent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForm {
    pub id: Spanned<String>,
    /// Where the form posts; `methods` default to POST.
    pub route: RawRoute,
    /// A field and value that tell this form from others on the same path
    /// (Bitrix: `WEB_FORM_ID: "3"`).
    pub form_id: Option<RawField>,
    pub consent: Spanned<RawConsent>,
    pub purposes: Vec<Spanned<String>>,
    pub policy_version: String,
    /// The page with the form, for the link on the block page.
    pub page: Option<String>,
    pub mode: Option<Mode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    /// The consent field (`form_checkbox_AGREE[]`, `agree`).
    pub field: Option<String>,
    /// Its accepted values (`["12"]`, `["on"]`).
    #[serde(default)]
    pub values: Vec<String>,
    /// Submitting the form is itself consent (the policy's preamble).
    #[serde(default)]
    pub implied: bool,
}

/// A third party the site's backend sends data to through the egress
/// listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    pub id: Spanned<String>,
    /// The path prefix on the egress listener (`/crm/`).
    pub prefix: Spanned<String>,
    /// Where it goes (`https://crm.example`); the rest of the path follows.
    pub url: Spanned<String>,
    /// A CA file (PEM) for the destination's certificate.
    pub ca: Option<std::path::PathBuf>,
    /// `consent: <purpose>`, `contract` or `law` (clause 3.4).
    pub ground: Spanned<String>,
    /// The categories it may receive.
    #[serde(default)]
    pub categories: Vec<Spanned<String>>,
    /// What happens to other categories: `block` (default) or `mask`.
    pub other: Option<RawAction>,
    pub mode: Option<Mode>,
}

/// Response headers that keep personal data from travelling to third
/// parties from the browser.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    pub referrer_policy: Option<Spanned<String>>,
    pub content_security_policy: Option<RawCsp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsp {
    /// The policy for every visitor (`default-src 'self'; …`).
    pub base: Spanned<String>,
    /// The visitor's consent cookie and the value that means consent.
    pub consent_cookie: RawCookie,
    /// Sources added to directives only with consent.
    pub third_party: std::collections::BTreeMap<String, Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCookie {
    pub name: String,
    pub value: String,
}
