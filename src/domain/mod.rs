//! Pure types that handlers work with once input has been parsed. Nothing here touches the
//! database, the network or the clock (callers pass `now` in).

pub mod branding;
pub mod card;
pub mod email;
pub mod event;
pub mod fees;
pub mod ids;
pub mod input;
pub mod language;
pub mod metadata;
pub mod money;
pub mod payment_route;
pub mod product;
pub mod session;
pub mod suggest;
pub mod svg;
pub mod time;
pub mod url;

pub use email::Email;
pub use ids::{ApiKeyId, CustomerId, InvoiceId, MerchantId, PaymentId, SessionId};
pub use metadata::Metadata;
pub use money::Amount;
pub use product::ProductName;
pub use session::{Environment, RouteKind, SessionStatus};
pub use url::RedirectUrl;
