//! Shared by the checkout tests: a buyer that follows the hosted pages' forms by hand, the way a
//! browser without JavaScript would (GET the page, read the form's action and hidden token,
//! POST it from our own origin, follow the `303` itself), and readers of the stored records.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const CARD_ROUTE: &str = "card-bridge-a";
pub const WALLET_ROUTE: &str = "wallet-usdc-base";
pub const LOCAL_ROUTE: &str = "local-bank-transfer";

pub const CARD_PAYS: &str = "4242 4242 4242 4242";
pub const CARD_DECLINED: &str = "4000 0000 0000 0002";
pub const CARD_NO_FUNDS: &str = "4000 0000 0000 9995";
pub const CARD_CHALLENGE: &str = "4000 0027 6000 3184";
pub const CARD_DELAYED: &str = "4000 0000 0000 0077";

/// A future expiry (MM/YY).
pub const FUTURE_EXPIRY: &str = "12/40";

pub const REDIRECT: &str = "https://merchant.example/success?order=ord_284";

/// The body of a session the checkout tests pay: the seed page's example with `redirectUrl`.
pub fn checkout_body(amount: f64, redirect_url: Option<&str>) -> Value {
    let mut body = json!({
        "product": "Creator plan",
        "amount": amount,
        "customer": "buyer@example.com",
        "preferredRoute": "card",
        "metadata": {"order_id": "ord_284"}
    });
    if let Some(url) = redirect_url {
        body["redirectUrl"] = json!(url);
    }
    body
}

/// Creates a session with the sandbox key and returns its id.
pub async fn create_checkout(app: &TestApp, body: &Value) -> String {
    let created = app.create_session(body).await;
    created["id"].as_str().unwrap().to_owned()
}

/// A client that behaves like a browser tab for our purposes: redirects are followed by hand.
pub fn browser() -> reqwest::Client {
    browser_builder().build().unwrap()
}

fn browser_builder() -> reqwest::ClientBuilder {
    openrails_checkout::crypto::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// Undoes the HTML escaping of an attribute or text.
pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
}

/// A rendered page.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub async fn read(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let html = response.text().await.unwrap();
        Page {
            status,
            headers,
            html,
        }
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    /// The value of the first `attr="…"` after `from`, unescaped.
    fn attribute_after(&self, from: usize, attr: &str) -> Option<String> {
        let needle = format!("{attr}=\"");
        let start = self.html[from..].find(&needle)? + from + needle.len();
        let end = self.html[start..].find('"')? + start;
        Some(unescape(&self.html[start..end]))
    }

    /// Whether the page has any form.
    pub fn has_form(&self) -> bool {
        self.html.contains("<form")
    }

    /// The action of the (first) form.
    pub fn form_action(&self) -> String {
        let at = self
            .html
            .find("<form")
            .unwrap_or_else(|| panic!("the page has no form:\n{}", self.html));
        self.attribute_after(at, "action")
            .unwrap_or_else(|| panic!("the form has no action:\n{}", self.html))
    }

    /// The value of the input named `name` (e.g. the hidden token).
    pub fn input_value(&self, name: &str) -> String {
        let at = self
            .html
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("no input named {name}:\n{}", self.html));
        let tag_start = self.html[..at].rfind('<').unwrap();
        self.attribute_after(tag_start, "value")
            .unwrap_or_else(|| panic!("the input {name} has no value:\n{}", self.html))
    }

    /// The values of the radio buttons named `name`.
    pub fn radio_values(&self, name: &str) -> Vec<String> {
        let needle = format!("name=\"{name}\"");
        let mut values = Vec::new();
        let mut from = 0;
        while let Some(i) = self.html[from..].find(&needle) {
            let at = from + i;
            let tag_start = self.html[..at].rfind('<').unwrap();
            let tag_end = self.html[at..].find('>').unwrap() + at;
            let tag = &self.html[tag_start..tag_end];
            if tag.contains("type=\"radio\"")
                && let Some(v) = self.attribute_after(tag_start, "value")
            {
                values.push(v);
            }
            from = tag_end;
        }
        values
    }

    /// The buttons' values for the field `name` (`<button name="action" value="…">`).
    pub fn button_values(&self, name: &str) -> Vec<String> {
        let needle = format!("name=\"{name}\"");
        let mut values = Vec::new();
        let mut from = 0;
        while let Some(i) = self.html[from..].find(&needle) {
            let at = from + i;
            let tag_start = self.html[..at].rfind('<').unwrap();
            let tag_end = self.html[at..].find('>').unwrap() + at;
            if self.html[tag_start..].starts_with("<button")
                && let Some(v) = self.attribute_after(tag_start, "value")
            {
                values.push(v);
            }
            from = tag_end;
        }
        values
    }

    /// The content of `<meta http-equiv="refresh" content="…">`, unescaped.
    pub fn refresh(&self) -> Option<String> {
        let at = self.html.find("http-equiv=\"refresh\"")?;
        self.attribute_after(at, "content")
    }

    /// The href of the "Return to …" link, unescaped.
    pub fn return_href(&self) -> Option<String> {
        self.html
            .match_indices(">Return to ")
            .find_map(|(text, _)| {
                let tag_start = self.html[..text].rfind('<')?;
                self.html[tag_start..]
                    .starts_with("<a ")
                    .then(|| self.attribute_after(tag_start, "href"))
                    .flatten()
            })
    }

    /// The action and token of the form whose action ends with `suffix`.
    pub fn form_ending(&self, suffix: &str) -> Option<(String, String)> {
        self.html.match_indices("<form").find_map(|(at, _)| {
            let action = self.attribute_after(at, "action")?;
            if !action.split('?').next().unwrap_or("").ends_with(suffix) {
                return None;
            }
            let token_at = self.html[at..].find("name=\"token\"")? + at;
            let tag_start = self.html[..token_at].rfind('<')?;
            Some((action, self.attribute_after(tag_start, "value")?))
        })
    }
}

/// A buyer on one checkout page, with a browser of their own.
pub struct Buyer {
    /// The server's `http://127.0.0.1:<port>`.
    pub address: String,
    pub id: String,
    pub client: reqwest::Client,
}

impl Buyer {
    pub fn new(app: &TestApp, id: &str) -> Buyer {
        Buyer::at(&app.address, id)
    }

    /// A buyer whose browser asks for `language` (`Accept-Language`).
    pub fn speaking(app: &TestApp, id: &str, language: &str) -> Buyer {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("accept-language", language.parse().unwrap());
        Buyer {
            client: browser_builder().default_headers(headers).build().unwrap(),
            ..Buyer::new(app, id)
        }
    }

    /// A buyer of the server at `address` (e.g. the real binary in a process of its own).
    pub fn at(address: &str, id: &str) -> Buyer {
        Buyer {
            address: address.to_owned(),
            id: id.to_owned(),
            client: browser(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn page_path(&self) -> String {
        format!("/checkout/{}", self.id)
    }

    /// `GET /checkout/{id}`.
    pub async fn open(&self) -> Page {
        let response = self
            .client
            .get(self.url(&self.page_path()))
            .send()
            .await
            .unwrap();
        Page::read(response).await
    }

    /// A same-origin form post (as the browser sends it from our page).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.try_post_form(path, fields).await.unwrap()
    }

    /// [`Buyer::post_form`], for a post that may get no answer (the server dies meanwhile).
    pub async fn try_post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        self.form_request(path, fields, &[("Origin", self.address.as_str())])
            .send()
            .await
    }

    /// A form post with exactly these extra headers.
    pub async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        self.form_request(path, fields, headers)
            .send()
            .await
            .unwrap()
    }

    fn form_request(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    /// Checks that `response` is the `303` back to the checkout page.
    pub async fn assert_see_other(&self, response: reqwest::Response) {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await.unwrap();
        assert_eq!(status, 303, "a form post answers 303; body: {text}");
        assert_eq!(
            location,
            self.page_path(),
            "a form post sends the buyer back to the checkout page"
        );
    }

    /// Submits the form of `page` with its token and `fields`, checks the `303` and follows it.
    pub async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let action = page.form_action();
        let token = page.input_value("token");
        let mut all = vec![("token", token.as_str())];
        all.extend_from_slice(fields);
        let response = self.post_form(&action, &all).await;
        self.assert_see_other(response).await;
        self.open().await
    }

    /// Chooses `route` on the checkout page.
    pub async fn choose(&self, route: &str) -> Page {
        let page = self.open().await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(
            page.form_action().ends_with("/start"),
            "the checkout page starts with choosing a route:\n{}",
            page.html
        );
        assert!(
            page.radio_values("route").iter().any(|r| r == route),
            "the page offers {route}: {:?}",
            page.radio_values("route")
        );
        self.submit(&page, &[("route", route)]).await
    }

    /// Fills in the card form (already shown) with `number`.
    pub async fn pay_with_card(&self, number: &str) -> Page {
        let page = self.open().await;
        assert!(
            page.form_action().ends_with("/card"),
            "the card form is shown:\n{}",
            page.html
        );
        self.submit(
            &page,
            &[
                ("number", number),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada Buyer"),
            ],
        )
        .await
    }

    /// Chooses the card route and pays with `number`.
    pub async fn card_checkout(&self, number: &str) -> Page {
        let card_form = self.choose(CARD_ROUTE).await;
        assert!(
            card_form.html.contains("autocomplete=\"cc-number\""),
            "choosing the card route shows the card form:\n{}",
            card_form.html
        );
        self.pay_with_card(number).await
    }

    /// Presses the button with `value` in the page's form (`action=…`).
    pub async fn press(&self, value: &str) -> Page {
        let page = self.open().await;
        assert!(
            page.button_values("action").iter().any(|v| v == value),
            "the page offers the button {value}: {:?}\n{}",
            page.button_values("action"),
            page.html
        );
        self.submit(&page, &[("action", value)]).await
    }

    /// Gives up after a failed payment: posts the page's "return to the merchant" form. The
    /// answer is the failed page itself (sending the buyer on at once) when the session has a
    /// `redirectUrl`, else the `303` to the failed page, followed.
    pub async fn leave(&self, page: &Page) -> Page {
        let (action, token) = page
            .form_ending("/leave")
            .unwrap_or_else(|| panic!("the page offers no way back:\n{}", page.html));
        let response = self.post_form(&action, &[("token", &token)]).await;
        if response.status().as_u16() == 303 {
            self.assert_see_other(response).await;
            return self.open().await;
        }
        Page::read(response).await
    }

    /// `GET /checkout/{id}/status`.
    pub async fn status_json(&self) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/checkout/{}/status", self.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }
}

/// `SELECT COUNT(*) …` with one bound parameter.
pub async fn count_where(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(id)
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

pub async fn payment_count(app: &TestApp, session_id: &str) -> i64 {
    count_where(
        app,
        "SELECT COUNT(*) FROM payments WHERE session_id = $1",
        session_id,
    )
    .await
}

pub async fn invoice_count(app: &TestApp, session_id: &str) -> i64 {
    count_where(
        app,
        "SELECT COUNT(*) FROM invoices WHERE session_id = $1",
        session_id,
    )
    .await
}

/// One stored event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub kind: String,
    pub payload: Value,
    pub raw: String,
}

/// The events of a session, by id.
pub async fn events_of(app: &TestApp, session_id: &str) -> Vec<StoredEvent> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, type, payload FROM events WHERE session_id = $1 ORDER BY id")
            .bind(session_id)
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(id, kind, raw)| StoredEvent {
            payload: serde_json::from_str(&raw)
                .unwrap_or_else(|e| panic!("event {id} has a payload that is not JSON ({e})")),
            id,
            kind,
            raw,
        })
        .collect()
}

/// The ids of a session's events, sorted.
pub async fn event_ids(app: &TestApp, session_id: &str) -> Vec<String> {
    let mut ids: Vec<String> = events_of(app, session_id)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

/// Every text of the session's payment row, as one string (to look for what must not be stored).
pub async fn payment_row_text(app: &TestApp, session_id: &str) -> String {
    let session_id = openrails_checkout::domain::SessionId::parse(session_id).unwrap();
    let row = openrails_checkout::db::payments::get_payment_by_session(&app.db.read, &session_id)
        .await
        .unwrap();
    format!("{row:?}")
}

/// A JSON GET with the sandbox key that must answer 200.
pub async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The payment of a session, through the merchant API (`chk_…` lookup).
pub async fn api_payment(app: &TestApp, session_id: &str) -> Value {
    get_json(app, &format!("/api/gateway/payments/{session_id}")).await
}

pub async fn api_invoice(app: &TestApp, invoice_id: &str) -> Value {
    get_json(app, &format!("/api/gateway/invoices/{invoice_id}")).await
}

pub async fn api_session(app: &TestApp, session_id: &str) -> Value {
    get_json(app, &format!("/api/gateway/sessions/{session_id}")).await
}

/// `REDIRECT` (or `redirect`) as the buyer is sent back to it.
pub fn expected_return(redirect: &str, session_id: &str, status: &str) -> String {
    let url = redirect.replace("{CHECKOUT_SESSION_ID}", session_id);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}checkout_session_id={session_id}&status={status}")
}

/// Checks the page after a failed payment while the session is open: why it failed, a way to
/// pay again (the card form, or the routes), and a way back to the merchant; no timed exit.
pub fn assert_retry_page(page: &Page, reason: &str) {
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("The payment did not go through") && page.html.contains(reason),
        "expected the page to offer another attempt, saying {reason:?}:\n{}",
        page.html
    );
    assert!(
        page.form_ending("/card").is_some() || page.form_ending("/start").is_some(),
        "the buyer can pay again:\n{}",
        page.html
    );
    assert!(page.form_ending("/leave").is_some(), "{}", page.html);
    assert_eq!(page.refresh(), None, "the page never leaves by itself");
}

/// Checks the result page: paid or failed, and the link back. Paid sends the buyer back at
/// once (an instant redirect: the merchant has been told); so does the answer to a buyer
/// choosing to go back after a failure. Nothing leaves on a timer.
pub fn assert_result_page(page: &Page, paid: bool, return_to: Option<&str>) {
    assert_eq!(page.status, 200, "{}", page.html);
    let heading = if paid {
        "Payment received"
    } else {
        "Payment failed"
    };
    assert!(
        page.html.contains(heading),
        "expected the result page saying {heading:?}:\n{}",
        page.html
    );
    assert!(
        !page.has_form(),
        "a result page offers no form to pay again:\n{}",
        page.html
    );
    match return_to {
        Some(url) => {
            assert_eq!(page.return_href().as_deref(), Some(url), "{}", page.html);
            assert_eq!(
                page.refresh(),
                Some(format!("0;url={url}")),
                "the result page sends the buyer back at once"
            );
        }
        None => {
            assert_eq!(page.return_href(), None, "{}", page.html);
            assert_eq!(page.refresh(), None, "{}", page.html);
        }
    }
}

/// What a finished checkout must have left behind.
pub struct Expected<'a> {
    pub paid: bool,
    pub failure_code: Option<&'a str>,
    pub route: &'a str,
    pub kind: &'a str,
    pub amount: f64,
}

/// Checks the payment, invoice and session through the API, and the events in the outbox:
/// exactly one `provider_pending` and one `paid` or `failed`, with the SPEC 6 payload. A
/// failed session is one the buyer left after the failure.
pub async fn assert_finished(app: &TestApp, session_id: &str, expected: &Expected<'_>) -> Value {
    let session_status = if expected.paid { "paid" } else { "failed" };
    assert_payment_finished(app, session_id, expected, session_status).await
}

/// As `assert_finished` for a failed payment whose session is open again for another
/// attempt (`routed`): the buyer has not left.
pub async fn assert_failed_attempt(
    app: &TestApp,
    session_id: &str,
    expected: &Expected<'_>,
) -> Value {
    assert!(!expected.paid);
    assert_payment_finished(app, session_id, expected, "routed").await
}

async fn assert_payment_finished(
    app: &TestApp,
    session_id: &str,
    expected: &Expected<'_>,
    session_status: &str,
) -> Value {
    let outcome = if expected.paid { "paid" } else { "failed" };
    assert_eq!(payment_count(app, session_id).await, 1, "one payment");
    assert_eq!(invoice_count(app, session_id).await, 1, "one invoice");

    let payment = api_payment(app, session_id).await;
    assert!(
        payment["id"].as_str().unwrap().starts_with("pay_"),
        "{payment}"
    );
    assert_eq!(payment["status"], outcome, "{payment}");
    assert_eq!(payment["sessionId"], session_id, "{payment}");
    assert_eq!(payment["route"]["id"], expected.route, "{payment}");
    assert_eq!(payment["route"]["kind"], expected.kind, "{payment}");
    match expected.failure_code {
        Some(code) => assert_eq!(payment["failureCode"], code, "{payment}"),
        None => assert!(payment["failureCode"].is_null(), "{payment}"),
    }
    if expected.paid {
        assert_eq!(payment["ledgerStatus"], "settled", "{payment}");
    }

    let invoice_id = payment["invoiceId"].as_str().unwrap().to_owned();
    assert!(invoice_id.starts_with("inv_"), "{payment}");
    let invoice = api_invoice(app, &invoice_id).await;
    assert_eq!(
        invoice["status"],
        if expected.paid { "paid" } else { "void" },
        "{invoice}"
    );
    assert_eq!(invoice["paymentId"], payment["id"], "{invoice}");

    let session = api_session(app, session_id).await;
    assert_eq!(session["status"], session_status, "{session}");
    assert_eq!(session["paymentId"], payment["id"], "{session}");
    assert_eq!(app.stored_status(session_id).await, session_status);

    let events = events_of(app, session_id).await;
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    let mut want = vec![
        format!("evt_{session_id}_provider_pending"),
        format!("evt_{session_id}_{outcome}"),
    ];
    want.sort();
    assert_eq!(ids, want, "exactly one provider_pending and one {outcome}");
    for event in &events {
        let p = &event.payload;
        let status = if event.id.ends_with("_provider_pending") {
            assert_eq!(event.kind, "payment.provider_pending");
            "pending"
        } else {
            assert_eq!(event.kind, format!("payment.{outcome}"));
            outcome
        };
        assert_eq!(p["id"], event.id.as_str(), "{p}");
        assert_eq!(p["type"], event.kind.as_str(), "{p}");
        assert_eq!(p["livemode"], false, "{p}");
        assert!(
            p["created"].as_str().is_some_and(|c| c.contains('T')),
            "{p}"
        );
        let d = &p["data"];
        assert_eq!(d["session_id"], session_id, "{p}");
        assert_eq!(d["customer_id"], payment["customerId"], "{p}");
        assert_eq!(d["status"], status, "{p}");
        assert_eq!(d["amount"].as_f64(), Some(expected.amount), "{p}");
        assert_eq!(d["currency"], "USD", "{p}");
        assert_eq!(d["asset"], "USDC", "{p}");
        assert_eq!(d["network"], "Base", "{p}");
        assert_eq!(d["route"]["id"], expected.route, "{p}");
        assert_eq!(d["route"]["kind"], expected.kind, "{p}");
        assert_eq!(d["route"]["label"], payment["route"]["label"], "{p}");
        assert_eq!(d["route"]["provider"], payment["route"]["provider"], "{p}");
        for fee in ["buyer_fee", "gateway_fee", "merchant_net", "total"] {
            assert_eq!(
                d["fees"][fee].as_f64(),
                payment["fees"][fee].as_f64(),
                "{fee} in {p}"
            );
        }
        assert!(d.get("tx_hash").is_some(), "{p}");
        assert_eq!(d["metadata"], session["metadata"], "{p}");
        if status == "paid" {
            assert_eq!(d["tx_hash"], payment["txHash"], "{p}");
        }
        for digits in [
            "4242424242424242",
            "4000000000000002",
            "4000000000009995",
            "4000002760003184",
            "4000000000000077",
        ] {
            assert!(
                !event.raw.contains(digits),
                "a card number in {}",
                event.raw
            );
        }
    }
    assert_no_card_number_stored(app, session_id).await;
    payment
}

/// No full card number anywhere in the session's payment, invoice, session or events.
pub async fn assert_no_card_number_stored(app: &TestApp, session_id: &str) {
    let mut texts = vec![payment_row_text(app, session_id).await];
    for e in events_of(app, session_id).await {
        texts.push(e.raw);
    }
    let session: Vec<(String, String)> =
        sqlx::query_as("SELECT metadata, status FROM checkout_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    texts.push(format!("{session:?}"));
    let callbacks: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.callback_id, c.payment_id FROM provider_callbacks c
         JOIN payments p ON p.id = c.payment_id WHERE p.session_id = $1",
    )
    .bind(session_id)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    texts.push(format!("{callbacks:?}"));
    for text in texts {
        for digits in [
            "4242424242424242",
            "4000000000000002",
            "4000000000009995",
            "4000002760003184",
            "4000000000000077",
            "4242 4242 4242 4242",
        ] {
            assert!(
                !text.contains(digits),
                "a full card number is stored: {text}"
            );
        }
    }
}

/// The sandbox provider's callback secret, as stored for every instance.
pub async fn sandbox_secret(app: &TestApp) -> String {
    sqlx::query_scalar::<_, String>("SELECT value FROM app_state WHERE key = $1")
        .bind("secret:sandbox_callbacks")
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

/// Hex HMAC-SHA256 of `"<t>.<body>"`, computed here independently of the server's code.
pub fn hmac_hex(secret: &[u8], timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `POST /api/providers/{provider}/callbacks` with this raw body and signature header.
pub async fn post_callback(
    app: &TestApp,
    provider: &str,
    body: &str,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/providers/{provider}/callbacks")))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-sandbox-signature", signature);
    }
    request.send().await.unwrap()
}

/// A sandbox callback signed now with the right secret.
pub async fn send_callback(app: &TestApp, body: &Value) -> reqwest::Response {
    let raw = body.to_string();
    let secret = sandbox_secret(app).await;
    let t = unix_now();
    let signature = format!("t={t},v1={}", hmac_hex(secret.as_bytes(), t, &raw));
    post_callback(app, "sandbox", &raw, Some(&signature)).await
}
