//! Raw rule-file structs: what the YAML says, before validation. Unknown
//! keys are errors; values that need checking keep their position.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::detect::Builtin;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub version: Option<Spanned<u32>>,
    pub context: Option<RawContext>,
    #[serde(default)]
    pub noise_keywords: Vec<String>,
    pub detectors: Option<RawDetectors>,
    #[serde(default)]
    pub custom: Vec<RawCustom>,
    pub allow: Option<RawAllow>,
    #[serde(default)]
    pub examples: Vec<RawExample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContext {
    pub window: Option<Spanned<usize>>,
    pub keyword_boost: Option<Spanned<f32>>,
    pub noise_penalty: Option<Spanned<f32>>,
    pub other_penalty: Option<Spanned<f32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetectors {
    pub snils: Option<RawDetector>,
    pub inn: Option<RawDetector>,
    pub inn_legal: Option<RawDetector>,
    pub passport: Option<RawDetector>,
    pub phone: Option<RawDetector>,
    pub email: Option<RawDetector>,
    pub card: Option<RawDetector>,
    pub oms: Option<RawDetector>,
    pub birth_date: Option<RawDetector>,
    pub diagnosis: Option<RawDetector>,
    pub bank_account: Option<RawDetector>,
}

impl RawDetectors {
    pub fn entries(&self) -> [(Builtin, Option<&RawDetector>); 11] {
        [
            (Builtin::Snils, self.snils.as_ref()),
            (Builtin::Inn, self.inn.as_ref()),
            (Builtin::InnLegal, self.inn_legal.as_ref()),
            (Builtin::Passport, self.passport.as_ref()),
            (Builtin::Phone, self.phone.as_ref()),
            (Builtin::Email, self.email.as_ref()),
            (Builtin::Card, self.card.as_ref()),
            (Builtin::Oms, self.oms.as_ref()),
            (Builtin::BirthDate, self.birth_date.as_ref()),
            (Builtin::Diagnosis, self.diagnosis.as_ref()),
            (Builtin::BankAccount, self.bank_account.as_ref()),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    pub enabled: Option<bool>,
    pub min_confidence: Option<Spanned<f32>>,
    pub keywords: Option<Vec<String>>,
    pub formats: Option<BTreeMap<String, Spanned<f32>>>,
    pub allow: Option<RawAllow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    #[serde(default)]
    pub values: Vec<Spanned<String>>,
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustom {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    pub regex: Option<Spanned<String>>,
    pub dictionary: Option<Spanned<Vec<String>>>,
    pub validator: Option<Spanned<String>>,
    pub confidence: Option<Spanned<f32>>,
    pub min_confidence: Option<Spanned<f32>>,
    pub keywords: Option<Spanned<Vec<String>>>,
    pub require_keyword: Option<Spanned<bool>>,
    pub window: Option<usize>,
    pub allow: Option<RawAllow>,
}

/// One category name or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s).iter(),
            OneOrMany::Many(v) => v.iter(),
        }
    }
}

/// Text that must (or must not) be found as given categories.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExample {
    pub text: Spanned<String>,
    #[serde(rename = "match")]
    pub expect: Option<OneOrMany>,
    #[serde(rename = "no_match")]
    pub expect_none: Option<OneOrMany>,
}
