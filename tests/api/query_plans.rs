//! The background steps stay index-driven as the tables grow: each query that picks their work
//! (the expiry sweeps, reconciliation of payments and refunds, the webhook and e-mail workers,
//! the sweeps of card declines and dashboard sign-ins) is planned by SQLite as a search of an
//! index, never a scan of a whole table. The plans are printed (`cargo test --test api
//! query_plans -- --nocapture`) and the README's performance section shows them.

use openrails_checkout::db::{
    Db, accounts, card_declines, emails, payments, refunds, sessions, webhook_deliveries,
};

/// SQLite's plan of `sql`, one line per step (`SEARCH payments USING INDEX …`).
async fn plan(db: &Db, sql: &str) -> Vec<String> {
    let params = (1..=9).filter(|n| sql.contains(&format!("${n}"))).count();
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
    for _ in 0..params {
        query = query.bind(0_i64);
    }
    query
        .fetch_all(&db.read)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, _, detail)| detail)
        .collect()
}

#[tokio::test]
async fn every_background_step_reads_its_work_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/plans.db", dir.path().display()), 2)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let steps = [
        (
            "expiry sweep: routed sessions",
            sessions::DUE_SESSIONS,
            "checkout_sessions_expiry",
        ),
        (
            "expiry sweep: pending sessions",
            sessions::DUE_PENDING_SESSIONS,
            "checkout_sessions_expiry",
        ),
        (
            "reconciliation: payments",
            payments::PAYMENTS_TO_POLL,
            "payments_reconcile",
        ),
        (
            "reconciliation: refunds",
            refunds::REFUNDS_TO_POLL,
            "refunds_poll",
        ),
        (
            "webhook worker",
            webhook_deliveries::DUE_DELIVERIES,
            "webhook_deliveries_due",
        ),
        ("e-mail worker", emails::DUE_EMAILS, "emails_due"),
        (
            "card declines sweep",
            card_declines::FORGET_DECLINES,
            "card_declines_age",
        ),
        (
            "dashboard sweep: form tokens",
            accounts::SWEEP_FORM_USES,
            "dashboard_form_uses_expiry",
        ),
        (
            "dashboard sweep: sign-ins",
            accounts::SWEEP_SIGN_INS,
            "dashboard_sessions_expiry",
        ),
    ];
    let mut problems = Vec::new();
    for (step, sql, index) in steps {
        let lines = plan(&db, sql).await;
        println!("{step}:\n  {}", lines.join("\n  "));
        if !lines.iter().any(|l| l.contains(index)) {
            problems.push(format!("{step} does not use {index}: {lines:?}"));
        }
        // A full scan reads "SCAN <table>" with no index; scanning a subquery's own result
        // ("SCAN due", "SCAN busy") is fine.
        for line in &lines {
            let scanned = line
                .strip_prefix("SCAN ")
                .map(|rest| rest.split(' ').next().unwrap_or(""));
            let table_scan = scanned.is_some_and(|t| {
                !line.contains("USING") && !["due", "busy"].contains(&t) && !t.starts_with("(")
            });
            if table_scan {
                problems.push(format!("{step} scans a whole table: {line}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
