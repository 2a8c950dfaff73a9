//! The request bodies and small answers of the merchant API, as the OpenAPI document describes
//! them. The handlers read bodies field by field (see `body.rs`), so these types only describe;
//! the rules here are the ones the parsers enforce, and Schemathesis (scripts/schemathesis)
//! checks that every body valid by these schemas is accepted and every invalid one refused.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// A text with no control characters (U+0000–U+001F, U+007F–U+009F).
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// `card`, `wallet` or `local`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteKindName {
    Card,
    Wallet,
    Local,
}

/// `sandbox` or `production`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentName {
    Sandbox,
    Production,
}

/// The body of `POST /api/gateway/sessions`. Unknown fields are refused, naming them.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Shown to the buyer: 1 to 120 characters after trimming, no control characters.
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Creator plan"
    )]
    product: String,
    /// US dollars: more than 0, at most 2 decimal places, at most `max_amount`.
    #[schema(
        exclusive_minimum = 0,
        maximum = 10000,
        multiple_of = 0.01,
        example = 116
    )]
    amount: f64,
    /// The buyer's e-mail address; finds or creates the customer (`cus_…`).
    #[schema(format = "email", max_length = 254, example = "buyer@example.com")]
    customer: String,
    /// Preselected on the checkout page.
    preferred_route: Option<RouteKindName>,
    /// Where the buyer goes when the payment completes or fails; `https` in production; may
    /// contain `{CHECKOUT_SESSION_ID}`.
    #[schema(
        max_length = 2048,
        pattern = "^[hH][tT][tT][pP][sS]?://([A-Za-z0-9._-]+|\\[(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))\\])(:0*([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#]([^\\s\\u0000-\\u001f\\u007f-\\u009f<>\"`\\\\{}|^]|\\{CHECKOUT_SESSION_ID\\})*)?$",
        example = "https://merchant.example/success?order=ord_284"
    )]
    redirect_url: Option<String>,
    /// At most 10 pairs; keys 1 to 40 characters, values strings of at most 500.
    #[schema(schema_with = metadata_schema)]
    metadata: Option<BTreeMap<String, String>>,
    /// Same key and same body: the same session comes back (`Idempotent-Replayed: true`).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    idempotency_key: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    client_reference_id: Option<String>,
    /// Defaults to the API key's; must match it (403 otherwise).
    environment: Option<EnvironmentName>,
    /// Extension: 300 to 604800, default 86400.
    #[schema(minimum = 300, maximum = 604800)]
    expires_in_seconds: Option<i64>,
    /// Extension: `false` sends the buyer no receipt e-mail for this session; left out or
    /// `true`, receipts follow the server's `send_receipts` (on by default).
    send_receipt: Option<bool>,
}

/// Metadata: at most 10 pairs, keys 1 to 40 characters without control characters, values
/// strings of at most 500 characters. Built from JSON, since `propertyNames` has no attribute.
pub fn metadata_schema() -> utoipa::openapi::Schema {
    let schema = serde_json::json!({
        "type": ["object", "null"],
        "description": "At most 10 pairs; keys 1 to 40 characters, values strings of at most 500.",
        "maxProperties": 10,
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": NO_CONTROL},
        "additionalProperties": {"type": "string", "maxLength": 500},
        "example": {"order_id": "ord_284"}
    });
    serde_json::from_value(schema).unwrap_or_default()
}

/// The body of `POST /api/gateway/payments/{id}/refunds`; every field optional (an empty
/// body refunds all that is left). Unknown fields are refused, naming them.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// US dollars to give back: more than 0, at most 2 decimal places, at most what is left;
    /// all that is left when absent.
    #[schema(
        exclusive_minimum = 0,
        maximum = 10000,
        multiple_of = 0.01,
        example = 10
    )]
    amount: Option<f64>,
    reason: Option<RefundReasonName>,
    /// The merchant's note, 1 to 500 characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    note: Option<String>,
    /// Same key and same body: the same refund comes back (`Idempotent-Replayed: true`).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    idempotency_key: Option<String>,
    /// At most 10 pairs; keys 1 to 40 characters, values strings of at most 500.
    #[schema(schema_with = metadata_schema)]
    metadata: Option<BTreeMap<String, String>>,
}

/// The body of `POST /api/gateway/refunds/{id}/confirm`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRefundRequest {
    /// The transaction that sent the refund: `0x` and 64 hex digits.
    #[schema(
        pattern = "^0x[0-9a-fA-F]{64}$",
        example = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
    )]
    tx_hash: String,
}

/// Why a refund is made.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReasonName {
    RequestedByCustomer,
    Duplicate,
    Fraudulent,
    Other,
}

/// An event type a webhook endpoint can subscribe to.
#[derive(Deserialize, ToSchema)]
pub enum EventTypeName {
    #[serde(rename = "payment.provider_pending")]
    ProviderPending,
    #[serde(rename = "payment.paid")]
    Paid,
    #[serde(rename = "payment.failed")]
    Failed,
    #[serde(rename = "payment.expired")]
    Expired,
    #[serde(rename = "refund.created")]
    RefundCreated,
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    #[serde(rename = "refund.failed")]
    RefundFailed,
}

/// The body of `POST /api/gateway/webhook-endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// Where deliveries go; `https` and a public address in production.
    #[schema(
        max_length = 2048,
        pattern = "^[hH][tT][tT][pP][sS]?://([A-Za-z0-9._-]+|\\[(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))\\])(:0*([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\\s\\u0000-\\u001f\\u007f-\\u009f<>\"`\\\\{}|^]*)?$",
        example = "https://merchant.example/webhooks"
    )]
    url: String,
    /// Default: `payment.provider_pending`, `payment.paid`, `payment.failed`.
    #[schema(min_items = 1)]
    events: Option<Vec<EventTypeName>>,
    /// Defaults to the API key's; must match it (403 otherwise).
    environment: Option<EnvironmentName>,
}

/// The body of `POST /api/gateway/events/redeliver`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverSinceRequest {
    /// An RFC 3339 time: every event since then is queued again.
    #[schema(format = DateTime, example = "2026-11-24T00:00:00Z")]
    since: String,
}

/// `rounded`, `pill` or `square`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ButtonShapeName {
    Rounded,
    Pill,
    Square,
}

/// A language of the checkout pages.
#[derive(Deserialize, ToSchema)]
pub enum LanguageCode {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "es")]
    Es,
    #[serde(rename = "pt-BR")]
    PtBr,
}

/// The body of `PUT /api/gateway/branding`: fields left out stay as they are, `null` clears one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrandingUpdateRequest {
    /// Plain text, at most 80 characters after trimming.
    #[schema(max_length = 80, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    display_name: Option<String>,
    /// `#rrggbb` (or `#rgb`).
    #[schema(pattern = "^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$", example = "#0b57d0")]
    brand_color: Option<String>,
    button_shape: Option<ButtonShapeName>,
    /// A `data:` URL of a PNG, JPEG or WebP, up to 64 KiB, in canonical base64 (the unused bits
    /// of the last character zero), whose bytes are what it says: they start with the format's
    /// signature (`iVBORw0KGg…` for PNG, `/9j/` for JPEG, `UklG…RUJQ` for WebP's `RIFF…WEBP`).
    /// An SVG (`data:image/svg+xml;base64,…`) is accepted too when it is a plain drawing: no
    /// script, event handler, `foreignObject`, entity or reference outside the file; the rules
    /// are more than a pattern can say, so the pattern leaves it out.
    #[schema(
        max_length = 87400,
        pattern = "^data:image/(png;base64,iVBORw0KGg[o-r][A-Za-z0-9+/]|jpeg;base64,/9j/|webp;base64,UklGR[g-v][A-Za-z0-9+/]{4}[BFJNRVZdhlptx159]XRUJQ)(([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==))?$"
    )]
    logo: Option<String>,
    /// Plain text, at most 200 characters after trimming.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    note: Option<String>,
    default_language: Option<LanguageCode>,
}

/// An event type of `webhook.example`.
#[derive(Deserialize, ToSchema)]
pub enum ExampleEventName {
    #[serde(rename = "payment.provider_pending")]
    ProviderPending,
    #[serde(rename = "payment.paid")]
    Paid,
    #[serde(rename = "payment.failed")]
    Failed,
    #[serde(rename = "payment.expired")]
    Expired,
}

/// The body of `POST /api/agent/actions/webhook.example`; every field optional.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookExampleRequest {
    event: Option<ExampleEventName>,
    session_id: Option<String>,
    customer_id: Option<String>,
    /// US dollars, as for a session.
    #[schema(exclusive_minimum = 0, maximum = 10000, multiple_of = 0.01)]
    amount: Option<f64>,
    /// One of the configured routes' ids, e.g. `card-bridge-a`.
    route_id: Option<String>,
    #[schema(schema_with = metadata_schema)]
    metadata: Option<BTreeMap<String, String>>,
}

/// The body of the agent action `webhook.verify_sample`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookVerifySampleRequest {
    /// The webhook's raw body, exactly as received (a string: the signature is over its bytes).
    #[schema(max_length = 60000)]
    payload: String,
    /// The `x-gateway-signature` header: `t=<unix seconds>,v1=<hex>` (more `v1=` during a
    /// secret rotation).
    #[schema(max_length = 2000)]
    signature: String,
    /// The endpoint's signing secret.
    #[schema(min_length = 1, max_length = 500)]
    secret: String,
    /// Check the timestamp as at this time (Unix seconds) instead of now, e.g. for a saved
    /// sample.
    #[schema(minimum = 0, maximum = 253402300799_i64)]
    at: Option<i64>,
}

/// What an agent action answers.
#[derive(ToSchema)]
pub struct ActionResult {
    /// The action's answer: for `webhook.example` a webhook payload, exactly as deliveries
    /// carry it; for the checkout actions the checkout (made or not); for
    /// `webhook.verify_sample` the verdict.
    result: serde_json::Map<String, serde_json::Value>,
}

/// One event queued again.
#[derive(ToSchema)]
pub struct Redelivered {
    /// `evt_…`
    id: String,
    /// How many deliveries were queued (one per subscribed endpoint).
    queued: u64,
}

/// Every event since a time queued again.
#[derive(ToSchema)]
pub struct RedeliveredSince {
    /// How many events.
    events: u64,
    /// How many deliveries.
    queued: u64,
}

/// A provider callback's receipt.
#[derive(ToSchema)]
pub struct CallbackReceived {
    received: bool,
    /// `false` when the payment was already final.
    applied: bool,
}

/// A removed webhook endpoint.
#[derive(ToSchema)]
pub struct Deleted {
    /// `we_…`
    id: String,
    /// Always `webhook_endpoint`.
    object: String,
    /// Always `true`.
    deleted: bool,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: String,
}

/// `GET /readyz`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: String,
    /// `reachable`, `unreachable` or `timed_out` (no answer within a second).
    database: String,
    /// `applied`, `pending` or `unknown`.
    migrations: String,
    /// `ok` when a write commits, `failing` (e.g. a full disk) or `unknown`.
    writes: String,
    /// `ok`, `behind` (a due delivery waited over `ready_webhook_backlog_seconds`) or
    /// `unknown`.
    webhooks: String,
    /// How long the oldest due webhook delivery has waited; `null` when unknown.
    webhook_backlog_seconds: Option<i64>,
    /// Each provider this instance has called, by id.
    providers: BTreeMap<String, ProviderReadiness>,
    /// Why it is not ready, in words; empty when it is.
    reasons: Vec<String>,
}

/// One provider in `GET /readyz`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderReadiness {
    /// `ok`, or `failing` when every call has failed for `ready_provider_failing_seconds`.
    status: String,
    /// How long every call has failed; 0 while the last one was answered.
    failing_seconds: i64,
    /// Calls answered, by this instance.
    answered: u64,
    /// Calls failed, by this instance.
    failed: u64,
}
