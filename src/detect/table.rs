//! HTML table columns as context.
//!
//! An admin export lists patients in a table whose header row says
//! «СНИЛС», «Полис ОМС», «Карта оплаты», far from the cells themselves. The
//! tracker follows `<table>`, `<tr>`, `<td>`/`<th>` tags as the scanner
//! passes them, remembers what each header cell announces (as a keyword
//! [`Cue`]), and tells which column a candidate sits in.
//!
//! It reads only tags that start with `<t` or `</t`, found with `memchr`,
//! and keeps a fixed amount of state, so it streams in bounded memory.
//! Outside a table it jumps to the next `<table`: where the trigger kernel
//! of AVX-512VBMI ran, it already knows where that is from the kernel's
//! pass over the bytes ([`TableTracker::learn`]); else it searches ahead.

use super::context::{Cue, KeywordIndex};

const MAX_COLUMNS: usize = 48;
const MAX_TAG: usize = 512;
const MAX_LABEL: usize = 96;

#[derive(Clone, Debug)]
pub struct TableTracker {
    /// Absolute offset up to which tags have been read.
    pub pos: u64,
    in_table: bool,
    row: i32,
    col: i32,
    /// Absolute offset of the start of the current cell, while in one.
    cell_start: Option<u64>,
    labels: [Option<Cue>; MAX_COLUMNS],
    /// Absolute offset before which no `<table` starts at or after `pos`
    /// (found by a search that ran ahead to the end of the buffer).
    no_table_before: u64,
}

impl Default for TableTracker {
    fn default() -> Self {
        TableTracker {
            pos: 0,
            in_table: false,
            row: -1,
            col: -1,
            cell_start: None,
            labels: [None; MAX_COLUMNS],
            no_table_before: 0,
        }
    }
}

/// Outcome of advancing the tracker.
pub enum Advance {
    Done,
    NeedMore,
}

impl TableTracker {
    /// The column label of the cell at the tracker's position, with the
    /// cell's absolute start.
    pub fn current(&self) -> Option<(Cue, u64)> {
        let start = self.cell_start?;
        if !self.in_table || self.row < 1 {
            return None;
        }
        let col = usize::try_from(self.col).ok()?;
        self.labels.get(col).copied().flatten().map(|c| (c, start))
    }

    /// Takes what a search ahead found (the trigger kernel's, see
    /// [`super::simd::TriggerBits::table_open`]): from absolute offset
    /// `from`, no `<table` starts before `found`, the absolute offset of
    /// the first one, or else before `reach`. Kept only outside a table and
    /// where it joins what is known already, the bytes in between (an
    /// island's end past the search before) being looked at here when
    /// they are few; else the tracker searches for itself, as it would.
    pub fn learn(&mut self, buf: &[u8], base: u64, from: u64, found: Result<u64, u64>) {
        const MAX_GAP: u64 = 512;
        if self.in_table {
            return;
        }
        let known = self.no_table_before.max(self.pos);
        if known < from {
            if from - known > MAX_GAP || known < base || from - base + 5 > buf.len() as u64 {
                return;
            }
            // A tag that starts before `from` may end after it.
            let start = (known - base) as usize;
            let end = (from - base) as usize + 5;
            if let Some(i) = super::simd::find_table_open(&buf[start..end]) {
                self.no_table_before = base + (start + i) as u64;
                return;
            }
        }
        let bound = match found {
            Ok(at) | Err(at) => at,
        };
        self.no_table_before = self.no_table_before.max(bound);
    }

    /// Reads the tags in `buf` from the tracker's position up to absolute
    /// offset `until`. `base` is the absolute offset of `buf[0]`.
    #[inline]
    pub fn advance(
        &mut self,
        buf: &[u8],
        base: u64,
        until: u64,
        eof: bool,
        keywords: &KeywordIndex,
    ) -> Advance {
        let from = (self.pos.saturating_sub(base)) as usize;
        let to = (until.saturating_sub(base) as usize).min(buf.len());
        if from >= to {
            return Advance::Done;
        }
        // Outside a table, up to where no `<table` starts: nothing to read.
        if !self.in_table && base + (to as u64) <= self.no_table_before {
            self.pos = base + to as u64;
            return Advance::Done;
        }
        self.read_tags(buf, base, from, to, eof, keywords)
    }

    #[inline(never)]
    fn read_tags(
        &mut self,
        buf: &[u8],
        base: u64,
        from: usize,
        to: usize,
        eof: bool,
        keywords: &KeywordIndex,
    ) -> Advance {
        let mut next = from;
        while next < to {
            // Outside a table no tag matters until the next `<table`: jump.
            if !self.in_table {
                if base + (to as u64) <= self.no_table_before {
                    break;
                }
                // Search once to the end of what is buffered, from where
                // none is known to start, and remember how far there is
                // none: islands come every few bytes.
                let known = (self.no_table_before.saturating_sub(base) as usize).clamp(next, to);
                match super::simd::find_table_open(&buf[known..]) {
                    Some(i) => {
                        self.no_table_before = base + (known + i) as u64;
                        if known + i < to {
                            next = known + i;
                        } else {
                            break;
                        }
                    }
                    None => {
                        // A `<table` may still start in the last five
                        // bytes, once more of it arrives: the tracker
                        // stays before them, so that they are kept and
                        // looked at again.
                        let rest = buf.len().saturating_sub(5).max(known);
                        self.no_table_before = base + rest as u64;
                        self.pos = base + rest.min(to) as u64;
                        return Advance::Done;
                    }
                }
            }
            let Some(i) = memchr::memchr(b'<', &buf[next..to]) else {
                break;
            };
            let at = next + i;
            next = at + 1;
            // Most tags are not ours: look at the next bytes before parsing.
            let next = buf.get(at + 1).copied();
            let ours = match next {
                Some(b't' | b'T') => true,
                Some(b'/') => matches!(buf.get(at + 2), Some(b't' | b'T') | None),
                None => true,
                _ => false,
            };
            if !ours {
                continue;
            }
            match self.tag(buf, at, eof, keywords, base) {
                Some(()) => {}
                None => {
                    self.pos = base + at as u64;
                    return Advance::NeedMore;
                }
            }
        }
        self.pos = base + to as u64;
        Advance::Done
    }

    /// Handles the tag at `buf[at] == '<'`. `None` means more bytes are needed.
    fn tag(
        &mut self,
        buf: &[u8],
        at: usize,
        eof: bool,
        keywords: &KeywordIndex,
        base: u64,
    ) -> Option<()> {
        let rest = &buf[at + 1..];
        let (closing, name) = match rest.first() {
            Some(b'/') => (true, &rest[1..]),
            Some(_) => (false, rest),
            None if eof => return Some(()),
            None => return None,
        };
        let name_len = name
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(name.len());
        if name_len == name.len() && !eof {
            // The name may go on: wait only if it could still be ours.
            let ours = ["td", "th", "tr", "table"].iter().any(|t| {
                t.len() >= name.len() && t.as_bytes()[..name.len()].eq_ignore_ascii_case(name)
            });
            return if ours { None } else { Some(()) };
        }
        let name = &name[..name_len];
        let kind = if name.eq_ignore_ascii_case(b"td") {
            Tag::Cell
        } else if name.eq_ignore_ascii_case(b"th") {
            Tag::HeaderCell
        } else if name.eq_ignore_ascii_case(b"tr") {
            Tag::Row
        } else if name.eq_ignore_ascii_case(b"table") {
            Tag::Table
        } else {
            return Some(());
        };
        if closing {
            match kind {
                Tag::Table => {
                    self.in_table = false;
                    self.cell_start = None;
                }
                _ => self.cell_start = None,
            }
            return Some(());
        }
        match kind {
            Tag::Table => {
                self.in_table = true;
                self.row = -1;
                self.col = -1;
                self.cell_start = None;
                self.labels = [None; MAX_COLUMNS];
            }
            Tag::Row => {
                self.row = self.row.saturating_add(1);
                self.col = -1;
                self.cell_start = None;
            }
            Tag::Cell | Tag::HeaderCell => {
                self.col = self.col.saturating_add(1);
                self.cell_start = Some(base + at as u64);
                let header = self.row <= 0 || matches!(kind, Tag::HeaderCell);
                if header && self.in_table {
                    let label = label_after(buf, at, eof)?;
                    if let Ok(col) = usize::try_from(self.col)
                        && col < MAX_COLUMNS
                    {
                        self.labels[col] = label.and_then(|t| keywords.classify(t));
                    }
                    if self.row < 0 {
                        self.row = 0;
                    }
                }
            }
        }
        Some(())
    }
}

enum Tag {
    Table,
    Row,
    Cell,
    HeaderCell,
}

/// The text of a header cell: after the tag's `>`, up to the next `<`.
/// `None` means more bytes are needed; `Some(None)`, no usable label.
fn label_after(buf: &[u8], at: usize, eof: bool) -> Option<Option<&str>> {
    let window = &buf[at..buf.len().min(at + MAX_TAG + MAX_LABEL)];
    let Some(gt) = memchr::memchr(b'>', &window[..window.len().min(MAX_TAG)]) else {
        return if window.len() < MAX_TAG && !eof {
            None
        } else {
            Some(None)
        };
    };
    let text = &window[gt + 1..];
    let end = memchr::memchr(b'<', text);
    let text = match end {
        Some(e) => &text[..e],
        None if text.len() < MAX_LABEL && !eof => return None,
        None => &text[..text.len().min(MAX_LABEL)],
    };
    Some(std::str::from_utf8(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::category::Builtin;

    #[test]
    fn columns_follow_header_row() {
        let html = "<table><thead><tr><td>№</td><td>Полис ОМС</td><td>Карта оплаты</td></tr></thead>\
                    <tbody><tr><td>1</td><td>X</td><td>Y";
        columns_follow(html);
        // Tag names in any case, as older templates write them.
        let mut upper = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            in_tag = (in_tag || c == '<') && c != '>';
            upper.push(if in_tag { c.to_ascii_uppercase() } else { c });
        }
        assert!(upper.starts_with("<TABLE><THEAD><TR><TD>") && upper.ends_with("</TD><TD>Y"));
        columns_follow(&upper);
        columns_follow(&html.replace("<table", "<Table"));
    }

    fn columns_follow(html: &str) {
        let kw = KeywordIndex::new(&[
            ("полис".into(), Cue::Builtin(Builtin::Oms)),
            ("карта".into(), Cue::Builtin(Builtin::Card)),
        ])
        .unwrap();
        let mut t = TableTracker::default();
        let x = html.rfind('X').unwrap() as u64;
        assert!(matches!(
            t.advance(html.as_bytes(), 0, x, true, &kw),
            Advance::Done
        ));
        assert_eq!(
            t.current().map(|c| c.0),
            Some(Cue::Builtin(Builtin::Oms)),
            "{html}"
        );
        let y = html.rfind('Y').unwrap() as u64;
        t.advance(html.as_bytes(), 0, y, true, &kw);
        assert_eq!(t.current().map(|c| c.0), Some(Cue::Builtin(Builtin::Card)));
        let end = "</td></tr></tbody></table><p>Z";
        let all = format!("{html}{end}");
        t.advance(all.as_bytes(), 0, all.len() as u64, true, &kw);
        assert_eq!(t.current(), None, "outside the table");
    }

    #[test]
    fn split_tag_needs_more() {
        let kw = KeywordIndex::new(&[]).unwrap();
        let mut t = TableTracker::default();
        let part = b"<table><tr><t";
        assert!(matches!(
            t.advance(part, 0, part.len() as u64, false, &kw),
            Advance::NeedMore
        ));
        assert_eq!(t.pos, 11);
    }
}
