//! The agent API: capabilities and schemas without a key, the checkout actions with one, dry
//! runs that create nothing, `checkout.create` as idempotent as a session create, and
//! `webhook.verify_sample` against signatures made the way deliveries are signed.

use openrails_checkout::crypto::signature;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, issue_fields, spawn_app};

async fn post(app: &TestApp, action: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/agent/actions/{action}")))
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn result(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

const ACTIONS: [&str; 5] = [
    "checkout.preview",
    "fees.estimate",
    "checkout.create",
    "webhook.example",
    "webhook.verify_sample",
];

#[tokio::test]
async fn capabilities_and_schemas_need_no_key_and_describe_every_action() {
    let app = spawn_app().await;
    let caps: Value = app
        .get_anonymous("/api/agent/capabilities")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = caps["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ACTIONS);
    assert!(
        caps["webhookEvents"]
            .as_array()
            .unwrap()
            .contains(&json!("payment.paid"))
    );
    assert_eq!(caps["entrypoints"]["openapi"], app.url("/api/openapi.json"));
    for tool in caps["tools"].as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "an MCP tool name: {name}"
        );
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert!(!tool["description"].as_str().unwrap().is_empty());
    }
    for action in ACTIONS {
        let response = app
            .get_anonymous(&format!("/api/agent/schema/{action}"))
            .await;
        assert_eq!(response.status(), 200, "{action}");
        let schema: Value = response.json().await.unwrap();
        assert_eq!(schema["type"], "object", "{action}: {schema}");
        assert!(
            !schema.to_string().contains("$ref"),
            "{action}: the schema stands alone: {schema}"
        );
        let capability_schema = &caps["schemaRoutes"][action];
        assert_eq!(
            capability_schema,
            &json!(app.url(&format!("/api/agent/schema/{action}")))
        );
    }
    // The rules are the API's: the amount's maximum, the route kinds, the unknown fields.
    let create: Value = app
        .get_anonymous("/api/agent/schema/checkout.create")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(create["properties"]["amount"]["maximum"], 10000.0);
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(
        create["required"],
        json!(["product", "amount", "customer"]),
        "{create}"
    );
    let missing = app
        .get_anonymous("/api/agent/schema/checkout.destroy")
        .await;
    assert_error(missing, 404, "resource_missing").await;
}

#[tokio::test]
async fn preview_and_estimate_need_the_key_and_create_nothing() {
    let app = spawn_app().await;
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "preferredRoute": "card", "idempotencyKey": "order-7", "clientReferenceId": "ord_7"});
    for action in ["checkout.preview", "fees.estimate"] {
        let refused = post(&app, action, None, &body).await;
        assert_error(refused, 401, "missing_api_key").await;
    }
    let preview = result(post(&app, "checkout.preview", Some(&app.sandbox_key), &body).await).await;
    assert_eq!(preview["dryRun"], true);
    assert_eq!(preview["id"], Value::Null);
    assert_eq!(preview["checkoutUrl"], Value::Null);
    assert_eq!(preview["merchant"], "Test Store");
    assert_eq!(preview["amount"], 116.0);
    assert_eq!(preview["environment"], "sandbox");
    assert_eq!(preview["idempotencyKey"], "order-7");
    assert_eq!(preview["clientReferenceId"], "ord_7");
    assert_eq!(preview["route"]["id"], "card-bridge-a");
    assert_eq!(preview["route"]["integrationId"], "sandbox");
    assert_eq!(preview["route"]["buyerFeeRate"], 0.032);
    assert_eq!(
        preview["feeSplit"],
        json!({"buyerFee": 3.72, "gatewayFee": 3.48, "merchantNet": 112.52, "total": 119.72})
    );
    let estimate = result(post(&app, "fees.estimate", Some(&app.sandbox_key), &body).await).await;
    assert_eq!(estimate["feeSplit"], preview["feeSplit"]);
    let routes: Vec<&str> = estimate["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["route"]["id"].as_str().unwrap())
        .collect();
    assert!(
        routes.len() >= 3 && routes.contains(&"card-bridge-a"),
        "{routes:?}"
    );
    assert_eq!(app.session_count().await, 0, "a dry run makes no session");
    assert_eq!(app.customer_count().await, 0, "nor a customer");

    // Bad bodies are refused as a session create refuses them, with issues and a suggestion.
    let bad = json!({"product": "", "amount": -1, "customer": "not-an-address", "extra": 1});
    let error = assert_error(
        post(&app, "checkout.preview", Some(&app.sandbox_key), &bad).await,
        400,
        "validation_failed",
    )
    .await;
    let mut fields = issue_fields(&error);
    fields.sort();
    assert_eq!(fields, ["amount", "customer", "extra", "product"]);
    assert!(error["error"]["suggestion"].as_str().is_some(), "{error}");
    // The key decides the environment.
    let production = json!({"product": "Creator plan", "amount": 116,
        "customer": "buyer@example.com", "environment": "production"});
    assert_error(
        post(
            &app,
            "checkout.preview",
            Some(&app.sandbox_key),
            &production,
        )
        .await,
        403,
        "environment_mismatch",
    )
    .await;
}

#[tokio::test]
async fn checkout_create_makes_one_session_per_idempotency_key() {
    let app = spawn_app().await;
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "idempotencyKey": "order-9"});
    assert_error(
        post(&app, "checkout.create", None, &body).await,
        401,
        "missing_api_key",
    )
    .await;
    let bad = json!({"product": "Creator plan", "amount": 0, "customer": "buyer@example.com"});
    let error = assert_error(
        post(&app, "checkout.create", Some(&app.sandbox_key), &bad).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(issue_fields(&error), ["amount"]);
    assert_eq!(app.session_count().await, 0, "nothing half-made");
    let first = post(&app, "checkout.create", Some(&app.sandbox_key), &body).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = result(first).await;
    assert_eq!(first["dryRun"], false);
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("chk_"), "{first}");
    assert_eq!(first["checkoutUrl"], app.url(&format!("/checkout/{id}")));
    assert_eq!(
        first["route"]["id"], "card-bridge-a",
        "the route listed first"
    );
    // The session is the API's own.
    let session: Value = app
        .get(&format!("/api/gateway/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["product"], "Creator plan");
    // Again with the same key and body: the same session, said so.
    let again = post(&app, "checkout.create", Some(&app.sandbox_key), &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(result(again).await["id"], first["id"]);
    assert_eq!(app.session_count().await, 1);
    // The same key with another body: 409.
    let other = json!({"product": "Creator plan", "amount": 117, "customer": "buyer@example.com",
        "idempotencyKey": "order-9"});
    assert_error(
        post(&app, "checkout.create", Some(&app.sandbox_key), &other).await,
        409,
        "idempotency_key_reused",
    )
    .await;
}

#[tokio::test]
async fn verify_sample_says_whether_a_signature_verifies_and_why_not() {
    let app = spawn_app().await;
    let secret = "whsec_test_secret";
    let body = r#"{"id":"evt_1","type":"payment.paid"}"#;
    let now = openrails_checkout::domain::time::now_ms() / 1000;
    let header = signature::header(&[secret.as_bytes()], now, body.as_bytes());
    let check = |payload: &str, signature: &str, secret: &str, at: Option<i64>| {
        let mut sample = json!({"payload": payload, "signature": signature, "secret": secret});
        if let Some(at) = at {
            sample["at"] = json!(at);
        }
        sample
    };
    let ok = result(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &check(body, &header, secret, None),
        )
        .await,
    )
    .await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["code"], Value::Null);
    assert_eq!(ok["signatures"], 1);

    let changed = body.replace("paid", "failed");
    let mismatch = result(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &check(&changed, &header, secret, None),
        )
        .await,
    )
    .await;
    assert_eq!(mismatch["valid"], false);
    assert_eq!(mismatch["code"], "mismatch");
    assert!(
        mismatch["reason"].as_str().unwrap().contains("raw body"),
        "{mismatch}"
    );
    assert_eq!(
        mismatch["expectedSignature"],
        signature::sign(secret.as_bytes(), now, changed.as_bytes())
    );

    let wrong_secret = result(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &check(body, &header, "whsec_other", None),
        )
        .await,
    )
    .await;
    assert_eq!(wrong_secret["code"], "mismatch");

    let stale = result(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &check(body, &header, secret, Some(now + 3600)),
        )
        .await,
    )
    .await;
    assert_eq!(stale["code"], "stale", "{stale}");
    // A saved sample verifies as at its own time.
    let old = signature::header(&[secret.as_bytes()], 1_700_000_000, body.as_bytes());
    let saved = result(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &check(body, &old, secret, Some(1_700_000_060)),
        )
        .await,
    )
    .await;
    assert_eq!(saved["valid"], true, "{saved}");

    for header in [
        "v1=abc",
        "t=abc,v1=abc",
        "t=1700000000",
        "",
        "t=-9223372036854775808,v1=00",
    ] {
        let answer = result(
            post(
                &app,
                "webhook.verify_sample",
                None,
                &check(body, header, secret, None),
            )
            .await,
        )
        .await;
        assert_eq!(answer["valid"], false, "{header}: {answer}");
        assert!(
            ["malformed", "stale"].contains(&answer["code"].as_str().unwrap()),
            "{header}: {answer}"
        );
    }
    let error = assert_error(
        post(
            &app,
            "webhook.verify_sample",
            None,
            &json!({"payload": body, "at": -1}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let mut fields = issue_fields(&error);
    fields.sort();
    assert_eq!(fields, ["at", "secret", "signature"]);
}
