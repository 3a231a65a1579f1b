//! Keyword context: what the text just before a candidate says it is.
//!
//! A bare 11-digit number is a SNILS only after «СНИЛС»; a 16-digit number
//! after `"paymentId":` is not a card. The text before a candidate is
//! decoded through the same layers as the candidate (so `\u0418\u041d\u041d`
//! and `%D0%98%D0%9D%D0%9D` both read «ИНН»), lower-cased, and searched for
//! keywords. The nearest keyword wins. Context is only computed for
//! candidates that already passed their shape and checksum, so it costs
//! nothing on clean text.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::category::Builtin;
use super::decode::{Unit, decode_range};
use super::simd::PairTables;

/// What a keyword says about the text that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cue {
    /// A keyword of a built-in detector («СНИЛС», `phone`).
    Builtin(Builtin),
    /// A keyword of a custom detector.
    Custom(usize),
    /// A keyword that announces something else: an order number, an
    /// invoice, a payment id, a company's OGRN.
    Noise,
}

/// The nearest keyword before a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub cue: Cue,
    /// Characters between the end of the keyword and the candidate.
    pub distance: usize,
    /// Raw buffer offset where the keyword starts.
    pub raw_start: usize,
}

/// All keywords of all detectors, compiled into one automaton.
#[derive(Clone, Debug)]
pub struct KeywordIndex {
    ac: Option<AhoCorasick>,
    cues: Vec<Cue>,
}

/// Scratch space reused across candidates, so context costs no allocation
/// once warm.
#[derive(Default, Debug)]
pub struct Scratch {
    units: Vec<Unit>,
    lower: String,
    /// For each byte of `lower`, the index of its unit.
    owner: Vec<u32>,
}

/// How many raw bytes before a candidate are decoded for context.
pub const RAW_WINDOW: usize = 256;
/// The shorter look-back for dates and ICD-10 codes: they are common in
/// pages, and their field names stand right before them.
pub const SHORT_WINDOW: usize = 64;

impl KeywordIndex {
    /// Builds the index from `(keyword, cue)` pairs. Keywords are matched
    /// case-insensitively (including Cyrillic) at the start of a word.
    pub fn new(entries: &[(String, Cue)]) -> Result<KeywordIndex, String> {
        let mut pats = Vec::new();
        let mut cues = Vec::new();
        for (kw, cue) in entries {
            let k = kw.trim().to_lowercase();
            if k.is_empty() {
                continue;
            }
            pats.push(k);
            cues.push(*cue);
        }
        if pats.is_empty() {
            return Ok(KeywordIndex { ac: None, cues });
        }
        // Keywords are lower case; ASCII case is ignored so that plain
        // ASCII fields are searched as they stand, with no lower-cased copy.
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&pats)
            .map_err(|e| format!("cannot compile keywords: {e}"))?;
        Ok(KeywordIndex { ac: Some(ac), cues })
    }

    /// Finds the nearest keyword in the `window` characters before `pos`.
    /// Only bytes at or after `lo` are read.
    pub fn nearest(
        &self,
        buf: &[u8],
        lo: usize,
        pos: usize,
        window: usize,
        scratch: &mut Scratch,
    ) -> Option<Hit> {
        self.nearest_within(buf, lo, pos, window, RAW_WINDOW, scratch)
    }

    /// As [`nearest`](Self::nearest), reading at most `raw_window` bytes back.
    pub fn nearest_within(
        &self,
        buf: &[u8],
        lo: usize,
        pos: usize,
        window: usize,
        raw_window: usize,
        scratch: &mut Scratch,
    ) -> Option<Hit> {
        let ac = self.ac.as_ref()?;
        let floor = pos.saturating_sub(raw_window.min(RAW_WINDOW)).max(lo);
        if let Some(from) = plain_field_start(buf, floor, pos) {
            return self.nearest_ascii(ac, &buf[from..pos], from, window);
        }
        let from = field_start(buf, floor, pos);
        let field = &buf[from..pos];
        if field.len() <= RAW_WINDOW
            && field
                .iter()
                .all(|&b| b < 0x80 && !matches!(b, b'%' | b'&' | b'\\'))
        {
            return self.nearest_ascii(ac, field, from, window);
        }
        self.nearest_decoded(ac, buf, from, pos, window, scratch)
    }

    /// The search over the decoded field `buf[from..pos]`.
    fn nearest_decoded(
        &self,
        ac: &AhoCorasick,
        buf: &[u8],
        from: usize,
        pos: usize,
        window: usize,
        scratch: &mut Scratch,
    ) -> Option<Hit> {
        scratch.units.clear();
        decode_range(buf, from, pos, &mut scratch.units);
        let skip = scratch.units.len().saturating_sub(window);
        let units = &scratch.units[skip..];
        scratch.lower.clear();
        scratch.owner.clear();
        for (i, u) in units.iter().enumerate() {
            let before = scratch.lower.len();
            match u.ch {
                c if c.is_ascii() => scratch.lower.push(c.to_ascii_lowercase()),
                c @ 'А'..='Я' => scratch
                    .lower
                    .push(char::from_u32(c as u32 + 32).unwrap_or(c)),
                'Ё' => scratch.lower.push('ё'),
                c if ('а'..='ё').contains(&c) => scratch.lower.push(c),
                c => scratch.lower.extend(c.to_lowercase()),
            }
            let n = scratch.lower.len() - before;
            scratch.owner.extend(std::iter::repeat_n(i as u32, n));
        }
        let mut best: Option<Hit> = None;
        for m in ac.find_iter(scratch.lower.as_str()) {
            let first = scratch.owner[m.start()] as usize;
            let last = scratch.owner[m.end() - 1] as usize;
            if !word_start(units, first) {
                continue;
            }
            let hit = Hit {
                cue: self.cues[m.pattern().as_usize()],
                distance: units.len() - 1 - last,
                raw_start: units[first].start,
            };
            best = Some(hit);
        }
        best
    }

    /// The same search for a field of plain ASCII with no escapes, where
    /// decoding is the identity (but for `\t\n\r`, which read as spaces):
    /// no decoding, no allocation.
    fn nearest_ascii(
        &self,
        ac: &AhoCorasick,
        field: &[u8],
        from: usize,
        window: usize,
    ) -> Option<Hit> {
        let skip = field.len().saturating_sub(window);
        let f = &field[skip..];
        let norm = |b: u8| match b {
            b'\t' | b'\n' | b'\r' => b' ',
            _ => b,
        };
        // The automaton ignores ASCII case: only `\t\n\r` need rewriting.
        let spaced: Vec<u8>;
        let hay = if f
            .iter()
            .fold(false, |a, &b| a | matches!(b, b'\t' | b'\n' | b'\r'))
        {
            spaced = f.iter().map(|&b| norm(b)).collect();
            &spaced[..]
        } else {
            f
        };
        let mut best = None;
        for m in ac.find_iter(hay) {
            let (first, last) = (m.start(), m.end() - 1);
            if first > 0 {
                let prev = norm(f[first - 1]) as char;
                let cur = f[first] as char;
                let starts = (!prev.is_ascii_alphanumeric() && prev != '@' && prev != '.')
                    || (prev.is_ascii_lowercase() && cur.is_ascii_uppercase());
                if !starts {
                    continue;
                }
            }
            best = Some(Hit {
                cue: self.cues[m.pattern().as_usize()],
                distance: f.len() - 1 - last,
                raw_start: from + skip + first,
            });
        }
        best
    }

    /// Classifies a short label (a table column header) by its keywords.
    pub fn classify(&self, text: &str) -> Option<Cue> {
        let ac = self.ac.as_ref()?;
        let lower = text.to_lowercase();
        ac.find_iter(lower.as_str())
            .last()
            .map(|m| self.cues[m.pattern().as_usize()])
    }
}

/// Where the field that holds the candidate at `pos` begins: keywords of
/// earlier fields say nothing about it. Read backwards on raw bytes from
/// `pos` down to `from`. Field boundaries are a literal `&` of a urlencoded
/// body, a comma between quoted values (`"a","b"`, `'a', 'b'`, and `%2C%22`
/// in JSON inside a form field), a `</td>` or `</dd>`, and a multipart part
/// header (`form-data;`). The result is always a character boundary, so
/// decoding from it is aligned.
fn field_start(buf: &[u8], from: usize, pos: usize) -> usize {
    let w = &buf[from..pos];
    let mut cut = 0;
    let mut end = w.len();
    while let Some(i) = memchr::memrchr3(b'&', b',', b'>', &w[..end]) {
        let is_cut = match w[i] {
            // A literal `&`, not the start of a character reference.
            b'&' => matches!(
                super::decode::unit_at(&buf[..pos], from + i, true),
                super::decode::Step::Unit(u) if u.end - u.start == 1
            ),
            b',' => {
                let prev = w[..i].iter().rev().find(|&&b| b != b' ');
                let next = w[i + 1..]
                    .iter()
                    .find(|&&b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
                prev.is_some_and(|&b| matches!(b, b'"' | b'\'') || b.is_ascii_digit())
                    && next.is_some_and(|&b| matches!(b, b'"' | b'\''))
            }
            _ => {
                let head = &w[..i];
                head.len() >= 4 && {
                    let t = &head[head.len() - 4..];
                    t.eq_ignore_ascii_case(b"</td") || t.eq_ignore_ascii_case(b"</dd")
                }
            }
        };
        if is_cut {
            cut = i + 1;
            break;
        }
        end = i;
    }
    // The JSON boundaries hold a `%22`, the part header a `;`: most fields
    // (even percent-encoded ones) have neither.
    let tail = &w[cut..];
    let json = memchr::memchr(b'%', tail).is_some() && quote_finder().find(tail).is_some();
    let part = memchr::memchr(b';', tail).is_some();
    if json || part {
        for (finder, skip) in reverse_finders() {
            if let Some(i) = finder.rfind(&w[cut..]) {
                cut = cut.max(cut + i + skip);
            }
        }
    }
    from + cut
}

/// [`field_start`] in one backward pass, for the common field of plain
/// ASCII with no escapes (`form_text_51=`): `None` as soon as the field
/// holds anything else (an escape, a non-ASCII byte, a comma, a `;`), and
/// the general path decides. Where it answers, it answers as the general
/// path does, and the field it gives needs no decoding.
fn plain_field_start(buf: &[u8], from: usize, pos: usize) -> Option<usize> {
    let mut i = pos;
    while i > from {
        // Sixteen bytes at a time: jump to the last one that needs a look.
        if i - from >= 16 {
            let mut block = [0u8; 16];
            block.copy_from_slice(&buf[i - 16..i]);
            match look_mask(block) {
                0 => {
                    i -= 16;
                    continue;
                }
                m => i = i - 16 + (15 - m.leading_zeros() as usize + 16),
            }
        } else {
            i -= 1;
        }
        match buf[i] {
            b'&' => {
                return super::decode::literal_amp(&buf[..pos], i).then_some(i + 1);
            }
            b'>' => {
                let closes_cell = i >= from + 4 && {
                    let t = &buf[i - 4..i];
                    t.eq_ignore_ascii_case(b"</td") || t.eq_ignore_ascii_case(b"</dd")
                };
                if closes_cell {
                    return Some(i + 1);
                }
            }
            b',' | b'%' | b';' | b'\\' | 0x80.. => return None,
            _ => {}
        }
    }
    Some(from)
}

/// Bit `k` is set when byte `k` of the block is one [`plain_field_start`]
/// must look at: `& > , % ; \\` or a non-ASCII byte.
#[inline]
fn look_mask(block: [u8; 16]) -> u32 {
    use wide::u8x16;
    let v = u8x16::new(block);
    let eq = |b: u8| v.simd_eq(u8x16::splat(b));
    let high = v.max(u8x16::splat(0x80)).simd_eq(v);
    (high | eq(b'&') | eq(b'>') | eq(b',') | eq(b'%') | eq(b';') | eq(b'\\')).to_bitmask()
}

/// The raw spellings of a keyword: as written, percent-encoded (`+` or
/// `%20` for spaces), JSON-escaped and as decimal character references, in
/// lower, upper and capitalised case.
fn raw_forms(kw: &str) -> Vec<String> {
    let pct = |c: char| {
        let mut b = [0u8; 4];
        c.encode_utf8(&mut b)
            .bytes()
            .map(|x| format!("%{x:02X}"))
            .collect::<String>()
    };
    let mut out = Vec::new();
    for v in super::custom::case_variants(kw) {
        // Only non-ASCII characters are escaped (and spaces, in forms).
        let enc = |f: &dyn Fn(char) -> String| {
            v.chars()
                .map(|c| {
                    if c.is_ascii() && c != ' ' {
                        c.to_string()
                    } else {
                        f(c)
                    }
                })
                .collect::<String>()
        };
        let keep_space =
            |f: fn(char) -> String| move |c: char| if c == ' ' { " ".to_string() } else { f(c) };
        out.push(v.clone());
        out.push(enc(&|c| if c == ' ' { "+".into() } else { pct(c) }));
        out.push(enc(&pct));
        out.push(enc(&keep_space(|c| format!("\\u{:04x}", c as u32))));
        out.push(enc(&keep_space(|c| format!("&#{};", c as u32))));
    }
    out.sort();
    out.dedup();
    out
}

/// A cheap test on raw bytes: could any of these keywords stand in the
/// window? Used before decoding context for candidates that only a
/// keyword can make reportable. Keywords hidden behind other encodings
/// than plain, percent, JSON or decimal references are not seen.
#[derive(Clone, Debug)]
pub struct RawGate(Option<(AhoCorasick, Option<Prefixes>)>);

impl RawGate {
    pub fn new<'a>(keywords: impl Iterator<Item = &'a String>) -> Result<RawGate, String> {
        let pats: Vec<String> = keywords
            .flat_map(|k| raw_forms(k.trim()))
            .filter(|p| !p.is_empty())
            .collect();
        if pats.is_empty() {
            return Ok(RawGate(None));
        }
        let prefixes = Prefixes::new(&pats);
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&pats)
            .map(|ac| RawGate(Some((ac, prefixes))))
            .map_err(|e| format!("cannot compile keywords: {e}"))
    }

    /// [`RawGate::may_match`] with the prefix test first, for candidates
    /// that mostly stand in page text (dates): there the prefix test turns
    /// the window down before its field is looked for.
    pub fn may_match_text(&self, buf: &[u8], from: usize, pos: usize) -> bool {
        match &self.0 {
            Some((_, Some(prefixes))) if !prefixes.any(&buf[from..pos]) => false,
            _ => self.may_match(buf, from, pos),
        }
    }

    /// Whether a keyword may stand in `buf[from..pos]`, within its field.
    pub fn may_match(&self, buf: &[u8], from: usize, pos: usize) -> bool {
        let Some((ac, prefixes)) = &self.0 else {
            return false;
        };
        // A field of plain ASCII is found at once and is short: the
        // automaton reads it. Otherwise most windows start no keyword
        // anywhere, and then the field (inside the window) needs no finding.
        let start = match plain_field_start(buf, from, pos) {
            Some(start) => start,
            None if prefixes.as_ref().is_some_and(|p| !p.any(&buf[from..pos])) => return false,
            None => field_start(buf, from, pos),
        };
        ac.is_match(&buf[start..pos])
    }
}

/// A necessary test for a [`RawGate`], in two steps. Every raw form's
/// first two bytes, ASCII case folded, are a short list of pairs found in
/// sixteen positions at once; a position with such a pair is then looked
/// up by its first four bytes (three for a three-byte form) in bit sets
/// of hashed prefixes, and then against the whole forms with that first
/// pair. A window with no position through every step holds no keyword;
/// one with such a position goes on to the automaton, which also asks
/// that the keyword lies in the candidate's field.
/// Folding sets bit 5 of every byte: a superset of what the automaton's
/// ASCII case-insensitivity matches, so the test never misses.
#[derive(Clone, Debug)]
struct Prefixes {
    /// Folded first pairs, when there are few enough for SIMD tests.
    pairs: Option<Vec<[u8; 2]>>,
    /// The same pairs as nibble tables, for windows of up to 65 bytes.
    tables: PairTables,
    four: Box<[u64]>,
    three: Box<[u64]>,
    /// Every form, folded, with the others of its first pair.
    forms: Vec<SamePair>,
}

/// A folded first pair and the folded forms that start with it.
type SamePair = ([u8; 2], Vec<Box<[u8]>>);

/// Bits of a slot in a prefix set: 64 Ki bits, 8 KiB per set.
const PREFIX_BITS: u32 = 16;
/// More first pairs than this are not tested with SIMD.
const MAX_PAIRS: usize = 24;

impl Prefixes {
    /// `None` when a form is shorter than three bytes: every window may
    /// start it.
    fn new(pats: &[String]) -> Option<Prefixes> {
        let words = 1 << (PREFIX_BITS - 6);
        let mut four = vec![0u64; words].into_boxed_slice();
        let mut three = vec![0u64; words].into_boxed_slice();
        let mut forms: Vec<SamePair> = Vec::new();
        for p in pats.iter().map(|p| p.as_bytes()) {
            match p.len() {
                0..=2 => return None,
                3 => set_bit(&mut three, slot3(key3(p[0], p[1], p[2]))),
                _ => set_bit(&mut four, slot4(key4(p[0], p[1], p[2], p[3]))),
            }
            let pair = [p[0] | 0x20, p[1] | 0x20];
            let folded = p.iter().map(|b| b | 0x20).collect();
            match forms.iter_mut().find(|(q, _)| *q == pair) {
                Some((_, same)) => same.push(folded),
                None => forms.push((pair, vec![folded])),
            }
        }
        let pairs: Vec<[u8; 2]> = forms.iter().map(|(pair, _)| *pair).collect();
        Some(Prefixes {
            tables: PairTables::new(&pairs),
            pairs: (pairs.len() <= MAX_PAIRS).then_some(pairs),
            four,
            three,
            forms,
        })
    }

    /// Whether some position of `w` starts bytes found in the sets.
    #[inline(never)]
    fn any(&self, w: &[u8]) -> bool {
        // A short window at once, where the CPU can (a keyword gate's
        // window is 64 bytes).
        if let Some(mut m) = self.tables.candidates(w) {
            while m != 0 {
                if self.starts(w, m.trailing_zeros() as usize) {
                    return true;
                }
                m &= m - 1;
            }
            return false;
        }
        match &self.pairs {
            Some(pairs) if w.len() >= 17 => {
                let mut j = 0;
                loop {
                    let at = j.min(w.len() - 17);
                    let mut m = pair_mask(w, at, pairs);
                    while m != 0 {
                        if self.starts(w, at + m.trailing_zeros() as usize) {
                            return true;
                        }
                        m &= m - 1;
                    }
                    if at + 17 >= w.len() {
                        return false;
                    }
                    j += 16;
                }
            }
            _ => (0..w.len()).any(|i| self.starts(w, i)),
        }
    }

    /// Whether a form, ASCII case folded, stands whole at `i` of `w`:
    /// first whether the bytes at `i` are in a prefix set, which turns
    /// most positions down at once, then against each form.
    #[inline]
    fn starts(&self, w: &[u8], i: usize) -> bool {
        let prefix = match w.get(i..) {
            Some(&[a, b, c, d, ..]) => {
                get_bit(&self.four, slot4(key4(a, b, c, d)))
                    || get_bit(&self.three, slot3(key3(a, b, c)))
            }
            Some(&[a, b, c]) => get_bit(&self.three, slot3(key3(a, b, c))),
            _ => false,
        };
        prefix && self.spelled(&w[i..])
    }

    /// Whether `rest` starts with a form, ASCII case folded (the automaton
    /// ignores ASCII case only, and folding both sides keeps every match
    /// it makes).
    #[inline(never)]
    fn spelled(&self, rest: &[u8]) -> bool {
        let pair = [rest[0] | 0x20, rest[1] | 0x20];
        self.forms
            .iter()
            .find(|(p, _)| *p == pair)
            .is_some_and(|(_, forms)| {
                forms.iter().any(|f| {
                    rest.len() >= f.len() && f.iter().zip(rest).all(|(&x, &y)| x == y | 0x20)
                })
            })
    }
}

/// Bit `k` is set when the folded bytes at `at + k` and `at + k + 1` are
/// one of `pairs`. Reads `w[at..at + 17]`.
#[inline]
fn pair_mask(w: &[u8], at: usize, pairs: &[[u8; 2]]) -> u32 {
    use wide::u8x16;
    let load = |i: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&w[i..i + 16]);
        u8x16::new(b) | u8x16::splat(0x20)
    };
    let (v0, v1) = (load(at), load(at + 1));
    let mut hits = u8x16::splat(0);
    for &[a, b] in pairs {
        hits |= v0.simd_eq(u8x16::splat(a)) & v1.simd_eq(u8x16::splat(b));
    }
    hits.to_bitmask()
}

/// Three bytes, ASCII case folded, as one number.
#[inline]
fn key3(a: u8, b: u8, c: u8) -> u32 {
    let fold = |x: u8| u32::from(x | 0x20);
    fold(a) | (fold(b) << 8) | (fold(c) << 16)
}

/// Four bytes, ASCII case folded, as one number.
#[inline]
fn key4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    key3(a, b, c) | (u32::from(d | 0x20) << 24)
}

#[inline]
fn slot4(k: u32) -> usize {
    (k.wrapping_mul(0x9E37_79B1) >> (32 - PREFIX_BITS)) as usize
}

#[inline]
fn slot3(k: u32) -> usize {
    (k.wrapping_mul(0x85EB_CA77) >> (32 - PREFIX_BITS)) as usize
}

fn set_bit(set: &mut [u64], i: usize) {
    set[i / 64] |= 1 << (i % 64);
}

#[inline]
fn get_bit(set: &[u64], i: usize) -> bool {
    set[i / 64] & (1 << (i % 64)) != 0
}

/// A percent-encoded `"`, in every JSON boundary of [`reverse_finders`].
fn quote_finder() -> &'static memchr::memmem::Finder<'static> {
    static F: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    F.get_or_init(|| memchr::memmem::Finder::new(b"%22"))
}

/// Field boundaries found by substring, with how far past their start the
/// field begins, compiled once.
fn reverse_finders() -> &'static [(memchr::memmem::FinderRev<'static>, usize)] {
    static F: std::sync::OnceLock<Vec<(memchr::memmem::FinderRev<'static>, usize)>> =
        std::sync::OnceLock::new();
    F.get_or_init(|| {
        vec![
            (memchr::memmem::FinderRev::new(b"%2C%22"), 3),
            (memchr::memmem::FinderRev::new(b"%2c%22"), 3),
            (memchr::memmem::FinderRev::new(b"form-data;"), 10),
        ]
    })
}

/// A keyword must start a word: after a non-letter, or at a camelCase hump
/// (`omsPolicy`, `paymentId`).
fn word_start(units: &[Unit], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let prev = units[i - 1].ch;
    let cur = units[i].ch;
    // After `@` or `.` a word is part of an address or a name (`mail.ru`).
    (!prev.is_alphanumeric() && prev != '@' && prev != '.')
        || (prev.is_lowercase() && cur.is_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Where the one-pass field start answers, it answers as the
        /// decoding one does.
        #[test]
        fn plain_field_start_agrees(
            text in crate::detect::texts_of(vec![
                "form_text_5=", "&", "&amp;", "&nbsp;", "&x=", "&#38;", ",", "\\",
                "\"", "%26", "%2C%22", "</td>", "</TD>", "</dd>", "<b>", ">", ";",
                "form-data;", "snils", "снилс", " ", "1", "\n",
            ], 0..16),
        ) {
            let buf = text.as_bytes();
            for pos in (0..=buf.len()).filter(|&p| text.is_char_boundary(p)) {
                for from in (0..=pos).filter(|&f| text.is_char_boundary(f)).step_by(3) {
                    let fast = plain_field_start(buf, from, pos);
                    proptest::prop_assert_eq!(fast, bytewise_field_start(buf, from, pos));
                    if let Some(start) = fast {
                        proptest::prop_assert_eq!(
                            start, field_start(buf, from, pos), "{:?} {}..{}", text, from, pos
                        );
                    }
                }
            }
        }
    }

    /// [`plain_field_start`] a byte at a time, as it was before it read
    /// sixteen at once.
    fn bytewise_field_start(buf: &[u8], from: usize, pos: usize) -> Option<usize> {
        let mut i = pos;
        while i > from {
            i -= 1;
            match buf[i] {
                b'&' => return super::super::decode::literal_amp(&buf[..pos], i).then_some(i + 1),
                b'>' if i >= from + 4
                    && (buf[i - 4..i].eq_ignore_ascii_case(b"</td")
                        || buf[i - 4..i].eq_ignore_ascii_case(b"</dd")) =>
                {
                    return Some(i + 1);
                }
                b',' | b'%' | b';' | b'\\' | 0x80.. => return None,
                _ => {}
            }
        }
        Some(from)
    }

    fn index() -> KeywordIndex {
        KeywordIndex::new(&[
            ("снилс".into(), Cue::Builtin(Builtin::Snils)),
            ("oms".into(), Cue::Builtin(Builtin::Oms)),
            ("id".into(), Cue::Noise),
            ("инн".into(), Cue::Builtin(Builtin::Inn)),
        ])
        .unwrap()
    }

    fn near(s: &str) -> Option<Cue> {
        let mut sc = Scratch::default();
        index()
            .nearest(s.as_bytes(), 0, s.len(), 96, &mut sc)
            .map(|h| h.cue)
    }

    #[test]
    fn nearest_keyword_wins() {
        assert_eq!(near("СНИЛС 1, ИНН "), Some(Cue::Builtin(Builtin::Inn)));
        assert_eq!(near("\"omsPolicy\":\""), Some(Cue::Builtin(Builtin::Oms)));
        assert_eq!(near("\"paymentId\": \""), Some(Cue::Noise));
        assert_eq!(near("\"valid\": \""), None, "id inside a word");
        assert_eq!(
            near("\\u0418\\u041d\\u041d\": \""),
            Some(Cue::Builtin(Builtin::Inn)),
            "escaped keyword"
        );
        assert_eq!(
            near("%D0%A1%D0%9D%D0%98%D0%9B%D0%A1+"),
            Some(Cue::Builtin(Builtin::Snils))
        );
    }

    #[test]
    fn keywords_stay_in_their_field() {
        assert_eq!(near("WEB_FORM_ID=7&form_text_51="), None);
        assert_eq!(
            near("СНИЛС&nbsp;"),
            Some(Cue::Builtin(Builtin::Snils)),
            "an entity is no field end"
        );
        assert_eq!(
            near("%22%D0%A1%D0%9D%D0%98%D0%9B%D0%A1%22%3A%221%22%2C%22x%22%3A%22"),
            None
        );
        assert_eq!(near("'ilin@почта.рф', '"), None);
        assert_eq!(near("\"СНИЛС\":\"1\",\"x\":\""), None);
        assert_eq!(
            near("СНИЛС 53435100245, "),
            Some(Cue::Builtin(Builtin::Snils))
        );
        assert_eq!(near("\"СНИЛС\": \""), Some(Cue::Builtin(Builtin::Snils)));
        assert_eq!(near("<td>СНИЛС</td><td>x</td><td>"), None);
        assert_eq!(
            near("<th>СНИЛС</th><td>"),
            Some(Cue::Builtin(Builtin::Snils))
        );
    }

    /// The gate of the default date and diagnosis keywords.
    fn default_gate() -> RawGate {
        let kws: Vec<String> = [
            "дата рождения",
            "датарождения",
            "рожд",
            "birth",
            "dob",
            "д.р.",
            "диагноз",
            "мкб",
            "diagnosis",
            "icd",
            "mkb",
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        RawGate::new(kws.iter()).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// The prefix test before the automaton never turns a window down
        /// that the automaton, run on the field alone, would accept, whether
        /// it runs before or after the field is found.
        #[test]
        fn raw_gate_prefilter_never_misses(
            text in crate::detect::texts_of(vec![
                "дата рождения", "ДАТА", "Рожд", "рожд", "РОЖД", "birth", "BiRtH", "dob", "DoB",
                "icd", "ICD", "mkb", "МКБ", "мкб", "диагноз", "Диагноз", "диагностика", "д.р.",
                "Д.Р.", "%D0%B4%D0%B8", "%d1%80%d0%be%d0%b6%d0%b4", "+", "\\u0434\\u0438\\u0430",
                "&#1076;&#1080;", "&#1084;&#1082;&#1073;", "д", "и", "а", "р", "о", "ж", "м", "к",
                "б", "d", "o", "b", "i", "c", "m", "k", " ", "&", "&amp;", ",", ">", "</td>",
                "\"", "x", "1", "\u{0}", "\u{20}", "%", "\\",
            ], 0..20),
        ) {
            let g = default_gate();
            let Some((ac, _)) = &g.0 else { panic!("no automaton") };
            let buf = text.as_bytes();
            for pos in (0..=buf.len()).filter(|&p| text.is_char_boundary(p)) {
                let from = pos.saturating_sub(SHORT_WINDOW);
                let start = plain_field_start(buf, from, pos)
                    .unwrap_or_else(|| field_start(buf, from, pos));
                let want = ac.is_match(&buf[start..pos]);
                proptest::prop_assert_eq!(g.may_match(buf, from, pos), want, "{:?} at {}", text, pos);
                proptest::prop_assert_eq!(g.may_match_text(buf, from, pos), want, "{:?} at {}", text, pos);
            }
        }
    }

    #[test]
    fn raw_gate_prefilter_turns_plain_windows_down() {
        let g = default_gate();
        let Some((_, Some(p))) = &g.0 else {
            panic!("no prefix test")
        };
        assert!(p.pairs.as_ref().is_some_and(|v| v.len() <= MAX_PAIRS));
        let w = "приём отделение</a></h3><span class=\"date\">".as_bytes();
        assert!(!p.any(w));
        let w = "Дата рождения</a></h3><span class=\"date\">".as_bytes();
        assert!(p.any(w));
        // A form shorter than three bytes leaves every window to the automaton.
        let g = RawGate::new(["ab".to_string()].iter()).unwrap();
        assert!(matches!(&g.0, Some((_, None))));
    }

    #[test]
    fn raw_gate_sees_encoded_keywords() {
        let g = RawGate::new(["дата рождения".to_string()].iter()).unwrap();
        for s in [
            "Дата рождения: ",
            "ДАТА РОЖДЕНИЯ ",
            "%D0%94%D0%B0%D1%82%D0%B0+%D1%80%D0%BE%D0%B6%D0%B4%D0%B5%D0%BD%D0%B8%D1%8F=",
            "\\u0434\\u0430\\u0442\\u0430 \\u0440\\u043e\\u0436\\u0434\\u0435\\u043d\\u0438\\u044f",
        ] {
            assert!(g.may_match(s.as_bytes(), 0, s.len()), "{s}");
        }
        assert!(!g.may_match("Новости".as_bytes(), 0, "Новости".len()));
    }

    #[test]
    fn ascii_fast_path_equals_decoding() {
        let idx = KeywordIndex::new(&[
            ("tel".into(), Cue::Builtin(Builtin::Phone)),
            ("phone".into(), Cue::Builtin(Builtin::Phone)),
            ("id".into(), Cue::Noise),
            ("oms".into(), Cue::Builtin(Builtin::Oms)),
        ])
        .unwrap();
        let ac = idx.ac.clone().unwrap();
        let parts = [
            "tel",
            "Phone",
            "ID",
            "omsPolicy",
            "x",
            " ",
            "_",
            "=",
            "\n",
            "@",
            ".",
            "\"",
            ":",
            "a1",
            "te",
            "ph",
            "i",
            "d",
            "om",
        ];
        // Xorshift, advanced once per text and once per piece.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let s: String = (0..next() % 12)
                .map(|_| parts[(next() % parts.len() as u64) as usize])
                .collect();
            for window in [4, 64] {
                let mut sc = Scratch::default();
                let fast = idx.nearest_ascii(&ac, s.as_bytes(), 0, window);
                let slow = idx.nearest_decoded(&ac, s.as_bytes(), 0, s.len(), window, &mut sc);
                assert_eq!(fast, slow, "{s:?} window {window}");
            }
        }
    }

    #[test]
    fn window_limits_distance() {
        let mut s = String::from("СНИЛС ");
        s.push_str(&"x".repeat(200));
        assert_eq!(near(&s), None);
    }
}
