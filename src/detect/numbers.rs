//! Numeric identifiers: SNILS, INN, passport, phone, card, OMS.
//!
//! From a digit, the walker collects an *island*: digit groups and the
//! separators between them (spaces, dashes, parentheses, `+`, `№`/«номер»,
//! even the jump from a JSON `"series"` field to its `"number"` field), read
//! through the decoding layers. Interpretation then tries every run of
//! consecutive groups against the shapes of each identifier, validates
//! checksums, and leaves scoring by context to the caller.
//!
//! Nothing here allocates: islands live in fixed arrays and are bounded in
//! groups, digits and raw length.

use super::category::Format;
use super::checksum;
use super::decode::{Step, unit_at};

pub const MAX_GROUPS: usize = 12;
pub const MAX_DIGITS: usize = 48;
/// An island never spans more raw bytes than this.
pub const MAX_RAW: usize = 512;
/// Separator units allowed between two groups.
pub const MAX_SEP_UNITS: u8 = 4;
/// How far before a digit a `+` prefix may start (`\u002B` is 6 bytes).
pub const MAX_PREFIX: usize = 8;

/// Separator kinds, as bits.
pub mod sep {
    pub const SPACE: u16 = 1;
    pub const DASH: u16 = 2;
    pub const OPEN: u16 = 4;
    pub const CLOSE: u16 = 8;
    pub const PLUS: u16 = 16;
    pub const DOT: u16 = 32;
    pub const SIGN: u16 = 64;
    pub const FIELD: u16 = 128;
    pub const SLASH: u16 = 256;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sep {
    pub bits: u16,
    pub units: u8,
}

impl Sep {
    /// A lone `.` between digits is a decimal point or a date, which glues
    /// the groups into one number: no identifier starts or ends there.
    fn glues(self) -> bool {
        self.bits == sep::DOT && self.units == 1
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Group {
    pub start: usize,
    pub end: usize,
    pub off: u8,
    pub len: u8,
    /// The separator before this group (empty for the first).
    pub sep: Sep,
}

#[derive(Clone, Debug)]
pub struct Island {
    pub groups: [Group; MAX_GROUPS],
    pub n: usize,
    pub digits: [u8; MAX_DIGITS],
    /// Raw start of a `+` directly before the first digit.
    pub plus: Option<usize>,
    /// The first group touches a letter before it (`ID123…`).
    pub left_glued: bool,
    /// The last group touches a letter, `_` or `@` after it.
    pub right_glued: bool,
    /// Raw end of the last digit: where scanning resumes.
    pub end: usize,
    /// Raw start of a single capital letter glued before the first digit,
    /// as in an ICD-10 code (`C50.1`).
    pub icd_letter: Option<usize>,
}

impl Default for Island {
    fn default() -> Self {
        Island {
            groups: [Group::default(); MAX_GROUPS],
            n: 0,
            digits: [0; MAX_DIGITS],
            plus: None,
            left_glued: false,
            right_glued: false,
            end: 0,
            icd_letter: None,
        }
    }
}

/// More bytes are needed to finish the island.
pub struct NeedMore;

/// Checks for a `+` written in any encoding right before `pos`.
pub(super) fn plus_before(buf: &[u8], lo: usize, pos: usize) -> Option<usize> {
    const FORMS: [&[u8]; 9] = [
        b"+", b"%2B", b"%2b", b"&#43;", b"&#x2B;", b"&#x2b;", b"&plus;", b"\\u002B", b"\\u002b",
    ];
    // Invisible characters between the sign and the digit do not count.
    const INVISIBLE: [&[u8]; 8] = [
        "\u{200B}".as_bytes(),
        "\u{200C}".as_bytes(),
        "\u{200D}".as_bytes(),
        "\u{AD}".as_bytes(),
        "\u{2060}".as_bytes(),
        "\u{FEFF}".as_bytes(),
        b"&#8203;",
        b"&shy;",
    ];
    let mut head = &buf[lo..pos];
    // Every form above ends in one of these bytes or in a non-ASCII one.
    if head
        .last()
        .is_none_or(|&b| b < 0x80 && !matches!(b, b'+' | b'B' | b'b' | b';'))
    {
        return None;
    }
    while let Some(f) = INVISIBLE.iter().find(|f| head.ends_with(f)) {
        head = &head[..head.len() - f.len()];
    }
    let pos = lo + head.len();
    FORMS
        .iter()
        .chain(std::iter::once(&"\u{FF0B}".as_bytes()))
        .find(|f| head.ends_with(f))
        .map(|f| pos - f.len())
}

/// A capital Latin letter (not `U`, unused by ICD-10) right before `pos`
/// that starts a word.
fn icd_letter_before(buf: &[u8], lo: usize, pos: usize) -> Option<usize> {
    let l = pos.checked_sub(1).filter(|&l| l >= lo)?;
    let c = buf[l];
    let starts_word = l == lo || !(buf[l - 1].is_ascii_alphanumeric() || buf[l - 1] == b'_');
    (c.is_ascii_uppercase() && c != b'U' && starts_word).then_some(l)
}

/// Recognises a connector word between passport series and number
/// («номер», `N`, `No`) at `pos`. Returns its raw end.
pub(super) fn connector(buf: &[u8], pos: usize, eof: bool) -> Result<Option<usize>, ()> {
    let mut word = ['\0'; 6];
    let mut n = 0;
    let mut p = pos;
    loop {
        match unit_at(buf, p, eof) {
            Step::NeedMore => return Err(()),
            Step::End => break,
            Step::Unit(u) if u.ch.is_alphabetic() => {
                if n == word.len() {
                    return Ok(None);
                }
                word[n] = u.ch.to_lowercase().next().unwrap_or(u.ch);
                n += 1;
                p = u.end;
            }
            Step::Unit(u) if u.ch == '.' || u.ch == 'º' => {
                p = u.end;
                break;
            }
            Step::Unit(_) => break,
        }
    }
    let w = &word[..n];
    let known = w == ['н', 'о', 'м', 'е', 'р'] || w == ['n'] || w == ['n', 'o'] || w == ['н'];
    Ok(known.then_some(p))
}

/// Recognises the jump between the series and number fields of a passport
/// split across JSON fields: `", "number": "` (any key with «number» or
/// «номер» in it). `pos` is at the closing quote of the series.
pub(super) fn field_jump(buf: &[u8], pos: usize, eof: bool) -> Result<Option<usize>, ()> {
    // States: 0 closing quote, 1 comma, 2 opening key quote, 3 key,
    // 4 colon, 5 value quote.
    let mut state = 0;
    let mut p = pos;
    let mut key = String::new();
    for _ in 0..64 {
        let u = match unit_at(buf, p, eof) {
            Step::NeedMore => return Err(()),
            Step::End => return Ok(None),
            Step::Unit(u) => u,
        };
        p = u.end;
        let c = u.ch;
        state = match (state, c) {
            (0, '"') => 1,
            (1 | 2 | 4 | 5, ' ') => state,
            (1, ',') => 2,
            (2, '"') => 3,
            (3, '"') => {
                let k = key.to_lowercase();
                if !(k.contains("number") || k.contains("номер") || k.contains("num")) {
                    return Ok(None);
                }
                4
            }
            (3, c) if key.len() < 40 => {
                key.push(c);
                3
            }
            (4, ':') => 5,
            (5, '"') => return Ok(Some(p)),
            _ => return Ok(None),
        };
    }
    Ok(None)
}

/// Whether an island of `digits` digits in `groups` groups is too short to
/// read as anything but an ICD-10 code: identifiers have ten digits or
/// more, dates eight in three groups.
#[inline]
pub fn too_short(digits: usize, groups: usize) -> bool {
    digits < 10 && !(digits == 8 && groups >= 3)
}

/// The separator a character is between two digit groups, if any.
#[inline]
pub const fn separator(c: char) -> Option<u16> {
    Some(match c {
        ' ' => sep::SPACE,
        '-' => sep::DASH,
        '(' => sep::OPEN,
        ')' => sep::CLOSE,
        '+' => sep::PLUS,
        '.' => sep::DOT,
        '/' => sep::SLASH,
        '№' | '#' => sep::SIGN,
        _ => return None,
    })
}

/// Walks the island that starts with the digit at `start`.
/// The island is written into `isl`, which is reused across calls.
pub fn walk(
    buf: &[u8],
    lo: usize,
    start: usize,
    eof: bool,
    left_glued: bool,
    isl: &mut Island,
) -> Result<(), NeedMore> {
    isl.n = 0;
    isl.plus = plus_before(buf, lo, start);
    isl.left_glued = left_glued;
    isl.right_glued = false;
    isl.end = start;
    isl.icd_letter = icd_letter_before(buf, lo, start);
    let cap = start + MAX_RAW;
    let mut nd = 0usize;
    let mut pending = Sep::default();
    let mut pos = start;
    let mut just_digit = false;
    loop {
        if pos >= cap {
            break;
        }
        let u = match unit_at(buf, pos, eof) {
            Step::NeedMore => return Err(NeedMore),
            Step::End => break,
            Step::Unit(u) => u,
        };
        if let Some(d) = u.ch.to_digit(10).filter(|_| u.ch.is_ascii_digit()) {
            if nd == MAX_DIGITS {
                break;
            }
            if isl.n > 0 && pending.units == 0 {
                let g = &mut isl.groups[isl.n - 1];
                g.len += 1;
                g.end = u.end;
            } else {
                if isl.n == MAX_GROUPS {
                    break;
                }
                isl.groups[isl.n] = Group {
                    start: u.start,
                    end: u.end,
                    off: nd as u8,
                    len: 1,
                    sep: pending,
                };
                isl.n += 1;
                pending = Sep::default();
            }
            isl.digits[nd] = d as u8;
            nd += 1;
            isl.end = u.end;
            pos = u.end;
            just_digit = true;
            // Plain digits that follow extend the group with no decoding.
            while pos < cap
                && nd < MAX_DIGITS
                && let Some(&b) = buf.get(pos)
                && b.is_ascii_digit()
            {
                let g = &mut isl.groups[isl.n - 1];
                g.len += 1;
                pos += 1;
                g.end = pos;
                isl.digits[nd] = b - b'0';
                nd += 1;
                isl.end = pos;
            }
            continue;
        }
        if just_digit && (u.ch.is_ascii_alphabetic() || u.ch == '_' || u.ch == '@') {
            isl.right_glued = true;
        }
        let was_digit = just_digit;
        just_digit = false;
        let (bit, next) = match separator(u.ch) {
            Some(bit) => (bit, u.end),
            // Connectors only join a passport series (four digits) to its number.
            None if nd == 4 && !isl.right_glued && u.ch.is_alphabetic() => {
                match connector(buf, pos, eof) {
                    Err(()) => return Err(NeedMore),
                    Ok(Some(end)) => (sep::SIGN, end),
                    Ok(None) => break,
                }
            }
            None if u.ch == '"' && was_digit && nd == 4 => match field_jump(buf, pos, eof) {
                Err(()) => return Err(NeedMore),
                Ok(Some(end)) => (sep::FIELD, end),
                Ok(None) => break,
            },
            _ => break,
        };
        if pending.units >= MAX_SEP_UNITS {
            break;
        }
        pending.bits |= bit;
        pending.units += 1;
        pos = next;
    }
    Ok(())
}

/// One way to read a run of groups.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    pub format: Format,
    /// Raw span.
    pub start: usize,
    pub end: usize,
    /// Normalised value: digits (phones as 7 + ten digits).
    pub value: [u8; 20],
    pub value_len: u8,
    /// Groups consumed, from the first.
    pub groups: u8,
}

impl Reading {
    pub fn value_str(&self) -> compact_str::CompactString {
        let mut digits = [0u8; 20];
        let n = self.value_len as usize;
        for (d, &v) in digits.iter_mut().zip(&self.value[..n]) {
            *d = b'0' + v;
        }
        // Digits are ASCII, so this cannot fail; twenty bytes stay inline.
        std::str::from_utf8(&digits[..n])
            .map(compact_str::CompactString::new)
            .unwrap_or_default()
    }
}

const PHONE_SEPS: u16 = sep::SPACE | sep::DASH | sep::OPEN | sep::CLOSE | sep::PLUS | sep::DOT;
const PLAIN_SEPS: u16 = sep::SPACE | sep::DASH | sep::PLUS | sep::DOT;
const PASSPORT_SEPS: u16 = sep::SPACE | sep::DASH | sep::PLUS | sep::SIGN | sep::FIELD;

/// Calls `emit` with every reading of the groups starting at `i`.
pub fn readings(isl: &Island, i: usize, year2: u8, emit: &mut impl FnMut(Reading)) {
    if i == 0 && isl.left_glued {
        if let Some(l) = isl.icd_letter {
            icd10(isl, l, emit);
        }
        return;
    }
    if isl.groups[i].sep.glues() && i > 0 {
        return;
    }
    let mut lens = [0u8; 5];
    let mut total = 0usize;
    let mut seps = 0u16;
    let first = isl.groups[i];
    let off = first.off as usize;
    for k in 1..=5.min(isl.n - i) {
        let j = i + k - 1;
        let last = &isl.groups[j];
        lens[k - 1] = last.len;
        total += usize::from(last.len);
        if k > 1 {
            seps |= last.sep.bits;
        }
        // Dates have eight digits, accounts twenty; every other shape lies
        // between. Longer runs only grow.
        if total > 20 {
            break;
        }
        if total < 8 || total == 9 {
            continue;
        }
        // The run may not end where the number goes on after a decimal point.
        if j + 1 < isl.n && isl.groups[j + 1].sep.glues() {
            continue;
        }
        if j + 1 == isl.n && isl.right_glued {
            continue;
        }
        let inner = &isl.groups[i + 1..=j];
        let d = &isl.digits[off..off + total];
        let mk = |format: Format, start: usize, value: &[u8]| {
            let mut v = [0u8; 20];
            v[..value.len()].copy_from_slice(value);
            Reading {
                format,
                start,
                end: last.end,
                value: v,
                value_len: value.len() as u8,
                groups: k as u8,
            }
        };
        let shape = &lens[..k];
        let plain = seps & !PLAIN_SEPS == 0;

        // SNILS
        if total == 11 && plain && checksum::snils(d) {
            match shape {
                [11] => emit(mk(Format::SnilsBare, first.start, d)),
                [3, 3, 3, 2] | [9, 2] | [3, 3, 5] => emit(mk(Format::SnilsGrouped, first.start, d)),
                _ => {}
            }
        }
        // INN
        if shape == [12] && checksum::inn12(d) {
            emit(mk(Format::InnBare, first.start, d));
        }
        if shape == [10] && checksum::inn10(d) {
            emit(mk(Format::InnLegalBare, first.start, d));
        }
        // Passport
        if total == 10 && seps & !PASSPORT_SEPS == 0 && checksum::passport_series(d, year2) {
            let f = match shape {
                [10] => Some(Format::PassportBare),
                [2, 2, 6] | [4, 6] if seps & sep::FIELD != 0 => Some(Format::PassportSplitFields),
                [2, 2, 6] | [4, 6] if seps & sep::SIGN != 0 => Some(Format::PassportWithSign),
                [2, 2, 6] | [4, 6] => Some(Format::PassportSeriesNumber),
                _ => None,
            };
            if let Some(f) = f {
                emit(mk(f, first.start, d));
            }
        } else if seps & (sep::SIGN | sep::FIELD) != 0 {
            // Connectors and field jumps only join passports.
            continue;
        }
        // Phone
        if seps & !PHONE_SEPS == 0
            && let Some((f, start)) =
                phone_format(shape, d, isl.plus.filter(|_| i == 0), first.start)
        {
            let mut v = [7u8; 11];
            v[1..].copy_from_slice(&d[d.len() - 10..]);
            emit(mk(f, start, &v));
        }
        // Accounts of individuals: balance account 40817 or 40820.
        if shape == [20] && (d[..5] == [4, 0, 8, 1, 7] || d[..5] == [4, 0, 8, 2, 0]) {
            emit(mk(Format::AccountPersonal, first.start, d));
        }
        // Dates of birth
        if total == 8 && k == 3 && inner.iter().all(|g| g.sep.units == 1) {
            let same = inner[0].sep.bits == inner[1].sep.bits;
            let sepok = same && matches!(inner[0].sep.bits, sep::DOT | sep::DASH | sep::SLASH);
            let num =
                |a: usize, n: usize| d[a..a + n].iter().fold(0u32, |x, &y| x * 10 + u32::from(y));
            let year_ok = |y: u32| (1900..=2000 + u32::from(year2)).contains(&y);
            let date_ok = |dd: u32, mm: u32| (1..=31).contains(&dd) && (1..=12).contains(&mm);
            if sepok && shape == [2, 2, 4] && date_ok(num(0, 2), num(2, 2)) && year_ok(num(4, 4)) {
                emit(mk(Format::BirthDateDotted, first.start, d));
            }
            if sepok
                && inner[0].sep.bits == sep::DASH
                && shape == [4, 2, 2]
                && year_ok(num(0, 4))
                && date_ok(num(6, 2), num(4, 2))
            {
                emit(mk(Format::BirthDateIso, first.start, d));
            }
        }
        // Card and OMS
        if (13..=19).contains(&total) && plain && checksum::luhn(d) {
            let grouped = k > 1;
            let card_shape = k == 1
                || shape == [4, 6, 5]
                || (shape[..k - 1].iter().all(|&l| l == 4) && shape[k - 1] <= 4);
            if card_shape {
                let known = checksum::card_scheme(d).is_some();
                let f = if known && (total == 16 || total == 15) {
                    Format::CardScheme
                } else {
                    Format::CardOther
                };
                emit(mk(f, first.start, d));
            }
            if total == 16 && (shape == [16] || shape == [4, 4, 4, 4]) {
                let f = if grouped {
                    Format::OmsGrouped
                } else {
                    Format::OmsBare
                };
                emit(mk(f, first.start, d));
            }
        }
    }
}

/// An ICD-10 code: a letter, two digits, and optionally `.` and one or two.
fn icd10(isl: &Island, letter: usize, emit: &mut impl FnMut(Reading)) {
    let g = &isl.groups[..isl.n];
    let (len, end) = match g {
        [a] if a.len == 2 => (2, a.end),
        [a, b, ..]
            if a.len == 2
                && b.sep
                    == (Sep {
                        bits: sep::DOT,
                        units: 1,
                    })
                && b.len <= 2 =>
        {
            if g.len() > 2 && g[2].sep.glues() {
                return;
            }
            (2 + b.len, b.end)
        }
        [a, b, ..] if a.len == 2 && !b.sep.glues() => (2, a.end),
        _ => return,
    };
    if isl.n == 1 && isl.right_glued {
        return;
    }
    let mut v = [0u8; 20];
    v[..len as usize].copy_from_slice(&isl.digits[..len as usize]);
    emit(Reading {
        format: Format::DiagnosisIcd10,
        start: letter,
        end,
        value: v,
        value_len: len,
        groups: if end == isl.groups[0].end { 1 } else { 2 },
    });
}

/// Russian phone shapes. `d` are all digits of the run.
fn phone_format(
    shape: &[u8],
    d: &[u8],
    plus: Option<usize>,
    start: usize,
) -> Option<(Format, usize)> {
    let total = d.len();
    let rest_ok = |rest: &[u8]| match rest {
        [10] => true,
        r => (2..=5).contains(&r.len()) && (3..=5).contains(&r[0]) && r.iter().all(|&l| l <= 5),
    };
    let (format, national, start) = if total == 11 {
        match (plus, d[0], shape) {
            (Some(p), 7, [11]) => (Format::PhoneInternational, &d[1..], p),
            (Some(p), 7, [1, rest @ ..]) if rest_ok(rest) => {
                (Format::PhoneInternational, &d[1..], p)
            }
            (Some(p), 7, [4, rest @ ..]) if rest.iter().all(|&l| l <= 4) && rest.len() >= 2 => {
                (Format::PhoneInternational, &d[1..], p)
            }
            (_, 8 | 7, [1, rest @ ..]) if rest_ok(rest) => (Format::PhoneTrunk, &d[1..], start),
            (_, 8, [11]) => (Format::PhoneCompact8, &d[1..], start),
            (_, 7, [11]) => (Format::PhoneCompact7, &d[1..], start),
            _ => return None,
        }
    } else if total == 10 {
        match shape {
            [10] => (Format::PhoneBare10, d, start),
            r if r.len() >= 3 && (3..=5).contains(&r[0]) && r.iter().all(|&l| l <= 5) => {
                (Format::PhoneLocal, d, start)
            }
            _ => return None,
        }
    } else {
        return None;
    };
    matches!(national[0], 3 | 4 | 8 | 9).then_some((format, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(s: &str) -> Vec<(Format, String, String)> {
        let buf = s.as_bytes();
        let mut units = Vec::new();
        crate::detect::decode::decode_range(buf, 0, buf.len(), &mut units);
        let k = units.iter().position(|u| u.ch.is_ascii_digit()).unwrap();
        let start = units[k].start;
        let glued = k > 0 && units[k - 1].ch.is_ascii_alphabetic();
        let mut isl = Island::default();
        assert!(
            walk(buf, 0, start, true, glued, &mut isl).is_ok(),
            "need more at eof"
        );
        let mut out = Vec::new();
        // Like the scanner: readings at a group consume it and its run.
        let mut i = 0;
        while i < isl.n {
            let mut step = 1;
            readings(&isl, i, 26, &mut |r| {
                step = step.max(r.groups as usize);
                out.push((
                    r.format,
                    s[r.start..r.end].to_string(),
                    r.value_str().to_string(),
                ))
            });
            i += step;
        }
        out
    }

    fn formats(s: &str) -> Vec<Format> {
        read_all(s).into_iter().map(|r| r.0).collect()
    }

    #[test]
    fn shapes_table() {
        use Format::*;
        let cases: &[(&str, &[Format])] = &[
            ("112-233-445 95", &[SnilsGrouped]),
            ("112 233 445 95", &[SnilsGrouped]),
            ("112-233-445-95", &[SnilsGrouped]),
            ("094-430-302+49", &[SnilsGrouped]),
            ("11223344595", &[SnilsBare]),
            ("123456789047", &[InnBare]),
            ("7707083893", &[InnLegalBare, PassportBare]),
            ("45 08 123456", &[PassportSeriesNumber]),
            ("4508 123456", &[PassportSeriesNumber]),
            ("4508 № 123456", &[PassportWithSign]),
            ("40 14 номер 320981", &[PassportWithSign]),
            ("+7 (812) 923-52-23", &[PhoneInternational]),
            ("+7(812)923-52-23", &[PhoneInternational]),
            ("+79991234567", &[PhoneInternational]),
            ("%2B7+%28906%29+492-77-80", &[PhoneInternational]),
            ("8 (999) 123-45-67", &[PhoneTrunk]),
            ("8-968-503-59-45", &[PhoneTrunk]),
            ("89797767356", &[PhoneCompact8]),
            ("2200 0000 0000 0004", &[CardScheme, OmsGrouped]),
            ("8242185435484167", &[CardOther, OmsBare]),
            ("+7 (712) 923-52-23", &[]),
            ("112-233-445 96", &[]),
            ("0.123456789047", &[]),
            ("ID123456789047", &[]),
            ("112.233.445.95", &[SnilsGrouped]),
            ("16.07.1956", &[BirthDateDotted]),
            ("1956-07-16", &[BirthDateIso]),
            ("32.07.1956", &[]),
            (" C50.1 ", &[DiagnosisIcd10]),
            ("CC50.1", &[]),
            ("40817810099910004312", &[AccountPersonal]),
            ("40702810099910004312", &[]),
            ("+\u{200B}7\u{200B}9991234567", &[PhoneInternational]),
            ("123456789047abc", &[]),
        ];
        for (input, want) in cases {
            let got = formats(input);
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn spans_and_values() {
        let r = read_all("тел. %2B7+%28906%29+492-77-80.");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].1, "%2B7+%28906%29+492-77-80");
        assert_eq!(r[0].2, "79064927780");
        let r = read_all("x &#56;&#57;&#57;&#57;&#49;&#50;&#51;&#52;&#53;&#54;&#55; y");
        assert_eq!(r[0].0, Format::PhoneCompact8);
        assert_eq!(r[0].2, "79991234567");
    }

    #[test]
    fn split_fields_passport() {
        let s = r#""passport": {"series": "4508", "number": "496087"}"#;
        let r = read_all(s);
        assert_eq!(r[0].0, Format::PassportSplitFields);
        assert_eq!(r[0].1, r#"4508", "number": "496087"#);
    }

    #[test]
    fn obfuscated_digits() {
        let r = read_all("СНИЛС １１２\u{200B}-233-445\u{A0}95");
        assert_eq!(r[0].0, Format::SnilsGrouped);
        assert_eq!(r[0].2, "11223344595");
    }
}
