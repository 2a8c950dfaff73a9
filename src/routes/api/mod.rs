//! Merchant API handlers, one file per resource.

pub mod agent;
pub mod body;
pub mod branding;
pub mod customers;
pub mod emails;
pub mod events;
pub mod health;
pub mod invoices;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod payments;
pub mod provider_callbacks;
pub mod refunds;
pub mod schemas;
pub mod sessions;
pub mod webhook_endpoints;
