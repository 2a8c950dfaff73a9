//! The checkout session's vocabulary: environments, route kinds and the status lifecycle.

use std::fmt;

/// `sandbox` (test keys, simulated providers) or `production` (live keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    Sandbox,
    Production,
}

impl Environment {
    pub fn parse(s: &str) -> Option<Environment> {
        match s {
            "sandbox" => Some(Environment::Sandbox),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }

    pub fn livemode(self) -> bool {
        self == Environment::Production
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    Card,
    Wallet,
    Local,
}

impl RouteKind {
    pub const ALL: [RouteKind; 3] = [RouteKind::Card, RouteKind::Wallet, RouteKind::Local];

    pub fn parse(s: &str) -> Option<RouteKind> {
        match s {
            "card" => Some(RouteKind::Card),
            "wallet" => Some(RouteKind::Wallet),
            "local" => Some(RouteKind::Local),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Card => "card",
            RouteKind::Wallet => "wallet",
            RouteKind::Local => "local",
        }
    }
}

/// `routed` → `pending` → `paid` | `failed`; `routed` | `pending` → `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    Routed,
    Pending,
    Paid,
    Failed,
    Expired,
}

impl SessionStatus {
    pub fn parse(s: &str) -> Option<SessionStatus> {
        match s {
            "routed" => Some(SessionStatus::Routed),
            "pending" => Some(SessionStatus::Pending),
            "paid" => Some(SessionStatus::Paid),
            "failed" => Some(SessionStatus::Failed),
            "expired" => Some(SessionStatus::Expired),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Routed => "routed",
            SessionStatus::Pending => "pending",
            SessionStatus::Paid => "paid",
            SessionStatus::Failed => "failed",
            SessionStatus::Expired => "expired",
        }
    }

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
        for k in RouteKind::ALL {
            assert_eq!(RouteKind::parse(k.as_str()), Some(k));
        }
    }
}
