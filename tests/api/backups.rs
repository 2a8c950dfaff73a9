//! `backup`, `restore` and `migrate --dry-run`, run as an operator runs them: the real binary
//! next to a running server on a SQLite file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::json;
use sqlx::{AnyConnection, Connection};

use crate::helpers::http_client;
use crate::served::Served;

/// `openrails-checkout <args>` on `database_url`: (success, stdout + stderr).
async fn cli(database_url: &str, args: &[&str]) -> (bool, String) {
    let mut command = crate::helpers::clean_binary();
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The row count the report gives for `table`.
fn rows_in(report: &str, table: &str) -> i64 {
    report
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(table)).then(|| words.next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {table} in:\n{report}"))
}

async fn session_ids(file: &Path) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("sqlite://{}?mode=ro", file.display()))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT id FROM checkout_sessions ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_to_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live/openrails.db");
    let live_url = format!("sqlite://{}", live.display());
    // The load runs faster than a key's default rate: raised, so that no request is refused.
    let unlimited = [
        ("OPENRAILS_API_RATE_PER_SECOND", "1000000"),
        ("OPENRAILS_API_RATE_BURST", "1000000"),
    ];
    let mut served = Served::start(&live_url, &dir.path().join("server.log"), &unlimited);
    let base = served.address().await;
    let output = served.output();
    let key = output
        .split(|c: char| c.is_whitespace() || c == '"')
        .find(|w| w.starts_with("sk_test_"))
        .unwrap()
        .to_owned();

    // Buyers' merchants keep creating sessions while the backup runs.
    let client = http_client();
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (client, stop, created, base, key) = (
            client.clone(),
            stop.clone(),
            created.clone(),
            base.clone(),
            key.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 2_000 {
                let body = json!({"product": "Creator plan", "amount": 116,
                    "customer": format!("buyer{worker}-{n}@example.com")});
                let response = client
                    .post(format!("{base}/api/gateway/sessions"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    200,
                    "a buyer waited or failed during the backup"
                );
                created.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    while created.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = created.load(Ordering::Relaxed) as i64;
    let backup = dir.path().join("backup.db");
    let (ok, report) = cli(&live_url, &["backup", backup.to_str().unwrap()]).await;
    let after = created.load(Ordering::Relaxed) as i64;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(ok, "{report}");
    assert!(report.contains("integrity ok"), "{report}");
    let in_backup = rows_in(&report, "checkout_sessions");
    assert!(
        (before..=after).contains(&in_backup),
        "the copy is a snapshot taken during the backup: {before} ≤ {in_backup} ≤ {after}"
    );
    assert!(after > before, "sessions were created while the backup ran");
    // Every session of the copy is one of the live database's.
    let copied = session_ids(&backup).await;
    let all = session_ids(&live).await;
    assert!(copied.iter().all(|id| all.binary_search(id).is_ok()));
    assert_eq!(copied.len() as i64, in_backup);

    // A backup never overwrites.
    let (ok, again) = cli(&live_url, &["backup", backup.to_str().unwrap()]).await;
    assert!(!ok && again.contains("exists already"), "{again}");

    // Restored into an empty folder: the same rows, and a server that serves them.
    let restored = dir.path().join("restored/openrails.db");
    let restored_url = format!("sqlite://{}", restored.display());
    let (ok, out) = cli(&restored_url, &["restore", backup.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    assert_eq!(rows_in(&out, "checkout_sessions"), in_backup, "{out}");
    assert_eq!(session_ids(&restored).await, copied);
    drop(served);
    let mut second = Served::start(&restored_url, &dir.path().join("restored.log"), &[]);
    let restored_base = second.address().await;
    let session = client
        .get(format!(
            "{restored_base}/api/gateway/sessions/{}",
            copied[0]
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200, "the key and the session came back");
    drop(second);

    // Never into a folder that holds anything.
    let (ok, out) = cli(&restored_url, &["restore", backup.to_str().unwrap()]).await;
    assert!(!ok && out.contains("is not empty"), "{out}");
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_a_dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/openrails.db");
    let url = format!("sqlite://{}", db.display());
    // A dry run on nothing lists every migration and creates nothing.
    let (ok, out) = cli(&url, &["migrate", "--dry-run"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("would be applied") && out.contains("card declines"),
        "{out}"
    );
    assert!(!db.exists(), "a dry run creates nothing");
    let (ok, out) = cli(&url, &["migrate"]).await;
    assert!(ok && out.contains("migrations applied"), "{out}");
    let (ok, out) = cli(&url, &["migrate", "--dry-run"]).await;
    assert!(ok && out.contains("nothing to do"), "{out}");

    // A backup made by a newer build: refused by restore, migrate and serve alike.
    let newer = dir.path().join("newer.db");
    let (ok, out) = cli(&url, &["backup", newer.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&format!("sqlite://{}", newer.display()))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
             VALUES (99990101000000, 'from the future', '2099-01-01', TRUE, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let target = format!(
        "sqlite://{}",
        dir.path().join("empty/openrails.db").display()
    );
    let (ok, out) = cli(&target, &["restore", newer.to_str().unwrap()]).await;
    assert!(!ok && out.contains("newer build"), "{out}");
    let newer_url = format!("sqlite://{}", newer.display());
    for args in [&["migrate"][..], &["migrate", "--dry-run"][..]] {
        let (ok, out) = cli(&newer_url, args).await;
        assert!(!ok && out.contains("newer build"), "{args:?}: {out}");
    }
    // Not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, out) = cli(&target, &["restore", junk.to_str().unwrap()]).await;
    assert!(!ok, "{out}");
    assert!(
        !dir.path().join("empty/openrails.db").exists(),
        "nothing half-written"
    );
}

/// The lines `copy-to` prints per table: (table, rows, checksum).
fn copied(report: &str) -> Vec<(String, String, String)> {
    report
        .lines()
        .filter(|l| l.ends_with("  match"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_owned(), w[1].to_owned(), w[4].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_moves_100_000_sessions_both_ways_with_matching_checksums() {
    use crate::checkout_support::{Buyer, CARD_PAYS, checkout_body, create_checkout};
    use crate::helpers::{TestDatabase, spawn_app_on};
    use crate::webhook_support::{Receiver, register_receiver};

    let dir = tempfile::tempdir().unwrap();
    let source_url = format!("sqlite://{}/source.db", dir.path().display());
    // The product's own rows: a paid card payment, its events, deliveries and attempts…
    let app = spawn_app_on(TestDatabase::sqlite_at(source_url.clone()), |_| {}).await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    Buyer::new(&app, &id).card_checkout(CARD_PAYS).await;
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    // …and 100,000 more sessions, made from the first by SQL.
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('checkout_sessions') ORDER BY cid")
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" => "'chk_bulk' || printf('%07d', n)".to_owned(),
            "status" => "'routed'".to_owned(),
            "payment_id" | "idempotency_key" | "request_hash" | "opened_at" | "sent_back_at" => {
                "NULL".to_owned()
            }
            "product" => "'Bulk ' || n".to_owned(),
            other => format!("s.{other}"),
        })
        .collect();
    let bulk = format!(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 100000)
         INSERT INTO checkout_sessions ({}) SELECT {} FROM checkout_sessions s, seq
         WHERE s.id = $1",
        columns.join(", "),
        values.join(", ")
    );
    sqlx::query(&bulk)
        .bind(&id)
        .execute(&app.db.write)
        .await
        .unwrap();

    // Into the other database (PostgreSQL in the PostgreSQL pass, a new SQLite file otherwise)…
    let target = TestDatabase::create().await;
    let (ok, there) = cli(&source_url, &["copy-to", &target.url]).await;
    assert!(ok, "{there}");
    assert!(there.contains("copied and verified"), "{there}");
    let there_tables = copied(&there);
    let sessions = there_tables
        .iter()
        .find(|(t, _, _)| t == "checkout_sessions")
        .unwrap();
    assert_eq!(sessions.1, "100001");
    for table in [
        "merchants",
        "payments",
        "events",
        "webhook_deliveries",
        "webhook_attempts",
    ] {
        let row = there_tables.iter().find(|(t, _, _)| t == table).unwrap();
        assert_ne!(row.1, "0", "{table} was copied: {there}");
    }
    // …and back into a new SQLite file: the same rows, to the checksum.
    let back_url = format!("sqlite://{}/back.db", dir.path().display());
    let (ok, back) = cli(&target.url, &["copy-to", &back_url]).await;
    assert!(ok, "{back}");
    assert_eq!(
        copied(&back),
        there_tables,
        "the round trip changes nothing"
    );
    // Never into a database that holds anything.
    let (ok, again) = cli(&source_url, &["copy-to", &back_url]).await;
    assert!(!ok && again.contains("not empty"), "{again}");
}
