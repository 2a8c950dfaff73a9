//! Delivering events: the payload and headers of SPEC 6 checked by an independent signature
//! implementation, retries on the schedule (time driven through the worker step, not slept),
//! time-outs, `410`, `Retry-After`, redirects, truncated answers, secret rotation, SSRF.

use std::time::{Duration, Instant};

use openrails_checkout::db::webhook_endpoints::{EndpointRow, insert_endpoint};
use openrails_checkout::domain::time::{iso_seconds, now_ms, parse_rfc3339_ms};
use openrails_checkout::domain::{EndpointStatus, Environment, WebhookEndpointId};
use openrails_checkout::webhooks::verify;
use openrails_checkout::webhooks::worker::deliver_due;
use serde_json::{Value, json};

use crate::checkout_support::{
    Buyer, CARD_PAYS, REDIRECT, checkout_body, create_checkout, events_of,
};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::webhook_support::{
    Receiver, Reply, assert_not_signed_with, assert_signed_with, deliver_at, deliveries_of,
    delivery_of, drive_until_delivered, driven_clock, endpoint_json, event_json, expected_v1,
    json_ok, parse_signature, post_json, record_event_at, record_paid_events, register_receiver,
};

/// The retry delays SPEC 6 gives, in seconds, after attempts 1 to 9.
const SCHEDULE: &[i64] = &[5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// A server whose own worker only wakes when this process records an event.
async fn driven_app() -> TestApp {
    spawn_app_with(|s| s.webhook_poll_interval_ms = 3_600_000).await
}

/// Checks that `next` is `delay_s` after `now` give or take the 10 % jitter.
fn assert_within_jitter(next: i64, now: i64, delay_s: i64, attempt: usize) {
    let delay = next - now;
    let low = delay_s * 900 - 1;
    let high = delay_s * 1100 + 1;
    assert!(
        (low..=high).contains(&delay),
        "after attempt {attempt} the next comes {delay} ms later, not {delay_s} s ± 10 %"
    );
}

#[tokio::test]
async fn a_paid_checkout_reaches_the_merchant_with_the_spec_payload_and_signature() {
    let app = spawn_app().await;
    let receiver = Receiver::start(|_, _| Reply::status(204)).await;
    let (_, secret) = register_receiver(&app, &receiver).await;
    let session = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let before = now_ms() / 1000;

    Buyer::new(&app, &session).card_checkout(CARD_PAYS).await;

    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let after = now_ms() / 1000;
    let stored = events_of(&app, &session).await;
    let mut ids: Vec<String> = got.iter().map(|r| r.event_id()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            format!("evt_{session}_paid"),
            format!("evt_{session}_provider_pending")
        ]
    );
    for request in &got {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hook");
        assert!(
            request
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{:?}",
            request.headers
        );
        let body = request.json();
        assert_eq!(
            body["id"],
            request.event_id().as_str(),
            "x-gateway-event is the id"
        );
        let event = stored.iter().find(|e| e.id == request.event_id()).unwrap();
        assert_eq!(request.text(), event.raw, "the body is the stored payload");
        let header = request.signature();
        let (t, v1) = parse_signature(&header);
        assert!((before - 1..=after + 1).contains(&t), "t={t}");
        assert_eq!(v1, vec![expected_v1(&secret, t, &request.body)], "{header}");
        assert_eq!(
            header,
            format!("t={t},v1={}", v1[0]),
            "exactly t=…,v1=… with one secret"
        );
        assert!(verify(&secret, &header, &request.body, now_ms() / 1000).is_ok());
    }
    let paid = got
        .iter()
        .find(|r| r.event_id().ends_with("_paid"))
        .unwrap()
        .json();
    assert_eq!(paid["type"], "payment.paid");
    assert_eq!(paid["livemode"], false);
    let created = paid["created"].as_str().unwrap();
    assert!(
        created.len() == "2026-05-24T17:37:00.000Z".len() && created.ends_with('Z'),
        "created has milliseconds: {created}"
    );
    let d = &paid["data"];
    assert_eq!(d["session_id"], session.as_str());
    assert!(
        d["customer_id"].as_str().unwrap().starts_with("cus_"),
        "{d}"
    );
    assert_eq!(d["status"], "paid");
    assert_eq!(d["amount"].as_f64(), Some(116.0));
    assert_eq!(d["currency"], "USD");
    assert_eq!(d["asset"], "USDC");
    assert_eq!(d["network"], "Base");
    assert_eq!(d["route"]["id"], "card-bridge-a");
    assert_eq!(d["route"]["kind"], "card");
    assert!(d["route"]["label"].as_str().is_some_and(|l| !l.is_empty()));
    assert!(
        d["route"]["provider"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    assert_eq!(
        d["fees"],
        json!({"buyer_fee": 3.72, "gateway_fee": 3.48, "merchant_net": 112.52, "total": 119.72})
    );
    assert!(
        d["tx_hash"].as_str().is_some_and(|h| h.starts_with("0x")),
        "{d}"
    );
    assert_eq!(d["metadata"], json!({"order_id": "ord_284"}));
    let pending = got
        .iter()
        .find(|r| r.event_id().ends_with("_provider_pending"))
        .unwrap()
        .json();
    assert_eq!(pending["data"]["status"], "pending");
    for event in &stored {
        // The worker records a batch once every answer is in.
        drive_until_delivered(&app, &event.id).await;
        let delivery = delivery_of(&app, &event.id).await;
        assert_eq!(delivery.status, "succeeded", "{delivery:?}");
        assert_eq!(delivery.attempts, 1);
        assert_eq!(delivery.last_status_code, Some(204));
    }
}

#[tokio::test]
async fn a_receiver_refuses_a_delivery_signed_more_than_five_minutes_ago() {
    let app = driven_app().await;
    let receiver = Receiver::accepting().await;
    let (_, secret) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    record_event_at(&app, "stale", t0).await;

    deliver_at(&app, t0).await;

    let request = receiver.requests().remove(0);
    let header = request.signature();
    let (t, _) = parse_signature(&header);
    let body = &request.body;
    assert!(verify(&secret, &header, body, t).is_ok());
    assert!(verify(&secret, &header, body, t + 299).is_ok());
    assert!(verify(&secret, &header, body, t + 301).is_err(), "too old");
    assert!(
        verify(&secret, &header, body, t - 301).is_err(),
        "from the future"
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert!(
        verify(&secret, &header, &tampered, t).is_err(),
        "body changed"
    );
    assert!(verify("whsec_someone_else", &header, body, t).is_err());
    let resigned = format!(
        "t={},v1={}",
        t + 1,
        &header[header.find("v1=").unwrap() + 3..]
    );
    assert!(verify(&secret, &resigned, body, t).is_err(), "t changed");
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_event_until_it_acknowledges_it_once() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, n| {
        if n < 3 {
            Reply::status(500).body("database is down")
        } else {
            Reply::ok().body("thanks")
        }
    })
    .await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "retried", t0).await;

    let mut now = t0;
    for attempt in 1..=3 {
        let step = deliver_at(&app, now).await;
        assert_eq!((step.claimed, step.failed), (1, 1), "attempt {attempt}");
        let delivery = delivery_of(&app, &event).await;
        assert_eq!(delivery.status, "pending");
        assert_eq!(delivery.attempts, attempt as i64);
        assert_eq!(delivery.last_status_code, Some(500));
        assert_within_jitter(
            delivery.next_attempt_at,
            now,
            SCHEDULE[attempt - 1],
            attempt,
        );
        assert_eq!(
            deliver_at(&app, delivery.next_attempt_at - 1).await.claimed,
            0,
            "not tried again before its time"
        );
        now = delivery.next_attempt_at;
    }
    let step = deliver_at(&app, now).await;
    assert_eq!((step.claimed, step.succeeded), (1, 1));
    assert_eq!(deliver_at(&app, now + 30 * 86_400_000).await.claimed, 0);

    let got = receiver.requests();
    assert_eq!(got.len(), 4, "three failures and one success");
    for request in &got {
        assert_eq!(request.event_id(), event);
        assert_eq!(request.body, got[0].body, "every copy is the same event");
        assert_signed_with(request, &secret);
    }
    let read = event_json(&app, &event).await;
    let deliveries = read["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{read}");
    assert_eq!(deliveries[0]["endpointId"], endpoint_id.as_str());
    assert_eq!(deliveries[0]["status"], "succeeded");
    assert_eq!(deliveries[0]["attempts"], 4);
    assert_eq!(deliveries[0]["lastStatusCode"], 200);
    assert!(deliveries[0]["deliveredAt"].is_string(), "{read}");
    let attempts = read["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "{read}");
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], i as i64 + 1, "{a}");
        assert!(a["durationMs"].as_i64().is_some_and(|d| d >= 0), "{a}");
        assert!(a["startedAt"].is_string(), "{a}");
        if i < 3 {
            assert_eq!(a["statusCode"], 500, "{a}");
            assert_eq!(a["responseBody"], "database is down", "{a}");
            assert!(
                a["error"].as_str().is_some_and(|e| e.contains("500")),
                "{a}"
            );
        } else {
            assert_eq!(a["statusCode"], 200, "{a}");
            assert_eq!(a["responseBody"], "thanks", "{a}");
            assert!(a["error"].is_null(), "{a}");
        }
    }
}

#[tokio::test]
async fn a_delivery_is_tried_ten_times_over_about_three_days_then_given_up() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, _| Reply::status(503)).await;
    register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "exhausted", t0).await;

    let mut now = t0;
    for attempt in 1..=10 {
        let step = deliver_at(&app, now).await;
        assert_eq!(step.claimed, 1, "attempt {attempt}");
        let delivery = delivery_of(&app, &event).await;
        assert_eq!(delivery.attempts, attempt as i64);
        if attempt < 10 {
            assert_eq!(delivery.status, "pending", "after attempt {attempt}");
            assert_within_jitter(
                delivery.next_attempt_at,
                now,
                SCHEDULE[attempt - 1],
                attempt,
            );
            now = delivery.next_attempt_at;
        } else {
            assert_eq!(delivery.status, "failed", "ten attempts and no more");
        }
    }
    let elapsed_days = (now - t0) as f64 / 86_400_000.0;
    assert!((2.5..3.5).contains(&elapsed_days), "{elapsed_days} days");
    assert_eq!(deliver_at(&app, now + 30 * 86_400_000).await.claimed, 0);
    assert_eq!(receiver.count(), 10);
    let read = event_json(&app, &event).await;
    assert_eq!(read["deliveries"][0]["status"], "failed", "{read}");
    assert_eq!(read["attempts"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn an_endpoint_that_does_not_answer_in_time_is_retried_and_the_attempt_says_it_timed_out() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.webhook_timeout_seconds = 1;
    })
    .await;
    let receiver = Receiver::start(|_, n| {
        if n == 0 {
            Reply::ok().after(Duration::from_secs(4))
        } else {
            Reply::ok()
        }
    })
    .await;
    register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "slow", t0).await;

    let started = Instant::now();
    let step = deliver_at(&app, t0).await;
    let took = started.elapsed();

    assert_eq!((step.claimed, step.failed), (1, 1));
    assert!(
        took < Duration::from_millis(3_000),
        "the worker waited {took:?} for a 1 s time-out"
    );
    let delivery = delivery_of(&app, &event).await;
    assert_eq!(delivery.status, "pending");
    assert_eq!(delivery.last_status_code, None);
    assert_within_jitter(delivery.next_attempt_at, t0, SCHEDULE[0], 1);
    let read = event_json(&app, &event).await;
    let attempt = &read["attempts"][0];
    assert!(attempt["statusCode"].is_null(), "{attempt}");
    assert!(
        attempt["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{attempt}"
    );
    let duration = attempt["durationMs"].as_i64().unwrap();
    assert!((900..3_000).contains(&duration), "{attempt}");

    let step = deliver_at(&app, delivery.next_attempt_at).await;
    assert_eq!(step.succeeded, 1);
    assert_eq!(delivery_of(&app, &event).await.status, "succeeded");
}

#[tokio::test]
async fn an_endpoint_answering_410_is_disabled_until_the_merchant_enables_it_again() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, _| Reply::status(410).body("gone")).await;
    let (endpoint_id, secret) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let first = record_event_at(&app, "gone1", t0).await;

    deliver_at(&app, t0).await;

    let delivery = delivery_of(&app, &first).await;
    assert_eq!(delivery.status, "failed", "410 is not retried");
    assert_eq!(delivery.last_status_code, Some(410));
    assert_eq!(deliver_at(&app, t0 + 86_400_000).await.claimed, 0);
    let endpoint = endpoint_json(&app, &endpoint_id).await;
    assert_eq!(endpoint["status"], "disabled", "{endpoint}");
    assert!(
        endpoint["disabledReason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{endpoint}"
    );
    let second = record_event_at(&app, "gone2", t0 + 1_000).await;
    assert_eq!(deliver_at(&app, t0 + 86_400_000).await.claimed, 0);
    assert_eq!(receiver.count(), 1, "a disabled endpoint is sent nothing");

    let while_disabled = json_ok(
        post_json(
            &app,
            &format!("/api/gateway/events/{first}/redeliver"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(while_disabled["queued"], 0, "{while_disabled}");
    receiver.set_script(|_, _| Reply::ok());
    let path = format!("/api/gateway/webhook-endpoints/{endpoint_id}/enable");
    let enabled = json_ok(post_json(&app, &path, None).await).await;
    assert_eq!(enabled["status"], "active", "{enabled}");
    assert!(enabled["disabledReason"].is_null(), "{enabled}");
    assert!(enabled.get("secret").is_none(), "{enabled}");
    for event in [&first, &second] {
        let queued = json_ok(
            post_json(
                &app,
                &format!("/api/gateway/events/{event}/redeliver"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(queued["queued"], 1, "{queued}");
        drive_until_delivered(&app, event).await;
    }
    let got = receiver.requests();
    assert_eq!(got.len(), 3, "the 410, then each event once");
    assert_eq!(got[1].event_id(), first);
    assert_eq!(got[2].event_id(), second);
    assert_signed_with(&got[2], &secret);
}

#[tokio::test]
async fn retry_after_postpones_the_next_attempt_but_never_beyond_an_hour() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, n| match n {
        0 => Reply::status(503).header("Retry-After", "120"),
        1 => Reply::status(429).header("Retry-After", "86400"),
        2 => Reply::status(503).header("Retry-After", "1"),
        _ => Reply::ok(),
    })
    .await;
    register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "later", t0).await;

    deliver_at(&app, t0).await;
    let first = delivery_of(&app, &event).await;
    assert_eq!(
        first.next_attempt_at,
        t0 + 120_000,
        "Retry-After: 120 beats the 5 s of the schedule"
    );
    assert_eq!(deliver_at(&app, t0 + 119_999).await.claimed, 0);

    let t1 = t0 + 120_000;
    deliver_at(&app, t1).await;
    let second = delivery_of(&app, &event).await;
    assert_eq!(
        second.next_attempt_at,
        t1 + 3_600_000,
        "a day's Retry-After is bounded to an hour"
    );
    assert_eq!(second.last_status_code, Some(429));

    let t2 = t1 + 3_600_000;
    deliver_at(&app, t2).await;
    let third = delivery_of(&app, &event).await;
    assert_within_jitter(third.next_attempt_at, t2, SCHEDULE[2], 3);

    deliver_at(&app, third.next_attempt_at).await;
    assert_eq!(delivery_of(&app, &event).await.status, "succeeded");
    assert_eq!(receiver.count(), 4);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failed_attempt() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, _| Reply::status(200)).await;
    let elsewhere = receiver.url.replace("/hook", "/elsewhere");
    receiver.set_script(move |r, _| {
        if r.path == "/hook" {
            Reply::status(302).header("Location", &elsewhere)
        } else {
            Reply::ok()
        }
    });
    register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "moved", t0).await;

    let step = deliver_at(&app, t0).await;

    assert_eq!((step.claimed, step.failed), (1, 1));
    let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/hook"], "the redirect was followed");
    let delivery = delivery_of(&app, &event).await;
    assert_eq!(delivery.status, "pending");
    assert_eq!(delivery.last_status_code, Some(302));
    assert_eq!(
        event_json(&app, &event).await["attempts"][0]["statusCode"],
        302
    );
}

#[tokio::test]
async fn only_the_first_2_kib_of_an_endpoints_answer_is_kept() {
    let app = driven_app().await;
    let long: String = (0..5 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let answer = long.clone();
    let receiver = Receiver::start(move |_, n| {
        let status = if n == 0 { 500 } else { 200 };
        Reply::status(status).body(answer.clone())
    })
    .await;
    register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "chatty", t0).await;

    deliver_at(&app, t0).await;
    let next = delivery_of(&app, &event).await.next_attempt_at;
    deliver_at(&app, next).await;

    let read = event_json(&app, &event).await;
    let attempts = read["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{read}");
    for attempt in attempts {
        assert_eq!(
            attempt["responseBody"].as_str(),
            Some(&long[..2048]),
            "attempt {}",
            attempt["attempt"]
        );
    }
    assert_eq!(read["deliveries"][0]["status"], "succeeded");
}

#[tokio::test]
async fn after_a_secret_rotation_the_old_and_new_secrets_both_sign_for_a_day() {
    let app = driven_app().await;
    let receiver = Receiver::accepting().await;
    let (id, old) = register_receiver(&app, &receiver).await;
    let path = format!("/api/gateway/webhook-endpoints/{id}/rotate-secret");

    let rotated = json_ok(post_json(&app, &path, None).await).await;

    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_"), "{rotated}");
    assert_ne!(new, old);
    let until = parse_rfc3339_ms(rotated["previousSecretExpiresAt"].as_str().unwrap()).unwrap();
    let day_later = now_ms() + 86_400_000;
    assert!(
        (day_later - 60_000..=day_later).contains(&until),
        "{rotated}"
    );
    let read = endpoint_json(&app, &id).await;
    assert!(read.get("secret").is_none(), "{read}");
    assert!(!read.to_string().contains(&new));
    let t0 = driven_clock();
    record_event_at(&app, "rotated", t0).await;
    deliver_at(&app, t0).await;
    let request = receiver.requests().remove(0);
    assert_eq!(assert_signed_with(&request, &new), 2, "two v1= entries");
    assert_signed_with(&request, &old);
    let header = request.signature();
    assert!(verify(&new, &header, &request.body, now_ms() / 1000).is_ok());
    assert!(verify(&old, &header, &request.body, now_ms() / 1000).is_ok());

    let again = json_ok(post_json(&app, &path, None).await).await;
    let newest = again["secret"].as_str().unwrap().to_owned();
    record_event_at(&app, "rotated2", t0 + 1).await;
    deliver_at(&app, t0 + 1).await;
    let request = receiver.requests().remove(1);
    assert_eq!(assert_signed_with(&request, &newest), 2);
    assert_signed_with(&request, &new);
    assert_not_signed_with(&request, &old);
    assert!(verify(&old, &request.signature(), &request.body, now_ms() / 1000).is_err());
}

#[tokio::test]
async fn without_an_overlap_a_rotated_secret_stops_signing_at_once() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.webhook_secret_overlap_seconds = 0;
    })
    .await;
    let receiver = Receiver::accepting().await;
    let (id, old) = register_receiver(&app, &receiver).await;
    let rotated = json_ok(
        post_json(
            &app,
            &format!("/api/gateway/webhook-endpoints/{id}/rotate-secret"),
            None,
        )
        .await,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap();
    let t0 = driven_clock();
    record_event_at(&app, "norotate", t0).await;

    deliver_at(&app, t0).await;

    let request = receiver.requests().remove(0);
    assert_eq!(assert_signed_with(&request, new), 1);
    assert_not_signed_with(&request, &old);
}

/// A production endpoint stored with `url` as if it had passed the checks when registered.
async fn stored_production_endpoint(app: &TestApp, url: &str) -> String {
    let now = now_ms();
    let row = EndpointRow {
        id: WebhookEndpointId::generate(),
        merchant_id: app.merchant_id.clone(),
        environment: Environment::Production,
        url: url.to_owned(),
        events: json!(["payment.paid"]).to_string(),
        status: EndpointStatus::Active,
        disabled_reason: None,
        secret: "whsec_stored".into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    insert_endpoint(&app.db.write, &row).await.unwrap();
    row.id.into_string()
}

#[tokio::test]
async fn a_production_delivery_never_reaches_a_private_address_even_when_stored() {
    let app = driven_app().await;
    let receiver = Receiver::accepting().await;
    stored_production_endpoint(&app, &format!("https://127.0.0.1:{}/hook", receiver.port)).await;
    stored_production_endpoint(
        &app,
        &format!("https://localhost:{}/hook/by-name", receiver.port),
    )
    .await;
    let t0 = driven_clock();
    let events = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "production",
        "ssrf",
        1,
        t0,
    )
    .await;

    let step = deliver_at(&app, t0).await;

    assert_eq!((step.claimed, step.failed), (2, 2));
    assert_eq!(receiver.connections(), 0, "a private address was reached");
    let deliveries = deliveries_of(&app, &events[0]).await;
    assert_eq!(deliveries.len(), 2);
    for d in &deliveries {
        assert_ne!(d.status, "succeeded", "{d:?}");
        assert!(d.last_error.is_some(), "{d:?}");
        assert_eq!(d.last_status_code, None, "{d:?}");
    }
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_disabled_and_its_events_can_be_redelivered() {
    let app = driven_app().await;
    let receiver = Receiver::start(|_, _| Reply::status(500)).await;
    let (endpoint_id, _) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let three_days = 3 * 86_400_000;
    let first = record_event_at(&app, "days1", t0).await;
    deliver_at(&app, t0).await;
    assert_eq!(endpoint_json(&app, &endpoint_id).await["status"], "active");
    let second = record_event_at(&app, "days2", t0 + three_days - 1_000).await;
    deliver_at(&app, t0 + three_days - 1_000).await;
    assert_eq!(
        endpoint_json(&app, &endpoint_id).await["status"],
        "active",
        "not yet three days"
    );

    deliver_at(&app, t0 + three_days + 10_000).await;

    let endpoint = endpoint_json(&app, &endpoint_id).await;
    assert_eq!(endpoint["status"], "disabled", "{endpoint}");
    assert_eq!(
        endpoint["disabledReason"], "every delivery failed for 3 days",
        "{endpoint}"
    );
    let sent = receiver.count();
    deliver_at(&app, t0 + 10 * 86_400_000).await;
    deliver_at(&app, t0 + 20 * 86_400_000).await;
    assert_eq!(
        receiver.count(),
        sent,
        "a disabled endpoint is sent nothing"
    );
    for event in [&first, &second] {
        let delivery = delivery_of(&app, event).await;
        assert_eq!(delivery.status, "failed", "{delivery:?}");
        assert_eq!(
            app.get(&format!("/api/gateway/events/{event}"))
                .await
                .status()
                .as_u16(),
            200,
            "the event stays available"
        );
    }

    receiver.set_script(|_, _| Reply::ok());
    json_ok(
        post_json(
            &app,
            &format!("/api/gateway/webhook-endpoints/{endpoint_id}/enable"),
            None,
        )
        .await,
    )
    .await;
    let since = iso_seconds(t0 - 1_000);
    let queued = json_ok(
        post_json(
            &app,
            "/api/gateway/events/redeliver",
            Some(&json!({ "since": since })),
        )
        .await,
    )
    .await;
    assert_eq!(queued, json!({"events": 2, "queued": 2}));
    for event in [&first, &second] {
        drive_until_delivered(&app, event).await;
    }
    let last: Vec<String> = receiver.requests()[sent..]
        .iter()
        .map(|r| r.event_id())
        .collect();
    let mut last_sorted = last.clone();
    last_sorted.sort();
    let mut want = vec![first.clone(), second.clone()];
    want.sort();
    assert_eq!(last_sorted, want, "each event once after enabling");
    let endpoint: Value = endpoint_json(&app, &endpoint_id).await;
    assert_eq!(endpoint["status"], "active");
}

#[tokio::test]
async fn a_production_delivery_never_reaches_a_private_address_spelt_as_a_number() {
    let app = spawn_app_with(|s| {
        s.webhook_poll_interval_ms = 3_600_000;
        s.webhook_timeout_seconds = 2;
    })
    .await;
    let receiver = Receiver::accepting().await;
    for host in ["2130706433", "127.1", "0x7f.0.0.1"] {
        stored_production_endpoint(&app, &format!("https://{host}:{}/hook", receiver.port)).await;
    }
    let t0 = driven_clock();
    let events = record_paid_events(
        &app.db,
        app.merchant_id.as_str(),
        "production",
        "ssrfnum",
        1,
        t0,
    )
    .await;

    let step = deliver_at(&app, t0).await;

    assert_eq!((step.claimed, step.failed), (3, 3));
    let deliveries = deliveries_of(&app, &events[0]).await;
    assert_eq!(
        receiver.connections(),
        0,
        "127.0.0.1 was reached through a numeric spelling: {deliveries:?}"
    );
}

#[tokio::test]
async fn removing_an_endpoint_while_its_delivery_is_in_flight_leaves_the_other_deliveries_recorded()
{
    let app = driven_app().await;
    let slow = Receiver::start(|_, _| Reply::ok().after(Duration::from_millis(1_500))).await;
    let fast = Receiver::accepting().await;
    let (slow_id, _) = register_receiver(&app, &slow).await;
    let (fast_id, _) = register_receiver(&app, &fast).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "inflight", t0).await;
    let worker = app.state.webhook_worker();
    let step = tokio::spawn(async move { deliver_due(&worker, "test-worker", t0).await });
    slow.wait_for(1, Duration::from_secs(10)).await;
    fast.wait_for(1, Duration::from_secs(10)).await;

    let removed = app
        .client
        .delete(app.url(&format!("/api/gateway/webhook-endpoints/{slow_id}")))
        .bearer_auth(&app.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 200);

    let step = step.await.unwrap().map_err(|e| format!("{e:#}"));
    deliver_at(&app, t0 + 3_600_000).await;

    assert_eq!(
        fast.count(),
        1,
        "the other endpoint got the event again once the lease ran out; the worker step said {step:?}"
    );
    let left = deliveries_of(&app, &event).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].endpoint_id, fast_id);
    assert_eq!(left[0].status, "succeeded", "{left:?}");
    assert!(
        step.is_ok(),
        "the worker could not record its batch: {step:?}"
    );
}
