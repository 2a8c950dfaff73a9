//! Uploaded logos: an SVG that could run script or fetch anything is refused at upload, through
//! the API, the command line and the config file alike; a plain drawing is accepted and served
//! with headers that keep it inert anyway.

use std::process::Command;

use base64::Engine;
use openrails_checkout::config::Settings;
use openrails_checkout::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, issue_fields, issue_message, spawn_app, spawn_app_with,
};

const BINARY: &str = env!("CARGO_BIN_EXE_openrails-checkout");

/// Gradients, a clip path, `<use>` of a local symbol, `url(#…)` in styles, a comment.
const BENIGN: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- exported logo -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 120 40">
  <defs>
    <linearGradient id="sky" x1="0" x2="1"><stop offset="0" stop-color="#0b57d0"/><stop offset="1" stop-color="#7cacf8"/></linearGradient>
    <clipPath id="round"><rect width="40" height="40" rx="8"/></clipPath>
    <symbol id="cloud" viewBox="0 0 10 10"><path d="M2 7a3 3 0 0 1 1-5 4 4 0 0 1 6 2z"/></symbol>
    <style>.word { fill: url(#sky) }</style>
  </defs>
  <g clip-path="url(#round)"><rect width="40" height="40" fill="url(#sky)"/></g>
  <use xlink:href="#cloud" x="4" y="4" width="32" height="32"/>
  <text x="48" y="26" class="word">Nimbus &amp; Co</text>
</svg>
"##;

/// Hostile SVGs and a word the refusal must name.
fn hostile() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>"#,
            "script",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>"#,
            "onload",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><body xmlns="http://www.w3.org/1999/xhtml">x</body></foreignObject></svg>"#,
            "foreignObject",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="https://evil.example/sprite.svg#a"/></svg>"#,
            "external reference",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: url(http://evil.example/track)"/></svg>"#,
            "url()",
        ),
        (
            r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>"#,
            "DOCTYPE",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>"#,
            "<a>",
        ),
    ]
}

fn data_url(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

async fn put_branding(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/gateway/branding"))
        .bearer_auth(&app.sandbox_key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hostile_svg_logos_are_refused_with_a_400_that_names_what_was_found() {
    let app = spawn_app().await;

    for (svg, what) in hostile() {
        let response = put_branding(&app, &json!({ "logo": data_url(svg) })).await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert_eq!(issue_fields(&error), vec!["logo"], "{svg}: {error}");
        let message = issue_message(&error, "logo");
        assert!(message.contains(what), "{svg}: {message}");
    }
    let branding: Value = app.get("/api/gateway/branding").await.json().await.unwrap();
    assert!(branding["logoUrl"].is_null(), "{branding}");
}

#[tokio::test]
async fn a_plain_svg_logo_is_accepted_and_served_with_restrictive_headers() {
    let app = spawn_app().await;

    let response = put_branding(&app, &json!({ "logo": data_url(BENIGN) })).await;
    let status = response.status().as_u16();
    let branding: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{branding}");
    let logo_url = branding["logoUrl"].as_str().unwrap().to_owned();

    let logo = app.get_anonymous(&logo_url).await;
    assert_eq!(logo.status().as_u16(), 200);
    let header = |name: &str| {
        logo.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/svg+xml");
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(logo.text().await.unwrap(), BENIGN);
}

#[tokio::test]
async fn a_hostile_logo_stored_before_the_check_is_not_served() {
    let app = spawn_app().await;
    let response = put_branding(&app, &json!({ "logo": data_url(BENIGN) })).await;
    assert_eq!(response.status().as_u16(), 200);
    let (svg, _) = hostile()[0];
    sqlx::query("UPDATE merchants SET logo_base64 = $1 WHERE id = $2")
        .bind(base64::engine::general_purpose::STANDARD.encode(svg))
        .bind(app.merchant_id.as_str())
        .execute(&app.db.write)
        .await
        .unwrap();

    let logo = app
        .get_anonymous(&format!("/brand/{}/logo", app.merchant_id))
        .await;
    assert_eq!(logo.status().as_u16(), 404);
}

#[tokio::test]
async fn branding_set_refuses_a_hostile_svg_file_and_takes_a_plain_one() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |path: std::path::PathBuf| {
        let mut command = Command::new(BINARY);
        for (name, _) in std::env::vars() {
            if name.starts_with("OPENRAILS_") {
                command.env_remove(name);
            }
        }
        command
            .env("DATABASE_URL", &app.database_url)
            .env("NO_COLOR", "1")
            .current_dir(std::env::temp_dir())
            .args(["branding", "set", "--logo"])
            .arg(path);
        command
    };

    for (i, (svg, what)) in hostile().into_iter().enumerate() {
        let path = dir.path().join(format!("hostile{i}.svg"));
        std::fs::write(&path, svg).unwrap();
        let mut command = run(path);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{svg} was accepted");
        assert!(
            stderr.contains("logo") && stderr.contains(what),
            "{svg}: {stderr}"
        );
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT logo_type FROM merchants WHERE id = $1")
            .bind(app.merchant_id.as_str())
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(stored, None);

    let path = dir.path().join("logo.svg");
    std::fs::write(&path, BENIGN).unwrap();
    let mut command = run(path);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let logo = app
        .get_anonymous(&format!("/brand/{}/logo", app.merchant_id))
        .await;
    assert_eq!(logo.text().await.unwrap(), BENIGN);
}

#[tokio::test]
async fn a_hostile_svg_as_the_config_files_logo_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let benign = dir.path().join("logo.svg");
    std::fs::write(&benign, BENIGN).unwrap();
    let app = spawn_app_with(|s| {
        s.branding.logo_path = Some(benign.to_string_lossy().into_owned());
    })
    .await;
    let logo = app
        .get_anonymous(&format!("/brand/{}/logo", app.merchant_id))
        .await;
    assert_eq!(logo.status().as_u16(), 200);
    assert_eq!(logo.text().await.unwrap(), BENIGN);

    for (i, (svg, what)) in hostile().into_iter().enumerate() {
        let path = dir.path().join(format!("hostile{i}.svg"));
        std::fs::write(&path, svg).unwrap();
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            database_url: app.database_url.clone(),
            ..Default::default()
        };
        settings.branding.logo_path = Some(path.to_string_lossy().into_owned());
        let started = Application::build_with_db(settings, app.db.clone()).await;
        let message = format!("{:#}", started.err().expect("started with a hostile logo"));
        assert!(
            message.contains("branding.logo_path") && message.contains(what),
            "{message}"
        );
    }
}
