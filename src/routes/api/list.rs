//! Query parameters shared by list endpoints, and the list envelope.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::suggest::closest;
use crate::error::{ApiError, FieldIssue};

/// A page of a list: `{"object": "list", "data": […], "hasMore": bool}`, what every list of
/// the API answers. Its OpenAPI schemas are declared by `list_schemas!` below.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T: Serialize> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
}

/// Declares the OpenAPI schema of `List<Item>` for each item type, named `ItemList` with its
/// items referring to `Item`'s own schema. (utoipa's generic schemas would copy each item's
/// whole schema into every list instead of referring to it, and rename them `List_Item`.)
macro_rules! list_schemas {
    ($($name:ident => $item:ty, $doc:literal;)+) => {$(
        #[doc = $doc]
        #[derive(ToSchema)]
        #[allow(dead_code)] // describes what `List<T>` serializes to; never built
        pub struct $name {
            /// Always `list`.
            object: String,
            data: Vec<$item>,
            /// Whether there are more after this page (ask with `startingAfter`, the last id).
            #[schema(rename = "hasMore")]
            has_more: bool,
        }
    )+};
}

list_schemas! {
    CustomerList => super::customers::Customer, "A page of customers.";
    EventList => super::events::Event, "A page of events.";
    InvoiceList => super::invoices::Invoice, "A page of invoices.";
    PaymentList => super::payments::Payment, "A page of payments.";
    RefundList => super::refunds::Refund, "A page of refunds.";
    WebhookEndpointList => super::webhook_endpoints::WebhookEndpoint, "A page of endpoints.";
}

impl<T: Serialize> List<T> {
    /// `rows` as a list query returns them: the page and one more row when there are more.
    pub fn page<R>(mut rows: Vec<R>, limit: i64, to_item: impl Fn(R) -> T) -> List<T> {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        List {
            object: "list",
            data: rows.into_iter().map(to_item).collect(),
            has_more,
        }
    }
}

/// Parsed query parameters: the common `limit` and `startingAfter`, and the endpoint's filters.
pub struct ListParams {
    pub limit: i64,
    pub starting_after: Option<String>,
    values: HashMap<String, String>,
}

impl ListParams {
    /// Parses `query`, refusing parameters other than `limit`, `startingAfter` and `filters`.
    pub fn parse(query: &str, filters: &[&str]) -> Result<ListParams, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::bad_request("invalid_query", "the query string is malformed"))?;
        let mut known: Vec<&str> = vec!["limit", "startingAfter"];
        known.extend_from_slice(filters);
        let mut issues = Vec::new();
        let mut values = HashMap::new();
        for (name, value) in pairs {
            if value.chars().any(char::is_control) {
                issues.push(FieldIssue::new(name, "must not contain control characters"));
            } else if !known.contains(&name.as_str()) {
                let message = match closest(&name, &known) {
                    Some(hit) => format!("is not a known parameter; did you mean {hit}?"),
                    None => format!("is not a known parameter; use {}", known.join(", ")),
                };
                issues.push(FieldIssue::new(name, message));
            } else if values.insert(name.clone(), value).is_some() {
                issues.push(FieldIssue::new(name, "is given more than once"));
            }
        }
        let limit = match values.remove("limit") {
            None => 20,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    issues.push(FieldIssue::new(
                        "limit",
                        "must be a whole number from 1 to 100",
                    ));
                    20
                }
            },
        };
        if !issues.is_empty() {
            return Err(ApiError::validation(
                issues,
                Some(format!("This list takes {}.", known.join(", "))),
            ));
        }
        Ok(ListParams {
            limit,
            starting_after: values.remove("startingAfter").filter(|s| !s.is_empty()),
            values,
        })
    }

    /// A filter's value, if given and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).filter(|s| !s.is_empty()).cloned()
    }
}
