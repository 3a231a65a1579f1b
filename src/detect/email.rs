//! E-mail addresses, found from their `@` (in any encoding: `%40`, `&#64;`,
//! `\u0040`, full-width `＠`).
//!
//! The local part is read backwards from a decoded window before the `@`,
//! the domain forwards. Cyrillic addresses (`имя@почта.рф`) count; file
//! names that look like addresses (`icon@2x.png`), URL credentials
//! (`https://key@host`) and CSS at-rules do not.

use compact_str::CompactString;

use super::context::RAW_WINDOW;
use super::decode::{Step, Unit, decode_range, unit_at};

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;

/// File extensions that make `name@2x.png` a file, not an address.
#[rustfmt::skip]
fn file_tld(tld: &str) -> bool {
    // A match compiles to a switch on length and a few compares, where a
    // list would compare every entry: this runs for every address.
    matches!(
        tld,
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "avif" | "ico" | "bmp" | "tif"
            | "tiff" | "css" | "js" | "mjs" | "map" | "json" | "woff" | "woff2" | "ttf" | "otf"
            | "eot" | "mp4" | "webm" | "mp3" | "pdf" | "php" | "html" | "htm" | "txt" | "xml"
            | "ts" | "tsx" | "jsx" | "vue" | "scss" | "less"
    )
}

pub struct Email {
    pub start: usize,
    pub end: usize,
    pub value: CompactString,
}

pub enum Found {
    Email(Email),
    None,
    NeedMore,
}

fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '%' | '+' | '-' | '\'')
        || (c.is_alphabetic() && !c.is_ascii())
}

fn domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '.'
}

/// Working memory reused across addresses.
#[derive(Debug, Default)]
pub struct Scratch {
    units: Vec<Unit>,
    domain: String,
    value: String,
}

/// Appends `c` in lower case (ASCII without a case-mapping table).
#[inline]
fn push_lower(s: &mut String, c: char) {
    if c.is_ascii() {
        s.push(c.to_ascii_lowercase());
    } else {
        s.extend(c.to_lowercase());
    }
}

/// Reads the address around the `@` unit `at`. Bytes before `lo` are not
/// read.
pub fn read(buf: &[u8], lo: usize, at: Unit, eof: bool, work: &mut Scratch) -> Found {
    // Domain, forwards.
    let mut pos = at.end;
    let domain = &mut work.domain;
    domain.clear();
    let mut dom_end = at.end;
    let mut dom_chars = 0;
    loop {
        let u = match unit_at(buf, pos, eof) {
            Step::NeedMore => return Found::NeedMore,
            Step::End => break,
            Step::Unit(u) => u,
        };
        if !domain_char(u.ch) || dom_chars >= MAX_DOMAIN {
            break;
        }
        dom_chars += 1;
        push_lower(domain, u.ch);
        pos = u.end;
        if u.ch != '.' {
            dom_end = u.end;
        }
    }
    let domain = domain.trim_end_matches('.');
    if !valid_domain(domain) {
        return Found::None;
    }

    // Local part, backwards over a decoded window.
    let scratch = &mut work.units;
    scratch.clear();
    let floor = at.start.saturating_sub(RAW_WINDOW / 2).max(lo);
    // Bytes that no encoding of a local part contains end it: decode only
    // from there.
    let from = buf[floor..at.start]
        .iter()
        .rposition(|&b| {
            !(b.is_ascii_alphanumeric()
                || b >= 0x80
                || matches!(
                    b,
                    b'.' | b'_' | b'%' | b'+' | b'-' | b'\'' | b'\\' | b'&' | b'#' | b';'
                ))
        })
        .map_or(floor, |i| floor + i + 1);
    // Keep a `//` before it in view: URL credentials are not addresses.
    let from = if from >= floor + 2 && &buf[from - 2..from] == b"//" {
        from - 2
    } else {
        from
    };
    decode_range(buf, from, at.start, scratch);
    let mut first = scratch.len();
    while first > 0 && local_char(scratch[first - 1].ch) && scratch.len() - first < MAX_LOCAL {
        first -= 1;
    }
    // `+` and `-` before a name are punctuation (URL spaces, list dashes).
    while first < scratch.len() && matches!(scratch[first].ch, '.' | '+' | '-' | '%' | '\'') {
        first += 1;
    }
    if first == scratch.len() {
        return Found::None;
    }
    let local = &scratch[first..];
    let dots = local.windows(2).any(|w| w[0].ch == '.' && w[1].ch == '.');
    if local.last().is_some_and(|u| u.ch == '.') || dots {
        return Found::None;
    }
    // URL credentials: `scheme://user@host`.
    if first >= 2 && scratch[first - 1].ch == '/' && scratch[first - 2].ch == '/' {
        return Found::None;
    }
    let start = scratch[first].start;
    let value = &mut work.value;
    value.clear();
    for u in local {
        push_lower(value, u.ch);
    }
    value.push('@');
    value.push_str(domain);
    Found::Email(Email {
        start,
        end: dom_end,
        value: CompactString::new(&value),
    })
}

fn valid_domain(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    if domain
        .split('.')
        .any(|l| l.is_empty() || l.chars().count() > 63 || l.starts_with('-') || l.ends_with('-'))
    {
        return false;
    }
    tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic) && !file_tld(tld)
}

/// The address around the first `@` of `s`: its raw text and value.
#[cfg(test)]
fn find(s: &str) -> Option<(String, CompactString)> {
    let buf = s.as_bytes();
    let mut units = Vec::new();
    decode_range(buf, 0, buf.len(), &mut units);
    let at = *units.iter().find(|u| u.ch == '@')?;
    let mut sc = Scratch::default();
    match read(buf, 0, at, true, &mut sc) {
        Found::Email(e) => Some((s[e.start..e.end].to_string(), e.value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("mail ivan.petrov@mail.ru.", Some("ivan.petrov@mail.ru")),
            (
                "карл.афанасьев@домашний.рф'",
                Some("карл.афанасьев@домашний.рф"),
            ),
            (
                "user_email=yakovlev%40outlook.com&x",
                Some("yakovlev%40outlook.com"),
            ),
            ("\"e\":\"ivan\\u0040mail.ru\"", Some("ivan\\u0040mail.ru")),
            ("ivan&#64;mail.ru", Some("ivan&#64;mail.ru")),
            ("icon@2x.png", None),
            ("@media screen", None),
            ("https://4c7db71f@o310291.ingest.sentry.io/1", None),
            ("user@localhost", None),
            ("a..b@mail.ru", None),
        ];
        for (input, want) in cases {
            assert_eq!(find(input).map(|x| x.0), want.map(String::from), "{input}");
        }
    }

    #[test]
    fn value_is_lowercased() {
        assert_eq!(find("Ivan@Mail.RU").unwrap().1, "ivan@mail.ru");
    }
}
