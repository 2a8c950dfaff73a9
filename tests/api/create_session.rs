//! `POST /api/gateway/sessions` on valid input: the seed object, exact amounts, defaults.

use serde_json::{Value, json};

use crate::helpers::{assert_error, minimal_body, seed_body, spawn_app, with};

#[tokio::test]
async fn create_session_returns_the_seed_object_for_the_seed_request() {
    let app = spawn_app().await;

    let response = app.post_session(&seed_body()).await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    assert!(response.headers().get("idempotent-replayed").is_none());
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("chk_"), "{body}");
    // The seed page's fields, with the same names, types and values.
    assert_eq!(body["object"], "checkout_session");
    assert_eq!(
        body["checkoutUrl"],
        format!("{}/checkout/{id}", app.public_url)
    );
    assert_eq!(
        body["redirectUrl"],
        "https://merchant.example/success?order=ord_284"
    );
    assert_eq!(body["status"], "routed");
    assert_eq!(body["amount"], json!(116));
    assert!(
        body["amount"].is_u64(),
        "amount must be the JSON number 116"
    );
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["customer"], "buyer@example.com");
    assert_eq!(body["metadata"], json!({"order_id": "ord_284"}));
    // Extensions.
    assert!(body["customerId"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(body["clientReferenceId"], Value::Null);
    assert_eq!(body["environment"], "sandbox");
    assert_eq!(body["livemode"], false);
    assert_eq!(body["preferredRoute"], "card");
    assert_eq!(body["route"]["kind"], "card");
    assert!(body["route"]["id"].is_string());
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(body["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["paymentId"], Value::Null);
}

#[tokio::test]
async fn create_session_checkout_url_uses_the_public_url() {
    let app = spawn_app().await;
    assert_eq!(app.public_url, app.address);

    let body = app.create_session(&minimal_body()).await;

    let url = body["checkoutUrl"].as_str().unwrap();
    assert_eq!(
        url,
        format!(
            "http://127.0.0.1:{}/checkout/{}",
            app.port,
            body["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn create_session_stores_one_session_and_one_customer() {
    let app = spawn_app().await;
    assert_eq!(app.session_count().await, 0);

    let body = app.create_session(&seed_body()).await;

    assert_eq!(app.session_count().await, 1);
    assert_eq!(app.customer_count().await, 1);
    let id = body["id"].as_str().unwrap();
    assert_eq!(app.stored_amount_cents(id).await, 11600);
    assert_eq!(app.stored_status(id).await, "routed");
    let owner: String =
        sqlx::query_scalar("SELECT merchant_id FROM checkout_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(owner, app.merchant_id.as_str());
}

#[tokio::test]
async fn create_session_reads_19_99_as_1999_cents_and_returns_19_99() {
    let app = spawn_app().await;

    let response = app
        .post_raw(
            r#"{"product":"Creator plan","amount":19.99,"customer":"buyer@example.com"}"#,
            Some("application/json"),
        )
        .await;

    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#""amount":19.99"#), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        app.stored_amount_cents(body["id"].as_str().unwrap()).await,
        1999
    );
}

#[tokio::test]
async fn create_session_reads_1e2_as_100_dollars() {
    let app = spawn_app().await;

    let response = app
        .post_raw(
            r#"{"product":"Creator plan","amount":1e2,"customer":"buyer@example.com"}"#,
            Some("application/json"),
        )
        .await;

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["amount"], json!(100));
    assert_eq!(
        app.stored_amount_cents(body["id"].as_str().unwrap()).await,
        10000
    );
}

#[tokio::test]
async fn create_session_reads_amounts_exactly_as_written() {
    let app = spawn_app().await;
    // (JSON text, cents, JSON text of the amount in the response)
    let cases = [
        ("116.5", 11650, "116.5"),
        ("116.50", 11650, "116.5"),
        ("0.01", 1, "0.01"),
        ("1999e-2", 1999, "19.99"),
        ("0.1", 10, "0.1"),
        ("927.77", 92777, "927.77"),
        ("10000", 1_000_000, "10000"),
        ("10000.00", 1_000_000, "10000"),
    ];
    for (raw, cents, shown) in cases {
        let text = format!(
            r#"{{"product":"Creator plan","amount":{raw},"customer":"buyer@example.com"}}"#
        );
        let response = app.post_raw(text, Some("application/json")).await;
        assert_eq!(response.status().as_u16(), 200, "amount {raw}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains(&format!(r#""amount":{shown},"#)),
            "amount {raw}: {text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            app.stored_amount_cents(body["id"].as_str().unwrap()).await,
            cents,
            "amount {raw}"
        );
    }
}

#[tokio::test]
async fn create_session_defaults_to_a_sandbox_session_with_a_test_key() {
    let app = spawn_app().await;

    let body = app.create_session(&minimal_body()).await;

    assert_eq!(body["environment"], "sandbox");
    assert_eq!(body["livemode"], false);
    assert_eq!(body["preferredRoute"], Value::Null);
    assert_eq!(body["route"], Value::Null);
    assert_eq!(body["redirectUrl"], Value::Null);
    assert_eq!(body["metadata"], json!({}));
}

#[tokio::test]
async fn create_session_with_a_live_key_creates_a_production_session() {
    let app = spawn_app().await;
    let request = json!({
        "product": "Creator plan",
        "amount": 116,
        "customer": "buyer@example.com",
        "redirectUrl": "https://merchant.example/success",
    });

    let body = app.create_session_with_key(&app.live_key, &request).await;

    assert_eq!(body["environment"], "production");
    assert_eq!(body["livemode"], true);
    let explicit = with(request, "environment", Some(json!("production")));
    let body = app.create_session_with_key(&app.live_key, &explicit).await;
    assert_eq!(body["environment"], "production");
}

#[tokio::test]
async fn create_session_accepts_an_explicit_sandbox_environment_with_a_test_key() {
    let app = spawn_app().await;

    let body = app
        .create_session(&with(minimal_body(), "environment", Some(json!("sandbox"))))
        .await;

    assert_eq!(body["environment"], "sandbox");
}

#[tokio::test]
async fn create_session_echoes_the_optional_fields() {
    let app = spawn_app().await;
    let request = json!({
        "product": "  Creator plan  ",
        "amount": 116,
        "customer": "Buyer.One+tag@Example.COM",
        "preferredRoute": "wallet",
        "redirectUrl": "https://merchant.example/r?id={CHECKOUT_SESSION_ID}",
        "metadata": {"order_id": "ord_284", "channel": "web"},
        "clientReferenceId": "order-284",
        "expiresInSeconds": 300,
    });

    let body = app.create_session(&request).await;

    assert_eq!(body["product"], "Creator plan");
    assert_eq!(body["customer"], "Buyer.One+tag@Example.COM");
    assert_eq!(body["preferredRoute"], "wallet");
    assert_eq!(body["route"]["kind"], "wallet");
    assert_eq!(
        body["redirectUrl"],
        "https://merchant.example/r?id={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(
        body["metadata"],
        json!({"order_id": "ord_284", "channel": "web"})
    );
    assert_eq!(body["clientReferenceId"], "order-284");
}

#[tokio::test]
async fn create_session_uses_expires_in_seconds_and_defaults_to_a_day() {
    let app = spawn_app().await;

    let short = app
        .create_session(&with(minimal_body(), "expiresInSeconds", Some(json!(300))))
        .await;
    let default = app.create_session(&minimal_body()).await;

    let short_id = short["id"].as_str().unwrap();
    let default_id = default["id"].as_str().unwrap();
    let row = |id: &str| {
        let pool = app.db.read.clone();
        let id = id.to_owned();
        async move {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT expires_at, created_at FROM checkout_sessions WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (expires, created) = row(short_id).await;
    assert_eq!(expires - created, 300_000);
    let (expires, created) = row(default_id).await;
    assert_eq!(expires - created, 86_400_000);
    assert_ne!(short["expiresAt"], default["expiresAt"]);
}

#[tokio::test]
async fn create_session_treats_null_optional_fields_as_absent() {
    let app = spawn_app().await;
    let request = json!({
        "product": "Creator plan",
        "amount": 116,
        "customer": "buyer@example.com",
        "preferredRoute": null,
        "redirectUrl": null,
        "metadata": null,
        "idempotencyKey": null,
        "clientReferenceId": null,
        "environment": null,
        "expiresInSeconds": null,
    });

    let body = app.create_session(&request).await;

    assert_eq!(body["environment"], "sandbox");
    assert_eq!(body["metadata"], json!({}));
    assert_eq!(body["redirectUrl"], Value::Null);
}

#[tokio::test]
async fn create_session_accepts_a_loopback_redirect_url_in_sandbox() {
    let app = spawn_app().await;

    for url in ["http://localhost:3000/back", "http://127.0.0.1:8000/done"] {
        let body = app
            .create_session(&with(minimal_body(), "redirectUrl", Some(json!(url))))
            .await;
        assert_eq!(body["redirectUrl"], url);
    }
}

#[tokio::test]
async fn create_session_accepts_values_at_every_upper_limit() {
    let app = spawn_app().await;
    let mut metadata = serde_json::Map::new();
    for i in 0..9 {
        metadata.insert(format!("key_{i}"), json!("v"));
    }
    metadata.insert("k".repeat(40), json!("x".repeat(500)));
    let url = format!("https://merchant.example/{}", "a".repeat(2048 - 25));
    assert_eq!(url.len(), 2048);
    // 64 + 1 + 189 = 254 characters, the longest address allowed.
    let email = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(email.len(), 254);
    let request = json!({
        "product": "é".repeat(120),
        "amount": 10000,
        "customer": email,
        "redirectUrl": url,
        "metadata": metadata,
        "idempotencyKey": "i".repeat(255),
        "clientReferenceId": "c".repeat(200),
        "expiresInSeconds": 604800,
    });

    let body = app.create_session(&request).await;

    assert_eq!(body["amount"], json!(10000));
    assert_eq!(body["product"], "é".repeat(120));
    assert_eq!(body["customer"], email);
    assert_eq!(body["metadata"].as_object().unwrap().len(), 10);
    assert_eq!(body["redirectUrl"], url);
}

#[tokio::test]
async fn create_session_accepts_json_content_types_with_parameters_and_suffixes() {
    let app = spawn_app().await;
    let text = minimal_body().to_string();

    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let response = app.post_raw(text.clone(), Some(content_type)).await;
        assert_eq!(response.status().as_u16(), 200, "{content_type}");
    }
}

#[tokio::test]
async fn create_session_returns_400_when_no_route_of_the_preferred_kind_exists_in_production() {
    let app = spawn_app().await;
    let request = json!({
        "product": "Creator plan",
        "amount": 116,
        "customer": "buyer@example.com",
        "preferredRoute": "wallet",
    });

    let response = app.post_session_with_key(&app.live_key, &request).await;

    assert_error(response, 400, "route_unavailable").await;
    assert_eq!(app.session_count().await, 0);
    assert_eq!(app.customer_count().await, 0);
}
