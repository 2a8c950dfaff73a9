//! Customers: the list (by e-mail, newest first, cursor paging) and one customer with their
//! payments.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::payments::{Line, line};
use super::{Chrome, error_page, message, render, viewer};
use crate::db::customers::{CustomerFilter, get_customer, list_customers};
use crate::db::dashboard::{PaymentSearch, search_payments};
use crate::domain::CustomerId;
use crate::routes::pages::form::field;
use crate::state::AppState;

const PAGE: i64 = 50;

/// One customer, as listed.
struct CustomerLine {
    id: String,
    email: String,
    status: &'static str,
    created: String,
}

/// The customers list.
#[derive(Template)]
#[template(path = "dashboard/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    email: String,
    customers: Vec<CustomerLine>,
    next_href: Option<String>,
}

/// `GET /dashboard/customers`
pub async fn customers(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, value)| {
            let value: String = value
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(254)
                .collect();
            (k.into_owned(), value)
        })
        .collect();
    let email = field(&query, "email").to_owned();
    let before = Some(field(&query, "before").to_owned()).filter(|b| b.starts_with("cus_"));
    let page = async {
        let filter = CustomerFilter {
            email: Some(email.clone()).filter(|e| !e.is_empty()),
            starting_after: before,
            limit: PAGE,
            ..CustomerFilter::default()
        };
        let mut rows = list_customers(
            &state.db.read,
            &v.user.merchant_id,
            v.session.environment,
            &filter,
        )
        .await?;
        let more = rows.len() as i64 > PAGE;
        rows.truncate(PAGE as usize);
        let next_href = match (more, rows.last()) {
            (true, Some(last)) => Some(format!(
                "/dashboard/customers?{}",
                serde_urlencoded::to_string([
                    ("email", email.as_str()),
                    ("before", last.id.as_str())
                ])
                .unwrap_or_default()
            )),
            _ => None,
        };
        anyhow::Ok(CustomersPage {
            chrome: Chrome::of(&state, &v, "customers").await?,
            customers: rows
                .into_iter()
                .map(|c| CustomerLine {
                    created: v.t.date(c.created_at),
                    status: c.status.as_str(),
                    email: c.email,
                    id: c.id.into_string(),
                })
                .collect(),
            email: email.clone(),
            next_href,
        })
    };
    match page.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// One customer.
#[derive(Template)]
#[template(path = "dashboard/customer.html")]
struct CustomerPage {
    chrome: Chrome,
    id: String,
    email: String,
    status: &'static str,
    created: String,
    /// Their latest payments (the list has them all).
    lines: Vec<Line>,
    all_href: String,
}

/// `GET /dashboard/customers/{id}`
pub async fn customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let Some(id) = CustomerId::parse(&id) else {
        return message(&v.t, StatusCode::NOT_FOUND, "not_found");
    };
    let page = async {
        let (merchant, environment) = (&v.user.merchant_id, v.session.environment);
        let Some(c) = get_customer(&state.db.read, merchant, environment, &id).await? else {
            return anyhow::Ok(None);
        };
        let search = PaymentSearch {
            customer_id: Some(c.id.to_string()),
            limit: PAGE,
            ..PaymentSearch::default()
        };
        let mut found = search_payments(&state.db.read, merchant, environment, &search).await?;
        found.truncate(PAGE as usize);
        Ok(Some(CustomerPage {
            chrome: Chrome::of(&state, &v, "customers").await?,
            all_href: format!("/dashboard/payments?customer={}", c.id),
            lines: found.into_iter().map(|l| line(&v, l)).collect(),
            created: v.t.date(c.created_at),
            status: c.status.as_str(),
            email: c.email,
            id: c.id.into_string(),
        }))
    };
    match page.await {
        Ok(Some(page)) => render(StatusCode::OK, &page),
        Ok(None) => message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// A gallery sample of the customers list.
pub(super) fn sample_list(
    state: &AppState,
    t: &std::sync::Arc<crate::i18n::Catalog>,
) -> HttpResponse {
    use super::gallery::{NOW, id};
    let customers = ["ada@example.com", "grace@example.com", "linus@example.com"]
        .into_iter()
        .enumerate()
        .map(|(i, email)| CustomerLine {
            id: id("cus", i),
            email: email.into(),
            status: "active",
            created: t.date(NOW - i as i64 * 86_400_000),
        })
        .collect();
    render(
        StatusCode::OK,
        &CustomersPage {
            chrome: Chrome::sample(state, t, "customers"),
            email: String::new(),
            customers,
            next_href: None,
        },
    )
}

/// A gallery sample of one customer with their payments.
pub(super) fn sample_one(
    state: &AppState,
    t: &std::sync::Arc<crate::i18n::Catalog>,
) -> HttpResponse {
    use super::gallery::{NOW, id};
    let mut lines = super::payments::sample_lines(t);
    lines.retain(|l| l.email == "ada@example.com");
    render(
        StatusCode::OK,
        &CustomerPage {
            chrome: Chrome::sample(state, t, "customers"),
            id: id("cus", 0),
            email: "ada@example.com".into(),
            status: "active",
            created: t.date(NOW - 30 * 86_400_000),
            lines,
            all_href: "/dashboard/payments?email=ada%40example.com".into(),
        },
    )
}
