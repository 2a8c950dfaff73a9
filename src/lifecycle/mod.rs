//! Every state change of sessions, payments and invoices, one use case a file: a session is
//! created ([`create`]), the buyer starts paying ([`start`]), the payment is handed to its
//! provider ([`hand_off`](mod@hand_off)), the provider's outcome comes back ([`callbacks`]) or is asked for
//! ([`reconcile`]), or the session ends unpaid ([`expiry`]). Each change is one compare-and-set
//! in the database, in the same transaction that writes its event ([`outbox`]), so double
//! clicks, replays, concurrent callbacks and several instances can never produce two payments,
//! two transitions or a lost event. Provider calls happen outside transactions.
//!
//! The use cases work with a [`Lifecycle`]: the database, the providers, the settings and the
//! webhook worker's wake-up, not the handlers' whole state.

pub mod accounts;
pub mod callbacks;
pub mod create;
pub mod events;
pub mod expiry;
pub mod hand_off;
pub mod onchain;
pub mod onchain_refunds;
pub mod outbox;
pub mod provider_page;
pub mod reconcile;
pub mod refunds;
pub mod start;

use anyhow::Context;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::payments::PaymentRow;
use crate::db::session_writer::SessionWriter;
use crate::db::sessions::{SessionRow, get_session_by_id};
use crate::db::{Db, Tx};
use crate::domain::SessionId;
use crate::domain::payment_route::PaymentRoute;
use crate::metrics::Metrics;
use crate::providers::{CheckoutView, ProviderPayment, Providers};

pub use callbacks::{
    CallbackResult, apply_outcome, apply_poll, apply_signed_callback, receive_callback,
};
pub use create::Creation;
pub use expiry::{MerchantExpiry, abandon, expire_due, expire_for_merchant};
pub use hand_off::{HandedOff, claim_hand_off, drive_hand_off, hand_off, hand_off_started};
pub use provider_page::{leave_provider, returned_from_provider};
pub use reconcile::reconcile_once;
pub use start::{Started, start_payment};

/// What the use cases work with, lent by the handlers' state (`AppState::lifecycle`).
#[derive(Clone, Copy)]
pub struct Lifecycle<'a> {
    pub db: &'a Db,
    pub settings: &'a Settings,
    pub providers: &'a Providers,
    /// Writes new sessions in batches.
    pub sessions: &'a SessionWriter,
    /// Wakes this instance's webhook worker when events were recorded.
    pub wakeup: &'a Notify,
    /// This instance's counters.
    pub metrics: &'a Metrics,
    /// The base of the checkout's addresses, where providers send buyers back.
    pub public_url: &'a str,
}

impl<'a> Lifecycle<'a> {
    /// Commits a transaction that may have recorded events, and wakes the webhook worker to
    /// send them.
    pub async fn commit(self, tx: Tx, what: &'static str) -> anyhow::Result<()> {
        outbox::commit_and_wake(tx, self.wakeup, what).await
    }

    /// The configured route a payment went through.
    fn route_of(self, payment: &PaymentRow) -> Option<&'a PaymentRoute> {
        self.settings
            .routes
            .iter()
            .find(|r| r.id == payment.route_id)
    }

    /// When a payment handed to its provider now fails with `provider_timeout` unless the
    /// provider decided: the route's time-out, or the default one.
    fn provider_deadline(self, route: Option<&PaymentRoute>, now: i64) -> i64 {
        let timeout_seconds = route
            .and_then(|r| r.provider_timeout_seconds)
            .unwrap_or(self.settings.provider_timeout_seconds);
        now + timeout_seconds * 1000
    }

    /// When reconciliation drives a hand-off claimed now again, should its provider's answer
    /// not be recorded by then.
    fn redrive_at(self, deadline: i64, now: i64) -> i64 {
        deadline.min(now + self.settings.handoff_redrive_after_seconds * 1000)
    }
}

/// The session of a payment, read in the transaction that changes it.
async fn session_in(tx: &mut Tx, session_id: &SessionId) -> anyhow::Result<SessionRow> {
    get_session_by_id(&mut **tx, session_id)
        .await?
        .context("a payment's session is missing")
}

/// What a provider is told about `payment`.
pub fn provider_view(payment: &PaymentRow) -> ProviderPayment {
    ProviderPayment {
        id: payment.id.clone(),
        session_id: payment.session_id.clone(),
        route_id: payment.route_id.clone(),
        route_kind: payment.route_kind,
        total_cents: payment.total_cents,
        currency: payment.currency.clone(),
        provider_ref: payment.provider_ref.clone(),
        tx_hash: payment.tx_hash.clone(),
        created_at_ms: payment.created_at,
    }
}

/// What a provider's hosted page is told of `session`: the buyer, the product, the session's
/// deadline, and where to send the buyer back (our page, which shows the outcome; our route
/// chooser, should they give up there).
pub fn checkout_view(public_url: &str, session: &SessionRow) -> CheckoutView {
    let page = format!("{public_url}/checkout/{}", session.id);
    CheckoutView {
        customer_email: session.customer_email.clone(),
        product: session.product.clone(),
        client_reference_id: session.client_reference_id.clone(),
        expires_at_ms: session.expires_at,
        return_url: format!("{page}/return"),
        cancel_url: format!("{page}/routes"),
    }
}
