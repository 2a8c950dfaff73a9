//! Abuse limits: an API key over its rate gets `429` with `Retry-After` and `RateLimit-*`
//! headers and recovers; the checkout pages take at most `card_attempts_per_session` declined
//! cards per session and `card_attempts_per_address_per_hour` per client address, counted in
//! the database.

use openrails_checkout::domain::Environment;
use serde_json::json;

use crate::checkout_retry::pay_on;
use crate::checkout_support::{Buyer, CARD_DECLINED, CARD_PAYS, checkout_body, create_checkout};
use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get_anonymous("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_the_headers_and_recovers() {
    let app = spawn_app_with(|s| {
        s.api_rate_per_second = 2;
        s.api_rate_burst = 3;
    })
    .await;
    for remaining in ["2", "1", "0"] {
        let ok = app.get("/api/gateway/payments").await;
        assert_eq!(ok.status(), 200);
        assert_eq!(header(&ok, "ratelimit-limit"), "3");
        assert_eq!(header(&ok, "ratelimit-remaining"), remaining);
    }
    let refused = app.get("/api/gateway/payments").await;
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    assert_eq!(
        header(&refused, "ratelimit-reset"),
        "2",
        "3 requests at 2 a second"
    );
    let body = assert_error(refused, 429, "rate_limited").await;
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("Retry-After")
    );
    // A session create is refused as well, and writes nothing.
    let before = app.session_count().await;
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"});
    assert_eq!(app.post_session(&body).await.status(), 429);
    assert_eq!(app.session_count().await, before);
    // Another key of the merchant has a bucket of its own.
    let other = app
        .create_key(&app.merchant_id, Environment::Sandbox, "second")
        .await;
    assert_eq!(
        app.get_with_key("/api/gateway/payments", &other)
            .await
            .status(),
        200
    );
    // Unauthenticated endpoints are not counted.
    assert_eq!(app.get_anonymous("/healthz").await.status(), 200);
    assert_eq!(metric(&app, "openrails_api_rate_limited_total").await, 2);
    // Half a second later one request may go again.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(app.get("/api/gateway/payments").await.status(), 200);
}

/// The route values of the chooser on `page`.
fn routes_offered(page: &crate::checkout_support::Page) -> Vec<String> {
    page.radio_values("route")
}

#[tokio::test]
async fn a_session_takes_its_declined_cards_then_offers_only_its_other_routes() {
    let app = spawn_app_with(|s| s.card_attempts_per_session = 2).await;
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(&app, &id);
    let first = buyer.card_checkout(CARD_DECLINED).await;
    assert!(
        first.form_ending("/card").is_some(),
        "one decline: the card form again"
    );
    let second = pay_on(&buyer, &first, CARD_DECLINED).await;
    assert!(
        second.form_ending("/card").is_none(),
        "two declines: no card form\n{}",
        second.html
    );
    assert!(
        second.html.contains("This payment takes no more cards"),
        "{}",
        second.html
    );
    let offered = routes_offered(&second);
    assert!(!offered.is_empty(), "{}", second.html);
    assert!(
        offered.iter().all(|r| !r.starts_with("card")),
        "no card route: {offered:?}"
    );
    // A card route posted anyway starts nothing.
    let (action, token) = second.form_ending("/start").unwrap();
    let response = buyer
        .post_form(&action, &[("token", &token), ("route", "card-bridge-a")])
        .await;
    buyer.assert_see_other(response).await;
    let payments = format!("SELECT COUNT(*) FROM payments WHERE session_id = '{id}'");
    assert_eq!(app.scalar(&payments).await, 2);
    assert_eq!(
        metric(&app, "openrails_card_attempts_refused_session_total").await,
        1
    );
    // Its other routes still work: a wallet is chosen.
    let wallet = offered.iter().find(|r| r.starts_with("wallet")).unwrap();
    let page = buyer.choose(wallet).await;
    assert_eq!(page.status, 200);
    assert_eq!(app.scalar(&payments).await, 3);
}

#[tokio::test]
async fn an_address_with_too_many_declined_cards_this_hour_is_refused_until_it_passes() {
    let app = spawn_app_with(|s| s.card_attempts_per_address_per_hour = 2).await;
    for _ in 0..2 {
        let id = create_checkout(&app, &checkout_body(116.0, None)).await;
        Buyer::new(&app, &id).card_checkout(CARD_DECLINED).await;
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM card_declines").await, 2);
    // A third session from the same address: the card goes nowhere.
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(&app, &id);
    let form = buyer.choose("card-bridge-a").await;
    let (action, token) = form.form_ending("/card").unwrap();
    let card = |token: String| {
        vec![
            ("token".to_owned(), token),
            ("number".to_owned(), CARD_PAYS.to_owned()),
            ("expiry".to_owned(), "12/40".to_owned()),
            ("cvc".to_owned(), "123".to_owned()),
            ("name".to_owned(), "Ada Buyer".to_owned()),
        ]
    };
    let fields = card(token);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused =
        crate::checkout_support::Page::read(buyer.post_form(&action, &borrowed).await).await;
    assert_eq!(refused.status, 429, "{}", refused.html);
    assert!(
        refused
            .html
            .contains("Too many cards were declined from your network"),
        "{}",
        refused.html
    );
    assert_eq!(app.stored_status(&id).await, "pending", "nothing was paid");
    assert_eq!(
        metric(&app, "openrails_card_attempts_refused_address_total").await,
        1
    );
    // An hour later the same card goes through.
    app.execute(
        "UPDATE card_declines SET declined_at = declined_at - 3600001 WHERE payment_id <> $1",
        "",
    )
    .await;
    let (action, token) = refused.form_ending("/card").unwrap();
    let fields = card(token);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    buyer
        .assert_see_other(buyer.post_form(&action, &borrowed).await)
        .await;
    assert_eq!(app.stored_status(&id).await, "paid");
}

/// Creates a session, chooses the card and posts `number` from a client the proxy names as
/// `forwarded_for`; the card form's answer.
async fn card_from(
    app: &TestApp,
    forwarded_for: &str,
    number: &str,
) -> crate::checkout_support::Page {
    let id = create_checkout(app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(app, &id);
    let form = buyer.choose("card-bridge-a").await;
    let (action, token) = form.form_ending("/card").unwrap();
    let response = buyer
        .post_form_with(
            &action,
            &[
                ("token", token.as_str()),
                ("number", number),
                ("expiry", "12/40"),
                ("cvc", "123"),
                ("name", "Ada Buyer"),
            ],
            &[
                ("Origin", app.address.as_str()),
                ("X-Forwarded-For", forwarded_for),
            ],
        )
        .await;
    crate::checkout_support::Page::read(response).await
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_buyer_is_counted_by_their_own_address() {
    let app = spawn_app_with(|s| s.card_attempts_per_address_per_hour = 2).await;
    for _ in 0..2 {
        card_from(&app, "203.0.113.7", CARD_DECLINED).await;
    }
    let stored = "SELECT COUNT(*) FROM card_declines WHERE address = '203.0.113.7'";
    assert_eq!(
        app.scalar(stored).await,
        2,
        "counted by the address the proxy names"
    );
    // Another buyer behind the same proxy pays; the first is refused.
    let other = card_from(&app, "198.51.100.9, 127.0.0.1", CARD_PAYS).await;
    assert_ne!(other.status, 429, "{}", other.html);
    let again = card_from(&app, "203.0.113.7", CARD_PAYS).await;
    assert_eq!(again.status, 429, "{}", again.html);
}

#[tokio::test]
async fn a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address() {
    let app = spawn_app_with(|s| {
        s.card_attempts_per_address_per_hour = 2;
        s.trusted_proxies = Vec::new();
    })
    .await;
    card_from(&app, "203.0.113.7", CARD_DECLINED).await;
    card_from(&app, "203.0.113.8", CARD_DECLINED).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM card_declines WHERE address = '127.0.0.1'")
            .await,
        2,
        "the header is ignored: counted by the connection"
    );
    let refused = card_from(&app, "198.51.100.9", CARD_PAYS).await;
    assert_eq!(refused.status, 429, "{}", refused.html);
}

#[tokio::test]
async fn a_card_that_fails_its_confirmation_step_counts_for_the_address_too() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(&app, &id);
    buyer
        .card_checkout(crate::checkout_support::CARD_CHALLENGE)
        .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM card_declines").await, 0);
    buyer.press("deny").await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM card_declines WHERE address = '127.0.0.1'")
            .await,
        1
    );
}
