//! The endpoints tests drive the stand-in with (not Stripe's).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::{Books, Failure, Shared, now};

/// The fields of a control request: its query, then its JSON or form body.
fn fields(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, HttpResponse> {
    let mut fields = Map::new();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    for (key, value) in query {
        fields.insert(key, Value::String(value));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(fields);
    }
    let json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"))
        || body.first() == Some(&b'{');
    if json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => fields.extend(map),
            _ => return Err(refused(400, "bad_request", "the body is not a JSON object")),
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| refused(400, "bad_request", "the body is not a form"))?;
        for (key, value) in pairs {
            fields.insert(key, Value::String(value));
        }
    }
    Ok(fields)
}

fn refused(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(json!({"error": {"type": "invalid_request_error", "code": code, "message": message}}))
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

fn number(fields: &Map<String, Value>, name: &str) -> Option<i64> {
    match fields.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub async fn session_action(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: Shared,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let fields = match fields(&req, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let now = now();
    let mut books = state.books();
    if !books.sessions.contains_key(&id) {
        return refused(
            404,
            "resource_missing",
            &format!("No such checkout.session: '{id}'"),
        );
    }
    let result = match action.as_str() {
        "complete" => {
            let paid = match text(&fields, "payment_status").unwrap_or("paid") {
                "paid" => true,
                "unpaid" => false,
                _ => {
                    return refused(
                        400,
                        "parameter_invalid",
                        "payment_status must be paid or unpaid",
                    );
                }
            };
            state.complete(&mut books, &id, paid, text(&fields, "email"), now)
        }
        "async_succeeded" => state.resolve_async(&mut books, &id, true, now),
        "async_failed" => state.resolve_async(&mut books, &id, false, now),
        "expire" => state
            .expire(&mut books, &id, None, now)
            .map_err(|status| format!("the session is {status}, not open")),
        _ => return refused(404, "unknown_action", &format!("no action {action}")),
    };
    match result {
        Ok(session) => HttpResponse::Ok().json(session),
        Err(message) => refused(409, "session_state", &message),
    }
}

pub async fn fail(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let fields = match fields(&req, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let status = number(&fields, "status").unwrap_or(500);
    let Some(mut error) = u16::try_from(status).ok().and_then(ApiError::injected) else {
        return refused(
            400,
            "parameter_invalid",
            "status must be one of 400, 401, 402, 404, 409, 429, 500, 502, 503",
        );
    };
    let count = number(&fields, "count").unwrap_or(1);
    if !(1..=1000).contains(&count) {
        return refused(400, "parameter_invalid", "count must be between 1 and 1000");
    }
    if let Some(kind) = text(&fields, "type") {
        error.kind = kind.to_owned();
    }
    if let Some(code) = text(&fields, "code") {
        error = error.code(code);
    }
    if let Some(message) = text(&fields, "message") {
        error.message = message.to_owned();
    }
    if let Some(param) = text(&fields, "param") {
        error = error.param(param);
    }
    if let Some(decline_code) = text(&fields, "decline_code") {
        error.decline_code = Some(decline_code.to_owned());
    }
    let mut books = state.books();
    books.failures.push_back(Failure {
        error,
        remaining: count as u32,
    });
    let pending: u32 = books.failures.iter().map(|f| f.remaining).sum();
    HttpResponse::Ok().json(json!({ "pending_failures": pending }))
}

pub async fn webhooks(req: HttpRequest, body: web::Bytes, state: Shared) -> HttpResponse {
    let fields = match fields(&req, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let url = match fields.get("url") {
        None => None,
        Some(Value::String(url)) => match super::config::check_loopback(url) {
            Ok(()) => Some(url.clone()),
            Err(e) => return refused(400, "parameter_invalid", &e),
        },
        Some(_) => return refused(400, "parameter_invalid", "url must be a string"),
    };
    if url.is_some() && state.config.webhook_secret.is_none() {
        return refused(
            400,
            "parameter_invalid",
            "a webhook url needs STANDIN_WEBHOOK_SECRET (whsec_…) at start",
        );
    }
    let deliver = match fields.get("deliver") {
        None if url.is_some() => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
        _ => return refused(400, "parameter_invalid", "deliver must be true or false"),
    };
    let mut books = state.books();
    if let Some(url) = url {
        books.webhook_url = Some(url);
    }
    if let Some(deliver) = deliver {
        books.holding = !deliver;
    }
    HttpResponse::Ok().json(json!({
        "url": books.webhook_url,
        "deliver": !books.holding,
        "held": held(&books).len(),
    }))
}

fn held(books: &Books) -> Vec<String> {
    books
        .event_order
        .iter()
        .filter(|id| books.events.get(*id).is_some_and(|e| e.delivery == "held"))
        .cloned()
        .collect()
}

pub async fn release(state: Shared) -> HttpResponse {
    let mut books = state.books();
    let released = held(&books);
    for id in &released {
        if let Some(record) = books.events.get_mut(id) {
            record.delivery = "pending";
        }
        let _ = state.deliveries.send(id.clone());
    }
    HttpResponse::Ok().json(json!({ "released": released }))
}

pub async fn events(state: Shared) -> HttpResponse {
    let books = state.books();
    let data: Vec<Value> = books
        .event_order
        .iter()
        .filter_map(|id| books.events.get(id))
        .map(|record| {
            json!({
                "event": record.event,
                "delivery": {"state": record.delivery, "attempts": record.attempts},
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "object": "list", "data": data }))
}

pub async fn requests(state: Shared) -> HttpResponse {
    let books = state.books();
    let data: Vec<&Value> = books.requests.iter().collect();
    HttpResponse::Ok().json(json!({ "object": "list", "data": data }))
}

pub async fn reset(state: Shared) -> HttpResponse {
    let mut books = state.books();
    let webhook_url = books.webhook_url.take();
    *books = Books {
        webhook_url,
        ..Books::default()
    };
    HttpResponse::Ok().json(json!({ "reset": true }))
}
