//! Black-box tests of the merchant API: one server per test on port 0, each on its own database
//! (SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set).
#![allow(clippy::unwrap_used)]

// The harness, in support/: the server and its database per test (helpers), the real binary
// (served), a buyer on the checkout pages (checkout) and a webhook receiver (webhooks). Tests
// use them under these names.
#[path = "support/chain.rs"]
mod chain_support;
#[path = "support/checkout.rs"]
mod checkout_support;
#[path = "support/dashboard.rs"]
mod dashboard_support;
#[path = "support/helpers.rs"]
mod helpers;
#[path = "support/served.rs"]
mod served;
#[path = "support/smtp.rs"]
mod smtp_support;
#[path = "support/stripe.rs"]
mod stripe_support;
#[path = "support/webhooks.rs"]
mod webhook_support;

// The tests, one story a file.

mod agent;
mod auth;
mod backups;
mod branding_logos;
mod checkout_callbacks;
mod checkout_expiry;
mod checkout_fees;
mod checkout_kills;
mod checkout_payments_api;
mod checkout_recovery;
mod checkout_retry;
mod checkout_routes;
mod checkout_safety;
mod cli;
mod create_session;
mod customers;
mod dashboard;
mod errors;
mod expiry;
mod faults;
mod http_conventions;
mod idempotency;
mod layers;
mod limits;
mod migrations;
mod onchain;
mod onchain_refunds;
mod onchain_xpub;
mod openapi;
mod operations;
mod protocol_errors;
mod query_plans;
mod readiness;
mod receipt_emails;
mod receipts;
mod refunds;
mod sandbox_redirect;
mod sessions;
mod stripe;
mod stripe_standin;
mod validation;
mod webhook_addresses;
mod webhook_cli;
mod webhook_delivery;
mod webhook_endpoints;
mod webhook_events;
mod webhook_secrets;
mod webhook_workers;
