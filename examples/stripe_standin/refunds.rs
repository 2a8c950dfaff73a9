//! Refunds, as Stripe's API has them: `POST /v1/refunds` (of a PaymentIntent of a paid
//! Checkout Session, at most what is left of it), `GET /v1/refunds/{id}`, the events
//! `refund.created`, `refund.updated` and `charge.refunded`, and test controls to leave new
//! refunds pending and to settle or fail them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::config::Account;
use super::errors::ApiError;
use super::form::{hash, integer, string};
use super::{Books, Shared, StandIn, new_id, now};

/// A refund: its account and Stripe's object as it is now.
pub struct Refund {
    pub owner: String,
    pub object: Value,
}

const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

/// The parameters `POST /v1/refunds` takes here.
const KNOWN: &[&str] = &[
    "payment_intent",
    "charge",
    "amount",
    "reason",
    "metadata",
    "expand",
];

impl StandIn {
    /// `POST /v1/refunds`.
    pub fn create_refund(
        &self,
        books: &mut Books,
        account: &Account,
        params: &Map<String, Value>,
        request: (&str, Option<&str>),
        now: i64,
    ) -> Result<Value, ApiError> {
        if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ApiError::unknown(unknown));
        }
        let Some(intent) = string(params, "payment_intent", "payment_intent")? else {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: \
                 payment_intent or charge.",
            ));
        };
        let session = books
            .sessions
            .values()
            .find(|s| s.owner == account.secret && s.object["payment_intent"] == json!(intent))
            .ok_or_else(|| ApiError::no_such("payment_intent", &intent, "payment_intent", None))?;
        if session.object["payment_status"] != "paid" {
            return Err(ApiError::invalid(format!(
                "This PaymentIntent ({intent}) does not have a successful charge to refund."
            ))
            .code("charge_not_refundable"));
        }
        let paid = session.object["amount_total"].as_i64().unwrap_or(0);
        let currency = session.object["currency"].clone();
        let livemode = session.object["livemode"].clone();
        let refunded: i64 = books
            .refunds
            .values()
            .filter(|r| {
                r.object["payment_intent"] == json!(intent)
                    && matches!(r.object["status"].as_str(), Some("pending" | "succeeded"))
            })
            .map(|r| r.object["amount"].as_i64().unwrap_or(0))
            .sum();
        let left = paid - refunded;
        let amount = match integer(params, "amount", "amount")? {
            Some(amount) if amount < 1 => {
                return Err(ApiError::invalid("Invalid positive integer").param("amount"));
            }
            Some(amount) => amount,
            None => left,
        };
        if left <= 0 {
            return Err(ApiError::invalid(format!(
                "Charge for PaymentIntent {intent} has already been refunded."
            ))
            .code("charge_already_refunded"));
        }
        if amount > left {
            return Err(ApiError::invalid(format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                money(amount),
                money(left)
            ))
            .param("amount"));
        }
        let reason = string(params, "reason", "reason")?;
        if let Some(reason) = &reason
            && !REASONS.contains(&reason.as_str())
        {
            return Err(ApiError::invalid(format!(
                "Invalid reason: must be one of {}",
                REASONS.join(", ")
            ))
            .param("reason"));
        }
        let metadata = hash(params, "metadata")?.cloned().unwrap_or_default();
        let status = if books.refunds_pending {
            "pending"
        } else {
            "succeeded"
        };
        let id = new_id("re_", 24);
        let object = json!({
            "id": id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": null,
            "charge": format!("ch_{}", &intent[3..]),
            "created": now,
            "currency": currency,
            "destination_details": null,
            "failure_reason": null,
            "livemode": livemode,
            "metadata": metadata,
            "payment_intent": intent,
            "reason": reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": status,
            "transfer_reversal": null,
        });
        books.refunds.insert(
            id.clone(),
            Refund {
                owner: account.secret.clone(),
                object: object.clone(),
            },
        );
        let (request_id, key) = request;
        self.emit_object(
            books,
            "refund.created",
            &account.secret,
            &object,
            (Some(request_id), key),
            now,
        );
        if status == "succeeded" {
            self.charge_refunded(books, &account.secret, &object, now);
        }
        Ok(object)
    }

    /// `GET /v1/refunds/{id}`.
    pub fn get_refund(
        &self,
        books: &Books,
        account: &Account,
        id: &str,
    ) -> Result<Value, ApiError> {
        books
            .refunds
            .get(id)
            .filter(|r| r.owner == account.secret)
            .map(|r| r.object.clone())
            .ok_or_else(|| ApiError::no_such("refund", id, "id", None))
    }

    /// A pending refund settles (`succeeded`) or fails (`failed`, with `failure_reason`).
    pub fn resolve_refund(
        &self,
        books: &mut Books,
        id: &str,
        succeeded: bool,
        now: i64,
    ) -> Result<Value, String> {
        let refund = books.refunds.get_mut(id).ok_or("no such refund")?;
        if refund.object["status"] != "pending" {
            return Err(format!(
                "the refund is {}, not pending",
                refund.object["status"]
            ));
        }
        if succeeded {
            refund.object["status"] = json!("succeeded");
        } else {
            refund.object["status"] = json!("failed");
            refund.object["failure_reason"] = json!("lost_or_stolen_card");
        }
        let (owner, object) = (refund.owner.clone(), refund.object.clone());
        self.emit_object(books, "refund.updated", &owner, &object, (None, None), now);
        if succeeded {
            self.charge_refunded(books, &owner, &object, now);
        }
        Ok(object)
    }

    /// `charge.refunded`, with the charge as it stands after `refund`.
    fn charge_refunded(&self, books: &mut Books, owner: &str, refund: &Value, now: i64) {
        let intent = refund["payment_intent"].clone();
        let Some(session) = books
            .sessions
            .values()
            .find(|s| s.object["payment_intent"] == intent)
        else {
            return;
        };
        let amount = session.object["amount_total"].as_i64().unwrap_or(0);
        let refunded: i64 = books
            .refunds
            .values()
            .filter(|r| r.object["payment_intent"] == intent && r.object["status"] == "succeeded")
            .map(|r| r.object["amount"].as_i64().unwrap_or(0))
            .sum();
        let charge = json!({
            "id": refund["charge"],
            "object": "charge",
            "amount": amount,
            "amount_refunded": refunded,
            "currency": session.object["currency"],
            "livemode": session.object["livemode"],
            "payment_intent": intent,
            "refunded": refunded >= amount,
            "status": "succeeded",
        });
        self.emit_object(books, "charge.refunded", owner, &charge, (None, None), now);
    }
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// `POST /_standin/refunds` `{"pending": true}`: new refunds stay pending (until
/// `/_standin/refunds/{id}/succeed` or `/fail`); `false` makes them succeed at once again.
pub async fn mode(body: web::Json<Value>, state: Shared) -> HttpResponse {
    let Some(pending) = body.get("pending").and_then(Value::as_bool) else {
        return HttpResponse::BadRequest().json(json!({"error": "pending must be true or false"}));
    };
    state.books().refunds_pending = pending;
    HttpResponse::Ok().json(json!({ "pending": pending }))
}

/// `POST /_standin/refunds/{id}/{succeed|fail}`.
pub async fn resolve(
    _req: HttpRequest,
    path: web::Path<(String, String)>,
    state: Shared,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let succeeded = match action.as_str() {
        "succeed" => true,
        "fail" => false,
        _ => return HttpResponse::NotFound().json(json!({"error": "succeed or fail"})),
    };
    let mut books = state.books();
    match state.resolve_refund(&mut books, &id, succeeded, now()) {
        Ok(object) => HttpResponse::Ok().json(object),
        Err(message) => HttpResponse::Conflict().json(json!({ "error": message })),
    }
}
