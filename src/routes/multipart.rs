//! A strict reader of `multipart/form-data` bodies (RFC 7578), for the dashboard's one upload
//! (the logo). The body is read whole first, within a small limit, so parsing is a pure
//! function over bytes: no temporary files, nothing streamed to disk.

use memchr::memmem;

/// The most parts one body may hold.
const MAX_PARTS: usize = 32;
/// The most bytes of headers one part may carry.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// One part of a form: a field, or a file when it has a `filename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The file's name as the browser sent it (`""` when no file was chosen).
    pub filename: Option<String>,
    /// The part's `Content-Type`, when given.
    pub content_type: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Why a body is not a form we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The `Content-Type` names no usable boundary.
    #[error("the content type names no boundary")]
    NoBoundary,
    /// The body does not follow the format.
    #[error("the body is not well-formed multipart: {0}")]
    Malformed(&'static str),
    /// More parts than one form may hold (32).
    #[error("the form has too many parts")]
    TooManyParts,
}

/// The boundary of a `multipart/form-data` content type; `None` for any other type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = split_params(content_type).into_iter();
    let kind = params.next()?;
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| param(&p, "boundary"))
        .next()
        .filter(|b| (1..=70).contains(&b.len()) && !b.contains(['\r', '\n']))
}

/// Splits `value; a=b; c="d;e"` at the semicolons outside quotes, each piece trimmed.
fn split_params(value: &str) -> Vec<String> {
    let (mut pieces, mut current, mut quoted, mut escaped) =
        (Vec::new(), String::new(), false, false);
    for c in value.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if quoted => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                current.push(c);
                quoted = !quoted;
            }
            ';' if !quoted => pieces.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    pieces.push(current.trim().to_owned());
    pieces
}

/// The value of `name=value` or `name="value"` (quotes and backslash escapes removed).
fn param(piece: &str, name: &str) -> Option<String> {
    let (key, value) = piece.split_once('=')?;
    if !key.trim().eq_ignore_ascii_case(name) {
        return None;
    }
    let value = value.trim();
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            Some(out)
        }
        None => Some(value.to_owned()),
    }
}

/// The parts of `body`, delimited by `boundary`.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let start = memmem::find(body, delimiter.as_bytes())
        .ok_or(MultipartError::Malformed("no opening boundary"))?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or(MultipartError::Malformed(
            "a boundary is not followed by a line break",
        ))?;
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        let head_end = memmem::find(&rest[..rest.len().min(MAX_PART_HEADERS)], b"\r\n\r\n")
            .ok_or(MultipartError::Malformed("a part's headers never end"))?;
        let head = std::str::from_utf8(&rest[..head_end])
            .map_err(|_| MultipartError::Malformed("a part's headers are not UTF-8"))?;
        let data_start = head_end + 4;
        let data_len = memmem::find(&rest[data_start..], next_delimiter.as_bytes())
            .ok_or(MultipartError::Malformed("a part never ends"))?;
        parts.push(part(
            head,
            rest[data_start..data_start + data_len].to_vec(),
        )?);
        rest = &rest[data_start + data_len + next_delimiter.len()..];
    }
}

/// A part from its header lines and its bytes.
fn part(head: &str, data: Vec<u8>) -> Result<Part, MultipartError> {
    let (mut name, mut filename, mut content_type) = (None, None, None);
    for line in head.split("\r\n") {
        let (key, value) = line
            .split_once(':')
            .ok_or(MultipartError::Malformed("a part's header has no colon"))?;
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let pieces = split_params(value);
            if !pieces
                .first()
                .is_some_and(|d| d.eq_ignore_ascii_case("form-data"))
            {
                return Err(MultipartError::Malformed("a part is not form-data"));
            }
            for piece in &pieces[1..] {
                name = name.or_else(|| param(piece, "name"));
                filename = filename.or_else(|| param(piece, "filename"));
            }
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_ascii_lowercase());
        }
    }
    Ok(Part {
        name: name.ok_or(MultipartError::Malformed("a part has no name"))?,
        filename,
        content_type,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"token\"\r\n\r\nabc\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"logo\"; filename=\"my \\\"logo\\\"; v2.png\"\r\n\
Content-Type: image/PNG\r\n\r\n\x89PNG\r\n\x1a\n--XyZ-not-yet\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"note\"\r\n\r\n\r\n\
--XyZ--\r\n";

    #[test]
    fn fields_and_files_are_read_with_their_bytes_intact() {
        let parts = parse(BODY, "XyZ").expect("a well-formed body");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name, "token");
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].name, "logo");
        assert_eq!(parts[1].filename.as_deref(), Some("my \"logo\"; v2.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        // A boundary-like line inside the data that is not the boundary stays data.
        assert_eq!(parts[1].data, b"\x89PNG\r\n\x1a\n--XyZ-not-yet");
        assert_eq!(parts[2].data, b"");
    }

    #[test]
    fn the_boundary_comes_from_a_form_data_content_type_only() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryA1b2").as_deref(),
            Some("----WebKitFormBoundaryA1b2")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))),
            None
        );
    }

    #[test]
    fn broken_bodies_are_refused_not_guessed() {
        assert!(parse(b"no boundary at all", "XyZ").is_err());
        assert!(
            parse(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc",
                "XyZ"
            )
            .is_err()
        );
        assert!(parse(b"--XyZ\r\nno colon here\r\n\r\nabc\r\n--XyZ--", "XyZ").is_err());
        assert!(
            parse(
                b"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
                "XyZ"
            )
            .is_err()
        );
        assert!(
            parse(
                b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
                "XyZ"
            )
            .is_err()
        );
        let many: Vec<u8> = (0..40)
            .flat_map(|i| {
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n")
                    .into_bytes()
            })
            .chain(b"--XyZ--".to_vec())
            .collect();
        assert_eq!(parse(&many, "XyZ"), Err(MultipartError::TooManyParts));
        // Every prefix of a good body is refused or read as fewer parts, never a panic.
        for end in 0..BODY.len() {
            let _ = parse(&BODY[..end], "XyZ");
        }
    }
}
