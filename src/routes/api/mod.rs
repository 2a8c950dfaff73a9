//! Merchant API handlers, one file per resource.

pub mod body;
pub mod customers;
pub mod health;
pub mod invoices;
pub mod list;
pub mod openapi;
pub mod payments;
pub mod provider_callbacks;
pub mod sessions;
