//! HTTP conventions a health checker, a cache or a generic client relies on: `HEAD` wherever
//! `GET` works, `Allow` on every 405, and the pages' CSS and script compressed and cached by a
//! content version that changes with every edit.

use std::io::Read;

use openrails_checkout::assets::compact;
use openrails_checkout::routes::API_ROUTES;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, assert_error, minimal_body, spawn_app, spawn_app_with};

/// The raw bytes the server sends for one request on its own connection.
async fn raw_exchange(app: &TestApp, request: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    answer
}

/// (status line and headers, everything after the blank line).
fn split_head(answer: &[u8]) -> (String, Vec<u8>) {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    (
        String::from_utf8_lossy(&answer[..end]).into_owned(),
        answer[end + 4..].to_vec(),
    )
}

/// The paths that answer `GET`: every GET API route (with ids that exist), the probes, the
/// document, a checkout page and the static assets.
async fn get_paths(app: &TestApp) -> Vec<String> {
    let session = app.create_session(&minimal_body()).await;
    let id = session["id"].as_str().unwrap();
    let customer = session["customerId"].as_str().unwrap();
    let mut paths: Vec<String> = API_ROUTES
        .iter()
        .filter(|(method, _)| *method == "GET")
        .map(|(_, path)| {
            path.replace("sessions/{id}", &format!("sessions/{id}"))
                .replace("customers/{id}", &format!("customers/{customer}"))
                .replace("{id}", "x_1")
        })
        .collect();
    paths.push(format!("/checkout/{id}"));
    paths.push("/static/checkout.css".into());
    paths.push("/static/checkout.js".into());
    paths
}

#[tokio::test]
async fn head_answers_like_get_with_the_same_headers_and_no_body_wherever_get_works() {
    let app = spawn_app().await;
    let paths = get_paths(&app).await;
    assert!(paths.iter().any(|p| p == "/healthz") && paths.iter().any(|p| p == "/metrics"));
    for path in &paths {
        let get = app
            .client
            .get(app.url(path))
            .bearer_auth(&app.sandbox_key)
            .send()
            .await
            .unwrap();
        let head = app
            .client
            .head(app.url(path))
            .bearer_auth(&app.sandbox_key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_ne!(head.status().as_u16(), 405, "HEAD {path}");
        for name in ["content-type", "cache-control", "etag", "allow"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "HEAD {path}: header {name}"
            );
        }
    }
    // On the wire: the head of a GET, and not one byte of body.
    for path in ["/healthz", "/api/openapi.json", "/static/checkout.css"] {
        let answer = raw_exchange(
            &app,
            &format!("HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let (head, body) = split_head(&answer);
        assert!(head.starts_with("HTTP/1.1 200"), "HEAD {path}: {head}");
        assert!(body.is_empty(), "HEAD {path} sent a body: {body:?}");
    }
}

#[tokio::test]
async fn every_405_carries_an_allow_header_listing_the_path_s_methods_and_head_with_get() {
    let app = spawn_app().await;
    let mut paths: Vec<&str> = API_ROUTES.iter().map(|(_, path)| *path).collect();
    paths.dedup();
    for path in paths {
        let mut expected: Vec<&str> = API_ROUTES
            .iter()
            .filter(|(_, p)| *p == path)
            .map(|(m, _)| *m)
            .collect();
        if expected.contains(&"GET") {
            expected.push("HEAD");
        }
        let url = app.url(&path.replace("{id}", "x_1"));
        for method in [Method::PATCH, Method::TRACE] {
            let response = app
                .client
                .request(method.clone(), &url)
                .bearer_auth(&app.sandbox_key)
                .send()
                .await
                .unwrap();
            let allow = response
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
                .to_str()
                .unwrap()
                .to_owned();
            let mut advertised: Vec<&str> = allow.split(',').map(str::trim).collect();
            advertised.sort_unstable();
            let mut wanted = expected.clone();
            wanted.sort_unstable();
            assert_eq!(advertised, wanted, "{method} {path}");
            assert_error(response, 405, "method_not_allowed").await;
        }
    }
}

/// `(headers, body)` of a GET with extra request headers.
async fn get_with(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The `?v=` link the checkout page uses for `name`.
async fn page_link(app: &TestApp, session_id: &str, name: &str) -> String {
    let html = app
        .get_anonymous(&format!("/checkout/{session_id}"))
        .await
        .text()
        .await
        .unwrap();
    let start = html
        .find(&format!("/static/{name}?v="))
        .unwrap_or_else(|| panic!("the page links {name} with a version: {html}"));
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn css_and_js_are_gzip_compressed_when_asked_and_vary_on_accept_encoding() {
    let app = spawn_app().await;
    for (name, content_type) in [
        ("checkout.css", "text/css"),
        ("checkout.js", "text/javascript"),
    ] {
        let path = format!("/static/{name}");
        let (_, plain_headers, plain) = get_with(&app, &path, &[]).await;
        assert_eq!(header(&plain_headers, "content-encoding"), "");
        assert!(header(&plain_headers, "content-type").starts_with(content_type));
        assert!(!plain.is_empty());

        let (status, headers, compressed) =
            get_with(&app, &path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-encoding"), "gzip", "{name}");
        assert!(
            header(&headers, "vary")
                .to_ascii_lowercase()
                .contains("accept-encoding"),
            "{name}: {headers:?}"
        );
        assert!(compressed.len() < plain.len(), "{name} is not smaller");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain, "{name}: gzip of the same bytes");
    }
}

#[tokio::test]
async fn versioned_assets_are_immutable_for_a_year_with_an_etag_and_if_none_match_gets_304() {
    let app = spawn_app().await; // development mode: immutable all the same
    let session = app.create_session(&minimal_body()).await;
    let id = session["id"].as_str().unwrap();
    for name in ["checkout.css", "checkout.js"] {
        let link = page_link(&app, id, name).await;
        let (status, headers, body) = get_with(&app, &link, &[]).await;
        assert_eq!(status, 200, "{link}");
        assert_eq!(
            header(&headers, "cache-control"),
            "public, max-age=31536000, immutable",
            "{link}"
        );
        let etag = header(&headers, "etag").to_owned();
        assert!(etag.contains('"'), "{link}: ETag {etag:?}");
        assert!(!body.is_empty());

        let (status, headers, body) = get_with(&app, &link, &[("If-None-Match", &etag)]).await;
        assert_eq!(status, 304, "{link}");
        assert!(body.is_empty());
        assert_eq!(header(&headers, "etag"), etag);
        let (status, _, _) = get_with(&app, &link, &[("If-None-Match", "W/\"0000000000\"")]).await;
        assert_eq!(status, 200, "{link}: another ETag gets the content");

        // Without the version (or with another one) nothing may be kept without asking.
        let bare = format!("/static/{name}");
        let (_, headers, _) = get_with(&app, &bare, &[]).await;
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        assert_eq!(header(&headers, "etag"), etag);
        let (_, headers, _) = get_with(&app, &format!("{bare}?v=0000000000"), &[]).await;
        assert_eq!(header(&headers, "cache-control"), "no-cache");
    }
}

#[tokio::test]
async fn editing_a_static_file_changes_the_page_s_link_and_ends_the_old_link_s_immutability() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["checkout.css", "checkout.js"] {
        std::fs::copy(format!("static/{name}"), dir.path().join(name)).unwrap();
    }
    let static_dir = dir.path().display().to_string();
    let app = spawn_app_with(|s| s.static_dir = static_dir).await;
    let session = app.create_session(&minimal_body()).await;
    let id = session["id"].as_str().unwrap();
    let before = page_link(&app, id, "checkout.css").await;

    // A designer's edit, of the same length so that only the content (and the time) differs.
    let path = dir.path().join("checkout.css");
    let css = std::fs::read_to_string(&path).unwrap();
    assert!(
        css.contains("#f6f7f9"),
        "the edit below changes the page background"
    );
    let edited = css.replacen("#f6f7f9", "#f6f7f8", 1);
    std::fs::write(&path, &edited).unwrap();
    // Buyers get the file without its comments and indentation.
    let css = compact("text/css", edited.as_bytes());
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();

    let after = page_link(&app, id, "checkout.css").await;
    assert_ne!(
        after, before,
        "the page links the edited file under a new URL"
    );
    let (_, headers, body) = get_with(&app, &after, &[]).await;
    assert_eq!(body, css, "the new URL serves the edited file");
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let (_, headers, body) = get_with(&app, &before, &[]).await;
    assert_eq!(body, css, "the old URL serves what is on disk now…");
    assert_eq!(
        header(&headers, "cache-control"),
        "no-cache",
        "…so it must not be cached as if it were the old content"
    );
}

#[tokio::test]
async fn without_static_dir_the_built_in_copies_are_served_with_the_same_conventions() {
    let app = spawn_app_with(|s| s.static_dir = "/nonexistent/static".into()).await;
    let session = app.create_session(&minimal_body()).await;
    let id = session["id"].as_str().unwrap();
    let link = page_link(&app, id, "checkout.css").await;
    let (status, headers, body) = get_with(&app, &link, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        compact("text/css", &std::fs::read("static/checkout.css").unwrap())
    );
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header(&headers, "etag").to_owned();
    let (status, _, _) = get_with(&app, &link, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
    let (_, headers, _) = get_with(&app, &link, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(header(&headers, "content-encoding"), "gzip");
}
