//! The error envelope on every path: malformed, oversized and wrongly typed bodies, unknown
//! paths, wrong methods; and no input producing a 500.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{assert_error, issue_fields, issue_message, minimal_body, spawn_app};

const LIMIT: usize = 64 * 1024;

#[tokio::test]
async fn malformed_json_gets_400_invalid_json_in_the_envelope() {
    let app = spawn_app().await;

    for text in [
        "{",
        "{\"product\": ",
        "{product: 'Creator plan'}",
        "{\"amount\": 116,}",
        "{} {}",
        "not json",
    ] {
        let response = app.post_raw(text, Some("application/json")).await;
        let error = assert_error(response, 400, "invalid_json").await;
        assert!(error["error"]["suggestion"].is_string(), "{text}: {error}");
    }
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_gets_400_invalid_json() {
    let app = spawn_app().await;

    for text in [
        "[]",
        "[{\"product\":\"x\"}]",
        "\"text\"",
        "116",
        "true",
        "null",
    ] {
        let response = app.post_raw(text, Some("application/json")).await;
        let error = assert_error(response, 400, "invalid_json").await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("JSON object"),
            "{text}: {error}"
        );
    }
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn an_empty_body_gets_400_invalid_json() {
    let app = spawn_app().await;
    for text in ["", "   \n"] {
        let response = app.post_raw(text, Some("application/json")).await;
        assert_error(response, 400, "invalid_json").await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_gets_400_invalid_json() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            b"{\"product\":\"\xff\xfe\",\"amount\":116}".to_vec(),
            Some("application/json"),
        )
        .await;
    assert_error(response, 400, "invalid_json").await;
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_repeated_field_gets_400_invalid_json() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            r#"{"product":"Creator plan","amount":1,"amount":116,"customer":"buyer@example.com"}"#,
            Some("application/json"),
        )
        .await;
    let error = assert_error(response, 400, "invalid_json").await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount")
    );
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_key_repeated_inside_metadata_gets_400_like_a_repeated_field() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            r#"{"product":"Creator plan","amount":116,"customer":"buyer@example.com",
                "metadata":{"order_id":"ord_1","order_id":"ord_2"}}"#,
            Some("application/json"),
        )
        .await;
    let error = assert_error(response, 400, "validation_failed").await;
    assert_eq!(issue_fields(&error), ["metadata.order_id"]);
    assert!(issue_message(&error, "metadata.order_id").contains("more than once"));
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn deeply_nested_json_gets_a_400_not_a_crash() {
    let app = spawn_app().await;
    let deep = format!(
        r#"{{"product":"x","amount":1,"customer":"buyer@example.com","metadata":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let response = app.post_raw(deep, Some("application/json")).await;
    assert_eq!(response.status().as_u16(), 400);
    let response = app.get("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_with_a_wrong_content_type_gets_415() {
    let app = spawn_app().await;
    let text = minimal_body().to_string();

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonp",
    ] {
        let response = app.post_raw(text.clone(), Some(content_type)).await;
        let error = assert_error(response, 415, "unsupported_media_type").await;
        assert!(
            error["error"]["suggestion"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{error}"
        );
    }
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_body_without_a_content_type_gets_415() {
    let app = spawn_app().await;
    let response = app.post_raw(minimal_body().to_string(), None).await;
    assert_error(response, 415, "unsupported_media_type").await;
    assert_eq!(app.session_count().await, 0);
}

/// A valid request padded with spaces to exactly `len` bytes.
fn padded_body(len: usize) -> String {
    let text = minimal_body().to_string();
    format!("{text}{}", " ".repeat(len - text.len()))
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_accepted() {
    let app = spawn_app().await;
    let response = app
        .post_raw(padded_body(LIMIT), Some("application/json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn a_body_larger_than_64_kib_gets_413() {
    let app = spawn_app().await;
    let response = app
        .post_raw(padded_body(LIMIT + 1), Some("application/json"))
        .await;
    let error = assert_error(response, 413, "body_too_large").await;
    assert!(error["error"]["suggestion"].is_string());
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_large_metadata_body_gets_413() {
    let app = spawn_app().await;
    let mut body = minimal_body();
    body["metadata"] = json!({"note": "x".repeat(200_000)});
    let response = app.post_session(&body).await;
    assert_error(response, 413, "body_too_large").await;
    assert_eq!(app.session_count().await, 0);
}

/// Sends a chunked request by hand (no Content-Length) and returns the status and body.
fn chunked_request(port: u16, key: &str, chunks: Vec<Vec<u8>>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /api/gateway/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer before it has read everything; that is fine.
    let _ = stream.write_all(&request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_chunked_body_larger_than_64_kib_gets_413() {
    let app = spawn_app().await;
    let text = padded_body(LIMIT + 8 * 1024).into_bytes();
    let chunks: Vec<Vec<u8>> = text.chunks(8 * 1024).map(<[u8]>::to_vec).collect();
    let (port, key) = (app.port, app.sandbox_key.clone());

    let (status, body) = tokio::task::spawn_blocking(move || chunked_request(port, &key, chunks))
        .await
        .unwrap();

    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body_too_large"), "{body}");
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn a_small_chunked_body_is_accepted() {
    let app = spawn_app().await;
    let text = minimal_body().to_string().into_bytes();
    let chunks: Vec<Vec<u8>> = text.chunks(10).map(<[u8]>::to_vec).collect();
    let (port, key) = (app.port, app.sandbox_key.clone());

    let (status, body) = tokio::task::spawn_blocking(move || chunked_request(port, &key, chunks))
        .await
        .unwrap();

    assert_eq!(status, 200, "{body}");
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn an_unknown_api_path_gets_404_in_the_envelope() {
    let app = spawn_app().await;

    for path in [
        "/api/nope",
        "/api/gateway/session",
        "/api/gateway/sessions/chk_x/refund",
        "/api/gateway/sessions/",
        "/api/gateway/payments/pay_x/capture",
    ] {
        let response = app.get(path).await;
        let error = assert_error(response, 404, "route_not_found").await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains("GET"),
            "{path}: {error}"
        );
    }
    for path in ["/api/gateway/nothing-here", "/nope"] {
        let response = app
            .client
            .post(app.url(path))
            .json(&minimal_body())
            .send()
            .await
            .unwrap();
        assert_error(response, 404, "route_not_found").await;
    }
}

#[tokio::test]
async fn an_unknown_browser_path_gets_404() {
    let app = spawn_app().await;
    let response = app.get_anonymous("/no-such-page").await;
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn a_wrong_method_gets_405_in_the_envelope() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::GET, "/api/gateway/sessions", "POST"),
        (reqwest::Method::PUT, "/api/gateway/sessions", "POST"),
        (
            reqwest::Method::DELETE,
            "/api/gateway/sessions/chk_abc",
            "GET",
        ),
        (
            reqwest::Method::PATCH,
            "/api/gateway/sessions/chk_abc",
            "GET",
        ),
        (
            reqwest::Method::GET,
            "/api/gateway/sessions/chk_abc/expire",
            "POST",
        ),
        (reqwest::Method::POST, "/api/gateway/customers", "GET"),
        (
            reqwest::Method::DELETE,
            "/api/gateway/customers/cus_abc",
            "GET",
        ),
        (reqwest::Method::POST, "/healthz", "GET"),
        (reqwest::Method::POST, "/readyz", "GET"),
        (reqwest::Method::POST, "/api/openapi.json", "GET"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.sandbox_key)
            .send()
            .await
            .unwrap();
        let error = assert_error(response, 405, "method_not_allowed").await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(allowed),
            "{method} {path}: {error}"
        );
    }
}

#[tokio::test]
async fn an_unknown_session_id_gets_404_resource_missing() {
    let app = spawn_app().await;
    for id in [
        "chk_00000000000000000000000000",
        "chk_demo_1779900000000",
        "not-an-id",
        "cus_00000000000000000000000000",
        "chk_%27%20OR%201%3D1",
    ] {
        let response = app.get(&format!("/api/gateway/sessions/{id}")).await;
        assert_error(response, 404, "resource_missing").await;
        let response = app.expire_session(id).await;
        assert_error(response, 404, "resource_missing").await;
    }
}

#[tokio::test]
async fn every_response_carries_its_own_request_id() {
    let app = spawn_app().await;
    let first = app.post_session(&minimal_body()).await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap()
            .to_owned()
    };
    let (a, b) = (id(&first), id(&second));
    assert!(a.starts_with("req_") && b.starts_with("req_"));
    assert_ne!(a, b);
}

/// Every way of sending garbage: each is answered, none with a 5xx, each in the envelope.
#[tokio::test]
async fn no_malformed_input_produces_a_500() {
    let app = spawn_app().await;
    let bodies: Vec<String> = vec![
        r#"{"product":"x","amount":1e999999999,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":-1e-999999,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":1E+2,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":0.0000000000000000000000000001e28,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":100000000000000000000000e-22,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":116,"customer":"buyer@example.com","expiresInSeconds":1e999}"#.into(),
        r#"{"product":"\u0000","amount":116,"customer":"buyer@example.com"}"#.into(),
        r#"{"\u0000":1}"#.into(),
        r#"{"product":"x","amount":116,"customer":"buyer@example.com","metadata":{"\u0000":"v"}}"#.into(),
        r#"{"product":"x","amount":116,"customer":"buyer@example.com","idempotencyKey":"\u0000"}"#.into(),
        r#"{"product":"x","amount":116,"customer":"buyer@example.com","redirectUrl":"https://a.example/\u0000"}"#.into(),
        r#"{"product":"\ud800","amount":116,"customer":"buyer@example.com"}"#.into(),
        r#"{"product":"x","amount":116,"customer":"\ud83d\ude00@example.com"}"#.into(),
        r#"{"product":"x","amount":116,"customer":"buyer@example.com","preferredRoute":"card","environment":"production"}"#.into(),
        format!(r#"{{"{}":1}}"#, "k".repeat(60_000)),
        "\u{feff}{}".into(),
    ];
    for body in &bodies {
        let response = app.post_raw(body.clone(), Some("application/json")).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(status < 500, "{status} for {body:.200}: {text}");
        if status >= 400 {
            let parsed: Value = serde_json::from_str(&text).unwrap();
            assert!(parsed["error"]["requestId"].is_string(), "{text}");
        }
    }
    let queries = [
        "/api/gateway/customers?limit=1e2",
        "/api/gateway/customers?limit=99999999999999999999999",
        "/api/gateway/customers?startingAfter=%27%3B%20DROP%20TABLE%20customers%3B--",
        "/api/gateway/customers?email=%27%20OR%201%3D1--",
        "/api/gateway/customers?customerId=cus_%25",
        "/api/gateway/customers?%%%",
        "/api/gateway/customers?email=%FF%FE",
        "/api/gateway/sessions/%FF",
        "/api/gateway/customers/%FF",
        "/api/gateway/sessions/%E2%80%AE",
    ];
    for path in queries {
        let response = app.get(path).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(status < 500, "{status} for {path}: {text}");
    }
    // The server still serves, and still has its table.
    assert_eq!(app.customer_count().await, app.customer_count().await);
    let response = app.get("/api/gateway/customers").await;
    assert_eq!(response.status().as_u16(), 200);
}

/// PostgreSQL refuses text containing NUL bytes; a filter value with one must still not
/// become a 500.
#[tokio::test]
async fn a_nul_byte_in_a_list_filter_is_not_a_500() {
    let app = spawn_app().await;
    app.create_session(&minimal_body()).await;
    let mut failures = Vec::new();
    for path in [
        "/api/gateway/customers?email=buyer%00@example.com",
        "/api/gateway/customers?customerId=cus_%00",
        "/api/gateway/customers?startingAfter=cus_%00",
        "/api/gateway/customers?status=active%00",
    ] {
        let response = app.get(path).await;
        let status = response.status().as_u16();
        if status >= 500 {
            failures.push(format!("{status} for {path}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A NUL character inside a metadata value is legal JSON and must be stored and echoed.
#[tokio::test]
async fn a_nul_character_in_a_metadata_value_round_trips() {
    let app = spawn_app().await;
    let body = app
        .create_session(&json!({
            "product": "Creator plan",
            "amount": 116,
            "customer": "buyer@example.com",
            "metadata": {"note": "a\u{0}b"},
        }))
        .await;
    assert_eq!(body["metadata"]["note"], "a\u{0}b");
    let id = body["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/api/gateway/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["metadata"]["note"], "a\u{0}b");
}

/// Sends the head of a request whose body never finishes; returns the status, the body and
/// how long the answer took.
fn unfinished_body(port: u16, path: &str, key: &str) -> (u16, String, Duration) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"product\""
    );
    let started = std::time::Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the answer's body (Content-Length) is complete or the server closes.
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response after {took:?}: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body, took)
}

#[tokio::test]
async fn a_body_that_never_finishes_gets_408_in_the_envelope() {
    let app = crate::helpers::spawn_app_with(|s| s.body_timeout_seconds = 1).await;
    for path in [
        "/api/gateway/sessions",
        "/api/gateway/webhook-endpoints",
        "/api/providers/sandbox/callbacks",
    ] {
        let (port, key) = (app.port, app.sandbox_key.clone());
        let (status, body, took) =
            tokio::task::spawn_blocking(move || unfinished_body(port, path, &key))
                .await
                .unwrap();
        assert_eq!(status, 408, "{path}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(error["error"]["code"], "request_timeout", "{path}: {error}");
        assert!(error["error"]["requestId"].is_string(), "{error}");
        assert!(
            took < Duration::from_secs(5),
            "{path}: answered after {took:?}"
        );
    }
    assert_eq!(app.session_count().await, 0);
}
