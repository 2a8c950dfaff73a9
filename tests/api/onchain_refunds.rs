//! Refunds of payments on chain, against a real local chain (anvil). The server holds no key:
//! a refund is `action_required`, tells the merchant what to send (from the address that
//! received the payment to the buyer, exactly the amount, as EIP-681), and succeeds when the
//! scanner sees that transfer confirmed, or when the merchant confirms it by hand with a
//! transaction that is checked on chain.

use std::time::Duration;

use openrails_checkout::domain::Environment;
use serde_json::{Value, json};

use crate::chain_support::{BUYER, Chain, MERCHANT, OTHER_BUYER};
use crate::checkout_support::{Buyer, events_of};
use crate::helpers::{TestApp, assert_error};
use crate::onchain::{SETTLE, app_with, asked, onchain_route, session, wait_for_event};
use crate::refunds::{payment, refund_ok};
use crate::webhook_support::{Receiver, assert_signed_with, register};

/// A sandbox session of $116 paid on `chain` by [`BUYER`] to [`MERCHANT`]: (session, payment).
async fn paid_on_chain(app: &TestApp, chain: &Chain) -> (String, String) {
    let id = session(app, &app.sandbox_key).await;
    let (units, _) = asked(&Buyer::new(app, &id).choose("wallet-usdc-test").await);
    chain.mint(BUYER, 500_000_000).await;
    chain.transfer(BUYER, MERCHANT, units).await;
    chain.mine(1).await;
    wait_for_event(app, &id, "payment.paid").await;
    let paid = app
        .get(&format!("/api/gateway/payments/{id}"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    (id, paid["id"].as_str().unwrap().to_owned())
}

/// The refund `id`, as the API shows it.
async fn refund_json(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/gateway/refunds/{id}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the refund `id` has `status`; the refund then.
async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    Chain::until(SETTLE, status, || async {
        refund_json(app, id).await["status"] == status
    })
    .await;
    refund_json(app, id).await
}

async fn confirm(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/gateway/refunds/{id}/confirm")))
        .bearer_auth(&app.sandbox_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_merchant_is_told_what_to_send_and_the_watcher_sees_it_sent() {
    let chain = Chain::start(84_532).await;
    let app = app_with(onchain_route(&chain, Environment::Sandbox, 2)).await;
    let receiver = Receiver::accepting().await;
    let endpoint = register(
        &app,
        &receiver.url,
        Some(&["refund.created", "refund.succeeded", "refund.failed"]),
    )
    .await;
    let (session_id, payment_id) = paid_on_chain(&app, &chain).await;

    let refund = refund_ok(
        &app,
        &payment_id,
        json!({"amount": 10.5, "reason": "requested_by_customer"}),
    )
    .await;
    let id = refund["id"].as_str().unwrap().to_owned();
    assert_eq!(refund["status"], "action_required", "{refund}");
    assert_eq!(refund["amount"], 10.5);
    assert_eq!(refund["txHash"], Value::Null);
    let transfer = &refund["transfer"];
    assert_eq!(transfer["to"], BUYER, "back to whoever paid: {refund}");
    assert_eq!(transfer["from"], MERCHANT, "from where it was paid");
    assert_eq!(transfer["amount"], "10.500000");
    assert_eq!(transfer["units"], "10500000");
    assert_eq!(transfer["chainId"], 84_532);
    assert_eq!(transfer["network"], "Base Sepolia");
    assert_eq!(transfer["confirmations"], 2);
    assert_eq!(
        transfer["paymentUri"],
        format!(
            "ethereum:{}@84532/transfer?address={BUYER}&uint256=10500000",
            openrails_checkout::domain::onchain::USDC_BASE
        )
    );
    // The request as a QR code.
    let qr = app.get(&format!("/api/gateway/refunds/{id}/qr")).await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().starts_with("<svg"));
    // Reserved: what is left is what the payment had minus this refund.
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["amountRefunded"], 0);
    assert_eq!(p["ledgerStatus"], "settled");
    assert_eq!(p["refunds"][0]["transfer"]["to"], BUYER);

    // Another amount, and the exact amount from someone else: neither is the refund.
    chain.mint(MERCHANT, 100_000_000).await;
    chain.transfer(MERCHANT, BUYER, 10_490_000).await;
    chain.mint(OTHER_BUYER, 100_000_000).await;
    chain.transfer(OTHER_BUYER, BUYER, 10_500_000).await;
    // The merchant's transfer: seen, then confirmed by the next block.
    let tx = chain.transfer(MERCHANT, BUYER, 10_500_000).await;
    Chain::until(SETTLE, "the refund's transfer to be seen", || async {
        app.scalar("SELECT COUNT(*) FROM onchain_transfers WHERE refund_id IS NOT NULL")
            .await
            == 1
    })
    .await;
    assert_eq!(refund_json(&app, &id).await["status"], "action_required");
    chain.mine(1).await;
    let done = wait_for_status(&app, &id, "succeeded").await;
    assert_eq!(done["txHash"], tx);
    assert_eq!(done["providerReference"], tx);
    let recorded = app
        .scalar("SELECT COUNT(*) FROM onchain_transfers WHERE refund_id IS NOT NULL")
        .await;
    assert_eq!(recorded, 1, "only the refund's own transfer names it");
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["amountRefunded"], 10.5);
    assert_eq!(p["ledgerStatus"], "partially_refunded");

    // The merchant heard of both steps, signed.
    let received = receiver.wait_for(2, Duration::from_secs(15)).await;
    let secret = endpoint["secret"].as_str().unwrap();
    let by_type = |t: &str| {
        received
            .iter()
            .find(|r| r.json()["type"] == t)
            .unwrap_or_else(|| panic!("no {t}"))
            .clone()
    };
    let created = by_type("refund.created");
    assert_signed_with(&created, secret);
    assert_eq!(created.json()["data"]["status"], "action_required");
    assert_eq!(created.json()["data"]["transfer"]["to"], BUYER);
    assert_eq!(created.json()["data"]["transfer"]["amount"], "10.500000");
    let succeeded = by_type("refund.succeeded");
    assert_signed_with(&succeeded, secret);
    assert_eq!(succeeded.json()["data"]["provider_reference"], tx);
    assert_eq!(
        succeeded.json()["data"]["ledger_status"],
        "partially_refunded"
    );
    let kinds: Vec<String> = events_of(&app, &session_id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("refund."))
        .collect();
    assert_eq!(kinds.len(), 2, "one event per step: {kinds:?}");
}

#[tokio::test]
async fn two_refunds_of_one_amount_are_each_matched_to_one_transfer() {
    let chain = Chain::start(84_532).await;
    let app = app_with(onchain_route(&chain, Environment::Sandbox, 1)).await;
    let (_, payment_id) = paid_on_chain(&app, &chain).await;
    let first = refund_ok(&app, &payment_id, json!({"amount": 5})).await;
    let second = refund_ok(&app, &payment_id, json!({"amount": 5})).await;
    let (first, second) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    );
    chain.mint(MERCHANT, 100_000_000).await;
    let one = chain.transfer(MERCHANT, BUYER, 5_000_000).await;
    assert_eq!(
        wait_for_status(&app, &first, "succeeded").await["txHash"],
        one,
        "the oldest refund first"
    );
    assert_eq!(
        refund_json(&app, &second).await["status"],
        "action_required"
    );
    let two = chain.transfer(MERCHANT, BUYER, 5_000_000).await;
    assert_eq!(
        wait_for_status(&app, &second, "succeeded").await["txHash"],
        two
    );
    assert_eq!(payment(&app, &payment_id).await["amountRefunded"], 10);
}

#[tokio::test]
async fn a_refund_sent_from_another_wallet_is_confirmed_by_hand_once_checked_on_chain() {
    let chain = Chain::start(84_532).await;
    let app = app_with(onchain_route(&chain, Environment::Sandbox, 2)).await;
    let (_, payment_id) = paid_on_chain(&app, &chain).await;
    // All of it: $116 (this route charges the buyer no fee).
    let refund = refund_ok(&app, &payment_id, json!({})).await;
    let id = refund["id"].as_str().unwrap().to_owned();
    assert_eq!(refund["transfer"]["units"], "116000000");

    // Sent from another of the merchant's wallets: the scanner does not take it by itself.
    chain.mint(OTHER_BUYER, 300_000_000).await;
    let wrong = chain.transfer(OTHER_BUYER, BUYER, 115_000_000).await;
    let tx = chain.transfer(OTHER_BUYER, BUYER, 116_000_000).await;

    let bad = confirm(&app, &id, json!({"txHash": "0x12"})).await;
    assert_error(bad, 400, "validation_failed").await;
    let unknown = confirm(&app, &id, json!({"txHash": "0x4444", "extra": 1})).await;
    assert_error(unknown, 400, "validation_failed").await;
    let missing = confirm(
        &app,
        &id,
        json!({"txHash": format!("0x{}", "ab".repeat(32))}),
    )
    .await;
    assert_error(missing, 422, "refund_transfer_not_found").await;
    let mismatch = confirm(&app, &id, json!({ "txHash": wrong })).await;
    let body = assert_error(mismatch, 422, "refund_transfer_mismatch").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("116.000000"),
        "{body}"
    );
    let early = confirm(&app, &id, json!({ "txHash": tx })).await;
    let body = assert_error(early, 409, "refund_transfer_unconfirmed").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 of the 2"),
        "{body}"
    );
    assert_eq!(refund_json(&app, &id).await["status"], "action_required");

    chain.mine(1).await;
    let upper = tx.to_uppercase().replacen("0X", "0x", 1);
    let confirmed = confirm(&app, &id, json!({ "txHash": upper })).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    assert_eq!(confirmed["txHash"], tx);
    let again = confirm(&app, &id, json!({ "txHash": tx })).await;
    assert_eq!(again.status(), 200, "a retry answers the refund again");
    let other = confirm(&app, &id, json!({ "txHash": wrong })).await;
    assert_error(other, 409, "refund_not_awaiting_transfer").await;
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "refunded");
    assert_eq!(p["amountRefunded"], 116);

    // The payment's own transfer can never give a refund back.
    let (_, second_payment) = paid_on_chain(&app, &chain).await;
    let second = refund_ok(&app, &second_payment, json!({"amount": 1})).await;
    let paid_tx = payment(&app, &second_payment).await["txHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let reuse = confirm(
        &app,
        second["id"].as_str().unwrap(),
        json!({"txHash": paid_tx}),
    )
    .await;
    assert_error(reuse, 422, "refund_transfer_mismatch").await;
}

#[tokio::test]
async fn refunds_of_other_providers_are_not_confirmed_by_hand() {
    let chain = Chain::start(84_532).await;
    let app = app_with(onchain_route(&chain, Environment::Sandbox, 1)).await;
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "preferredRoute": "card"});
    let created = app.create_session(&body).await;
    let sid = created["id"].as_str().unwrap();
    Buyer::new(&app, sid)
        .card_checkout("4242424242424242")
        .await;
    let p = app
        .get(&format!("/api/gateway/payments/{sid}"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let refund = refund_ok(&app, p["id"].as_str().unwrap(), json!({"amount": 1})).await;
    assert_eq!(refund["transfer"], Value::Null);
    assert_eq!(refund["txHash"], Value::Null);
    let id = refund["id"].as_str().unwrap();
    let answer = confirm(
        &app,
        id,
        json!({"txHash": format!("0x{}", "ab".repeat(32))}),
    )
    .await;
    assert_error(answer, 400, "refund_not_onchain").await;
    let qr = app.get(&format!("/api/gateway/refunds/{id}/qr")).await;
    assert_error(qr, 404, "resource_missing").await;
    let none = confirm(
        &app,
        "re_nope",
        json!({"txHash": format!("0x{}", "ab".repeat(32))}),
    )
    .await;
    assert_error(none, 404, "resource_missing").await;
}
