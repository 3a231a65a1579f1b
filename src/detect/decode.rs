//! The decoding layers: raw bytes in, logical characters out, each with the
//! exact raw byte span it came from.
//!
//! Personal data hides behind encodings: `%2B7` in a form body, `&#52;` in a
//! page, `\u0034` in JSON, full-width digits, NBSP between digit groups, a
//! zero-width space inside a number. This module undoes those layers one
//! logical character at a time, so that every finding can still be mapped
//! back to the bytes that must be masked.
//!
//! Layers, outermost first:
//! 1. percent-encoding (`%XX`, including multi-byte UTF-8 as `%D0%98`);
//! 2. HTML character references (`&#52;`, `&#x34;`, a few named ones) and
//!    JSON/JS escapes (`\u0034`, `\x34`), read over layer 1, so that a
//!    percent-encoded entity is still decoded;
//! 3. normalisation: full-width and other decimal digits become ASCII,
//!    Unicode spaces become a space, dashes become `-`, and invisible
//!    characters (zero-width, soft hyphen, BOM) are skipped.
//!
//! It owns no state and never allocates: callers walk a buffer position by
//! position. It never reads past `buf`; when a character may continue past
//! the end of a buffer that is not the end of the input, it says `NeedMore`.

/// One logical character with its raw span `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub ch: char,
    pub start: usize,
    pub end: usize,
}

/// The outcome of decoding at a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Unit(Unit),
    /// The true end of the input.
    End,
    /// The buffer ends, but the input does not: more bytes are needed.
    NeedMore,
}

/// A layer-1 character: percent-decoding and UTF-8.
#[derive(Clone, Copy)]
enum Raw {
    Char(char, usize),
    End,
    NeedMore,
}

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads one byte through percent-encoding: `(byte, raw_len)`.
fn pct_byte(buf: &[u8], pos: usize, eof: bool) -> Result<Option<(u8, usize)>, ()> {
    let Some(&b) = buf.get(pos) else {
        return if eof { Ok(None) } else { Err(()) };
    };
    if b == b'%' {
        if pos + 2 >= buf.len() && !eof {
            return Err(());
        }
        if let (Some(h), Some(l)) = (
            buf.get(pos + 1).copied().and_then(hex_val),
            buf.get(pos + 2).copied().and_then(hex_val),
        ) {
            return Ok(Some(((h << 4) | l, 3)));
        }
    }
    Ok(Some((b, 1)))
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Layer 1: one character, percent-decoded, UTF-8 decoded. Invalid bytes
/// become U+FFFD spanning one raw unit, so the walk always makes progress.
fn raw_char(buf: &[u8], pos: usize, eof: bool) -> Raw {
    let (lead, lead_len) = match pct_byte(buf, pos, eof) {
        Ok(Some(x)) => x,
        Ok(None) => return Raw::End,
        Err(()) => return Raw::NeedMore,
    };
    let n = utf8_len(lead);
    if n == 1 {
        return Raw::Char(lead as char, lead_len);
    }
    if n == 0 {
        return Raw::Char('\u{FFFD}', lead_len);
    }
    let mut code = u32::from(lead) & (0x7F >> n);
    let mut len = lead_len;
    for _ in 1..n {
        match pct_byte(buf, pos + len, eof) {
            Ok(Some((b, l))) if b & 0xC0 == 0x80 => {
                code = (code << 6) | u32::from(b & 0x3F);
                len += l;
            }
            Ok(_) => return Raw::Char('\u{FFFD}', lead_len),
            Err(()) => return Raw::NeedMore,
        }
    }
    match char::from_u32(code) {
        // Overlong encodings and surrogates are not characters.
        Some(c) if c.len_utf8() == n => Raw::Char(c, len),
        _ => Raw::Char('\u{FFFD}', lead_len),
    }
}

/// Named character references worth decoding: the ones that can stand for
/// a digit separator, a sign, or an e-mail's `@` and `.`.
fn named_entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"nbsp" | b"NonBreakingSpace" => '\u{A0}',
        b"ensp" | b"emsp" | b"thinsp" | b"emsp13" | b"emsp14" | b"numsp" | b"puncsp" => ' ',
        b"shy" | b"zwnj" | b"zwj" | b"ZeroWidthSpace" | b"NoBreak" => '\u{AD}',
        b"amp" | b"AMP" => '&',
        b"lt" | b"LT" => '<',
        b"gt" | b"GT" => '>',
        b"quot" | b"QUOT" => '"',
        b"apos" => '\'',
        b"plus" => '+',
        b"commat" => '@',
        b"period" => '.',
        b"lpar" => '(',
        b"rpar" => ')',
        b"hyphen" | b"dash" | b"ndash" | b"mdash" | b"minus" => '-',
        b"numero" => '№',
        b"lowbar" | b"UnderBar" => '_',
        b"colon" => ':',
        b"comma" => ',',
        b"sol" => '/',
        b"bsol" => '\\',
        b"num" => '#',
        b"percnt" => '%',
        _ => return None,
    })
}

/// A plain `&` followed by plain letters and digits that do not end in
/// `;`: no reference, as in every `&name=` of a form body. The same test
/// [`entity`] makes first, taken before any decoding.
#[inline]
pub(crate) fn literal_amp(buf: &[u8], pos: usize) -> bool {
    if buf.get(pos) != Some(&b'&') {
        return false;
    }
    let rest = &buf[pos + 1..];
    if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    // The name ends within 21 bytes, at a byte that is not `;` or `%`.
    let name = &rest[..rest.len().min(22)];
    match name.iter().position(|b| !b.is_ascii_alphanumeric()) {
        Some(run) => name[run] != b';' && name[run] != b'%',
        None => name.len() == 22,
    }
}

/// Layer 2 over layer 1: HTML references and JSON/JS escapes.
fn escaped_char(buf: &[u8], pos: usize, eof: bool) -> Result<Option<(char, usize)>, ()> {
    let (c, l) = match raw_char(buf, pos, eof) {
        Raw::Char(c, l) => (c, l),
        Raw::End => return Ok(None),
        Raw::NeedMore => return Err(()),
    };
    match c {
        '&' => entity(buf, pos + l, eof).map(|r| Some(r.map_or((c, l), |(ch, el)| (ch, l + el)))),
        '\\' => {
            js_escape(buf, pos + l, eof).map(|r| Some(r.map_or((c, l), |(ch, el)| (ch, l + el))))
        }
        _ => Ok(Some((c, l))),
    }
}

/// Collects up to `max` ASCII characters of layer 1 while `keep` holds.
/// Returns the bytes, their raw length, and the character that stopped it.
fn take_ascii(
    buf: &[u8],
    mut pos: usize,
    eof: bool,
    max: usize,
    keep: impl Fn(u8) -> bool,
    out: &mut [u8; 32],
) -> Result<(usize, usize, Option<char>), ()> {
    let start = pos;
    let mut n = 0;
    loop {
        match raw_char(buf, pos, eof) {
            Raw::Char(c, l) if c.is_ascii() && keep(c as u8) && n < max => {
                out[n] = c as u8;
                n += 1;
                pos += l;
            }
            Raw::Char(c, _) => return Ok((n, pos - start, Some(c))),
            Raw::End => return Ok((n, pos - start, None)),
            Raw::NeedMore => return Err(()),
        }
    }
}

/// After `&`: a numeric or named character reference. `Ok(None)` means the
/// `&` stands for itself.
fn entity(buf: &[u8], pos: usize, eof: bool) -> Result<Option<(char, usize)>, ()> {
    let mut tmp = [0u8; 32];
    let (c, l) = match raw_char(buf, pos, eof) {
        Raw::Char(c, l) => (c, l),
        Raw::End => return Ok(None),
        Raw::NeedMore => return Err(()),
    };
    if c == '#' {
        let mut p = pos + l;
        let mut radix = 10;
        if let Raw::Char(x @ ('x' | 'X'), xl) = raw_char(buf, p, eof) {
            let _ = x;
            radix = 16;
            p += xl;
        } else if let Raw::NeedMore = raw_char(buf, p, eof) {
            return Err(());
        }
        let digits = |b: u8| {
            if radix == 16 {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        };
        let (n, dl, stop) = take_ascii(buf, p, eof, 8, digits, &mut tmp)?;
        if n == 0 || n == 8 {
            return Ok(None);
        }
        let mut end = p + dl;
        if stop == Some(';')
            && let Raw::Char(_, sl) = raw_char(buf, end, eof)
        {
            end += sl;
        }
        let code = tmp[..n].iter().fold(0u32, |acc, &b| {
            acc * radix + u32::from(hex_val(b).unwrap_or(0))
        });
        let ch = match code {
            0 => '\u{FFFD}',
            c => char::from_u32(c).unwrap_or('\u{FFFD}'),
        };
        return Ok(Some((ch, end - pos)));
    }
    if c.is_ascii_alphabetic() {
        if literal_amp(buf, pos - 1) {
            return Ok(None);
        }
        let (n, nl, stop) = take_ascii(buf, pos, eof, 20, |b| b.is_ascii_alphanumeric(), &mut tmp)?;
        if stop != Some(';') || n >= 20 {
            return Ok(None);
        }
        if let Some(ch) = named_entity(&tmp[..n]) {
            let sl = match raw_char(buf, pos + nl, eof) {
                Raw::Char(_, sl) => sl,
                _ => 1,
            };
            return Ok(Some((ch, nl + sl)));
        }
    }
    Ok(None)
}

/// After `\`: `\uXXXX`, `\xXX` or a one-character escape.
fn js_escape(buf: &[u8], pos: usize, eof: bool) -> Result<Option<(char, usize)>, ()> {
    let mut tmp = [0u8; 32];
    let (c, l) = match raw_char(buf, pos, eof) {
        Raw::Char(c, l) => (c, l),
        Raw::End => return Ok(None),
        Raw::NeedMore => return Err(()),
    };
    let want = match c {
        'u' => 4,
        'x' => 2,
        'n' | 'r' | 't' => return Ok(Some((' ', l))),
        '/' | '"' | '\'' | '\\' => return Ok(Some((c, l))),
        _ => return Ok(None),
    };
    let (n, hl, _) = take_ascii(buf, pos + l, eof, want, |b| b.is_ascii_hexdigit(), &mut tmp)?;
    if n != want {
        return Ok(None);
    }
    let code = tmp[..n].iter().fold(0u32, |acc, &b| {
        (acc << 4) | u32::from(hex_val(b).unwrap_or(0))
    });
    Ok(Some((char::from_u32(code).unwrap_or('\u{FFFD}'), l + hl)))
}

/// Layer 3: what a character means for detection.
#[inline]
pub fn normalize(c: char) -> Option<char> {
    Some(match c {
        '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
        '\u{1D7CE}'..='\u{1D7FF}' => char::from(b'0' + ((c as u32 - 0x1D7CE) % 10) as u8),
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        '\u{0966}'..='\u{096F}' => char::from(b'0' + (c as u32 - 0x0966) as u8),
        '\t'
        | '\n'
        | '\r'
        | '\u{A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => ' ',
        '\u{AD}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{180E}'
        | '\u{034F}' => return None,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        '\u{FF0B}' => '+',
        '\u{FF08}' => '(',
        '\u{FF09}' => ')',
        '\u{FF20}' | '\u{FE6B}' => '@',
        '\u{FF0E}' | '\u{3002}' => '.',
        _ => c,
    })
}

/// Plain ASCII that starts no escape: the common case, decoded inline.
#[inline(always)]
fn ascii_unit(buf: &[u8], pos: usize) -> Option<Step> {
    let b = *buf.get(pos)?;
    if b >= 0x80 || matches!(b, b'%' | b'&' | b'\\') {
        return None;
    }
    let ch = match b {
        b'\t' | b'\n' | b'\r' => ' ',
        _ => b as char,
    };
    Some(Step::Unit(Unit {
        ch,
        start: pos,
        end: pos + 1,
    }))
}

/// Decodes the next logical character at `pos`, skipping invisible ones.
#[inline(always)]
pub fn unit_at(buf: &[u8], pos: usize, eof: bool) -> Step {
    ascii_unit(buf, pos).unwrap_or_else(|| unit_slow(buf, pos, eof))
}

/// The characters and escapes met most, each tested only where its first
/// byte says it may stand, with a small stack frame; everything else in
/// [`unit_layers`].
#[inline(never)]
fn unit_slow(buf: &[u8], pos: usize, eof: bool) -> Step {
    let quick = match buf.get(pos) {
        // `&nbsp;` and `&amp;` first: neither is a literal `&`.
        Some(b'&') => common_entity(buf, pos).or_else(|| {
            literal_amp(buf, pos).then_some(Unit {
                ch: '&',
                start: pos,
                end: pos + 1,
            })
        }),
        Some(b'%') => pct_ascii(buf, pos).map(|ch| Unit {
            ch,
            start: pos,
            end: pos + 3,
        }),
        Some(0xC2..=0xF4) => plain_char(buf, pos),
        _ => None,
    };
    match quick {
        Some(u) => Step::Unit(u),
        None => unit_layers(buf, pos, eof),
    }
}

/// A visible non-ASCII character written plainly (a Cyrillic letter, `₽`,
/// `№`), all its bytes in the buffer: the layers would read it as it is,
/// normalised. Invisible characters are left to them, and so is every
/// byte sequence that is not well-formed UTF-8 (overlong, a surrogate,
/// past U+10FFFF, a continuation byte missing).
#[inline]
fn plain_char(buf: &[u8], pos: usize) -> Option<Unit> {
    let cont = |i: usize| {
        buf.get(pos + i)
            .filter(|&&b| b & 0xC0 == 0x80)
            .map(|&b| u32::from(b & 0x3F))
    };
    let lead = u32::from(*buf.get(pos)?);
    let (code, len) = match lead {
        0xC2..=0xDF => (((lead & 0x1F) << 6) | cont(1)?, 2),
        0xE0..=0xEF => (((lead & 0x0F) << 12) | (cont(1)? << 6) | cont(2)?, 3),
        0xF0..=0xF4 => (
            ((lead & 0x07) << 18) | (cont(1)? << 12) | (cont(2)? << 6) | cont(3)?,
            4,
        ),
        _ => return None,
    };
    // `from_u32` turns down surrogates and what lies past U+10FFFF; the
    // length turns down overlong forms.
    let ch = char::from_u32(code).filter(|c| c.len_utf8() == len)?;
    Some(Unit {
        ch: normalize(ch)?,
        start: pos,
        end: pos + len,
    })
}

/// `&nbsp;` and `&amp;`, the references HTML pages hold most, spelled
/// plainly: a space and an `&`, as [`entity`] reads them.
#[inline]
fn common_entity(buf: &[u8], pos: usize) -> Option<Unit> {
    let rest = buf.get(pos..)?;
    let (ch, len) = if rest.starts_with(b"&nbsp;") {
        (' ', 6)
    } else if rest.starts_with(b"&amp;") {
        ('&', 5)
    } else {
        return None;
    };
    Some(Unit {
        ch,
        start: pos,
        end: pos + len,
    })
}

#[inline(never)]
fn unit_layers(buf: &[u8], mut pos: usize, eof: bool) -> Step {
    loop {
        if let Some(step) = ascii_unit(buf, pos) {
            return step;
        }
        // Percent-encoded ASCII that starts no further escape (`%28`).
        if let Some(ch) = pct_ascii(buf, pos) {
            return Step::Unit(Unit {
                ch,
                start: pos,
                end: pos + 3,
            });
        }
        // A plain two-byte character (Cyrillic and the like).
        if let (Some(&l), Some(&c)) = (buf.get(pos), buf.get(pos + 1))
            && (0xC2..=0xDF).contains(&l)
            && c & 0xC0 == 0x80
        {
            let ch = char::from_u32((u32::from(l & 0x1F) << 6) | u32::from(c & 0x3F))
                .unwrap_or('\u{FFFD}');
            match normalize(ch) {
                Some(ch) => {
                    return Step::Unit(Unit {
                        ch,
                        start: pos,
                        end: pos + 2,
                    });
                }
                None => {
                    pos += 2;
                    continue;
                }
            }
        }
        // A percent-encoded two-byte character (`%D0%A1`): form bodies are
        // full of them.
        if let Some(ch) = pct_two_byte(buf, pos) {
            match normalize(ch) {
                Some(ch) => {
                    return Step::Unit(Unit {
                        ch,
                        start: pos,
                        end: pos + 6,
                    });
                }
                None => {
                    pos += 6;
                    continue;
                }
            }
        }
        match escaped_char(buf, pos, eof) {
            Ok(Some((c, l))) => match normalize(c) {
                Some(ch) => {
                    return Step::Unit(Unit {
                        ch,
                        start: pos,
                        end: pos + l,
                    });
                }
                None => pos += l,
            },
            Ok(None) => return Step::End,
            Err(()) => return Step::NeedMore,
        }
    }
}

/// `%XX` at `pos` spelling an ASCII character other than `&` and `\\`
/// (which start references and escapes), as layer 2 reads it.
#[inline]
fn pct_ascii(buf: &[u8], pos: usize) -> Option<char> {
    let w = buf.get(pos..pos + 3)?;
    if w[0] != b'%' {
        return None;
    }
    let v = (hex_val(w[1])? << 4) | hex_val(w[2])?;
    match v {
        0x80.. | b'&' | b'\\' => None,
        b'\t' | b'\n' | b'\r' => Some(' '),
        _ => Some(char::from(v)),
    }
}

/// `%XX%YY` at `pos` spelling a two-byte UTF-8 character, all six bytes
/// in the buffer.
#[inline]
fn pct_two_byte(buf: &[u8], pos: usize) -> Option<char> {
    let w = buf.get(pos..pos + 6)?;
    if w[0] != b'%' || w[3] != b'%' {
        return None;
    }
    let l = (hex_val(w[1])? << 4) | hex_val(w[2])?;
    let c = (hex_val(w[4])? << 4) | hex_val(w[5])?;
    if !(0xC2..=0xDF).contains(&l) || c & 0xC0 != 0x80 {
        return None;
    }
    char::from_u32((u32::from(l & 0x1F) << 6) | u32::from(c & 0x3F))
}

/// Decodes `buf[from..to]` (treating `to` as the end) into `out`, for
/// context windows. Units are appended with their raw spans.
pub fn decode_range(buf: &[u8], from: usize, to: usize, out: &mut Vec<Unit>) {
    let slice = &buf[..to];
    out.reserve(to.saturating_sub(from));
    let mut pos = from;
    loop {
        // Plain ASCII decodes to itself, a unit per byte.
        while let Some(Step::Unit(u)) = ascii_unit(slice, pos) {
            out.push(u);
            pos = u.end;
        }
        // Percent-encoded ASCII, and Cyrillic (which layer 3 leaves as it
        // is), as `unit_slow` reads them, in fewer steps.
        if slice.get(pos) == Some(&b'%') {
            let quick = pct_ascii(slice, pos).map(|c| (c, 3)).or_else(|| {
                pct_two_byte(slice, pos)
                    .filter(|c| ('\u{0400}'..='\u{04FF}').contains(c))
                    .map(|c| (c, 6))
            });
            if let Some((ch, len)) = quick {
                out.push(Unit {
                    ch,
                    start: pos,
                    end: pos + len,
                });
                pos += len;
                continue;
            }
        }
        match unit_slow(slice, pos, true) {
            Step::Unit(u) => {
                out.push(u);
                pos = u.end;
            }
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> (String, Vec<(usize, usize)>) {
        let mut v = Vec::new();
        decode_range(s.as_bytes(), 0, s.len(), &mut v);
        (
            v.iter().map(|u| u.ch).collect(),
            v.iter().map(|u| (u.start, u.end)).collect(),
        )
    }

    /// The shortcut for percent-encoded ASCII reads what the layers read.
    #[test]
    fn pct_ascii_agrees_with_layers() {
        let mut taken = 0;
        for v in 0u8..=255 {
            for tail in ["", "x", "#52;", "u0034", "amp;"] {
                let s = format!("%{v:02X}{tail}");
                let b = s.as_bytes();
                if let Some(ch) = pct_ascii(b, 0) {
                    taken += 1;
                    let Ok(Some((c, l))) = escaped_char(b, 0, true) else {
                        panic!("{s:?}: the layers read nothing");
                    };
                    assert_eq!((normalize(c), l), (Some(ch), 3), "{s:?}");
                }
            }
        }
        // Every ASCII byte but `&` and `\\`, after each tail.
        assert_eq!(taken, 126 * 5);
    }

    /// The hand decoder of plain characters reads what `str::from_utf8`
    /// reads: every sequence of one to three bytes from a byte that is no
    /// ASCII, and four-byte ones from every lead and first continuation,
    /// cut short or not.
    #[test]
    fn plain_char_agrees_with_from_utf8() {
        let reference = |b: &[u8]| -> Option<Unit> {
            let len = match b.first()? {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return None,
            };
            let ch = std::str::from_utf8(b.get(..len)?).ok()?.chars().next()?;
            Some(Unit {
                ch: normalize(ch)?,
                start: 0,
                end: len,
            })
        };
        let mut read = 0;
        let mut check = |b: &[u8]| {
            let got = plain_char(b, 0);
            assert_eq!(got, reference(b), "{b:02X?}");
            read += usize::from(got.is_some());
        };
        for lead in 0x80..=0xFFu8 {
            for c1 in 0..=0xFFu8 {
                check(&[lead, c1]);
                for c2 in 0..=0xFFu8 {
                    check(&[lead, c1, c2]);
                }
                if lead >= 0xF0 {
                    for tail in [[0x80, 0x80], [0xBF, 0xBF], [0x9D, 0x41], [0x80, 0xC0]] {
                        check(&[lead, c1, tail[0], tail[1]]);
                    }
                }
            }
        }
        // Every visible two- and three-byte character, once as it is and
        // once with a third byte after it, and some four-byte ones.
        assert!(read > 60_000, "{read}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// The shortcuts of [`unit_at`] (plain characters, common
        /// references, small escapes) read what the general layers read,
        /// at every position of every text.
        #[test]
        fn unit_at_agrees_with_layers(
            text in crate::detect::texts_of(vec![
                "a", "1", " ", "&", "%", "\\", ";", "#", "&nbsp;", "&amp;", "&amp;#52;", "&nbsp",
                "&ampx;", "&amp", "%26amp;", "&#52;", "%28", "%D0%A1", "С", "ё", "₽", "№",
                "\u{a0}", "\u{ad}", "\u{200b}", "\u{2009}", "\u{2212}", "\u{ff11}", "\u{1d7ce}",
                "\u{feff}", "😀",
            ], 0..12),
            eof in proptest::bool::ANY,
        ) {
            let buf = text.as_bytes();
            for pos in 0..=buf.len() {
                proptest::prop_assert_eq!(
                    unit_at(buf, pos, eof),
                    unit_layers(buf, pos, eof),
                    "at {} of {:?}", pos, text
                );
            }
        }

        /// Context windows decode, with their shortcuts, to exactly the
        /// units that [`unit_at`] reads one by one.
        #[test]
        fn decode_range_agrees_with_unit_at(
            text in crate::detect::texts_of(vec![
                "a", "Z", "1", " ", "+", "=", "&", "%", "\\", "%28", "%2B", "%26", "%5C", "%09",
                "%2523", "%D0%A1", "%d0%b8", "%D1%91", "%C2%A0", "%C2%AD", "%D9%A1", "%D0", "%A1",
                "%E2%80%8B", "%G1", "&#52;", "&nbsp;", "&amp;", "\\u0034", "С", "\u{a0}",
                "\u{ad}", "\u{ff11}", "\n",
            ], 0..16),
            cut in 0usize..4,
        ) {
            let buf = text.as_bytes();
            let from = cut.min(buf.len());
            let from = (from..=buf.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(buf.len());
            let mut fast = Vec::new();
            decode_range(buf, from, buf.len(), &mut fast);
            let mut slow = Vec::new();
            let mut pos = from;
            while let Step::Unit(u) = unit_at(buf, pos, true) {
                slow.push(u);
                pos = u.end;
            }
            let view = |v: &[Unit]| v.iter().map(|u| (u.ch, u.start, u.end)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(view(&fast), view(&slow));
        }
    }

    #[test]
    fn layers_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("plain", "a1", "a1"),
            ("percent", "%2B7", "+7"),
            ("percent utf8", "%D0%98", "И"),
            ("plus stays", "1+2", "1+2"),
            ("decimal entity", "&#52;&#53;", "45"),
            ("hex entity", "&#x34;", "4"),
            ("entity without semicolon", "&#52 ", "4 "),
            ("named nbsp", "1&nbsp;2", "1 2"),
            ("unknown named", "&foo;", "&foo;"),
            ("json escape", "\\u0034\\u0035", "45"),
            ("js hex escape", "\\x34", "4"),
            ("percent entity", "%26%2352%3B", "4"),
            ("fullwidth", "１２", "12"),
            ("zero width skipped", "1\u{200B}2", "12"),
            ("soft hyphen skipped", "1\u{AD}2", "12"),
            ("entity soft hyphen", "1&shy;2", "12"),
            ("nbsp", "1\u{A0}2", "1 2"),
            ("en dash", "1\u{2013}2", "1-2"),
            ("fullwidth at", "a\u{FF20}b", "a@b"),
            ("broken percent", "%G1", "%G1"),
            ("invalid utf8", "\u{0}", "\u{0}"),
        ];
        for (name, input, want) in cases {
            assert_eq!(decode(input).0, *want, "case {name}");
        }
    }

    #[test]
    fn spans_are_raw_offsets() {
        let (s, spans) = decode("%2B7&#52;");
        assert_eq!(s, "+74");
        assert_eq!(spans, vec![(0, 3), (3, 4), (4, 9)]);
    }

    #[test]
    fn need_more_at_buffer_end() {
        assert_eq!(unit_at(b"%2", 0, false), Step::NeedMore);
        assert_eq!(unit_at(b"&#5", 0, false), Step::NeedMore);
        assert_eq!(
            unit_at("\u{FF11}".as_bytes()[..2].as_ref(), 0, false),
            Step::NeedMore
        );
        assert_eq!(unit_at(b"", 0, false), Step::NeedMore);
        assert_eq!(unit_at(b"", 0, true), Step::End);
        // At the true end a dangling escape is just a character.
        assert!(matches!(
            unit_at(b"%2", 0, true),
            Step::Unit(Unit { ch: '%', .. })
        ));
    }

    #[test]
    fn invalid_bytes_make_progress() {
        let bytes = [0xFFu8, 0xC3, 0x28, 0xE2, 0x82];
        let mut pos = 0;
        let mut n = 0;
        while let Step::Unit(u) = unit_at(&bytes, pos, true) {
            assert!(u.end > u.start);
            pos = u.end;
            n += 1;
        }
        assert_eq!(pos, bytes.len());
        assert!(n >= 3);
    }
}
