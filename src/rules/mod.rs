//! Rule files: the YAML that tunes the detection engine.
//!
//! Two stages, as in the rest of Zaslon: the YAML is parsed into raw
//! structs that reject unknown keys, then validated and compiled into an
//! [`Engine`]. Every error names its file, line and column. Parsing works
//! on `&str`, so tests need no files; [`load_paths`] is the only function
//! that reads the disk.
//!
//! The default Russian rule set lives in `rules/` in the repository and is
//! built into the binary ([`DEFAULT_RULES`]), so Zaslon runs with no files.
//!
//! Several files merge in order: later files override a detector's settings
//! field by field (`keywords` and `formats` replace), while allow-lists,
//! noise keywords, custom detectors and examples accumulate.

mod raw;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

use crate::detect::{AllowSpec, CustomSpec, Engine, EngineSpec, Format, PatternSpec, Validator};

pub use raw::RawRules;

/// The built-in rule files: `(name, text)`.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    (
        "rules/ru-default.yaml",
        include_str!("../../rules/ru-default.yaml"),
    ),
    (
        "rules/caop1-contacts.yaml",
        include_str!("../../rules/caop1-contacts.yaml"),
    ),
];

/// A rule-file error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for RuleError {}

/// Several errors, one per line when displayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

/// A parsed rule file, with its name.
#[derive(Debug)]
pub struct RuleFile {
    pub name: String,
    pub raw: RawRules,
}

/// Where a part of the merged spec came from, for error messages.
#[derive(Default)]
struct Origins {
    entries: Vec<(String, String, Location)>,
}

impl Origins {
    fn add(&mut self, path: impl Into<String>, file: &str, loc: Location) {
        self.entries.push((path.into(), file.to_string(), loc));
    }

    /// The most specific recorded origin of a spec path.
    fn find(&self, path: &str) -> Option<(&str, Location)> {
        let mut p = path;
        loop {
            if let Some((_, f, l)) = self.entries.iter().rev().find(|(k, _, _)| k == p) {
                return Some((f, *l));
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

/// An error at a position of a file.
pub fn error_at(file: &str, loc: Location, message: impl Into<String>) -> RuleError {
    RuleError {
        file: file.to_string(),
        line: loc.line().max(1),
        column: loc.column().max(1),
        message: message.into(),
    }
}

/// Parses one rule file.
pub fn parse(name: &str, text: &str) -> Result<RuleFile, RuleError> {
    from_yaml::<RawRules>(name, text).map(|raw| RuleFile {
        name: name.to_string(),
        raw,
    })
}

/// Deserialises any YAML document, turning a parse error into a
/// `file:line:column: message` error. Shared by rule, policy and config
/// files.
pub fn from_yaml<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T, RuleError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let opts = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
        let rendered = e.render_with_options(opts);
        let message = rendered
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .split(" at line ")
            .next()
            .unwrap_or("invalid YAML")
            .to_string();
        let (line, column) = e
            .location()
            .map(|l| (l.line().max(1), l.column().max(1)))
            .unwrap_or((1, 1));
        RuleError {
            file: name.to_string(),
            line,
            column,
            message,
        }
    })
}

/// Merges parsed files into one spec, checking every value.
pub fn to_spec(files: &[RuleFile]) -> Result<EngineSpec, RuleErrors> {
    let (spec, _) = merge(files)?;
    Ok(spec)
}

fn merge(files: &[RuleFile]) -> Result<(EngineSpec, Origins), RuleErrors> {
    let mut spec = EngineSpec::default();
    let mut origins = Origins::default();
    let mut errors = Vec::new();
    for f in files {
        merge_one(&mut spec, &mut origins, f, &mut errors);
    }
    if errors.is_empty() {
        Ok((spec, origins))
    } else {
        Err(RuleErrors(errors))
    }
}

fn conf(file: &str, v: &serde_saphyr::Spanned<f32>, errors: &mut Vec<RuleError>) -> Option<f32> {
    if (0.0..=1.0).contains(&v.value) {
        Some(v.value)
    } else {
        errors.push(error_at(
            file,
            v.referenced,
            format!("confidence must be between 0 and 1, not {}", v.value),
        ));
        None
    }
}

fn merge_allow(dst: &mut AllowSpec, src: &raw::RawAllow, file: &str, path: &str, o: &mut Origins) {
    for v in &src.values {
        dst.values.push(v.value.clone());
    }
    for p in &src.patterns {
        o.add(
            format!("{path}.patterns[{}]", dst.patterns.len()),
            file,
            p.referenced,
        );
        dst.patterns.push(p.value.clone());
    }
}

fn merge_one(spec: &mut EngineSpec, o: &mut Origins, f: &RuleFile, errors: &mut Vec<RuleError>) {
    let file = f.name.as_str();
    let r = &f.raw;
    if let Some(v) = &r.version
        && v.value != 1
    {
        errors.push(error_at(
            file,
            v.referenced,
            format!(
                "unsupported version {}; this Zaslon reads version 1",
                v.value
            ),
        ));
    }
    if let Some(c) = &r.context {
        if let Some(w) = &c.window {
            if w.value == 0 || w.value > 200 {
                errors.push(error_at(
                    file,
                    w.referenced,
                    "window must be between 1 and 200 characters",
                ));
            } else {
                spec.context.window = w.value;
            }
        }
        for (dst, src) in [
            (&mut spec.context.keyword_boost, &c.keyword_boost),
            (&mut spec.context.noise_penalty, &c.noise_penalty),
            (&mut spec.context.other_penalty, &c.other_penalty),
        ] {
            if let Some(v) = src.as_ref().and_then(|v| conf(file, v, errors)) {
                *dst = v;
            }
        }
    }
    spec.noise_keywords.extend(r.noise_keywords.iter().cloned());
    if let Some(a) = &r.allow {
        merge_allow(&mut spec.allow, a, file, "allow", o);
    }
    if let Some(d) = &r.detectors {
        for (b, raw) in d.entries() {
            let Some(raw) = raw else { continue };
            let path = format!("detectors.{}", b.name());
            let dst = &mut spec.builtins[b.index()];
            if let Some(e) = raw.enabled {
                dst.enabled = e;
            }
            if let Some(v) = raw
                .min_confidence
                .as_ref()
                .and_then(|v| conf(file, v, errors))
            {
                dst.min_confidence = v;
            }
            if let Some(k) = &raw.keywords {
                dst.keywords = k.clone();
            }
            if let Some(fm) = &raw.formats {
                dst.formats.clear();
                for (name, v) in fm {
                    match b.formats().find(|f| f.name() == name.as_str()) {
                        Some(format) => {
                            if let Some(c) = conf(file, v, errors) {
                                dst.formats.push((format, c));
                            }
                        }
                        None => {
                            let known: Vec<&str> = b.formats().map(Format::name).collect();
                            errors.push(error_at(
                                file,
                                v.referenced,
                                format!(
                                    "unknown format `{name}` of detector {}; expected one of {}",
                                    b.name(),
                                    known.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
            if let Some(a) = &raw.allow {
                merge_allow(&mut dst.allow, a, file, &format!("{path}.allow"), o);
            }
        }
    }
    for c in &r.custom {
        let i = spec.custom.len();
        let path = format!("custom[{i}]");
        o.add(path.clone(), file, c.id.referenced);
        o.add(format!("{path}.id"), file, c.id.referenced);
        let pattern = match (&c.regex, &c.dictionary) {
            (Some(re), None) => {
                o.add(format!("{path}.regex"), file, re.referenced);
                PatternSpec::Regex(re.value.clone())
            }
            (None, Some(d)) => {
                o.add(format!("{path}.dictionary"), file, d.referenced);
                PatternSpec::Dictionary(d.value.clone())
            }
            _ => {
                errors.push(error_at(
                    file,
                    c.id.referenced,
                    "a custom detector needs exactly one of `regex` or `dictionary`",
                ));
                continue;
            }
        };
        let validator = match &c.validator {
            None => None,
            Some(v) => match Validator::from_name(&v.value) {
                Some(x) => Some(x),
                None => {
                    errors.push(error_at(
                        file,
                        v.referenced,
                        format!(
                            "unknown validator `{}`; expected one of {}",
                            v.value,
                            Validator::NAMES.join(", ")
                        ),
                    ));
                    continue;
                }
            },
        };
        if c.category.value.trim().is_empty()
            || !c
                .category
                .value
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            errors.push(error_at(
                file,
                c.category.referenced,
                "category must be lower-case letters, digits and `_`",
            ));
            continue;
        }
        if let Some(k) = &c.keywords {
            o.add(format!("{path}.keywords"), file, k.referenced);
        }
        if let Some(rk) = &c.require_keyword {
            o.add(format!("{path}.require_keyword"), file, rk.referenced);
        }
        let confidence = c
            .confidence
            .as_ref()
            .and_then(|v| conf(file, v, errors))
            .unwrap_or(0.8);
        let min_confidence = c
            .min_confidence
            .as_ref()
            .and_then(|v| conf(file, v, errors))
            .unwrap_or(0.5);
        let mut allow = AllowSpec::default();
        if let Some(a) = &c.allow {
            merge_allow(&mut allow, a, file, &format!("{path}.allow"), o);
        }
        spec.custom.push(CustomSpec {
            id: c.id.value.clone(),
            category: c.category.value.clone(),
            pattern,
            validator,
            confidence,
            min_confidence,
            keywords: c
                .keywords
                .as_ref()
                .map(|k| k.value.clone())
                .unwrap_or_default(),
            require_keyword: c.require_keyword.as_ref().is_some_and(|v| v.value),
            window: c.window.unwrap_or(64),
            allow,
        });
    }
}

/// Parses, merges and compiles rule files into an engine.
pub fn compile(files: &[RuleFile]) -> Result<Engine, RuleErrors> {
    let (spec, origins) = merge(files)?;
    Engine::new(&spec).map_err(|e| {
        let (file, loc) = origins
            .find(&e.path)
            .map(|(f, l)| (f.to_string(), l))
            .unwrap_or_else(|| {
                (
                    files.last().map(|f| f.name.clone()).unwrap_or_default(),
                    Location::UNKNOWN,
                )
            });
        RuleErrors(vec![error_at(&file, loc, e.message)])
    })
}

/// Parses and compiles `(name, text)` pairs.
pub fn compile_texts(texts: &[(&str, &str)]) -> Result<Engine, RuleErrors> {
    let files = parse_texts(texts)?;
    compile(&files)
}

fn parse_texts(texts: &[(&str, &str)]) -> Result<Vec<RuleFile>, RuleErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in texts {
        match parse(name, text) {
            Ok(f) => files.push(f),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleErrors(errors))
    }
}

/// The engine of the built-in rule set.
pub fn default_engine() -> Result<Engine, RuleErrors> {
    compile_texts(DEFAULT_RULES)
}

/// The built-in rule files, parsed.
pub fn default_files() -> Result<Vec<RuleFile>, RuleErrors> {
    parse_texts(DEFAULT_RULES)
}

/// Expands paths: a directory stands for its `*.yaml` and `*.yml` files
/// (recursively, sorted by name).
pub fn expand_paths(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_yaml(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect_yaml(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && !p.to_string_lossy().ends_with(".policies.yaml")
        {
            // Policy files (`*.policies.yaml`) may sit beside rule files.
            out.push(p);
        }
    }
    Ok(())
}

/// Reads and parses rule files and directories. Unreadable files and
/// syntax errors are all reported, each with its position.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<RuleFile>, RuleErrors> {
    // Errors about the paths as a whole point at the first one given.
    let whole = |message: String| {
        RuleErrors(vec![RuleError {
            file: paths
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            line: 1,
            column: 1,
            message,
        }])
    };
    let expanded =
        expand_paths(paths).map_err(|e| whole(format!("cannot list rule files: {e}")))?;
    if expanded.is_empty() {
        return Err(whole("no rule files (*.yaml, *.yml) found".into()));
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in expanded {
        let name = p.display().to_string();
        match std::fs::read_to_string(&p) {
            Ok(text) => match parse(&name, &text) {
                Ok(f) => files.push(f),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(RuleError {
                file: name,
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleErrors(errors))
    }
}

/// An example that did not behave as its rule file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure(pub RuleError);

/// Runs the examples of every file against the engine built from all of
/// them. Returns the number of examples run and the failures.
pub fn run_examples(files: &[RuleFile], engine: &Engine) -> (usize, Vec<ExampleFailure>) {
    let mut n = 0;
    let mut failures = Vec::new();
    for f in files {
        for ex in &f.raw.examples {
            n += 1;
            let found = engine.scan(ex.text.value.as_bytes());
            let cats: Vec<&str> = found.iter().map(|x| x.category.as_str()).collect();
            let mut fail = |msg: String| {
                failures.push(ExampleFailure(error_at(&f.name, ex.text.referenced, msg)));
            };
            if let Some(want) = &ex.expect {
                for c in want.iter() {
                    if !cats.contains(&c.as_str()) {
                        fail(format!(
                            "example should contain {c}, found {}",
                            describe(&cats)
                        ));
                    }
                }
            }
            if let Some(not) = &ex.expect_none {
                for c in not.iter() {
                    let bad = if c == "any" {
                        !cats.is_empty()
                    } else {
                        cats.contains(&c.as_str())
                    };
                    if bad {
                        fail(format!(
                            "example should not contain {c}, found {}",
                            describe(&cats)
                        ));
                    }
                }
            }
        }
    }
    (n, failures)
}

fn describe(cats: &[&str]) -> String {
    if cats.is_empty() {
        "nothing".into()
    } else {
        cats.join(", ")
    }
}

#[cfg(test)]
mod tests;
