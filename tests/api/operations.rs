//! Probes and the OpenAPI document.

use std::collections::BTreeSet;

use openrails_checkout::routes::API_ROUTES;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_returns_200() {
    let app = spawn_app().await;
    let response = app.get_anonymous("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("x-request-id").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_returns_200_when_the_database_is_reachable_and_migrated() {
    let app = spawn_app().await;
    let response = app.get_anonymous("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "reachable");
    assert_eq!(body["migrations"], "applied");
}

#[tokio::test]
async fn readyz_returns_503_when_the_database_is_closed() {
    let app = spawn_app().await;
    app.db.close().await;
    let response = app.get_anonymous("/readyz").await;
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    // Liveness does not depend on the database.
    assert_eq!(app.get_anonymous("/healthz").await.status().as_u16(), 200);
}

#[tokio::test]
async fn openapi_lists_exactly_the_api_routes() {
    let app = spawn_app().await;
    let response = app.get_anonymous("/api/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the OpenAPI document is valid JSON");

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if [
                "get", "post", "put", "patch", "delete", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(method, path)| (method.to_lowercase(), (*path).to_owned()))
        .collect();
    assert_eq!(documented, routed);
    assert!(
        doc["components"]["securitySchemes"]["api_key"].is_object(),
        "the document describes the API key"
    );
}

#[tokio::test]
async fn every_documented_route_answers_something_other_than_404_route_not_found() {
    let app = spawn_app().await;
    for (method, path) in API_ROUTES {
        let path = path.replace("{id}", "x_1");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("route_not_found") && status != 405,
            "{method} {path}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn metrics_count_sessions_and_responses_in_prometheus_format() {
    let app = spawn_app().await;
    let created = app
        .post_session(&serde_json::json!({
            "product": "Creator plan", "amount": 116, "customer": "buyer@example.com"
        }))
        .await;
    assert_eq!(created.status().as_u16(), 200);
    let refused = app.post_session(&serde_json::json!({"amount": 0})).await;
    assert_eq!(refused.status().as_u16(), 400);

    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("openrails_sessions_created_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("openrails_http_responses_total{class=\"4xx\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("openrails_webhook_deliveries_pending 0\n"),
        "{text}"
    );
    assert!(text.contains("openrails_database_up 1\n"), "{text}");
}

#[tokio::test]
async fn the_preview_gallery_is_served_in_development_and_absent_in_production() {
    let app = spawn_app().await;
    let index = app.get_anonymous("/preview").await;
    assert_eq!(index.status().as_u16(), 200);
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("/preview/card.es.branded")
    );
    let entry = app.get_anonymous("/preview/card.es.branded").await;
    assert_eq!(entry.status().as_u16(), 200);
    assert!(
        entry
            .text()
            .await
            .unwrap()
            .contains("<html lang=\"es\" dir=\"ltr\">")
    );
    assert_eq!(
        app.get_anonymous("/preview/assets/brand.css")
            .await
            .status()
            .as_u16(),
        200
    );

    let production = crate::helpers::spawn_app_with(|s| {
        s.mode = openrails_checkout::config::Mode::Production;
    })
    .await;
    for path in [
        "/preview",
        "/preview/card.es.branded",
        "/preview/assets/brand.css",
    ] {
        assert_eq!(
            production.get_anonymous(path).await.status().as_u16(),
            404,
            "{path}"
        );
    }
}
