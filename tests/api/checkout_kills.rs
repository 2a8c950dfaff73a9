//! A card submit whose server is killed (`kill -9`) at each point of the hand-off, on the real
//! binary: (a) after the claim committed, before the provider decided; (b) after the provider
//! decided (its books written), before its answer was recorded on the payment; (c) after the
//! answer and `payment.provider_pending` were recorded, before the outcome was (the outcome,
//! the session, the invoice and their event commit together, in a transaction of their own, so
//! there is no point between them). After a restart on the same database everything converges
//! on what the provider decided: the payment, the session and the invoice, exactly one
//! `payment.paid` or `payment.failed`, one decision in the sandbox's books for the payment's
//! idempotency key (never a second charge), and the buyer's page. A wallet payment, handed to
//! its provider as soon as the buyer chooses the route, is killed after it was created: the
//! buyer, who has nothing more to submit, still gets the instructions and pays.
//!
//! To stop the process exactly at a point, the write that comes next there stalls inside the
//! database, and the server is killed once it is seen stalled in it. On PostgreSQL a trigger
//! sleeps (`pg_sleep`) and `pg_stat_activity` shows the server's statement sleeping; once the
//! server is dead, the statement it left sleeping is ended (`pg_terminate_backend`): it dies
//! with the process, as the provider's deciding does when the call to it is cut, and as an open
//! transaction does once PostgreSQL notices its client gone. SQLite has no sleep, so there the
//! trigger runs a query that takes minutes, and the server counts as stalled once it has held
//! the write lock without a break for a while, with the point's previous step committed; the
//! kill ends the statement. Either way the stalled statement's transaction never commits: the
//! database is left exactly as the previous step wrote it, which each test checks before it
//! restarts the server. Runs on whichever database the suite uses.

use std::time::{Duration, Instant};

use openrails_checkout::bootstrap::ensure_first_merchant;
use openrails_checkout::db::payments::{PaymentRow, get_payment_by_session};
use openrails_checkout::db::sandbox_ledger::find_decision;
use openrails_checkout::db::{Backend, Db};
use openrails_checkout::domain::SessionId;
use openrails_checkout::domain::sandbox::LedgerEntry;
use openrails_checkout::providers::idempotency_key;
use serde_json::Value;
use sqlx::Connection;

use crate::checkout_support::{
    Buyer, CARD_DECLINED, CARD_NO_FUNDS, CARD_PAYS, CARD_ROUTE, FUTURE_EXPIRY, REDIRECT,
    WALLET_ROUTE, assert_result_page, assert_retry_page, checkout_body, expected_return,
};
use crate::helpers::{TestDatabase, http_client};
use crate::served::Served;

/// Both servers reconcile every second and drive a cut-short hand-off again 3 s after its
/// claim (15 s by default): long enough for the first server to be killed well before it
/// would drive the hand-off itself.
const QUICK_RECOVERY: &[(&str, &str)] = &[
    ("OPENRAILS_RECONCILE_INTERVAL_SECONDS", "1"),
    ("OPENRAILS_HANDOFF_REDRIVE_AFTER_SECONDS", "3"),
];

/// Where the hand-off is cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    /// A wallet or bank transfer: the payment was created, nothing else written yet (neither a
    /// claim nor a decision of the provider).
    Starting,
    /// (a) The claim committed; the sandbox is deciding (its books' insert stalls).
    Deciding,
    /// (b) The sandbox decided; its answer is being recorded on the payment.
    RecordingAnswer,
    /// (c) The answer and `payment.provider_pending` are recorded; the outcome is being applied.
    ApplyingOutcome,
}

/// The sandbox's books take a decision.
const DECISION: (&str, &str, &str) = ("sandbox_ledger", "INSERT", "TRUE");

impl Point {
    /// The writes that can come next at this point, whichever comes first: (table, operation,
    /// condition over OLD and NEW).
    fn next_writes(self) -> Vec<(&'static str, &'static str, &'static str)> {
        match self {
            Point::Starting => vec![
                (
                    "payments",
                    "UPDATE",
                    "OLD.provider_state = 'awaiting_buyer'",
                ),
                DECISION,
            ],
            Point::Deciding => vec![DECISION],
            Point::RecordingAnswer => vec![(
                "payments",
                "UPDATE",
                "NEW.provider_ref IS NOT NULL AND OLD.provider_ref IS NULL",
            )],
            Point::ApplyingOutcome => vec![("payments", "UPDATE", "NEW.status <> OLD.status")],
        }
    }
}

/// What the database holds about the checkout.
#[derive(Debug)]
struct Snapshot {
    payment: PaymentRow,
    session_status: String,
    invoice_status: String,
    /// The sandbox's decisions under the payment's idempotency key.
    decisions: Vec<LedgerEntry>,
    /// Every decision in the sandbox's books (this database has one payment).
    ledger_rows: i64,
    /// (id, type) of the session's events, by id.
    events: Vec<(String, String)>,
}

impl Snapshot {
    async fn take(db: &Db, session_id: &str) -> Snapshot {
        let session = SessionId::parse(session_id).expect("a session id");
        let payment = get_payment_by_session(&db.read, &session)
            .await
            .unwrap()
            .expect("the session has a payment");
        let decisions = find_decision(&db.read, &idempotency_key(&payment.id))
            .await
            .unwrap()
            .into_iter()
            .collect();
        let ledger_rows = sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_ledger")
            .fetch_one(&db.read)
            .await
            .unwrap();
        let session_status =
            sqlx::query_scalar("SELECT status FROM checkout_sessions WHERE id = $1")
                .bind(session_id)
                .fetch_one(&db.read)
                .await
                .unwrap();
        let invoice_status = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
            .bind(&payment.invoice_id)
            .fetch_one(&db.read)
            .await
            .unwrap();
        let events =
            sqlx::query_as("SELECT id, type FROM events WHERE session_id = $1 ORDER BY id")
                .bind(session_id)
                .fetch_all(&db.read)
                .await
                .unwrap();
        Snapshot {
            payment,
            session_status,
            invoice_status,
            decisions,
            ledger_rows,
            events,
        }
    }

    /// Whether this is the state at `point`: the step before it committed, nothing after.
    fn shows(&self, point: Point) -> bool {
        let p = &self.payment;
        let open = p.status.as_str() == "pending"
            && self.session_status == "pending"
            && self.invoice_status == "open";
        let claimed = p.provider_state.as_str() == "in_flight";
        let pending_event = self.events.len() == 1
            && self.events[0].0 == format!("evt_{}_provider_pending", p.session_id);
        open && match point {
            Point::Starting => {
                p.provider_ref.is_none() && self.decisions.is_empty() && self.events.is_empty()
            }
            Point::Deciding => {
                claimed
                    && p.provider_ref.is_none()
                    && self.decisions.is_empty()
                    && self.events.is_empty()
            }
            Point::RecordingAnswer => {
                claimed
                    && p.provider_ref.is_none()
                    && self.decisions.len() == 1
                    && self.events.is_empty()
            }
            Point::ApplyingOutcome => {
                claimed && p.provider_ref.is_some() && self.decisions.len() == 1 && pending_event
            }
        }
    }

    fn finished(&self) -> bool {
        self.payment.status.as_str() != "pending"
    }
}

/// A trigger that stalls the write that comes next at a point.
struct Stall {
    point: Point,
}

impl Stall {
    async fn install(db: &Db, point: Point) -> Stall {
        let mut statements = match db.backend {
            Backend::Postgres => vec![
                "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$"
                    .to_owned(),
            ],
            // 2000³ rows to go through: minutes of work for the server's writer.
            Backend::Sqlite => vec![
                "CREATE TABLE stall_rows (x INTEGER NOT NULL)".to_owned(),
                "INSERT INTO stall_rows (x) WITH RECURSIVE n(x) AS
                 (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) SELECT x FROM n"
                    .to_owned(),
            ],
        };
        for (i, (table, operation, when)) in point.next_writes().into_iter().enumerate() {
            statements.push(match db.backend {
                Backend::Postgres => format!(
                    "CREATE TRIGGER stall_{i} BEFORE {operation} ON {table} FOR EACH ROW
                     WHEN ({when}) EXECUTE FUNCTION stall()"
                ),
                Backend::Sqlite => format!(
                    "CREATE TRIGGER stall_{i} BEFORE {operation} ON {table} FOR EACH ROW
                     WHEN {when}
                     BEGIN SELECT max(a.x + b.x + c.x) FROM stall_rows a, stall_rows b, stall_rows c; END"
                ),
            });
        }
        for sql in statements {
            sqlx::query(&sql).execute(&db.write).await.unwrap();
        }
        Stall { point }
    }

    /// Waits until the server is stalled in the trigger, the database at the point.
    async fn wait_until_stalled(&self, db: &Db, database_url: &str, session_id: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut lock_probe = match db.backend {
            Backend::Sqlite => Some(WriteLockProbe::open(database_url).await),
            Backend::Postgres => None,
        };
        let mut held_since: Option<Instant> = None;
        loop {
            let stalled = match &mut lock_probe {
                None => sleeping_statements(db).await > 0,
                Some(probe) => {
                    // Another write may hold the lock for a moment; the stalled one holds it.
                    if probe.is_held().await {
                        let since = *held_since.get_or_insert_with(Instant::now);
                        since.elapsed() >= Duration::from_millis(300)
                    } else {
                        held_since = None;
                        false
                    }
                }
            };
            if stalled && Snapshot::take(db, session_id).await.shows(self.point) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server never stalled {:?}: {:?}",
                self.point,
                Snapshot::take(db, session_id).await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Once the server is dead: ends the statement it left stalled, which would otherwise
    /// sleep on (and an autocommit one then commit) as if the process lived, and removes the
    /// trigger.
    async fn remove(self, db: &Db) {
        let mut statements = Vec::new();
        if db.backend == Backend::Postgres {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event = 'PgSleep'",
            )
            .execute(&db.write)
            .await
            .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while sleeping_statements(db).await > 0 {
                assert!(
                    Instant::now() < deadline,
                    "the dead server's statement lingers"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for (i, (table, _, _)) in self.point.next_writes().into_iter().enumerate() {
            statements.push(match db.backend {
                Backend::Postgres => format!("DROP TRIGGER stall_{i} ON {table}"),
                Backend::Sqlite => format!("DROP TRIGGER stall_{i}"),
            });
        }
        statements.push(match db.backend {
            Backend::Postgres => "DROP FUNCTION stall()".to_owned(),
            Backend::Sqlite => "DROP TABLE stall_rows".to_owned(),
        });
        for sql in statements {
            sqlx::query(&sql).execute(&db.write).await.unwrap();
        }
    }
}

/// Statements of this database sleeping in the trigger.
async fn sleeping_statements(db: &Db) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event = 'PgSleep'",
    )
    .fetch_one(&db.write)
    .await
    .unwrap()
}

/// A SQLite connection of the test's own that asks, without waiting, whether another
/// connection holds the write lock.
struct WriteLockProbe(sqlx::SqliteConnection);

impl WriteLockProbe {
    async fn open(database_url: &str) -> WriteLockProbe {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut conn)
            .await
            .unwrap();
        WriteLockProbe(conn)
    }

    async fn is_held(&mut self) -> bool {
        match sqlx::query("BEGIN IMMEDIATE").execute(&mut self.0).await {
            Ok(_) => {
                sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
                false
            }
            Err(e) if e.to_string().contains("locked") => true,
            Err(e) => panic!("probing SQLite's write lock: {e}"),
        }
    }
}

/// What the buyer sends as the server is killed.
#[derive(Debug, Clone, Copy)]
enum Submit {
    /// The card form, with this number.
    Card(&'static str),
    /// The choice of a route that goes to its provider at once (a wallet or a bank transfer).
    Route(&'static str),
}

/// A checkout whose server was killed at a point, and the server started after it on the same
/// database.
struct Restarted {
    db: Db,
    key: String,
    server: Served,
    address: String,
    session_id: String,
    /// The database right after the kill.
    at_kill: Snapshot,
    _logs: tempfile::TempDir,
    _database: TestDatabase,
}

/// A buyer submits `submit`, the server is killed at `point`, and a new one starts on the same
/// database (once the database is checked to be as at the point).
async fn kill_at(point: Point, submit: Submit) -> Restarted {
    let database = TestDatabase::create().await;
    let db = Db::connect(&database.url, 4).await.unwrap();
    db.migrate().await.unwrap();
    let key = ensure_first_merchant(&db, "Killed Store")
        .await
        .unwrap()
        .unwrap()
        .sandbox_key;
    let logs = tempfile::tempdir().unwrap();
    let mut first = Served::start(
        &database.url,
        &logs.path().join("first.log"),
        QUICK_RECOVERY,
    );
    let address = first.address().await;

    let session_id = create_session(&address, &key).await;
    let buyer = Buyer::at(&address, &session_id);
    let (form, fields) = match submit {
        Submit::Card(number) => {
            let form = buyer.choose(CARD_ROUTE).await;
            let fields = vec![
                ("number", number),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada Buyer"),
            ];
            (form, fields)
        }
        Submit::Route(route) => (buyer.open().await, vec![("route", route)]),
    };
    let token = form.input_value("token");
    let mut all = vec![("token", token.as_str())];
    all.extend(fields);
    let action = form.form_action();
    let stall = Stall::install(&db, point).await;
    let (answer, ()) = tokio::join!(buyer.try_post_form(&action, &all), async {
        stall
            .wait_until_stalled(&db, &database.url, &session_id)
            .await;
        first.kill_9();
    });
    assert!(
        answer.is_err(),
        "the buyer got an answer from a server killed mid-hand-off: {answer:?}"
    );
    stall.remove(&db).await;
    let at_kill = Snapshot::take(&db, &session_id).await;
    assert!(
        at_kill.shows(point),
        "after the kill, the database is not as at {point:?}: {at_kill:?}"
    );

    let mut server = Served::start(
        &database.url,
        &logs.path().join("second.log"),
        QUICK_RECOVERY,
    );
    let address = server.address().await;
    Restarted {
        db,
        key,
        server,
        address,
        session_id,
        at_kill,
        _logs: logs,
        _database: database,
    }
}

impl Restarted {
    /// Waits (a few seconds past the hand-off's redrive delay at most) until `done` holds.
    async fn wait_until(&mut self, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.server.assert_running();
            let now = Snapshot::take(&self.db, &self.session_id).await;
            if done(&now) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "not {what} 20 s after the restart: {now:?}\n{}",
                self.server.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn buyer(&self) -> Buyer {
        Buyer::at(&self.address, &self.session_id)
    }

    /// A merchant API read from the new server.
    async fn api(&self, path: &str) -> Value {
        let response = http_client()
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

/// What the checkout must end as.
struct Expected {
    paid: bool,
    failure_code: Option<&'static str>,
    /// The card's last four digits, for a card payment.
    last4: Option<&'static str>,
    /// What the provider decided, if it was ever asked (`paid`, `failed`, `awaiting_transfer`).
    decision: Option<&'static str>,
}

/// Checks what the finished checkout `last` left behind, in the database, the merchant API and
/// the buyer's page: the provider's one decision, exactly one outcome event.
async fn assert_settled(r: &Restarted, last: &Snapshot, expected: &Expected) {
    let outcome = if expected.paid { "paid" } else { "failed" };
    // A failed payment opens the session for another attempt.
    let session_status = if expected.paid { "paid" } else { "routed" };
    let p = &last.payment;
    assert_eq!(p.status.as_str(), outcome, "{last:?}");
    assert_eq!(p.failure_code.as_deref(), expected.failure_code, "{last:?}");
    assert_eq!(p.card_last4.as_deref(), expected.last4, "{last:?}");
    assert_eq!(
        p.next_poll_at, None,
        "nothing is left to reconcile: {last:?}"
    );
    assert_eq!(last.session_status, session_status, "{last:?}");
    let invoice = if expected.paid { "paid" } else { "void" };
    assert_eq!(last.invoice_status, invoice, "{last:?}");
    // The provider's books: a decision taken before the kill stands, and it is the only one.
    if !r.at_kill.decisions.is_empty() {
        assert_eq!(last.decisions, r.at_kill.decisions, "{last:?}");
    }
    assert_eq!(last.ledger_rows, last.decisions.len() as i64, "{last:?}");
    let session_id = &r.session_id;
    let final_event = (
        format!("evt_{session_id}_{outcome}"),
        format!("payment.{outcome}"),
    );
    match (last.decisions.as_slice(), expected.decision) {
        ([], None) => assert_eq!(last.events, vec![final_event], "{last:?}"),
        ([decision], Some(decided)) => {
            assert_eq!(decision.decision.as_str(), decided, "{decision:?}");
            assert_eq!(p.provider_ref.as_ref(), Some(&decision.provider_ref));
            if decided != "awaiting_transfer" {
                assert_eq!(p.failure_code, decision.failure_code, "{last:?}");
                assert_eq!(p.tx_hash, decision.tx_hash, "{last:?}");
            }
            if expected.paid {
                assert!(p.tx_hash.is_some(), "{last:?}");
            }
            let pending = (
                format!("evt_{session_id}_provider_pending"),
                "payment.provider_pending".to_owned(),
            );
            let mut want = vec![final_event, pending];
            want.sort();
            assert_eq!(last.events, want, "{last:?}");
        }
        (decisions, _) => panic!(
            "the provider decided {decisions:?}, expected {:?}",
            expected.decision
        ),
    }

    let payment = r.api(&format!("/api/gateway/payments/{session_id}")).await;
    assert_eq!(payment["status"], outcome, "{payment}");
    match expected.last4 {
        Some(last4) => assert_eq!(payment["card"]["last4"], last4, "{payment}"),
        None => assert!(payment["card"].is_null(), "{payment}"),
    }
    let session = r.api(&format!("/api/gateway/sessions/{session_id}")).await;
    assert_eq!(session["status"], session_status, "{session}");
    let page = r.buyer().open().await;
    if expected.paid {
        let back = expected_return(REDIRECT, session_id, outcome);
        assert_result_page(&page, true, Some(&back));
    } else {
        let reason = match expected.failure_code {
            Some("card_declined") => "The card was declined.",
            Some("insufficient_funds") => "The card has insufficient funds.",
            _ => "The payment never reached the provider.",
        };
        assert_retry_page(&page, reason);
    }
}

/// The card story: killed at `point`, restarted, settled as `expected` without the buyer.
async fn card_killed_at(point: Point, number: &'static str, expected: Expected) {
    let mut restarted = kill_at(point, Submit::Card(number)).await;
    let last = restarted.wait_until("settled", Snapshot::finished).await;
    assert_settled(&restarted, &last, &expected).await;
}

async fn create_session(address: &str, key: &str) -> String {
    let response = http_client()
        .post(format!("{address}/api/gateway/sessions"))
        .bearer_auth(key)
        .json(&checkout_body(116.0, Some(REDIRECT)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_claim_before_the_provider_decided_the_card_fails_with_no_money_taken() {
    // The approved card never reached the provider, and its number was never stored: the
    // payment cannot go on without the buyer, and nothing is charged.
    let expected = Expected {
        paid: false,
        failure_code: Some("handoff_interrupted"),
        last4: Some("4242"),
        decision: None,
    };
    card_killed_at(Point::Deciding, CARD_PAYS, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_provider_approved_before_its_answer_was_recorded_the_card_ends_paid() {
    let expected = Expected {
        paid: true,
        failure_code: None,
        last4: Some("4242"),
        decision: Some("paid"),
    };
    card_killed_at(Point::RecordingAnswer, CARD_PAYS, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_provider_declined_before_its_answer_was_recorded_the_card_ends_declined()
{
    let expected = Expected {
        paid: false,
        failure_code: Some("card_declined"),
        last4: Some("0002"),
        decision: Some("failed"),
    };
    card_killed_at(Point::RecordingAnswer, CARD_DECLINED, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_approval_was_recorded_before_the_outcome_the_card_ends_paid() {
    let expected = Expected {
        paid: true,
        failure_code: None,
        last4: Some("4242"),
        decision: Some("paid"),
    };
    card_killed_at(Point::ApplyingOutcome, CARD_PAYS, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_refusal_was_recorded_before_the_outcome_the_card_ends_failed() {
    let expected = Expected {
        paid: false,
        failure_code: Some("insufficient_funds"),
        last4: Some("9995"),
        decision: Some("failed"),
    };
    card_killed_at(Point::ApplyingOutcome, CARD_NO_FUNDS, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_a_wallet_payment_was_created_the_buyer_still_gets_the_instructions_and_pays()
{
    let mut restarted = kill_at(Point::Starting, Submit::Route(WALLET_ROUTE)).await;
    // Nobody needs to ask the buyer again: the new server hands the payment to the provider,
    // and the page the buyer is waiting on shows where to pay.
    restarted
        .wait_until("handed off", |s| s.payment.provider_ref.is_some())
        .await;
    let buyer = restarted.buyer();
    let instructions = buyer.open().await;
    assert!(instructions.html.contains("USDC"), "{}", instructions.html);
    buyer.press("transfer").await;
    let last = restarted.wait_until("settled", Snapshot::finished).await;
    let expected = Expected {
        paid: true,
        failure_code: None,
        last4: None,
        decision: Some("awaiting_transfer"),
    };
    assert_settled(&restarted, &last, &expected).await;
}
