//! Receipts: every paid payment has a permanent, unguessable page in the buyer's language with
//! the merchant's branding; the result page and the API's payment link to it; a wrong token,
//! an unknown payment and an unpaid one are all the same 404.

use serde_json::json;

use crate::checkout_support::{Buyer, CARD_PAYS, Page, WALLET_ROUTE, api_payment, unescape};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::refunds::refund_ok;

async fn get(app: &TestApp, path: &str) -> Page {
    let response = crate::helpers::http_client()
        .get(app.url(path))
        .send()
        .await
        .unwrap();
    Page::read(response).await
}

/// The receipt's path in `page`'s "View your receipt" link.
fn receipt_link(page: &Page) -> String {
    let start = page.html.find("href=\"/receipts/").expect("a receipt link") + 6;
    let end = start + page.html[start..].find('"').unwrap();
    unescape(&page.html[start..end])
}

#[tokio::test]
async fn a_paid_payment_has_a_receipt_in_the_language_the_buyer_paid_in() {
    let app = spawn_app().await;
    let session = app
        .create_session(&json!({"product": "Creator plan", "amount": 1116,
            "customer": "ana@example.com", "preferredRoute": "card"}))
        .await;
    let id = session["id"].as_str().unwrap();
    let buyer = Buyer::speaking(&app, id, "pt-BR,pt;q=0.9");

    let result = buyer.card_checkout(CARD_PAYS).await;

    assert!(result.html.contains("Ver seu recibo"), "{}", result.html);
    let path = receipt_link(&result);
    let payment = api_payment(&app, id).await;
    let payment_id = payment["id"].as_str().unwrap();
    assert!(
        path.starts_with(&format!("/receipts/{payment_id}?token=")),
        "{path}"
    );
    assert_eq!(payment["receiptUrl"], format!("{}{path}", app.public_url));

    // Opened later from the e-mail in a browser that asks for English: Portuguese still, as the
    // e-mail was.
    let english_browser = crate::helpers::http_client()
        .get(app.url(&path))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let seen = Page::read(english_browser).await;
    assert!(seen.html.contains("<html lang=\"pt-BR\""), "{}", seen.html);
    let receipt = get(&app, &path).await;
    assert_eq!(receipt.status, 200, "{}", receipt.html);
    assert!(
        receipt.html.contains("<html lang=\"pt-BR\" dir=\"ltr\">"),
        "{}",
        receipt.html
    );
    for text in [
        "Recibo",
        "Creator plan",
        "US$ 1.116,00",
        "Visa",
        "4242",
        "Sandbox Card",
        payment_id,
        payment["invoiceId"].as_str().unwrap(),
        "Recibo de teste: nenhum dinheiro real foi movimentado.",
    ] {
        assert!(
            receipt.html.contains(text),
            "the receipt shows {text}:\n{}",
            receipt.html
        );
    }
    // 1116 + 3.2 % (35.712, rounded up): what the API says was paid, written the Brazilian way.
    assert_eq!(payment["fees"]["total"], 1151.72, "{payment}");
    assert!(receipt.html.contains("US$ 1.151,72"), "{}", receipt.html);
    assert_eq!(receipt.header("cache-control"), "no-store");
    assert!(
        receipt
            .header("content-security-policy")
            .contains("default-src 'none'")
    );

    // Another language on request; the language links keep the token.
    let arabic = get(&app, &path.replace("lang=pt-BR", "lang=ar")).await;
    assert_eq!(arabic.status, 200);
    assert!(
        arabic.html.contains("<html lang=\"ar\" dir=\"rtl\">"),
        "{}",
        arabic.html
    );
    assert!(
        path.ends_with("&lang=pt-BR"),
        "the link carries the language paid in: {path}"
    );
    let token = path
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        unescape(&arabic.html).contains(&format!("?token={token}&lang=en\"")),
        "{}",
        arabic.html
    );
}

#[tokio::test]
async fn a_wrong_token_an_unknown_payment_and_an_unpaid_one_are_the_same_404() {
    let app = spawn_app().await;
    let paid = app
        .create_session(
            &json!({"product": "Plan", "amount": 10, "customer": "b@example.com",
            "preferredRoute": "card"}),
        )
        .await;
    let paid_id = paid["id"].as_str().unwrap();
    Buyer::new(&app, paid_id).card_checkout(CARD_PAYS).await;
    let payment = api_payment(&app, paid_id).await;
    let payment_id = payment["id"].as_str().unwrap().to_owned();
    let good = payment["receiptUrl"].as_str().unwrap().to_owned();
    let good_token = good
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let open = app
        .create_session(
            &json!({"product": "Plan", "amount": 10, "customer": "c@example.com",
            "preferredRoute": "card"}),
        )
        .await;
    let open_id = open["id"].as_str().unwrap();
    Buyer::new(&app, open_id)
        .choose(crate::checkout_support::CARD_ROUTE)
        .await;
    let unpaid = api_payment(&app, open_id).await;
    assert!(unpaid["receiptUrl"].is_null(), "{unpaid}");
    let unpaid_id = unpaid["id"].as_str().unwrap();
    let unpaid_token =
        openrails_checkout::domain::receipt::token(&app.state.receipt_secret, unpaid_id);

    let mut flipped = good_token.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for path in [
        format!("/receipts/{payment_id}"),
        format!("/receipts/{payment_id}?token="),
        format!("/receipts/{payment_id}?token={flipped}"),
        format!("/receipts/{payment_id}?token={}", &good_token[..10]),
        format!("/receipts/{payment_id}?token=%00%ff"),
        format!("/receipts/pay_unknown?token={good_token}"),
        format!("/receipts/{unpaid_id}?token={good_token}"),
        format!("/receipts/{unpaid_id}?token={unpaid_token}"),
    ] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.html);
        assert!(
            page.html.contains("Receipt not found"),
            "{path}: {}",
            page.html
        );
        assert!(!page.html.contains("inv_"), "{path}: {}", page.html);
    }
    assert_eq!(
        get(&app, &format!("/receipts/{payment_id}?token={good_token}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn refunds_show_on_the_receipt_with_what_was_paid_after_them() {
    let app = spawn_app().await;
    let session = app
        .create_session(&json!({"product": "Creator plan", "amount": 116,
            "customer": "d@example.com", "preferredRoute": "card"}))
        .await;
    let id = session["id"].as_str().unwrap();
    Buyer::new(&app, id).card_checkout(CARD_PAYS).await;
    let payment = api_payment(&app, id).await;
    let payment_id = payment["id"].as_str().unwrap();
    refund_ok(&app, payment_id, json!({"amount": 20})).await;

    let url = api_payment(&app, id).await["receiptUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url.strip_prefix(&app.public_url).unwrap();
    let receipt = get(&app, path).await;

    assert_eq!(receipt.status, 200);
    assert!(receipt.html.contains("Refunds"), "{}", receipt.html);
    assert!(
        receipt.html.contains("Refunded $20.00 on"),
        "{}",
        receipt.html
    );
    // $119.72 paid (116 + 3.2 % fee), $20 back.
    assert!(
        receipt.html.contains("Paid after refunds"),
        "{}",
        receipt.html
    );
    assert!(receipt.html.contains("$99.72"), "{}", receipt.html);
}

#[tokio::test]
async fn an_on_chain_payment_links_its_transaction_to_the_routes_explorer() {
    let app = spawn_app_with(|s| {
        for route in &mut s.routes {
            if route.id == WALLET_ROUTE {
                route.explorer_tx_url = Some("https://basescan.org/tx/{tx}".into());
            }
        }
    })
    .await;
    let session = app
        .create_session(
            &json!({"product": "Plan", "amount": 116, "customer": "e@example.com",
            "preferredRoute": "wallet"}),
        )
        .await;
    let id = session["id"].as_str().unwrap();
    let buyer = Buyer::new(&app, id);
    buyer.choose(WALLET_ROUTE).await;
    buyer.press("transfer").await;
    let payment = api_payment(&app, id).await;
    let tx = payment["txHash"].as_str().unwrap();
    let url = payment["receiptUrl"].as_str().unwrap();

    let receipt = get(&app, url.strip_prefix(&app.public_url).unwrap()).await;

    assert!(
        receipt
            .html
            .contains(&format!("href=\"https://basescan.org/tx/{tx}\"")),
        "{}",
        receipt.html
    );
    assert!(
        receipt.html.contains("View on basescan.org"),
        "{}",
        receipt.html
    );
    assert!(
        receipt
            .html
            .contains(&format!("<code class=\"wrap\">{tx}</code>"))
    );
}

#[tokio::test]
async fn a_route_with_an_explorer_that_is_not_a_url_stops_the_start() {
    let mut settings = openrails_checkout::config::Settings::default();
    settings.routes[1].explorer_tx_url = Some("basescan.org/tx/{tx}".into());
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("explorer_tx_url"), "{error}");
    settings.routes[1].explorer_tx_url = Some("https://basescan.org/tx/".into());
    assert!(settings.validate().is_err(), "{{tx}} is required");
    settings.routes[1].explorer_tx_url = Some("https://basescan.org/tx/{tx}".into());
    settings.validate().unwrap();
}

#[tokio::test]
async fn a_session_paid_through_one_instance_is_shown_paid_by_another_at_once() {
    // The page reads SQLite on the request's own thread (db::hot_read): never a stale copy.
    let app = spawn_app().await;
    let mut settings = (*app.state.settings).clone();
    settings.bind = "127.0.0.1:0".into();
    let second = openrails_checkout::startup::Application::build_with_db(
        settings,
        openrails_checkout::db::Db::connect(&app.database_url, 4)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let other = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    for _ in 0..3 {
        let session = app
            .create_session(&json!({"product": "Plan", "amount": 10,
                "customer": "f@example.com", "preferredRoute": "card"}))
            .await;
        let id = session["id"].as_str().unwrap();
        let on_other = Buyer::at(&other, id);
        assert!(on_other.open().await.html.contains("name=\"route\""));

        Buyer::new(&app, id).card_checkout(CARD_PAYS).await;

        let page = on_other.open().await;
        assert!(page.html.contains("Payment received"), "{}", page.html);
    }
}
