//! Webhook secrets at rest: sealed with `OPENRAILS_ENCRYPTION_KEY`, still signing correctly,
//! plain rows sealed once a key is configured, old keys still opening after a rotation, and a
//! server that refuses to start rather than sign with a secret it cannot read.

use std::process::Command;

use base64::Engine;
use openrails_checkout::config::Settings;
use openrails_checkout::crypto::secret_box::EncryptionKeys;
use openrails_checkout::startup::Application;
use openrails_checkout::webhooks::worker::deliver_due;

use crate::helpers::{TestApp, spawn_app_with};
use crate::webhook_support::{
    Receiver, assert_signed_with, deliver_at, driven_clock, expected_v1, json_ok, parse_signature,
    post_json, record_event_at, register_receiver,
};

const BINARY: &str = env!("CARGO_BIN_EXE_openrails-checkout");

/// A random key, as `openssl rand -base64 32` gives it.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn keys(current: &str, previous: &[&str]) -> EncryptionKeys {
    EncryptionKeys::parse(Some(current), Some(&previous.join(","))).unwrap()
}

/// (secret, previous_secret) as stored.
async fn stored(app: &TestApp, endpoint_id: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint_id)
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

/// Another server on the app's database, started with `keys`, as after a restart.
async fn restart_with(app: &TestApp, keys: EncryptionKeys) -> anyhow::Result<Application> {
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: app.database_url.clone(),
        sweep_interval_seconds: 3600,
        reconcile_interval_seconds: 3600,
        encryption: keys,
        ..Default::default()
    };
    Application::build_with_db(settings, app.db.clone()).await
}

/// Records one event and has `server`'s worker deliver it; the request received.
async fn deliver_one_through(
    app: &TestApp,
    server: &Application,
    receiver: &Receiver,
    tag: &str,
) -> crate::webhook_support::Received {
    let before = receiver.count();
    let at = driven_clock();
    record_event_at(app, tag, at).await;
    let summary = deliver_due(&server.state().webhook_worker(), "restarted-worker", at)
        .await
        .unwrap();
    assert_eq!(summary.succeeded, 1, "{summary:?}");
    receiver.requests()[before].clone()
}

#[tokio::test]
async fn with_a_key_the_database_holds_no_plain_secret_and_deliveries_still_verify() {
    let app = spawn_app_with(|s| s.encryption = keys(&new_key(), &[])).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;

    let (column, previous) = stored(&app, &endpoint_id).await;
    assert!(column.starts_with("enc:v1:"), "{column}");
    assert!(
        !column.contains(&secret[6..]),
        "the secret is stored in plain text"
    );
    assert_eq!(previous, None);

    record_event_at(&app, "sealed", driven_clock()).await;
    deliver_at(&app, driven_clock()).await;
    assert_eq!(assert_signed_with(&receiver.requests()[0], &secret), 1);

    // After a rotation both secrets are sealed, and both sign during the overlap.
    let rotated = json_ok(
        post_json(
            &app,
            &format!("/api/gateway/webhook-endpoints/{endpoint_id}/rotate-secret"),
            None,
        )
        .await,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_"), "{rotated}");
    let (column, previous) = stored(&app, &endpoint_id).await;
    let previous = previous.unwrap();
    for value in [&column, &previous] {
        assert!(value.starts_with("enc:v1:"), "{value}");
        assert!(!value.contains(&secret[6..]) && !value.contains(&new_secret[6..]));
    }
    record_event_at(&app, "rotated", driven_clock()).await;
    deliver_at(&app, driven_clock()).await;
    let request = &receiver.requests()[1];
    assert_eq!(assert_signed_with(request, &new_secret), 2);
    assert_signed_with(request, &secret);
}

#[tokio::test]
async fn plain_text_secrets_are_encrypted_when_the_server_starts_with_a_key() {
    let app = spawn_app_with(|s| s.encryption = EncryptionKeys::default()).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    assert_eq!(
        stored(&app, &endpoint_id).await.0,
        secret,
        "no key: plain text"
    );

    let server = restart_with(&app, keys(&new_key(), &[])).await.unwrap();

    let (column, _) = stored(&app, &endpoint_id).await;
    assert!(column.starts_with("enc:v1:"), "{column}");
    let request = deliver_one_through(&app, &server, &receiver, "upgraded").await;
    assert_signed_with(&request, &secret);
}

#[tokio::test]
async fn a_new_encryption_key_reads_secrets_sealed_with_the_previous_one_and_reseals_them() {
    let old_key = new_key();
    let app = spawn_app_with(|s| s.encryption = keys(&old_key, &[])).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    let sealed_with_old = stored(&app, &endpoint_id).await.0;

    let new = new_key();
    let server = restart_with(&app, keys(&new, &[&old_key])).await.unwrap();

    let resealed = stored(&app, &endpoint_id).await.0;
    assert!(resealed.starts_with("enc:v1:"), "{resealed}");
    let key_id = |v: &str| v.split(':').nth(2).unwrap().to_owned();
    assert_ne!(
        key_id(&resealed),
        key_id(&sealed_with_old),
        "not re-encrypted"
    );
    let request = deliver_one_through(&app, &server, &receiver, "rotated").await;
    assert_signed_with(&request, &secret);

    // Once resealed, the old key is no longer needed.
    let server = restart_with(&app, keys(&new, &[])).await.unwrap();
    let request = deliver_one_through(&app, &server, &receiver, "newonly").await;
    assert_signed_with(&request, &secret);
}

#[tokio::test]
async fn a_missing_or_wrong_key_stops_the_start_instead_of_signing_with_garbage() {
    let key = new_key();
    let app = spawn_app_with(|s| s.encryption = keys(&key, &[])).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    let before = stored(&app, &endpoint_id).await;

    let missing = restart_with(&app, EncryptionKeys::default()).await;
    let message = format!("{:#}", missing.err().expect("started without the key"));
    assert!(
        message.contains("OPENRAILS_ENCRYPTION_KEY is not set"),
        "{message}"
    );
    assert!(message.contains(&endpoint_id), "{message}");

    let wrong = restart_with(&app, keys(&new_key(), &[])).await;
    let message = format!("{:#}", wrong.err().expect("started with a wrong key"));
    assert!(
        message.contains("neither OPENRAILS_ENCRYPTION_KEY"),
        "{message}"
    );
    assert!(
        !message.contains(&key) && !message.contains(&secret),
        "{message}"
    );
    assert_eq!(
        stored(&app, &endpoint_id).await,
        before,
        "nothing rewritten"
    );

    // A value altered in the database is refused too, not used to sign.
    let (column, _) = before;
    let altered = format!("{}AAAA", &column[..column.len() - 4]);
    app.execute(
        &format!("UPDATE webhook_endpoints SET secret = '{altered}' WHERE id = $1"),
        &endpoint_id,
    )
    .await;
    let message = format!(
        "{:#}",
        restart_with(&app, keys(&key, &[]))
            .await
            .err()
            .expect("started")
    );
    assert!(message.contains("does not decrypt"), "{message}");
    // The running server does not sign with it either.
    record_event_at(&app, "altered", driven_clock()).await;
    deliver_at(&app, driven_clock()).await;
    assert_eq!(receiver.count(), 0);
}

/// Runs the binary with `key` as `OPENRAILS_ENCRYPTION_KEY` (none when `None`).
async fn run_cli(database_url: &str, key: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars() {
        if name.starts_with("OPENRAILS_") {
            command.env_remove(name);
        }
    }
    if let Some(key) = key {
        command.env("OPENRAILS_ENCRYPTION_KEY", key);
    }
    command
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn the_command_line_encrypts_with_the_key_from_the_environment() {
    let app = spawn_app_with(|s| s.encryption = EncryptionKeys::default()).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    let key = new_key();

    let (ok, text) = run_cli(&app.database_url, Some(&key), &["webhooks", "reencrypt"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("1 endpoints re-encrypted"), "{text}");
    assert!(stored(&app, &endpoint_id).await.0.starts_with("enc:v1:"));

    let (ok, text) = run_cli(
        &app.database_url,
        Some(&key),
        &["webhooks", "add", &receiver.url],
    )
    .await;
    assert!(ok, "{text}");
    let added_secret = text
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_owned();
    let all: Vec<String> = sqlx::query_scalar("SELECT secret FROM webhook_endpoints")
        .fetch_all(&app.db.read)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s.starts_with("enc:v1:")), "{all:?}");

    let (ok, text) = run_cli(&app.database_url, None, &["webhooks", "list"]).await;
    assert!(!ok, "listed without the key: {text}");
    assert!(
        text.contains("OPENRAILS_ENCRYPTION_KEY is not set"),
        "{text}"
    );

    // The sealed secrets still sign: through a server that has the key.
    let server = restart_with(&app, keys(&key, &[])).await.unwrap();
    record_event_at(&app, "cli", driven_clock()).await;
    let summary = deliver_due(
        &server.state().webhook_worker(),
        "restarted-worker",
        driven_clock(),
    )
    .await
    .unwrap();
    assert_eq!(summary.succeeded, 2, "{summary:?}");
    let requests = receiver.requests();
    let signed_with = |s: &str| {
        requests
            .iter()
            .filter(|r| {
                r.signature()
                    .contains(&expected_v1(s, signature_time(r), &r.body))
            })
            .count()
    };
    assert_eq!(signed_with(&secret), 1);
    assert_eq!(signed_with(&added_secret), 1);
}

fn signature_time(request: &crate::webhook_support::Received) -> i64 {
    parse_signature(&request.signature()).0
}

#[tokio::test]
async fn without_a_key_secrets_stay_readable_in_plain_text() {
    let app = spawn_app_with(|s| s.encryption = EncryptionKeys::default()).await;
    let receiver = Receiver::accepting().await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    assert_eq!(stored(&app, &endpoint_id).await.0, secret);
    record_event_at(&app, "plain", driven_clock()).await;
    deliver_at(&app, driven_clock()).await;
    assert_signed_with(&receiver.requests()[0], &secret);
}
