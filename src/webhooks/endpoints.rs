//! Registering a webhook endpoint and rotating its secret: the use cases behind the API's
//! webhook-endpoint routes and the `webhooks` subcommands.

use crate::crypto::secret_box::EncryptionKeys;
use crate::db::Db;
use crate::db::webhook_endpoints::{EndpointRow, insert_endpoint, rotate_secret};
use crate::domain::event::EventKind;
use crate::domain::ids::random_token;
use crate::domain::time::now_ms;
use crate::domain::{EndpointStatus, Environment, MerchantId, WebhookEndpointId};

/// A representative `payment.paid` event for trying an endpoint (`chk_test_webhook`, $899 by
/// `route`): its id and its body.
pub fn test_event(route: Option<&crate::domain::payment_route::PaymentRoute>) -> (String, String) {
    let amount_cents = 89_900;
    let body = crate::domain::event::payload(&crate::domain::event::PayloadParts {
        kind: EventKind::Paid,
        session_id: "chk_test_webhook",
        customer_id: "cus_test_webhook",
        livemode: false,
        amount_cents,
        currency: "USD",
        route,
        fees: route.map(|r| r.fees(amount_cents)),
        tx_hash: Some("0xabc123"),
        metadata: crate::domain::Metadata::parse(&serde_json::json!({"order_id": "ord_284"}))
            .unwrap_or_default(),
        payment_id: Some("pay_test_webhook"),
        attempt: 1,
        failure_code: None,
        now_ms: now_ms(),
    })
    .to_string();
    (
        EventKind::Paid
            .event_id("chk_test_webhook", 1)
            .into_string(),
        body,
    )
}

/// Sends [`test_event`] to `url` through `client`, signed with `secret`, as a delivery would be.
pub async fn send_test_event(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    route: Option<&crate::domain::payment_route::PaymentRoute>,
) -> reqwest::Result<reqwest::Response> {
    let (event_id, body) = test_event(route);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-gateway-event", event_id.as_str())
        .header(
            "x-gateway-signature",
            super::sign_header(&[secret], now_ms() / 1000, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
}

/// A new secret: `whsec_` and 160 random bits.
pub fn new_secret() -> anyhow::Result<String> {
    Ok(format!("whsec_{}", random_token(32)?))
}

/// The event types an endpoint asks for, each once; one message per problem (an empty list, a
/// name that is not an event type).
pub fn event_list(names: &[String]) -> Result<Vec<String>, Vec<String>> {
    let mut problems = Vec::new();
    if names.is_empty() {
        problems.push("must name at least one event type".to_owned());
    }
    let mut events: Vec<String> = Vec::new();
    for name in names {
        if EventKind::parse(name).is_none() {
            problems.push(format!(
                "{name:?} is not an event type; use {}",
                EventKind::type_names()
            ));
        } else if !events.contains(name) {
            events.push(name.clone());
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// What an endpoint subscribes to when it names no events.
pub fn default_event_list() -> Vec<String> {
    EventKind::DEFAULT_SUBSCRIPTION
        .map(|k| k.type_name().to_owned())
        .to_vec()
}

/// Registers an endpoint, its secret sealed with `keys`. Returns the row as stored and the
/// secret in plain text, to be shown only this once.
pub async fn create_endpoint(
    db: &Db,
    keys: &EncryptionKeys,
    merchant_id: &MerchantId,
    environment: Environment,
    url: &str,
    events: &[String],
) -> anyhow::Result<(EndpointRow, String)> {
    let now = now_ms();
    let id = WebhookEndpointId::generate();
    let secret = new_secret()?;
    let row = EndpointRow {
        secret: keys.seal(id.as_str(), &secret)?,
        id,
        merchant_id: merchant_id.clone(),
        environment,
        url: url.to_owned(),
        events: serde_json::to_string(events)?,
        status: EndpointStatus::Active,
        disabled_reason: None,
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    insert_endpoint(&db.write, &row).await?;
    tracing::info!(endpoint.id = %row.id, "webhook endpoint registered");
    Ok((row, secret))
}

/// Gives an endpoint a new secret, sealed with `keys`; the old one keeps signing too for
/// `overlap_seconds`. Returns the new secret in plain text, to be shown only this once.
pub async fn rotate_endpoint_secret(
    db: &Db,
    keys: &EncryptionKeys,
    endpoint_id: &WebhookEndpointId,
    overlap_seconds: i64,
) -> anyhow::Result<String> {
    let now = now_ms();
    let secret = new_secret()?;
    rotate_secret(
        &db.write,
        endpoint_id,
        &keys.seal(endpoint_id.as_str(), &secret)?,
        now + overlap_seconds * 1000,
        now,
    )
    .await?;
    tracing::info!(endpoint.id = %endpoint_id, "webhook secret rotated");
    Ok(secret)
}
