//! Receipt e-mails, sent to a real SMTP server on 127.0.0.1 (`support/smtp.rs`): one per paid
//! event with a plain-text and an HTML part in the buyer's language, none twice across retries
//! and two instances, a server that refuses and then accepts, a permanent refusal, the shop's
//! copies and refund e-mails; without an SMTP server the e-mails are kept and shown.

use std::time::{Duration, Instant};

use base64::Engine;
use openrails_checkout::config::{Settings, SmtpUrl};
use openrails_checkout::db::Db;
use openrails_checkout::startup::Application;
use serde_json::{Value, json};

use openrails_checkout::domain::account::Role;

use crate::checkout_support::{Buyer, CARD_PAYS, api_payment};
use crate::dashboard_support::signed_in;
use crate::helpers::{TestApp, spawn_app_with};
use crate::refunds::refund_ok;
use crate::smtp_support::{Answer, Received, SmtpSink};

const PASSWORD: &str = "smtp-pass-8c1f2e";

fn sending_to(sink: &SmtpSink) -> impl FnOnce(&mut Settings) + '_ {
    move |s: &mut Settings| {
        s.smtp_url = SmtpUrl(sink.url(Some(("shop", PASSWORD))));
        s.smtp_from = "Test Store <receipts@shop.example>".into();
        s.smtp_send_sandbox = true;
        s.email_poll_interval_ms = 50;
        s.email_retry_base_seconds = 1;
    }
}

/// A buyer paying $1,116 by card, their browser asking for `language`; the session's id.
async fn paid(app: &TestApp, language: &str, extra: Value) -> String {
    let mut body = json!({"product": "Creator plan", "amount": 1116,
        "customer": "ana@example.com", "preferredRoute": "card"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let session = app.create_session(&body).await;
    let id = session["id"].as_str().unwrap().to_owned();
    let buyer = Buyer::speaking(app, &id, language);
    buyer.card_checkout(CARD_PAYS).await;
    id
}

async fn emails(app: &TestApp, session_id: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/api/gateway/payments/{session_id}/emails"))
        .await;
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    list["data"].as_array().unwrap().clone()
}

/// Waits until every e-mail of the session is past `pending`, and there are `count`.
async fn settled(app: &TestApp, session_id: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let all = emails(app, session_id).await;
        if all.len() == count && all.iter().all(|e| e["status"] != "pending") {
            return all;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "e-mails not settled: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Decodes a MIME part's body (quoted-printable, base64 or as is).
fn decode_part(part: &str) -> (String, String) {
    let (head, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
    let lower = head.to_ascii_lowercase();
    let content_type = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-type:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let text = if lower.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        let unfolded = body.replace("=\r\n", "");
        let bytes = unfolded.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&unfolded[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_owned()
    };
    (content_type, text)
}

/// The text/plain and text/html parts of a multipart/alternative message.
fn parts(mail: &Received) -> (String, String) {
    let content_type = mail.header("Content-Type").unwrap();
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let (mut text, mut html) = (String::new(), String::new());
    for part in mail.data.split(&format!("--{boundary}")).skip(1) {
        let (kind, body) = decode_part(part.trim_start_matches("\r\n"));
        if kind.starts_with("text/plain") {
            text = body;
        } else if kind.starts_with("text/html") {
            html = body;
        }
    }
    (text, html)
}

#[tokio::test]
async fn a_paid_payment_sends_one_receipt_with_both_parts_in_the_buyers_language() {
    let sink = SmtpSink::start(vec![]).await;
    let app = spawn_app_with(sending_to(&sink)).await;
    let id = paid(&app, "es-MX,es;q=0.9", json!({})).await;

    let all = settled(&app, &id, 1).await;

    let email = &all[0];
    assert_eq!(email["kind"], "receipt", "{email}");
    assert_eq!(email["status"], "sent", "{email}");
    assert_eq!(email["to"], "ana@example.com");
    assert_eq!(email["language"], "es");
    assert_eq!(email["attempts"].as_array().unwrap().len(), 1, "{email}");
    assert_eq!(email["attempts"][0]["replyCode"], 250, "{email}");
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let mail = &received[0];
    assert_eq!(mail.from, "receipts@shop.example");
    assert_eq!(mail.to, vec!["ana@example.com".to_owned()]);
    assert_eq!(mail.auth.as_deref(), Some(&*format!("shop\0{PASSWORD}")));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[Pruebas] Tu recibo de Test Store")
    );
    assert_eq!(mail.header("To").as_deref(), Some("ana@example.com"));
    assert!(
        mail.header("From")
            .unwrap()
            .contains("receipts@shop.example")
    );
    let message_id = mail.header("Message-ID").unwrap();
    assert_eq!(
        message_id,
        format!("<{}@shop.example>", email["id"].as_str().unwrap())
    );
    assert!(mail.header("Date").is_some());
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let (text, html) = parts(mail);
    let payment = api_payment(&app, &id).await;
    let receipt_url = payment["receiptUrl"].as_str().unwrap();
    for part in [&text, &html] {
        assert!(part.contains("Gracias por tu pago a Test Store"), "{part}");
        assert!(part.contains("1.116,00 US$"), "{part}");
        assert!(part.contains(payment["id"].as_str().unwrap()), "{part}");
        assert!(
            part.contains(&receipt_url.replace('&', "&#38;")) || part.contains(receipt_url),
            "{part}"
        );
        // No secret: not the API key, not the SMTP password.
        assert!(!part.contains(&app.sandbox_key) && !part.contains(PASSWORD));
    }
    assert!(html.contains("<html lang=\"es\" dir=\"ltr\">"), "{html}");
    assert!(!text.contains('<'), "the text part is text: {text}");
    assert_eq!(email["subject"], "[Pruebas] Tu recibo de Test Store");
    assert_eq!(
        email["text"].as_str().unwrap().trim(),
        text.replace("\r\n", "\n").trim()
    );

    // Later passes of the worker send nothing more.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.received().len(), 1);
    assert_eq!(sink.answered(), 1);
}

#[tokio::test]
async fn a_server_that_refuses_then_accepts_gets_the_receipt_once() {
    let sink = SmtpSink::start(vec![Answer::Temporary, Answer::Temporary]).await;
    let app = spawn_app_with(sending_to(&sink)).await;
    let id = paid(&app, "en", json!({})).await;

    // Tries 1 s and 4 s apart: the third is taken.
    let start = Instant::now();
    while sink.received().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = settled(&app, &id, 1).await;

    let email = &all[0];
    assert_eq!(email["status"], "sent", "{email}");
    let attempts = email["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{email}");
    assert_eq!(attempts[0]["replyCode"], 451, "{email}");
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("451"),
        "{email}"
    );
    assert_eq!(attempts[2]["replyCode"], 250, "{email}");
    assert!(attempts[2]["error"].is_null());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.answered(), 3);
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_permanent_refusal_gives_up_at_once() {
    let sink = SmtpSink::start(vec![Answer::Permanent]).await;
    let app = spawn_app_with(sending_to(&sink)).await;
    let id = paid(&app, "en", json!({})).await;

    let all = settled(&app, &id, 1).await;

    assert_eq!(all[0]["status"], "failed", "{}", all[0]);
    assert_eq!(all[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(all[0]["attempts"][0]["replyCode"], 550);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(sink.answered(), 1, "no second try");
}

#[tokio::test]
async fn two_instances_send_each_receipt_once() {
    let sink = SmtpSink::start(vec![]).await;
    let app = spawn_app_with(sending_to(&sink)).await;
    let mut settings = (*app.state.settings).clone();
    settings.bind = "127.0.0.1:0".into();
    let second =
        Application::build_with_db(settings, Db::connect(&app.database_url, 4).await.unwrap())
            .await
            .unwrap();
    tokio::spawn(second.run_until_stopped());

    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(
            paid(
                &app,
                "en",
                json!({"customer": format!("buyer{n}@example.com")}),
            )
            .await,
        );
    }
    for id in &ids {
        settled(&app, id, 1).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;

    let received = sink.received();
    let mut to: Vec<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let expected: Vec<String> = (0..6).map(|n| format!("buyer{n}@example.com")).collect();
    assert_eq!(to, expected, "one receipt per payment, none twice");
    assert_eq!(sink.answered(), 6);
}

#[tokio::test]
async fn a_refund_sends_its_e_mail_and_the_shop_gets_a_copy_of_each() {
    let sink = SmtpSink::start(vec![]).await;
    let app = spawn_app_with(|s| {
        sending_to(&sink)(s);
        s.receipt_copy_to = "orders@shop.example".into();
    })
    .await;
    let id = paid(&app, "fr", json!({})).await;
    settled(&app, &id, 2).await;
    let payment_id = api_payment(&app, &id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    refund_ok(&app, &payment_id, json!({"amount": 20})).await;
    let all = settled(&app, &id, 4).await;

    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("receipt", "ana@example.com"),
            ("receipt_copy", "orders@shop.example"),
            ("refund", "ana@example.com"),
            ("refund_copy", "orders@shop.example"),
        ]
    );
    assert!(
        all.iter()
            .all(|e| e["status"] == "sent" && e["language"] == "fr"),
        "{all:#?}"
    );
    let received = sink.received();
    assert_eq!(received.len(), 4);
    let refund = received
        .iter()
        .find(|m| m.to == ["ana@example.com"] && parts(m).0.contains("20,00"))
        .expect("the refund e-mail");
    let (text, _) = parts(refund);
    assert!(text.contains("Test Store"), "{text}");
    assert!(text.contains("20,00\u{a0}$US"), "{text}");
    let copy = &all[1];
    assert!(
        copy["subject"].as_str().unwrap().contains("Test Store"),
        "{copy}"
    );
}

#[tokio::test]
async fn without_an_smtp_server_receipts_are_kept_and_shown_never_sent() {
    let app = spawn_app_with(|s| s.email_poll_interval_ms = 50).await;
    let id = paid(&app, "pt-BR", json!({})).await;

    let all = settled(&app, &id, 1).await;

    let email = &all[0];
    assert_eq!(email["status"], "kept", "{email}");
    assert_eq!(email["language"], "pt-BR");
    assert!(email["attempts"].as_array().unwrap().is_empty());
    assert_eq!(email["subject"], "[Teste] Seu recibo de Test Store");
    assert!(
        email["text"].as_str().unwrap().contains("US$ 1.116,00"),
        "{email}"
    );
    // The dashboard's payment page shows it, in its list and on the timeline, with its text.
    let mut owner = signed_in(&app, "owner@example.com", Role::Owner).await;
    let page = owner.get(&format!("/dashboard/payments/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("id=\"emails\""), "{}", page.html);
    assert!(
        page.html
            .contains("Kept, not sent: no SMTP server is configured"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Receipt e-mail</strong>"),
        "the timeline: {}",
        page.html
    );
    assert!(
        page.html.contains("[Teste] Seu recibo de Test Store"),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn a_session_or_the_server_can_turn_receipts_off() {
    let sink = SmtpSink::start(vec![]).await;
    let app = spawn_app_with(sending_to(&sink)).await;
    let off = paid(&app, "en", json!({"sendReceipt": false})).await;
    let on = paid(
        &app,
        "en",
        json!({"sendReceipt": true, "customer": "b@example.com"}),
    )
    .await;
    settled(&app, &on, 1).await;
    assert!(emails(&app, &off).await.is_empty());
    let session = app.get(&format!("/api/gateway/sessions/{off}")).await;
    assert_eq!(session.json::<Value>().await.unwrap()["sendReceipt"], false);

    let refused = app
        .post_session_with_key(
            &app.sandbox_key,
            &json!({"product": "P", "amount": 1, "customer": "c@example.com", "sendReceipt": "no"}),
        )
        .await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["issues"][0]["field"], "sendReceipt", "{body}");

    let quiet = spawn_app_with(|s| {
        sending_to(&sink)(s);
        s.send_receipts = false;
    })
    .await;
    let id = paid(&quiet, "en", json!({"customer": "d@example.com"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(emails(&quiet, &id).await.is_empty());
    assert_eq!(sink.received().len(), 1, "only the session that asked");
}
