//! The dashboard's people: their roles, what each role may do (one table, enforced on the
//! server and printed in the README), and the rules of a password.

use super::text_enum::text_enum;

text_enum! {
    /// What a person may do in the dashboard.
    Role {
        /// Everything, including people, API keys and branding.
        Owner = "owner",
        /// Runs the integration: payments, refunds, webhooks, API keys; not people or branding.
        Developer = "developer",
        /// Reads everything, changes nothing.
        Viewer = "viewer",
    }
}

text_enum! {
    /// Something a person can do in the dashboard that not every role may.
    Permission {
        /// Read payments, sessions, customers, endpoints, keys (never a secret), the audit log.
        Read = "read",
        /// Refund a payment.
        Refund = "refund",
        /// Expire an open session.
        ExpireSession = "expire_session",
        /// Redeliver an event, send a test event.
        Redeliver = "redeliver",
        /// Add, rotate, enable, remove webhook endpoints.
        ManageWebhooks = "manage_webhooks",
        /// Create and revoke API keys.
        ManageApiKeys = "manage_api_keys",
        /// Edit the checkout's branding.
        EditBranding = "edit_branding",
        /// Add people, change their roles, disable them.
        ManageUsers = "manage_users",
    }
}

impl Role {
    /// Whether this role may do `what`: the one table the server enforces.
    pub fn may(self, what: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Developer => matches!(
                what,
                Read | Refund | ExpireSession | Redeliver | ManageWebhooks | ManageApiKeys
            ),
            Role::Viewer => what == Read,
        }
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (Argon2 takes any length; this bounds the work per login).
pub const MAX_PASSWORD_CHARS: usize = 200;

/// Checks a new password; the error completes "The password …".
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_its_table_says() {
        for what in Permission::ALL {
            assert!(Role::Owner.may(*what), "{what}");
            assert_eq!(Role::Viewer.may(*what), *what == Permission::Read, "{what}");
        }
        assert!(Role::Developer.may(Permission::Refund));
        assert!(Role::Developer.may(Permission::ManageApiKeys));
        assert!(!Role::Developer.may(Permission::ManageUsers));
        assert!(!Role::Developer.may(Permission::EditBranding));
    }

    #[test]
    fn passwords_are_long_enough_and_printable() {
        assert!(check_password("correct horse").is_ok());
        assert!(check_password("short").unwrap_err().contains("at least 10"));
        assert!(check_password(&"x".repeat(201)).is_err());
        assert!(check_password("tab\there!!x").is_err());
    }
}
