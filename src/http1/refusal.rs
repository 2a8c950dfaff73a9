//! The answer that replaces the dispatcher's bare refusal of an API request: the same status
//! line and date, with the error envelope every other API error carries.

use actix_web::http::StatusCode;

use crate::error::ApiError;
use crate::telemetry::next_request_id;

/// The API error behind one of the dispatcher's refusals.
fn api_error(status: u16) -> Option<ApiError> {
    Some(match status {
        400 => ApiError::bad_request(
            "malformed_request",
            "the request is not valid HTTP/1.1: its request line, a header, or its \
             Content-Length or Transfer-Encoding could not be read",
        )
        .with_suggestion(
            "Send well-formed header lines and frame the body with one Content-Length of \
             decimal digits or with Transfer-Encoding: chunked.",
        ),
        408 => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request's line and headers did not arrive in time",
        )
        .with_suggestion("Send the request's headers at once, as soon as the connection opens."),
        431 => ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request's line and headers are larger than 128 KiB, or there are more than 96 headers",
        )
        .with_suggestion("Send fewer or smaller headers; a long cookie or token is the usual cause."),
        _ => return None,
    })
}

/// `head` (a bare refusal: status line, `content-length: 0`, `connection`, `date`) rewritten
/// with the error envelope, or `None` for a status that is not a refusal.
pub fn rewrite(head: &[u8], status: u16) -> Option<Vec<u8>> {
    let error = api_error(status)?;
    let request_id = next_request_id();
    tracing::info!(
        request_id = %request_id,
        status,
        error.code = error.code(),
        "answered a request the HTTP layer refused with the error envelope"
    );
    let body = error.envelope_json(&request_id);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?;
    let date = lines.find(|l| l.len() > 5 && l[..5].eq_ignore_ascii_case(b"date:"));
    let mut out = Vec::with_capacity(head.len() + body.len() + 200);
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    // The dispatcher closes the connection after a refusal, whatever the head says.
    out.extend_from_slice(b"\r\nconnection: close\r\n");
    if let Some(date) = date {
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"x-request-id: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(
        b"\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n\
          referrer-policy: same-origin\r\n\r\n",
    );
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_status_line_and_date_and_gains_the_envelope() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
            date: Tue, 24 Nov 2026 08:08:44 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head, 431).expect("a refusal")).expect("text");
        let (top, body) = out.split_once("\r\n\r\n").expect("a head");
        assert!(top.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(top.contains("\r\ndate: Tue, 24 Nov 2026 08:08:44 GMT\r\n"));
        assert!(top.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"]["code"], "headers_too_large");
        let id = json["error"]["requestId"].as_str().expect("an id");
        assert!(top.contains(&format!("\r\nx-request-id: {id}\r\n")));
        assert!(rewrite(head, 500).is_none());
    }
}
