//! `/api/gateway/events`: the outbox as merchants see it, each attempt, redelivery of one event
//! or of everything since a time; the `webhook.example` agent action; and the paid page, which
//! waits for the merchant to acknowledge `payment.paid` before sending the buyer back.

use std::time::Duration;

use openrails_checkout::domain::time::{iso_seconds, now_ms};
use serde_json::{Value, json};

use crate::checkout_support::{
    Buyer, CARD_PAYS, REDIRECT, assert_result_page, checkout_body, create_checkout, expected_return,
};
use crate::helpers::{TestApp, assert_error, issue_fields, spawn_app, spawn_app_with};
use crate::webhook_support::{
    Receiver, Reply, assert_signed_with, delivery_of, drive_until_delivered, event_json, json_ok,
    post_json, record_paid_events, register, register_receiver,
};

/// A card checkout paid by a buyer; returns the session id.
async fn paid_checkout(app: &TestApp) -> String {
    let session = create_checkout(app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(app, &session).card_checkout(CARD_PAYS).await;
    session
}

#[tokio::test]
async fn the_events_api_shows_each_event_with_its_deliveries_and_attempts() {
    let app = spawn_app().await;
    let receiver = Receiver::start(|_, _| Reply::ok().body("received, thanks")).await;
    let (endpoint_id, _) = register_receiver(&app, &receiver).await;
    let session = paid_checkout(&app).await;
    let paid_id = format!("evt_{session}_paid");
    receiver.wait_for(2, Duration::from_secs(10)).await;
    drive_until_delivered(&app, &paid_id).await;

    let list = json_ok(app.get("/api/gateway/events").await).await;

    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{list}");
    for event in data {
        assert_eq!(event["object"], "event");
        assert_eq!(event["sessionId"], session.as_str());
        assert_eq!(event["livemode"], false);
        assert_eq!(event["payload"]["id"], event["id"]);
        assert_eq!(event["payload"]["type"], event["type"]);
        assert!(event.get("deliveries").is_none(), "{event}");
    }
    let paid = json_ok(app.get("/api/gateway/events?type=payment.paid").await).await;
    assert_eq!(paid["data"].as_array().unwrap().len(), 1, "{paid}");
    assert_eq!(paid["data"][0]["id"], paid_id.as_str());
    let by_session = json_ok(
        app.get(&format!("/api/gateway/events?sessionId={session}"))
            .await,
    )
    .await;
    assert_eq!(by_session["data"].as_array().unwrap().len(), 2);
    let none = json_ok(app.get("/api/gateway/events?sessionId=chk_nobody").await).await;
    assert_eq!(none["data"], json!([]));

    let one = event_json(&app, &paid_id).await;
    assert_eq!(one["type"], "payment.paid");
    let sent = receiver
        .requests()
        .into_iter()
        .find(|r| r.event_id() == paid_id)
        .unwrap();
    assert_eq!(one["payload"], sent.json(), "the payload is what was sent");
    let deliveries = one["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{one}");
    assert_eq!(deliveries[0]["endpointId"], endpoint_id.as_str());
    assert_eq!(deliveries[0]["status"], "succeeded");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["lastStatusCode"], 200);
    assert!(deliveries[0]["nextAttemptAt"].is_null(), "{one}");
    let attempts = one["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{one}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["statusCode"], 200);
    assert_eq!(attempts[0]["responseBody"], "received, thanks");
    assert!(attempts[0]["error"].is_null());
    assert!(attempts[0]["durationMs"].as_i64().is_some_and(|d| d >= 0));
}

#[tokio::test]
async fn events_belong_to_their_merchant_and_environment() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let ids = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "sandbox",
        "mine",
        1,
        now_ms(),
    )
    .await;
    let path = format!("/api/gateway/events/{}", ids[0]);

    for key in [&other.sandbox_key, &app.live_key] {
        assert_error(app.get_with_key(&path, key).await, 404, "resource_missing").await;
        let redeliver = app
            .post_empty_with_key(&format!("{path}/redeliver"), key)
            .await;
        assert_error(redeliver, 404, "resource_missing").await;
        let list = json_ok(app.get_with_key("/api/gateway/events", key).await).await;
        assert_eq!(list["data"], json!([]), "{list}");
    }
    assert_error(
        app.get("/api/gateway/events/evt_chk_unknown_paid").await,
        404,
        "resource_missing",
    )
    .await;
    assert_eq!(app.get_anonymous(&path).await.status().as_u16(), 401);
}

#[tokio::test]
async fn redelivering_an_event_sends_it_again_with_the_same_id_and_body() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    let (_, secret) = register_receiver(&app, &receiver).await;
    let session = paid_checkout(&app).await;
    let paid_id = format!("evt_{session}_paid");
    drive_until_delivered(&app, &paid_id).await;
    drive_until_delivered(&app, &format!("evt_{session}_provider_pending")).await;
    let first = receiver
        .requests()
        .into_iter()
        .find(|r| r.event_id() == paid_id)
        .unwrap();
    let before = receiver.count();

    let queued = json_ok(
        post_json(
            &app,
            &format!("/api/gateway/events/{paid_id}/redeliver"),
            None,
        )
        .await,
    )
    .await;

    assert_eq!(queued, json!({"id": paid_id.as_str(), "queued": 1}));
    let got = receiver.wait_for(before + 1, Duration::from_secs(10)).await;
    let again = &got[before];
    assert_eq!(again.event_id(), paid_id);
    assert_eq!(again.body, first.body, "the same event, byte for byte");
    assert_signed_with(again, &secret);
    drive_until_delivered(&app, &paid_id).await;
    let delivery = delivery_of(&app, &paid_id).await;
    assert_eq!(delivery.attempts, 2);
    assert_eq!(
        event_json(&app, &paid_id).await["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(receiver.count(), before + 1, "redelivered once");
}

#[tokio::test]
async fn redelivering_since_a_time_queues_every_later_event_for_every_endpoint() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let merchant = app.merchant_id.as_str();
    let now = now_ms();
    let old = record_paid_events(&app.db, merchant, "sandbox", "old", 1, now - 7_200_000).await;
    let recent = record_paid_events(&app.db, merchant, "sandbox", "new", 2, now - 60_000).await;
    // The server's worker finds them on its next poll.
    receiver.wait_for(3, Duration::from_secs(10)).await;
    for id in old.iter().chain(&recent) {
        drive_until_delivered(&app, id).await;
    }
    let late = Receiver::accepting().await;
    register_receiver(&app, &late).await;

    let queued = json_ok(
        post_json(
            &app,
            "/api/gateway/events/redeliver",
            Some(&json!({"since": iso_seconds(now - 3_600_000)})),
        )
        .await,
    )
    .await;

    assert_eq!(
        queued,
        json!({"events": 2, "queued": 4}),
        "two events, for the first endpoint again and the new one"
    );
    let again = receiver.wait_for(5, Duration::from_secs(10)).await;
    let mut replayed: Vec<String> = again[3..].iter().map(|r| r.event_id()).collect();
    replayed.sort();
    assert_eq!(replayed, recent);
    let late_got = late.wait_for(2, Duration::from_secs(10)).await;
    let mut late_ids: Vec<String> = late_got.iter().map(|r| r.event_id()).collect();
    late_ids.sort();
    assert_eq!(late_ids, recent);
    for id in &recent {
        drive_until_delivered(&app, id).await;
    }
    assert_eq!(receiver.count(), 5, "the older event was not sent again");
}

#[tokio::test]
async fn redelivering_since_needs_an_rfc3339_time() {
    let app = spawn_app().await;

    for body in [
        json!({}),
        json!({"since": "yesterday"}),
        json!({"since": 1_700_000_000}),
        json!({"since": "2026-11-24T00:00:00Z", "until": "2026-11-25T00:00:00Z"}),
    ] {
        let response = post_json(&app, "/api/gateway/events/redeliver", Some(&body)).await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert!(!issue_fields(&error).is_empty(), "{error}");
    }
}

#[tokio::test]
async fn the_webhook_example_action_returns_a_payload_shaped_like_a_delivery() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/api/agent/actions/webhook.example"))
        .json(&json!({
            "event": "payment.paid",
            "sessionId": "chk_nimbus_1056",
            "customerId": "cus_7G42M9",
            "amount": 899,
            "routeId": "card-bridge-a",
            "metadata": {"order_id": "ord_284"}
        }))
        .send()
        .await
        .unwrap();

    let body = json_ok(response).await;
    let result = &body["result"];
    assert_eq!(result["id"], "evt_chk_nimbus_1056_paid");
    assert_eq!(result["type"], "payment.paid");
    assert_eq!(result["livemode"], false);
    assert!(result["created"].as_str().is_some_and(|c| c.ends_with('Z')));
    let d = &result["data"];
    assert_eq!(d["session_id"], "chk_nimbus_1056");
    assert_eq!(d["customer_id"], "cus_7G42M9");
    assert_eq!(d["status"], "paid");
    assert_eq!(d["amount"].as_f64(), Some(899.0));
    assert_eq!(d["currency"], "USD");
    assert_eq!(d["asset"], "USDC");
    assert_eq!(d["network"], "Base");
    assert_eq!(d["route"]["id"], "card-bridge-a");
    assert_eq!(d["route"]["kind"], "card");
    assert_eq!(
        d["fees"],
        json!({"buyer_fee": 28.77, "gateway_fee": 26.97, "merchant_net": 872.03, "total": 927.77})
    );
    assert_eq!(d["tx_hash"], "0xabc123");
    assert_eq!(d["metadata"], json!({"order_id": "ord_284"}));

    let failed = json_ok(
        app.client
            .post(app.url("/api/agent/actions/webhook.example"))
            .json(&json!({"event": "payment.failed"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(failed["result"]["type"], "payment.failed");
    assert_eq!(failed["result"]["data"]["status"], "failed");
    assert!(
        failed["result"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_") && id.ends_with("_failed")),
        "{failed}"
    );
}

#[tokio::test]
async fn the_webhook_example_action_refuses_an_unknown_event_or_action() {
    let app = spawn_app().await;
    let post = |path: &'static str, body: Value| app.client.post(app.url(path)).json(&body).send();

    let bad_event = post(
        "/api/agent/actions/webhook.example",
        json!({"event": "payment.refunded"}),
    )
    .await
    .unwrap();
    let error = assert_error(bad_event, 400, "validation_failed").await;
    assert_eq!(issue_fields(&error), vec!["event"]);
    let bad_route = post(
        "/api/agent/actions/webhook.example",
        json!({"routeId": "no-such-route"}),
    )
    .await
    .unwrap();
    assert_error(bad_route, 400, "validation_failed").await;
    let unknown = post("/api/agent/actions/checkout.destroy", json!({}))
        .await
        .unwrap();
    assert_error(unknown, 404, "resource_missing").await;
}

#[tokio::test]
async fn the_paid_page_waits_for_the_merchant_to_acknowledge_payment_paid_before_sending_the_buyer_back()
 {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.redirect_wait_seconds = 120;
    })
    .await;
    let receiver = Receiver::start(|_, _| Reply::status(503)).await;
    register_receiver(&app, &receiver).await;
    let session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &session);

    let page = buyer.card_checkout(CARD_PAYS).await;

    let back = expected_return(REDIRECT, &session, "paid");
    assert!(page.html.contains("Payment received"), "{}", page.html);
    assert_ne!(
        page.refresh(),
        Some(format!("3;url={back}")),
        "the buyer is sent back before the merchant knows"
    );
    assert!(
        !page
            .refresh()
            .unwrap_or_default()
            .contains("merchant.example"),
        "{:?}",
        page.refresh()
    );
    assert_eq!(page.return_href(), None, "{}", page.html);
    let status = buyer.status_json().await;
    assert_eq!(status["status"], "paid", "{status}");

    receiver.set_script(|_, _| Reply::ok());
    drive_until_delivered(&app, &format!("evt_{session}_paid")).await;

    let page = buyer.open().await;
    assert_result_page(&page, true, Some(&back));
}

#[tokio::test]
async fn the_paid_page_sends_the_buyer_back_anyway_once_the_wait_is_over() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.redirect_wait_seconds = 0;
    })
    .await;
    let receiver = Receiver::start(|_, _| Reply::status(503)).await;
    register_receiver(&app, &receiver).await;
    let session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;

    let page = Buyer::new(&app, &session).card_checkout(CARD_PAYS).await;

    assert_result_page(
        &page,
        true,
        Some(&expected_return(REDIRECT, &session, "paid")),
    );
    let delivery = delivery_of(&app, &format!("evt_{session}_paid")).await;
    assert_ne!(delivery.status, "succeeded", "{delivery:?}");
}

#[tokio::test]
async fn the_paid_page_does_not_wait_for_a_merchant_without_a_payment_paid_endpoint() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.redirect_wait_seconds = 120;
    })
    .await;
    let receiver = Receiver::start(|_, _| Reply::status(503)).await;
    register(&app, &receiver.url, Some(&["payment.failed"])).await;
    let session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;

    let page = Buyer::new(&app, &session).card_checkout(CARD_PAYS).await;

    assert_result_page(
        &page,
        true,
        Some(&expected_return(REDIRECT, &session, "paid")),
    );
}
