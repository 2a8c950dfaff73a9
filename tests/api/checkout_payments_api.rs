//! What the merchant reads after the buyer has been through the pages: payments, invoices and
//! the session, with their filters, and nothing of another merchant's.

use serde_json::Value;

use crate::checkout_support::*;
use crate::helpers::{TestApp, assert_error, spawn_app};

/// A paid card checkout: (session id, payment JSON).
async fn paid_card(app: &TestApp) -> (String, Value) {
    let id = create_checkout(app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(app, &id).card_checkout(CARD_PAYS).await;
    let payment = api_payment(app, &id).await;
    (id, payment)
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_paid_card_payment_reads_the_same_by_pay_and_by_chk_id() {
    let app = spawn_app().await;
    let (id, by_session) = paid_card(&app).await;
    let payment_id = by_session["id"].as_str().unwrap();

    let by_id = get_json(&app, &format!("/api/gateway/payments/{payment_id}")).await;

    assert_eq!(by_id, by_session);
    assert_eq!(by_id["object"], "payment");
    assert_eq!(by_id["status"], "paid");
    assert_eq!(by_id["ledgerStatus"], "settled");
    assert_eq!(by_id["amount"].as_f64(), Some(116.0));
    assert_eq!(by_id["currency"], "USD");
    assert_eq!(by_id["sessionId"], id.as_str());
    assert_eq!(by_id["livemode"], false);
    assert!(by_id["customerId"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(by_id["route"]["id"], CARD_ROUTE);
    assert_eq!(by_id["route"]["kind"], "card");
    assert_eq!(by_id["route"]["label"], "Credit card");
    assert!(by_id["route"]["provider"].is_string());
    assert_eq!(by_id["fees"]["buyer_fee"].as_f64(), Some(3.72));
    assert_eq!(by_id["fees"]["total"].as_f64(), Some(119.72));
    assert_eq!(by_id["card"]["brand"], "visa");
    assert_eq!(by_id["card"]["last4"], "4242");
    assert!(by_id["txHash"].as_str().unwrap().starts_with("0x"));
    assert_eq!(by_id["metadata"]["order_id"], "ord_284");
    let session = api_session(&app, &id).await;
    assert_eq!(session["paymentId"], by_id["id"]);
    assert_eq!(session["route"]["id"], CARD_ROUTE);
    assert_eq!(session["fees"]["merchant_net"].as_f64(), Some(112.52));
}

#[tokio::test]
async fn payments_are_listed_and_filtered_by_customer_invoice_payment_and_status() {
    let app = spawn_app().await;
    let (paid_session, paid) = paid_card(&app).await;
    let failed_session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(&app, &failed_session)
        .card_checkout(CARD_DECLINED)
        .await;
    let failed = api_payment(&app, &failed_session).await;
    let mut other_customer = checkout_body(50.0, None);
    other_customer["customer"] = "someone.else@example.com".into();
    let pending_session = create_checkout(&app, &other_customer).await;
    Buyer::new(&app, &pending_session).choose(LOCAL_ROUTE).await;
    let pending = api_payment(&app, &pending_session).await;
    let paid_id = paid["id"].as_str().unwrap().to_owned();
    let failed_id = failed["id"].as_str().unwrap().to_owned();
    let pending_id = pending["id"].as_str().unwrap().to_owned();

    let all = get_json(&app, "/api/gateway/payments").await;
    assert_eq!(all["object"], "list");
    assert_eq!(all["hasMore"], false);
    let mut listed = ids(&all);
    listed.sort();
    let mut want = vec![paid_id.clone(), failed_id.clone(), pending_id.clone()];
    want.sort();
    assert_eq!(listed, want);

    let by_status = get_json(&app, "/api/gateway/payments?status=paid").await;
    assert_eq!(ids(&by_status), vec![paid_id.clone()]);
    let by_status = get_json(&app, "/api/gateway/payments?status=failed").await;
    assert_eq!(ids(&by_status), vec![failed_id.clone()]);
    let by_status = get_json(&app, "/api/gateway/payments?status=pending").await;
    assert_eq!(ids(&by_status), vec![pending_id.clone()]);

    let customer = pending["customerId"].as_str().unwrap();
    let by_customer = get_json(
        &app,
        &format!("/api/gateway/payments?customerId={customer}"),
    )
    .await;
    assert_eq!(ids(&by_customer), vec![pending_id.clone()]);
    let buyer = paid["customerId"].as_str().unwrap();
    let by_customer = get_json(&app, &format!("/api/gateway/payments?customerId={buyer}")).await;
    assert_eq!(ids(&by_customer).len(), 2);

    let invoice = failed["invoiceId"].as_str().unwrap();
    let by_invoice = get_json(&app, &format!("/api/gateway/payments?invoiceId={invoice}")).await;
    assert_eq!(ids(&by_invoice), vec![failed_id.clone()]);

    let by_payment = get_json(&app, &format!("/api/gateway/payments?paymentId={paid_id}")).await;
    assert_eq!(ids(&by_payment), vec![paid_id.clone()]);
    let by_chk = get_json(
        &app,
        &format!("/api/gateway/payments?paymentId={paid_session}"),
    )
    .await;
    assert_eq!(ids(&by_chk), vec![paid_id.clone()]);

    let first = get_json(&app, "/api/gateway/payments?limit=2").await;
    assert_eq!(ids(&first).len(), 2);
    assert_eq!(first["hasMore"], true);
    let last = ids(&first)[1].clone();
    let rest = get_json(
        &app,
        &format!("/api/gateway/payments?limit=2&startingAfter={last}"),
    )
    .await;
    assert_eq!(ids(&rest).len(), 1);
    assert_eq!(rest["hasMore"], false);
    let mut paged = ids(&first);
    paged.extend(ids(&rest));
    paged.sort();
    assert_eq!(paged, want, "pages cover every payment once");

    let wrong = app.get("/api/gateway/payments?paymentID=x").await;
    assert_error(wrong, 400, "validation_failed").await;
}

#[tokio::test]
async fn invoices_follow_their_payments_and_are_filtered() {
    let app = spawn_app().await;
    let (_, paid) = paid_card(&app).await;
    let failed_session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(&app, &failed_session)
        .card_checkout(CARD_DECLINED)
        .await;
    let failed = api_payment(&app, &failed_session).await;
    let open_session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(&app, &open_session).choose(CARD_ROUTE).await;
    let open = api_payment(&app, &open_session).await;
    let paid_invoice = paid["invoiceId"].as_str().unwrap();
    let void_invoice = failed["invoiceId"].as_str().unwrap();
    let open_invoice = open["invoiceId"].as_str().unwrap();

    let invoice = api_invoice(&app, paid_invoice).await;
    assert_eq!(invoice["object"], "invoice");
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["amount"].as_f64(), Some(116.0));
    assert_eq!(invoice["currency"], "USD");
    assert_eq!(invoice["paymentId"], paid["id"]);
    assert_eq!(invoice["customerId"], paid["customerId"]);
    assert_eq!(invoice["metadata"]["order_id"], "ord_284");
    assert_eq!(api_invoice(&app, void_invoice).await["status"], "void");
    assert_eq!(api_invoice(&app, open_invoice).await["status"], "open");

    for (status, want) in [
        ("paid", paid_invoice),
        ("void", void_invoice),
        ("open", open_invoice),
    ] {
        let list = get_json(&app, &format!("/api/gateway/invoices?status={status}")).await;
        assert_eq!(ids(&list), vec![want.to_owned()], "{status}");
    }
    let by_payment = get_json(
        &app,
        &format!(
            "/api/gateway/invoices?paymentId={}",
            failed["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(ids(&by_payment), vec![void_invoice.to_owned()]);
    let by_id = get_json(
        &app,
        &format!("/api/gateway/invoices?invoiceId={open_invoice}"),
    )
    .await;
    assert_eq!(ids(&by_id), vec![open_invoice.to_owned()]);
    let customer = paid["customerId"].as_str().unwrap();
    let by_customer = get_json(
        &app,
        &format!("/api/gateway/invoices?customerId={customer}"),
    )
    .await;
    assert_eq!(ids(&by_customer).len(), 3);
    let all = get_json(&app, "/api/gateway/invoices").await;
    assert_eq!(ids(&all).len(), 3);
}

#[tokio::test]
async fn another_merchant_cannot_read_the_payment_or_invoice() {
    let app = spawn_app().await;
    let (id, paid) = paid_card(&app).await;
    let other = app.create_merchant("Other Store").await;
    let payment_id = paid["id"].as_str().unwrap();
    let invoice_id = paid["invoiceId"].as_str().unwrap();

    for key in [&other.sandbox_key, &other.live_key, &app.live_key] {
        for path in [
            format!("/api/gateway/payments/{payment_id}"),
            format!("/api/gateway/payments/{id}"),
            format!("/api/gateway/invoices/{invoice_id}"),
        ] {
            let response = app.get_with_key(&path, key).await;
            assert_error(response, 404, "resource_missing").await;
        }
        for path in [
            "/api/gateway/payments".to_owned(),
            format!("/api/gateway/payments?paymentId={payment_id}"),
            "/api/gateway/invoices".to_owned(),
        ] {
            let response = app.get_with_key(&path, key).await;
            assert_eq!(response.status().as_u16(), 200, "{path}");
            let list: Value = response.json().await.unwrap();
            assert!(ids(&list).is_empty(), "{path}: {list}");
        }
    }
    let anonymous = app
        .get_anonymous(&format!("/api/gateway/payments/{payment_id}"))
        .await;
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn an_unknown_payment_or_invoice_is_404() {
    let app = spawn_app().await;
    for path in [
        "/api/gateway/payments/pay_doesnotexist",
        "/api/gateway/payments/chk_doesnotexist",
        "/api/gateway/payments/inv_wrongkind",
        "/api/gateway/invoices/inv_doesnotexist",
        "/api/gateway/invoices/pay_wrongkind",
    ] {
        let response = app.get(path).await;
        assert_error(response, 404, "resource_missing").await;
    }
}
