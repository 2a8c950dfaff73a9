//! The pages' safety (SPEC 5): one payment whatever the clicks, replays and concurrent posts;
//! tokens bound to their session; cross-site posts refused; the security headers; card form
//! errors; text from merchants and buyers rendered as text; the 404 page.

use futures_util::future::join_all;

use crate::checkout_support::*;
use crate::helpers::spawn_app;
use openrails_checkout::routes::pages::CSP;

const FIELDS_OF_A_GOOD_CARD: [(&str, &str); 4] = [
    ("number", CARD_PAYS),
    ("expiry", FUTURE_EXPIRY),
    ("cvc", "123"),
    ("name", "Ada Buyer"),
];

#[tokio::test]
async fn twenty_concurrent_identical_card_submits_hand_off_once_and_pay_once() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    let action = card_form.form_action();
    let token = card_form.input_value("token");
    let mut fields = vec![("token", token.as_str())];
    fields.extend_from_slice(&FIELDS_OF_A_GOOD_CARD);

    let responses = join_all((0..20).map(|_| buyer.post_form(&action, &fields))).await;

    for response in responses {
        buyer.assert_see_other(response).await;
    }
    assert_result_page(
        &buyer.open().await,
        true,
        Some(&expected_return(REDIRECT, &id, "paid")),
    );
    assert_finished(
        &app,
        &id,
        &Expected {
            paid: true,
            failure_code: None,
            route: CARD_ROUTE,
            kind: "card",
            amount: 116.0,
        },
    )
    .await;
    assert_eq!(
        count_where(
            &app,
            "SELECT COUNT(*) FROM provider_callbacks c JOIN payments p ON p.id = c.payment_id
             WHERE p.session_id = $1",
            &id,
        )
        .await,
        1,
        "the provider was called once"
    );
}

#[tokio::test]
async fn twenty_concurrent_start_posts_create_one_payment_and_one_invoice() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    let action = page.form_action();
    let token = page.input_value("token");
    let fields = [("token", token.as_str()), ("route", CARD_ROUTE)];

    let responses = join_all((0..20).map(|_| buyer.post_form(&action, &fields))).await;

    for response in responses {
        buyer.assert_see_other(response).await;
    }
    assert_eq!(payment_count(&app, &id).await, 1);
    assert_eq!(invoice_count(&app, &id).await, 1);
    assert_eq!(app.stored_status(&id).await, "pending");
    assert!(
        buyer
            .open()
            .await
            .html
            .contains("autocomplete=\"cc-number\""),
        "the buyer is on the card form"
    );
    assert!(
        event_ids(&app, &id).await.is_empty(),
        "nothing handed off yet"
    );
}

#[tokio::test]
async fn twenty_concurrent_wallet_starts_hand_off_once() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    let action = page.form_action();
    let token = page.input_value("token");
    let fields = [("token", token.as_str()), ("route", WALLET_ROUTE)];

    let responses = join_all((0..20).map(|_| buyer.post_form(&action, &fields))).await;

    for response in responses {
        buyer.assert_see_other(response).await;
    }
    assert_eq!(payment_count(&app, &id).await, 1);
    assert_eq!(
        event_ids(&app, &id).await,
        vec![format!("evt_{id}_provider_pending")]
    );
}

#[tokio::test]
async fn replaying_a_used_card_token_shows_the_result_and_changes_nothing() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    let token = card_form.input_value("token");
    let mut declined = vec![("token", token.as_str())];
    declined.extend_from_slice(&FIELDS_OF_A_GOOD_CARD);
    declined[1] = ("number", CARD_DECLINED);
    buyer
        .assert_see_other(buyer.post_form(&card_form.form_action(), &declined).await)
        .await;
    let before = payment_row_text(&app, &id).await;
    let events_before = events_of(&app, &id).await.len();

    // The buyer goes back and submits the same form again, now with a good card.
    let mut replay = vec![("token", token.as_str())];
    replay.extend_from_slice(&FIELDS_OF_A_GOOD_CARD);
    let response = buyer.post_form(&card_form.form_action(), &replay).await;

    buyer.assert_see_other(response).await;
    assert_eq!(payment_row_text(&app, &id).await, before, "nothing changed");
    assert_eq!(events_of(&app, &id).await.len(), events_before);
    assert_eq!(
        payment_count(&app, &id).await,
        1,
        "no second attempt from a replay"
    );
    // The page shows the decline, with a fresh form to try again on purpose.
    assert_retry_page(&buyer.open().await, "The card was declined.");
}

#[tokio::test]
async fn replaying_a_used_start_token_with_another_route_changes_nothing() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    buyer.submit(&page, &[("route", CARD_ROUTE)]).await;
    let before = payment_row_text(&app, &id).await;

    let response = buyer
        .post_form(
            &page.form_action(),
            &[
                ("token", page.input_value("token").as_str()),
                ("route", WALLET_ROUTE),
            ],
        )
        .await;

    buyer.assert_see_other(response).await;
    assert_eq!(payment_count(&app, &id).await, 1);
    assert_eq!(payment_row_text(&app, &id).await, before);
    assert!(event_ids(&app, &id).await.is_empty());
}

#[tokio::test]
async fn a_forged_or_garbage_token_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let path = format!("/checkout/{id}/start");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = format!("{now}.{}", "ab".repeat(32));

    for token in ["", "garbage", "1.2", forged.as_str()] {
        let response = buyer
            .post_form(&path, &[("token", token), ("route", CARD_ROUTE)])
            .await;
        buyer.assert_see_other(response).await;
    }
    let response = buyer.post_form(&path, &[("route", CARD_ROUTE)]).await;
    buyer.assert_see_other(response).await;

    assert_eq!(payment_count(&app, &id).await, 0);
    assert_eq!(app.stored_status(&id).await, "routed");
    assert!(buyer.open().await.form_action().ends_with("/start"));
}

#[tokio::test]
async fn a_token_from_another_session_or_step_is_refused() {
    let app = spawn_app().await;
    let first = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let second = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let first_buyer = Buyer::new(&app, &first);
    let second_buyer = Buyer::new(&app, &second);
    let first_token = first_buyer.open().await.input_value("token");

    let response = second_buyer
        .post_form(
            &format!("/checkout/{second}/start"),
            &[("token", first_token.as_str()), ("route", CARD_ROUTE)],
        )
        .await;

    second_buyer.assert_see_other(response).await;
    assert_eq!(payment_count(&app, &second).await, 0);
    assert_eq!(app.stored_status(&second).await, "routed");

    // A start token does not work for the card step either.
    let start_page = second_buyer.open().await;
    let start_token = start_page.input_value("token");
    second_buyer
        .submit(&start_page, &[("route", CARD_ROUTE)])
        .await;
    let mut fields = vec![("token", start_token.as_str())];
    fields.extend_from_slice(&FIELDS_OF_A_GOOD_CARD);
    let response = second_buyer
        .post_form(&format!("/checkout/{second}/card"), &fields)
        .await;
    second_buyer.assert_see_other(response).await;
    assert_eq!(api_payment(&app, &second).await["status"], "pending");
    assert!(event_ids(&app, &second).await.is_empty(), "no hand-off");
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    let token = page.input_value("token");
    let fields = [("token", token.as_str()), ("route", CARD_ROUTE)];
    let path = page.form_action();

    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Referer", "https://evil.example/pay")],
        vec![
            ("Origin", app.address.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let response = buyer.post_form_with(&path, &fields, &headers).await;
        let refused = Page::read(response).await;
        assert_eq!(refused.status, 403, "{headers:?}: {}", refused.html);
        assert!(
            refused.header("content-type").starts_with("text/html"),
            "a page for the buyer"
        );
        assert!(
            refused.html.contains("Nothing was charged"),
            "{}",
            refused.html
        );
    }

    assert_eq!(payment_count(&app, &id).await, 0);
    assert_eq!(app.stored_status(&id).await, "routed");
}

#[tokio::test]
async fn a_cross_site_card_post_hands_nothing_off() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    let token = card_form.input_value("token");
    let mut fields = vec![("token", token.as_str())];
    fields.extend_from_slice(&FIELDS_OF_A_GOOD_CARD);

    let response = buyer
        .post_form_with(
            &card_form.form_action(),
            &fields,
            &[("Origin", "https://evil.example")],
        )
        .await;

    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(api_payment(&app, &id).await["status"], "pending");
    assert!(event_ids(&app, &id).await.is_empty());
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let mut pages = vec![("checkout", buyer.open().await)];
    pages.push(("card", buyer.choose(CARD_ROUTE).await));
    let card_form = buyer.open().await;
    let invalid = Page::read(
        buyer
            .post_form(
                &card_form.form_action(),
                &[
                    ("token", card_form.input_value("token").as_str()),
                    ("number", "1234"),
                ],
            )
            .await,
    )
    .await;
    pages.push(("card errors", invalid));
    pages.push(("result", buyer.pay_with_card(CARD_PAYS).await));
    pages.push((
        "not found",
        Page::read(
            buyer
                .client
                .get(app.url("/checkout/chk_doesnotexist"))
                .send()
                .await
                .unwrap(),
        )
        .await,
    ));
    pages.push((
        "cross-site",
        Page::read(
            buyer
                .post_form_with(
                    &format!("/checkout/{id}/start"),
                    &[("token", "x")],
                    &[("Origin", "https://evil.example")],
                )
                .await,
        )
        .await,
    ));

    for (name, page) in &pages {
        let csp = page.header("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'"),
            "{name}: CSP {csp:?}"
        );
        assert!(!csp.contains("unsafe-inline"), "{name}: CSP {csp:?}");
        assert!(!csp.contains("unsafe-eval"), "{name}: CSP {csp:?}");
        assert_eq!(csp, CSP, "{name}: every page sends the one policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "form-action 'self'",
        ] {
            assert!(
                csp.contains(directive),
                "{name}: CSP {csp:?} lacks {directive}"
            );
        }
        assert!(
            !page.header("referrer-policy").is_empty(),
            "{name}: Referrer-Policy"
        );
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{name}");
        assert!(
            page.header("cache-control").contains("no-store"),
            "{name}: {:?}",
            page.header("cache-control")
        );
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{name}"
        );
        assert!(
            !page.html.contains("<script>") && !page.html.contains(" style=\""),
            "{name}: no inline script or style:\n{}",
            page.html
        );
    }
}

#[tokio::test]
async fn the_card_form_is_labelled_and_autocompletes() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let page = buyer.choose(CARD_ROUTE).await;

    for (field, autocomplete, numeric) in [
        ("number", "cc-number", true),
        ("expiry", "cc-exp", true),
        ("cvc", "cc-csc", true),
        ("name", "cc-name", false),
    ] {
        let at = page
            .html
            .find(&format!("id=\"{field}\""))
            .unwrap_or_else(|| panic!("no input with id {field}:\n{}", page.html));
        let tag_start = page.html[..at].rfind('<').unwrap();
        let tag_end = page.html[at..].find('>').unwrap() + at;
        let tag = &page.html[tag_start..tag_end];
        assert!(tag.starts_with("<input"), "{tag}");
        assert!(tag.contains(&format!("name=\"{field}\"")), "{tag}");
        assert!(
            tag.contains(&format!("autocomplete=\"{autocomplete}\"")),
            "{tag}"
        );
        assert_eq!(tag.contains("inputmode=\"numeric\""), numeric, "{tag}");
        assert!(
            page.html.contains(&format!("<label for=\"{field}\"")),
            "a label for {field}"
        );
    }
    assert!(
        page.html.contains(CARD_PAYS) && page.html.contains(CARD_CHALLENGE),
        "the sandbox shows its test cards"
    );
}

#[tokio::test]
async fn card_errors_answer_422_with_a_linked_summary_and_hand_nothing_off() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    let token = card_form.input_value("token");

    let response = buyer
        .post_form(
            &card_form.form_action(),
            &[
                ("token", token.as_str()),
                ("number", "4242 4242 4242 4241"),
                ("expiry", "01/20"),
                ("cvc", "123"),
                ("name", "<b>Ada</b>"),
            ],
        )
        .await;
    let page = Page::read(response).await;

    assert_eq!(page.status, 422, "{}", page.html);
    assert!(page.html.contains("error-summary"), "{}", page.html);
    assert!(page.html.contains("href=\"#number\""), "{}", page.html);
    assert!(page.html.contains("href=\"#expiry\""), "{}", page.html);
    assert!(!page.html.contains("href=\"#cvc\""), "the CVC was fine");
    for field in ["number", "expiry"] {
        assert!(
            page.html.contains(&format!("id=\"{field}-error\"")),
            "a message next to {field}"
        );
        assert!(
            page.html
                .contains(&format!("aria-describedby=\"{field}-error\"")),
            "{field} points to its message"
        );
    }
    assert!(
        page.html.contains("This card has expired."),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("4242 4242 4242 4241") && !page.html.contains("4242424242424241"),
        "the card number is never sent back"
    );
    assert!(page.html.contains("value=\"01/20\""), "the expiry is kept");
    assert!(!page.html.contains("<b>Ada</b>"), "the name is escaped");
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(api_payment(&app, &id).await["status"], "pending");
    assert!(event_ids(&app, &id).await.is_empty(), "no hand-off");

    // The re-rendered form works: a fresh token, and the buyer can now pay.
    assert!(page.form_action().ends_with("/card"));
    let fixed = buyer
        .submit(
            &page,
            &[
                ("number", CARD_PAYS),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada"),
            ],
        )
        .await;
    assert_result_page(&fixed, true, Some(&expected_return(REDIRECT, &id, "paid")));
}

#[tokio::test]
async fn a_bad_luhn_number_alone_is_refused_with_its_message() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;

    let response = buyer
        .post_form(
            &card_form.form_action(),
            &[
                ("token", card_form.input_value("token").as_str()),
                ("number", "4000 0000 0000 0003"),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada"),
            ],
        )
        .await;
    let page = Page::read(response).await;

    assert_eq!(page.status, 422, "{}", page.html);
    assert!(
        page.html.contains("This card number is not valid"),
        "{}",
        page.html
    );
    assert!(page.html.contains("href=\"#number\""));
    assert!(event_ids(&app, &id).await.is_empty());
    assert_eq!(api_payment(&app, &id).await["status"], "pending");
}

const SCRIPT_PRODUCT: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(2)>";

fn assert_no_raw_markup(name: &str, page: &Page) {
    for raw in [
        "<script>alert",
        "<img src=x",
        "onerror=alert(2)>",
        "<b>bold",
        "<script>alert('m')",
    ] {
        assert!(
            !page.html.contains(raw),
            "{name}: raw {raw:?} in the page:\n{}",
            page.html
        );
    }
}

#[tokio::test]
async fn product_metadata_and_email_full_of_html_are_rendered_as_text() {
    let app = spawn_app().await;
    let body = serde_json::json!({
        "product": SCRIPT_PRODUCT,
        "amount": 116,
        "customer": "o'neil&{x}=y@example.com",
        "preferredRoute": "card",
        "redirectUrl": "https://merchant.example/back?x=1&y=2",
        "metadata": {
            "note": "<b>bold</b><script>alert(3)</script>",
            "order_id": "\"><img src=x onerror=alert(4)>"
        }
    });
    let id = create_checkout(&app, &body).await;
    let buyer = Buyer::new(&app, &id);

    let mut pages = vec![("checkout", buyer.open().await)];
    pages.push(("card", buyer.choose(CARD_ROUTE).await));
    pages.push(("result", buyer.pay_with_card(CARD_PAYS).await));

    for (name, page) in &pages {
        assert_eq!(page.status, 200, "{name}");
        assert_no_raw_markup(name, page);
        assert!(
            page.html.contains("alert(1)"),
            "{name}: the product name is shown, as text:\n{}",
            page.html
        );
        assert!(
            page.html.contains("&#60;script&#62;") || page.html.contains("&lt;script&gt;"),
            "{name}: escaped:\n{}",
            page.html
        );
    }
    // The merchant reads exactly what it sent.
    let payment = api_payment(&app, &id).await;
    assert_eq!(
        payment["metadata"]["note"],
        "<b>bold</b><script>alert(3)</script>"
    );
    let event = &events_of(&app, &id).await[0];
    assert_eq!(
        event.payload["data"]["metadata"]["order_id"],
        "\"><img src=x onerror=alert(4)>"
    );
}

#[tokio::test]
async fn a_merchant_name_with_html_is_rendered_as_text() {
    let app = spawn_app().await;
    let other = app
        .create_merchant("<script>alert('m')</script> & <b>bold</b>")
        .await;
    let created = app
        .create_session_with_key(&other.sandbox_key, &checkout_body(116.0, Some(REDIRECT)))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let buyer = Buyer::new(&app, &id);

    let mut pages = vec![("checkout", buyer.open().await)];
    pages.push(("card", buyer.choose(CARD_ROUTE).await));
    pages.push(("result", buyer.pay_with_card(CARD_DECLINED).await));

    for (name, page) in &pages {
        assert_no_raw_markup(name, page);
        assert!(
            page.html.contains("alert(&#39;m&#39;)")
                || page.html.contains("alert(&#x27;m&#x27;)")
                || page.html.contains("alert('m')"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unknown_checkout_is_a_404_page_in_the_checkout_layout() {
    let app = spawn_app().await;
    let client = browser();

    for path in [
        "/checkout/chk_doesnotexist",
        "/checkout/not-an-id",
        "/checkout/chk_%3Cscript%3E",
    ] {
        let page = Page::read(client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{path}"
        );
        assert!(
            page.html.contains("This checkout does not exist"),
            "{path}:\n{}",
            page.html
        );
        assert!(page.html.contains("<main"), "the checkout layout");
        assert!(!page.html.contains("<script>"), "{path}");
    }

    let buyer = Buyer::new(&app, "chk_doesnotexist");
    let response = buyer
        .post_form(
            "/checkout/chk_doesnotexist/start",
            &[("token", "x"), ("route", CARD_ROUTE)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 404);
    let status = client
        .get(app.url("/checkout/chk_doesnotexist/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 404);
}

#[tokio::test]
async fn concurrent_and_replayed_challenge_answers_settle_once() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let challenge = buyer.card_checkout(CARD_CHALLENGE).await;
    let action = challenge.form_action();
    let token = challenge.input_value("token");
    let approve = [("token", token.as_str()), ("action", "approve")];
    let deny = [("token", token.as_str()), ("action", "deny")];

    let responses = join_all((0..10).map(|i| {
        let fields = if i % 2 == 0 { &approve } else { &deny };
        buyer.post_form(&action, fields)
    }))
    .await;

    for response in responses {
        buyer.assert_see_other(response).await;
    }
    let status = app.stored_status(&id).await;
    let events = event_ids(&app, &id).await;
    assert_eq!(events.len(), 2, "one outcome event: {events:?}");
    // The answer that won decided both the outcome event and the session: approved, paid; denied,
    // open for another attempt (`routed`).
    let approved = events.contains(&format!("evt_{id}_paid"));
    assert!(
        approved || events.contains(&format!("evt_{id}_failed")),
        "{events:?}"
    );
    assert_eq!(
        status,
        if approved { "paid" } else { "routed" },
        "{events:?}"
    );
    let before = payment_row_text(&app, &id).await;
    for fields in [&approve, &deny] {
        buyer
            .assert_see_other(buyer.post_form(&action, fields).await)
            .await;
    }
    assert_eq!(payment_row_text(&app, &id).await, before);
    assert_eq!(app.stored_status(&id).await, status);
}

#[tokio::test]
async fn replayed_sandbox_buttons_after_the_transfer_change_nothing() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let instructions = buyer.choose(WALLET_ROUTE).await;
    buyer.submit(&instructions, &[("action", "transfer")]).await;
    let before = payment_row_text(&app, &id).await;

    for action in ["transfer_fail", "transfer", "bank_reject", "approve"] {
        let response = buyer
            .post_form(
                &instructions.form_action(),
                &[
                    ("token", instructions.input_value("token").as_str()),
                    ("action", action),
                ],
            )
            .await;
        buyer.assert_see_other(response).await;
    }

    assert_eq!(payment_row_text(&app, &id).await, before);
    assert_eq!(app.stored_status(&id).await, "paid");
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn an_unknown_or_disabled_route_starts_nothing() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    let token = page.input_value("token");

    for route in ["", "card-bridge-z", "card", "<script>"] {
        let response = buyer
            .post_form(
                &page.form_action(),
                &[("token", token.as_str()), ("route", route)],
            )
            .await;
        buyer.assert_see_other(response).await;
    }

    assert_eq!(payment_count(&app, &id).await, 0);
    assert_eq!(app.stored_status(&id).await, "routed");
}
