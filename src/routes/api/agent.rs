//! The agent API of the product family (`/api/agent/…`): what an AI agent or a script needs to
//! build an integration without reading prose.
//!
//! - `GET /api/agent/capabilities`: entry points, webhook events, the schema routes, every
//!   action with what it needs, tool descriptions an MCP client can load, the CLI, the rules.
//! - `GET /api/agent/schema/{action}`: the JSON Schema of an action's body, cut from the served
//!   OpenAPI document (the same rules the API enforces and Schemathesis checks).
//! - `POST /api/agent/actions/{action}`: `checkout.preview` and `fees.estimate` (dry runs that
//!   create nothing), `checkout.create` (the same as `POST /api/gateway/sessions`, idempotent),
//!   `webhook.example` and `webhook.verify_sample`. The checkout actions read the merchant's
//!   data and need the API key; the webhook actions, the capabilities and the schemas do not.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::body::read_json_object;
use super::sessions::create::{
    Made, create_from_body, no_route_configured, parse_for_key, route_unavailable,
};
use super::sessions::request::whole_number;
use crate::auth::Authenticated;
use crate::crypto::signature::{self, SignatureError, TOLERANCE_SECONDS};
use crate::db::api_keys::KeyOwner;
use crate::db::merchants::merchant_name;
use crate::domain::Amount;
use crate::domain::Environment;
use crate::domain::event::{EventKind, PayloadParts, payload};
use crate::domain::input::Fields;
use crate::domain::metadata::Metadata;
use crate::domain::payment_route::PaymentRoute;
use crate::domain::time::now_ms;
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::create::{Creation, session_route};
use crate::state::AppState;

/// One action: its name, the MCP tool that stands for it, and what it needs.
pub struct Action {
    /// `checkout.preview`, …
    pub name: &'static str,
    /// The MCP tool's name (`checkout_preview`: tool names take no dots).
    pub tool: &'static str,
    /// What it does, for people and for agents.
    pub description: &'static str,
    /// Whether it needs `Authorization: Bearer sk_…`.
    pub needs_key: bool,
    /// Whether it creates nothing.
    pub dry_run: bool,
    /// The OpenAPI component of its body.
    pub schema: &'static str,
}

/// Every action, in the order an agent uses them.
pub const ACTIONS: [Action; 5] = [
    Action {
        name: "checkout.preview",
        tool: "checkout_preview",
        description: "Dry run of checkout.create: validates the body exactly as a session create does and answers the route that would be chosen (every descriptor field), the fee split and the amounts. Creates nothing.",
        needs_key: true,
        dry_run: true,
        schema: "CreateSessionRequest",
    },
    Action {
        name: "fees.estimate",
        tool: "fees_estimate",
        description: "Dry run: the fee split of the route that would be chosen, and of every route offered in the key's environment (`estimates`). Creates nothing.",
        needs_key: true,
        dry_run: true,
        schema: "CreateSessionRequest",
    },
    Action {
        name: "checkout.create",
        tool: "checkout_create",
        description: "Creates a checkout session (the same as POST /api/gateway/sessions) and answers its checkoutUrl. Send idempotencyKey: a retry with the same key and body returns the same session.",
        needs_key: true,
        dry_run: false,
        schema: "CreateSessionRequest",
    },
    Action {
        name: "webhook.example",
        tool: "webhook_example",
        description: "A representative webhook payload for local testing, exactly as deliveries carry it. Creates nothing.",
        needs_key: false,
        dry_run: true,
        schema: "WebhookExampleRequest",
    },
    Action {
        name: "webhook.verify_sample",
        tool: "webhook_verify_sample",
        description: "Checks a webhook's signature: given the raw body, the x-gateway-signature header and the endpoint's secret, says whether it verifies and, if not, why. Creates nothing.",
        needs_key: false,
        dry_run: true,
        schema: "WebhookVerifySampleRequest",
    },
];

/// The action named `name`.
pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The JSON Schema of `action`'s body: its component of the served OpenAPI document with every
/// `$ref` written out, so that it stands alone.
pub fn action_schema(state: &AppState, action: &Action) -> Value {
    let doc = super::openapi::document(state);
    let components = &doc["components"]["schemas"];
    let mut schema = components[action.schema].clone();
    inline_refs(&mut schema, components, 0);
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        object.insert(
            "$id".into(),
            json!(format!(
                "{}/api/agent/schema/{}",
                state.public_url, action.name
            )),
        );
        object.insert("title".into(), json!(format!("{} body", action.name)));
    }
    schema
}

/// Replaces each `{"$ref": "#/components/schemas/X"}` under `value` by X itself.
fn inline_refs(value: &mut Value, components: &Value, depth: usize) {
    if depth > 16 {
        return;
    }
    match value {
        Value::Object(object) => {
            if let Some(name) = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                let mut target = components[name].clone();
                inline_refs(&mut target, components, depth + 1);
                object.remove("$ref");
                if let Value::Object(target) = target {
                    for (k, v) in target {
                        object.entry(k).or_insert(v);
                    }
                }
            }
            for v in object.values_mut() {
                inline_refs(v, components, depth + 1);
            }
        }
        Value::Array(items) => {
            for v in items {
                inline_refs(v, components, depth + 1);
            }
        }
        _ => {}
    }
}

/// The fields of `webhook.example`.
const FIELDS: &[&str] = &[
    "event",
    "sessionId",
    "customerId",
    "amount",
    "routeId",
    "metadata",
];

/// A representative webhook payload for local testing.
#[utoipa::path(post, path = "/api/agent/actions/webhook.example", tag = "Agent actions",
    request_body(content = super::schemas::WebhookExampleRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "An object whose `result` is a webhook payload", body = super::schemas::ActionResult),
        (status = 400, description = "Invalid field", body = ErrorEnvelope),
    ))]
pub async fn webhook_example(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_object(&req, body, state.settings.max_body_bytes).await?;
    let mut f = Fields::new(&body, FIELDS);
    let event = f.optional::<String>("event");
    let session_id = f.optional::<String>("sessionId");
    let customer_id = f.optional::<String>("customerId");
    let route_id = f.optional::<String>("routeId");
    let session_id = session_id.as_deref().unwrap_or("chk_nimbus_1056");
    let customer_id = customer_id.as_deref().unwrap_or("cus_7G42M9");
    let kind = match event {
        None => Some(EventKind::Paid),
        named => f.check("event", named, |name| {
            EventKind::parse(&name)
                .filter(|k| k.is_payment())
                .ok_or_else(|| {
                    let names: Vec<&str> = EventKind::ALL
                        .into_iter()
                        .filter(|k| k.is_payment())
                        .map(EventKind::type_name)
                        .collect();
                    format!("must be one of {}", names.join(", "))
                })
        }),
    };
    let amount = match f.optional_raw("amount") {
        None => Some(Amount::from_cents(89_900)),
        raw => f.check("amount", raw, |raw| {
            Amount::parse_json(raw, state.settings.max_amount_cents()).map_err(|e| e.to_string())
        }),
    };
    let metadata = match f.optional_raw("metadata") {
        None => Metadata::parse(&json!({"order_id": "ord_284"})).unwrap_or_default(),
        Some(raw) => Metadata::parse_json(raw).unwrap_or_else(|found| {
            for issue in found {
                f.issue(&issue.field, issue.message);
            }
            Metadata::default()
        }),
    };
    let route_id = route_id.as_deref().unwrap_or("card-bridge-a");
    let route = state.settings.routes.iter().find(|r| r.id == route_id);
    if route.is_none() {
        f.issue("routeId", "is not a configured route");
    }
    let issues = f.finish();
    let (Some(kind), Some(amount), true) = (kind, amount, issues.is_empty()) else {
        return Err(ApiError::validation(issues, None));
    };
    let example = payload(&PayloadParts {
        kind,
        session_id,
        customer_id,
        livemode: false,
        amount_cents: amount.cents(),
        currency: "USD",
        route,
        fees: route.map(|r| r.fees(amount.cents())),
        tx_hash: (kind == EventKind::Paid).then_some("0xabc123"),
        metadata,
        payment_id: Some("pay_abc123"),
        attempt: 1,
        failure_code: (kind == EventKind::Failed).then_some("card_declined"),
        now_ms: now_ms(),
    });
    Ok(HttpResponse::Ok().json(json!({"result": example})))
}

/// The agent API's entry points and what each action needs.
#[utoipa::path(get, path = "/api/agent/capabilities", tag = "Agent actions",
    responses((status = 200, description = "Entry points, webhook events, schema routes, actions, MCP tool descriptions, CLI commands and rules", body = Object)))]
pub async fn capabilities(state: web::Data<AppState>) -> HttpResponse {
    let base = &state.public_url;
    let actions: Vec<Value> = ACTIONS
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "method": "POST",
                "path": format!("/api/agent/actions/{}", a.name),
                "description": a.description,
                "needsApiKey": a.needs_key,
                "dryRun": a.dry_run,
                "schema": format!("{base}/api/agent/schema/{}", a.name),
            })
        })
        .collect();
    let tools: Vec<Value> = ACTIONS
        .iter()
        .map(|a| {
            json!({
                "name": a.tool,
                "description": format!(
                    "{} POST {base}/api/agent/actions/{}{}",
                    a.description,
                    a.name,
                    if a.needs_key { " with Authorization: Bearer sk_test_… (or sk_live_…)." } else { "." }
                ),
                "inputSchema": action_schema(&state, a),
                "annotations": {
                    "readOnlyHint": a.dry_run,
                    "destructiveHint": false,
                    "idempotentHint": true,
                    "openWorldHint": false,
                },
            })
        })
        .collect();
    let schema_routes: serde_json::Map<String, Value> = ACTIONS
        .iter()
        .map(|a| {
            (
                a.name.to_owned(),
                json!(format!("{base}/api/agent/schema/{}", a.name)),
            )
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "object": "agent_capabilities",
        "product": "Open Rails Checkout",
        "version": env!("CARGO_PKG_VERSION"),
        "entrypoints": {
            "api": format!("{base}/api/gateway"),
            "checkout": format!("{base}/checkout/{{sessionId}}"),
            "openapi": format!("{base}/api/openapi.json"),
            "capabilities": format!("{base}/api/agent/capabilities"),
            "schema": format!("{base}/api/agent/schema/{{action}}"),
            "actions": format!("{base}/api/agent/actions/{{action}}"),
        },
        "authentication": {
            "header": "Authorization: Bearer <key>",
            "sandboxKeyPrefix": "sk_test_",
            "productionKeyPrefix": "sk_live_",
            "howToGetAKey": "The server prints a sandbox key the first time it starts; create another with `openrails-checkout keys create --environment sandbox`.",
        },
        "environments": ["sandbox", "production"],
        "webhookEvents": EventKind::ALL.iter().map(|k| k.type_name()).collect::<Vec<_>>(),
        "webhookSignature": {
            "header": "x-gateway-signature",
            "format": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" with the endpoint's secret>",
            "toleranceSeconds": TOLERANCE_SECONDS,
        },
        "schemaRoutes": schema_routes,
        "actions": actions,
        "tools": tools,
        "cli": [
            "openrails-checkout serve",
            "openrails-checkout migrate",
            "openrails-checkout keys create --environment sandbox|production [--label L]",
            "openrails-checkout keys list",
            "openrails-checkout keys revoke <key id>",
            "openrails-checkout webhooks add <url> [--events e1,e2]",
            "openrails-checkout webhooks list",
            "openrails-checkout webhooks test <endpoint id>",
            "openrails-checkout webhooks replay <event id>",
            "openrails-checkout users create|list|disable|reset-password",
            "openrails-checkout preview export <folder>",
        ],
        "rules": [
            "Run checkout.preview and fees.estimate before checkout.create.",
            "Stay on environment \"sandbox\" (sk_test_ keys) until the merchant has production provider credentials.",
            "Always send idempotencyKey for order-backed checkouts; after a failure fix the body from the schema and retry once with the same key.",
            "Give redirectUrl per session when return pages are dynamic.",
            "Production activation and provider credentials need a human's approval.",
        ],
    }))
}

/// The JSON Schema of an action's body.
#[utoipa::path(get, path = "/api/agent/schema/{action}", tag = "Agent actions",
    params(("action" = String, Path, description = "`checkout.preview`, `checkout.create`, `fees.estimate`, `webhook.example` or `webhook.verify_sample`")),
    responses(
        (status = 200, description = "A JSON Schema (draft 2020-12) of the action's body", body = Object),
        (status = 404, description = "Unknown action", body = ErrorEnvelope),
    ))]
pub async fn schema(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let action = action(&name).ok_or_else(|| unknown(&name))?;
    Ok(HttpResponse::Ok().json(action_schema(&state, action)))
}

/// 404 for an action this server does not have.
fn unknown(name: &str) -> ApiError {
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "resource_missing",
        format!(
            "there is no agent action {name:?}; this server has {}",
            names.join(", ")
        ),
    )
    .with_suggestion("GET /api/agent/capabilities lists the actions and their schemas.")
}

/// An action this server does not have.
#[utoipa::path(post, path = "/api/agent/actions/{action}", tag = "Agent actions",
    params(("action" = String, Path, description = "Not one of the actions below")),
    responses((status = 404, description = "Unknown action", body = ErrorEnvelope)))]
pub async fn unknown_action(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Err(unknown(&name))
}

/// Dry run of `checkout.create`: the route that would be chosen, the fee split, nothing made.
#[utoipa::path(post, path = "/api/agent/actions/checkout.preview", tag = "Agent actions",
    request_body(content = super::schemas::CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`result`: the checkout that would be made, `dryRun: true`, `id` and `checkoutUrl` null", body = super::schemas::ActionResult),
        (status = 403, description = "The key's environment does not match `environment`", body = ErrorEnvelope),
    ),
    security(("api_key" = [])))]
pub async fn checkout_preview(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = dry_run(&state, &auth.0, &req, payload).await?;
    Ok(HttpResponse::Ok().json(json!({ "result": result })))
}

/// Dry run: the fee split of the route that would be chosen and of every route offered.
#[utoipa::path(post, path = "/api/agent/actions/fees.estimate", tag = "Agent actions",
    request_body(content = super::schemas::CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`result`: as `checkout.preview`, with `estimates` (every route offered, with its fee split)", body = super::schemas::ActionResult),
        (status = 403, description = "The key's environment does not match `environment`", body = ErrorEnvelope),
    ),
    security(("api_key" = [])))]
pub async fn fees_estimate(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut result = dry_run(&state, &auth.0, &req, payload).await?;
    let environment = auth.0.environment;
    let amount_cents = result["amountCents"].as_i64().unwrap_or_default();
    let estimates: Vec<Value> = offered(&state, environment)
        .map(|r| json!({"route": descriptor(r), "feeSplit": fee_split(r, amount_cents)}))
        .collect();
    result["estimates"] = json!(estimates);
    Ok(HttpResponse::Ok().json(json!({ "result": result })))
}

/// Creates the session, as `POST /api/gateway/sessions` does.
#[utoipa::path(post, path = "/api/agent/actions/checkout.create", tag = "Agent actions",
    request_body(content = super::schemas::CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`result`: the session made (or, for a repeated idempotencyKey and body, the one made before), `dryRun: false`", body = super::schemas::ActionResult),
        (status = 403, description = "The key's environment does not match `environment`", body = ErrorEnvelope),
        (status = 409, description = "idempotencyKey reused with a different body", body = ErrorEnvelope),
    ),
    security(("api_key" = [])))]
pub async fn checkout_create(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    let (row, replayed) = match create_from_body(&state, owner, body).await? {
        Made::Created(row) => (row, false),
        Made::Replayed(row) => (row, true),
    };
    let route = row
        .route_id
        .as_deref()
        .and_then(|id| state.settings.routes.iter().find(|r| r.id == id))
        .or_else(|| offered(&state, row.environment).next());
    let result = checkout_result(
        &state,
        owner,
        Checkout {
            id: Some(row.id.to_string()),
            product: row.product.clone(),
            amount_cents: row.amount_cents,
            customer: row.customer_email.clone(),
            route,
            redirect_url: row.redirect_url.clone(),
            environment: row.environment,
            dry_run: false,
            idempotency_key: row.idempotency_key.clone(),
            client_reference_id: row.client_reference_id.clone(),
        },
    )
    .await?;
    let mut response = HttpResponse::Ok();
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(json!({ "result": result })))
}

/// What a checkout action answers about.
struct Checkout<'a> {
    id: Option<String>,
    product: String,
    amount_cents: i64,
    customer: String,
    route: Option<&'a PaymentRoute>,
    redirect_url: Option<String>,
    environment: Environment,
    dry_run: bool,
    idempotency_key: Option<String>,
    client_reference_id: Option<String>,
}

/// Reads and checks a checkout body as a session create would, and answers what it would make.
async fn dry_run(
    state: &AppState,
    owner: &KeyOwner,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Value, ApiError> {
    let body = read_json_object(req, payload, state.settings.max_body_bytes).await?;
    let (input, environment) = parse_for_key(state, owner, body)?;
    // The same choice a session create makes; without a preferred kind, the route the page
    // lists first.
    let route = match session_route(
        &state.settings.routes,
        &state.providers,
        input.preferred_route,
        environment,
    ) {
        Ok(route) => route.or_else(|| offered(state, environment).next()),
        Err(Creation::RouteUnavailable(kind)) => return Err(route_unavailable(kind, environment)),
        Err(_) => return Err(no_route_configured(environment)),
    };
    checkout_result(
        state,
        owner,
        Checkout {
            id: None,
            product: input.product.as_str().to_owned(),
            amount_cents: input.amount.cents(),
            customer: input.customer.as_str().to_owned(),
            route,
            redirect_url: input.redirect_url.map(|u| u.as_str().to_owned()),
            environment,
            dry_run: true,
            idempotency_key: input.idempotency_key,
            client_reference_id: input.client_reference_id,
        },
    )
    .await
}

/// The routes a buyer could pay by in `environment`, in the order the page lists them.
fn offered(state: &AppState, environment: Environment) -> impl Iterator<Item = &PaymentRoute> {
    state
        .settings
        .routes
        .iter()
        .filter(move |r| r.offered_in(environment) && state.providers.get(&r.integration).is_some())
}

/// The reference's result object.
async fn checkout_result(
    state: &AppState,
    owner: &KeyOwner,
    c: Checkout<'_>,
) -> Result<Value, ApiError> {
    let merchant = merchant_name(&state.db.read, &owner.merchant_id)
        .await?
        .unwrap_or_default();
    Ok(json!({
        "id": c.id,
        "merchant": merchant,
        "product": c.product,
        "amount": Amount::from_cents(c.amount_cents).to_json(),
        "amountCents": c.amount_cents,
        "customer": c.customer,
        "route": c.route.map(descriptor),
        "feeSplit": c.route.map(|r| fee_split(r, c.amount_cents)),
        "checkoutUrl": c.id.as_ref().map(|id| format!("{}/checkout/{id}", state.public_url)),
        "redirectUrl": c.redirect_url,
        "environment": c.environment.as_str(),
        "dryRun": c.dry_run,
        "idempotencyKey": c.idempotency_key,
        "clientReferenceId": c.client_reference_id,
    }))
}

/// A route's descriptor, with the reference's field names. `score`, `providerCostRate` and
/// `kycPolicy` are `null`: this server ranks routes by their order in its configuration and
/// knows neither providers' costs nor their KYC rules.
fn descriptor(route: &PaymentRoute) -> Value {
    json!({
        "id": route.id,
        "kind": route.kind.as_str(),
        "label": route.label,
        "integrationId": route.integration,
        "integrationLabel": route.provider,
        "network": route.network,
        "asset": route.asset,
        "score": null,
        "payerLabel": route.label,
        "eta": route.eta,
        "buyerFeeRate": route.buyer_fee_rate,
        "gatewayFeeRate": route.gateway_fee_rate,
        "providerCostRate": null,
        "kycPolicy": null,
    })
}

/// `feeSplit`: camelCase, in dollars.
fn fee_split(route: &PaymentRoute, amount_cents: i64) -> Value {
    let fees = route.fees(amount_cents);
    json!({
        "buyerFee": Amount::from_cents(fees.buyer_fee).to_json(),
        "gatewayFee": Amount::from_cents(fees.gateway_fee).to_json(),
        "merchantNet": Amount::from_cents(fees.merchant_net).to_json(),
        "total": Amount::from_cents(fees.total).to_json(),
    })
}

/// 9999-12-31T23:59:59Z.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// Checks a webhook's signature as a merchant's endpoint should.
#[utoipa::path(post, path = "/api/agent/actions/webhook.verify_sample", tag = "Agent actions",
    request_body(content = super::schemas::WebhookVerifySampleRequest, content_type = "application/json"),
    responses((status = 200, description = "`result`: `valid`, and when not, `code` and `reason`", body = super::schemas::ActionResult)))]
pub async fn webhook_verify_sample(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    let mut f = Fields::new(&body, &["payload", "signature", "secret", "at"]);
    let sample = f.required::<String>("payload");
    let header = f.required::<String>("signature");
    let secret = f.required::<String>("secret");
    let at = f.optional_raw("at");
    let at = f.check("at", at, |raw| match whole_number(raw) {
        Some(t) if (0..=MAX_UNIX_SECONDS).contains(&t) => Ok(t),
        _ => Err("must be Unix seconds between 0 and 253402300799 (the year 9999)"),
    });
    // The schema's bounds (`WebhookVerifySampleRequest`), in characters as JSON Schema counts.
    for (name, value, max) in [
        ("payload", &sample, 60_000),
        ("signature", &header, 2_000),
        ("secret", &secret, 500),
    ] {
        if value.as_deref().is_some_and(|v| v.chars().count() > max) {
            f.issue(name, format!("must be at most {max} characters"));
        }
    }
    if secret.as_deref().is_some_and(str::is_empty) {
        f.issue("secret", "must not be empty");
    }
    if at.is_some_and(|t| !(0..=MAX_UNIX_SECONDS).contains(&t)) {
        f.issue(
            "at",
            "must be Unix seconds between 0 and 253402300799 (the year 9999)",
        );
    }
    let issues = f.finish();
    let (Some(sample), Some(header), Some(secret), true) =
        (sample, header, secret, issues.is_empty())
    else {
        return Err(ApiError::validation(
            issues,
            Some("Send payload (the raw body, as a string), signature (the x-gateway-signature header) and secret (the endpoint's secret).".into()),
        ));
    };
    let now = at.unwrap_or_else(|| now_ms() / 1000);
    let verdict = signature::verify(secret.as_bytes(), Some(&header), sample.as_bytes(), now);
    let timestamp = header
        .split(',')
        .find_map(|p| p.trim().strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok());
    let signatures = header
        .split(',')
        .filter(|p| p.trim().starts_with("v1="))
        .count();
    let (code, reason) = match verdict {
        Ok(()) => (None, None),
        Err(e) => (
            Some(match e {
                SignatureError::Missing => "missing",
                SignatureError::Malformed => "malformed",
                SignatureError::Stale => "stale",
                SignatureError::Mismatch => "mismatch",
            }),
            Some(match e {
                SignatureError::Stale => format!(
                    "{e}: t is {} s from the time checked ({now}); at most {TOLERANCE_SECONDS} s is accepted",
                    timestamp.map_or(0, |t| now.abs_diff(t))
                ),
                SignatureError::Mismatch => format!(
                    "{e}: no v1 is the HMAC-SHA256 of \"<t>.<payload>\" with this secret; check that payload is the raw body byte for byte and that the secret is this endpoint's"
                ),
                other => other.to_string(),
            }),
        ),
    };
    Ok(HttpResponse::Ok().json(json!({"result": {
        "valid": verdict.is_ok(),
        "code": code,
        "reason": reason,
        "timestamp": timestamp,
        "checkedAt": now,
        "toleranceSeconds": TOLERANCE_SECONDS,
        "signatures": signatures,
        "expectedSignature": timestamp.map(|t| signature::sign(secret.as_bytes(), t, sample.as_bytes())),
    }})))
}
