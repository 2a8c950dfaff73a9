//! Stripe's local stand-in (`examples/stripe_standin/`) in a process of its own, for every
//! test that would otherwise call Stripe: the example binary (built when it is missing), a
//! `StripeStandIn` that starts it on 127.0.0.1 and drives its control endpoints, an actix
//! receiver for the webhooks it signs, and Stripe's official Python library to check those
//! signatures independently.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// A session Stripe accepts: one line item of 119.72 USD, with `{CHECKOUT_SESSION_ID}` in the
/// success URL and a cancel URL.
pub const SUCCESS_URL: &str = "https://merchant.example/thanks?session={CHECKOUT_SESSION_ID}";
pub const CANCEL_URL: &str = "https://merchant.example/cart";

pub fn session_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("mode", "payment"),
        ("success_url", SUCCESS_URL),
        ("cancel_url", CANCEL_URL),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "11972"),
        (
            "line_items[0][price_data][product_data][name]",
            "Creator plan",
        ),
        ("line_items[0][quantity]", "1"),
    ]
}

/// `form` with `name` set to `value` (replaced, or added).
pub fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    form.retain(|(n, _)| *n != name);
    form.push((name, value));
    form
}

/// `form` without `name`.
pub fn without<'a>(mut form: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    form.retain(|(n, _)| *n != name);
    form
}

/// The stand-in's binary, next to this test binary: `target/<profile>/examples/stripe_standin`
/// (built with cargo when it is missing or older than its source; once at a time).
pub fn standin_binary() -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/api-… → target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let binary = profile_dir.join("examples").join("stripe_standin");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/stripe_standin");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let written = std::fs::read_dir(&source)
        .into_iter()
        .flatten()
        .filter_map(|entry| modified(&entry.ok()?.path()))
        .max();
    let stale = match (modified(&binary), written) {
        (Some(built), Some(written)) => built < written,
        (None, _) => true,
        (Some(_), None) => false,
    };
    if stale {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "--quiet",
                "--example",
                "stripe_standin",
                "--target-dir",
            ])
            .arg(profile_dir.parent().unwrap())
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                command.arg("--release");
            }
            Some(profile) => {
                command.args(["--profile", profile]);
            }
            None => {}
        }
        let status = command
            .status()
            .expect("running cargo build --example stripe_standin");
        assert!(
            status.success(),
            "cargo build --example stripe_standin failed"
        );
    }
    assert!(binary.exists(), "no stand-in at {}", binary.display());
    binary
}

/// The stand-in, serving on 127.0.0.1 and a port of its own; killed when dropped.
pub struct StripeStandIn {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// The first of the keys it accepts.
    pub secret_key: String,
    client: reqwest::Client,
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reaches 127.0.0.1 only and follows no redirect.
pub fn local_client() -> reqwest::Client {
    openrails_checkout::crypto::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

impl StripeStandIn {
    /// The text of a page it serves (the hosted payment page) at `url`.
    pub async fn page(&self, url: &str) -> String {
        let response = self.client.get(url).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Starts the stand-in accepting `secret_key` (several separated by commas), delivering
    /// webhooks to `webhook_url` signed with `webhook_secret`.
    pub async fn start(
        secret_key: &str,
        webhook_url: Option<&str>,
        webhook_secret: &str,
    ) -> StripeStandIn {
        let mut command = Command::new(standin_binary());
        for (name, _) in std::env::vars() {
            if name.starts_with("STANDIN_") {
                command.env_remove(name);
            }
        }
        command
            .arg("127.0.0.1:0")
            .env("STANDIN_SECRET_KEY", secret_key)
            .env("STANDIN_WEBHOOK_SECRET", webhook_secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = webhook_url {
            command.env("STANDIN_WEBHOOK_URL", url);
        }
        let mut child = command.spawn().expect("starting the Stripe stand-in");
        let stdout = child.stdout.take().unwrap();
        let (found, address) = std::sync::mpsc::channel();
        // Reads the address, then keeps draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Listening on ")
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address.trim().to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = loop {
            if let Ok(address) = address.try_recv() {
                break address;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the Stripe stand-in exited ({status}) before listening");
            }
            assert!(
                Instant::now() < deadline,
                "the Stripe stand-in never said where it listens"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        StripeStandIn {
            child,
            url: format!("http://{address}"),
            secret_key: secret_key.split(',').next().unwrap().trim().to_owned(),
            client: local_client(),
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A form-encoded POST to Stripe's API at `path` with `key`.
    pub async fn post_form(
        &self,
        path: &str,
        key: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        request.send().await.unwrap()
    }

    /// `POST /v1/checkout/sessions` with the stand-in's key.
    pub async fn create_session(
        &self,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        self.post_form(
            "/v1/checkout/sessions",
            &self.secret_key,
            form,
            idempotency_key,
        )
        .await
    }

    /// A session that must be created; its object.
    pub async fn new_session(&self, form: &[(&str, &str)]) -> Value {
        let response = self.create_session(form, None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/checkout/sessions/{id}`, which must answer 200.
    pub async fn session(&self, id: &str) -> Value {
        let response = self
            .get(&format!("/v1/checkout/sessions/{id}"), &self.secret_key)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A control endpoint (`/_standin/…`) that must answer 200; its JSON.
    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/_standin/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "/_standin/{path}: {answer}");
        answer
    }

    /// The buyer completes session `id`: `paid`, or `unpaid` for a bank payment settling later.
    pub async fn complete(&self, id: &str, payment_status: &str) -> Value {
        self.control(
            &format!("sessions/{id}/complete"),
            json!({ "payment_status": payment_status }),
        )
        .await
    }

    pub async fn async_succeeded(&self, id: &str) -> Value {
        self.control(&format!("sessions/{id}/async_succeeded"), json!({}))
            .await
    }

    pub async fn async_failed(&self, id: &str) -> Value {
        self.control(&format!("sessions/{id}/async_failed"), json!({}))
            .await
    }

    pub async fn expire(&self, id: &str) -> Value {
        self.control(&format!("sessions/{id}/expire"), json!({}))
            .await
    }

    /// The next `count` API requests fail with `status` in Stripe's envelope.
    pub async fn fail_next(&self, status: u16, count: u32) {
        self.control("fail", json!({ "status": status, "count": count }))
            .await;
    }

    /// New refunds stay pending until [`StripeStandIn::resolve_refund`].
    pub async fn refunds_stay_pending(&self) {
        self.control("refunds", json!({ "pending": true })).await;
    }

    /// Settles (`succeed`) or fails (`fail`) the pending refund `id`.
    pub async fn resolve_refund(&self, id: &str, action: &str) -> Value {
        self.control(&format!("refunds/{id}/{action}"), json!({}))
            .await
    }

    /// Sends events to `url` from now on (signed with the secret it started with).
    pub async fn send_webhooks_to(&self, url: &str) {
        self.control("webhooks", json!({ "url": url })).await;
    }

    /// Keeps new webhook events instead of delivering them.
    pub async fn hold_webhooks(&self) {
        self.control("webhooks", json!({ "deliver": false })).await;
    }

    pub async fn resume_webhooks(&self) {
        self.control("webhooks", json!({ "deliver": true })).await;
    }

    /// Delivers the held events; their ids.
    pub async fn release_webhooks(&self) -> Vec<String> {
        let answer = self.control("webhooks/release", json!({})).await;
        answer["released"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    async fn listed(&self, path: &str) -> Vec<Value> {
        let answer: Value = self
            .client
            .get(format!("{}/_standin/{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["data"].as_array().unwrap().clone()
    }

    /// Every event produced, oldest first: `{"event": …, "delivery": {"state", "attempts"}}`.
    pub async fn events(&self) -> Vec<Value> {
        self.listed("events").await
    }

    /// The API requests received, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        self.listed("requests").await
    }

    /// Waits until the event `id` reaches delivery state `state`; the event record.
    pub async fn wait_for_delivery(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let events = self.events().await;
            let record = events.iter().find(|e| e["event"]["id"] == id);
            if let Some(record) = record
                && record["delivery"]["state"] == state
            {
                return record.clone();
            }
            assert!(
                Instant::now() < deadline,
                "event {id} never reached {state}: {record:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One webhook delivery as the receiver got it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Recorded {
    deliveries: Vec<Delivery>,
    /// The status of the n-th answer; 200 after these.
    replies: Vec<u16>,
}

/// A merchant's webhook endpoint on 127.0.0.1, in actix-web, recording what it is sent.
pub struct StripeWebhookReceiver {
    /// `http://127.0.0.1:<port>/stripe/webhooks`
    pub url: String,
    recorded: Arc<Mutex<Recorded>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for StripeWebhookReceiver {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only waits for the outcome.
        drop(self.handle.stop(false));
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    recorded: web::Data<Arc<Mutex<Recorded>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut recorded = recorded.lock().unwrap();
    let status = recorded
        .replies
        .get(recorded.deliveries.len())
        .copied()
        .unwrap_or(200);
    recorded.deliveries.push(Delivery {
        signature: header("stripe-signature"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("ok")
}

impl StripeWebhookReceiver {
    /// A receiver answering `replies` in turn, then 200.
    pub async fn start(replies: &[u16]) -> StripeWebhookReceiver {
        let recorded = Arc::new(Mutex::new(Recorded {
            deliveries: Vec::new(),
            replies: replies.to_vec(),
        }));
        let data = web::Data::new(recorded.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/stripe/webhooks", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        StripeWebhookReceiver {
            url: format!("http://127.0.0.1:{port}/stripe/webhooks"),
            recorded,
            handle,
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.recorded.lock().unwrap().deliveries.clone()
    }

    /// Waits for at least `count` deliveries; all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let deliveries = self.deliveries();
            if deliveries.len() >= count {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "{} deliveries after 15 s, not {count}",
                deliveries.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The Python of `scripts/stripe/.venv`, with Stripe's official library from
/// `scripts/stripe/requirements.txt`: the venv is made when it is missing or was made from
/// another requirements file (once at a time). Fails when it cannot be made.
pub fn stripe_python() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/stripe");
    let venv = scripts.join(".venv");
    let python = venv.join("bin/python3");
    let requirements = scripts.join("requirements.txt");
    let installed_from = venv.join("requirements.txt");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let wanted = std::fs::read(&requirements).unwrap();
    if !python.exists() || std::fs::read(&installed_from).ok().as_ref() != Some(&wanted) {
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("running python3 -m venv (is Python 3 installed?)");
        assert!(made.success(), "python3 -m venv {} failed", venv.display());
        let installed = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-virtualenv",
                "-r",
            ])
            .arg(&requirements)
            .status()
            .expect("running pip install -r scripts/stripe/requirements.txt");
        assert!(
            installed.success(),
            "pip install -r scripts/stripe/requirements.txt failed"
        );
        std::fs::write(&installed_from, &wanted).unwrap();
    }
    python
}

/// `scripts/stripe/check_signature.py` on `payload` and `header` with `secret`.
pub fn check_signature_with_stripe_library(payload: &[u8], header: &str, secret: &str) -> Output {
    let python = stripe_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/stripe/check_signature.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(["--header", header])
        .env("STRIPE_WEBHOOK_SECRET", secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    child.wait_with_output().unwrap()
}
