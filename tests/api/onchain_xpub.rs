//! The `onchain` integration with `address_mode = "xpub"` against a real local chain: each
//! payment gets an address of its own derived from the merchant's extended public key, is paid
//! by the exact total (in one transfer or several), and an address that never received
//! anything is given again once its payment is over. The key is anvil's own account key, so a
//! test can show the merchant's wallet really holds what the derived address received.

use openrails_checkout::domain::Environment;
use openrails_checkout::domain::payment_route::{AddressMode, PaymentRoute};

use crate::chain_support::{ACCOUNT_0, ACCOUNT_XPUB, BUYER, Chain, MERCHANT, OTHER_BUYER};
use crate::checkout_support::Buyer;
use crate::onchain::{
    app_with, asked, kinds, onchain_route, payment_json, session, start_with, status_line,
    wait_for_event,
};

/// A wallet route paying to addresses derived from anvil's account key.
fn xpub_route(chain: &Chain, environment: Environment, confirmations: u64) -> PaymentRoute {
    let mut route = onchain_route(chain, environment, confirmations);
    let onchain = route.onchain.as_mut().unwrap();
    onchain.address_mode = AddressMode::Xpub;
    onchain.settlement_address = None;
    onchain.xpub = Some(ACCOUNT_XPUB.into());
    route
}

#[tokio::test]
async fn each_session_gets_an_address_of_its_own_and_the_exact_total_pays_it() {
    let chain = Chain::start(8453).await;
    let app = app_with(xpub_route(&chain, Environment::Production, 1)).await;
    let first = session(&app, &app.live_key).await;
    let second = session(&app, &app.live_key).await;
    let first_buyer = Buyer::new(&app, &first);
    let page = first_buyer.choose("wallet-usdc-live").await;
    let (units, address) = asked(&page);
    assert_eq!(
        (units, address.as_str()),
        (116_000_000, ACCOUNT_0),
        "the total as it is, at the key's first receiving address"
    );
    assert!(
        !page.html.contains("tell your payment apart"),
        "no exact-amount warning: every transfer to the address counts\n{}",
        page.html
    );
    let (second_units, second_address) =
        asked(&Buyer::new(&app, &second).choose("wallet-usdc-live").await);
    assert_eq!(
        (second_units, second_address.as_str()),
        (116_000_000, MERCHANT)
    );

    chain.mint(BUYER, 500_000_000).await;
    let tx = chain.transfer(BUYER, ACCOUNT_0, units).await;
    let paid = wait_for_event(&app, &first, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], tx);
    assert_eq!(
        payment_json(&app, &app.live_key, &first).await["status"],
        "paid"
    );
    assert!(
        kinds(&app, &second).await.is_empty(),
        "the other session's address received nothing"
    );

    // The merchant's wallet holds the key of the derived address: it can move what came.
    chain.transfer(ACCOUNT_0, OTHER_BUYER, units).await;
    assert_eq!(chain.balance(OTHER_BUYER).await, units);
}

#[tokio::test]
async fn a_short_transfer_asks_for_the_rest_and_a_larger_one_completes_the_payment() {
    let chain = Chain::start(84_532).await;
    let app = app_with(xpub_route(&chain, Environment::Sandbox, 1)).await;
    let id = session(&app, &app.sandbox_key).await;
    let buyer = Buyer::new(&app, &id);
    let (_, address) = asked(&buyer.choose("wallet-usdc-test").await);
    chain.mint(BUYER, 500_000_000).await;

    chain.transfer(BUYER, &address, 50_000_000).await;
    wait_for_event(&app, &id, "payment.provider_pending").await;
    let page = buyer.open().await;
    assert_eq!(
        status_line(&buyer).await,
        "Received 50.000000 of 116.000000 USDC. Send the remaining 66.000000 USDC to the same address."
    );
    let (rest, same) = asked(&page);
    assert_eq!((rest, same.as_str()), (66_000_000, address.as_str()));
    assert!(
        page.html.contains("uint256=66000000"),
        "the wallet request is for the rest:\n{}",
        page.html
    );
    assert!(
        !kinds(&app, &id).await.contains(&"payment.paid".to_owned()),
        "half is not paid"
    );

    // More than the rest: paid by the second transfer, the excess only logged.
    let top_up = chain.transfer(BUYER, &address, 70_000_000).await;
    let paid = wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], top_up);
    assert_eq!(
        kinds(&app, &id).await,
        ["payment.paid", "payment.provider_pending"]
    );
    let received = app
        .scalar("SELECT COUNT(*) FROM onchain_transfers WHERE state = 'confirmed'")
        .await;
    assert_eq!(received, 2, "both transfers are recorded");
}

#[tokio::test]
async fn an_address_that_received_nothing_is_given_again_and_one_that_received_never() {
    let chain = Chain::start(8453).await;
    let app = app_with(xpub_route(&chain, Environment::Production, 1)).await;
    let address_of = |id: String| {
        let app = &app;
        async move {
            let buyer = Buyer::new(app, &id);
            asked(&buyer.choose("wallet-usdc-live").await).1
        }
    };
    let over = || async {
        sqlx::query("UPDATE onchain_watches SET watch_until = 0")
            .execute(&app.db.write)
            .await
            .unwrap();
    };

    // Index 0 receives part of a payment; its payment is then over.
    let first = session(&app, &app.live_key).await;
    assert_eq!(address_of(first.clone()).await, ACCOUNT_0);
    chain.mint(BUYER, 500_000_000).await;
    chain.transfer(BUYER, ACCOUNT_0, 10_000_000).await;
    wait_for_event(&app, &first, "payment.provider_pending").await;
    over().await;

    // It is never given again: the next session gets index 1.
    let second = session(&app, &app.live_key).await;
    assert_eq!(address_of(second).await, MERCHANT);
    // Index 1 received nothing: once its payment is over, it is given again.
    over().await;
    let third = session(&app, &app.live_key).await;
    assert_eq!(address_of(third).await, MERCHANT);
    // While that payment is watched, the next one gets a new index.
    let fourth = session(&app, &app.live_key).await;
    assert_eq!(address_of(fourth).await, BUYER, "index 2");
    let given = app.scalar("SELECT next_index FROM onchain_pools").await;
    assert_eq!(given, 3, "three indexes given out for four sessions");
}

#[tokio::test]
async fn an_xpub_route_is_checked_at_start_with_a_clear_error() {
    let chain = Chain::start(8453).await;
    let route = || xpub_route(&chain, Environment::Production, 2);
    assert_eq!(start_with(route()).await, Ok(()));
    let with = |f: &dyn Fn(&mut PaymentRoute)| {
        let mut route = route();
        f(&mut route);
        route
    };
    let cases: Vec<(PaymentRoute, &str)> = vec![
        (
            with(&|r| r.onchain.as_mut().unwrap().xpub = None),
            "onchain.xpub is required",
        ),
        (
            with(&|r| {
                r.onchain.as_mut().unwrap().xpub =
                    Some(ACCOUNT_XPUB.replace("xpub6Ce9", "xpub6Ce8"))
            }),
            "checksum",
        ),
        (
            with(&|r| {
                r.onchain.as_mut().unwrap().xpub = Some(
                    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi".into(),
                )
            }),
            "extended private key",
        ),
        (
            with(&|r| r.onchain.as_mut().unwrap().settlement_address = Some(MERCHANT.into())),
            "settlement_address is for address_mode",
        ),
    ];
    for (route, expected) in cases {
        let error = start_with(route.clone())
            .await
            .expect_err(&format!("{route:?} must be refused"));
        assert!(error.contains(expected), "{expected:?} not in {error:?}");
        assert!(
            !error.contains("xpub6") && !error.contains("xprv9"),
            "the key is not repeated in the error: {error}"
        );
    }
}
