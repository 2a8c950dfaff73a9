//! The `stripe` provider: Stripe Checkout hosts the payment page of card and bank-debit
//! routes. A hand-off creates a Checkout Session (form-encoded, with the payment's id as its
//! `Idempotency-Key`, so a hand-off driven again never makes a second one) and sends the
//! buyer to its `url`; Stripe sends them back to our page. Outcomes arrive as webhooks signed
//! `Stripe-Signature: t=…,v1=…` (the scheme of our own webhooks) and are also asked for by
//! polling the session, so a lost webhook, or none configured, loses nothing.
//!
//! Refunds are `POST /v1/refunds` of the session's PaymentIntent (the refund's id as its
//! `Idempotency-Key`), followed by `GET /v1/refunds/{id}` while pending.
//!
//! Only what Stripe's API documents is used: `POST /v1/checkout/sessions`,
//! `GET /v1/checkout/sessions/{id}` (with `expand[]=payment_intent`), `POST /v1/checkout/sessions/{id}/expire` and, for
//! `providers check`, `GET /v1/checkout/sessions?limit=1`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::{
    CallbackError, CallbackRequest, Charged, PollResult, Provider, ProviderEvent, ProviderPayment,
    RefundOutcome, RefundRequest, StartOutcome, StartRequest, Update,
};
use crate::crypto::signature::{self, SignatureError};
use crate::domain::stripe::StripeTarget;
use crate::domain::{Outcome, PaymentId};

/// The provider's id, as routes' `integration` names it.
pub const ID: &str = crate::domain::payment_route::STRIPE_INTEGRATION;

/// The header of Stripe's webhook signatures, lower case.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How long a call to Stripe may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Stripe refuses a Checkout Session that expires sooner than 30 minutes after it is made, or
/// later than 24 hours: ours asks for our session's deadline, kept within those bounds (with a
/// margin, as the request may be sent again a little later).
const MIN_EXPIRY_MS: i64 = 35 * 60 * 1000;
const MAX_EXPIRY_MS: i64 = 23 * 3600 * 1000;

/// The `stripe` provider, serving its routes by id.
pub struct StripeProvider {
    routes: HashMap<String, StripeTarget>,
    http: reqwest::Client,
    poll_after_ms: i64,
}

/// Why a call to Stripe failed, in words an operator can act on (never a secret).
#[derive(Debug)]
pub struct StripeError {
    /// The HTTP status, when Stripe answered.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "Stripe answered {status}: {}", self.message),
            None => write!(f, "Stripe could not be reached: {}", self.message),
        }
    }
}

impl std::error::Error for StripeError {}

/// The part of a Checkout Session we read.
#[derive(Debug, Deserialize)]
struct Session {
    id: String,
    #[serde(default)]
    url: Option<String>,
    /// `open`, `complete` or `expired`.
    status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    payment_status: Option<String>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    amount_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    /// Its PaymentIntent's id, or the object itself when asked with `expand[]`.
    #[serde(default)]
    payment_intent: Option<serde_json::Value>,
}

impl Session {
    /// Our payment, as we told Stripe when we made the session.
    fn payment_id(&self) -> Option<PaymentId> {
        self.metadata
            .get("payment_id")
            .or(self.client_reference_id.as_ref())
            .and_then(|id| PaymentId::parse(id))
    }

    fn charged(&self) -> Option<Charged> {
        Some(Charged {
            amount: self.amount_total?,
            currency: self.currency.clone()?,
        })
    }

    /// The status of its PaymentIntent, when expanded.
    fn intent_status(&self) -> Option<&str> {
        self.payment_intent.as_ref()?.get("status")?.as_str()
    }

    /// Where it stands, as a poll answers.
    fn poll_result(&self) -> PollResult {
        match (self.status.as_deref(), self.payment_status.as_deref()) {
            (Some("complete"), Some("paid" | "no_payment_required")) => {
                PollResult::Final(Outcome::Paid { tx_hash: None }, self.charged())
            }
            // A bank debit, accepted and settled days later; where it stands is its
            // PaymentIntent's status, when the session was read with it expanded.
            (Some("complete"), _) => match self.intent_status() {
                Some("succeeded") => {
                    PollResult::Final(Outcome::Paid { tx_hash: None }, self.charged())
                }
                Some("requires_payment_method" | "canceled") => {
                    PollResult::Final(debit_failed(), None)
                }
                _ => PollResult::Accepted,
            },
            (Some("expired"), _) => PollResult::Final(expired(), None),
            _ => PollResult::Pending,
        }
    }
}

/// The part of a Refund we read.
#[derive(Debug, Deserialize)]
struct StripeRefund {
    id: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    status: String,
    #[serde(default)]
    failure_reason: Option<String>,
    /// Ours: `refund_id` and `payment_id`.
    #[serde(default)]
    metadata: HashMap<String, String>,
}

impl StripeRefund {
    fn outcome(self, poll_after_ms: i64) -> RefundOutcome {
        match self.status.as_str() {
            "succeeded" => RefundOutcome::Succeeded {
                provider_ref: Some(self.id),
            },
            "failed" | "canceled" => RefundOutcome::Failed {
                code: "refund_failed".into(),
                message: format!(
                    "Stripe could not give the money back ({}).",
                    self.failure_reason.as_deref().unwrap_or(&self.status)
                ),
            },
            _ => RefundOutcome::Pending {
                provider_ref: Some(self.id),
                poll_after_ms,
            },
        }
    }
}

/// A Stripe event, as its webhook carries it.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Stripe's error envelope.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn expired() -> Outcome {
    Outcome::failed(
        "provider_expired",
        "The payment was not finished on Stripe's page in time.",
    )
}

fn debit_failed() -> Outcome {
    Outcome::failed(
        "payment_failed",
        "The bank debit failed; nothing was taken.",
    )
}

impl StripeProvider {
    /// The provider of `routes` (by route id); payments are polled every `poll_after_ms`
    /// until an outcome is known.
    pub fn new(
        routes: HashMap<String, StripeTarget>,
        poll_after_ms: i64,
    ) -> anyhow::Result<StripeProvider> {
        crate::crypto::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the Stripe client")?;
        Ok(StripeProvider {
            routes,
            http,
            poll_after_ms,
        })
    }

    fn route(&self, payment: &ProviderPayment) -> anyhow::Result<&StripeTarget> {
        self.routes
            .get(&payment.route_id)
            .with_context(|| format!("route {} is not a stripe route", payment.route_id))
    }

    /// Sends a request to Stripe with the route's key and reads the answer as `T`, or as
    /// Stripe's error envelope.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        target: &StripeTarget,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StripeError> {
        let response = request
            .bearer_auth(&target.secret_key)
            .send()
            .await
            .map_err(|e| StripeError {
                status: None,
                message: if e.is_timeout() {
                    "the request timed out".into()
                } else {
                    "the connection failed".into()
                },
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|_| StripeError {
            status: Some(status),
            message: "the answer could not be read".into(),
        })?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text).map_err(|e| StripeError {
                status: Some(status),
                message: format!("the answer is not what the API documents: {e}"),
            });
        }
        let message = match serde_json::from_str::<ErrorEnvelope>(&text) {
            // Stripe's message for a bad key quotes part of it: say what it means instead.
            Ok(_) if status == 401 => {
                "the secret key was refused (authentication_error): check the key in the \
                 route's stripe.secret_key_env"
                    .to_owned()
            }
            Ok(envelope) => {
                let e = envelope.error;
                let code = e.code.map(|c| format!(", {c}")).unwrap_or_default();
                format!(
                    "{}{code}: {}",
                    e.kind,
                    e.message.unwrap_or_else(|| "no message".into())
                )
            }
            Err(_) => "an answer that is not Stripe's error envelope".into(),
        };
        Err(StripeError {
            status: Some(status),
            message,
        })
    }

    /// A Checkout Session, with its PaymentIntent (whose status tells a bank debit that
    /// failed from one still clearing).
    async fn session(
        &self,
        target: &StripeTarget,
        session_id: &str,
    ) -> Result<Session, StripeError> {
        let url = format!(
            "{}/v1/checkout/sessions/{session_id}?expand[]=payment_intent",
            target.api_base
        );
        self.call(target, self.http.get(url)).await
    }

    /// A harmless authenticated read (the latest Checkout Session, which a key restricted to
    /// Checkout may read too): what `providers check` asks. Whether the key is live.
    pub async fn check(&self, route_id: &str) -> Result<bool, StripeError> {
        let Some(target) = self.routes.get(route_id) else {
            return Err(StripeError {
                status: None,
                message: format!("route {route_id} is not a stripe route"),
            });
        };
        let url = format!("{}/v1/checkout/sessions?limit=1", target.api_base);
        self.call::<serde_json::Value>(target, self.http.get(url))
            .await
            .map(|_| target.live)
    }

    /// The route ids this provider serves.
    pub fn route_ids(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// Every webhook secret of every route (an event does not say which route it is for).
    fn verify(&self, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<(), CallbackError> {
        let mut refusal = SignatureError::Mismatch;
        let mut secrets = self
            .routes
            .values()
            .flat_map(|r| &r.webhook_secrets)
            .peekable();
        if secrets.peek().is_none() {
            return Err(CallbackError::Malformed(
                "no stripe route has a webhook secret (stripe.webhook_secret_env): outcomes are \
                 learned by polling"
                    .into(),
            ));
        }
        for secret in secrets {
            match signature::verify(secret.as_bytes(), header, body, now_ms / 1000) {
                Ok(()) => return Ok(()),
                // Missing, malformed or stale is so for every secret.
                Err(e @ (SignatureError::Missing | SignatureError::Malformed)) => {
                    return Err(CallbackError::Signature(e));
                }
                Err(e) => refusal = e,
            }
        }
        Err(CallbackError::Signature(refusal))
    }
}

impl StripeProvider {
    /// A `refund.*` event about one of our refunds (one made elsewhere, in Stripe's
    /// dashboard, is not ours: ignored). `charge.refunded` says nothing these do not.
    fn refund_event(&self, event: Event) -> Result<Option<ProviderEvent>, CallbackError> {
        let refund: StripeRefund = serde_json::from_value(event.data.object).map_err(|e| {
            CallbackError::Malformed(format!("{} does not carry a refund: {e}", event.kind))
        })?;
        let ours = (
            refund
                .metadata
                .get("refund_id")
                .and_then(|id| crate::domain::RefundId::parse(id)),
            refund
                .metadata
                .get("payment_id")
                .and_then(|id| PaymentId::parse(id)),
        );
        let (Some(refund_id), Some(payment_id)) = ours else {
            tracing::info!(event.id = %event.id, stripe.refund = %refund.id, "ignoring a Stripe refund this product did not make");
            return Ok(None);
        };
        Ok(Some(ProviderEvent {
            callback_id: event.id,
            payment_id,
            update: Update::Refund {
                refund_id,
                outcome: refund.outcome(self.poll_after_ms),
            },
            charged: None,
        }))
    }
}

/// The form of `POST /v1/checkout/sessions` for `request`.
fn session_form(request: &StartRequest<'_>, target: &StripeTarget) -> Vec<(String, String)> {
    let payment = request.payment;
    let checkout = request.checkout;
    let expires_at = checkout.expires_at_ms.clamp(
        payment.created_at_ms + MIN_EXPIRY_MS,
        payment.created_at_ms + MAX_EXPIRY_MS,
    ) / 1000;
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("line_items[0][quantity]".into(), "1".into()),
        (
            "line_items[0][price_data][currency]".into(),
            payment.currency.to_ascii_lowercase(),
        ),
        (
            "line_items[0][price_data][unit_amount]".into(),
            payment.total_cents.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]".into(),
            checkout.product.clone(),
        ),
        ("customer_email".into(), checkout.customer_email.clone()),
        ("client_reference_id".into(), payment.id.to_string()),
        ("metadata[payment_id]".into(), payment.id.to_string()),
        (
            "metadata[session_id]".into(),
            payment.session_id.to_string(),
        ),
        ("success_url".into(), checkout.return_url.clone()),
        ("cancel_url".into(), checkout.cancel_url.clone()),
        ("expires_at".into(), expires_at.to_string()),
        (
            "payment_intent_data[metadata][payment_id]".into(),
            payment.id.to_string(),
        ),
    ];
    if let Some(reference) = &checkout.client_reference_id {
        form.push(("metadata[client_reference_id]".into(), reference.clone()));
    }
    for (i, method) in target.payment_method_types.iter().enumerate() {
        form.push((format!("payment_method_types[{i}]"), method.clone()));
    }
    form
}

impl Provider for StripeProvider {
    fn id(&self) -> &str {
        ID
    }

    fn start<'a>(
        &'a self,
        request: StartRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<StartOutcome>> {
        Box::pin(async move {
            let payment = request.payment;
            let target = self.route(payment)?;
            let form = session_form(&request, target);
            let url = format!("{}/v1/checkout/sessions", target.api_base);
            let body = serde_urlencoded::to_string(&form).context("encoding the session form")?;
            let call = self
                .http
                .post(url)
                .header("Idempotency-Key", payment.id.to_string())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
            let session: Session = self.call(target, call).await?;
            let url = session
                .url
                .filter(|_| session.status.as_deref() == Some("open"))
                .with_context(|| {
                    format!(
                        "Stripe's session {} has no page to send the buyer to (status {:?})",
                        session.id, session.status
                    )
                })?;
            Ok(StartOutcome::Redirect {
                provider_ref: session.id,
                url,
                poll_after_ms: self.poll_after_ms,
            })
        })
    }

    fn parse_callback(
        &self,
        request: CallbackRequest<'_>,
        now_ms: i64,
    ) -> Result<Option<ProviderEvent>, CallbackError> {
        self.verify(request.header(SIGNATURE_HEADER), request.body, now_ms)?;
        let event: Event = serde_json::from_slice(request.body)
            .map_err(|e| CallbackError::Malformed(format!("not a Stripe event: {e}")))?;
        if matches!(
            event.kind.as_str(),
            "refund.created" | "refund.updated" | "refund.failed"
        ) {
            return self.refund_event(event);
        }
        let update = match event.kind.as_str() {
            "checkout.session.completed" => None,
            "checkout.session.async_payment_succeeded" => {
                Some(Update::Final(Outcome::Paid { tx_hash: None }))
            }
            "checkout.session.async_payment_failed" => Some(Update::Final(debit_failed())),
            "checkout.session.expired" => Some(Update::Final(expired())),
            other => {
                tracing::debug!(event.id = %event.id, event.kind = other, "ignoring a Stripe event of a type we do not use");
                return Ok(None);
            }
        };
        let session: Session = serde_json::from_value(event.data.object).map_err(|e| {
            CallbackError::Malformed(format!(
                "{} does not carry a checkout session: {e}",
                event.kind
            ))
        })?;
        let Some(payment_id) = session.payment_id() else {
            tracing::info!(event.id = %event.id, stripe.session = %session.id, "ignoring a Stripe event of a checkout session this product did not make");
            return Ok(None);
        };
        let update = match update {
            Some(update) => update,
            // Completed: paid at once (a card), or accepted to settle later (a bank debit).
            None => match session.poll_result() {
                PollResult::Final(outcome, _) => Update::Final(outcome),
                _ => Update::Accepted,
            },
        };
        let charged = match update {
            Update::Final(Outcome::Paid { .. }) | Update::Accepted => session.charged(),
            Update::Final(Outcome::Failed { .. }) | Update::Refund { .. } => None,
        };
        Ok(Some(ProviderEvent {
            callback_id: event.id,
            payment_id,
            update,
            charged,
        }))
    }

    fn refunds(&self) -> bool {
        true
    }

    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        Box::pin(async move {
            let payment = request.payment;
            let target = self.route(payment)?;
            let session_id = payment
                .provider_ref
                .as_deref()
                .context("a paid Stripe payment has its Checkout Session")?;
            let session = self.session(target, session_id).await?;
            let intent = match &session.payment_intent {
                Some(serde_json::Value::String(id)) => id.clone(),
                Some(object) => object["id"]
                    .as_str()
                    .context("Stripe's PaymentIntent has no id")?
                    .to_owned(),
                None => anyhow::bail!("Stripe's session {session_id} has no PaymentIntent"),
            };
            let form = [
                ("payment_intent", intent),
                ("amount", request.amount_cents.to_string()),
                ("metadata[refund_id]", request.refund_id.to_owned()),
                ("metadata[payment_id]", payment.id.to_string()),
            ];
            let body = serde_urlencoded::to_string(form).context("encoding the refund form")?;
            let call = self
                .http
                .post(format!("{}/v1/refunds", target.api_base))
                .header("Idempotency-Key", request.refund_id)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
            match self.call::<StripeRefund>(target, call).await {
                Ok(refund) => Ok(refund.outcome(self.poll_after_ms)),
                // Refused for good (not refundable, more than is left): the refund fails, and
                // its amount is refundable again.
                Err(StripeError {
                    status: Some(status @ (400 | 402 | 404)),
                    message,
                }) => Ok(RefundOutcome::Failed {
                    code: "refund_refused".into(),
                    message: format!("Stripe refused the refund ({status}): {message}"),
                }),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn poll_refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        Box::pin(async move {
            let Some(refund_id) = request.provider_ref else {
                return self.refund(request).await;
            };
            let target = self.route(request.payment)?;
            let url = format!("{}/v1/refunds/{refund_id}", target.api_base);
            let refund: StripeRefund = self.call(target, self.http.get(url)).await?;
            Ok(refund.outcome(self.poll_after_ms))
        })
    }

    fn acknowledges_replays(&self) -> bool {
        // Stripe retries anything but a 2xx for three days.
        true
    }

    fn poll<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let target = self.route(payment)?;
            let Some(session_id) = &payment.provider_ref else {
                return Ok(PollResult::Unknown);
            };
            let session = self.session(target, session_id).await?;
            Ok(session.poll_result())
        })
    }

    fn cancel<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let target = self.route(payment)?;
            let Some(session_id) = &payment.provider_ref else {
                return Ok(PollResult::Unknown);
            };
            let url = format!(
                "{}/v1/checkout/sessions/{session_id}/expire",
                target.api_base
            );
            match self.call::<Session>(target, self.http.post(url)).await {
                Ok(session) => Ok(session.poll_result()),
                // Not open any more (completed meanwhile, or expired): where it stands.
                Err(StripeError {
                    status: Some(400), ..
                }) => Ok(self.session(target, session_id).await?.poll_result()),
                Err(e) => Err(e.into()),
            }
        })
    }
}
