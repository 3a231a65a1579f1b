//! Detectors that rule files add: a regular expression (optionally with a
//! built-in validator), or a dictionary of terms.
//!
//! Regexes use the `regex` crate, which runs in linear time, so no rule can
//! cause catastrophic backtracking; their compiled size is bounded, and so
//! is the length of what they can match, which is what lets them stream: a
//! match is only accepted once enough bytes follow it that no longer match
//! could exist. Dictionaries use Aho-Corasick, leftmost-longest, matched as
//! whole words, case-insensitively (Cyrillic included).
//!
//! A detector with `require_keyword` runs only in a window after one of its
//! keywords, which keeps context-bound detectors (ICD-10 codes after
//! «диагноз») off the hot path.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use regex::bytes::Regex;

use super::category::{Category, DetectorId};
use super::checksum;
use super::engine::AllowList;

/// Longest match a custom regex may have, in bytes.
pub const MAX_MATCH: usize = 1024;
/// Compiled size limit of one regex.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    Luhn,
    Snils,
    Inn,
    InnLegal,
    Ogrn,
}

impl Validator {
    pub const NAMES: [&'static str; 5] = ["luhn", "snils", "inn", "inn_legal", "ogrn"];

    pub fn from_name(s: &str) -> Option<Validator> {
        Some(match s {
            "luhn" => Validator::Luhn,
            "snils" => Validator::Snils,
            "inn" => Validator::Inn,
            "inn_legal" => Validator::InnLegal,
            "ogrn" => Validator::Ogrn,
            _ => return None,
        })
    }

    pub fn check(self, digits: &[u8]) -> bool {
        match self {
            Validator::Luhn => checksum::luhn(digits),
            Validator::Snils => checksum::snils(digits),
            Validator::Inn => checksum::inn12(digits),
            Validator::InnLegal => checksum::inn10(digits),
            Validator::Ogrn => checksum::ogrn(digits),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Matcher {
    Regex(Regex),
    Dictionary(AhoCorasick),
}

/// A compiled custom detector.
#[derive(Clone, Debug)]
pub struct Custom {
    pub id: DetectorId,
    pub category: Category,
    pub matcher: Matcher,
    /// Longest possible match in bytes.
    pub max_len: usize,
    pub validator: Option<Validator>,
    pub confidence: f32,
    pub min_confidence: f32,
    /// Keywords that anchor this detector when `require_keyword` is set.
    pub anchors: Option<(AhoCorasick, usize)>,
    pub window: usize,
    pub allow_list: AllowList,
}

/// Compiles a regex for a custom detector, enforcing the bounds.
pub fn compile_regex(pattern: &str) -> Result<(Regex, usize), String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| format!("invalid regex: {}", first_line(&e.to_string())))?;
    let props = hir.properties();
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("regex can match empty text".into());
    }
    let max = match props.maximum_len() {
        Some(m) if m <= MAX_MATCH => m,
        _ => {
            return Err(format!(
                "regex can match more than {MAX_MATCH} bytes; bound every repetition (use {{m,n}}, not + or *)"
            ));
        }
    };
    let re = regex::bytes::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| format!("invalid regex: {}", first_line(&e.to_string())))?;
    Ok((re, max))
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// Case variants of a term: as written, lower, upper and capitalised, so
/// that Cyrillic terms match regardless of case (ASCII is handled by the
/// automaton itself).
pub fn case_variants(term: &str) -> Vec<String> {
    let lower = term.to_lowercase();
    let upper = term.to_uppercase();
    let mut cap = String::new();
    let mut chars = lower.chars();
    if let Some(c) = chars.next() {
        cap.extend(c.to_uppercase());
        cap.push_str(chars.as_str());
    }
    // ASCII words also get every first-letter case, since the automaton
    // matches bytes exactly (which keeps its SIMD prefilter).
    let mut v = vec![term.to_string(), lower, upper, cap];
    v.sort();
    v.dedup();
    v
}

/// Builds a case-insensitive, leftmost-longest automaton over terms.
pub fn compile_terms(terms: &[String]) -> Result<(AhoCorasick, usize), String> {
    let mut pats = Vec::new();
    for t in terms {
        let t = t.trim();
        if t.is_empty() {
            return Err("empty term".into());
        }
        pats.extend(case_variants(t));
    }
    if pats.is_empty() {
        return Err("no terms".into());
    }
    let max = pats.iter().map(String::len).max().unwrap_or(1);
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&pats)
        .map_err(|e| format!("cannot compile terms: {e}"))?;
    Ok((ac, max))
}

/// A raw match of a custom detector, before validation and context.
pub struct RawMatch {
    pub start: usize,
    pub end: usize,
}

/// Streaming state of one custom detector.
#[derive(Clone, Debug, Default)]
pub struct CustomState {
    /// Absolute offset from which the next search starts.
    pub cursor: u64,
    /// Absolute end of the last accepted match (anchored windows overlap).
    pub last_end: u64,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn char_before(buf: &[u8], i: usize) -> Option<char> {
    let from = i.saturating_sub(4);
    (from..i)
        .find_map(|s| std::str::from_utf8(&buf[s..i]).ok())
        .and_then(|s| s.chars().next_back())
}

fn char_at(buf: &[u8], i: usize) -> Option<char> {
    let to = (i + 4).min(buf.len());
    (i + 1..=to)
        .find_map(|e| std::str::from_utf8(&buf[i..e]).ok())
        .and_then(|s| s.chars().next())
}

impl Custom {
    /// Runs over `buf` (absolute offset `base`) from the state's cursor,
    /// calling `emit` for each raw match that is final. Returns when more
    /// bytes are needed or the buffer is exhausted.
    pub fn run(
        &self,
        state: &mut CustomState,
        buf: &[u8],
        base: u64,
        eof: bool,
        emit: &mut impl FnMut(RawMatch),
    ) {
        let len = buf.len();
        let mut at = (state.cursor.saturating_sub(base) as usize).min(len);
        // A match is final once this many bytes follow its start.
        let need = self.max_len + 4;
        if let Some((anchors, anchor_max)) = &self.anchors {
            loop {
                let Some(h) = anchors.find(Input::new(buf).range(at..)) else {
                    at = if eof {
                        len
                    } else {
                        at.max(len.saturating_sub(anchor_max.saturating_sub(1)))
                    };
                    break;
                };
                if char_before(buf, h.start()).is_some_and(is_word_char) {
                    at = h.start() + 1;
                    continue;
                }
                let win_end = h.end() + self.window + need;
                if win_end > len && !eof {
                    at = h.start();
                    break;
                }
                let hay = &buf[..win_end.min(len)];
                let limit = (h.end() + self.window).min(hay.len());
                let mut from = h.end();
                while from <= limit {
                    let Some(m) = self.find(hay, from) else { break };
                    if m.start > limit {
                        break;
                    }
                    if base + m.start as u64 >= state.last_end {
                        state.last_end = base + m.end as u64;
                        emit(RawMatch {
                            start: m.start,
                            end: m.end,
                        });
                    }
                    from = m.end.max(m.start + 1);
                }
                at = h.end();
            }
        } else {
            loop {
                let Some(m) = self.find(buf, at) else {
                    at = if eof {
                        len
                    } else {
                        at.max(len.saturating_sub(need))
                    };
                    break;
                };
                if !eof && m.start + need > len {
                    at = at.max(m.start.min(len.saturating_sub(need)));
                    break;
                }
                emit(RawMatch {
                    start: m.start,
                    end: m.end,
                });
                at = m.end.max(m.start + 1).min(len);
            }
        }
        state.cursor = base + at as u64;
    }

    /// The leftmost match at or after `from`.
    fn find(&self, hay: &[u8], from: usize) -> Option<RawMatch> {
        match &self.matcher {
            Matcher::Regex(re) => re.find_at(hay, from).map(|m| RawMatch {
                start: m.start(),
                end: m.end(),
            }),
            Matcher::Dictionary(ac) => {
                let mut at = from;
                while let Some(m) = ac.find(Input::new(hay).range(at..)) {
                    let whole = !char_before(hay, m.start()).is_some_and(is_word_char)
                        && !char_at(hay, m.end()).is_some_and(is_word_char);
                    if whole {
                        return Some(RawMatch {
                            start: m.start(),
                            end: m.end(),
                        });
                    }
                    at = m.start() + 1;
                }
                None
            }
        }
    }

    /// Validates a raw match and returns its normalised value.
    pub fn value(&self, text: &[u8]) -> Option<compact_str::CompactString> {
        match self.validator {
            Some(v) => {
                let digits: Vec<u8> = text
                    .iter()
                    .filter(|b| b.is_ascii_digit())
                    .map(|b| b - b'0')
                    .collect();
                v.check(&digits)
                    .then(|| digits.iter().map(|&d| char::from(b'0' + d)).collect())
            }
            None => Some(String::from_utf8_lossy(text).trim().to_lowercase().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_bounds() {
        assert!(compile_regex(r"\d{3}-\d{3}").is_ok());
        assert!(compile_regex(r"\d+").unwrap_err().contains("bound"));
        assert!(compile_regex(r"a?").unwrap_err().contains("empty"));
        assert!(
            compile_regex(r"(")
                .unwrap_err()
                .starts_with("invalid regex")
        );
    }

    #[test]
    fn variants_cover_cyrillic_case() {
        let v = case_variants("Меланома");
        assert!(v.contains(&"меланома".to_string()));
        assert!(v.contains(&"МЕЛАНОМА".to_string()));
        let (ac, _) = compile_terms(&["icd".to_string()]).unwrap();
        assert!(ac.is_match("ICD-10") && ac.is_match("Icd") && ac.is_match("icd"));
    }
}
