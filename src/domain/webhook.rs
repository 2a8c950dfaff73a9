//! The vocabulary of webhook endpoints and deliveries.

use super::text_enum::text_enum;

text_enum! {
    /// Whether an endpoint receives deliveries.
    EndpointStatus {
        /// Receives deliveries of the events it subscribes to.
        Active = "active",
        /// Stopped (it answered 410, or every delivery failed for days) until enabled again.
        Disabled = "disabled",
    }
}

text_enum! {
    /// Where one event's delivery to one endpoint stands.
    DeliveryStatus {
        /// Owed: due now or at its next attempt.
        Pending = "pending",
        /// Answered with a 2xx.
        Succeeded = "succeeded",
        /// Given up on (attempts exhausted, or the endpoint gone or disabled).
        Failed = "failed",
    }
}
