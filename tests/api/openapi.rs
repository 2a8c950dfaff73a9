//! The OpenAPI document says what the server does: real request schemas, the bounds of
//! parameters, every answer an operation can give with the error envelope's schema. (The
//! Schemathesis run in CI, scripts/schemathesis/run.sh, fuzzes the server against it.) Also the
//! server fixes the fuzzing led to.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, minimal_body, spawn_app, spawn_app_with};

async fn document(app: &TestApp) -> Value {
    app.get_anonymous("/api/openapi.json")
        .await
        .json()
        .await
        .unwrap()
}

/// `(method, path, operation)` for every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

/// Follows a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_request_body_has_its_real_schema_refusing_unknown_fields() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut bodies = 0;
    for (method, path, operation) in operations(&doc) {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        bodies += 1;
        let schema = resolve(&doc, &body["content"]["application/json"]["schema"]);
        let properties = schema["properties"].as_object();
        assert!(
            properties.is_some_and(|p| !p.is_empty()),
            "{method} {path}: the body schema is {schema}"
        );
        if path != "/api/providers/{provider}/callbacks" {
            assert_eq!(
                schema["additionalProperties"],
                json!(false),
                "{method} {path}: unknown fields are refused"
            );
        }
    }
    assert_eq!(bodies, 12, "twelve operations read a body");

    let session = resolve(
        &doc,
        &doc["paths"]["/api/gateway/sessions"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"],
    );
    assert_eq!(
        session["required"],
        json!(["product", "amount", "customer"])
    );
    let p = &session["properties"];
    assert_eq!(p["product"]["maxLength"], 120);
    assert_eq!(p["amount"]["exclusiveMinimum"], 0.0);
    assert_eq!(p["amount"]["maximum"], 10000.0);
    assert_eq!(p["amount"]["multipleOf"], 0.01);
    assert_eq!(p["customer"]["format"], "email");
    assert_eq!(p["redirectUrl"]["maxLength"], 2048);
    assert_eq!(p["metadata"]["maxProperties"], 10);
    assert_eq!(p["metadata"]["propertyNames"]["maxLength"], 40);
    assert_eq!(p["metadata"]["additionalProperties"]["maxLength"], 500);
    assert_eq!(p["idempotencyKey"]["maxLength"], 255);
    assert_eq!(p["clientReferenceId"]["maxLength"], 200);
    assert_eq!(p["expiresInSeconds"]["minimum"], 300);
    assert_eq!(p["expiresInSeconds"]["maximum"], 604800);
}

#[tokio::test]
async fn the_document_states_this_server_s_maximum_amount_routes_and_languages() {
    let app = spawn_app_with(|s| s.max_amount = 250).await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateSessionRequest"]["properties"]["amount"]["maximum"],
        250.0
    );
    let routes: Vec<&str> = schemas["WebhookExampleRequest"]["properties"]["routeId"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(routes.contains(&"card-bridge-a") && routes.contains(&"card-live"));
    assert_eq!(
        schemas["LanguageCode"]["enum"],
        json!([
            "en", "es", "pt-BR", "fr", "de", "it", "nl", "pl", "ja", "zh-CN", "ko", "ar"
        ])
    );
}

#[tokio::test]
async fn list_parameters_carry_their_bounds() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut limits = 0;
    for (method, path, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            if parameter["name"] == "limit" {
                limits += 1;
                assert_eq!(schema["minimum"], 1, "{method} {path}");
                assert_eq!(schema["maximum"], 100, "{method} {path}");
                assert_eq!(schema["type"], "integer", "{method} {path}");
            } else if parameter["in"] == "query" {
                assert!(
                    schema["pattern"].is_string(),
                    "{method} {path}: {parameter} refuses control characters"
                );
            }
        }
    }
    assert_eq!(
        limits, 6,
        "customers, payments, refunds, invoices, endpoints, events"
    );
}

#[tokio::test]
async fn every_answer_an_operation_can_give_is_listed_with_the_error_envelope() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(envelope["required"], json!(["error"]));
    let body = resolve(&doc, &envelope["properties"]["error"]);
    assert_eq!(
        body["required"],
        json!(["type", "code", "message", "requestId"])
    );
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().unwrap();
        let has = |status: &str| responses.contains_key(status);
        let label = format!("{method} {path}");
        if operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
        {
            assert!(has("401"), "{label}: 401");
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415"] {
                assert!(has(status), "{label}: {status}");
            }
        }
        if path.contains("{id}") || path.contains("{action}") || path.contains("{provider}") {
            assert!(has("404"), "{label}: 404");
        }
        if path.starts_with("/api/") {
            for status in ["400", "408", "431", "500"] {
                assert!(has(status), "{label}: {status}");
            }
        }
        for (status, response) in responses {
            assert!(
                response["content"].is_object(),
                "{label}: {status} has no content"
            );
            if (status.starts_with('4') || status.starts_with('5')) && path != "/readyz" {
                let schema = &response["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorEnvelope",
                    "{label}: {status}"
                );
            }
        }
    }
    let responses = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for status in ["403", "409"] {
        assert!(responses("/api/gateway/sessions", "post").contains(&status.to_owned()));
    }
    assert!(responses("/api/gateway/webhook-endpoints", "post").contains(&"403".to_owned()));
    assert!(responses("/readyz", "get").contains(&"503".to_owned()));
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"].is_object()
    );
}

#[tokio::test]
async fn expires_in_seconds_written_with_a_zero_fraction_is_a_whole_number() {
    let app = spawn_app().await;
    let mut body = minimal_body();
    body["expiresInSeconds"] = json!(300.0);
    let response = app
        .post_raw(body.to_string(), Some("application/json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = minimal_body();
    body["expiresInSeconds"] = json!(300.5);
    let response = app.post_session(&body).await;
    assert_error(response, 400, "validation_failed").await;
}

#[tokio::test]
async fn a_sandbox_key_asking_for_production_gets_403_before_production_s_field_rules() {
    let app = spawn_app().await;
    // http is fine in sandbox and wrong in production: the key decides first.
    let mut body = minimal_body();
    body["environment"] = json!("production");
    body["redirectUrl"] = json!("http://merchant.example/done");
    let response = app.post_session(&body).await;
    assert_error(response, 403, "environment_mismatch").await;

    let response = app
        .client
        .post(app.url("/api/gateway/webhook-endpoints"))
        .bearer_auth(&app.sandbox_key)
        .json(&json!({"url": "https://name-that-does-not-resolve.invalid/hook", "environment": "production"}))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "environment_mismatch").await;
}

#[tokio::test]
async fn a_redirect_url_of_2048_characters_counts_characters_not_bytes() {
    let app = spawn_app().await;
    let head = "https://merchant.example/";
    let url: String = head
        .chars()
        .chain(std::iter::repeat_n('é', 2048 - head.len()))
        .collect();
    let mut body = minimal_body();
    body["redirectUrl"] = json!(url);
    let response = app.post_session(&body).await;
    assert_eq!(response.status().as_u16(), 200);
    body["redirectUrl"] = json!(format!("{url}é"));
    let response = app.post_session(&body).await;
    assert_error(response, 400, "validation_failed").await;
}
