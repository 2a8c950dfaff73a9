//! The `onchain` integration against a real local chain (anvil): the buyer sends USDC from a
//! funded account with a real signed transaction, the server finds it with plain JSON-RPC,
//! counts its confirmations, survives reorganisations, and pays the payment exactly once.

use std::time::Duration;

use openrails_checkout::db::onchain::reserve_watch;
use openrails_checkout::domain::onchain::{ChainAddress, TokenUnits, USDC_BASE, Watch};
use openrails_checkout::domain::payment_route::{
    AddressMode, OnchainRoute, PaymentRoute, RpcUrl, default_routes,
};
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::domain::{Environment, PaymentId};
use openrails_checkout::lifecycle;
use serde_json::{Value, json};

use crate::chain_support::{BUYER, Chain, MERCHANT, OTHER_BUYER};
use crate::checkout_support::{Buyer, Page, events_of};
use crate::helpers::{TestApp, spawn_app_with};
use crate::webhook_support::{Receiver, register_receiver};

/// How long the chain and the server get to settle what a test waits for.
pub(crate) const SETTLE: Duration = Duration::from_secs(20);

/// A wallet route of the `onchain` integration on `chain`, offered in `environment`.
pub(crate) fn onchain_route(
    chain: &Chain,
    environment: Environment,
    confirmations: u64,
) -> PaymentRoute {
    let mut route = default_routes()[1].clone();
    route.id = match environment {
        Environment::Production => "wallet-usdc-live".into(),
        Environment::Sandbox => "wallet-usdc-test".into(),
    };
    route.provider = "USDC on Base".into();
    route.integration = "onchain".into();
    route.environments = vec![environment];
    route.buyer_fee_rate = 0.0;
    route.onchain = Some(OnchainRoute {
        rpc_url: RpcUrl::new(&chain.url),
        chain_id: chain.chain_id,
        token_address: USDC_BASE.into(),
        token_decimals: 6,
        settlement_address: Some(MERCHANT.into()),
        xpub: None,
        address_mode: AddressMode::UniqueAmount,
        confirmations,
        poll_interval_ms: 100,
        max_block_range: 1000,
    });
    route
}

/// A server whose routes are the sandbox defaults and `route`.
pub(crate) async fn app_with(route: PaymentRoute) -> TestApp {
    spawn_app_with(move |s| {
        let mut routes = default_routes();
        routes.push(route);
        s.routes = routes;
    })
    .await
}

/// A session of $116 created with `key`; its id.
pub(crate) async fn session(app: &TestApp, key: &str) -> String {
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "preferredRoute": "wallet"});
    let created = app.create_session_with_key(key, &body).await;
    created["id"].as_str().unwrap().to_owned()
}

/// The text of the element with `id` on the page.
pub(crate) fn text_of(page: &Page, id: &str) -> String {
    let start = page
        .html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} on the page:\n{}", page.html));
    let rest = &page.html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    crate::checkout_support::unescape(&rest[open..open + close])
}

/// What the wallet page asks for: (units, address).
pub(crate) fn asked(page: &Page) -> (u64, String) {
    let amount = text_of(page, "amount-value");
    let amount = amount.trim_end_matches(" USDC");
    let (whole, fraction) = amount.split_once('.').unwrap();
    assert_eq!(
        fraction.len(),
        6,
        "every decimal of USDC is shown: {amount}"
    );
    let units = format!("{whole}{fraction}").parse().unwrap();
    (units, text_of(page, "address-value"))
}

/// The event types of a session, sorted.
pub(crate) async fn kinds(app: &TestApp, session_id: &str) -> Vec<String> {
    let mut kinds: Vec<String> = events_of(app, session_id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    kinds.sort();
    kinds
}

pub(crate) async fn wait_for_event(app: &TestApp, session_id: &str, kind: &str) -> Value {
    Chain::until(SETTLE, kind, || async {
        events_of(app, session_id)
            .await
            .iter()
            .any(|e| e.kind == kind)
    })
    .await;
    events_of(app, session_id)
        .await
        .into_iter()
        .find(|e| e.kind == kind)
        .unwrap()
        .payload
}

/// The payment of a session, as the merchant's API shows it to `key`.
pub(crate) async fn payment_json(app: &TestApp, key: &str, session_id: &str) -> Value {
    let response = app
        .get_with_key(&format!("/api/gateway/payments/{session_id}"), key)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The live status line of the buyer's page.
pub(crate) async fn status_line(buyer: &Buyer) -> String {
    text_of(&buyer.open().await, "live-status")
}

#[tokio::test]
async fn a_production_session_is_paid_by_an_exact_transfer_once_confirmed() {
    let chain = Chain::start(8453).await;
    let app = app_with(onchain_route(&chain, Environment::Production, 2)).await;
    let id = session(&app, &app.live_key).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.choose("wallet-usdc-live").await;

    // The page asks for a unique amount at the merchant's address, on Base, as EIP-681.
    let (units, address) = asked(&page);
    assert_eq!(address, MERCHANT, "the address is shown with its checksum");
    assert!((116_000_001..=116_009_999).contains(&units), "{units}");
    let uri = format!("ethereum:{USDC_BASE}@8453/transfer?address={MERCHANT}&#38;uint256={units}");
    assert!(
        page.html.contains(&uri),
        "the EIP-681 request:\n{}",
        page.html
    );
    assert!(page.html.contains("<svg"), "a QR code");
    assert!(page.html.contains("Send USDC on Base"));
    assert!(
        page.html.contains("id=\"wallet-send\""),
        "the browser wallet's button"
    );
    assert!(
        !page.html.contains("name=\"action\""),
        "no sandbox buttons in production"
    );
    assert!(status_line(&buyer).await.contains("Nothing has arrived"));
    assert!(
        kinds(&app, &id).await.is_empty(),
        "nothing is pending at a provider before the transfer: {:?}",
        kinds(&app, &id).await
    );

    chain.mint(BUYER, 500_000_000).await;
    let tx = chain.transfer(BUYER, MERCHANT, units).await;
    let block = chain.block_of(&tx).await.unwrap();
    let pending = wait_for_event(&app, &id, "payment.provider_pending").await;
    assert_eq!(pending["data"]["tx_hash"], tx, "{pending}");
    assert_eq!(
        status_line(&buyer).await,
        format!("Transfer seen in block {block}: 1 of 2 confirmations.")
    );
    assert!(!kinds(&app, &id).await.contains(&"payment.paid".to_owned()));

    chain.mine(1).await;
    let paid = wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], tx);
    assert_eq!(paid["livemode"], true);
    assert_eq!(
        kinds(&app, &id).await,
        ["payment.paid", "payment.provider_pending"]
    );
    let payment = payment_json(&app, &app.live_key, &id).await;
    assert_eq!(payment["status"], "paid", "{payment}");
    let transfers = app
        .scalar("SELECT COUNT(*) FROM onchain_transfers WHERE state = 'confirmed'")
        .await;
    assert_eq!(transfers, 1, "the log is counted once");
    let result = buyer.open().await;
    assert!(result.html.contains("Payment received"), "{}", result.html);
    assert!(
        result.html.contains(&tx),
        "the result names the transaction"
    );
}

#[tokio::test]
async fn a_transfer_of_another_amount_is_recorded_and_pays_nothing() {
    let chain = Chain::start(84_532).await;
    let app = app_with(onchain_route(&chain, Environment::Sandbox, 1)).await;
    let id = session(&app, &app.sandbox_key).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.choose("wallet-usdc-test").await;
    assert!(
        page.html.contains("Send USDC on Base Sepolia"),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("name=\"action\""),
        "a real chain has no simulate buttons"
    );
    let (units, _) = asked(&page);

    chain.mint(BUYER, 500_000_000).await;
    let tx = chain.transfer(BUYER, MERCHANT, units - 123).await;
    Chain::until(SETTLE, "the stray transfer recorded", || async {
        app.scalar("SELECT COUNT(*) FROM onchain_transfers WHERE payment_id IS NULL")
            .await
            == 1
    })
    .await;
    chain.mine(3).await;
    let stored: String =
        sqlx::query_scalar("SELECT tx_hash FROM onchain_transfers WHERE payment_id IS NULL")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(stored, tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(kinds(&app, &id).await.is_empty(), "the payment still waits");
    assert!(status_line(&buyer).await.contains("Nothing has arrived"));

    // The exact amount pays it.
    chain.transfer(BUYER, MERCHANT, units).await;
    wait_for_event(&app, &id, "payment.paid").await;
}

#[tokio::test]
async fn a_reorganisation_before_confirmation_sends_the_payment_back_to_waiting() {
    let chain = Chain::start(8453).await;
    let app = app_with(onchain_route(&chain, Environment::Production, 3)).await;
    let id = session(&app, &app.live_key).await;
    let buyer = Buyer::new(&app, &id);
    let (units, _) = asked(&buyer.choose("wallet-usdc-live").await);
    chain.mint(BUYER, 500_000_000).await;

    let first = chain.transfer(BUYER, MERCHANT, units).await;
    wait_for_event(&app, &id, "payment.provider_pending").await;
    // The transfer's block is replaced by an empty one (and one more block comes).
    chain.reorg(1).await;
    chain.mine(1).await;
    assert_eq!(
        chain.block_of(&first).await,
        None,
        "the reorg dropped the transfer"
    );
    Chain::until(SETTLE, "the page to say the transfer left", || async {
        status_line(&buyer).await.contains("left the chain")
    })
    .await;
    chain.mine(5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!kinds(&app, &id).await.contains(&"payment.paid".to_owned()));

    // The buyer sends it again: seen, confirmed, paid with the new transaction.
    let second = chain.transfer(BUYER, MERCHANT, units).await;
    Chain::until(SETTLE, "the new transfer seen", || async {
        status_line(&buyer).await.contains("1 of 3 confirmations")
    })
    .await;
    chain.mine(2).await;
    let paid = wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], second);
    let metrics = app.get_anonymous("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("openrails_onchain_reorgs_total{scanner=\"8453:0x833589fcd6edb6e08f4c7c32d4f71b54bda02913\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_reorganisation_after_paid_is_counted() {
    let chain = Chain::start(8453).await;
    let app = app_with(onchain_route(&chain, Environment::Production, 1)).await;
    let id = session(&app, &app.live_key).await;
    let buyer = Buyer::new(&app, &id);
    let (units, _) = asked(&buyer.choose("wallet-usdc-live").await);
    chain.mint(BUYER, 500_000_000).await;
    chain.transfer(BUYER, MERCHANT, units).await;
    wait_for_event(&app, &id, "payment.paid").await;

    chain.reorg(1).await;
    chain.mine(1).await;
    let series = "openrails_onchain_reorgs_after_paid_total{scanner=\"8453:0x833589fcd6edb6e08f4c7c32d4f71b54bda02913\"} 1";
    Chain::until(SETTLE, "the metric", || async {
        let metrics = app.get_anonymous("/metrics").await.text().await.unwrap();
        metrics.contains(series)
    })
    .await;
    let removed = app
        .scalar("SELECT COUNT(*) FROM onchain_transfers WHERE state = 'removed'")
        .await;
    assert_eq!(removed, 1);
    let payment = payment_json(&app, &app.live_key, &id).await;
    assert_eq!(
        payment["status"], "paid",
        "a paid payment stays paid: {payment}"
    );
}

#[tokio::test]
async fn a_transfer_after_the_payment_timed_out_is_honoured_and_the_merchant_told() {
    let chain = Chain::start(84_532).await;
    let mut route = onchain_route(&chain, Environment::Sandbox, 1);
    route.provider_timeout_seconds = Some(1);
    let app = app_with(route).await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let id = session(&app, &app.sandbox_key).await;
    let buyer = Buyer::new(&app, &id);
    let (units, _) = asked(&buyer.choose("wallet-usdc-test").await);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    lifecycle::reconcile_once(app.state.lifecycle())
        .await
        .unwrap();
    let failed = wait_for_event(&app, &id, "payment.failed").await;
    assert_eq!(failed["data"]["status"], "failed");

    chain.mint(BUYER, 500_000_000).await;
    let tx = chain.transfer(BUYER, MERCHANT, units).await;
    let paid = wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], tx);
    let received = receiver.wait_for(2, SETTLE).await;
    let types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.contains(&"payment.paid".to_owned()), "{types:?}");
    let payment = payment_json(&app, &app.sandbox_key, &id).await;
    assert_eq!(payment["status"], "paid", "{payment}");
}

#[tokio::test]
async fn two_payments_of_one_total_ask_for_different_amounts_and_each_is_matched() {
    let chain = Chain::start(8453).await;
    let app = app_with(onchain_route(&chain, Environment::Production, 1)).await;
    let first = session(&app, &app.live_key).await;
    let second = session(&app, &app.live_key).await;
    let (a, _) = asked(&Buyer::new(&app, &first).choose("wallet-usdc-live").await);
    let (b, _) = asked(&Buyer::new(&app, &second).choose("wallet-usdc-live").await);
    assert_ne!(a, b, "each payment has an amount of its own");
    chain.mint(BUYER, 500_000_000).await;
    chain.mint(OTHER_BUYER, 500_000_000).await;
    let tx_b = chain.transfer(OTHER_BUYER, MERCHANT, b).await;
    let tx_a = chain.transfer(BUYER, MERCHANT, a).await;
    assert_eq!(
        wait_for_event(&app, &first, "payment.paid").await["data"]["tx_hash"],
        tx_a
    );
    assert_eq!(
        wait_for_event(&app, &second, "payment.paid").await["data"]["tx_hash"],
        tx_b
    );
    assert_eq!(chain.balance(MERCHANT).await, a + b);
}

#[tokio::test]
async fn a_unique_amount_is_not_reused_while_its_payment_is_watched() {
    let app = crate::helpers::spawn_app().await;
    let now = now_ms();
    let watch = |until: i64| Watch {
        payment_id: PaymentId::generate(),
        chain_id: 8453,
        token: ChainAddress::parse(USDC_BASE).unwrap(),
        address: ChainAddress::parse(MERCHANT).unwrap(),
        units: TokenUnits::new(116_000_123),
        exact: true,
        confirmations: 2,
        from_block: 0,
        watch_until: until,
        derived: None,
    };
    let db = &app.db.write;
    let first = watch(now + 60_000);
    assert!(reserve_watch(db, &first, now).await.unwrap());
    let second = watch(now + 60_000);
    assert!(
        !reserve_watch(db, &second, now).await.unwrap(),
        "taken while the first payment is watched"
    );
    assert!(
        reserve_watch(db, &second, now + 60_001).await.unwrap(),
        "free once its watch (window and late-payment horizon) is over"
    );
}

/// A JSON-RPC proxy on 127.0.0.1 in front of `upstream`: `answer` may answer a request itself
/// (else it goes to the chain), and `rewrite` may change what the chain answered. Its port.
fn rpc_proxy<A, R>(upstream: String, answer: A, rewrite: R) -> u16
where
    A: Fn(&Value) -> Option<actix_web::HttpResponse> + Clone + Send + 'static,
    R: Fn(&Value, Value) -> Value + Clone + Send + 'static,
{
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let (answer, rewrite, upstream) = (answer.clone(), rewrite.clone(), upstream.clone());
        App::new().default_service(web::to(move |body: web::Bytes| {
            let (answer, rewrite, upstream) = (answer.clone(), rewrite.clone(), upstream.clone());
            async move {
                let request: Value = serde_json::from_slice(&body).unwrap();
                if let Some(response) = answer(&request) {
                    return response;
                }
                let answered: Value = reqwest::Client::new()
                    .post(&upstream)
                    .json(&request)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                HttpResponse::Ok().json(rewrite(&request, answered))
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    port
}

/// The scanner's failed steps so far, from `/metrics`.
async fn scan_failures(app: &TestApp) -> u64 {
    let metrics = app.get_anonymous("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("openrails_onchain_scan_failures_total "))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_rpc_that_answers_429_is_backed_off_and_the_payment_still_paid() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let chain = Chain::start(8453).await;
    // A proxy in front of the chain that answers 429 while told to.
    let limited = Arc::new(AtomicUsize::new(0));
    let state = limited.clone();
    let port = rpc_proxy(
        chain.url.clone(),
        move |_| {
            (state.load(Ordering::SeqCst) > 0).then(|| {
                state.fetch_sub(1, Ordering::SeqCst);
                actix_web::HttpResponse::TooManyRequests().body("slow down")
            })
        },
        |_, answer| answer,
    );
    let mut route = onchain_route(&chain, Environment::Production, 1);
    route.onchain.as_mut().unwrap().rpc_url = RpcUrl::new(&format!("http://127.0.0.1:{port}"));
    let app = app_with(route).await;
    let id = session(&app, &app.live_key).await;
    let (units, _) = asked(&Buyer::new(&app, &id).choose("wallet-usdc-live").await);

    limited.store(6, Ordering::SeqCst);
    chain.mint(BUYER, 500_000_000).await;
    chain.transfer(BUYER, MERCHANT, units).await;
    wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(limited.load(Ordering::SeqCst), 0, "every 429 was met");
    assert!(scan_failures(&app).await >= 1);
    assert_eq!(app.get_anonymous("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_log_that_its_receipt_does_not_hold_is_never_counted() {
    use openrails_checkout::domain::onchain::transfer_topic;
    use std::sync::{Arc, Mutex};

    let chain = Chain::start(8453).await;
    // A proxy that adds to eth_getLogs answers a transfer the chain never made: in a real
    // block, with that block's hash, paying the session exactly.
    let fake: Arc<Mutex<Option<(u64, Value)>>> = Arc::new(Mutex::new(None));
    let lie = fake.clone();
    let port = rpc_proxy(
        chain.url.clone(),
        |_| None,
        move |request, mut answer| {
            let range = &request["params"][0];
            if request["method"] == "eth_getLogs"
                && let Some((block, log)) = lie.lock().unwrap().clone()
            {
                let bound = |key: &str| {
                    u64::from_str_radix(range[key].as_str().unwrap().trim_start_matches("0x"), 16)
                        .unwrap()
                };
                if (bound("fromBlock")..=bound("toBlock")).contains(&block) {
                    answer["result"].as_array_mut().unwrap().push(log);
                }
            }
            answer
        },
    );
    let mut route = onchain_route(&chain, Environment::Production, 1);
    route.onchain.as_mut().unwrap().rpc_url = RpcUrl::new(&format!("http://127.0.0.1:{port}"));
    let app = app_with(route).await;
    let id = session(&app, &app.live_key).await;
    let (units, _) = asked(&Buyer::new(&app, &id).choose("wallet-usdc-live").await);

    chain.mint(BUYER, 500_000_000).await;
    let minted = chain.rpc("eth_blockNumber", json!([])).await;
    let block = chain
        .rpc("eth_getBlockByNumber", json!([minted, false]))
        .await;
    let word = |a: &str| ChainAddress::parse(a).unwrap().topic();
    let log = json!({
        "address": USDC_BASE.to_lowercase(),
        "topics": [transfer_topic(), word(BUYER), word(MERCHANT)],
        "data": format!("0x{units:064x}"),
        "blockNumber": minted,
        "blockHash": block["hash"],
        "transactionHash": format!("0x{}", "ab".repeat(32)),
        "logIndex": "0x7",
        "removed": false,
    });
    let number =
        u64::from_str_radix(minted.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    *fake.lock().unwrap() = Some((number, log));
    Chain::until(SETTLE, "the scanner to refuse the log twice", || async {
        scan_failures(&app).await >= 2
    })
    .await;
    assert!(
        kinds(&app, &id).await.is_empty(),
        "nothing seen, nothing paid"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM onchain_transfers").await,
        0,
        "the log is not recorded"
    );

    // Once the endpoint stops lying, the real transfer pays and only it is recorded.
    *fake.lock().unwrap() = None;
    let tx = chain.transfer(BUYER, MERCHANT, units).await;
    let paid = wait_for_event(&app, &id, "payment.paid").await;
    assert_eq!(paid["data"]["tx_hash"], tx);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM onchain_transfers").await,
        1
    );
}

#[tokio::test]
async fn another_token_to_our_address_and_transfers_from_it_pay_nothing() {
    const OTHER_TOKEN: &str = "0x1111111111111111111111111111111111111111";
    let chain = Chain::start(8453).await;
    chain.place_token(OTHER_TOKEN).await;
    let app = app_with(onchain_route(&chain, Environment::Production, 1)).await;
    let id = session(&app, &app.live_key).await;
    let (units, _) = asked(&Buyer::new(&app, &id).choose("wallet-usdc-live").await);

    // The exact amount, but of another token; and the exact amount sent from our address.
    chain.mint_of(OTHER_TOKEN, BUYER, 500_000_000).await;
    chain.transfer_of(OTHER_TOKEN, BUYER, MERCHANT, units).await;
    chain.mint(MERCHANT, 500_000_000).await;
    chain.transfer(MERCHANT, BUYER, units).await;
    let head = chain.rpc("eth_blockNumber", json!([])).await;
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    Chain::until(SETTLE, "the scanner to pass those blocks", || async {
        app.scalar("SELECT COALESCE(MAX(block_number), 0) FROM onchain_scanners")
            .await
            >= i64::try_from(head).unwrap()
    })
    .await;
    assert!(
        kinds(&app, &id).await.is_empty(),
        "nothing seen, nothing paid"
    );
    // Only the USDC minted to our address is recorded (a transfer to it that pays nothing).
    let counted = app
        .scalar(
            "SELECT COUNT(*) FROM onchain_transfers WHERE payment_id IS NOT NULL
             OR from_address <> '0x0000000000000000000000000000000000000000'",
        )
        .await;
    assert_eq!(counted, 0);

    let tx = chain.transfer(BUYER, MERCHANT, units).await;
    assert_eq!(
        wait_for_event(&app, &id, "payment.paid").await["data"]["tx_hash"],
        tx
    );
}

/// The real binary's configuration: one production `onchain` route on `chain`.
fn served_config(dir: &std::path::Path, chain: &Chain, confirmations: u64) -> String {
    let path = dir.join("config.toml");
    let text = format!(
        r#"[[routes]]
id = "wallet-usdc-live"
kind = "wallet"
label = "USDC wallet"
provider = "USDC on Base"
integration = "onchain"
environments = ["production"]
buyer_fee_rate = 0.0
gateway_fee_rate = 0.0
eta = "about 1 minute"
onchain = {{ rpc_url = "{}", chain_id = 8453, settlement_address = "{MERCHANT}", confirmations = {confirmations}, poll_interval_ms = 100 }}
"#,
        chain.url
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A migrated database with the first merchant, for the real binary; (database, live key).
async fn served_database() -> (
    crate::helpers::TestDatabase,
    openrails_checkout::db::Db,
    String,
) {
    let database = crate::helpers::TestDatabase::create().await;
    let db = openrails_checkout::db::Db::connect(&database.url, 4)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let first = openrails_checkout::bootstrap::ensure_first_merchant(&db, "Test Store")
        .await
        .unwrap()
        .unwrap();
    let (_, live_key) = openrails_checkout::db::api_keys::create_api_key(
        &db.write,
        &first.merchant_id,
        Environment::Production,
        "live",
        now_ms(),
    )
    .await
    .unwrap();
    (database, db, live_key)
}

/// A production session on the server at `address`, its wallet route chosen; (id, units).
async fn served_session(address: &str, live_key: &str) -> (String, u64) {
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"});
    let created: Value = crate::helpers::http_client()
        .post(format!("{address}/api/gateway/sessions"))
        .bearer_auth(live_key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let (units, _) = asked(&Buyer::at(address, &id).choose("wallet-usdc-live").await);
    (id, units)
}

/// The types of a session's events in `db`, sorted.
async fn stored_kinds(db: &openrails_checkout::db::Db, session_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM events WHERE session_id = $1 ORDER BY type")
        .bind(session_id)
        .fetch_all(&db.read)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_server_killed_mid_confirmation_pays_after_its_restart() {
    let chain = Chain::start(8453).await;
    let dir = tempfile::tempdir().unwrap();
    let config = served_config(dir.path(), &chain, 3);
    let (database, db, live_key) = served_database().await;
    let env = [("OPENRAILS_CONFIG", config.as_str())];
    let mut first = crate::served::Served::start(&database.url, &dir.path().join("a.log"), &env);
    let address = first.address().await;
    let (id, units) = served_session(&address, &live_key).await;
    chain.mint(BUYER, 500_000_000).await;
    let tx = chain.transfer(BUYER, MERCHANT, units).await;
    Chain::until(SETTLE, "the transfer seen", || async {
        stored_kinds(&db, &id).await == ["payment.provider_pending"]
    })
    .await;
    first.kill_9();

    // Confirmed while no server runs; the next one finds it where the first left off.
    chain.mine(2).await;
    let mut second = crate::served::Served::start(&database.url, &dir.path().join("b.log"), &env);
    second.address().await;
    Chain::until(SETTLE, "payment.paid", || async {
        stored_kinds(&db, &id).await == ["payment.paid", "payment.provider_pending"]
    })
    .await;
    let counted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM onchain_transfers WHERE tx_hash = $1")
            .bind(&tx)
            .fetch_one(&db.read)
            .await
            .unwrap();
    assert_eq!(counted, 1);
    second.assert_running();
}

#[tokio::test]
async fn two_servers_scan_one_at_a_time_and_the_survivor_takes_over() {
    let chain = Chain::start(8453).await;
    let dir = tempfile::tempdir().unwrap();
    let config = served_config(dir.path(), &chain, 2);
    let (database, db, live_key) = served_database().await;
    let env = [("OPENRAILS_CONFIG", config.as_str())];
    let mut servers = [
        crate::served::Served::start(&database.url, &dir.path().join("a.log"), &env),
        crate::served::Served::start(&database.url, &dir.path().join("b.log"), &env),
    ];
    let address = servers[0].address().await;
    servers[1].address().await;
    let (paid_before, units) = served_session(&address, &live_key).await;
    chain.mint(BUYER, 500_000_000).await;
    chain.transfer(BUYER, MERCHANT, units).await;
    chain.mine(1).await;
    Chain::until(SETTLE, "the first payment paid", || async {
        stored_kinds(&db, &paid_before)
            .await
            .contains(&"payment.paid".to_owned())
    })
    .await;

    // Kill whichever holds the lease; the other takes over once it lapses (10 s).
    let owner: String = sqlx::query_scalar("SELECT lease_owner FROM onchain_scanners")
        .fetch_one(&db.read)
        .await
        .unwrap();
    let leader = servers
        .iter()
        .position(|s| s.output().contains(&owner))
        .expect("one server's log names the lease's owner");
    servers[leader].kill_9();
    let survivor = &mut servers[1 - leader];
    let survivor_address = survivor.address().await;
    let (paid_after, units) = served_session(&survivor_address, &live_key).await;
    chain.transfer(BUYER, MERCHANT, units).await;
    chain.mine(1).await;
    Chain::until(Duration::from_secs(30), "the survivor pays", || async {
        stored_kinds(&db, &paid_after)
            .await
            .contains(&"payment.paid".to_owned())
    })
    .await;
    survivor.assert_running();
    for id in [&paid_before, &paid_after] {
        assert_eq!(
            stored_kinds(&db, id).await,
            ["payment.paid", "payment.provider_pending"],
            "one of each event for {id}"
        );
    }
    let transfers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM onchain_transfers")
        .fetch_one(&db.read)
        .await
        .unwrap();
    assert_eq!(transfers, 2, "every transfer counted once");
}

/// What starting a server with `route` (beside the defaults) says: `Ok` or the error's text.
pub(crate) async fn start_with(route: PaymentRoute) -> Result<(), String> {
    let database = crate::helpers::TestDatabase::create().await;
    let db = openrails_checkout::db::Db::connect(&database.url, 2)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let mut settings = openrails_checkout::config::Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database.url.clone(),
        ..Default::default()
    };
    settings.routes.push(route);
    openrails_checkout::startup::Application::build_with_db(settings, db)
        .await
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

#[tokio::test]
async fn every_onchain_key_is_checked_at_start_with_a_clear_error() {
    let chain = Chain::start(8453).await;
    let route = || onchain_route(&chain, Environment::Production, 2);
    let settings = |f: &dyn Fn(&mut OnchainRoute)| {
        let mut route = route();
        f(route.onchain.as_mut().unwrap());
        route
    };
    assert_eq!(start_with(route()).await, Ok(()));

    let typo = MERCHANT.replace("C51812", "c51812");
    let cases: Vec<(PaymentRoute, &str)> = vec![
        (
            settings(&|o| o.settlement_address = Some(typo.clone())),
            "settlement_address",
        ),
        (
            settings(&|o| o.settlement_address = Some("0x1234".into())),
            "0x and 40 hex digits",
        ),
        (
            settings(&|o| o.settlement_address = None),
            "settlement_address is required",
        ),
        (
            settings(&|o| o.token_address = USDC_BASE.to_lowercase().replace("0x8", "0x9")),
            "decimals",
        ),
        (settings(&|o| o.chain_id = 84_532), "is not Base (8453)"),
        (
            settings(&|o| o.token_decimals = 18),
            "token_decimals is 18 but the token",
        ),
        (
            settings(&|o| o.confirmations = 0),
            "confirmations must be between 1 and 64",
        ),
        (
            settings(&|o| o.rpc_url = RpcUrl::new("ftp://node")),
            "rpc_url",
        ),
        (
            settings(&|o| o.address_mode = AddressMode::Xpub),
            "settlement_address is for address_mode",
        ),
        (
            PaymentRoute {
                kind: openrails_checkout::domain::RouteKind::Card,
                ..route()
            },
            "wallet routes only",
        ),
        (
            PaymentRoute {
                environments: vec![Environment::Sandbox],
                ..route()
            },
            "8453 is Base mainnet",
        ),
        (
            PaymentRoute {
                onchain: None,
                ..route()
            },
            "needs its settings",
        ),
    ];
    for (route, expected) in cases {
        let error = start_with(route.clone())
            .await
            .expect_err(&format!("{route:?} must be refused"));
        assert!(error.contains(expected), "{expected:?} not in {error:?}");
    }

    // A chain that does not answer only warns: payments wait for it.
    let unreachable = settings(&|o| o.rpc_url = RpcUrl::new("http://127.0.0.1:9"));
    assert_eq!(start_with(unreachable).await, Ok(()));
}
