//! Requests the HTTP layer refuses before the application sees them (a head too large, a
//! malformed head, a head that never finishes): on `/api/` paths the refusal carries the error
//! envelope like every other API error; pages keep the bare refusal.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// The raw bytes the server sends on a connection of its own for `request`, until it closes.
async fn exchange(app: &TestApp, request: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    answer
}

/// One response off the front of `wire`: (status line and headers, body), and the rest.
/// `bodiless` for the answer to a `HEAD`.
fn next_response(wire: &[u8], bodiless: bool) -> ((String, Vec<u8>), &[u8]) {
    let end = wire
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(wire)));
    let head = String::from_utf8_lossy(&wire[..end]).into_owned();
    let length: usize = if bodiless {
        0
    } else {
        header(&head, "content-length").parse().unwrap()
    };
    let body = &wire[end + 4..end + 4 + length];
    ((head, body.to_vec()), &wire[end + 4 + length..])
}

/// The only response in `wire`.
fn only_response(wire: &[u8]) -> (String, Vec<u8>) {
    let (response, rest) = next_response(wire, false);
    assert!(rest.is_empty(), "more after the response: {rest:?}");
    response
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.split("\r\n")
        .skip(1)
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// Checks a refusal in the envelope and returns its error object.
fn assert_envelope(head: &str, body: &[u8], status: &str, code: &str) -> Value {
    assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
    assert_eq!(header(head, "content-type"), "application/json", "{head}");
    let json: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("{head}: body {:?}", String::from_utf8_lossy(body)));
    assert_eq!(json["error"]["code"], code, "{json}");
    assert_eq!(json["error"]["type"], "invalid_request_error", "{json}");
    assert!(json["error"]["suggestion"].is_string(), "{json}");
    assert_eq!(
        json["error"]["requestId"].as_str(),
        Some(header(head, "x-request-id")),
        "the body's request id is the header's: {head}"
    );
    json["error"].clone()
}

/// The HTTP layer's own bare refusal: the status, `content-length: 0`, no body.
fn assert_bare(head: &str, body: &[u8], status: &str) {
    assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
    assert_eq!(header(head, "content-length"), "0", "{head}");
    assert_eq!(header(head, "content-type"), "", "{head}");
    assert!(body.is_empty());
}

/// A head of exactly 128 KiB that never ends: the HTTP layer's limit.
fn oversized_head(path: &str) -> Vec<u8> {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ").into_bytes();
    request.resize(128 * 1024, b'a');
    request
}

#[tokio::test]
async fn a_head_over_128_kib_gets_431_in_the_envelope_on_api_paths_and_bare_on_pages() {
    let app = spawn_app().await;
    let answer = exchange(&app, &oversized_head("/api/gateway/sessions")).await;
    let (head, body) = only_response(&answer);
    assert_envelope(&head, &body, "431", "headers_too_large");
    assert_eq!(header(&head, "cache-control"), "no-store");

    let answer = exchange(&app, &oversized_head("/checkout/x")).await;
    let (head, body) = only_response(&answer);
    assert_bare(&head, &body, "431");
}

#[tokio::test]
async fn malformed_framing_gets_400_in_the_envelope_on_api_paths_and_bare_on_pages() {
    let app = spawn_app().await;
    for framing in [
        "Content-Length: abc",
        "Content-Length: 5\r\nContent-Length: 6",
        "Transfer-Encoding: gzip",
    ] {
        let request = |path: &str| {
            format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n{{}}")
        };
        let answer = exchange(&app, request("/api/gateway/sessions").as_bytes()).await;
        let (head, body) = only_response(&answer);
        assert_envelope(&head, &body, "400", "malformed_request");

        let answer = exchange(&app, request("/checkout/x/card").as_bytes()).await;
        let (head, body) = only_response(&answer);
        assert_bare(&head, &body, "400");
    }
}

#[tokio::test]
async fn a_first_head_slower_than_head_timeout_gets_408_in_the_envelope_on_api_paths_and_bare_on_pages()
 {
    let app = spawn_app_with(|s| s.head_timeout_seconds = 1).await;
    let started = std::time::Instant::now();
    let unfinished = |path: &str| format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    let (api, page) = (
        unfinished("/api/gateway/sessions"),
        unfinished("/checkout/x/card"),
    );
    let (api, page) = tokio::join!(
        exchange(&app, api.as_bytes()),
        exchange(&app, page.as_bytes())
    );
    let (head, body) = only_response(&api);
    let error = assert_envelope(&head, &body, "408", "request_timeout");
    assert!(
        error["message"].as_str().unwrap().contains("headers"),
        "{error}"
    );
    let (head, body) = only_response(&page);
    assert_bare(&head, &body, "408");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

/// `head`'s lines in order, without those that differ between two answers to the same request
/// (and `connection`, which says whether the connection was kept). Headers come in no set order.
fn comparable(head: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            // The key's remaining requests go down with each request.
            ![
                "date:",
                "x-request-id:",
                "connection:",
                "ratelimit-remaining:",
                "ratelimit-reset:",
            ]
            .iter()
            .any(|p| line.starts_with(p))
        })
        .collect();
    lines.sort_unstable();
    lines
}

fn without_request_id(body: &[u8]) -> Value {
    let mut json: Value = serde_json::from_slice(body).unwrap();
    json["error"]["requestId"].take();
    json
}

#[tokio::test]
async fn pipelined_answers_of_the_app_pass_unchanged_before_a_refusal_and_a_head_s_refusal_stays_bare()
 {
    let app = spawn_app().await;
    let key = &app.sandbox_key;
    let head_request =
        "HEAD /api/gateway/sessions/chk_missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned();
    let invalid_json = format!(
        "POST /api/gateway/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 3\r\n\r\n{{x}}"
    );
    let malformed = "POST /api/gateway/sessions HTTP/1.1\r\nContent-Length: abc\r\n\r\n";

    // Each of the application's answers, alone on a connection.
    let close = |request: &str| request.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let alone_head = exchange(&app, close(&head_request).as_bytes()).await;
    let ((alone_head, _), _) = next_response(&alone_head, true);
    let alone_400 = exchange(&app, close(&invalid_json).as_bytes()).await;
    let (alone_400, alone_400_body) = only_response(&alone_400);
    assert!(alone_head.starts_with("HTTP/1.1 401"), "{alone_head}");
    assert_ne!(header(&alone_head, "content-length"), "0");
    assert!(alone_400.starts_with("HTTP/1.1 400"), "{alone_400}");

    // The same, pipelined on one connection and followed by a malformed request.
    let pipelined = format!("{head_request}{invalid_json}{malformed}");
    let wire = exchange(&app, pipelined.as_bytes()).await;
    let ((head, body), rest) = next_response(&wire, true);
    assert_eq!(comparable(&head), comparable(&alone_head));
    assert!(body.is_empty());
    let ((head, body), rest) = next_response(rest, false);
    assert_eq!(comparable(&head), comparable(&alone_400));
    assert_eq!(
        without_request_id(&body),
        without_request_id(&alone_400_body)
    );
    let (head, body) = only_response(rest);
    assert_envelope(&head, &body, "400", "malformed_request");

    // A HEAD's answer has no body, so the refusal of a malformed HEAD stays bare.
    let answer = exchange(
        &app,
        b"HEAD /api/gateway/sessions HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    )
    .await;
    let (head, body) = only_response(&answer);
    assert_bare(&head, &body, "400");
}
