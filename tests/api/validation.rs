//! Every class of bad field in `POST /api/gateway/sessions`: each is a 400
//! `validation_failed` naming the field, and nothing is written.

use serde_json::{Value, json};

use crate::helpers::{
    assert_error, assert_rejected, assert_rejected_with_key, issue_fields, issue_message,
    minimal_body, spawn_app, with,
};

fn amount_text(raw: &str) -> String {
    format!(r#"{{"product":"Creator plan","amount":{raw},"customer":"buyer@example.com"}}"#)
}

/// Posts a body whose amount is the JSON text `raw`; expects a 400 about `amount` whose
/// message contains `expected`.
async fn assert_amount_rejected(app: &crate::helpers::TestApp, raw: &str, expected: &str) {
    let response = app
        .post_raw(amount_text(raw), Some("application/json"))
        .await;
    let error = assert_error(response, 400, "validation_failed").await;
    let message = issue_message(&error, "amount");
    assert!(
        message.contains(expected),
        "amount {raw}: expected {expected:?} in {message:?}"
    );
    assert!(
        error["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("amount"),
        "{error}"
    );
    assert_eq!(app.session_count().await, 0, "amount {raw} wrote a session");
    assert_eq!(
        app.customer_count().await,
        0,
        "amount {raw} wrote a customer"
    );
}

// Missing fields.

#[tokio::test]
async fn create_session_returns_400_when_product_is_missing() {
    let app = spawn_app().await;
    let error = assert_rejected(&app, &with(minimal_body(), "product", None), "product").await;
    assert_eq!(issue_message(&error, "product"), "is required");
}

#[tokio::test]
async fn create_session_returns_400_when_amount_is_missing() {
    let app = spawn_app().await;
    assert_rejected(&app, &with(minimal_body(), "amount", None), "amount").await;
}

#[tokio::test]
async fn create_session_returns_400_when_customer_is_missing() {
    let app = spawn_app().await;
    assert_rejected(&app, &with(minimal_body(), "customer", None), "customer").await;
}

#[tokio::test]
async fn create_session_returns_400_naming_every_missing_field_of_an_empty_object() {
    let app = spawn_app().await;
    let error = assert_rejected(&app, &json!({}), "product").await;
    let fields = issue_fields(&error);
    for field in ["product", "amount", "customer"] {
        assert!(fields.iter().any(|f| f == field), "{field}: {error}");
    }
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 more problems"),
        "{error}"
    );
}

#[tokio::test]
async fn create_session_returns_400_when_a_required_field_is_null() {
    let app = spawn_app().await;
    for field in ["product", "amount", "customer"] {
        assert_rejected(&app, &with(minimal_body(), field, Some(Value::Null)), field).await;
    }
}

// Extra fields.

#[tokio::test]
async fn create_session_returns_400_naming_an_unknown_field() {
    let app = spawn_app().await;
    let error = assert_rejected(
        &app,
        &with(minimal_body(), "coupon", Some(json!("SAVE10"))),
        "coupon",
    )
    .await;
    assert!(issue_message(&error, "coupon").contains("not a known field"));
}

#[tokio::test]
async fn create_session_suggests_redirect_url_for_redirect_url_misspelled() {
    let app = spawn_app().await;
    let error = assert_rejected(
        &app,
        &with(
            minimal_body(),
            "redirectURL",
            Some(json!("https://merchant.example/success")),
        ),
        "redirectURL",
    )
    .await;
    assert!(
        issue_message(&error, "redirectURL").contains("did you mean redirectUrl"),
        "{error}"
    );
    assert!(
        error["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("redirectUrl"),
        "{error}"
    );
}

#[tokio::test]
async fn create_session_returns_400_for_an_unknown_field_even_when_null() {
    let app = spawn_app().await;
    assert_rejected(
        &app,
        &with(minimal_body(), "customerEmail", Some(Value::Null)),
        "customerEmail",
    )
    .await;
}

// Mistyped fields.

#[tokio::test]
async fn create_session_returns_400_when_product_is_not_a_string() {
    let app = spawn_app().await;
    for value in [
        json!(42),
        json!(true),
        json!(["Creator plan"]),
        json!({"name": "x"}),
    ] {
        let error = assert_rejected(
            &app,
            &with(minimal_body(), "product", Some(value)),
            "product",
        )
        .await;
        assert!(issue_message(&error, "product").contains("must be a string"));
    }
}

#[tokio::test]
async fn create_session_returns_400_when_customer_is_not_a_string() {
    let app = spawn_app().await;
    for value in [json!(42), json!(false), json!(["buyer@example.com"])] {
        assert_rejected(
            &app,
            &with(minimal_body(), "customer", Some(value)),
            "customer",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_optional_strings_have_the_wrong_type() {
    let app = spawn_app().await;
    for field in [
        "preferredRoute",
        "redirectUrl",
        "idempotencyKey",
        "clientReferenceId",
        "environment",
    ] {
        for value in [json!(1), json!(true), json!(["x"]), json!({"x": "y"})] {
            assert_rejected(&app, &with(minimal_body(), field, Some(value)), field).await;
        }
    }
}

#[tokio::test]
async fn create_session_returns_400_when_preferred_route_is_unknown() {
    let app = spawn_app().await;
    for value in ["bank", "Card", ""] {
        assert_rejected(
            &app,
            &with(minimal_body(), "preferredRoute", Some(json!(value))),
            "preferredRoute",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_environment_is_unknown() {
    let app = spawn_app().await;
    for value in ["live", "test", "Production", ""] {
        assert_rejected(
            &app,
            &with(minimal_body(), "environment", Some(json!(value))),
            "environment",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_expires_in_seconds_is_out_of_range_or_not_whole() {
    let app = spawn_app().await;
    for value in [
        json!(299),
        json!(604801),
        json!(0),
        json!(-300),
        json!(300.5),
        json!("300"),
        json!(1e30),
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "expiresInSeconds", Some(value)),
            "expiresInSeconds",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_idempotency_key_or_client_reference_is_too_long() {
    let app = spawn_app().await;
    assert_rejected(
        &app,
        &with(
            minimal_body(),
            "idempotencyKey",
            Some(json!("k".repeat(256))),
        ),
        "idempotencyKey",
    )
    .await;
    assert_rejected(
        &app,
        &with(minimal_body(), "idempotencyKey", Some(json!(""))),
        "idempotencyKey",
    )
    .await;
    assert_rejected(
        &app,
        &with(
            minimal_body(),
            "clientReferenceId",
            Some(json!("c".repeat(201))),
        ),
        "clientReferenceId",
    )
    .await;
    assert_rejected(
        &app,
        &with(minimal_body(), "clientReferenceId", Some(json!("a\u{0}b"))),
        "clientReferenceId",
    )
    .await;
}

// Amounts.

#[tokio::test]
async fn create_session_returns_400_when_amount_is_zero() {
    let app = spawn_app().await;
    assert_amount_rejected(&app, "0", "greater than 0").await;
    assert_amount_rejected(&app, "0.00", "greater than 0").await;
    assert_amount_rejected(&app, "0e5", "greater than 0").await;
}

#[tokio::test]
async fn create_session_returns_400_when_amount_is_negative() {
    let app = spawn_app().await;
    assert_amount_rejected(&app, "-5", "greater than 0").await;
    assert_amount_rejected(&app, "-0.01", "greater than 0").await;
    assert_amount_rejected(&app, "-0", "greater than 0").await;
}

#[tokio::test]
async fn create_session_returns_400_when_amount_has_more_than_two_decimals() {
    let app = spawn_app().await;
    assert_amount_rejected(&app, "0.001", "2 decimal places").await;
    assert_amount_rejected(&app, "1.005", "2 decimal places").await;
    assert_amount_rejected(&app, "19.999", "2 decimal places").await;
    assert_amount_rejected(&app, "1e-3", "2 decimal places").await;
}

#[tokio::test]
async fn create_session_returns_400_when_amount_is_above_the_maximum() {
    let app = spawn_app().await;
    assert_amount_rejected(&app, "10000.01", "at most 10000").await;
    assert_amount_rejected(&app, "1e5", "at most 10000").await;
    assert_amount_rejected(&app, "1e400", "at most").await;
    assert_amount_rejected(&app, "99999999999999999999999999999999", "at most").await;
}

#[tokio::test]
async fn create_session_returns_400_when_amount_is_not_a_number() {
    let app = spawn_app().await;
    assert_amount_rejected(&app, r#""116""#, "not a string").await;
    assert_amount_rejected(&app, r#""abc""#, "not a string").await;
    assert_amount_rejected(&app, "true", "must be a number").await;
    assert_amount_rejected(&app, "[116]", "must be a number").await;
    assert_amount_rejected(&app, r#"{"usd":116}"#, "must be a number").await;
}

// Product.

#[tokio::test]
async fn create_session_returns_400_when_product_is_empty_too_long_or_has_control_characters() {
    let app = spawn_app().await;
    for value in [
        json!(""),
        json!("   "),
        json!("p".repeat(121)),
        json!("Creator\nplan"),
        json!("Creator\u{0}plan"),
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "product", Some(value)),
            "product",
        )
        .await;
    }
}

// E-mails.

#[tokio::test]
async fn create_session_returns_400_when_customer_is_not_an_email_address() {
    let app = spawn_app().await;
    // 255 characters: one more than allowed, otherwise well formed.
    let too_long = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(58)
    );
    assert_eq!(too_long.len(), 255);
    for value in [
        "",
        "buyer",
        "buyer@",
        "@example.com",
        "buyer@example",
        "buyer@@example.com",
        "buy er@example.com",
        "<script>alert(1)</script>@example.com",
        "buyer@example..com",
        "buyer@exa_mple.com",
        ".buyer@example.com",
        "buyer\u{0}@example.com",
        too_long.as_str(),
    ] {
        let error = assert_rejected(
            &app,
            &with(minimal_body(), "customer", Some(json!(value))),
            "customer",
        )
        .await;
        assert!(
            error["error"]["suggestion"]
                .as_str()
                .unwrap()
                .contains("e-mail"),
            "{value:?}: {error}"
        );
    }
}

// Redirect URLs.

#[tokio::test]
async fn create_session_returns_400_when_redirect_url_is_relative() {
    let app = spawn_app().await;
    for value in [
        "/success",
        "success",
        "merchant.example/success",
        "//merchant.example/x",
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "redirectUrl", Some(json!(value))),
            "redirectUrl",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_redirect_url_is_a_javascript_url() {
    let app = spawn_app().await;
    for value in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://merchant.example/x",
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "redirectUrl", Some(json!(value))),
            "redirectUrl",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_redirect_url_is_longer_than_2048_characters() {
    let app = spawn_app().await;
    let url = format!("https://merchant.example/{}", "a".repeat(2048 - 24));
    assert_eq!(url.len(), 2049);
    let error = assert_rejected(
        &app,
        &with(minimal_body(), "redirectUrl", Some(json!(url))),
        "redirectUrl",
    )
    .await;
    assert!(issue_message(&error, "redirectUrl").contains("2048"));
}

#[tokio::test]
async fn create_session_returns_400_when_redirect_url_is_malformed() {
    let app = spawn_app().await;
    for value in [
        "https://",
        "https://user:pw@merchant.example/",
        "https://merchant.example/a b",
        "https://merchant.example:99999/",
        "https://merchant.example/<script>",
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "redirectUrl", Some(json!(value))),
            "redirectUrl",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_a_production_redirect_url_is_not_https_or_is_loopback() {
    let app = spawn_app().await;
    for value in [
        "http://merchant.example/success",
        "https://localhost/success",
        "https://127.0.0.1/success",
    ] {
        assert_rejected_with_key(
            &app,
            &app.live_key,
            &with(minimal_body(), "redirectUrl", Some(json!(value))),
            "redirectUrl",
        )
        .await;
    }
}

// Metadata.

#[tokio::test]
async fn create_session_returns_400_when_metadata_has_more_than_10_pairs() {
    let app = spawn_app().await;
    let mut metadata = serde_json::Map::new();
    for i in 0..11 {
        metadata.insert(format!("k{i}"), json!("v"));
    }
    assert_rejected(
        &app,
        &with(minimal_body(), "metadata", Some(Value::Object(metadata))),
        "metadata",
    )
    .await;
}

#[tokio::test]
async fn create_session_returns_400_when_a_metadata_value_is_not_a_string() {
    let app = spawn_app().await;
    for value in [
        json!(1),
        json!(true),
        Value::Null,
        json!(["a"]),
        json!({"a": "b"}),
    ] {
        let error = assert_rejected(
            &app,
            &with(minimal_body(), "metadata", Some(json!({"order_id": value}))),
            "metadata.order_id",
        )
        .await;
        assert!(issue_message(&error, "metadata.order_id").contains("strings"));
    }
}

#[tokio::test]
async fn create_session_returns_400_when_metadata_is_not_an_object() {
    let app = spawn_app().await;
    for value in [
        json!("order_id=ord_284"),
        json!(["ord_284"]),
        json!(42),
        json!(true),
    ] {
        assert_rejected(
            &app,
            &with(minimal_body(), "metadata", Some(value)),
            "metadata",
        )
        .await;
    }
}

#[tokio::test]
async fn create_session_returns_400_when_metadata_keys_or_values_are_too_long() {
    let app = spawn_app().await;
    let long_key = "k".repeat(41);
    assert_rejected(
        &app,
        &with(
            minimal_body(),
            "metadata",
            Some(json!({ long_key.clone(): "v" })),
        ),
        &format!("metadata.{long_key}"),
    )
    .await;
    assert_rejected(
        &app,
        &with(minimal_body(), "metadata", Some(json!({"": "v"}))),
        "metadata.",
    )
    .await;
    assert_rejected(
        &app,
        &with(
            minimal_body(),
            "metadata",
            Some(json!({"note": "x".repeat(501)})),
        ),
        "metadata.note",
    )
    .await;
}

#[tokio::test]
async fn create_session_reports_every_problem_at_once() {
    let app = spawn_app().await;
    let request = json!({
        "product": "",
        "amount": -1,
        "customer": "nope",
        "preferredRoute": "bank",
        "redirectUrl": "javascript:alert(1)",
        "metadata": {"a": 1},
        "colour": "red",
    });

    let error = assert_rejected(&app, &request, "amount").await;

    let fields = issue_fields(&error);
    for field in [
        "product",
        "amount",
        "customer",
        "preferredRoute",
        "redirectUrl",
        "metadata.a",
        "colour",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field}: {error}");
    }
}
