//! A local stand-in for the part of Stripe's API that Stripe Checkout uses, so that tests never
//! call Stripe. It answers like Stripe (form-encoded requests, bearer secret keys, the
//! `Idempotency-Key` header, the `{"error": {…}}` envelope, `checkout.session` and `event`
//! objects shaped as in Stripe's OpenAPI fixtures) and signs its webhooks as Stripe does.
//!
//! ```sh
//! STANDIN_SECRET_KEY=sk_test_… \
//! STANDIN_WEBHOOK_URL=http://127.0.0.1:9000/stripe STANDIN_WEBHOOK_SECRET=whsec_… \
//!   cargo run --example stripe_standin -- 127.0.0.1:0
//! ```
//!
//! It prints `Listening on 127.0.0.1:PORT` once bound, and listens on loopback only.
//! Environment:
//! - `STANDIN_SECRET_KEY`: the `sk_test_…` or `sk_live_…` key it accepts (several, separated
//!   by commas: each is an account of its own). Any other key gets Stripe's 401.
//! - `STANDIN_WEBHOOK_URL` (optional, loopback only): where events are POSTed.
//! - `STANDIN_WEBHOOK_SECRET` (`whsec_…`, required with the URL): the signing secret.
//! - `STANDIN_API_VERSION` (optional): the `api_version` of events and the `Stripe-Version`
//!   header when a request sends none.
//!
//! Stripe's API (authenticated):
//! - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`
//!   (with `expand[]=payment_intent`, its PaymentIntent with the status of its payment),
//!   `POST /v1/checkout/sessions/{id}/expire`, `GET /v1/events`, `GET /v1/events/{id}`,
//!   `POST /v1/refunds` (of a paid session's `payment_intent`), `GET /v1/refunds/{id}`, with the
//!   events `refund.created`, `refund.updated` and `charge.refunded`.
//!
//! The hosted page a buyer is sent to (`url` of an open session): `GET /pay/{id}`, with the
//! buttons Pay, Pay by bank (delayed), Decline and Back, which post to `/pay/{id}/{action}`.
//!
//! Control endpoints for tests (not Stripe's; no authentication), all JSON:
//! - `POST /_standin/sessions/{id}/complete` (`payment_status=paid|unpaid`, in the query, a form
//!   or JSON; optional `email`), `…/async_succeeded`, `…/async_failed`, `…/expire`: move a
//!   session as the buyer or the bank would; answer the session.
//! - `POST /_standin/fail` `{"status": 500|429|402|…, "count": N}` (optional `type`, `code`,
//!   `message`, `param`, `decline_code`): the next N API requests fail with Stripe's envelope.
//!   These faults happen before a request runs, so an idempotency key does not save them.
//! - `POST /_standin/webhooks` `{"url": "http://127.0.0.1:…"}` sets where events go (with a
//!   secret from `STANDIN_WEBHOOK_SECRET`); `{"deliver": false}` holds new events (a lost webhook);
//!   `POST /_standin/webhooks/release` delivers the held ones; `{"deliver": true}` resumes.
//! - `POST /_standin/refunds` `{"pending": true}`: new refunds stay pending, until
//!   `POST /_standin/refunds/{id}/succeed` or `…/fail`.
//! - `GET /_standin/events`: every event produced, with how its delivery went.
//! - `GET /_standin/requests`: the API requests received (method, path, idempotency key, the
//!   form as sent and as nested parameters, the status answered).
//! - `POST /_standin/reset`: forget everything.
//!
//! Everything lives in memory, bounded (oldest first out). One module per concern, in the
//! order a request meets them.

#![recursion_limit = "256"]

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The default `api_version` (the version of Stripe's official libraries at the time of writing).
const DEFAULT_API_VERSION: &str = "2026-10-28.endive";
const MAX_SESSIONS: usize = 10_000;
const MAX_EVENTS: usize = 10_000;
const MAX_REQUESTS: usize = 1_000;
const MAX_IDEMPOTENCY_KEYS: usize = 10_000;
/// Stripe forgets an idempotency key after 24 hours.
const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;
/// A delivery is tried this many times, with these pauses between the tries.
const DELIVERY_ATTEMPTS: usize = 3;
const DELIVERY_BACKOFF: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];
/// Stripe's bounds on `expires_at`, from the session's creation.
const MIN_EXPIRY_SECONDS: i64 = 30 * 60;
const MAX_EXPIRY_SECONDS: i64 = 24 * 3600;
/// The payment method types this stand-in can take; Stripe knows the others (`KNOWN_METHODS`).
const SUPPORTED_METHODS: [&str; 2] = ["card", "us_bank_account"];

type Shared = web::Data<Arc<StandIn>>;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(bind) = args.get(1) else {
        eprintln!("usage: stripe_standin <127.0.0.1:port>   (see the file's documentation)");
        std::process::exit(2);
    };
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("stripe_standin: {message}");
            std::process::exit(2);
        }
    };
    let bind: SocketAddr = match bind.parse() {
        Ok(address) => address,
        Err(_) => {
            eprintln!("stripe_standin: {bind} is not an address:port");
            std::process::exit(2);
        }
    };
    if !bind.ip().is_loopback() {
        eprintln!("stripe_standin: it listens on loopback only (127.0.0.1), not {bind}");
        std::process::exit(2);
    }
    let listener = std::net::TcpListener::bind(bind)?;
    let address = listener.local_addr()?;

    openrails_checkout::crypto::install_crypto_provider();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .build()
        .map_err(std::io::Error::other)?;
    let (deliveries, queue) = mpsc::unbounded_channel();
    let webhook_url = config.webhook_url.clone();
    let state = Arc::new(StandIn {
        config,
        base_url: format!("http://{address}"),
        books: Mutex::new(Books {
            webhook_url,
            ..Books::default()
        }),
        deliveries,
        client,
    });
    actix_web::rt::spawn(webhooks::deliver_loop(state.clone(), queue));
    actix_web::rt::spawn(sweep_loop(state.clone()));

    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(256 * 1024))
            .configure(routes)
    })
    .workers(2)
    .listen(listener)?
    .run();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "Listening on {address}")?;
    stdout.flush()?;
    server.await
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/pay/{id}", web::get().to(page::show))
        .route("/pay/{id}/{action}", web::post().to(page::act))
        .route(
            "/_standin/sessions/{id}/{action}",
            web::post().to(control::session_action),
        )
        .route("/_standin/refunds", web::post().to(refunds::mode))
        .route(
            "/_standin/refunds/{id}/{action}",
            web::post().to(refunds::resolve),
        )
        .route("/_standin/fail", web::post().to(control::fail))
        .route("/_standin/webhooks", web::post().to(control::webhooks))
        .route(
            "/_standin/webhooks/release",
            web::post().to(control::release),
        )
        .route("/_standin/events", web::get().to(control::events))
        .route("/_standin/requests", web::get().to(control::requests))
        .route("/_standin/reset", web::post().to(control::reset))
        .default_service(web::to(api::entry));
}

/// The process's state: configuration, and the books behind one lock (every operation is
/// short and in memory).
struct StandIn {
    config: config::Config,
    /// `http://127.0.0.1:PORT`, where the hosted pages are.
    base_url: String,
    books: Mutex<Books>,
    /// Ids of events to deliver, in order.
    deliveries: mpsc::UnboundedSender<String>,
    client: reqwest::Client,
}

impl StandIn {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Books {
    /// Where events are POSTed (`STANDIN_WEBHOOK_URL`, or set at run time).
    webhook_url: Option<String>,
    sessions: HashMap<String, Session>,
    /// Oldest first.
    session_order: VecDeque<String>,
    saved: HashMap<(String, String), Saved>,
    saved_order: VecDeque<(String, String)>,
    events: HashMap<String, EventRecord>,
    event_order: VecDeque<String>,
    requests: VecDeque<Value>,
    failures: VecDeque<Failure>,
    holding: bool,
    /// Refunds by id.
    refunds: HashMap<String, refunds::Refund>,
    /// The status new refunds take (`succeeded` unless a test asks for `pending`).
    refunds_pending: bool,
}

/// A checkout session: Stripe's object as it is now, and what the hosted page needs.
struct Session {
    /// The secret key of the account that created it.
    owner: String,
    object: Value,
    items: Vec<Item>,
    bank_offered: bool,
    async_payment: AsyncPayment,
    declines: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AsyncPayment {
    None,
    Pending,
    Succeeded,
    Failed,
}

struct Item {
    name: String,
    quantity: i64,
    unit_amount: i64,
}

impl Session {
    fn field(&self, name: &str) -> &str {
        self.object[name].as_str().unwrap_or_default()
    }

    fn status(&self) -> &str {
        self.field("status")
    }

    fn set(&mut self, name: &str, value: Value) {
        if let Some(object) = self.object.as_object_mut() {
            object.insert(name.to_owned(), value);
        }
    }
}

/// An answer saved under an idempotency key.
struct Saved {
    method: String,
    path: String,
    params: Value,
    status: u16,
    body: Value,
    request_id: String,
    at: i64,
}

/// An event and how its delivery went.
struct EventRecord {
    owner: String,
    event: Value,
    /// The exact bytes delivered and signed.
    body: String,
    delivery: &'static str,
    attempts: Vec<Value>,
}

/// A fault `POST /_standin/fail` asked for.
struct Failure {
    error: errors::ApiError,
    remaining: u32,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// `prefix` and `length` random letters and digits, as Stripe's ids look.
fn new_id(prefix: &str, length: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; length];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let mut id = String::from(prefix);
    id.extend(
        bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char),
    );
    id
}

/// Expires open sessions whose `expires_at` has passed, as Stripe does on its own.
async fn sweep_loop(state: Arc<StandIn>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = now();
        let mut books = state.books();
        let due: Vec<String> = books
            .sessions
            .iter()
            .filter(|(_, s)| s.status() == "open" && s.object["expires_at"].as_i64() <= Some(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let _ = state.expire(&mut books, &id, None, now);
        }
    }
}

mod config;

mod errors;

mod form;

mod create;

mod objects;

/// The state changes of sessions, each producing its event.
impl StandIn {
    fn store_session(&self, books: &mut Books, session: Session) {
        let id = session.field("id").to_owned();
        books.session_order.push_back(id.clone());
        books.sessions.insert(id, session);
        while books.session_order.len() > MAX_SESSIONS {
            if let Some(old) = books.session_order.pop_front() {
                books.sessions.remove(&old);
            }
        }
    }

    /// Expires the session when its time has come (Stripe does it within moments).
    fn settle(&self, books: &mut Books, id: &str, now: i64) {
        let due = books
            .sessions
            .get(id)
            .is_some_and(|s| s.status() == "open" && s.object["expires_at"].as_i64() <= Some(now));
        if due {
            let _ = self.expire(books, id, None, now);
        }
    }

    /// The buyer paid (`paid`), or completed a bank payment that settles later.
    fn complete(
        &self,
        books: &mut Books,
        id: &str,
        paid: bool,
        email: Option<&str>,
        now: i64,
    ) -> Result<Value, String> {
        self.settle(books, id, now);
        let session = books.sessions.get_mut(id).ok_or("no such session")?;
        if session.status() != "open" {
            return Err(format!(
                "the session is {}, not open",
                session.status().to_owned()
            ));
        }
        let email = email
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .or_else(|| session.object["customer_email"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "buyer@example.com".to_owned());
        session.set("status", json!("complete"));
        session.set(
            "payment_status",
            json!(if paid { "paid" } else { "unpaid" }),
        );
        session.set("payment_intent", json!(new_id("pi_", 24)));
        session.set("url", Value::Null);
        session.set("customer_details", objects::customer_details(&email));
        session.set("collected_information", objects::collected_information());
        session.async_payment = if paid {
            AsyncPayment::None
        } else {
            AsyncPayment::Pending
        };
        let object = session.object.clone();
        self.emit(books, "checkout.session.completed", id, (None, None), now);
        Ok(object)
    }

    /// The bank settled (or failed) a payment completed as `unpaid`.
    fn resolve_async(
        &self,
        books: &mut Books,
        id: &str,
        succeeded: bool,
        now: i64,
    ) -> Result<Value, String> {
        let session = books.sessions.get_mut(id).ok_or("no such session")?;
        if session.async_payment != AsyncPayment::Pending {
            return Err("the session has no bank payment pending (complete it with \
                 payment_status=unpaid first)"
                .into());
        }
        if succeeded {
            session.async_payment = AsyncPayment::Succeeded;
            session.set("payment_status", json!("paid"));
        } else {
            // Stripe leaves the session `complete` and `unpaid`.
            session.async_payment = AsyncPayment::Failed;
        }
        let object = session.object.clone();
        let kind = if succeeded {
            "checkout.session.async_payment_succeeded"
        } else {
            "checkout.session.async_payment_failed"
        };
        self.emit(books, kind, id, (None, None), now);
        Ok(object)
    }

    fn expire(
        &self,
        books: &mut Books,
        id: &str,
        request: Option<(&str, Option<&str>)>,
        now: i64,
    ) -> Result<Value, String> {
        let session = books.sessions.get_mut(id).ok_or("no such session")?;
        if session.status() != "open" {
            return Err(session.status().to_owned());
        }
        session.set("status", json!("expired"));
        session.set("url", Value::Null);
        let object = session.object.clone();
        let request = request.map_or((None, None), |(r, k)| (Some(r), k));
        self.emit(books, "checkout.session.expired", id, request, now);
        Ok(object)
    }

    /// Records an event about session `id` as it is now, and queues or holds its delivery.
    fn emit(
        &self,
        books: &mut Books,
        kind: &str,
        id: &str,
        request: (Option<&str>, Option<&str>),
        now: i64,
    ) {
        let Some(session) = books.sessions.get(id) else {
            return;
        };
        let (owner, object) = (session.owner.clone(), session.object.clone());
        self.emit_object(books, kind, &owner, &object, request, now);
    }

    /// Records an event about `object` (of the account `owner`), and queues or holds its
    /// delivery.
    fn emit_object(
        &self,
        books: &mut Books,
        kind: &str,
        owner: &str,
        object: &Value,
        request: (Option<&str>, Option<&str>),
        now: i64,
    ) {
        let event_id = new_id("evt_", 24);
        let endpoint = books.webhook_url.is_some() && self.config.webhook_secret.is_some();
        let event = objects::event(
            &event_id,
            kind,
            object,
            &self.config.api_version,
            u32::from(endpoint),
            request,
            now,
        );
        let body = serde_json::to_string_pretty(&event).unwrap_or_default();
        let delivery = if !endpoint {
            "no_endpoint"
        } else if books.holding {
            "held"
        } else {
            "pending"
        };
        let record = EventRecord {
            owner: owner.to_owned(),
            event,
            body,
            delivery,
            attempts: Vec::new(),
        };
        books.events.insert(event_id.clone(), record);
        books.event_order.push_back(event_id.clone());
        while books.event_order.len() > MAX_EVENTS {
            if let Some(old) = books.event_order.pop_front() {
                books.events.remove(&old);
            }
        }
        if delivery == "pending" {
            let _ = self.deliveries.send(event_id);
        }
    }
}

mod api;
mod refunds;

mod page;

mod control;

mod webhooks;
