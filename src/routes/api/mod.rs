//! Merchant API handlers, one file per resource.

pub mod body;
pub mod customers;
pub mod health;
pub mod list;
pub mod openapi;
pub mod sessions;
