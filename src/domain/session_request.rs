//! A request to create a checkout session, every field parsed (the API reads it from a body,
//! `routes::api::sessions`), and its fingerprint for idempotent retries.

use sha2::{Digest, Sha256};

use super::{Amount, Email, Environment, Metadata, ProductName, RedirectUrl, RouteKind};

/// A valid request to create a session.
#[derive(Debug, Clone)]
pub struct CreateSession {
    /// What is being paid for, shown to the buyer.
    pub product: ProductName,
    /// The price, before the buyer's fee.
    pub amount: Amount,
    /// The buyer's e-mail address; the customer is found or created by it.
    pub customer: Email,
    /// The kind of route to pay through, when the merchant chose one for the buyer.
    pub preferred_route: Option<RouteKind>,
    /// Where the buyer returns once the payment is over; `None` leaves them on the result page.
    pub redirect_url: Option<RedirectUrl>,
    /// The merchant's pairs, echoed back and sent with webhooks.
    pub metadata: Metadata,
    /// Makes a retry return the session the first request created.
    pub idempotency_key: Option<String>,
    /// The merchant's own reference (an order id), echoed back.
    pub client_reference_id: Option<String>,
    /// `None` when the request leaves it to the API key.
    pub environment: Option<Environment>,
    /// How long the buyer has to pay; `None` for the configured default.
    pub expires_in_seconds: Option<i64>,
    /// `Some(false)`: no receipt e-mail to the buyer; `None` or `true`: as configured.
    pub send_receipt: Option<bool>,
}

impl CreateSession {
    /// A digest of what the request asks for, independent of key order and spacing: an
    /// idempotent retry must ask for exactly the same thing.
    pub fn fingerprint(&self, environment: Environment) -> String {
        let canonical = serde_json::json!({
            "product": self.product.as_str(),
            "amount": self.amount.cents(),
            "customer": self.customer.as_str(),
            "preferredRoute": self.preferred_route.map(RouteKind::as_str),
            "redirectUrl": self.redirect_url.as_ref().map(RedirectUrl::as_str),
            "metadata": self.metadata.to_json(),
            "clientReferenceId": self.client_reference_id,
            "environment": environment.as_str(),
            "expiresInSeconds": self.expires_in_seconds,
            "sendReceipt": self.send_receipt,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        const_hex::encode(digest)
    }
}
