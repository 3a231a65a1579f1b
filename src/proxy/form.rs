//! `multipart/form-data`: where each part lies in the raw body, and
//! whether it is text to scan or a file to count. Text parts are scanned
//! together with their own headers, so the field name (`name="snils"`)
//! gives context as it does in a URL-encoded form.

use std::ops::Range;

use memchr::memmem;

/// One part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    /// From the start of the part's headers to the end of its content.
    pub span: Range<usize>,
    /// The part's content alone.
    pub content: Range<usize>,
    /// The field name from `Content-Disposition`.
    pub name: Option<String>,
    /// A file (a `filename`, or a content type that is not text).
    pub file: bool,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 70).then_some(v)
    })
}

/// Splits a multipart body into parts. `None` when the body does not
/// follow the format (no opening delimiter, no closing one, a part without
/// a blank line after its headers): the caller then scans the body whole,
/// so nothing goes unseen.
pub fn parts(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delim = format!("--{boundary}");
    let finder = memmem::Finder::new(delim.as_bytes());
    let mut at = finder.find(body)?;
    let mut out = Vec::new();
    loop {
        let after = at + delim.len();
        let rest = &body[after..];
        if rest.starts_with(b"--") {
            return Some(out);
        }
        let start = after + line_end(rest)?;
        let next_rel = memmem::find(&body[start..], format!("\r\n{delim}").as_bytes())?;
        let end = start + next_rel;
        let part = &body[start..end];
        let head_end = memmem::find(part, b"\r\n\r\n").map(|i| i + 4).or_else(|| {
            // A part with no headers at all starts with the blank line.
            part.starts_with(b"\r\n").then_some(2)
        })?;
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let (file, name) = match httparse::parse_headers(&part[..head_end], &mut headers) {
            Ok(httparse::Status::Complete(_)) => (is_file(&headers), field_name(&headers)),
            _ => return None,
        };
        out.push(Part {
            span: start..end,
            content: start + head_end..end,
            name,
            file,
        });
        at = end + 2;
    }
}

/// The length of the line break after a delimiter (transport padding
/// allowed).
fn line_end(rest: &[u8]) -> Option<usize> {
    let i = memmem::find(rest, b"\r\n")?;
    rest[..i]
        .iter()
        .all(|b| matches!(b, b' ' | b'\t'))
        .then_some(i + 2)
}

fn field_name(headers: &[httparse::Header<'_>]) -> Option<String> {
    let h = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-disposition"))?;
    let v = std::str::from_utf8(h.value).ok()?;
    v.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The text fields of a form body: URL-encoded, or multipart text parts.
pub fn fields(media: &str, content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    match media {
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        "multipart/form-data" => boundary(content_type)
            .and_then(|b| parts(body, b))
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.file)
            .filter_map(|p| {
                Some((
                    p.name?,
                    String::from_utf8_lossy(&body[p.content]).into_owned(),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_file(headers: &[httparse::Header<'_>]) -> bool {
    let mut file = false;
    for h in headers.iter().take_while(|h| !h.name.is_empty()) {
        let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
        if h.name.eq_ignore_ascii_case("content-disposition") {
            file |= v.split(';').any(|p| p.trim_start().starts_with("filename"));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            file |= !super::inspect::is_text(&super::inspect::media_type(&v));
        }
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"fio\"\r\n\r\nИванов Иван\r\n--XyZ\r\nContent-Disposition: form-data; name=\"snils\"\r\n\r\n112-233-445 95\r\n--XyZ\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 binary\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--XyZ--\r\n";

    #[test]
    fn finds_the_boundary() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Some("XyZ"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; BOUNDARY=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }

    #[test]
    fn splits_parts_and_tells_files_from_text() {
        let ps = parts(BODY.as_bytes(), "XyZ").unwrap();
        assert_eq!(ps.len(), 4);
        let text = |p: &Part| &BODY[p.span.clone()];
        assert!(text(&ps[0]).ends_with("name=\"fio\"\r\n\r\nИванов Иван"));
        assert!(text(&ps[1]).ends_with("\r\n\r\n112-233-445 95"));
        assert_eq!(
            ps.iter().map(|p| p.file).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        assert_eq!(&BODY[ps[1].content.clone()], "112-233-445 95");
        assert_eq!(ps[2].name.as_deref(), Some("scan"));
        let f = fields(
            "multipart/form-data",
            "multipart/form-data; boundary=XyZ",
            BODY.as_bytes(),
        );
        assert_eq!(
            f,
            [
                ("fio".into(), "Иванов Иван".into()),
                ("snils".into(), "112-233-445 95".into())
            ]
        );
    }

    #[test]
    fn broken_bodies_are_none() {
        assert!(parts(b"no delimiter at all", "XyZ").is_none());
        // No closing delimiter.
        assert!(parts(&BODY.as_bytes()[..BODY.len() - 9], "XyZ").is_none());
        // No blank line after the headers.
        assert!(parts(b"--XyZ\r\nContent-Disposition: x\r\n--XyZ--", "XyZ").is_none());
    }
}
