//! The checkout session's vocabulary: environments, route kinds and the status lifecycle.

use super::text_enum::text_enum;

text_enum! {
    /// `sandbox` (test keys, simulated providers) or `production` (live keys).
    Environment {
        /// Test keys and simulated providers: no real money moves.
        Sandbox = "sandbox",
        /// Live keys and real providers.
        Production = "production",
    }
}

impl Environment {
    /// The API's `livemode`: whether this is production.
    pub fn livemode(self) -> bool {
        self == Environment::Production
    }
}

text_enum! {
    /// How the buyer pays.
    RouteKind {
        /// A card, through a card provider.
        Card = "card",
        /// A wallet transfer (USDC on Base).
        Wallet = "wallet",
        /// A local method, such as a bank transfer.
        Local = "local",
    }
}

text_enum! {
    /// `routed` → `pending` → `paid` | `failed`; `routed` | `pending` → `expired`.
    SessionStatus {
        /// Created (or open again after a failed payment): the buyer can choose a route.
        Routed = "routed",
        /// A payment is under way.
        Pending = "pending",
        /// A payment was confirmed.
        Paid = "paid",
        /// The buyer gave up after a failed payment, or the attempts ran out.
        Failed = "failed",
        /// Its deadline passed before a payment was in flight (or the merchant expired it).
        Expired = "expired",
    }
}

text_enum! {
    /// A customer's standing (every customer is `active` today).
    CustomerStatus {
        /// The customer can be billed (the only status so far).
        Active = "active",
    }
}

impl SessionStatus {
    /// The status a reader should see at `now_ms`: past its `expiresAt`, a session nobody is
    /// paying yet (not started, or started but never handed to a provider) is expired, even
    /// before the sweeper has written that down. A payment at a provider keeps it open.
    pub fn effective(self, expires_at_ms: i64, now_ms: i64, at_provider: bool) -> SessionStatus {
        let unpaid =
            self == SessionStatus::Routed || (self == SessionStatus::Pending && !at_provider);
        if unpaid && now_ms >= expires_at_ms {
            SessionStatus::Expired
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routed_session_reads_as_expired_after_its_deadline() {
        assert_eq!(
            SessionStatus::Routed.effective(100, 99, false),
            SessionStatus::Routed
        );
        assert_eq!(
            SessionStatus::Routed.effective(100, 100, false),
            SessionStatus::Expired
        );
        assert_eq!(
            SessionStatus::Paid.effective(100, 200, true),
            SessionStatus::Paid
        );
        assert_eq!(
            SessionStatus::Pending.effective(100, 200, false),
            SessionStatus::Expired
        );
        assert_eq!(
            SessionStatus::Pending.effective(100, 200, true),
            SessionStatus::Pending
        );
    }

    #[test]
    fn names_round_trip() {
        for s in ["routed", "pending", "paid", "failed", "expired"] {
            assert_eq!(SessionStatus::parse(s).map(|x| x.as_str()), Some(s));
        }
        for &k in RouteKind::ALL {
            assert_eq!(RouteKind::parse(k.as_str()), Some(k));
        }
    }
}
