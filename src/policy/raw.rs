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
