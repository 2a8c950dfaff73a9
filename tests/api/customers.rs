//! Customers: looked up or created per merchant, environment and e-mail (case-insensitive);
//! `GET /api/gateway/customers` with its filters and cursor; `GET /api/gateway/customers/{id}`.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, issue_fields, minimal_body, spawn_app, with};

fn body_for(email: &str) -> Value {
    with(minimal_body(), "customer", Some(json!(email)))
}

async fn list(app: &TestApp, query: &str) -> Value {
    list_with_key(app, query, &app.sandbox_key).await
}

async fn list_with_key(app: &TestApp, query: &str, key: &str) -> Value {
    let response = app
        .get_with_key(&format!("/api/gateway/customers{query}"), key)
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    assert_eq!(body["object"], "list", "{body}");
    assert!(body["hasMore"].is_boolean(), "{body}");
    body
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates `n` customers with distinct e-mails; returns their ids in creation order.
async fn create_customers(app: &TestApp, n: usize) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..n {
        let session = app
            .create_session(&body_for(&format!("buyer{i}@example.com")))
            .await;
        created.push(session["customerId"].as_str().unwrap().to_owned());
    }
    created
}

#[tokio::test]
async fn a_session_creates_a_customer_that_can_be_retrieved() {
    let app = spawn_app().await;
    let session = app.create_session(&body_for("Buyer@Example.com")).await;
    let id = session["customerId"].as_str().unwrap();

    let response = app.get(&format!("/api/gateway/customers/{id}")).await;

    assert_eq!(response.status().as_u16(), 200);
    let customer: Value = response.json().await.unwrap();
    assert_eq!(customer["id"], id);
    assert_eq!(customer["object"], "customer");
    assert_eq!(customer["email"], "Buyer@Example.com");
    assert_eq!(customer["status"], "active");
    assert_eq!(customer["livemode"], false);
    assert!(customer["created"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_same_email_in_another_case_reuses_the_customer() {
    let app = spawn_app().await;

    let a = app.create_session(&body_for("buyer@example.com")).await;
    let b = app.create_session(&body_for("BUYER@EXAMPLE.COM")).await;
    let c = app.create_session(&body_for("  Buyer@example.com ")).await;

    assert_eq!(a["customerId"], b["customerId"]);
    assert_eq!(a["customerId"], c["customerId"]);
    assert_eq!(
        b["customer"], "BUYER@EXAMPLE.COM",
        "the session keeps what was sent"
    );
    assert_eq!(app.customer_count().await, 1);
    assert_eq!(app.session_count().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sessions_with_case_variants_create_one_customer() {
    let app = spawn_app().await;
    let variants = [
        "Buyer@Example.com",
        "buyer@example.com",
        "BUYER@example.COM",
        "bUyEr@eXaMpLe.CoM",
    ];

    let responses = join_all((0..20).map(|i| {
        let request = app
            .client
            .post(app.url("/api/gateway/sessions"))
            .bearer_auth(&app.sandbox_key)
            .json(&body_for(variants[i % variants.len()]));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    }))
    .await;

    for (status, body) in &responses {
        assert_eq!(*status, 200, "{body}");
    }
    let customer_ids: BTreeSet<&str> = responses
        .iter()
        .map(|(_, b)| b["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(customer_ids.len(), 1, "{customer_ids:?}");
    assert_eq!(app.customer_count().await, 1);
    assert_eq!(app.session_count().await, 20);
    let found = list(&app, "?email=BUYER@EXAMPLE.COM").await;
    assert_eq!(
        ids(&found),
        vec![customer_ids.into_iter().next().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn production_and_sandbox_customers_are_separate() {
    let app = spawn_app().await;
    let sandbox = app.create_session(&body_for("buyer@example.com")).await;
    let production = app
        .create_session_with_key(&app.live_key, &body_for("buyer@example.com"))
        .await;

    assert_ne!(sandbox["customerId"], production["customerId"]);
    let production_id = production["customerId"].as_str().unwrap();
    let sandbox_id = sandbox["customerId"].as_str().unwrap();

    assert_eq!(ids(&list(&app, "").await), vec![sandbox_id.to_owned()]);
    let live = list_with_key(&app, "", &app.live_key).await;
    assert_eq!(ids(&live), vec![production_id.to_owned()]);
    assert_eq!(live["data"][0]["livemode"], true);

    let response = app
        .get(&format!("/api/gateway/customers/{production_id}"))
        .await;
    assert_error(response, 404, "resource_missing").await;
    let response = app
        .get_with_key(
            &format!("/api/gateway/customers/{sandbox_id}"),
            &app.live_key,
        )
        .await;
    assert_error(response, 404, "resource_missing").await;
}

#[tokio::test]
async fn a_merchant_never_sees_another_merchants_customers() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let mine = app.create_session(&body_for("buyer@example.com")).await;
    let theirs = app
        .create_session_with_key(&other.sandbox_key, &body_for("buyer@example.com"))
        .await;
    let mine_id = mine["customerId"].as_str().unwrap();
    let theirs_id = theirs["customerId"].as_str().unwrap();
    assert_ne!(mine_id, theirs_id, "customers are per merchant");

    let response = app
        .get_with_key(
            &format!("/api/gateway/customers/{mine_id}"),
            &other.sandbox_key,
        )
        .await;
    assert_error(response, 404, "resource_missing").await;
    let response = app
        .get(&format!("/api/gateway/customers/{theirs_id}"))
        .await;
    assert_error(response, 404, "resource_missing").await;

    assert_eq!(ids(&list(&app, "").await), vec![mine_id.to_owned()]);
    assert_eq!(
        ids(&list_with_key(&app, "", &other.sandbox_key).await),
        vec![theirs_id.to_owned()]
    );
    let filtered = list_with_key(&app, &format!("?customerId={mine_id}"), &other.sandbox_key).await;
    assert_eq!(ids(&filtered), Vec::<String>::new());
}

#[tokio::test]
async fn list_customers_filters_by_email_case_insensitively() {
    let app = spawn_app().await;
    let created = create_customers(&app, 3).await;

    let found = list(&app, "?email=BUYER1%40Example.com").await;

    assert_eq!(ids(&found), vec![created[1].clone()]);
    assert_eq!(found["hasMore"], false);
    assert_eq!(found["data"][0]["email"], "buyer1@example.com");
    let none = list(&app, "?email=nobody@example.com").await;
    assert_eq!(ids(&none), Vec::<String>::new());
}

#[tokio::test]
async fn list_customers_filters_by_customer_id() {
    let app = spawn_app().await;
    let created = create_customers(&app, 3).await;

    let found = list(&app, &format!("?customerId={}", created[2])).await;

    assert_eq!(ids(&found), vec![created[2].clone()]);
    let none = list(&app, "?customerId=cus_00000000000000000000000000").await;
    assert_eq!(ids(&none), Vec::<String>::new());
}

#[tokio::test]
async fn list_customers_returns_newest_first_with_a_default_limit_of_20() {
    let app = spawn_app().await;
    let created = create_customers(&app, 25).await;

    let page = list(&app, "").await;

    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    assert_eq!(page["hasMore"], true);
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids(&page), newest_first[..20].to_vec());
}

#[tokio::test]
async fn paging_with_starting_after_reaches_every_customer_exactly_once() {
    let app = spawn_app().await;
    let created = create_customers(&app, 25).await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            None => "?limit=10".to_owned(),
            Some(after) => format!("?limit=10&startingAfter={after}"),
        };
        let page = list(&app, &query).await;
        let page_ids = ids(&page);
        sizes.push(page_ids.len());
        seen.extend(page_ids.iter().cloned());
        if page["hasMore"] == false {
            break;
        }
        cursor = page_ids.last().cloned();
        assert!(sizes.len() < 10, "paging does not end");
    }

    assert_eq!(sizes, vec![10, 10, 5]);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "every customer exactly once");
    assert_eq!(unique, created.iter().collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn list_customers_accepts_limits_from_1_to_100() {
    let app = spawn_app().await;
    create_customers(&app, 3).await;

    let one = list(&app, "?limit=1").await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["hasMore"], true);
    let hundred = list(&app, "?limit=100").await;
    assert_eq!(hundred["data"].as_array().unwrap().len(), 3);
    assert_eq!(hundred["hasMore"], false);
    let exact = list(&app, "?limit=3").await;
    assert_eq!(exact["hasMore"], false);
}

#[tokio::test]
async fn list_customers_returns_400_when_limit_is_outside_1_to_100() {
    let app = spawn_app().await;
    for limit in ["0", "101", "-1", "abc", "1.5", "", "1e2"] {
        let response = app
            .get(&format!("/api/gateway/customers?limit={limit}"))
            .await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert_eq!(
            issue_fields(&error),
            vec!["limit"],
            "limit={limit}: {error}"
        );
    }
}

#[tokio::test]
async fn list_customers_returns_400_naming_an_unknown_parameter() {
    let app = spawn_app().await;
    let response = app.get("/api/gateway/customers?starting_after=cus_x").await;
    let error = assert_error(response, 400, "validation_failed").await;
    assert_eq!(issue_fields(&error), vec!["starting_after"]);
    assert!(
        error["error"]["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("startingAfter"),
        "{error}"
    );
    let response = app.get("/api/gateway/customers?limit=5&limit=6").await;
    assert_error(response, 400, "validation_failed").await;
}

#[tokio::test]
async fn get_customer_returns_404_for_unknown_or_malformed_ids() {
    let app = spawn_app().await;
    let session = app.create_session(&minimal_body()).await;
    for id in [
        "cus_00000000000000000000000000",
        "cus_",
        "nope",
        session["id"].as_str().unwrap(),
    ] {
        let response = app.get(&format!("/api/gateway/customers/{id}")).await;
        assert_error(response, 404, "resource_missing").await;
    }
}
