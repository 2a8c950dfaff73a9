//! Several workers on one database, and a worker killed in the middle of its deliveries: every
//! event arrives, exactly once while nothing fails, and a second copy only of an attempt that a
//! kill cut short. Runs on whichever database the suite uses (SQLite file or PostgreSQL).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use openrails_checkout::bootstrap::ensure_first_merchant;
use openrails_checkout::crypto::secret_box::EncryptionKeys;
use openrails_checkout::db::Db;
use openrails_checkout::db::webhook_deliveries::claim_due_deliveries;
use openrails_checkout::domain::Environment;
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::startup::Application;
use openrails_checkout::webhooks::endpoints::create_endpoint;
use openrails_checkout::webhooks::worker::deliver_due;

use crate::helpers::{TestDatabase, spawn_app_with};
use crate::served::Served;
use crate::webhook_support::{
    Receiver, Reply, assert_signed_with, driven_clock, record_paid_events, register_receiver,
};

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&db.write)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_one_database_deliver_a_thousand_events_each_exactly_once() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.webhook_batch_size = 25;
    })
    .await;
    let receiver = Receiver::accepting().await;
    let (_, secret) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let ids = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "sandbox",
        "bulk",
        1_000,
        t0,
    )
    .await;
    // A second instance: its own pools on the same database, its own HTTP clients.
    let mut settings = (*app.state.settings).clone();
    settings.bind = "127.0.0.1:0".into();
    let second_db = Db::connect(&app.database_url, 4).await.unwrap();
    let second = Application::build_with_db(settings, second_db)
        .await
        .unwrap();
    let started = Instant::now();

    let workers: Vec<_> = [app.state.webhook_worker(), second.state().webhook_worker()]
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            tokio::spawn(async move {
                let worker = format!("worker-{i}");
                let mut delivered = 0;
                loop {
                    let step = deliver_due(&state, &worker, t0).await.unwrap();
                    assert_eq!(step.failed, 0, "{worker}: {step:?}");
                    delivered += step.succeeded;
                    if step.claimed == 0 {
                        let owed = count(
                            &state.db,
                            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'",
                        )
                        .await;
                        if owed == 0 {
                            return delivered;
                        }
                        assert!(
                            started.elapsed() < Duration::from_secs(30),
                            "{owed} deliveries still owed"
                        );
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        })
        .collect();
    let mut per_worker = Vec::new();
    for worker in workers {
        per_worker.push(worker.await.unwrap());
    }

    assert_eq!(per_worker.iter().sum::<usize>(), 1_000, "{per_worker:?}");
    assert!(
        per_worker.iter().all(|n| *n > 0),
        "both workers delivered: {per_worker:?}"
    );
    let copies = receiver.copies();
    assert_eq!(copies.len(), 1_000, "every event arrived");
    let expected: HashSet<&String> = ids.iter().collect();
    assert_eq!(copies.keys().collect::<HashSet<_>>(), expected);
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 1"
        )
        .await,
        1_000
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM webhook_attempts").await,
        1_000
    );
    for request in receiver.requests().iter().step_by(97) {
        assert_signed_with(request, &secret);
        assert_eq!(request.json()["id"], request.event_id().as_str());
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Short leases: a killed worker's deliveries are taken over quickly.
const QUICK_WORKER: &[(&str, &str)] = &[
    ("OPENRAILS_WEBHOOK_TIMEOUT_SECONDS", "1"),
    ("OPENRAILS_WEBHOOK_LEASE_SECONDS", "2"),
    ("OPENRAILS_WEBHOOK_POLL_INTERVAL_MS", "100"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_delivery_delivers_every_event_after_a_restart() {
    let database = TestDatabase::create().await;
    let db = Db::connect(&database.url, 4).await.unwrap();
    db.migrate().await.unwrap();
    let merchant = ensure_first_merchant(&db, "Killed Store")
        .await
        .unwrap()
        .unwrap()
        .merchant_id;
    // Every answer takes 300 ms, so a batch is always in flight for a while.
    let receiver = Receiver::start(|_, _| Reply::ok().after(Duration::from_millis(300))).await;
    let events: Vec<String> = ["payment.provider_pending", "payment.paid", "payment.failed"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let (_, secret) = create_endpoint(
        &db,
        &EncryptionKeys::default(),
        &merchant,
        Environment::Sandbox,
        &receiver.url,
        &events,
    )
    .await
    .unwrap();
    let ids = record_paid_events(&db, merchant.as_str(), "sandbox", "kill", 300, now_ms()).await;
    let logs = tempfile::tempdir().unwrap();

    let mut first = Served::start(&database.url, &logs.path().join("first.log"), QUICK_WORKER);
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.count() < 100 {
        first.assert_running();
        assert!(
            Instant::now() < deadline,
            "only {} deliveries arrived:\n{}",
            receiver.count(),
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill_9();
    let cut_short: HashSet<String> = sqlx::query_scalar(
        "SELECT event_id FROM webhook_deliveries WHERE status = 'pending' AND attempts > 0",
    )
    .fetch_all(&db.write)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert!(
        !cut_short.is_empty(),
        "the kill cut no delivery short; the test proves nothing"
    );

    let mut second = Served::start(&database.url, &logs.path().join("second.log"), QUICK_WORKER);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        second.assert_running();
        let done = count(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'",
        )
        .await;
        if done == 300 && receiver.copies().len() == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of 300 delivered, {} distinct events received:\n{}",
            receiver.copies().len(),
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let copies = receiver.copies();
    let expected: HashSet<&String> = ids.iter().collect();
    assert_eq!(copies.keys().collect::<HashSet<_>>(), expected);
    let attempts: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_id, attempts FROM webhook_deliveries")
            .fetch_all(&db.write)
            .await
            .unwrap();
    for (event, attempts) in attempts {
        let received = copies[&event];
        if cut_short.contains(&event) {
            assert!(
                attempts >= 2,
                "{event} was cut short but attempted {attempts}"
            );
            assert!(received <= 2, "{event} arrived {received} times");
        } else {
            assert_eq!(
                received, 1,
                "{event} arrived {received} times though no kill cut it short"
            );
            assert_eq!(attempts, 1, "{event}");
        }
    }
    for request in receiver.requests() {
        assert_signed_with(&request, &secret);
        assert_eq!(
            request.json()["id"],
            request.event_id().as_str(),
            "a second copy carries the same event id"
        );
    }
    second.kill_9();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_endpoint_delays_only_its_own_deliveries() {
    let app = spawn_app_with(|s| s.webhook_poll_interval_ms = 50).await;
    // Answers long after the 10 s time-out: every attempt to it hangs to the end.
    let hung = Receiver::start(|_, _| Reply::ok().after(Duration::from_secs(60))).await;
    let healthy = Receiver::accepting().await;
    register_receiver(&app, &hung).await;
    register_receiver(&app, &healthy).await;
    let started = Instant::now();
    record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "sandbox",
        "hung",
        100,
        now_ms(),
    )
    .await;

    healthy.wait_for(100, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the healthy endpoint waited for the hung one: {took:?}"
    );
    // Every delivered attempt is recorded as it finishes, not held back for the hung ones (which
    // take the full 10 s time-out): a receiver sees a request a moment before the worker records
    // its answer, so allow that moment, far short of the time-out.
    let deadline = Instant::now() + Duration::from_secs(2);
    let recorded = loop {
        let recorded = count(
            &app.db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'",
        )
        .await;
        if recorded == 100 || Instant::now() >= deadline {
            break recorded;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(recorded, 100, "succeeded deliveries recorded within 2 s");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "recording waited for the hung endpoint"
    );
    let cap = app.state.settings.webhook_endpoint_concurrency as usize;
    let hanging = hung.count();
    assert!(
        (1..=cap).contains(&hanging),
        "{hanging} attempts at once to the hung endpoint (cap {cap})"
    );
}

#[tokio::test]
async fn a_dead_workers_leases_are_taken_over_within_seconds() {
    let app = spawn_app_with(|s| s.webhook_poll_interval_ms = 100).await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    // Due in a second; a worker that dies right after claiming them claims them "then".
    let due = now_ms() + 1_000;
    record_paid_events(&app.db, app.merchant_id.as_str(), "sandbox", "dead", 5, due).await;
    let lease_ms = app.state.settings.webhook_lease_seconds * 1000;
    let claimed = claim_due_deliveries(&app.db, "dead-worker", due, lease_ms, 100, 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);

    receiver.wait_for(5, Duration::from_secs(12)).await;
    let at = now_ms();
    assert!(
        at >= due + lease_ms,
        "delivered while the dead worker's lease held"
    );
    assert!(
        at < due + lease_ms + 3_000,
        "taken over {} ms after the lease ran out",
        at - due - lease_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_renews_its_lease_while_an_attempt_outlasts_it() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 100;
        s.webhook_lease_seconds = 2;
    })
    .await;
    let receiver = Receiver::start(|_, _| Reply::ok().after(Duration::from_secs(4))).await;
    register_receiver(&app, &receiver).await;
    let event = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "sandbox",
        "renew",
        1,
        now_ms(),
    )
    .await
    .remove(0);
    receiver.wait_for(1, Duration::from_secs(5)).await;

    // Another worker keeps looking while the first one's attempt lasts twice its lease.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let other = deliver_due(&app.state.webhook_worker(), "other-worker", now_ms())
            .await
            .unwrap();
        assert_eq!(other.claimed, 0, "the lease was taken over mid-attempt");
        let status: String =
            sqlx::query_scalar("SELECT status FROM webhook_deliveries WHERE event_id = $1")
                .bind(&event)
                .fetch_one(&app.db.write)
                .await
                .unwrap();
        if status == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.count(), 1);
}
