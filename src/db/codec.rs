//! How the domain's types travel through the `Any` driver: each as a TEXT column, decoded (and
//! checked) where a row is read, so rows carry `SessionStatus`, `Environment`, `SessionId`, …
//! instead of strings, and a word outside the vocabulary fails loudly at the boundary.

use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// What a bound value is written into.
type Buffer<'q> = <Any as Database>::ArgumentBuffer<'q>;
/// A column's value as read.
type Value<'r> = <Any as Database>::ValueRef<'r>;

use crate::domain::account::Role;
use crate::domain::onchain::TransferState;
use crate::domain::refund::{RefundReason, RefundStatus};
use crate::domain::sandbox::SandboxDecision;
use crate::domain::{
    ApiKeyId, AttemptId, CustomerId, CustomerStatus, DeliveryId, DeliveryStatus, EndpointStatus,
    Environment, EventId, InvoiceId, InvoiceStatus, LedgerStatus, MerchantId, PaymentId,
    PaymentStatus, ProviderState, RefundId, RouteKind, SessionId, SessionStatus, UserId,
    WebhookEndpointId,
};

/// A TEXT column holding a value that reads as its text (`as_str`) and is read back with
/// `parse`: a text enum's word, or a prefixed id.
macro_rules! text_column {
    ($($ty:ty),+ $(,)?) => {$(
        impl Type<Any> for $ty {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }
        }

        impl<'q> Encode<'q, Any> for $ty {
            fn encode_by_ref(&self, buf: &mut Buffer<'q>) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, Any>>::encode(self.as_str().to_owned(), buf)
            }
        }

        impl<'r> Decode<'r, Any> for $ty {
            fn decode(value: Value<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, Any>>::decode(value)?;
                <$ty>::parse(&text)
                    .ok_or_else(|| format!("{text:?} is not a {}", stringify!($ty)).into())
            }
        }
    )+};
}

text_column!(
    Environment,
    RouteKind,
    SessionStatus,
    CustomerStatus,
    PaymentStatus,
    LedgerStatus,
    ProviderState,
    InvoiceStatus,
    EndpointStatus,
    DeliveryStatus,
    SandboxDecision,
    TransferState,
    RefundStatus,
    RefundReason,
    Role,
);

text_column!(
    SessionId,
    CustomerId,
    MerchantId,
    ApiKeyId,
    PaymentId,
    InvoiceId,
    WebhookEndpointId,
    EventId,
    DeliveryId,
    AttemptId,
    RefundId,
    UserId,
);
