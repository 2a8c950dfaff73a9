//! Shared by the webhook tests: a real HTTP receiver on 127.0.0.1 that records every request
//! and answers as its script says, an independent signature check, events written straight into
//! the outbox, and the worker step driven at a chosen time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openrails_checkout::db::Db;
use openrails_checkout::db::events::EventRow;
use openrails_checkout::domain::time::{iso_millis, now_ms};
use openrails_checkout::domain::{Environment, EventId, MerchantId, SessionId};
use openrails_checkout::lifecycle::outbox::record_event;
use openrails_checkout::webhooks::worker::{StepSummary, deliver_due};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::TestApp;

/// Far enough ahead that the server's own worker, which works at the real time, never finds
/// the events a test writes with this clock due: the test alone decides when they are.
pub fn driven_clock() -> i64 {
    now_ms() + 3_600_000
}

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-case names, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Unix seconds when it arrived.
    pub at_seconds: i64,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn event_id(&self) -> String {
        self.header("x-gateway-event").unwrap_or("").to_owned()
    }

    pub fn signature(&self) -> String {
        self.header("x-gateway-signature").unwrap_or("").to_owned()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a webhook body is UTF-8")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a webhook body is JSON")
    }
}

/// What the receiver answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Reply {
        Reply::status(200).body("ok")
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// Decides the answer to a request; the second argument is how many requests came before it.
pub type Script = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

struct Inner {
    requests: Vec<Received>,
    connections: usize,
    script: Script,
}

/// An HTTP/1.1 server on 127.0.0.1 (keep-alive, `content-length` bodies) that records what
/// it is sent.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Mutex::new(Inner {
            requests: Vec::new(),
            connections: 0,
            script: Arc::new(script),
        }));
        let shared = inner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                shared.lock().unwrap().connections += 1;
                tokio::spawn(serve_connection(stream, shared.clone()));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            inner,
            task,
        }
    }

    /// Always answers `200 ok`.
    pub async fn accepting() -> Receiver {
        Receiver::start(|_, _| Reply::ok()).await
    }

    pub fn set_script(&self, script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) {
        self.inner.lock().unwrap().script = Arc::new(script);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().requests.len()
    }

    /// TCP connections accepted, whether or not a request followed.
    pub fn connections(&self) -> usize {
        self.inner.lock().unwrap().connections
    }

    /// How many times each event id arrived.
    pub fn copies(&self) -> HashMap<String, usize> {
        let mut copies = HashMap::new();
        for r in self.requests() {
            *copies.entry(r.event_id()).or_insert(0) += 1;
        }
        copies
    }

    /// Waits (bounded) until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} expected requests within {within:?}: {:?}",
                requests.len(),
                requests.iter().map(Received::event_id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Mutex<Inner>>) {
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = find(&buffer, b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_owned();
        let path = request_line.next().unwrap_or("").to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = head_end + 4;
        while buffer.len() < body_start + length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buffer[body_start..body_start + length].to_vec();
        buffer.drain(..body_start + length);
        let received = Received {
            method,
            path,
            headers,
            body,
            at_seconds: now_ms() / 1000,
        };
        let reply = {
            let mut inner = shared.lock().unwrap();
            let index = inner.requests.len();
            inner.requests.push(received.clone());
            (inner.script.clone())(&received, index)
        };
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let mut out = format!(
            "HTTP/1.1 {} Answer\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&reply.body);
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Hex HMAC-SHA256 of `"<t>.<body>"`, written here rather than taken from the server.
pub fn expected_v1(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `t=<unix s>,v1=<hex>[,v1=<hex>]` taken apart; panics when the header has another shape.
pub fn parse_signature(header: &str) -> (i64, Vec<String>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key=value pair in {header:?}"));
        match name {
            "t" => t = Some(value.parse::<i64>().unwrap()),
            "v1" => {
                assert!(
                    value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()),
                    "v1 is not 64 hex digits in {header:?}"
                );
                v1.push(value.to_owned());
            }
            other => panic!("unexpected {other:?} in {header:?}"),
        }
    }
    (t.unwrap_or_else(|| panic!("no t= in {header:?}")), v1)
}

/// Checks, without the server's code, that `secret` signed `request` (one of its `v1=`
/// entries) at a time close to its arrival. Returns how many `v1=` entries there were.
pub fn assert_signed_with(request: &Received, secret: &str) -> usize {
    let header = request.signature();
    let (t, v1) = parse_signature(&header);
    assert!(
        (t - request.at_seconds).abs() <= 5,
        "t={t} is not the time of sending ({})",
        request.at_seconds
    );
    let expected = expected_v1(secret, t, &request.body);
    assert!(
        v1.contains(&expected),
        "no v1= of {header:?} verifies with the secret {}…",
        &secret[..10]
    );
    v1.len()
}

pub fn assert_not_signed_with(request: &Received, secret: &str) {
    let (t, v1) = parse_signature(&request.signature());
    assert!(
        !v1.contains(&expected_v1(secret, t, &request.body)),
        "the request is still signed with an old secret"
    );
}

/// `POST /api/gateway/webhook-endpoints` with `key`; the raw answer.
pub async fn post_endpoint(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/gateway/webhook-endpoints"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Registers a sandbox endpoint that must be accepted; returns its JSON (with `secret`).
pub async fn register(app: &TestApp, url: &str, events: Option<&[&str]>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let response = post_endpoint(app, &app.sandbox_key, &body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "registering {url}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// (endpoint id, secret) of a new sandbox endpoint for the three default events.
pub async fn register_receiver(app: &TestApp, receiver: &Receiver) -> (String, String) {
    let endpoint = register(app, &receiver.url, None).await;
    (
        endpoint["id"].as_str().unwrap().to_owned(),
        endpoint["secret"].as_str().unwrap().to_owned(),
    )
}

/// A POST with the sandbox key and an optional JSON body.
pub async fn post_json(app: &TestApp, path: &str, body: Option<&Value>) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).bearer_auth(&app.sandbox_key);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

/// A call that must answer 200; its JSON.
pub async fn json_ok(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The payload an event of `kind` for `session_id` carries (the fields a receiver reads).
pub fn sample_payload(event_id: &str, kind: &str, session_id: &str, created_at: i64) -> Value {
    json!({
        "id": event_id,
        "type": kind,
        "livemode": false,
        "created": iso_millis(created_at),
        "data": {
            "session_id": session_id,
            "customer_id": "cus_TESTWEBHOOK",
            "status": "paid",
            "amount": 116,
            "currency": "USD",
            "asset": "USDC",
            "network": "Base",
            "route": {"id": "card-bridge-a", "kind": "card", "label": "Credit card", "provider": "Sandbox"},
            "fees": {"buyer_fee": 3.72, "gateway_fee": 3.48, "merchant_net": 112.52, "total": 119.72},
            "tx_hash": "0xabc123",
            "metadata": {"order_id": "ord_284"}
        }
    })
}

/// Writes `count` `payment.paid` events of `merchant_id` (sandbox) into the outbox, with their
/// deliveries, as the lifecycle does, `created_at` each; 100 to a transaction. Returns their
/// ids. Writing them directly does not wake any worker.
pub async fn record_paid_events(
    db: &Db,
    merchant_id: &str,
    environment: &str,
    tag: &str,
    count: usize,
    created_at: i64,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let mut tx = db.begin().await.unwrap();
        for i in chunk {
            let session_id = format!("chk_{tag}{i:05}");
            let id = format!("evt_{session_id}_paid");
            let row = EventRow {
                id: EventId::parse(&id).unwrap(),
                merchant_id: MerchantId::parse(merchant_id).unwrap(),
                environment: Environment::parse(environment).unwrap(),
                session_id: SessionId::parse(&session_id).unwrap(),
                kind: "payment.paid".into(),
                payload: sample_payload(&id, "payment.paid", &session_id, created_at).to_string(),
                created_at,
            };
            record_event(&mut tx, &row).await.unwrap();
            ids.push(id);
        }
        tx.commit().await.unwrap();
    }
    ids
}

/// One sandbox `payment.paid` event of the app's merchant, created at `at`.
pub async fn record_event_at(app: &TestApp, tag: &str, at: i64) -> String {
    record_paid_events(&app.db, app.merchant_id.as_str(), "sandbox", tag, 1, at)
        .await
        .remove(0)
}

/// Runs one worker step as if the time were `at` (ms).
pub async fn deliver_at(app: &TestApp, at: i64) -> StepSummary {
    deliver_due(&app.state.webhook_worker(), "test-worker", at)
        .await
        .unwrap()
}

/// A delivery as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredDelivery {
    pub endpoint_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
}

pub async fn deliveries_of(app: &TestApp, event_id: &str) -> Vec<StoredDelivery> {
    sqlx::query_as(
        "SELECT endpoint_id, status, attempts, next_attempt_at, last_status_code, last_error
         FROM webhook_deliveries WHERE event_id = $1 ORDER BY id",
    )
    .bind(event_id)
    .fetch_all(&app.db.write)
    .await
    .unwrap()
}

/// The single delivery of an event.
pub async fn delivery_of(app: &TestApp, event_id: &str) -> StoredDelivery {
    let mut all = deliveries_of(app, event_id).await;
    assert_eq!(all.len(), 1, "one delivery of {event_id}: {all:?}");
    all.remove(0)
}

/// `GET /api/gateway/events/{id}` with the sandbox key.
pub async fn event_json(app: &TestApp, event_id: &str) -> Value {
    json_ok(app.get(&format!("/api/gateway/events/{event_id}")).await).await
}

/// `GET /api/gateway/webhook-endpoints/{id}` with the sandbox key.
pub async fn endpoint_json(app: &TestApp, endpoint_id: &str) -> Value {
    json_ok(
        app.get(&format!("/api/gateway/webhook-endpoints/{endpoint_id}"))
            .await,
    )
    .await
}

/// Runs worker steps at the real time until every delivery of `event_id` succeeded (bounded).
/// The server's own worker may take part: where it does, the lease keeps the two apart.
pub async fn drive_until_delivered(app: &TestApp, event_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all = deliveries_of(app, event_id).await;
        if !all.is_empty() && all.iter().all(|d| d.status == "succeeded") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{event_id} was not delivered: {all:?}"
        );
        deliver_at(app, now_ms()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
