//! The sandbox's hosted variant (`sandbox_redirect`): a card route whose payment is made on a
//! page of the sandbox's own, as on a provider that hosts its page, so the hand-off path runs
//! with no key anywhere.

use openrails_checkout::config::Settings;
use openrails_checkout::domain::Environment;
use openrails_checkout::domain::payment_route::{PaymentRoute, default_routes};
use serde_json::json;

use openrails_checkout::domain::account::Role;

use crate::checkout_support::{Buyer, Page};
use crate::dashboard_support::signed_in;
use crate::helpers::{TestApp, spawn_app_with};
use crate::stripe::go_to_provider;

fn hosted_route() -> PaymentRoute {
    PaymentRoute {
        id: "card-hosted".into(),
        provider: "Sandbox Hosted".into(),
        integration: "sandbox_redirect".into(),
        ..default_routes()[0].clone()
    }
}

async fn setup() -> (TestApp, Buyer) {
    setup_with(json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"}))
        .await
}

async fn setup_with(body: serde_json::Value) -> (TestApp, Buyer) {
    let app = spawn_app_with(|s| {
        let mut routes = default_routes();
        routes.push(hosted_route());
        s.routes = routes;
    })
    .await;
    let id = app.create_session(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let buyer = Buyer::new(&app, &id);
    (app, buyer)
}

/// Presses `action` on the hosted page at `url`; where it sends the buyer.
async fn press(buyer: &Buyer, url: &str, action: &str) -> String {
    let page = Page::read(buyer.client.get(url).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Sandbox payment page"), "{}", page.html);
    let token = page.input_value("token");
    let path = url.strip_prefix(&buyer.address).unwrap();
    let response = buyer
        .post_form(path, &[("token", token.as_str()), ("action", action)])
        .await;
    assert_eq!(response.status(), 303);
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_card_paid_on_the_sandboxs_own_page_comes_back_paid() {
    let (app, buyer) = setup().await;
    let url = go_to_provider(&buyer, "card-hosted").await;
    assert!(
        url.starts_with(&format!("{}/sandbox/pay/pay_", app.public_url)),
        "{url}"
    );
    let back = press(&buyer, &url, "hosted_pay").await;
    assert_eq!(back, format!("/checkout/{}/return", buyer.id));
    let returned = buyer.client.get(buyer.url(&back)).send().await.unwrap();
    buyer.assert_see_other(returned).await;
    let page = buyer.open().await;
    assert!(page.html.contains("Payment received"), "{}", page.html);
    // The page is over: it sends the buyer to the checkout.
    let again = buyer.client.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 303);
}

#[tokio::test]
async fn a_declined_card_there_offers_every_route_again() {
    let (_app, buyer) = setup().await;
    let url = go_to_provider(&buyer, "card-hosted").await;
    let back = press(&buyer, &url, "hosted_decline").await;
    buyer
        .assert_see_other(buyer.client.get(buyer.url(&back)).send().await.unwrap())
        .await;
    let page = buyer.open().await;
    assert!(
        page.html.contains("The card was declined."),
        "{}",
        page.html
    );
    assert!(page.form_action().ends_with("/start"), "{}", page.html);
}

#[tokio::test]
async fn going_back_there_then_choosing_another_route_closes_that_payment() {
    let (app, buyer) = setup().await;
    let url = go_to_provider(&buyer, "card-hosted").await;
    let back = press(&buyer, &url, "back").await;
    assert_eq!(back, format!("/checkout/{}/routes", buyer.id));
    let page = Page::read(buyer.client.get(buyer.url(&back)).send().await.unwrap()).await;
    assert!(
        page.html.contains("Continue paying with Sandbox Hosted"),
        "{}",
        page.html
    );
    let page = buyer.choose("card-bridge-a").await;
    assert!(page.form_action().ends_with("/card"), "{}", page.html);
    let closed = app
        .scalar("SELECT COUNT(*) FROM payments WHERE failure_code = 'buyer_changed_route'")
        .await;
    assert_eq!(closed, 1);
    // Its page is over: paying there now changes nothing.
    let again = buyer.client.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 303);
}

#[test]
fn the_hosted_variant_is_for_sandbox_card_routes_only() {
    let check = |route: PaymentRoute| {
        let mut settings = Settings::default();
        settings.routes.push(route);
        settings.validate().map_err(|e| format!("{e:#}"))
    };
    assert_eq!(check(hosted_route()), Ok(()));
    let live = PaymentRoute {
        environments: vec![Environment::Production],
        ..hosted_route()
    };
    assert!(check(live).unwrap_err().contains("sandbox only"));
    let wallet = PaymentRoute {
        kind: openrails_checkout::domain::RouteKind::Wallet,
        ..hosted_route()
    };
    assert!(check(wallet).unwrap_err().contains("card routes"));
}

#[tokio::test]
async fn the_timeline_shows_each_redirect_once_in_order() {
    let (app, buyer) = setup_with(json!({"product": "Creator plan", "amount": 116,
        "customer": "buyer@example.com", "redirectUrl": "http://localhost:3000/done"}))
    .await;
    let url = go_to_provider(&buyer, "card-hosted").await;
    // The buyer opens the hand-off page twice: the first is noted, the second writes nothing.
    let noted = "SELECT sent_to_provider_at FROM payments";
    let first = app.scalar(noted).await;
    assert!(first > 0, "the hand-off is noted");
    let provider = buyer.url(&format!("/checkout/{}/provider", buyer.id));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        buyer.client.get(&provider).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.scalar(noted).await,
        first,
        "a second visit writes nothing"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM checkout_sessions WHERE sent_back_at IS NOT NULL")
            .await,
        0
    );

    let back = press(&buyer, &url, "hosted_pay").await;
    buyer
        .assert_see_other(buyer.client.get(buyer.url(&back)).send().await.unwrap())
        .await;
    let paid = buyer.open().await;
    assert!(
        paid.html.contains("http://localhost:3000/done"),
        "{}",
        paid.html
    );

    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let page = viewer
        .get(&format!("/dashboard/payments/{}", buyer.id))
        .await;
    assert_eq!(page.status, 200);
    let timeline = page.html.split("id=\"timeline\"").nth(1).unwrap();
    let at = |what: &str| {
        timeline
            .find(&format!("{what}</strong>"))
            .unwrap_or_else(|| panic!("{what:?} is not on the timeline: {timeline}"))
    };
    assert!(
        at("Sent to the provider&#39;s page") < at("Back from the provider&#39;s page")
            && at("Back from the provider&#39;s page") < at("Sent back to the merchant"),
        "{timeline}"
    );
    assert!(
        timeline.contains("http://localhost:3000/done"),
        "{timeline}"
    );
    assert_eq!(timeline.matches("Sent back to the merchant").count(), 1);
}
