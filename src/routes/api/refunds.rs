//! Refunds: `POST /api/gateway/payments/{id}/refunds`, `GET /api/gateway/refunds`,
//! `GET /api/gateway/refunds/{id}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::refunds::{RefundFilter, RefundRow, get_refund, list_refunds};
use crate::domain::input::{Fields, RawObject};
use crate::domain::money::{cents_to_json, format_plain};
use crate::domain::refund::{RefundReason, fingerprint};
use crate::domain::time::iso_seconds;
use crate::domain::{Metadata, PaymentStatus};
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::refunds::{RefundAsk, Refunding, create_refund};
use crate::routes::api::body::read_json_object;
use crate::routes::api::sessions::request::{bounded_text, metadata_field, money};
use crate::state::AppState;

/// A refund, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// `re_…`
    pub id: String,
    /// Always `refund`.
    pub object: &'static str,
    /// What goes back to the buyer, in dollars.
    #[schema(value_type = f64)]
    pub amount: serde_json::Value,
    pub currency: String,
    /// `pending`, `succeeded`, `failed` or `action_required`.
    pub status: &'static str,
    pub payment_id: String,
    pub session_id: String,
    /// `requested_by_customer`, `duplicate`, `fraudulent` or `other`, as given.
    pub reason: Option<&'static str>,
    pub note: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: String,
    /// The provider's id of the refund, once it answered.
    pub provider_reference: Option<String>,
    /// Why it failed (`refund_declined`, …).
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub livemode: bool,
}

impl Refund {
    pub fn from_row(row: RefundRow) -> Refund {
        Refund {
            id: row.id.into_string(),
            object: "refund",
            amount: cents_to_json(row.amount_cents),
            currency: row.currency,
            status: row.status.as_str(),
            payment_id: row.payment_id.into_string(),
            session_id: row.session_id.into_string(),
            reason: row.reason.map(RefundReason::as_str),
            note: row.note,
            metadata: Metadata::from_db(&row.metadata).pairs().clone(),
            created: iso_seconds(row.created_at),
            provider_reference: row.provider_ref,
            failure_code: row.failure_code,
            failure_message: row.failure_message,
            livemode: row.environment.livemode(),
        }
    }
}

const FIELDS: &[&str] = &["amount", "reason", "note", "idempotencyKey", "metadata"];

/// The body, read: an empty body asks for everything that is left.
async fn read_ask(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<RefundAsk, ApiError> {
    let empty = req
        .headers()
        .get(CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    let body = if empty {
        RawObject::parse(b"{}").map_err(|m| ApiError::bad_request("invalid_json", m))?
    } else {
        read_json_object(req, payload, state.settings.max_body_bytes).await?
    };
    let mut f = Fields::new(&body, FIELDS);
    let amount = f.optional_raw("amount");
    let amount = f.check("amount", amount, |raw| {
        money(raw, state.settings.max_amount_cents())
    });
    let reason = f.optional::<String>("reason");
    let reason = f.check("reason", reason, |s| {
        RefundReason::parse(&s).ok_or_else(|| {
            let words: Vec<&str> = RefundReason::ALL.iter().map(|r| r.as_str()).collect();
            format!("must be one of {}", words.join(", "))
        })
    });
    let note = f.optional::<String>("note");
    let note = f.check("note", note, |s| bounded_text(&s, 500));
    let idempotency_key = f.optional::<String>("idempotencyKey");
    let idempotency_key = f.check("idempotencyKey", idempotency_key, |s| bounded_text(&s, 255));
    let metadata = metadata_field(&mut f);
    let issues = f.finish();
    if !issues.is_empty() {
        return Err(ApiError::validation(issues, None));
    }
    let metadata = metadata.unwrap_or_default();
    let amount_cents = amount.map(|a| a.cents());
    let request_hash = fingerprint(amount_cents, reason, note.as_deref(), &metadata);
    Ok(RefundAsk {
        amount_cents,
        reason,
        note,
        idempotency_key,
        metadata,
        request_hash,
    })
}

/// Refund a payment, in full or in part.
///
/// Only `paid` payments can be refunded. Without `amount`, everything that is left: the first
/// such refund gives back all the buyer paid (the amount and the buyer's fee); with `amount`,
/// that amount. All refunds of a payment together, pending and succeeded, never exceed its
/// amount. With `idempotencyKey`, a retry with the same body returns the same refund.
#[utoipa::path(
    post,
    path = "/api/gateway/payments/{id}/refunds",
    tag = "Refunds",
    params(("id" = String, Path, description = "`pay_…`")),
    request_body(content = crate::routes::api::schemas::CreateRefundRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The refund, as it stands after its provider answered", body = Refund),
        (status = 400, description = "Invalid body; the payment is not paid (`payment_not_refundable`); more than is left (`refund_exceeds_payment`); the provider gives no refunds (`refund_not_supported`)", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such payment for this key", body = ErrorEnvelope),
        (status = 409, description = "idempotencyKey reused with a different body", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn create_refund_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("payment", &id);
    if !id.starts_with("pay_") || id.chars().any(char::is_control) {
        return Err(not_found());
    }
    let ask = read_ask(&req, payload, &state).await?;
    let refunding = create_refund(
        state.lifecycle(),
        &owner.merchant_id,
        owner.environment,
        &id,
        ask,
    )
    .await?;
    match refunding {
        Refunding::Created(row) => Ok(HttpResponse::Ok().json(Refund::from_row(*row))),
        Refunding::Replayed(row) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(Refund::from_row(*row))),
        Refunding::KeyReused { key, refund } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            format!("idempotencyKey {key:?} was already used with a different request (refund {refund})"),
        )
        .with_suggestion("Send the same body as the first request, or use a new idempotencyKey for a different refund.")),
        Refunding::NoPayment => Err(not_found()),
        Refunding::NotPaid(status) => Err(ApiError::bad_request(
            "payment_not_refundable",
            format!("only paid payments can be refunded; this payment is {status}"),
        )
        .with_suggestion(match status {
            PaymentStatus::Pending => "Wait until the payment is paid (payment.paid), then refund it.",
            _ => "A payment that did not go through took no money: there is nothing to give back.",
        })),
        Refunding::NotSupported(provider) => Err(ApiError::bad_request(
            "refund_not_supported",
            format!("payments through {provider} cannot be refunded through this API yet"),
        )
        .with_suggestion("Give the money back through the provider itself.")),
        Refunding::Exceeds { left_cents } => Err(ApiError::bad_request(
            "refund_exceeds_payment",
            format!(
                "amount is more than is left to refund: at most {} can be refunded",
                format_plain(left_cents)
            ),
        )
        .with_suggestion("Ask for at most what is left, or leave amount out to refund all of it.")),
        Refunding::NothingLeft => Err(ApiError::bad_request(
            "refund_exceeds_payment",
            "the payment is refunded already (or its refunds are pending): nothing is left to refund",
        )),
    }
}

/// List refunds, newest first.
#[utoipa::path(
    get,
    path = "/api/gateway/refunds",
    tag = "Refunds",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor: the last id of the previous page"),
        ("paymentId" = Option<String>, Query, description = "`pay_…`"),
        ("status" = Option<String>, Query, description = "`pending`, `succeeded`, `failed` or `action_required` (another word matches none)"),
    ),
    responses(
        (status = 200, description = "A page of refunds", body = super::list::RefundList),
        (status = 400, description = "Invalid parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_refunds_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(req.query_string(), &["paymentId", "status"])?;
    let filter = RefundFilter {
        payment_id: params.get("paymentId"),
        status: params.get("status"),
        starting_after: params.starting_after.clone(),
        limit: params.limit,
    };
    let owner = &auth.0;
    let rows = list_refunds(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        &filter,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, Refund::from_row)))
}

/// Retrieve a refund.
#[utoipa::path(
    get,
    path = "/api/gateway/refunds/{id}",
    tag = "Refunds",
    params(("id" = String, Path, description = "`re_…`")),
    responses(
        (status = 200, description = "The refund", body = Refund),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such refund for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get_refund_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("refund", &id);
    if !id.starts_with("re_") || id.chars().any(char::is_control) {
        return Err(not_found());
    }
    let row = get_refund(&state.db.read, &owner.merchant_id, owner.environment, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(Refund::from_row(row)))
}
