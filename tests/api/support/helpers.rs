//! The test harness: a fresh database per test (SQLite in a temporary folder, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set), a server on port 0, a merchant with a
//! sandbox and a live key, and small request helpers.

use std::time::Duration;

use actix_web::web;
use openrails_checkout::bootstrap::ensure_first_merchant;
use openrails_checkout::config::Settings;
use openrails_checkout::crypto::secret_box::EncryptionKeys;
use openrails_checkout::db::Db;
use openrails_checkout::db::api_keys::create_api_key;
use openrails_checkout::db::merchants::insert_merchant;
use openrails_checkout::domain::ids::random_token;
use openrails_checkout::domain::payment_route::{PaymentRoute, default_routes};
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::domain::{Environment, MerchantId};
use openrails_checkout::startup::Application;
use openrails_checkout::state::AppState;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::Executor;

/// The seed page's example request.
pub fn seed_body() -> Value {
    json!({
        "product": "Creator plan",
        "amount": 116,
        "customer": "buyer@example.com",
        "preferredRoute": "card",
        "redirectUrl": "https://merchant.example/success?order=ord_284",
        "metadata": {"order_id": "ord_284"}
    })
}

/// The smallest valid request.
pub fn minimal_body() -> Value {
    json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"})
}

/// A database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// (admin URL, database name) of a PostgreSQL database to drop.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// An empty database: nothing migrated, nothing created.
    pub async fn create() -> TestDatabase {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.trim().is_empty() => {
                let admin = admin.trim().to_owned();
                let name = format!("orc_test_{}", random_token(16).unwrap());
                let mut conn = sqlx::postgres::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("connecting to TEST_DATABASE_URL {admin}: {e}"));
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                TestDatabase {
                    url: with_database_name(&admin, &name),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/test.db", dir.path().display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }
}

impl TestDatabase {
    /// A SQLite database at `url`, whatever `TEST_DATABASE_URL` says: for tests of SQLite's
    /// own behaviour (its file system, its pragmas).
    pub fn sqlite_at(url: String) -> TestDatabase {
        TestDatabase {
            url,
            _dir: None,
            postgres: None,
        }
    }

    /// The same database, reached through another URL (e.g. a proxy in front of it); still
    /// dropped through the original one.
    pub fn reached_at(mut self, url: String) -> TestDatabase {
        self.url = url;
        self
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // A runtime of its own: this may run while the test's runtime is shutting down.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await
                    .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced by `name`.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let head = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{head}/{name}{query}")
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub port: u16,
    pub public_url: String,
    pub db: Db,
    pub database_url: String,
    pub merchant_id: MerchantId,
    pub sandbox_key: String,
    pub live_key: String,
    pub client: reqwest::Client,
    /// The server's state, to drive background steps (expiry, reconciliation) directly.
    pub state: web::Data<AppState>,
    /// Kept alive (and removed) with the app.
    _database: TestDatabase,
}

/// A merchant created beside the first one.
pub struct OtherMerchant {
    pub merchant_id: MerchantId,
    pub sandbox_key: String,
    pub live_key: String,
}

pub fn http_client() -> reqwest::Client {
    // Done by the server too; a test that only talks to the binary must do it itself.
    openrails_checkout::crypto::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The default sandbox routes plus one production card route, so that production sessions
/// can be created (a production session needs a route to be paid by).
pub fn routes_with_production() -> Vec<PaymentRoute> {
    let mut routes = default_routes();
    let mut live = routes[0].clone();
    live.id = "card-live".into();
    live.environments = vec![Environment::Production];
    routes.push(live);
    routes
}

/// The keys webhook secrets are sealed with: none, unless `TEST_ENCRYPTION_KEY` (base64 of 32
/// bytes) runs the suite with encrypted secrets. The binary's tests pass it on as
/// `OPENRAILS_ENCRYPTION_KEY` (see [`pass_test_encryption_key`]).
pub fn test_encryption_keys() -> EncryptionKeys {
    let key = std::env::var("TEST_ENCRYPTION_KEY").ok();
    EncryptionKeys::parse(key.as_deref(), None).expect("TEST_ENCRYPTION_KEY is a valid key")
}

/// The server's binary with none of this process's `OPENRAILS_` settings (and the suite's
/// encryption key, if any): what each test that runs the binary starts from.
pub fn clean_binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_openrails-checkout"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OPENRAILS_") {
            command.env_remove(name);
        }
    }
    pass_test_encryption_key(&mut command);
    command
}

/// Gives the binary the suite's `TEST_ENCRYPTION_KEY`, if any.
pub fn pass_test_encryption_key(command: &mut std::process::Command) {
    if let Ok(key) = std::env::var("TEST_ENCRYPTION_KEY") {
        command.env("OPENRAILS_ENCRYPTION_KEY", key);
    }
}

/// A server on a fresh, migrated database with one merchant, a sandbox and a live key.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Another merchant on the same server, with a key of each environment.
    pub async fn create_merchant(&self, name: &str) -> OtherMerchant {
        let merchant_id = MerchantId::generate();
        insert_merchant(&self.db.write, &merchant_id, name, now_ms())
            .await
            .unwrap();
        let sandbox_key = self
            .create_key(&merchant_id, Environment::Sandbox, "other sandbox")
            .await;
        let live_key = self
            .create_key(&merchant_id, Environment::Production, "other live")
            .await;
        OtherMerchant {
            merchant_id,
            sandbox_key,
            live_key,
        }
    }

    pub async fn create_key(
        &self,
        merchant_id: &MerchantId,
        environment: Environment,
        label: &str,
    ) -> String {
        create_api_key(&self.db.write, merchant_id, environment, label, now_ms())
            .await
            .unwrap()
            .1
    }

    /// `POST /api/gateway/sessions` with the sandbox key.
    pub async fn post_session(&self, body: &Value) -> reqwest::Response {
        self.post_session_with_key(&self.sandbox_key, body).await
    }

    pub async fn post_session_with_key(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/gateway/sessions"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A session that must be created; returns its JSON.
    pub async fn create_session(&self, body: &Value) -> Value {
        self.create_session_with_key(&self.sandbox_key, body).await
    }

    pub async fn create_session_with_key(&self, key: &str, body: &Value) -> Value {
        let response = self.post_session_with_key(key, body).await;
        let status = response.status().as_u16();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "creating a session failed: {json}");
        json
    }

    /// `POST /api/gateway/sessions` with this exact body text and content type (none when
    /// `None`), authenticated with the sandbox key.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/gateway/sessions"))
            .bearer_auth(&self.sandbox_key)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.send().await.unwrap()
    }

    /// GET with the sandbox key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with_key(path, &self.sandbox_key).await
    }

    pub async fn get_with_key(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// GET without any API key.
    pub async fn get_anonymous(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POST without a body (e.g. expire) with this key.
    pub async fn post_empty_with_key(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn expire_session(&self, id: &str) -> reqwest::Response {
        self.post_empty_with_key(
            &format!("/api/gateway/sessions/{id}/expire"),
            &self.sandbox_key,
        )
        .await
    }

    pub async fn session_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM checkout_sessions").await
    }

    pub async fn customer_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM customers").await
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.db.read)
            .await
            .unwrap()
    }

    /// The stored status of a session.
    pub async fn stored_status(&self, id: &str) -> String {
        sqlx::query_scalar::<_, String>("SELECT status FROM checkout_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.read)
            .await
            .unwrap()
    }

    pub async fn stored_amount_cents(&self, id: &str) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT amount_cents FROM checkout_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.read)
            .await
            .unwrap()
    }

    /// Runs a statement on the write pool (to set up states the API cannot reach yet).
    pub async fn execute(&self, sql: &str, id: &str) -> u64 {
        sqlx::query(sql)
            .bind(id)
            .execute(&self.db.write)
            .await
            .unwrap()
            .rows_affected()
    }
}

/// Checks the error envelope of SPEC 2.2 and returns the body: the status, `error.code`,
/// `error.type` for the status, a message, and `requestId` equal to the `x-request-id` header.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "an error must be JSON, got content type {content_type:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the error body is not JSON ({e}): {text}"));
    let error = &body["error"];
    assert_eq!(error["code"], code, "unexpected error code: {body}");
    let expected_type = match status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    };
    assert_eq!(
        error["type"], expected_type,
        "unexpected error type: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error needs a message: {body}"
    );
    let request_id = error["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("an error needs a requestId: {body}"));
    assert!(request_id.starts_with("req_"), "{body}");
    assert_eq!(
        header_id.as_deref(),
        Some(request_id),
        "requestId must match the x-request-id header: {body}"
    );
    body
}

/// The fields named by `error.issues`.
pub fn issue_fields(body: &Value) -> Vec<String> {
    body["error"]["issues"]
        .as_array()
        .map(|issues| {
            issues
                .iter()
                .filter_map(|i| i["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The message of the issue about `field`.
pub fn issue_message(body: &Value, field: &str) -> String {
    body["error"]["issues"]
        .as_array()
        .and_then(|issues| issues.iter().find(|i| i["field"] == field))
        .and_then(|i| i["message"].as_str())
        .unwrap_or_else(|| panic!("no issue about {field}: {body}"))
        .to_owned()
}

/// Posts `body` and checks it is refused with 400 `validation_failed` naming `field`, and
/// that nothing was written. Returns the error body.
pub async fn assert_rejected(app: &TestApp, body: &Value, field: &str) -> Value {
    assert_rejected_with_key(app, &app.sandbox_key, body, field).await
}

pub async fn assert_rejected_with_key(
    app: &TestApp,
    key: &str,
    body: &Value,
    field: &str,
) -> Value {
    let sessions = app.session_count().await;
    let customers = app.customer_count().await;
    let response = app.post_session_with_key(key, body).await;
    let error = assert_error(response, 400, "validation_failed").await;
    assert!(
        issue_fields(&error).iter().any(|f| f == field),
        "expected an issue about {field} for {body}: {error}"
    );
    assert!(
        error["error"]["suggestion"].as_str().is_some(),
        "a validation error suggests a fix: {error}"
    );
    assert_eq!(
        app.session_count().await,
        sessions,
        "a refused request wrote a session"
    );
    assert_eq!(
        app.customer_count().await,
        customers,
        "a refused request wrote a customer"
    );
    error
}

/// `body` with `field` set to `value` (or removed when `value` is `None`).
pub fn with(mut body: Value, field: &str, value: Option<Value>) -> Value {
    let object = body.as_object_mut().unwrap();
    match value {
        Some(v) => {
            object.insert(field.to_owned(), v);
        }
        None => {
            object.remove(field);
        }
    }
    body
}

/// Like [`spawn_app`], with `adjust` applied to the settings before the server is built (e.g.
/// `webhook_poll_interval_ms`, `webhook_timeout_seconds`, `redirect_wait_seconds`).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDatabase::create().await, adjust).await
}

/// Like [`spawn_app_with`], on the database given (empty, not yet migrated).
pub async fn spawn_app_on(database: TestDatabase, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database.url.clone(),
        // The sweeper runs once at start; tests drive later sweeps themselves.
        sweep_interval_seconds: 3600,
        // Likewise reconciliation: tests call lifecycle::reconcile_once.
        reconcile_interval_seconds: 3600,
        sandbox_delay_seconds: 0,
        routes: routes_with_production(),
        encryption: test_encryption_keys(),
        // Tests that send many requests with one key are not about its rate (tests/api/limits.rs
        // is, and sets its own).
        api_rate_per_second: 1_000_000,
        api_rate_burst: 1_000_000,
        ..Default::default()
    };
    adjust(&mut settings);
    let db = Db::connect(&database.url, 8).await.unwrap();
    db.migrate().await.unwrap();
    let app = Application::build_with_db(settings, db.clone())
        .await
        .unwrap();
    let state = app.state();
    let port = app.port();
    let public_url = app.public_url().to_owned();
    tokio::spawn(app.run_until_stopped());

    let first = ensure_first_merchant(&db, "Test Store")
        .await
        .unwrap()
        .expect("a fresh database has no merchant yet");
    let (_, live_key) = create_api_key(
        &db.write,
        &first.merchant_id,
        Environment::Production,
        "test live key",
        now_ms(),
    )
    .await
    .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        public_url,
        db,
        database_url: database.url.clone(),
        merchant_id: first.merchant_id,
        sandbox_key: first.sandbox_key,
        live_key,
        client: http_client(),
        state,
        _database: database,
    }
}
