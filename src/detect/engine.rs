//! The compiled engine: detectors, keywords, allow-lists and thresholds,
//! built once from an [`EngineSpec`] and shared read-only by every scan.

use std::collections::HashSet;
use std::sync::Arc;

use regex::RegexSet;

use super::category::{Builtin, Category, DetectorId, Format};
use super::context::{Cue, Hit, KeywordIndex, RawGate};
use super::custom::{self, Custom, Matcher, Validator};
use super::simd::Kernel;

/// How context moves confidence.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextParams {
    /// Characters before a candidate searched for keywords.
    pub window: usize,
    /// Added when the nearest keyword announces the candidate's category.
    pub keyword_boost: f32,
    /// Subtracted when the nearest keyword announces something else that
    /// is not personal data (an order, an invoice, a payment id).
    pub noise_penalty: f32,
    /// Subtracted when the nearest keyword announces another category.
    pub other_penalty: f32,
}

impl Default for ContextParams {
    fn default() -> Self {
        ContextParams {
            window: 64,
            keyword_boost: 0.45,
            noise_penalty: 0.6,
            other_penalty: 0.2,
        }
    }
}

/// Values that are never reported: exact values (compared after
/// normalisation) and regex patterns matched against the whole normalised
/// value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllowSpec {
    pub values: Vec<String>,
    pub patterns: Vec<String>,
}

/// Settings of one built-in detector.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltinSpec {
    pub enabled: bool,
    pub min_confidence: f32,
    pub keywords: Vec<String>,
    /// Base confidence per format; formats not listed keep their default.
    pub formats: Vec<(Format, f32)>,
    pub allow: AllowSpec,
}

impl Default for BuiltinSpec {
    fn default() -> Self {
        BuiltinSpec {
            enabled: true,
            min_confidence: 0.5,
            keywords: Vec::new(),
            formats: Vec::new(),
            allow: AllowSpec::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternSpec {
    Regex(String),
    Dictionary(Vec<String>),
}

/// A custom detector as a rule file describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomSpec {
    pub id: String,
    pub category: String,
    pub pattern: PatternSpec,
    pub validator: Option<Validator>,
    pub confidence: f32,
    pub min_confidence: f32,
    pub keywords: Vec<String>,
    pub require_keyword: bool,
    /// With `require_keyword`: how many bytes after a keyword are searched.
    pub window: usize,
    pub allow: AllowSpec,
}

/// Everything needed to build an [`Engine`]: plain data, no I/O.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSpec {
    pub builtins: [BuiltinSpec; 11],
    pub noise_keywords: Vec<String>,
    pub context: ContextParams,
    pub custom: Vec<CustomSpec>,
    pub allow: AllowSpec,
    /// Two-digit current year, for passport series.
    pub year2: u8,
}

impl Default for EngineSpec {
    fn default() -> Self {
        EngineSpec {
            builtins: Default::default(),
            noise_keywords: Vec::new(),
            context: ContextParams::default(),
            custom: Vec::new(),
            allow: AllowSpec::default(),
            year2: current_year2(),
        }
    }
}

/// The current year's last two digits, from the system clock.
pub fn current_year2() -> u8 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days to civil year (Howard Hinnant's algorithm, years only).
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400 + i64::from(mp >= 10);
    (year.rem_euclid(100)) as u8
}

/// Where in a spec a build error is: a dotted path such as
/// `custom[1].regex` or `detectors.phone.allow.patterns[0]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> BuildError {
    BuildError {
        path: path.into(),
        message: message.into(),
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct AllowList {
    /// Looked up for every phone and e-mail found: a fast hash, seeded per
    /// process (the set is fixed, so lookups cannot be made to collide).
    values: HashSet<String, foldhash::fast::RandomState>,
    patterns: Option<RegexSet>,
}

impl AllowList {
    fn build(
        spec: &AllowSpec,
        path: &str,
        norm: impl Fn(&str) -> String,
    ) -> Result<AllowList, BuildError> {
        let values = spec.values.iter().map(|v| norm(v)).collect();
        let anchored: Vec<String> = spec.patterns.iter().map(|p| format!("^(?:{p})$")).collect();
        for (i, p) in anchored.iter().enumerate() {
            regex::Regex::new(p).map_err(|e| {
                err(
                    format!("{path}.patterns[{i}]"),
                    format!("invalid regex: {e}"),
                )
            })?;
        }
        let patterns = if anchored.is_empty() {
            None
        } else {
            Some(
                RegexSet::new(&anchored)
                    .map_err(|e| err(format!("{path}.patterns"), e.to_string()))?,
            )
        };
        Ok(AllowList { values, patterns })
    }

    /// Most lists are empty: that case costs no call.
    #[inline]
    pub(crate) fn allows(&self, value: &str) -> bool {
        (!self.values.is_empty() || self.patterns.is_some()) && self.allows_listed(value)
    }

    #[inline(never)]
    fn allows_listed(&self, value: &str) -> bool {
        (!self.values.is_empty() && self.values.contains(value))
            || self.patterns.as_ref().is_some_and(|p| p.is_match(value))
    }
}

/// Normalises a value the way a detector reports it, so that allow-list
/// entries can be written as people write them (`+7(812)923-52-23`).
pub fn normalize_value(category: &Category, raw: &str) -> String {
    match category {
        Category::Builtin(Builtin::Email) => raw.trim().to_lowercase(),
        Category::Builtin(Builtin::Phone) => {
            let d: String = raw.chars().filter(char::is_ascii_digit).collect();
            match d.len() {
                11 if d.starts_with('8') || d.starts_with('7') => format!("7{}", &d[1..]),
                10 => format!("7{d}"),
                _ => d,
            }
        }
        Category::Custom(_) => raw.trim().to_lowercase(),
        _ => raw.chars().filter(char::is_ascii_digit).collect(),
    }
}

#[derive(Clone, Debug)]
pub(crate) struct BuiltinCfg {
    pub enabled: bool,
    pub min_confidence: f32,
    pub allow: AllowList,
    pub id: DetectorId,
}

/// The compiled detection engine. Cheap to share (`Arc<Engine>`); scanning
/// takes `&self`.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) builtins: Vec<BuiltinCfg>,
    pub(crate) confidence: [f32; Format::ALL.len()],
    pub(crate) keywords: KeywordIndex,
    /// Raw test for the keywords of dates and diagnoses.
    pub(crate) short_gate: RawGate,
    pub(crate) context: ContextParams,
    pub(crate) custom: Vec<Custom>,
    pub(crate) allow: AllowList,
    pub(crate) year2: u8,
    /// How scans find their trigger bytes.
    pub(crate) kernel: Kernel,
}

fn check_confidence(path: &str, v: f32) -> Result<f32, BuildError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(err(
            path,
            format!("confidence must be between 0 and 1, not {v}"),
        ))
    }
}

impl Engine {
    /// Compiles a spec. Errors name the part of the spec at fault.
    pub fn new(spec: &EngineSpec) -> Result<Engine, BuildError> {
        let mut confidence = [0f32; Format::ALL.len()];
        for f in Format::ALL {
            confidence[f.index()] = f.default_confidence();
        }
        let mut kw: Vec<(String, Cue)> = Vec::new();
        let mut builtins = Vec::new();
        for b in Builtin::ALL {
            let s = &spec.builtins[b.index()];
            let path = format!("detectors.{}", b.name());
            for (f, c) in &s.formats {
                if f.builtin() != b {
                    return Err(err(format!("{path}.formats"), "format of another detector"));
                }
                confidence[f.index()] =
                    check_confidence(&format!("{path}.formats.{}", f.name()), *c)?;
            }
            let cat = b.category();
            builtins.push(BuiltinCfg {
                enabled: s.enabled,
                min_confidence: check_confidence(
                    &format!("{path}.min_confidence"),
                    s.min_confidence,
                )?,
                allow: AllowList::build(&s.allow, &format!("{path}.allow"), |v| {
                    normalize_value(&cat, v)
                })?,
                id: DetectorId::Builtin(b),
            });
            kw.extend(s.keywords.iter().map(|k| (k.clone(), Cue::Builtin(b))));
        }
        kw.extend(spec.noise_keywords.iter().map(|k| (k.clone(), Cue::Noise)));
        let mut custom = Vec::new();
        let mut ids = HashSet::new();
        for (i, c) in spec.custom.iter().enumerate() {
            let path = format!("custom[{i}]");
            if c.id.trim().is_empty() {
                return Err(err(format!("{path}.id"), "empty id"));
            }
            if Builtin::from_name(&c.id).is_some() || !ids.insert(c.id.clone()) {
                return Err(err(
                    format!("{path}.id"),
                    format!("duplicate detector id {:?}", c.id),
                ));
            }
            let category = Category::from_name(&c.category);
            let (matcher, max_len) = match &c.pattern {
                PatternSpec::Regex(p) => {
                    let (re, max) =
                        custom::compile_regex(p).map_err(|m| err(format!("{path}.regex"), m))?;
                    (Matcher::Regex(re), max)
                }
                PatternSpec::Dictionary(terms) => {
                    let (ac, max) = custom::compile_terms(terms)
                        .map_err(|m| err(format!("{path}.dictionary"), m))?;
                    (Matcher::Dictionary(ac), max)
                }
            };
            let anchors = if c.require_keyword {
                if c.keywords.is_empty() {
                    return Err(err(
                        format!("{path}.require_keyword"),
                        "require_keyword needs at least one keyword",
                    ));
                }
                Some(
                    custom::compile_terms(&c.keywords)
                        .map_err(|m| err(format!("{path}.keywords"), m))?,
                )
            } else {
                None
            };
            kw.extend(c.keywords.iter().map(|k| (k.clone(), Cue::Custom(i))));
            let cat = category.clone();
            custom.push(Custom {
                id: DetectorId::Custom(Arc::from(c.id.as_str())),
                category,
                matcher,
                max_len,
                validator: c.validator,
                confidence: check_confidence(&format!("{path}.confidence"), c.confidence)?,
                min_confidence: check_confidence(
                    &format!("{path}.min_confidence"),
                    c.min_confidence,
                )?,
                anchors,
                window: c.window.min(4096),
                allow_list: AllowList::build(&c.allow, &format!("{path}.allow"), |v| {
                    normalize_value(&cat, v)
                })?,
            });
        }
        let keywords = KeywordIndex::new(&kw).map_err(|m| err("keywords", m))?;
        let short_gate = RawGate::new(
            [Builtin::BirthDate, Builtin::Diagnosis]
                .iter()
                .flat_map(|b| spec.builtins[b.index()].keywords.iter()),
        )
        .map_err(|m| err("keywords", m))?;
        let allow = AllowList::build(&spec.allow, "allow", |v| v.trim().to_lowercase())?;
        Ok(Engine {
            builtins,
            confidence,
            keywords,
            short_gate,
            context: spec.context.clone(),
            custom,
            allow,
            year2: spec.year2,
            kernel: Kernel::detect(),
        })
    }

    /// The same engine, finding trigger bytes with `kernel` instead of the
    /// fastest this CPU runs. Findings are the same with every kernel; tests
    /// hold a kernel that leaves out short digit runs to one that keeps
    /// every trigger ([`Kernel::exhaustive`]), and benchmarks compare them.
    pub fn with_kernel(self, kernel: Kernel) -> Engine {
        Engine { kernel, ..self }
    }

    /// Confidence of a reading after context.
    pub(crate) fn score(&self, format: Format, cue: Option<Hit>) -> f32 {
        let base = self.confidence[format.index()];
        let own = format.builtin();
        let adj = match cue.map(|h| h.cue) {
            None | Some(Cue::Custom(_)) => 0.0,
            Some(Cue::Noise) => -self.context.noise_penalty,
            Some(Cue::Builtin(b)) if related(b, own) => self.context.keyword_boost,
            Some(Cue::Builtin(_)) => -self.context.other_penalty,
        };
        (base + adj).clamp(0.0, 1.0)
    }

    /// Whether a value is allow-listed for a built-in detector.
    pub(crate) fn allowed(&self, b: Builtin, value: &str) -> bool {
        self.builtins[b.index()].allow.allows(value) || self.allow.allows(value)
    }
}

/// Keywords of INN speak for both kinds of INN.
fn related(a: Builtin, b: Builtin) -> bool {
    a == b
        || matches!(
            (a, b),
            (Builtin::Inn, Builtin::InnLegal) | (Builtin::InnLegal, Builtin::Inn)
        )
}
