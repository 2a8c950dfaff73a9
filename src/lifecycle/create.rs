//! A merchant creates a checkout session: the route for its preferred kind is picked, and the
//! session and its customer are written through the session writer (one transaction per
//! batch). An idempotency key makes a retry return the first session instead of a second one.

use super::Lifecycle;
use crate::db::session_writer::Inserted;
use crate::db::sessions::{NewSession, SessionRow, get_session_by_idempotency_key};
use crate::domain::payment_route::{PaymentRoute, pick};
use crate::domain::session_request::CreateSession;
use crate::domain::time::now_ms;
use crate::domain::{Environment, MerchantId, RouteKind, SessionId};
use crate::providers::Providers;

/// What became of a request to create a session.
#[derive(Debug)]
pub enum Creation {
    /// Created now.
    Created(Box<SessionRow>),
    /// The idempotency key was used before for this same request: that session.
    Replayed(Box<SessionRow>),
    /// The idempotency key was used before for another request; nothing was written.
    KeyReused { key: String, session: SessionId },
    /// No route with a provider is offered in this environment: no buyer could pay.
    NoRouteConfigured,
    /// No route of the preferred kind is offered in this environment.
    RouteUnavailable(RouteKind),
}

/// The route a new session in `environment` gets for its preferred kind (`None` without one),
/// or why no session can be made: no route with a provider is offered there at all
/// (`NoRouteConfigured`), or none of that kind (`RouteUnavailable`).
pub fn session_route<'r>(
    routes: &'r [PaymentRoute],
    providers: &Providers,
    preferred: Option<RouteKind>,
    environment: Environment,
) -> Result<Option<&'r PaymentRoute>, Creation> {
    let payable = routes
        .iter()
        .any(|r| r.offered_in(environment) && providers.get(&r.integration).is_some());
    if !payable {
        return Err(Creation::NoRouteConfigured);
    }
    match preferred {
        Some(kind) => pick(routes, kind, environment)
            .map(Some)
            .ok_or(Creation::RouteUnavailable(kind)),
        None => Ok(None),
    }
}

/// Creates the session `input` asks for, for `merchant_id` in `environment`.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant_id, environment = %environment))]
pub async fn create_session(
    lc: Lifecycle<'_>,
    merchant_id: &MerchantId,
    environment: Environment,
    input: CreateSession,
) -> anyhow::Result<Creation> {
    let route = match session_route(
        &lc.settings.routes,
        lc.providers,
        input.preferred_route,
        environment,
    ) {
        Ok(route) => route,
        Err(refused) => return Ok(refused),
    };
    let now = now_ms();
    let fingerprint = input.fingerprint(environment);
    let expires_in = input
        .expires_in_seconds
        .unwrap_or(lc.settings.default_expires_in_seconds);
    let session = NewSession {
        id: SessionId::generate(),
        merchant_id: merchant_id.clone(),
        environment,
        customer_email: input.customer.as_str().to_owned(),
        email_normalized: input.customer.normalized().to_owned(),
        product: input.product.as_str().to_owned(),
        amount_cents: input.amount.cents(),
        currency: "USD".to_owned(),
        preferred_route: input.preferred_route,
        route_id: route.map(|r| r.id.clone()),
        redirect_url: input.redirect_url.map(|u| u.as_str().to_owned()),
        metadata: input.metadata.to_db(),
        client_reference_id: input.client_reference_id,
        idempotency_key: input.idempotency_key.clone(),
        request_hash: Some(fingerprint.clone()),
        expires_at: now + expires_in * 1000,
        created_at: now,
        receipts: if lc.settings.send_receipts && input.send_receipt != Some(false) {
            "buyer"
        } else {
            "off"
        }
        .to_owned(),
        receipt_copy_to: Some(lc.settings.receipt_copy_to.clone()).filter(|a| !a.is_empty()),
    };
    if let Inserted::Created(row) = lc.sessions.insert(session).await? {
        tracing::info!(session.id = %row.id, "session created");
        return Ok(Creation::Created(row));
    }
    // The idempotency key is taken: nothing of this request was written.
    let key = input.idempotency_key.unwrap_or_default();
    let existing = get_session_by_idempotency_key(&lc.db.write, merchant_id, environment, &key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency conflict without a row"))?;
    if existing.request_hash.as_deref() != Some(fingerprint.as_str()) {
        return Ok(Creation::KeyReused {
            key,
            session: existing.id,
        });
    }
    tracing::info!(session.id = %existing.id, "idempotent replay");
    Ok(Creation::Replayed(Box::new(existing)))
}
