//! Creating a session: Stripe's parameters, checked as Stripe checks them.

use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::form::{hash, integer, list, string};
use super::{Item, MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS, SUPPORTED_METHODS};

/// The top-level parameters of `SessionCreateParams` in Stripe's official libraries, and
/// `payment_method_types`, which older API versions take.
const KNOWN_PARAMS: &str = "\
    adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types \
    automatic_tax billing_address_collection branding_settings cancel_url \
    client_reference_id consent_collection currency custom_fields custom_text customer \
    customer_account customer_creation customer_email customer_update discounts \
    excluded_payment_method_types expand expires_at integration_identifier invoice_creation \
    line_items locale managed_payments metadata mode name_collection optional_items \
    origin_context payment_intent_data payment_method_collection \
    payment_method_configuration payment_method_data payment_method_options \
    payment_method_types permissions phone_number_collection redirect_on_completion \
    return_url saved_payment_method_options setup_intent_data shipping_address_collection \
    shipping_options submit_type subscription_data success_url tax_id_collection ui_mode \
    wallet_options";

/// The payment method types Stripe knows (from the same libraries).
const KNOWN_METHODS: &str = "\
    acss_debit affirm afterpay_clearpay alipay alma amazon_pay au_becs_debit bacs_debit \
    bancontact billie bizum blik boleto card cashapp crypto customer_balance eps fpx giropay \
    grabpay ideal kakao_pay klarna konbini kr_card link mb_way mobilepay multibanco \
    naver_pay nz_bank_account oxxo p24 pay_by_bank payco paynow paypal paypay payto pix \
    promptpay revolut_pay samsung_pay satispay scalapay sepa_debit sequra sofort sunbit \
    swish twint upi us_bank_account wechat_pay zip";

/// Currencies without minor units, and with three.
const ZERO_DECIMAL: &str = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf";
const THREE_DECIMAL: &str = "bhd jod kwd omr tnd";

/// Whether `word` is one of the space-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// The amount as a buyer reads it: `119.72 USD`.
pub fn display_amount(amount: i64, currency: &str) -> String {
    let upper = currency.to_uppercase();
    let decimals = if listed(ZERO_DECIMAL, currency) {
        0
    } else if listed(THREE_DECIMAL, currency) {
        3
    } else {
        2
    };
    if decimals == 0 {
        return format!("{amount} {upper}");
    }
    let scale = 10i64.pow(decimals);
    let sign = if amount < 0 { "-" } else { "" };
    let amount = amount.abs();
    format!(
        "{sign}{}.{:0width$} {upper}",
        amount / scale,
        amount % scale,
        width = decimals as usize
    )
}

/// A request to create a session, parsed.
pub struct NewSession {
    pub items: Vec<Item>,
    pub currency: String,
    pub amount_total: i64,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub expires_at: i64,
    pub payment_method_types: Vec<String>,
    /// No list of payment method types was given: Stripe picks them (dynamic payment
    /// methods), and a payment method configuration shows in the object.
    pub dynamic_methods: bool,
    pub locale: Option<String>,
    pub submit_type: Option<String>,
    pub billing_address_collection: Option<String>,
}

pub fn parse(params: &Map<String, Value>, now: i64) -> Result<NewSession, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !listed(KNOWN_PARAMS, k)) {
        return Err(ApiError::unknown(unknown));
    }
    match string(params, "mode", "mode")?.as_deref() {
        None => return Err(ApiError::missing("mode")),
        Some("payment") => {}
        Some("setup" | "subscription") => {
            return Err(
                ApiError::invalid("This stand-in of Stripe supports mode=payment only.")
                    .param("mode"),
            );
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid mode: must be one of payment, setup, or subscription (got {other})"
            ))
            .param("mode"));
        }
    }
    if let Some(ui_mode) = string(params, "ui_mode", "ui_mode")?
        && !matches!(ui_mode.as_str(), "hosted" | "hosted_page")
    {
        return Err(ApiError::invalid(
            "This stand-in of Stripe supports the hosted page only (ui_mode=hosted).",
        )
        .param("ui_mode"));
    }
    let (items, currency) = line_items(params)?;
    if let Some(given) = string(params, "currency", "currency")?
        && given.to_lowercase() != currency
    {
        return Err(ApiError::invalid(format!(
            "The currency of the line items ({currency}) does not match the currency \
             provided ({given})."
        ))
        .param("currency"));
    }
    let amount_total = items
        .iter()
        .try_fold(0i64, |total, item| {
            item.unit_amount
                .checked_mul(item.quantity)
                .and_then(|amount| total.checked_add(amount))
        })
        .filter(|total| *total <= 99_999_999)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "The Checkout Session's total amount due must be no more than {}",
                display_amount(99_999_999, &currency)
            ))
            .code("amount_too_large")
        })?;
    if currency == "usd" && amount_total < 50 {
        return Err(ApiError::invalid(
            "The Checkout Session's total amount due must add up to at least $0.50 usd",
        )
        .code("amount_too_small"));
    }
    let success_url = url_param(params, "success_url")?.ok_or(ApiError::missing("success_url"))?;
    let cancel_url = url_param(params, "cancel_url")?;
    let customer_email = string(params, "customer_email", "customer_email")?;
    if let Some(email) = &customer_email
        && !plausible_email(email)
    {
        return Err(ApiError::invalid(format!("Invalid email address: {email}"))
            .code("email_invalid")
            .param("customer_email"));
    }
    let client_reference_id = string(params, "client_reference_id", "client_reference_id")?;
    if let Some(reference) = &client_reference_id
        && reference.chars().count() > 200
    {
        return Err(ApiError::invalid(
            "Invalid string: client_reference_id must be at most 200 characters",
        )
        .code("string_length_too_long")
        .param("client_reference_id"));
    }
    let metadata = metadata(params)?;
    let expires_at = match integer(params, "expires_at", "expires_at")? {
        None => now + MAX_EXPIRY_SECONDS,
        Some(at) if at < now + MIN_EXPIRY_SECONDS => {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout \
                 Session creation.",
            )
            .param("expires_at"));
        }
        Some(at) if at > now + MAX_EXPIRY_SECONDS => {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be less than 24 hours from Checkout \
                 Session creation.",
            )
            .param("expires_at"));
        }
        Some(at) => at,
    };
    let (payment_method_types, dynamic_methods) = payment_method_types(params, &currency)?;
    Ok(NewSession {
        items,
        currency,
        amount_total,
        success_url,
        cancel_url,
        customer_email,
        client_reference_id,
        metadata,
        expires_at,
        payment_method_types,
        dynamic_methods,
        locale: string(params, "locale", "locale")?,
        submit_type: string(params, "submit_type", "submit_type")?,
        billing_address_collection: string(
            params,
            "billing_address_collection",
            "billing_address_collection",
        )?,
    })
}

fn plausible_email(email: &str) -> bool {
    email.len() <= 512
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

fn url_param(params: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    let Some(url) = string(params, name, name)? else {
        return Ok(None);
    };
    let valid = url.len() <= 5000
        && url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !valid {
        return Err(ApiError::invalid("Not a valid URL")
            .code("url_invalid")
            .param(name));
    }
    Ok(Some(url))
}

fn line_items(params: &Map<String, Value>) -> Result<(Vec<Item>, String), ApiError> {
    let given = params
        .get("line_items")
        .ok_or(ApiError::missing("line_items"))?;
    let entries =
        list(given).ok_or_else(|| ApiError::invalid("Invalid array").param("line_items"))?;
    if entries.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    if entries.len() > 100 {
        return Err(
            ApiError::invalid("line_items must have at most 100 items in payment mode.")
                .param("line_items"),
        );
    }
    let mut items = Vec::new();
    let mut currency: Option<String> = None;
    for (index, entry) in entries {
        let at = format!("line_items[{index}]");
        let Value::Object(entry) = entry else {
            return Err(ApiError::invalid(format!("Invalid hash: {at}")).param(at));
        };
        for key in entry.keys() {
            if !matches!(
                key.as_str(),
                "adjustable_quantity"
                    | "dynamic_tax_rates"
                    | "metadata"
                    | "price"
                    | "price_data"
                    | "quantity"
                    | "tax_rates"
            ) {
                return Err(ApiError::unknown(&format!("{at}[{key}]")));
            }
        }
        if let Some(price) = string(entry, "price", &format!("{at}[price]"))? {
            return Err(ApiError::invalid(format!("No such price: '{price}'"))
                .code("resource_missing")
                .param(format!("{at}[price]")));
        }
        let price_data = hash(entry, "price_data")?.ok_or_else(|| {
            ApiError::invalid(format!(
                "You must specify either `price` or `price_data` in {at}."
            ))
            .code("parameter_missing")
            .param(format!("{at}[price_data]"))
        })?;
        let (item, item_currency) = price_item(price_data, entry, &at)?;
        match &currency {
            None => currency = Some(item_currency),
            Some(first) if *first != item_currency => {
                return Err(
                    ApiError::invalid("Line items must all have the same currency.")
                        .param(format!("{at}[price_data][currency]")),
                );
            }
            Some(_) => {}
        }
        items.push(item);
    }
    let currency = currency.unwrap_or_default();
    Ok((items, currency))
}

fn price_item(
    price_data: &Map<String, Value>,
    entry: &Map<String, Value>,
    at: &str,
) -> Result<(Item, String), ApiError> {
    let pd = format!("{at}[price_data]");
    if price_data.contains_key("recurring") {
        return Err(ApiError::invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to \
             `subscription` mode or use only one-time prices.",
        )
        .param(format!("{pd}[recurring]")));
    }
    let currency = string(price_data, "currency", &format!("{pd}[currency]"))?
        .ok_or_else(|| ApiError::missing(&format!("{pd}[currency]")))?
        .to_lowercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(ApiError::invalid(format!("Invalid currency: {currency}."))
            .param(format!("{pd}[currency]")));
    }
    if let Some(product) = string(price_data, "product", &format!("{pd}[product]"))? {
        return Err(ApiError::invalid(format!("No such product: '{product}'"))
            .code("resource_missing")
            .param(format!("{pd}[product]")));
    }
    let product = hash(price_data, "product_data")?
        .ok_or_else(|| ApiError::missing(&format!("{pd}[product_data]")))?;
    let name = string(product, "name", &format!("{pd}[product_data][name]"))?
        .ok_or_else(|| ApiError::missing(&format!("{pd}[product_data][name]")))?;
    if price_data.contains_key("unit_amount_decimal") {
        return Err(ApiError::invalid(
            "This stand-in of Stripe takes unit_amount, not unit_amount_decimal.",
        )
        .param(format!("{pd}[unit_amount_decimal]")));
    }
    let unit_amount = integer(price_data, "unit_amount", &format!("{pd}[unit_amount]"))?
        .ok_or_else(|| ApiError::missing(&format!("{pd}[unit_amount]")))?;
    if unit_amount < 0 {
        return Err(
            ApiError::invalid("This value must be greater than or equal to 0.")
                .param(format!("{pd}[unit_amount]")),
        );
    }
    let quantity = integer(entry, "quantity", &format!("{at}[quantity]"))?
        .ok_or_else(|| ApiError::missing(&format!("{at}[quantity]")))?;
    if quantity < 1 {
        return Err(
            ApiError::invalid("This value must be greater than or equal to 1.")
                .param(format!("{at}[quantity]")),
        );
    }
    Ok((
        Item {
            name,
            quantity,
            unit_amount,
        },
        currency,
    ))
}

fn metadata(params: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let Some(given) = hash(params, "metadata")? else {
        return Ok(out);
    };
    for (key, value) in given {
        let Value::String(value) = value else {
            return Err(ApiError::invalid(format!(
                "Invalid metadata: metadata[{key}] must be a string"
            ))
            .param(format!("metadata[{key}]")));
        };
        if key.chars().count() > 40 {
            return Err(ApiError::invalid(
                "Invalid metadata: keys can be a maximum of 40 characters.",
            )
            .param("metadata"));
        }
        if value.chars().count() > 500 {
            return Err(ApiError::invalid(
                "Invalid metadata: values can be a maximum of 500 characters.",
            )
            .param(format!("metadata[{key}]")));
        }
        // An empty value unsets a key.
        if !value.is_empty() {
            out.insert(key.clone(), json!(value));
        }
    }
    if out.len() > 50 {
        return Err(
            ApiError::invalid("Invalid metadata: metadata can have at most 50 keys.")
                .param("metadata"),
        );
    }
    Ok(out)
}

fn payment_method_types(
    params: &Map<String, Value>,
    currency: &str,
) -> Result<(Vec<String>, bool), ApiError> {
    let name = match (
        params.contains_key("payment_method_types"),
        params.contains_key("allowed_payment_method_types"),
    ) {
        (true, true) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: allowed_payment_method_types, \
                 payment_method_types.",
            )
            .code("parameters_exclusive")
            .param("payment_method_types"));
        }
        (true, false) => "payment_method_types",
        (false, true) => "allowed_payment_method_types",
        (false, false) => return Ok((vec!["card".to_owned()], true)),
    };
    let entries = params
        .get(name)
        .and_then(list)
        .ok_or_else(|| ApiError::invalid("Invalid array").param(name))?;
    let mut methods: Vec<String> = Vec::new();
    for (index, value) in entries {
        let method = value.as_str().unwrap_or_default();
        if !listed(KNOWN_METHODS, method) {
            return Err(ApiError::invalid(format!(
                "Invalid {name}[{index}]: must be one of {}",
                KNOWN_METHODS
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .param(format!("{name}[{index}]")));
        }
        if !SUPPORTED_METHODS.contains(&method) {
            return Err(ApiError::invalid(format!(
                "The payment method type provided: {method} is invalid. Please ensure the \
                 provided type is activated in your dashboard \
                 (https://dashboard.stripe.com/account/payments/settings) and your account \
                 is enabled for any preview features that you are trying to use."
            ))
            .param(name));
        }
        if method == "us_bank_account" && currency != "usd" {
            return Err(ApiError::invalid(format!(
                "The currency provided ({currency}) is invalid. Payments with \
                 us_bank_account support the following currencies: usd."
            ))
            .param(name));
        }
        if !methods.iter().any(|m| m == method) {
            methods.push(method.to_owned());
        }
    }
    if methods.is_empty() {
        return Err(ApiError::missing(name));
    }
    Ok((methods, false))
}
