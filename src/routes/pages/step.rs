//! What the checkout page shows, decided from the session and its latest payment alone: the
//! [`Step`]. Pure, so that the page, its status endpoint, the forms' guards and the preview
//! gallery all agree on it.

use crate::db::payments::PaymentRow;
use crate::db::sessions::{SessionRow, SessionView};
use crate::domain::payment_route::provider_hosts_page;
use crate::domain::{PaymentStatus, ProviderState, RouteKind, SessionStatus};

/// The page a session shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Choose a route: nobody has started paying, or (`retry`) again after a failed payment.
    Choose { retry: bool },
    /// The card form: a card payment waits for the card, or (`retry`) the last card was
    /// declined and the buyer may pay again.
    Card { retry: bool },
    /// The card's issuer asks the buyer to confirm (3-D Secure).
    Challenge,
    /// The buyer was sent to the provider's own payment page and has not finished there:
    /// the route chooser, with the way back to that page.
    AtProvider,
    /// A wallet or bank transfer is awaited: its instructions.
    Transfer(Transfer),
    /// The provider has the payment and has not decided.
    Waiting,
    /// Paid.
    Paid,
    /// Failed for good: the buyer gave up after a failure, or the attempts ran out.
    Failed,
    /// Expired before a payment was made.
    Expired,
}

/// The kind of transfer a buyer makes on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// USDC from a wallet.
    Wallet,
    /// A bank transfer.
    Bank,
}

impl Step {
    /// Every step, as the preview gallery shows them.
    pub const ALL: [Step; 12] = [
        Step::Choose { retry: false },
        Step::Card { retry: false },
        Step::Challenge,
        Step::AtProvider,
        Step::Transfer(Transfer::Wallet),
        Step::Transfer(Transfer::Bank),
        Step::Waiting,
        Step::Paid,
        Step::Card { retry: true },
        Step::Choose { retry: true },
        Step::Failed,
        Step::Expired,
    ];

    /// The step of `session` at `now`, given its latest `payment`.
    pub fn of(view: &SessionView, payment: Option<&PaymentRow>, now: i64) -> Step {
        let session = &view.session;
        let Some(p) = payment else {
            return match effective_status(session, None, now) {
                SessionStatus::Routed | SessionStatus::Pending => Step::Choose { retry: false },
                status => Step::end(status),
            };
        };
        match effective_status(session, Some(p), now) {
            // Open again after this payment failed: the buyer may pay again, on the card form
            // when it was a card.
            SessionStatus::Routed if p.status == PaymentStatus::Failed => match p.route_kind {
                // Unless the session took its declined cards: then only its other routes.
                RouteKind::Card if !provider_hosts_page(&p.provider) && !view.cards_closed => {
                    Step::Card { retry: true }
                }
                _ => Step::Choose { retry: true },
            },
            SessionStatus::Routed | SessionStatus::Pending => {
                match (p.provider_state, p.route_kind) {
                    (ProviderState::AwaitingBuyer, RouteKind::Card) => Step::Card { retry: false },
                    (ProviderState::Challenge, _) => Step::Challenge,
                    (ProviderState::Redirected, _) => Step::AtProvider,
                    // Accepted on the provider's page: its outcome is awaited.
                    (ProviderState::InFlight, _) if provider_hosts_page(&p.provider) => {
                        Step::Waiting
                    }
                    (ProviderState::InFlight, RouteKind::Wallet) => {
                        Step::Transfer(Transfer::Wallet)
                    }
                    (ProviderState::InFlight, RouteKind::Local) => Step::Transfer(Transfer::Bank),
                    _ => Step::Waiting,
                }
            }
            status => Step::end(status),
        }
    }

    /// The step of a session that is over.
    fn end(status: SessionStatus) -> Step {
        match status {
            SessionStatus::Paid => Step::Paid,
            SessionStatus::Expired => Step::Expired,
            _ => Step::Failed,
        }
    }

    /// After a failed payment, while the buyer may pay again.
    pub fn is_retry(self) -> bool {
        matches!(
            self,
            Step::Choose { retry: true } | Step::Card { retry: true }
        )
    }

    /// Whether a post of `form` may act in this step: the form is on this step's page. (A
    /// form's token also names the payment its page showed; see `form`.)
    pub fn accepts(self, form: Form) -> bool {
        match form {
            // The route chooser, also at /routes after a declined card.
            Form::Start => matches!(
                self,
                Step::Choose { .. } | Step::Card { retry: true } | Step::AtProvider
            ),
            Form::Card => matches!(self, Step::Card { .. }),
            Form::Challenge => self == Step::Challenge,
            Form::Simulate => matches!(self, Step::Transfer(_)),
            // A double click on "return to the merchant" finds the session failed already:
            // it still goes back. An expired session refuses it, as every form.
            Form::Leave => self.is_retry() || self == Step::Failed,
        }
    }
}

/// The checkout's forms, each posted to `/checkout/{id}/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The route the buyer chose.
    Start,
    /// The card's details.
    Card,
    /// The buyer's answer to the issuer's confirmation step.
    Challenge,
    /// The sandbox's buttons for a transfer.
    Simulate,
    /// Giving up after a failed payment: back to the merchant.
    Leave,
}

impl Form {
    /// Its name: the last part of its address, and what its token is bound to.
    pub fn name(self) -> &'static str {
        match self {
            Form::Start => "start",
            Form::Card => "card",
            Form::Challenge => "challenge",
            Form::Simulate => "simulate",
            Form::Leave => "leave",
        }
    }
}

/// The status a buyer should see: past its deadline, a session nobody is paying yet (no
/// payment, or one that never reached a provider) is expired, even before the sweeper says so.
pub fn effective_status(
    session: &SessionRow,
    payment: Option<&PaymentRow>,
    now: i64,
) -> SessionStatus {
    session.status.effective(
        session.expires_at,
        now,
        payment.is_some_and(PaymentRow::at_provider),
    )
}

/// A short name for what the page shows, which its script compares with what the status
/// endpoint says: when it changes, the page is out of date.
pub fn state_key(session: &SessionRow, payment: Option<&PaymentRow>, now: i64) -> String {
    let status = effective_status(session, payment, now);
    match payment {
        Some(p) => format!("{status}:{}", p.provider_state),
        None => status.as_str().to_owned(),
    }
}

/// The state key of a waiting page: the session's and payment's, and where a payment on
/// chain stands (its confirmations move the page on, block by block).
pub fn page_state_key(
    session: &SessionRow,
    payment: Option<&PaymentRow>,
    chain: Option<&super::chain::ChainStatus>,
    now: i64,
) -> String {
    let key = state_key(session, payment, now);
    match chain {
        Some(chain) => format!("{key}:{}", chain.key()),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_accepted_only_where_its_page_carries_it() {
        let forms = [
            Form::Start,
            Form::Card,
            Form::Challenge,
            Form::Simulate,
            Form::Leave,
        ];
        let accepted =
            |step: Step| -> Vec<Form> { forms.into_iter().filter(|f| step.accepts(*f)).collect() };
        assert_eq!(accepted(Step::Choose { retry: false }), [Form::Start]);
        assert_eq!(
            accepted(Step::Choose { retry: true }),
            [Form::Start, Form::Leave]
        );
        assert_eq!(accepted(Step::Card { retry: false }), [Form::Card]);
        assert_eq!(
            accepted(Step::Card { retry: true }),
            [Form::Start, Form::Card, Form::Leave]
        );
        assert_eq!(accepted(Step::Challenge), [Form::Challenge]);
        assert_eq!(accepted(Step::AtProvider), [Form::Start]);
        assert_eq!(accepted(Step::Transfer(Transfer::Wallet)), [Form::Simulate]);
        assert_eq!(accepted(Step::Failed), [Form::Leave]);
        for over in [Step::Waiting, Step::Paid, Step::Expired] {
            assert!(accepted(over).is_empty(), "{over:?}");
        }
    }
}
