//! The real binary's `webhooks add|list|remove|test|replay`, against the test's database.

use std::process::ExitStatus;
use std::time::Duration;

use openrails_checkout::domain::time::{iso_seconds, now_ms};

use crate::helpers::{assert_error, spawn_app};
use crate::webhook_support::{
    Receiver, Reply, assert_signed_with, drive_until_delivered, record_paid_events,
    register_receiver,
};

struct CliOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `openrails-checkout <args>` on `database_url` with no other OPENRAILS_ setting.
async fn run_cli(database_url: &str, args: &[&str]) -> CliOutput {
    let mut command = crate::helpers::clean_binary();
    command
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first word of `text` starting with `prefix`.
fn word_starting_with(text: &str, prefix: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.starts_with(prefix) && w.len() > prefix.len())
        .map(str::to_owned)
}

#[tokio::test]
async fn webhooks_add_prints_the_secret_once_and_list_never_shows_it() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;

    let added = run_cli(&app.database_url, &["webhooks", "add", &receiver.url]).await;

    assert!(added.status.success(), "{}{}", added.stdout, added.stderr);
    let id = word_starting_with(&added.stdout, "we_").expect("the output names the endpoint");
    let secret = word_starting_with(&added.stdout, "whsec_").expect("the output shows the secret");
    let (events, merchant): (String, String) =
        sqlx::query_as("SELECT events, merchant_id FROM webhook_endpoints WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(merchant, app.merchant_id.as_str(), "the first merchant's");
    let events: Vec<String> = serde_json::from_str(&events).unwrap();
    assert_eq!(
        events,
        vec!["payment.provider_pending", "payment.paid", "payment.failed"]
    );
    let expiring = run_cli(
        &app.database_url,
        &[
            "webhooks",
            "add",
            "http://localhost:3000/expired",
            "--events",
            "payment.expired,payment.paid",
        ],
    )
    .await;
    assert!(expiring.status.success(), "{}", expiring.stderr);

    let list = run_cli(&app.database_url, &["webhooks", "list"]).await;

    assert!(list.status.success(), "{}", list.stderr);
    let line = list
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not listed: {}", list.stdout));
    assert!(line.contains(&receiver.url), "{line}");
    assert!(line.contains("active"), "{line}");
    assert!(list.stdout.contains("payment.expired"), "{}", list.stdout);
    for text in [&list.stdout, &list.stderr, &expiring.stderr] {
        assert!(!text.contains(&secret), "the secret was printed again");
        assert!(!text.contains("whsec_"), "a secret was printed: {text}");
    }
    // The API sees the endpoint, and it receives events signed with the printed secret.
    let read = app
        .get(&format!("/api/gateway/webhook-endpoints/{id}"))
        .await;
    assert_eq!(read.status().as_u16(), 200);
    let ids = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "sandbox",
        "cliadd",
        1,
        now_ms(),
    )
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].event_id(), ids[0]);
    assert_signed_with(&got[0], &secret);
}

#[tokio::test]
async fn webhooks_add_refuses_an_unknown_event_or_a_private_production_url() {
    let app = spawn_app().await;

    for args in [
        vec![
            "webhooks",
            "add",
            "http://localhost:3000/h",
            "--events",
            "payment.refunded",
        ],
        vec![
            "webhooks",
            "add",
            "http://93.184.216.34/h",
            "--environment",
            "production",
        ],
        vec![
            "webhooks",
            "add",
            "https://127.0.0.1/h",
            "--environment",
            "production",
        ],
        vec![
            "webhooks",
            "add",
            "https://169.254.169.254/latest",
            "--environment",
            "production",
        ],
        vec![
            "webhooks",
            "add",
            "https://localhost/h",
            "--environment",
            "production",
        ],
        vec![
            "webhooks",
            "add",
            "http://localhost/h",
            "--environment",
            "live",
        ],
    ] {
        let out = run_cli(&app.database_url, &args).await;
        assert!(!out.status.success(), "{args:?} succeeded: {}", out.stdout);
        assert!(!out.stdout.contains("whsec_"), "{args:?}: {}", out.stdout);
        assert!(!out.stderr.trim().is_empty(), "{args:?} says why");
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM webhook_endpoints").await,
        0
    );
}

#[tokio::test]
async fn webhooks_remove_deletes_the_endpoint() {
    let app = spawn_app().await;
    let added = run_cli(
        &app.database_url,
        &["webhooks", "add", "http://localhost:3000/hook"],
    )
    .await;
    let id = word_starting_with(&added.stdout, "we_").unwrap();

    let removed = run_cli(&app.database_url, &["webhooks", "remove", &id]).await;

    assert!(removed.status.success(), "{}", removed.stderr);
    assert!(removed.stdout.contains(&id), "{}", removed.stdout);
    let list = run_cli(&app.database_url, &["webhooks", "list"]).await;
    assert!(!list.stdout.contains(&id), "{}", list.stdout);
    let read = app
        .get(&format!("/api/gateway/webhook-endpoints/{id}"))
        .await;
    assert_error(read, 404, "resource_missing").await;
    let again = run_cli(&app.database_url, &["webhooks", "remove", &id]).await;
    assert!(!again.status.success(), "removing twice fails");
}

#[tokio::test]
async fn webhooks_test_sends_a_signed_sample_event_and_shows_the_answer() {
    let app = spawn_app().await;
    let receiver = Receiver::start(|_, _| Reply::ok().body("hello from the shop")).await;

    let out = run_cli(
        &app.database_url,
        &[
            "webhooks",
            "test",
            &receiver.url,
            "--secret",
            "whsec_from_the_cli",
        ],
    )
    .await;

    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("200"), "{}", out.stdout);
    assert!(out.stdout.contains("hello from the shop"), "{}", out.stdout);
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_signed_with(request, "whsec_from_the_cli");
    let body = request.json();
    assert_eq!(body["id"], request.event_id().as_str());
    assert_eq!(body["type"], "payment.paid");
    assert!(body["data"]["session_id"].is_string(), "{body}");

    let generated = run_cli(&app.database_url, &["webhooks", "test", &receiver.url]).await;
    assert!(generated.status.success(), "{}", generated.stderr);
    let secret = word_starting_with(&generated.stdout, "whsec_").expect("the secret used");
    assert_signed_with(&receiver.requests()[1], &secret);

    receiver.set_script(|_, _| Reply::status(500).body("nope"));
    let failing = run_cli(&app.database_url, &["webhooks", "test", &receiver.url]).await;
    assert!(!failing.status.success(), "a 500 is a failed test");
    assert!(
        format!("{}{}", failing.stdout, failing.stderr).contains("500"),
        "{}{}",
        failing.stdout,
        failing.stderr
    );
}

#[tokio::test]
async fn webhooks_replay_queues_later_events_for_the_running_server_to_send() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let merchant = app.merchant_id.as_str();
    let now = now_ms();
    let old = record_paid_events(&app.db, merchant, "sandbox", "rold", 1, now - 7_200_000).await;
    let recent = record_paid_events(&app.db, merchant, "sandbox", "rnew", 1, now - 60_000).await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    for id in old.iter().chain(&recent) {
        drive_until_delivered(&app, id).await;
    }

    let since = iso_seconds(now - 3_600_000);
    let out = run_cli(
        &app.database_url,
        &["webhooks", "replay", "--since", &since],
    )
    .await;

    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("queued 1"), "{}", out.stdout);
    // The server is another process: its worker finds the delivery on its next poll.
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(got[2].event_id(), recent[0]);
    let bad = run_cli(
        &app.database_url,
        &["webhooks", "replay", "--since", "last tuesday"],
    )
    .await;
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
}
