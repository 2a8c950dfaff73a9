//! The objects, shaped as Stripe's OpenAPI fixtures show them.

use serde_json::{Value, json};

use super::create::NewSession;
use super::new_id;

pub fn session(id: &str, new: &NewSession, livemode: bool, page_url: &str, created: i64) -> Value {
    let configuration = if new.dynamic_methods {
        json!({"id": new_id("pmc_", 24), "parent": null})
    } else {
        Value::Null
    };
    json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": false},
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": new.amount_total,
        "amount_total": new.amount_total,
        "automatic_tax": {
            "enabled": false, "liability": null, "provider": null, "status": null
        },
        "billing_address_collection": new.billing_address_collection,
        "cancel_url": new.cancel_url,
        "client_reference_id": new.client_reference_id,
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": new.currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null
        },
        "customer": null,
        "customer_account": null,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": new.customer_email,
        "discounts": [],
        "expires_at": new.expires_at,
        "integration_identifier": null,
        "invoice": null,
        "invoice_creation": {
            "enabled": false,
            "invoice_data": {
                "account_tax_ids": null,
                "custom_fields": null,
                "description": null,
                "footer": null,
                "issuer": null,
                "metadata": {},
                "rendering_options": null
            }
        },
        "livemode": livemode,
        "locale": new.locale,
        "managed_payments": {"enabled": false},
        "metadata": new.metadata,
        "mode": "payment",
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": configuration,
        "payment_method_options": {},
        "payment_method_types": new.payment_method_types,
        "payment_status": "unpaid",
        "permissions": null,
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": new.submit_type,
        "subscription": null,
        "success_url": new.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": page_url,
        "wallet_options": null
    })
}

/// What Checkout collected from the buyer.
pub fn customer_details(email: &str) -> Value {
    json!({
        "address": {
            "city": null, "country": "US", "line1": null, "line2": null,
            "postal_code": "94103", "state": null
        },
        "business_name": null,
        "email": email,
        "individual_name": null,
        "name": "Test Buyer",
        "phone": null,
        "tax_exempt": "none",
        "tax_ids": []
    })
}

pub fn collected_information() -> Value {
    json!({"business_name": null, "individual_name": null, "shipping_details": null})
}

/// An event about `object` (a copy of it at this moment).
pub fn event(
    id: &str,
    kind: &str,
    object: &Value,
    api_version: &str,
    pending_webhooks: u32,
    request: (Option<&str>, Option<&str>),
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": {"object": object},
        "livemode": object["livemode"],
        "pending_webhooks": pending_webhooks,
        "request": {"id": request.0, "idempotency_key": request.1},
        "type": kind
    })
}
