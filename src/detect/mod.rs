//! The detection engine: bytes in, findings out. No I/O, no async, no
//! knowledge of HTTP; everything else in Zaslon builds on it.
//!
//! ```
//! use zaslon::rules;
//!
//! let engine = rules::default_engine().unwrap();
//! let page = "СНИЛС пациента: 112-233-445 95".as_bytes();
//! let found = engine.scan(page);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].category.as_str(), "snils");
//! assert_eq!(&page[found[0].start as usize..found[0].end as usize], b"112-233-445 95");
//! ```
//!
//! Streaming gives the same answer for any split of the input:
//!
//! ```
//! # let engine = zaslon::rules::default_engine().unwrap();
//! let mut scanner = engine.scanner();
//! let mut found = Vec::new();
//! scanner.feed("СНИЛС 112-233-4".as_bytes(), &mut found);
//! scanner.feed("45 95".as_bytes(), &mut found);
//! scanner.finish(&mut found);
//! assert_eq!(found.len(), 1);
//! ```
//!
//! Layout:
//! - [`decode`]: the decoding layers with exact raw offsets;
//! - [`checksum`]: check-digit algorithms;
//! - `numbers`, `email`: the built-in detectors;
//! - `context`, `table`: keywords and table columns around a candidate;
//! - `custom`: regex and dictionary detectors from rule files;
//! - [`engine`]: the compiled engine and its specification;
//! - `scanner`: whole-input and streaming scans;
//! - [`simd`]: the trigger bytes the scan stops at, with AVX-512 where the
//!   CPU has it (the crate's only `unsafe`).

pub mod category;
pub mod checksum;
mod context;
mod custom;
pub mod decode;
mod email;
pub mod engine;
mod numbers;
mod scanner;
#[allow(unsafe_code)]
pub mod simd;
mod table;

use compact_str::CompactString;
use std::fmt;

pub use category::{Builtin, Category, DetectorId, Format};
pub use custom::Validator;
pub use engine::{
    AllowSpec, BuildError, BuiltinSpec, ContextParams, CustomSpec, Engine, EngineSpec, PatternSpec,
    normalize_value,
};
pub use scanner::Scanner;

/// Test inputs: texts made of up to `parts` pieces from `pieces`, for
/// property tests that hold a fast path to the general one.
#[cfg(test)]
fn texts_of(
    pieces: Vec<&'static str>,
    parts: std::ops::Range<usize>,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(proptest::sample::select(pieces), parts).prop_map(|v| v.concat())
}

/// One piece of personal data found in the input.
///
/// `Debug` never prints the value: findings end up in logs.
#[derive(Clone, PartialEq)]
pub struct Finding {
    /// Byte offset of the first raw byte, from the start of the input.
    pub start: u64,
    /// Byte offset one past the last raw byte.
    pub end: u64,
    pub category: Category,
    /// The id of the detector (rule) that found it.
    pub detector: DetectorId,
    /// The format, for built-in detectors.
    pub format: Option<Format>,
    pub confidence: f32,
    /// The normalised value (digits; phones as `7` + ten digits; e-mails in
    /// lower case). Personal data: use it for fingerprints and allow-lists,
    /// never print it.
    pub value: CompactString,
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("category", &self.category)
            .field("detector", &self.detector)
            .field("confidence", &self.confidence)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl Finding {
    /// A masked preview of the raw text, safe to log: digits but the last
    /// four become `*`; an e-mail keeps its first character and its domain.
    pub fn preview(&self, raw: &[u8]) -> String {
        let text = String::from_utf8_lossy(raw);
        preview(&self.category, &text)
    }
}

/// Masks a raw identifier for display. See [`Finding::preview`].
pub fn preview(category: &Category, text: &str) -> String {
    if let Category::Builtin(Builtin::Email) = category {
        let decoded = decoded_text(text);
        if let Some((local, domain)) = decoded.split_once('@') {
            let first: String = local.chars().take(1).collect();
            return format!("{first}***@{domain}");
        }
        return "***".into();
    }
    let decoded = decoded_text(text);
    let text = decoded.as_str();
    let total = text.chars().filter(char::is_ascii_digit).count();
    let keep = if total >= 8 { 4 } else { 0 };
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > total - keep { c } else { '*' }
            } else if c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Overwrites the raw bytes of a finding in place, keeping their length,
/// so that a `Content-Length` stays valid and the page keeps its layout.
///
/// Every logical character that is a letter or a digit becomes `*`, one
/// per raw byte (so `&#52;` becomes `*****` and `%D0%98` six stars: no
/// escape is left that decodes to a digit). Separators stay. The last
/// `keep_last` digits stay as they are. For e-mail addresses the domain
/// stays and the local part is starred.
pub fn mask_in_place(category: &Category, raw: &mut [u8], keep_last: usize) {
    let mut units = Vec::new();
    decode::decode_range(raw, 0, raw.len(), &mut units);
    let digits = units.iter().filter(|u| u.ch.is_ascii_digit()).count();
    let keep_from = digits.saturating_sub(keep_last);
    let email = matches!(category, Category::Builtin(Builtin::Email));
    let mut seen = 0;
    let mut in_domain = false;
    let mut cursor = 0;
    for u in &units {
        // Bytes the decoder skipped (invisible characters) are starred too.
        raw[cursor..u.start].fill(b'*');
        cursor = u.end;
        if email && u.ch == '@' {
            in_domain = true;
            continue;
        }
        if in_domain || !u.ch.is_alphanumeric() {
            continue;
        }
        if u.ch.is_ascii_digit() {
            seen += 1;
            if seen > keep_from {
                continue;
            }
        }
        raw[u.start..u.end].fill(b'*');
    }
    raw[cursor..].fill(b'*');
}

/// Writes `token` over `raw`, padded with `*` or cut (at a character
/// boundary) to the same length.
pub fn overwrite(raw: &mut [u8], token: &str) {
    let mut n = token.len().min(raw.len());
    while !token.is_char_boundary(n) {
        n -= 1;
    }
    raw[..n].copy_from_slice(&token.as_bytes()[..n]);
    raw[n..].fill(b'*');
}

/// The text after the decoding layers.
pub fn decoded_text(text: &str) -> String {
    let mut units = Vec::new();
    decode::decode_range(text.as_bytes(), 0, text.len(), &mut units);
    units.iter().map(|u| u.ch).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_length_and_separators() {
        let cases: &[(&str, Builtin, usize, &str)] = &[
            ("112-233-445 95", Builtin::Snils, 0, "***-***-*** **"),
            ("112-233-445 95", Builtin::Snils, 4, "***-***-*45 95"),
            (
                "%2B7%28912%29123-45-67",
                Builtin::Phone,
                2,
                "%2B*%28***%29***-**-67",
            ),
            ("&#52;&#53;00", Builtin::Card, 0, "************"),
            (
                "ivan.petrov@mail.ru",
                Builtin::Email,
                0,
                "****.******@mail.ru",
            ),
            ("ivan%40mail.ru", Builtin::Email, 0, "****%40mail.ru"),
            (r"1\u200b2", Builtin::Inn, 0, "********"),
        ];
        for (raw, b, keep, want) in cases {
            let mut v = raw.as_bytes().to_vec();
            mask_in_place(&b.category(), &mut v, *keep);
            assert_eq!(String::from_utf8_lossy(&v), *want, "{raw}");
            assert_eq!(v.len(), raw.len());
        }
    }

    #[test]
    fn overwrite_pads_and_cuts() {
        let mut v = b"1234567890".to_vec();
        overwrite(&mut v, "[снилс]");
        assert_eq!(v.len(), 10);
        assert_eq!(String::from_utf8_lossy(&v), "[снил*");
        let mut v = b"12345678901234".to_vec();
        overwrite(&mut v, "#ab");
        assert_eq!(&v, b"#ab***********");
    }

    #[test]
    fn preview_masks() {
        assert_eq!(
            preview(&Category::Builtin(Builtin::Snils), "112-233-445 95"),
            "***-***-*45 95"
        );
        assert_eq!(
            preview(&Category::Builtin(Builtin::Email), "ivan@mail.ru"),
            "i***@mail.ru"
        );
        assert_eq!(
            preview(&Category::Builtin(Builtin::Email), "ivan%40mail.ru"),
            "i***@mail.ru"
        );
        assert_eq!(
            preview(&Category::Builtin(Builtin::Passport), "серия 4508 № 123456"),
            "***** **** № **3456"
        );
    }

    #[test]
    fn debug_redacts_value() {
        let f = Finding {
            start: 0,
            end: 1,
            category: Category::Builtin(Builtin::Snils),
            detector: DetectorId::Builtin(Builtin::Snils),
            format: None,
            confidence: 1.0,
            value: "11223344595".into(),
        };
        assert!(!format!("{f:?}").contains("11223344595"));
    }
}
