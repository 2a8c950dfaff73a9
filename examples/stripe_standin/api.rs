//! Stripe's API under `/v1`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::config::Account;
use super::errors::ApiError;
use super::{
    AsyncPayment, Books, IDEMPOTENCY_TTL_SECONDS, MAX_IDEMPOTENCY_KEYS, MAX_REQUESTS, Saved,
    Session, Shared, StandIn, create, form, new_id, now, objects,
};

/// One API request, as read.
struct Call {
    method: String,
    path: String,
    query: String,
    idempotency_key: Option<String>,
    authorization: Option<String>,
    json_body: bool,
    pairs: Result<Vec<(String, String)>, ()>,
}

/// What to answer.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl From<ApiError> for Answer {
    fn from(mut error: ApiError) -> Answer {
        Answer {
            status: error.status,
            body: error.body(),
            headers: std::mem::take(&mut error.headers),
        }
    }
}

pub async fn entry(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let request_id = new_id("req_", 14);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let method = req.method().as_str().to_owned();
    let form_source: &[u8] = if method == "GET" || method == "DELETE" {
        req.query_string().as_bytes()
    } else {
        &body
    };
    let call = Call {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
        json_body: header("content-type").is_some_and(|t| t.contains("json")),
        pairs: serde_urlencoded::from_bytes(form_source).map_err(|_| ()),
        method,
    };
    let version = header("stripe-version").unwrap_or(state.config.api_version.clone());
    let answer = state.answer(&call, &request_id);
    let mut response = HttpResponse::build(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    response
        .insert_header(("Request-Id", request_id.as_str()))
        .insert_header(("Stripe-Version", version))
        .insert_header(("Cache-Control", "no-cache, no-store"));
    if let Some(key) = &call.idempotency_key {
        response.insert_header(("Idempotency-Key", key.as_str()));
    }
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response
        .content_type("application/json")
        .body(serde_json::to_string_pretty(&answer.body).unwrap_or_default())
}

impl StandIn {
    fn answer(&self, call: &Call, request_id: &str) -> Answer {
        let mut books = self.books();
        let answer = self.run(&mut books, call, request_id);
        record(&mut books, call, request_id, &answer);
        answer
    }

    fn run(&self, books: &mut Books, call: &Call, request_id: &str) -> Answer {
        if let Some(failure) = books.failures.front_mut() {
            let error = failure.error.clone();
            failure.remaining = failure.remaining.saturating_sub(1);
            if failure.remaining == 0 {
                books.failures.pop_front();
            }
            return error.into();
        }
        let account = match self.authenticate(call) {
            Ok(account) => account,
            Err(error) => return error.into(),
        };
        if call.json_body && call.method == "POST" {
            return ApiError::invalid(
                "Invalid request (check that your POST content type is \
                 application/x-www-form-urlencoded). If you have any questions, we can help \
                 at https://support.stripe.com/.",
            )
            .into();
        }
        let Ok(pairs) = &call.pairs else {
            return ApiError::invalid("Invalid request: the body could not be decoded.").into();
        };
        let params = match form::nest(pairs) {
            Ok(params) => params,
            Err(error) => return error.into(),
        };
        let segments: Vec<&str> = call.path.trim_end_matches('/').split('/').skip(1).collect();
        let now = now();
        let result = match (call.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => {
                return self.idempotent(books, &account, call, &params, request_id, |books| {
                    self.create_session(books, &account, &params, now)
                });
            }
            ("POST", ["v1", "checkout", "sessions", id, "expire"]) => {
                return self.idempotent(books, &account, call, &params, request_id, |books| {
                    self.expire_session(books, &account, id, call, request_id, now)
                });
            }
            ("GET", ["v1", "checkout", "sessions"]) => list_sessions(books, &account, &params),
            ("GET", ["v1", "checkout", "sessions", id]) => {
                self.settle(books, id, now);
                find_session(books, &account, id).map(|s| expanded(s, &params))
            }
            ("POST", ["v1", "refunds"]) => {
                return self.idempotent(books, &account, call, &params, request_id, |books| {
                    self.create_refund(
                        books,
                        &account,
                        &params,
                        (request_id, call.idempotency_key.as_deref()),
                        now,
                    )
                });
            }
            ("GET", ["v1", "refunds", id]) => self.get_refund(books, &account, id),
            ("GET", ["v1", "events"]) => list_events(books, &account, &params),
            ("GET", ["v1", "events", id]) => books
                .events
                .get(*id)
                .filter(|e| e.owner == account.secret)
                .map(|e| e.event.clone())
                .ok_or_else(|| ApiError::no_such("event", id, "id", None)),
            _ => Err(ApiError::unrecognized(&call.method, &call.path)),
        };
        match result {
            Ok(body) => Answer {
                status: 200,
                body,
                headers: Vec::new(),
            },
            Err(error) => error.into(),
        }
    }

    /// `Authorization: Bearer sk_…` (or HTTP Basic with the key as the user name).
    fn authenticate(&self, call: &Call) -> Result<Account, ApiError> {
        let unauthorized = |message: String| {
            let mut error =
                ApiError::invalid(message).header("WWW-Authenticate", "Basic realm=\"Stripe\"");
            error.status = 401;
            error
        };
        let given = call.authorization.as_deref().and_then(|value| {
            if let Some(token) = value.strip_prefix("Bearer ") {
                return Some(token.trim().to_owned());
            }
            let encoded = value.strip_prefix("Basic ")?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            Some(text.split(':').next().unwrap_or_default().to_owned())
        });
        let Some(key) = given.filter(|k| !k.is_empty()) else {
            return Err(unauthorized(
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for \
                 details, or we can help at https://support.stripe.com/."
                    .into(),
            ));
        };
        self.config
            .account(&key)
            .cloned()
            .ok_or_else(|| unauthorized(format!("Invalid API Key provided: {}", mask(&key))))
    }

    /// Runs `execute` once per idempotency key (per secret key): the same key and
    /// parameters answer the saved answer again; other parameters are an
    /// `idempotency_error`. Only successes are saved: a request refused by validation or
    /// by an injected fault did not run, and may be sent again with the same key.
    fn idempotent(
        &self,
        books: &mut Books,
        account: &Account,
        call: &Call,
        params: &Map<String, Value>,
        request_id: &str,
        execute: impl FnOnce(&mut Books) -> Result<Value, ApiError>,
    ) -> Answer {
        let params = Value::Object(params.clone());
        let now = now();
        let slot = match &call.idempotency_key {
            Some(key) if key.len() > 255 => {
                return ApiError::invalid(
                    "Invalid Idempotency-Key: keys can be at most 255 characters long.",
                )
                .into();
            }
            Some(key) => Some((account.secret.clone(), key.clone())),
            None => None,
        };
        if let Some(slot) = &slot
            && let Some(saved) = books.saved.get(slot)
            && saved.at + IDEMPOTENCY_TTL_SECONDS > now
        {
            let key = &slot.1;
            if saved.path != call.path || saved.method != call.method {
                return ApiError::new(
                    400,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used for the same endpoint \
                         they were first used for ('{} {}' vs '{} {}'). Try using a key \
                         other than '{key}' if you meant to execute a different request.",
                        saved.method, saved.path, call.method, call.path
                    ),
                )
                .into();
            }
            if saved.params != params {
                return ApiError::new(
                    400,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used with the same \
                         parameters they were first used with. Try using a key other than \
                         '{key}' if you meant to execute a different request."
                    ),
                )
                .into();
            }
            return Answer {
                status: saved.status,
                body: saved.body.clone(),
                headers: vec![
                    ("Idempotent-Replayed", "true".into()),
                    ("Original-Request", saved.request_id.clone()),
                ],
            };
        }
        match execute(books) {
            Ok(body) => {
                if let Some(slot) = slot {
                    let saved = Saved {
                        method: call.method.clone(),
                        path: call.path.clone(),
                        params,
                        status: 200,
                        body: body.clone(),
                        request_id: request_id.to_owned(),
                        at: now,
                    };
                    if books.saved.insert(slot.clone(), saved).is_none() {
                        books.saved_order.push_back(slot);
                    }
                    while books.saved_order.len() > MAX_IDEMPOTENCY_KEYS {
                        if let Some(old) = books.saved_order.pop_front() {
                            books.saved.remove(&old);
                        }
                    }
                }
                Answer {
                    status: 200,
                    body,
                    headers: Vec::new(),
                }
            }
            Err(error) => error.into(),
        }
    }

    fn create_session(
        &self,
        books: &mut Books,
        account: &Account,
        params: &Map<String, Value>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let new = create::parse(params, now)?;
        let mode = if account.livemode { "live" } else { "test" };
        let id = new_id(&format!("cs_{mode}_a1"), 58);
        let page_url = format!("{}/pay/{id}", self.base_url);
        let object = objects::session(&id, &new, account.livemode, &page_url, now);
        let bank_offered = new.dynamic_methods && new.currency == "usd"
            || new
                .payment_method_types
                .iter()
                .any(|m| m == "us_bank_account");
        self.store_session(
            books,
            Session {
                owner: account.secret.clone(),
                object: object.clone(),
                items: new.items,
                bank_offered,
                async_payment: AsyncPayment::None,
                declines: 0,
            },
        );
        Ok(object)
    }

    fn expire_session(
        &self,
        books: &mut Books,
        account: &Account,
        id: &str,
        call: &Call,
        request_id: &str,
        now: i64,
    ) -> Result<Value, ApiError> {
        self.settle(books, id, now);
        find_session(books, account, id)?;
        self.expire(
            books,
            id,
            Some((request_id, call.idempotency_key.as_deref())),
            now,
        )
        .map_err(|status| {
            ApiError::invalid(format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This \
                 Checkout Session has a status of {status}."
            ))
            .param("session")
        })
    }
}

/// The session as `expand[]=payment_intent` asks: its PaymentIntent as an object whose
/// `status` says where the payment stands (`processing` while a bank debit clears,
/// `succeeded`, or `requires_payment_method` after a failed debit).
fn expanded(session: &Session, params: &serde_json::Map<String, Value>) -> Value {
    let mut object = session.object.clone();
    let wanted = params
        .get("expand")
        .and_then(form::list)
        .is_some_and(|items| items.iter().any(|(_, v)| *v == "payment_intent"));
    if let (true, Some(id)) = (wanted, object["payment_intent"].as_str()) {
        let status = match session.async_payment {
            AsyncPayment::Pending => "processing",
            AsyncPayment::Failed => "requires_payment_method",
            AsyncPayment::Succeeded => "succeeded",
            AsyncPayment::None if object["payment_status"] == "paid" => "succeeded",
            AsyncPayment::None => "requires_payment_method",
        };
        object["payment_intent"] = json!({
            "id": id,
            "object": "payment_intent",
            "amount": object["amount_total"],
            "currency": object["currency"],
            "livemode": object["livemode"],
            "status": status,
        });
    }
    object
}

fn find_session<'a>(
    books: &'a Books,
    account: &Account,
    id: &str,
) -> Result<&'a Session, ApiError> {
    match books.sessions.get(id) {
        Some(session) if session.owner == account.secret => Ok(session),
        other => {
            let other_mode = other
                .map(|s| s.object["livemode"].as_bool().unwrap_or_default())
                .filter(|live| *live != account.livemode);
            Err(ApiError::no_such("checkout.session", id, "id", other_mode))
        }
    }
}

/// `limit` (1–100, default 10) and `starting_after`, newest first, as Stripe lists.
fn page_of<'a>(
    ids: impl Iterator<Item = &'a String>,
    params: &Map<String, Value>,
    url: &str,
    object: impl Fn(&str) -> Option<Value>,
) -> Result<Value, ApiError> {
    let limit = match form::integer(params, "limit", "limit")? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid limit: must be an integer between 1 and 100")
                    .param("limit"),
            );
        }
    };
    let starting_after = form::string(params, "starting_after", "starting_after")?;
    let mut data = Vec::new();
    let mut started = starting_after.is_none();
    let mut has_more = false;
    for id in ids {
        if !started {
            started = Some(id.as_str()) == starting_after.as_deref();
            continue;
        }
        let Some(item) = object(id) else { continue };
        if data.len() == limit {
            has_more = true;
            break;
        }
        data.push(item);
    }
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": url}))
}

fn list_sessions(
    books: &Books,
    account: &Account,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let status = form::string(params, "status", "status")?;
    let payment_intent = form::string(params, "payment_intent", "payment_intent")?;
    page_of(
        books.session_order.iter().rev(),
        params,
        "/v1/checkout/sessions",
        |id| {
            let session = books.sessions.get(id)?;
            let matches = session.owner == account.secret
                && status.as_deref().is_none_or(|s| session.status() == s)
                && payment_intent
                    .as_deref()
                    .is_none_or(|p| session.object["payment_intent"] == json!(p));
            matches.then(|| session.object.clone())
        },
    )
}

fn list_events(
    books: &Books,
    account: &Account,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let kind = form::string(params, "type", "type")?;
    page_of(books.event_order.iter().rev(), params, "/v1/events", |id| {
        let record = books.events.get(id)?;
        let matches = record.owner == account.secret
            && kind
                .as_deref()
                .is_none_or(|k| record.event["type"] == json!(k));
        matches.then(|| record.event.clone())
    })
}

/// `sk_test_****…abcd`, as Stripe shows a key it refuses.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let prefix = if key.starts_with("sk_test_") || key.starts_with("sk_live_") {
        8
    } else {
        0
    };
    if chars.len() <= prefix + 4 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..prefix].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - prefix - 4))
}

fn record(books: &mut Books, call: &Call, request_id: &str, answer: &Answer) {
    let pairs = call.pairs.as_deref().unwrap_or_default();
    let flat: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let params = form::nest(pairs).map(Value::Object).unwrap_or(Value::Null);
    books.requests.push_back(json!({
        "id": request_id,
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "idempotency_key": call.idempotency_key,
        "form": flat,
        "params": params,
        "status": answer.status,
        "idempotent_replayed": answer.headers.iter().any(|(n, _)| *n == "Idempotent-Replayed"),
    }));
    while books.requests.len() > MAX_REQUESTS {
        books.requests.pop_front();
    }
}
