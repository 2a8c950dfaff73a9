//! Delivering events as Stripe does: a JSON POST signed `t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">` with the whole `whsec_…` secret as the key, in order, each tried a few times.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::{DELIVERY_ATTEMPTS, DELIVERY_BACKOFF, StandIn, now};

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn deliver_loop(state: Arc<StandIn>, mut queue: mpsc::UnboundedReceiver<String>) {
    let Some(secret) = state.config.webhook_secret.clone() else {
        return;
    };
    while let Some(id) = queue.recv().await {
        let (url, body) = {
            let books = state.books();
            let body = books.events.get(&id).map(|r| r.body.clone());
            (books.webhook_url.clone(), body)
        };
        let (Some(url), Some(body)) = (url, body) else {
            continue;
        };
        for attempt in 0..DELIVERY_ATTEMPTS {
            let timestamp = now();
            let signature = format!("t={timestamp},v1={}", sign(&secret, timestamp, &body));
            let sent = state
                .client
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("Stripe-Signature", signature)
                .body(body.clone())
                .send()
                .await;
            let (status, error) = match sent {
                Ok(response) => (Some(response.status().as_u16()), None),
                Err(error) => (None, Some(error.to_string())),
            };
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            if let Some(record) = state.books().events.get_mut(&id) {
                record
                    .attempts
                    .push(json!({"at": timestamp, "status": status, "error": error}));
                record.delivery = if delivered {
                    record.event["pending_webhooks"] = json!(0);
                    "delivered"
                } else if attempt + 1 == DELIVERY_ATTEMPTS {
                    "failed"
                } else {
                    "retrying"
                };
            }
            if delivered {
                break;
            }
            if let Some(pause) = DELIVERY_BACKOFF.get(attempt) {
                tokio::time::sleep(*pause).await;
            }
        }
    }
}
