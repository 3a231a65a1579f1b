//! Scanning: one call over a whole input, or a [`Scanner`] fed chunk by
//! chunk. Both run the same passes over the same bytes and report exactly
//! the same findings, whatever the chunk boundaries.
//!
//! How streaming stays exact: every decision reads a bounded window around
//! a position (at most [`RAW_WINDOW`] bytes before it, a bounded island or
//! match after it). When a decision would read past the end of the buffered
//! bytes and the input has not ended, the pass stops at that position and
//! waits for more. The buffer keeps [`RAW_WINDOW`] bytes before the lowest
//! position any pass still needs, so memory stays bounded.
//!
//! The hot path looks for *trigger* bytes only: ASCII digits, `@`, and the
//! first bytes of escapes (`%`, `&`, `\`) and of the other characters that
//! read as a digit or `@` (full-width forms; Arabic-Indic, Persian,
//! Devanagari and mathematical digits). Their bits
//! for the whole buffer come first, from SIMD ([`super::simd`]); everything
//! else is never looked at. Where the CPU has AVX-512 or AVX2, digits that
//! start a short run (a few digits before a byte that ends every island)
//! are left out of those bits: the loop would only skip them (see
//! `short_runs_are_skipped` below for why that is exact).

use super::Finding;
use super::category::{Builtin, Category, Format};
use super::context::{Hit, RAW_WINDOW, SHORT_WINDOW, Scratch};
use super::custom::CustomState;
use super::decode::{Step, hex_val, unit_at};
use super::email;
use super::engine::Engine;
use super::numbers::{self, Island, MAX_SEP_UNITS, Reading};
use super::simd::TriggerBits;
use super::table::{Advance, TableTracker};

/// Findings can start this many bytes before the position a pass has
/// reached (an e-mail's local part, a `+` before a phone).
const MAX_BACKWARD: u64 = (RAW_WINDOW / 2 + numbers::MAX_PREFIX) as u64;

/// The next trigger byte at or after `from`.
#[cfg(test)]
fn next_trigger(buf: &[u8], from: usize) -> Option<usize> {
    let mut bits = TriggerBits::default();
    bits.fill(buf, from, super::simd::Kernel::detect().exhaustive());
    bits.next(from)
}

/// What the hot loop can tell about a trigger without decoding it.
#[derive(Debug, PartialEq)]
enum Quick {
    /// Nothing to see: resume at this offset, with this `prev_word`.
    Skip(usize, bool),
    NeedMore,
    /// Decode and look.
    Decode,
    /// An island that can only read as a date (eight digits in three
    /// groups or more, no capital before it), ending at this offset.
    Date(usize),
}

/// Cheap checks at a trigger byte. A plain digit run shorter than any
/// identifier, followed by a byte that cannot continue an island, is
/// skipped whole; so are escapes that cannot stand for a digit or `@`.
/// Every skip is exactly what the full path would conclude.
#[inline]
fn quick_skip(buf: &[u8], t: usize, eof: bool) -> Quick {
    let b = buf[t];
    if b.is_ascii_digit() {
        return short_island(buf, t, eof);
    }
    match b {
        b'%' => {
            let (Some(&h), Some(&l)) = (buf.get(t + 1), buf.get(t + 2)) else {
                return if eof { Quick::Decode } else { Quick::NeedMore };
            };
            let (Some(h), Some(l)) = (hex_val(h), hex_val(l)) else {
                return Quick::Skip(t + 1, false);
            };
            let v = (h << 4) | l;
            if v.is_ascii_digit() || matches!(v, b'@' | b'&' | b'\\' | 0xEF | 0xF0) {
                Quick::Decode
            } else if two_byte_lead_of_no_digit(v) && pct_continuation(buf, t + 3) {
                // Two-byte characters (Cyrillic, NBSP, soft hyphen): never
                // a digit or `@`, never a letter of a glued word. Skip the
                // run.
                let mut p = t + 6;
                while pct_two_byte_lead(buf, p) && pct_continuation(buf, p + 3) {
                    p += 6;
                }
                Quick::Skip(p, false)
            } else if v >= 0x80 {
                // A multi-byte character: letters, punctuation, spaces.
                // Decode to keep its length right (it may be invisible).
                Quick::Decode
            } else {
                Quick::Skip(t + 3, v.is_ascii_alphabetic() || v == b'_')
            }
        }
        b'&' => match buf.get(t + 1) {
            None if !eof => Quick::NeedMore,
            Some(b'#' | b'c') => Quick::Decode,
            _ => Quick::Skip(t + 1, false),
        },
        _ => Quick::Decode,
    }
}

/// A quick walk of an island too short to hold an identifier.
///
/// It reads the same units as [`numbers::walk`] (through every decoding
/// layer) and ends the island where the walker would (a skip resumes after
/// the separators that trail its last group), but keeps only the
/// count of digits and groups. When the island holds fewer digits than any
/// identifier (ten; eight in three groups for a date), it is skipped whole:
/// the full walk would conclude the same; so is a single group longer than
/// any identifier (a session id), and so are ten digits or more split by
/// `/` into stretches too short for anything but a date. An island that
/// can only be a date comes back as [`Quick::Date`]. A capital before the
/// first digit (an ICD-10 code), stretches of ten digits or more, and a
/// passport series that the walker's own tests join to its number (a
/// connector word, a JSON field jump) are left to the full walk.
#[inline]
fn short_island(buf: &[u8], t: usize, eof: bool) -> Quick {
    if t > 0 && buf[t - 1].is_ascii_uppercase() {
        return Quick::Decode;
    }
    // The first group's plain digits, at once.
    let run = buf[t..].iter().take_while(|b| b.is_ascii_digit()).count();
    if run < 10 {
        let end = t + run;
        // The commonest date, `DD.MM.YYYY` (or with `/` or `-`) in plain
        // digits, ended by a byte that ends any island: what the walk below
        // concludes (eight digits in three groups), without it.
        if run == 2
            && let Some(&[s1, d0, d1, s2, y0, y1, y2, y3, e, ..]) = buf.get(end..)
            && matches!(s1, b'.' | b'/' | b'-')
            && s2 == s1
            && [d0, d1, y0, y1, y2, y3].iter().all(u8::is_ascii_digit)
            && ENDS_ISLAND[e as usize]
        {
            return Quick::Date(end + 8);
        }
        // Most short runs end at a byte that ends any island: `<`, `:`,
        // `=`.
        if buf.get(end).is_some_and(|&b| ENDS_ISLAND[b as usize]) {
            return Quick::Skip(end, false);
        }
        // Or at `&amp;` (in links above all), which reads as an `&` and so
        // ends any island: the walk below would decode it to conclude so.
        // It is skipped with the run: the loop would stop at its `&` only
        // to skip that byte (no `#` or `c` follows), and its other bytes
        // are no triggers.
        if buf[end..].starts_with(b"&amp;") {
            return Quick::Skip(end + 5, false);
        }
        // Or at separators and then a character that ends the island after
        // them, as in prices (`1 200&nbsp;₽`) and numbers in text (`№ 138.
        // пациент`): plain separators or one `&nbsp;`, then a byte of
        // `ENDS_ISLAND`, `₽`, or a Cyrillic letter. After four digits a
        // letter may start a connector word, and the walk below decides.
        let mut p = end;
        if buf[p..].starts_with(b"&nbsp;") {
            p += 6;
        } else {
            while p - end < MAX_SEP_UNITS as usize
                && buf
                    .get(p)
                    .is_some_and(|&b| super::simd::is_plain_separator(b))
            {
                p += 1;
            }
        }
        let ends = p > end
            && match buf.get(p..) {
                Some(&[b, ..]) if b.is_ascii() => {
                    ENDS_ISLAND[b as usize] && !(run == 4 && b.is_ascii_alphabetic())
                }
                Some(&[0xE2, 0x82, 0xBD, ..]) => true,
                Some(&[0xD0 | 0xD1, c, ..]) => c & 0xC0 == 0x80 && run != 4,
                _ => false,
            };
        if ends {
            return Quick::Skip(p, false);
        }
        // Or at one `/` and a second run that brings the island to ten
        // digits or more, then a byte of `ENDS_ISLAND`, or a `.` and a
        // Latin letter: a path of an upload (`/iblock/400/85707213.jpg`).
        // Digits split by `/` read only as a date, and two groups are none:
        // what the walk below concludes, within its bounds.
        if buf.get(end) == Some(&b'/') {
            let second = buf[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let q = end + 1 + second;
            if (1..10).contains(&second) && run + second >= 10 {
                match buf.get(q..) {
                    Some(&[b, ..]) if ENDS_ISLAND[b as usize] => return Quick::Skip(q, false),
                    Some(&[b'.', l, ..]) if l.is_ascii_alphabetic() => {
                        return Quick::Skip(q + 1, false);
                    }
                    _ => {}
                }
            }
        }
    }
    let mut p = t + run;
    let mut digits = run as u32;
    let mut groups = 1u32;
    let mut pending = 0u8;
    let mut last_end = p;
    if digits >= 10 {
        // One long group: longer than any identifier (twenty digits), and
        // one island (the walker stops at 48), it reads as nothing when
        // the island ends right after it (`sessid=…&`).
        if !(21..=numbers::MAX_DIGITS as u32).contains(&digits) {
            return Quick::Decode;
        }
        return match unit_at(buf, p, eof) {
            Step::NeedMore => Quick::NeedMore,
            Step::End => Quick::Skip(p, false),
            Step::Unit(u) if u.ch.is_ascii_digit() || numbers::separator(u.ch).is_some() => {
                Quick::Decode
            }
            Step::Unit(_) => Quick::Skip(p, false),
        };
    }
    // Groups joined across a `/` read only as a date, so every other
    // identifier lies in one stretch with no `/`: its digits so far, and
    // whether a `/` stands in the separator being read.
    let mut stretch = digits;
    let mut slash = false;
    // The lengths of the last three groups: a date is eight digits in
    // three groups.
    let mut last3 = [0u32, 0, digits];
    let mut may_be_date = false;
    loop {
        let u = match unit_at(buf, p, eof) {
            Step::NeedMore => return Quick::NeedMore,
            Step::End => break,
            Step::Unit(u) => u,
        };
        let c = u.ch;
        if c.is_ascii_digit() {
            // This group's plain digits, at once.
            let n = 1 + buf[u.end..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count() as u32;
            if pending > 0 {
                groups += 1;
                if slash {
                    stretch = 0;
                }
                last3 = [last3[1], last3[2], n];
            } else {
                last3[2] += n;
            }
            may_be_date |= groups >= 3 && last3.iter().sum::<u32>() == 8;
            pending = 0;
            slash = false;
            digits += n;
            stretch += n;
            p = u.end + n as usize - 1;
            last_end = p;
            // Past the walker's own bounds the islands differ: let it walk.
            if stretch >= 10
                || groups as usize >= numbers::MAX_GROUPS
                || digits as usize >= numbers::MAX_DIGITS
                || p - t >= numbers::MAX_RAW / 2
            {
                return Quick::Decode;
            }
            continue;
        }
        if let Some(bits) = numbers::separator(c) {
            if pending == MAX_SEP_UNITS {
                break;
            }
            pending += 1;
            slash |= bits == numbers::sep::SLASH;
            p = u.end;
        } else if digits == 4 && (c.is_alphabetic() || c == '"') {
            // Four digits may be a passport series, joined to its number by
            // a connector word or a JSON field jump: ask the walker's own
            // tests (a letter glued to the digits or a quote after a
            // separator joins nothing).
            let jump = match c {
                '"' if pending == 0 => numbers::field_jump(buf, p, eof),
                '"' => break,
                _ if pending == 0 && c.is_ascii_alphabetic() => break,
                _ => numbers::connector(buf, p, eof),
            }
            .map(|j| j.is_some());
            match jump {
                Err(()) => return Quick::NeedMore,
                Ok(true) => return Quick::Decode,
                Ok(false) => break,
            }
        } else {
            break;
        }
    }
    // Ten digits or more here were all split by `/`: only dates remain.
    let date = if digits >= 10 {
        may_be_date
    } else {
        !numbers::too_short(digits as usize, groups as usize)
    };
    if date {
        // A date counts only after a keyword, which is cheaper to test
        // than the walk.
        return Quick::Date(last_end);
    }
    // Resume at the unit that ended the island, past the separators after
    // its last group: visited, they would yield nothing (no separator
    // starts a finding), and the loop reads no word flag before a unit
    // that is not a digit. This spares a visit to the `&` of `&nbsp;`.
    Quick::Skip(p, false)
}

// The path shortcut of `short_island` (two groups, at most eighteen digits
// in nineteen bytes) stays within the walk's bounds.
const _: () =
    assert!(numbers::MAX_GROUPS > 2 && numbers::MAX_DIGITS > 18 && numbers::MAX_RAW / 2 > 19);

/// Plain ASCII bytes that end an island when they follow its first digit
/// run: no digit, separator (tabs and line breaks read as spaces), escape
/// or quote (a JSON field jump after four digits). A Latin letter there is
/// glued to the digits, which joins nothing.
const ENDS_ISLAND: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x80 {
        let c = b as u8;
        t[b] = !(c.is_ascii_digit()
            || numbers::separator(c as char).is_some()
            || matches!(c, b'\t' | b'\n' | b'\r' | b'%' | b'&' | b'\\' | b'"'));
        b += 1;
    }
    t
};

/// The lead byte of a two-byte UTF-8 character (0xC2 to 0xDF) that is
/// never a digit: all but 0xD9 (Arabic-Indic digits) and 0xDB (Persian
/// ones).
#[inline(always)]
fn two_byte_lead_of_no_digit(v: u8) -> bool {
    (0xC2..=0xDF).contains(&v) && !matches!(v, 0xD9 | 0xDB)
}

/// `%XX` at `i` with XX a [`two_byte_lead_of_no_digit`].
#[inline(always)]
fn pct_two_byte_lead(buf: &[u8], i: usize) -> bool {
    match buf.get(i..i + 3) {
        Some(&[b'%', h, l]) => {
            matches!((hex_val(h), hex_val(l)), (Some(h), Some(l)) if two_byte_lead_of_no_digit(h << 4 | l))
        }
        _ => false,
    }
}

/// `%XX` at `i` with XX a UTF-8 continuation byte (0x80 to 0xBF).
#[inline(always)]
fn pct_continuation(buf: &[u8], i: usize) -> bool {
    matches!(
        buf.get(i..i + 3),
        Some(&[b'%', b'8' | b'9' | b'A' | b'B' | b'a' | b'b', l]) if l.is_ascii_hexdigit()
    )
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// State of the built-in pass between feeds.
#[derive(Clone, Debug, Default)]
struct BuiltinState {
    cursor: u64,
    prev_word: bool,
    table: TableTracker,
}

/// Bytes whose trigger bits are computed at once: the loop then visits
/// them while the kernel has left them in the first-level data cache.
/// Counted from the cursor, so the windows of a scan follow each other
/// wherever an island took the loop.
const TRIGGER_WINDOW: usize = 8 * 1024;

/// The trigger bits of the window from `pos`, and what the kernel found
/// there of `<table` tags, for the table tracker.
#[inline]
fn fill(
    triggers: &mut TriggerBits,
    table: &mut TableTracker,
    e: &Engine,
    buf: &[u8],
    base: u64,
    pos: usize,
) {
    triggers.fill_to(buf, pos, pos.saturating_add(TRIGGER_WINDOW), e.kernel);
    if let Some(found) = triggers.table_open(buf) {
        let abs = |i: usize| base + i as u64;
        table.learn(buf, base, abs(pos), found.map(abs).map_err(abs));
    }
}

/// Per-scan working memory.
#[derive(Default, Debug)]
struct Work {
    scratch: Scratch,
    email: email::Scratch,
    readings: Vec<(usize, Reading)>,
    island: Island,
    triggers: TriggerBits,
}

/// The state of one scan: shared by [`Engine::scan`] and [`Scanner`].
#[derive(Debug)]
struct Passes {
    builtin: BuiltinState,
    custom: Vec<CustomState>,
    work: Work,
}

enum Outcome {
    Done(usize),
    NeedMore,
}

impl Passes {
    fn new(engine: &Engine) -> Passes {
        Passes {
            builtin: BuiltinState::default(),
            custom: vec![CustomState::default(); engine.custom.len()],
            work: Work::default(),
        }
    }

    /// Runs every pass over `buf` (absolute offset `base`).
    fn run(&mut self, e: &Engine, buf: &[u8], base: u64, eof: bool, out: &mut Vec<Finding>) {
        self.run_builtin(e, buf, base, eof, out);
        for (c, st) in e.custom.iter().zip(self.custom.iter_mut()) {
            let work = &mut self.work;
            c.run(st, buf, base, eof, &mut |m| {
                let text = &buf[m.start..m.end];
                let Some(value) = c.value(text) else { return };
                if c.allow_list.allows(&value) || e.allow.allows(&value) {
                    return;
                }
                let mut conf = c.confidence;
                if c.anchors.is_some() {
                    conf += e.context.keyword_boost;
                } else if let Some(h) =
                    e.keywords
                        .nearest(buf, 0, m.start, e.context.window, &mut work.scratch)
                {
                    match h.cue {
                        super::context::Cue::Custom(_) => conf += e.context.keyword_boost,
                        super::context::Cue::Noise => conf -= e.context.noise_penalty,
                        super::context::Cue::Builtin(_) => {}
                    }
                }
                let conf = conf.clamp(0.0, 1.0);
                if conf >= c.min_confidence {
                    out.push(Finding {
                        start: base + m.start as u64,
                        end: base + m.end as u64,
                        category: c.category.clone(),
                        detector: c.id.clone(),
                        format: None,
                        confidence: conf,
                        value,
                    });
                }
            });
        }
    }

    /// The lowest absolute offset any pass still needs to read from.
    fn low_water(&self) -> u64 {
        let mut low = self.builtin.cursor.min(self.builtin.table.pos);
        for c in &self.custom {
            low = low.min(c.cursor);
        }
        low
    }

    /// Every finding that starts before this offset has been produced.
    fn settled(&self) -> u64 {
        let mut low = self.builtin.cursor.saturating_sub(MAX_BACKWARD);
        for c in &self.custom {
            low = low.min(c.cursor);
        }
        low
    }

    fn run_builtin(
        &mut self,
        e: &Engine,
        buf: &[u8],
        base: u64,
        eof: bool,
        out: &mut Vec<Finding>,
    ) {
        let len = buf.len();
        let mut pos = (self.builtin.cursor.saturating_sub(base) as usize).min(len);
        // Borrowed out of the working memory for the loop, which lends
        // the rest of it to the island walk.
        let mut triggers = std::mem::take(&mut self.work.triggers);
        // The trigger bits of a window at a time, walked while its bytes
        // are still in the first-level cache (the kernel has read them).
        fill(&mut triggers, &mut self.builtin.table, e, buf, base, pos);
        loop {
            let Some(t) = triggers.next(pos) else {
                let to = triggers.end();
                if to > pos {
                    self.builtin.prev_word = is_word_byte(buf[to - 1]);
                    pos = to;
                }
                if pos >= len {
                    pos = len;
                    break;
                }
                fill(&mut triggers, &mut self.builtin.table, e, buf, base, pos);
                continue;
            };
            if t > pos {
                self.builtin.prev_word = is_word_byte(buf[t - 1]);
            }
            pos = t;
            let gated = match quick_skip(buf, t, eof) {
                Quick::Skip(next, word) => {
                    self.builtin.prev_word = word;
                    pos = next;
                    continue;
                }
                Quick::NeedMore => break,
                Quick::Decode => false,
                Quick::Date(end) => {
                    if !self.date_may_count(e, buf, base, t, eof) {
                        self.builtin.prev_word = false;
                        pos = end;
                        continue;
                    }
                    true
                }
            };
            let u = match unit_at(buf, t, eof) {
                Step::NeedMore => break,
                Step::End => {
                    pos = len;
                    break;
                }
                Step::Unit(u) => u,
            };
            if u.ch.is_ascii_digit() {
                match self.island(e, buf, base, t, eof, gated, out) {
                    Outcome::NeedMore => break,
                    Outcome::Done(end) => pos = end,
                }
            } else if u.ch == '@' {
                if !e.builtins[Builtin::Email.index()].enabled {
                    pos = u.end;
                    continue;
                }
                match email::read(buf, 0, u, eof, &mut self.work.email) {
                    email::Found::NeedMore => break,
                    email::Found::None => pos = u.end,
                    email::Found::Email(m) => {
                        pos = m.end.max(u.end);
                        let conf = e.confidence[Format::EmailPlain.index()];
                        let cfg = &e.builtins[Builtin::Email.index()];
                        if conf >= cfg.min_confidence && !e.allowed(Builtin::Email, &m.value) {
                            out.push(Finding {
                                start: base + m.start as u64,
                                end: base + m.end as u64,
                                category: Category::Builtin(Builtin::Email),
                                detector: cfg.id.clone(),
                                format: Some(Format::EmailPlain),
                                confidence: conf,
                                value: m.value,
                            });
                        }
                    }
                }
                self.builtin.prev_word = false;
            } else {
                self.builtin.prev_word = u.ch.is_ascii_alphabetic() || u.ch == '_';
                pos = u.end;
            }
        }
        self.work.triggers = triggers;
        self.builtin.cursor = base + pos as u64;
        // Keep the table tracker level with the cursor.
        let _ = self
            .builtin
            .table
            .advance(buf, base, self.builtin.cursor, eof, &e.keywords);
    }

    /// Whether a date island at digit `t` can be reported: dates count only
    /// after their keywords, in the text before them or in the header of
    /// their table column. `false` is exactly what [`Passes::island`]
    /// would conclude; `true` sends the island there.
    fn date_may_count(&mut self, e: &Engine, buf: &[u8], base: u64, t: usize, eof: bool) -> bool {
        if !e.builtins[Builtin::BirthDate.index()].enabled {
            return false;
        }
        if let Advance::NeedMore =
            self.builtin
                .table
                .advance(buf, base, base + t as u64, eof, &e.keywords)
        {
            return true;
        }
        let ctx_pos = numbers::plus_before(buf, 0, t).unwrap_or(t);
        self.in_short_column()
            || e.short_gate
                .may_match_text(buf, ctx_pos.saturating_sub(SHORT_WINDOW), ctx_pos)
    }

    /// The table column the tracker is in is headed by a date or
    /// diagnosis keyword.
    fn in_short_column(&self) -> bool {
        matches!(
            self.builtin.table.current(),
            Some((
                super::context::Cue::Builtin(Builtin::BirthDate | Builtin::Diagnosis),
                _
            ))
        )
    }

    /// Handles the island starting at digit `t`. `gated`: the island has
    /// passed [`Passes::date_may_count`], so its keyword gate need not run
    /// again (when that passed because the table tracker needs more bytes,
    /// this stops at the same tracker first).
    #[allow(clippy::too_many_arguments)]
    fn island(
        &mut self,
        e: &Engine,
        buf: &[u8],
        base: u64,
        t: usize,
        eof: bool,
        gated: bool,
        out: &mut Vec<Finding>,
    ) -> Outcome {
        let isl = &mut self.work.island;
        if numbers::walk(buf, 0, t, eof, self.builtin.prev_word, isl).is_err() {
            return Outcome::NeedMore;
        }
        let isl = &self.work.island;
        self.builtin.prev_word = false;
        let total: usize = isl.groups[..isl.n].iter().map(|g| g.len as usize).sum();
        // ICD-10 codes have two to four digits after their letter.
        let icd = isl.icd_letter.is_some() && total <= 4;
        if numbers::too_short(total, isl.n) && !icd {
            return Outcome::Done(isl.end);
        }
        let readings = &mut self.work.readings;
        readings.clear();
        // Digits from each group to the island's end: a run of fewer than
        // eight reads as nothing (but an ICD-10 code, from the first group).
        let mut rest = total;
        for i in 0..isl.n {
            let here = rest;
            rest -= isl.groups[i].len as usize;
            if here < 8 && !(i == 0 && icd) {
                break;
            }
            numbers::readings(isl, i, e.year2, &mut |r| {
                if e.builtins[r.format.builtin().index()].enabled {
                    readings.push((i, r));
                }
            });
        }
        if readings.is_empty() {
            return Outcome::Done(isl.end);
        }
        // Context, once per island.
        if let Advance::NeedMore =
            self.builtin
                .table
                .advance(buf, base, base + t as u64, eof, &e.keywords)
        {
            return Outcome::NeedMore;
        }
        let ctx_pos = isl.plus.unwrap_or(t);
        let short =
            self.work.readings.iter().all(|(_, r)| {
                matches!(r.format.builtin(), Builtin::BirthDate | Builtin::Diagnosis)
            });
        let raw_window = if short { SHORT_WINDOW } else { RAW_WINDOW };
        if short {
            // Dates and codes count only after their keywords (in the text
            // or the column header): test for them cheaply first, unless
            // the quick walk's date path just did.
            let from = ctx_pos.saturating_sub(SHORT_WINDOW);
            if !gated && !self.in_short_column() && !e.short_gate.may_match(buf, from, ctx_pos) {
                return Outcome::Done(isl.end);
            }
        }
        let hit = e.keywords.nearest_within(
            buf,
            0,
            ctx_pos,
            e.context.window,
            raw_window,
            &mut self.work.scratch,
        );
        let cue = match (hit, self.builtin.table.current()) {
            (Some(h), Some((col, cell))) if base + (h.raw_start as u64) < cell => Some(Hit {
                cue: col,
                distance: 0,
                raw_start: h.raw_start,
            }),
            (None, Some((col, _))) => Some(Hit {
                cue: col,
                distance: 0,
                raw_start: t,
            }),
            (h, _) => h,
        };
        let mut i = 0;
        while i < isl.n {
            let mut best: Option<(f32, Reading)> = None;
            for (_, r) in self.work.readings.iter().filter(|(g, _)| *g == i) {
                let b = r.format.builtin();
                let score = e.score(r.format, cue);
                if score < e.builtins[b.index()].min_confidence {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((s, br)) => score > *s || (score == *s && r.groups > br.groups),
                };
                if better {
                    best = Some((score, *r));
                }
            }
            match best {
                Some((score, r)) => {
                    let b = r.format.builtin();
                    let value = if r.format == Format::DiagnosisIcd10 {
                        super::decoded_text(&String::from_utf8_lossy(&buf[r.start..r.end]))
                            .to_uppercase()
                            .into()
                    } else {
                        r.value_str()
                    };
                    if !e.allowed(b, &value) {
                        out.push(Finding {
                            start: base + r.start as u64,
                            end: base + r.end as u64,
                            category: b.category(),
                            detector: e.builtins[b.index()].id.clone(),
                            format: Some(r.format),
                            confidence: score,
                            value,
                        });
                    }
                    i += r.groups as usize;
                }
                None => i += 1,
            }
        }
        Outcome::Done(isl.end)
    }
}

fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.start, a.end, &a.category, &a.detector).cmp(&(b.start, b.end, &b.category, &b.detector))
    });
}

impl Engine {
    /// Scans a whole input at once.
    pub fn scan(&self, input: &[u8]) -> Vec<Finding> {
        let mut passes = Passes::new(self);
        let mut out = Vec::new();
        passes.run(self, input, 0, true, &mut out);
        sort(&mut out);
        out
    }

    /// Starts a streaming scan.
    pub fn scanner(&self) -> Scanner<&Engine> {
        Scanner::new(self)
    }
}

impl<E: std::ops::Deref<Target = Engine>> Scanner<E> {
    /// A streaming scan that holds its engine: `&Engine`, or an
    /// `Arc<Engine>` for a scan that outlives the caller's borrow (a
    /// response body in the proxy).
    pub fn new(engine: E) -> Scanner<E> {
        let passes = Passes::new(&engine);
        Scanner {
            engine,
            passes,
            buf: Vec::new(),
            base: 0,
            pending: Vec::new(),
            done: false,
        }
    }
}

/// A streaming scan: feed chunks, then [`finish`](Scanner::finish).
///
/// Findings come out in order of their start, each once, with absolute
/// offsets into the whole stream. Memory is bounded by the chunk size plus a
/// fixed window.
#[derive(Debug)]
pub struct Scanner<E> {
    engine: E,
    passes: Passes,
    buf: Vec<u8>,
    base: u64,
    pending: Vec<Finding>,
    done: bool,
}

impl<E: std::ops::Deref<Target = Engine>> Scanner<E> {
    /// Scans the next chunk; appends findings that are final to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Finding>) {
        if self.done {
            return;
        }
        // Nothing carried over: scan the chunk where it lies, and keep only
        // the tail a pass may read again.
        let in_place = self.buf.is_empty();
        if !in_place {
            self.buf.extend_from_slice(chunk);
        }
        let data = if in_place { chunk } else { &self.buf[..] };
        self.passes
            .run(&self.engine, data, self.base, false, &mut self.pending);
        self.release(out);
        // Drop what no pass will read again.
        let keep_from = self.keep_from();
        let drop = (keep_from - self.base) as usize;
        if in_place {
            self.buf.extend_from_slice(&chunk[drop..]);
        } else if drop > 0 {
            self.buf.drain(..drop);
        }
        self.base = keep_from;
    }

    /// The first absolute offset a pass may still read.
    fn keep_from(&self) -> u64 {
        self.passes
            .low_water()
            .saturating_sub(RAW_WINDOW as u64)
            .max(self.base)
    }

    /// Ends the input; appends the remaining findings to `out`.
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        if self.done {
            return;
        }
        self.done = true;
        self.passes
            .run(&self.engine, &self.buf, self.base, true, &mut self.pending);
        sort(&mut self.pending);
        out.append(&mut self.pending);
        self.buf.clear();
    }

    /// Every finding that starts before this absolute offset has already
    /// been returned. Bytes before it can be released downstream once their
    /// findings are acted on.
    pub fn settled(&self) -> u64 {
        if self.done {
            u64::MAX
        } else {
            self.passes.settled()
        }
    }

    /// Bytes held for look-behind and unfinished candidates.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn release(&mut self, out: &mut Vec<Finding>) {
        let settled = self.passes.settled();
        sort(&mut self.pending);
        let n = self.pending.partition_point(|f| f.start < settled);
        out.extend(self.pending.drain(..n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the full walk concludes at the digit `t`: `Some(end)` when
    /// the island reads as no identifier and scanning resumes at `end`.
    fn full_walk_skips(buf: &[u8], t: usize) -> Option<usize> {
        let mut isl = Island::default();
        let prev_word = t > 0 && is_word_byte(buf[t - 1]);
        numbers::walk(buf, 0, t, true, prev_word, &mut isl).ok()?;
        let total: usize = isl.groups[..isl.n].iter().map(|g| g.len as usize).sum();
        let icd = isl.icd_letter.is_some() && total <= 4;
        if numbers::too_short(total, isl.n) && !icd {
            return Some(isl.end);
        }
        let mut any = false;
        for i in 0..isl.n {
            numbers::readings(&isl, i, 26, &mut |_| any = true);
        }
        (!any).then_some(isl.end)
    }

    /// Where the full walk from the digit `t` ends, and the formats of
    /// every reading of its island.
    fn full_walk_readings(buf: &[u8], t: usize) -> (usize, Vec<Format>) {
        let mut isl = Island::default();
        let prev_word = t > 0 && is_word_byte(buf[t - 1]);
        assert!(numbers::walk(buf, 0, t, true, prev_word, &mut isl).is_ok());
        let mut formats = Vec::new();
        for i in 0..isl.n {
            numbers::readings(&isl, i, 26, &mut |r| formats.push(r.format));
        }
        (isl.end, formats)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Every island the quick walk skips, the full walk skips too, and
        /// both resume at the same byte, or the quick walk after separators
        /// only, or right after the `&amp;` that ends the island (at whose
        /// `&` the loop would only skip that byte).
        #[test]
        fn short_island_agrees_with_walk(
            text in crate::detect::texts_of(vec![
                "0", "1", "12", "345", "2024", "9", "1234567890", "77649064596303209809607128682525",
                "776490645963032098096071286825257764906459630320980960712868252577", " ", "-", ".", "(", ")", "+", "/", "#",
                "№", "&nbsp;", "&#8209;", "%20", "%2D", "\\u0020", "\u{a0}", "\u{200b}",
                "\u{ff11}", "\u{661}", "%D9%A1", "\u{6f1}", "\u{967}", "&amp;", "&", "%", "\\", "\"",
                ",", "a", "N", "C", "номер", "н", "д", "₽", "\n", "\t", "<td>", "&#49;", "%31", "@", "_",
                "\", \"number\": \"", "\",\"nomer\":\"", "\", \"city\": \"", "12.05.", "2024", "No", "г.", "/12/05/1980/",
                "/400/85707213.", "12/", "/", "//",
            ], 1..24),
        ) {
            let buf = text.as_bytes();
            for t in (0..buf.len()).filter(|&i| buf[i].is_ascii_digit()) {
                match short_island(buf, t, true) {
                    Quick::Skip(end, word) => {
                        proptest::prop_assert!(!word);
                        let walk_end = full_walk_skips(buf, t);
                        proptest::prop_assert!(walk_end.is_some(), "{:?} at {}", text, t);
                        let mut at = walk_end.unwrap_or(end);
                        if buf[at..].starts_with(b"&amp;") && at + 5 == end {
                            at = end;
                        }
                        while at < end {
                            let Step::Unit(u) = unit_at(buf, at, true) else {
                                proptest::prop_assert!(false, "{:?} at {}: no unit at {}", text, t, at);
                                unreachable!();
                            };
                            proptest::prop_assert!(
                                numbers::separator(u.ch).is_some(),
                                "{:?} at {}: {:?} between {:?} and {}", text, t, u.ch, walk_end, end
                            );
                            at = u.end;
                        }
                        proptest::prop_assert_eq!(at, end, "{:?} at {}", text, t);
                    }
                    Quick::Date(end) => {
                        let (walk_end, formats) = full_walk_readings(buf, t);
                        proptest::prop_assert_eq!(walk_end, end, "{:?} at {}", text, t);
                        proptest::prop_assert!(
                            formats.iter().all(|f| f.builtin() == Builtin::BirthDate),
                            "{:?} at {}: {:?}", text, t, formats
                        );
                    }
                    Quick::Decode | Quick::NeedMore => {}
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Why a kernel may leave out the digits of short runs: the loop
        /// would skip the island at such a digit with no side effect, to a
        /// byte before which every digit is left out too (so the next
        /// trigger the loop meets is the same), whether the input has
        /// ended or not.
        #[test]
        fn short_runs_are_skipped(
            text in crate::detect::texts_of(vec![
                "0", "12", "345", "2024", "1234567", "12345678", " ", "-", ".", "(", ")", "+", "/",
                "#", "\t", "\n", "\r", "№", "&nbsp;", "%20", "\u{a0}", "&amp;", "&", "%", "\\",
                "\"", ",", "<", "=", "a", "N", "C", "номер", "серия", "г.", "@", "_", "\u{ff11}",
                "\", \"number\": \"", "\",\"nomer\":\"", "12.05.", "/12/05/1980/",
            ], 1..24),
        ) {
            let buf = text.as_bytes();
            for t in (0..buf.len()).filter(|&i| super::super::simd::short_run(buf, i)) {
                for eof in [false, true] {
                    let Quick::Skip(end, word) = short_island(buf, t, eof) else {
                        proptest::prop_assert!(false, "{:?} at {}: {:?}", text, t, short_island(buf, t, eof));
                        unreachable!();
                    };
                    proptest::prop_assert!(!word);
                    for d in (t..end).filter(|&i| buf[i].is_ascii_digit()) {
                        proptest::prop_assert!(super::super::simd::short_run(buf, d), "{:?} at {}", text, d);
                    }
                    // The loop resumes after a digit or a separator: when it
                    // next stops, at `end` or later, the word flag it
                    // recomputes from the byte before is the skip's own
                    // `false`.
                    proptest::prop_assert!(end > t && !is_word_byte(buf[end - 1]));
                }
            }
        }
    }

    /// Every byte [`ENDS_ISLAND`] lists ends the island for the full walk
    /// too, whatever digits, separators and words follow it.
    #[test]
    fn ends_island_agrees_with_walk() {
        let tails = [
            "",
            "5",
            " 55 555 5555",
            "-12-34",
            "\", \"number\": \"123456\"",
            "номер 123456",
        ];
        for b in (0..0x80u8).filter(|&b| ENDS_ISLAND[b as usize]) {
            for run in 1..10 {
                for tail in tails {
                    let mut text = "4".repeat(run).into_bytes();
                    text.push(b);
                    text.extend_from_slice(tail.as_bytes());
                    assert_eq!(short_island(&text, 0, true), Quick::Skip(run, false));
                    assert_eq!(full_walk_skips(&text, 0), Some(run), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn pct_continuation_reads_every_byte() {
        for v in 0u8..=255 {
            for s in [format!("%{v:02X}"), format!("%{v:02x}")] {
                assert_eq!(pct_continuation(s.as_bytes(), 0), v & 0xC0 == 0x80, "{s}");
                assert_eq!(
                    pct_two_byte_lead(s.as_bytes(), 0),
                    (0xC2..=0xDF).contains(&v) && !matches!(v, 0xD9 | 0xDB),
                    "{s}"
                );
            }
        }
        assert!(!pct_two_byte_lead(b"%D", 0));
        assert!(!pct_continuation(b"%8", 0));
        assert!(!pct_continuation(b"%8G", 0));
        assert!(!pct_continuation(b"x%80", 0));
    }

    #[test]
    fn next_trigger_finds_first() {
        let s = b"abcdefghijklmnop7qrs";
        assert_eq!(next_trigger(s, 0), Some(16));
        assert_eq!(next_trigger(b"abc", 0), None);
        assert_eq!(next_trigger(b"a%c", 0), Some(1));
    }
}
