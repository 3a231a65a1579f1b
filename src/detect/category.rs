//! What a finding is: its category, the built-in detector that found it, and
//! the textual format it was written in.
//!
//! Categories are a small closed set plus the ones that rule files add, so
//! they are safe to use as metric labels.

use std::fmt;
use std::sync::Arc;

/// The kind of personal data (or, for `inn_legal`, company data) found:
/// the category of a built-in detector, or one a rule file names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Builtin(Builtin),
    /// A category named by a custom detector in a rule file.
    Custom(Arc<str>),
}

impl Category {
    pub fn as_str(&self) -> &str {
        match self {
            Category::Builtin(b) => b.name(),
            Category::Custom(name) => name,
        }
    }

    /// Parses a category name; names that are not built in become custom.
    pub fn from_name(name: &str) -> Category {
        match Builtin::from_name(name) {
            Some(b) => Category::Builtin(b),
            None => Category::Custom(Arc::from(name)),
        }
    }

    /// Whether the category is personal data of a person (company INNs are not).
    pub fn is_personal(&self) -> bool {
        !matches!(self, Category::Builtin(Builtin::InnLegal))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of the detector (rule) that made a finding: a built-in's name, or
/// the id a rule file gives a custom detector. Built-in ids are plain
/// values, so findings are cloned and dropped without touching a shared
/// count. Compared, ordered and printed as the id's text.
#[derive(Clone)]
pub enum DetectorId {
    Builtin(Builtin),
    Custom(Arc<str>),
}

impl DetectorId {
    pub fn as_str(&self) -> &str {
        match self {
            DetectorId::Builtin(b) => b.name(),
            DetectorId::Custom(id) => id,
        }
    }
}

impl std::ops::Deref for DetectorId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for DetectorId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for DetectorId {}

impl PartialOrd for DetectorId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DetectorId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for DetectorId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The built-in detectors. Each one reports one category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    Snils,
    Inn,
    InnLegal,
    Passport,
    Phone,
    Email,
    Card,
    Oms,
    BirthDate,
    Diagnosis,
    BankAccount,
}

impl Builtin {
    pub const ALL: [Builtin; 11] = [
        Builtin::Snils,
        Builtin::Inn,
        Builtin::InnLegal,
        Builtin::Passport,
        Builtin::Phone,
        Builtin::Email,
        Builtin::Card,
        Builtin::Oms,
        Builtin::BirthDate,
        Builtin::Diagnosis,
        Builtin::BankAccount,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Snils => "snils",
            Builtin::Inn => "inn",
            Builtin::InnLegal => "inn_legal",
            Builtin::Passport => "passport",
            Builtin::Phone => "phone",
            Builtin::Email => "email",
            Builtin::Card => "card",
            Builtin::Oms => "oms",
            Builtin::BirthDate => "birth_date",
            Builtin::Diagnosis => "diagnosis",
            Builtin::BankAccount => "bank_account",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    pub fn category(self) -> Category {
        Category::Builtin(self)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The formats this detector recognises.
    pub fn formats(self) -> impl Iterator<Item = Format> {
        Format::ALL.into_iter().filter(move |f| f.builtin() == self)
    }
}

/// A textual format of an identifier. Each has a base confidence that rule
/// files can tune; context then raises or lowers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `112-233-445 95`, `112 233 445 95`, `112-233-445-95`.
    SnilsGrouped,
    /// `11223344595`: needs a keyword.
    SnilsBare,
    /// 12 digits.
    InnBare,
    /// 10 digits.
    InnLegalBare,
    /// `45 08 123456`, `4508 123456`.
    PassportSeriesNumber,
    /// `серия 4508 № 123456`, `45 08 номер 123456`.
    PassportWithSign,
    /// `4508123456`: needs a keyword.
    PassportBare,
    /// `{"series": "4508", "number": "123456"}`.
    PassportSplitFields,
    /// `+7 (812) 923-52-23`, `+78129235223`.
    PhoneInternational,
    /// `8 (812) 923-52-23`, `7 812 923 52 23`.
    PhoneTrunk,
    /// `88129235223`.
    PhoneCompact8,
    /// `78129235223`.
    PhoneCompact7,
    /// `(812) 923-52-23`, `812 923-52-23`: no country or trunk prefix.
    PhoneLocal,
    /// `8129235223`: needs a keyword.
    PhoneBare10,
    /// 16 digits (15 for Amex) with a known issuer prefix.
    CardScheme,
    /// Other lengths 13..19, or an unknown issuer: needs a keyword.
    CardOther,
    /// `1234 5678 9012 3456`.
    OmsGrouped,
    /// 16 digits.
    OmsBare,
    /// `name@domain.ru`.
    EmailPlain,
    /// `16.07.1956`, `16/07/1956`, `16-07-1956`: needs a keyword.
    BirthDateDotted,
    /// `1956-07-16`: needs a keyword.
    BirthDateIso,
    /// `C50.1`, `D12`: needs a keyword.
    DiagnosisIcd10,
    /// `40817810000000000001`: an account of an individual.
    AccountPersonal,
}

impl Format {
    pub const ALL: [Format; 23] = [
        Format::SnilsGrouped,
        Format::SnilsBare,
        Format::InnBare,
        Format::InnLegalBare,
        Format::PassportSeriesNumber,
        Format::PassportWithSign,
        Format::PassportBare,
        Format::PassportSplitFields,
        Format::PhoneInternational,
        Format::PhoneTrunk,
        Format::PhoneCompact8,
        Format::PhoneCompact7,
        Format::PhoneLocal,
        Format::PhoneBare10,
        Format::CardScheme,
        Format::CardOther,
        Format::OmsGrouped,
        Format::OmsBare,
        Format::EmailPlain,
        Format::BirthDateDotted,
        Format::BirthDateIso,
        Format::DiagnosisIcd10,
        Format::AccountPersonal,
    ];

    pub fn builtin(self) -> Builtin {
        use Format::*;
        match self {
            SnilsGrouped | SnilsBare => Builtin::Snils,
            InnBare => Builtin::Inn,
            InnLegalBare => Builtin::InnLegal,
            PassportSeriesNumber | PassportWithSign | PassportBare | PassportSplitFields => {
                Builtin::Passport
            }
            PhoneInternational | PhoneTrunk | PhoneCompact8 | PhoneCompact7 | PhoneLocal
            | PhoneBare10 => Builtin::Phone,
            CardScheme | CardOther => Builtin::Card,
            OmsGrouped | OmsBare => Builtin::Oms,
            EmailPlain => Builtin::Email,
            BirthDateDotted | BirthDateIso => Builtin::BirthDate,
            DiagnosisIcd10 => Builtin::Diagnosis,
            AccountPersonal => Builtin::BankAccount,
        }
    }

    /// The name used in rule files, unique within its detector.
    pub fn name(self) -> &'static str {
        use Format::*;
        match self {
            SnilsGrouped | OmsGrouped => "grouped",
            SnilsBare | InnBare | InnLegalBare | PassportBare | OmsBare => "bare",
            PassportSeriesNumber => "series_number",
            PassportWithSign => "with_sign",
            PassportSplitFields => "split_fields",
            PhoneInternational => "international",
            PhoneTrunk => "trunk",
            PhoneCompact8 => "compact_8",
            PhoneCompact7 => "compact_7",
            PhoneLocal => "local",
            PhoneBare10 => "bare10",
            CardScheme => "scheme",
            CardOther => "other",
            EmailPlain => "plain",
            BirthDateDotted => "dotted",
            BirthDateIso => "iso",
            DiagnosisIcd10 => "icd10",
            AccountPersonal => "personal",
        }
    }

    /// Built-in base confidence, before context.
    pub fn default_confidence(self) -> f32 {
        use Format::*;
        match self {
            SnilsGrouped => 0.95,
            SnilsBare => 0.3,
            InnBare => 0.8,
            InnLegalBare => 0.6,
            PassportSeriesNumber => 0.6,
            PassportWithSign => 0.9,
            PassportBare => 0.2,
            PassportSplitFields => 0.85,
            PhoneInternational => 0.95,
            PhoneTrunk => 0.85,
            PhoneCompact8 => 0.7,
            PhoneCompact7 => 0.55,
            PhoneLocal => 0.4,
            PhoneBare10 => 0.3,
            CardScheme => 0.8,
            CardOther => 0.3,
            OmsGrouped => 0.55,
            OmsBare => 0.55,
            EmailPlain => 0.95,
            BirthDateDotted | BirthDateIso | DiagnosisIcd10 => 0.2,
            AccountPersonal => 0.9,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
