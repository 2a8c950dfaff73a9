//! Refunds: `POST /api/gateway/payments/{id}/refunds`, `GET /api/gateway/refunds`,
//! `GET /api/gateway/refunds/{id}`, and for refunds on chain `POST …/refunds/{id}/confirm`
//! and `GET …/refunds/{id}/qr`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::onchain::refund_transfers;
use crate::db::refunds::{RefundFilter, RefundRow, get_refund, list_refunds};
use crate::domain::input::{Fields, RawObject};
use crate::domain::money::{cents_to_json, format_plain};
use crate::domain::onchain::{RefundTransfer, network_name};
use crate::domain::refund::RefundReason;
use crate::domain::time::iso_seconds;
use crate::domain::{Metadata, PaymentStatus, RefundId};
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::onchain_refunds::{Confirming, confirm_refund_transfer};
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
    /// The transaction that gave it back, for a refund on chain.
    pub tx_hash: Option<String>,
    /// For a refund on chain: what the merchant sends from their own wallet (the server holds
    /// no key). The refund is `action_required` until that transfer is seen on chain (or
    /// confirmed with `POST /api/gateway/refunds/{id}/confirm`).
    pub transfer: Option<RefundTransferView>,
    /// Why it failed (`refund_declined`, …).
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub livemode: bool,
}

/// What the merchant sends to give a payment on chain back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundTransferView {
    /// `Base`, `Base Sepolia`, …
    pub network: String,
    pub chain_id: u64,
    /// The token contract (checksummed).
    pub token: String,
    /// Send from: the address that received the payment.
    pub from: String,
    /// Send to: the buyer, the address that sent the payment.
    pub to: String,
    /// Exactly this many tokens, every decimal shown (`10.500000`).
    pub amount: String,
    /// The same in the token's smallest units.
    pub units: String,
    /// The EIP-681 request a wallet reads (`GET /api/gateway/refunds/{id}/qr` draws it).
    pub payment_uri: String,
    /// Blocks the transfer needs (its own included) before the refund succeeds.
    pub confirmations: u64,
}

impl RefundTransferView {
    fn of(t: &RefundTransfer) -> RefundTransferView {
        RefundTransferView {
            network: network_name(t.chain_id),
            chain_id: t.chain_id,
            token: t.token.checksummed(),
            from: t.from.checksummed(),
            to: t.to.checksummed(),
            amount: t.amount(),
            units: t.units.to_string(),
            payment_uri: t.uri(),
            confirmations: t.confirmations,
        }
    }
}

/// The API's view of `rows`, with what the refunds on chain among them await.
pub async fn refunds_with_transfers<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    rows: Vec<RefundRow>,
) -> anyhow::Result<Vec<Refund>> {
    let ids: Vec<&RefundId> = rows.iter().map(|r| &r.id).collect();
    let mut transfers = refund_transfers(executor, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let transfer = transfers
                .iter()
                .position(|t| t.refund_id == row.id)
                .map(|i| transfers.swap_remove(i));
            Refund::from_row(row, transfer.as_ref())
        })
        .collect())
}

impl Refund {
    pub fn from_row(row: RefundRow, transfer: Option<&RefundTransfer>) -> Refund {
        Refund {
            tx_hash: transfer.and(row.provider_ref.clone()),
            transfer: transfer.map(RefundTransferView::of),
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
    Ok(RefundAsk::new(
        amount.map(|a| a.cents()),
        reason,
        note,
        idempotency_key,
        metadata.unwrap_or_default(),
    ))
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
        Refunding::Created(row) => Ok(HttpResponse::Ok().json(one(&state, *row).await?)),
        Refunding::Replayed(row) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(one(&state, *row).await?)),
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
    let refunds = refunds_with_transfers(&state.db.read, rows).await?;
    Ok(HttpResponse::Ok().json(List::page(refunds, params.limit, |r| r)))
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
    refund_ref(&id)?;
    let row = get_refund(&state.db.read, &owner.merchant_id, owner.environment, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(one(&state, row).await?))
}

/// The API's view of one refund.
async fn one(state: &AppState, row: RefundRow) -> anyhow::Result<Refund> {
    let mut views = refunds_with_transfers(&state.db.read, vec![row]).await?;
    views
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a refund vanished"))
}

/// Confirm a refund on chain by hand, with its transaction.
///
/// For a refund that is `action_required` (a payment on chain, given back from the merchant's
/// own wallet): the transaction must be mined, succeeded, hold a transfer of the refund's
/// token and exact amount to the buyer (from any address), and be buried under the refund's
/// confirmations. The refund then succeeds with it (`refund.succeeded`). The scanner does the
/// same by itself for a transfer from the address that received the payment; this is for one
/// sent from elsewhere, or to close it at once. A retry with the same transaction answers the
/// refund again.
#[utoipa::path(
    post,
    path = "/api/gateway/refunds/{id}/confirm",
    tag = "Refunds",
    params(("id" = String, Path, description = "`re_…`")),
    request_body(content = crate::routes::api::schemas::ConfirmRefundRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The refund, succeeded with this transaction", body = Refund),
        (status = 400, description = "Invalid body; the refund is not one given back on chain (`refund_not_onchain`)", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such refund for this key", body = ErrorEnvelope),
        (status = 409, description = "The refund awaits no transfer (`refund_not_awaiting_transfer`); the transfer is not deep enough yet (`refund_transfer_unconfirmed`); it pays a payment or another refund (`refund_transfer_used`)", body = ErrorEnvelope),
        (status = 422, description = "No such mined transaction (`refund_transfer_not_found`), it failed (`refund_transfer_reverted`), or it holds no transfer of the amount to the buyer (`refund_transfer_mismatch`)", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn confirm_refund_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("refund", &id);
    refund_ref(&id)?;
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    let mut f = Fields::new(&body, &["txHash"]);
    let tx_hash = f.required::<String>("txHash");
    let tx_hash = f.check("txHash", tx_hash, |s| {
        tx_hash_text(&s)
            .ok_or_else(|| "must be a transaction hash: 0x and 64 hex digits".to_owned())
    });
    let issues = f.finish();
    let Some(tx_hash) = tx_hash.filter(|_| issues.is_empty()) else {
        return Err(ApiError::validation(issues, None));
    };
    let confirming = confirm_refund_transfer(
        state.lifecycle(),
        &owner.merchant_id,
        owner.environment,
        &id,
        &tx_hash,
    )
    .await?;
    let conflict = |code, message: String| ApiError::new(StatusCode::CONFLICT, code, message);
    let unprocessable =
        |code, message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    match confirming {
        Confirming::Confirmed(row) => Ok(HttpResponse::Ok().json(one(&state, *row).await?)),
        Confirming::NoRefund => Err(not_found()),
        Confirming::NotOnchain => Err(ApiError::bad_request(
            "refund_not_onchain",
            "only refunds of payments on chain are confirmed by hand; this refund's provider reports its outcome itself",
        )),
        Confirming::NotAwaiting(status) => Err(conflict(
            "refund_not_awaiting_transfer",
            format!("the refund is {status}: it awaits no transfer"),
        )),
        Confirming::NotMined => Err(unprocessable(
            "refund_transfer_not_found",
            format!("the chain has no mined transaction {tx_hash}"),
        )
        .with_suggestion("Check the hash and the network; a transaction just sent may need a few seconds to be mined.")),
        Confirming::Reverted => Err(unprocessable(
            "refund_transfer_reverted",
            format!("transaction {tx_hash} failed on chain: it sent nothing"),
        )),
        Confirming::NoMatch(awaited) => Err(unprocessable(
            "refund_transfer_mismatch",
            format!(
                "transaction {tx_hash} holds no transfer of exactly {} (token {}) to {}",
                awaited.amount(),
                awaited.token.checksummed(),
                awaited.to.checksummed()
            ),
        )
        .with_suggestion("Send exactly the refund's transfer.amount of its token to transfer.to.")),
        Confirming::Unconfirmed { depth, needed } => Err(conflict(
            "refund_transfer_unconfirmed",
            format!("the transfer is in {depth} of the {needed} blocks it needs"),
        )
        .with_suggestion("Try again once more blocks are mined; the scanner also confirms it by itself when it was sent from transfer.from.")),
        Confirming::UsedElsewhere => Err(conflict(
            "refund_transfer_used",
            format!("the transfer in {tx_hash} already pays a payment or gave back another refund"),
        )),
        Confirming::ChainUnavailable(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_unavailable",
            format!("the chain could not be asked: {why}"),
        )
        .with_suggestion("Try again in a moment.")),
    }
}

/// A refund id from a path: anything but `re_…` names no refund.
fn refund_ref(id: &str) -> Result<(), ApiError> {
    if !id.starts_with("re_") || id.chars().any(char::is_control) {
        return Err(ApiError::not_found("refund", id));
    }
    Ok(())
}

/// `0x` and 64 hex digits, in lower case; `None` otherwise.
fn tx_hash_text(s: &str) -> Option<String> {
    let hex = s.strip_prefix("0x")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// A refund on chain's transfer request as a QR code.
///
/// The EIP-681 request of the refund's `transfer` (`paymentUri`) drawn as an SVG image, for a
/// wallet to scan. Refunds of other providers have none.
#[utoipa::path(
    get,
    path = "/api/gateway/refunds/{id}/qr",
    tag = "Refunds",
    params(("id" = String, Path, description = "`re_…`")),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such refund for this key, or it is not given back on chain", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn refund_qr_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("refund", &id);
    refund_ref(&id)?;
    let row = get_refund(&state.db.read, &owner.merchant_id, owner.environment, &id)
        .await?
        .ok_or_else(not_found)?;
    let transfer = refund_transfers(&state.db.read, &[&row.id])
        .await?
        .pop()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "resource_missing",
                format!("refund {id} is not given back on chain: it has no transfer to draw"),
            )
        })?;
    let svg = crate::routes::pages::qr::qr_svg(&transfer.uri());
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "private, no-store"))
        .body(svg))
}
