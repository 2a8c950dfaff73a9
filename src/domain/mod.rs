//! Pure types that handlers work with once input has been parsed. Nothing here touches the
//! database, the network or the clock (callers pass `now` in).

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod text_enum;

pub mod account;
pub mod branding;
pub mod card;
pub mod email;
pub mod event;
pub mod fees;
pub mod hd;
pub mod ids;
pub mod input;
pub mod language;
pub mod metadata;
pub mod money;
pub mod onchain;
pub mod payment;
pub mod payment_route;
pub mod product;
pub mod receipt;
pub mod refund;
pub mod sandbox;
pub mod session;
pub mod session_request;
pub mod smtp;
pub mod stripe;
pub mod suggest;
pub mod svg;
pub mod time;
pub mod totp;
pub mod url;
pub mod webhook;

pub use email::Email;
pub use ids::{
    ApiKeyId, AttemptId, CustomerId, DeliveryId, EventId, InvoiceId, MerchantId, PaymentId,
    RefundId, SessionId, UserId, WebhookEndpointId,
};
pub use metadata::Metadata;
pub use money::Amount;
pub use payment::{InvoiceStatus, LedgerStatus, Outcome, PaymentStatus, ProviderState};
pub use product::ProductName;
pub use session::{CustomerStatus, Environment, RouteKind, SessionStatus};
pub use url::RedirectUrl;
pub use webhook::{DeliveryStatus, EndpointStatus};
