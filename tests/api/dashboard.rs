//! The merchant's dashboard, black-box: accounts from a one-time link, signing in (throttled),
//! sessions in the database, one-time form tokens from our own pages only, roles enforced on
//! the server, another merchant's ids never shown, the payments list with its filters and
//! paging, a payment's timeline, refunds and expiry from the page, and the audit log.

use openrails_checkout::domain::account::Role;
use openrails_checkout::lifecycle::accounts::create_setup_link;
use serde_json::{Value, json};

use crate::checkout_support::Buyer;
use crate::dashboard_support::{Browser, PASSWORD, person, signed_in, signed_in_at};
use crate::helpers::{TestApp, spawn_app};
use crate::refunds::payment as payment_json;

/// A sandbox session of $116 for `email` paid by card; its payment's id.
async fn paid(app: &TestApp, email: &str, reference: Option<&str>) -> String {
    let mut body = json!({"product": "Creator plan", "amount": 116, "customer": email,
        "preferredRoute": "card"});
    if let Some(reference) = reference {
        body["clientReferenceId"] = json!(reference);
    }
    let session = app.create_session(&body).await;
    let id = session["id"].as_str().unwrap();
    let page = Buyer::new(app, id).card_checkout("4242424242424242").await;
    assert!(page.html.contains("Payment received"), "{}", page.html);
    let payment = payment_json(app, id).await;
    payment["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_setup_link_creates_one_account_and_signs_it_in() {
    let app = spawn_app().await;
    let link = create_setup_link(&app.db, &app.merchant_id, Role::Owner)
        .await
        .unwrap();
    let path = format!("/dashboard/setup/{link}");
    let mut browser = Browser::new(&app);
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("with the role owner"), "{}", page.html);
    let token = page.first_token();

    let differ = browser
        .post(
            &path,
            &[
                ("token", &token),
                ("email", "owner@shop.example"),
                ("password", PASSWORD),
                ("password_again", "something else"),
            ],
        )
        .await;
    assert_eq!(differ.status, 400);
    assert!(differ.html.contains("The two passwords differ."));
    let short = browser
        .post(
            &path,
            &[
                ("token", &differ.first_token()),
                ("email", "owner@shop.example"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(
        short.html.contains("at least 10 characters"),
        "{}",
        short.html
    );

    let done = browser
        .post(
            &path,
            &[
                ("token", &short.first_token()),
                ("email", "Owner@Shop.example"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.location(), "/dashboard");
    let cookie = done.headers["set-cookie"].to_str().unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/dashboard"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "not over http: {cookie}");
    let home = browser.get("/dashboard").await;
    assert_eq!(home.status, 200);
    assert!(
        home.html
            .contains(">owner@shop.example</a> <span>· owner</span>"),
        "{}",
        home.html
    );
    assert!(home.html.contains("id=\"environment\">Sandbox<"));
    for header in ["content-security-policy", "x-robots-tag"] {
        assert!(home.headers.contains_key(header), "{header}");
    }
    assert_eq!(home.headers["cache-control"], "no-store");

    // The link works once.
    let again = Browser::new(&app).get(&path).await;
    assert_eq!(again.status, 410);
    let stored: i64 = app
        .scalar("SELECT COUNT(*) FROM dashboard_sessions WHERE token_hash NOT LIKE '%orc%'")
        .await;
    assert_eq!(stored, 1, "the session is in the database, by its hash");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'")
            .await,
        1
    );
}

#[tokio::test]
async fn signing_in_is_throttled_per_account_with_a_clear_message() {
    let app = spawn_app().await;
    person(&app, &app.merchant_id, "dev@shop.example", Role::Developer).await;
    let mut browser = Browser::new(&app);
    let unknown = browser.sign_in("nobody@shop.example", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .html
            .contains("The e-mail or the password is not right.")
    );
    for _ in 0..5 {
        let wrong = browser
            .sign_in("dev@shop.example", "not the password")
            .await;
        assert_eq!(wrong.status, 401);
        assert!(
            wrong
                .html
                .contains("The e-mail or the password is not right.")
        );
    }
    let right = browser.sign_in("dev@shop.example", PASSWORD).await;
    assert_eq!(right.status, 429, "even the right password waits");
    assert!(
        right
            .html
            .contains("Too many attempts. Try again in 15 minutes."),
        "{}",
        right.html
    );
    assert_eq!(right.headers["retry-after"], "900");
    assert!(browser.cookie.is_none());
    // The merchant's audit log has the five failures of its own person, not the unknown one.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.sign_in_failed' \
             AND actor = 'dev@shop.example' AND detail LIKE 'wrong password · from %'"
        )
        .await,
        5
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'nobody@shop.example'")
            .await,
        0
    );
    // Another account from the same address is not locked by it.
    person(&app, &app.merchant_id, "viewer@shop.example", Role::Viewer).await;
    let other = Browser::new(&app)
        .sign_in("viewer@shop.example", PASSWORD)
        .await;
    assert_eq!(other.status, 303);
}

#[tokio::test]
async fn signed_out_requests_go_to_sign_in_and_come_back() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/dashboard/payments?status=paid").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/dashboard/login?next=%2Fdashboard%2Fpayments%3Fstatus%3Dpaid"
    );
    let post = browser.post("/dashboard/payments/pay_x/refund", &[]).await;
    assert_eq!(post.status, 401);
    person(&app, &app.merchant_id, "o@shop.example", Role::Owner).await;
    let login = browser.get(page.location()).await;
    let token = login.token_of("/dashboard/login");
    let done = browser
        .post(
            "/dashboard/login",
            &[
                ("token", &token),
                ("email", "o@shop.example"),
                ("password", PASSWORD),
                ("next", "/dashboard/payments?status=paid"),
            ],
        )
        .await;
    assert_eq!(done.location(), "/dashboard/payments?status=paid");
    // Never to another site.
    let mut other = Browser::new(&app);
    let login = other.get("/dashboard/login").await;
    let away = other
        .post(
            "/dashboard/login",
            &[
                ("token", &login.token_of("/dashboard/login")),
                ("email", "o@shop.example"),
                ("password", PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(away.location(), "/dashboard");
}

#[tokio::test]
async fn an_owner_refunds_from_the_page_and_a_viewer_cannot() {
    let app = spawn_app().await;
    let payment = paid(&app, "buyer@example.com", None).await;
    let path = format!("/dashboard/payments/{payment}");

    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let page = viewer.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("buyer@example.com"));
    assert!(
        !page.html.contains("id=\"refund-form\""),
        "a viewer is offered no refund"
    );
    // Even with a form of its own session's secret, the server refuses.
    let forged = viewer
        .post(&format!("{path}/refund"), &[("token", &page.first_token())])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.html.contains("Your role does not allow this."));

    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get(&path).await;
    let token = page.token_of(&format!("{path}/refund"));
    let over = owner
        .post(
            &format!("{path}/refund"),
            &[
                ("token", &token),
                ("amount", "500"),
                ("reason", "duplicate"),
            ],
        )
        .await;
    assert_eq!(over.status, 303);
    let told = owner.get(over.location()).await;
    assert!(
        told.html
            .contains("That is more than is left: at most $116.00 can be refunded."),
        "{}",
        told.html
    );
    let token = told.token_of(&format!("{path}/refund"));
    let done = owner
        .post(
            &format!("{path}/refund"),
            &[
                ("token", &token),
                ("amount", "10.50"),
                ("reason", "requested_by_customer"),
            ],
        )
        .await;
    let told = owner.get(done.location()).await;
    assert!(
        told.html.contains("Refund made: succeeded."),
        "{}",
        told.html
    );
    assert!(
        told.html
            .contains("id=\"refunded\">$10.50 · partially_refunded")
    );
    // The timeline has the provider's callback and the refund, in their places.
    let timeline = told.html.split("id=\"timeline\"").nth(1).unwrap();
    let callback = timeline.find("Provider callback</strong> <span class=\"wrap\">sandbox");
    let refund = timeline.find("Refund</strong> <span class=\"wrap\">re_");
    assert!(
        callback.is_some() && refund.is_some() && callback < refund,
        "{timeline}"
    );
    assert!(timeline.contains("$10.50 · succeeded"), "{timeline}");
    // The same form again is refused: each token works once.
    let replay = owner
        .post(
            &format!("{path}/refund"),
            &[("token", &token), ("amount", "10.50")],
        )
        .await;
    assert_eq!(replay.status, 409);
    let api = payment_json(&app, &payment).await;
    assert_eq!(api["amountRefunded"], 10.5);
    assert_eq!(api["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'refund.create' AND actor = 'owner@shop.example'"
        )
        .await,
        1
    );
    // The timeline tells the story, the refund's events included.
    for step in [
        "Checkout created",
        "Route chosen",
        "Event payment.paid",
        "Event refund.succeeded",
    ] {
        assert!(told.html.contains(step), "{step}:\n{}", told.html);
    }
    // A crafted notice shows nothing it was not meant to.
    let crafted = owner.get(&format!("{path}?notice=hello&v=anything")).await;
    assert!(!crafted.html.contains("id=\"notice\""));
}

#[tokio::test]
async fn forms_need_a_fresh_token_from_our_own_pages() {
    let app = spawn_app().await;
    let payment = paid(&app, "buyer@example.com", None).await;
    let path = format!("/dashboard/payments/{payment}");
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let none = owner
        .post(&format!("{path}/refund"), &[("amount", "1")])
        .await;
    assert_eq!(none.status, 403);
    assert!(none.html.contains("This form has expired"));
    let page = owner.get(&path).await;
    let token = page.token_of(&format!("{path}/refund"));
    let cross = owner
        .post_from(
            &format!("{path}/refund"),
            &[("token", &token), ("amount", "1")],
            "https://evil.example",
        )
        .await;
    assert_eq!(cross.status, 403);
    assert!(cross.html.contains("sent from another site"));
    // A token of another form does not fit this one.
    let logout_token = page.token_of("/dashboard/logout");
    let wrong = owner
        .post(&format!("{path}/refund"), &[("token", &logout_token)])
        .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM refunds").await,
        0,
        "nothing was refunded"
    );
}

#[tokio::test]
async fn another_merchants_payments_are_not_found() {
    let app = spawn_app().await;
    let payment = paid(&app, "buyer@example.com", None).await;
    let other = app.create_merchant("Other shop").await;
    let mut them = signed_in_at(&app, &other.merchant_id, "them@other.example", Role::Owner).await;
    let page = them.get(&format!("/dashboard/payments/{payment}")).await;
    assert_eq!(page.status, 404);
    let list = them.get("/dashboard/payments").await;
    assert!(!list.html.contains(&payment));
    assert!(list.html.contains("No payments match."));
    let refund = them
        .post(
            &format!("/dashboard/payments/{payment}/refund"),
            &[("token", &list.token_of("/dashboard/logout"))],
        )
        .await;
    assert_eq!(
        refund.status, 403,
        "no token of theirs fits a payment they cannot see"
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM refunds").await, 0);
}

#[tokio::test]
async fn payments_are_found_by_email_reference_and_date_and_paged() {
    let app = spawn_app().await;
    let ada = paid(&app, "Ada@Example.com", Some("order-1")).await;
    let bob = paid(&app, "bob@example.com", Some("order-2")).await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;

    let by_email = owner
        .get("/dashboard/payments?email=ada%40example.com")
        .await;
    assert_eq!(by_email.status, 200);
    assert!(by_email.html.contains(&ada) && !by_email.html.contains(&bob));
    let by_reference = owner.get("/dashboard/payments?reference=order-2").await;
    assert!(by_reference.html.contains(&bob) && !by_reference.html.contains(&ada));
    let today = time::OffsetDateTime::now_utc().date();
    let by_date = owner
        .get(&format!(
            "/dashboard/payments?from={today}&to={today}&status=paid"
        ))
        .await;
    assert!(by_date.html.contains(&ada) && by_date.html.contains(&bob));
    let tomorrow = today.next_day().unwrap();
    let later = owner
        .get(&format!("/dashboard/payments?from={tomorrow}"))
        .await;
    assert!(later.html.contains("No payments match."));

    for (query, says) in [
        ("status=bogus", "is not a payment status"),
        ("from=2026-13-01", "is not a date"),
        ("email=%01x", "control characters"),
    ] {
        let bad = owner.get(&format!("/dashboard/payments?{query}")).await;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.html.contains(says), "{query}:\n{}", bad.html);
    }

    // 50 a page, newest first, then the older ones.
    for n in 0..49 {
        paid(&app, &format!("many{n}@example.com"), None).await;
    }
    let first = owner.get("/dashboard/payments").await;
    assert_eq!(
        first.html.matches("<tr>").count(),
        51,
        "50 rows and the header"
    );
    assert!(!first.html.contains(&ada), "the oldest is on the next page");
    let next = first.html.split("id=\"next-page\"").next().unwrap();
    let href = next[next.rfind("href=\"").unwrap() + 6..]
        .split('"')
        .next()
        .unwrap();
    let second = owner.get(&href.replace("&amp;", "&")).await;
    assert!(second.html.contains(&ada));
    assert!(!second.html.contains("id=\"next-page\""));
}

#[tokio::test]
async fn the_environment_switch_shows_production_apart() {
    let app = spawn_app().await;
    let payment = paid(&app, "buyer@example.com", None).await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let home = owner.get("/dashboard").await;
    assert!(
        home.html.contains("id=\"paid-today\">$119.72<"),
        "{}",
        home.html
    );
    let switched = owner
        .post(
            "/dashboard/environment",
            &[
                ("token", &home.token_of("/dashboard/environment")),
                ("environment", "production"),
            ],
        )
        .await;
    assert_eq!(switched.status, 303);
    let live = owner.get("/dashboard").await;
    assert!(live.html.contains("id=\"environment\">Production<"));
    assert!(live.html.contains("id=\"paid-today\">$0.00<"));
    let page = owner.get(&format!("/dashboard/payments/{payment}")).await;
    assert_eq!(
        page.status, 404,
        "a sandbox payment is not shown in production"
    );
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = spawn_app().await;
    let mut laptop = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let mut phone = Browser::new(&app);
    assert_eq!(
        phone.sign_in("owner@shop.example", PASSWORD).await.status,
        303
    );
    let home = phone.get("/dashboard").await;
    let out = phone
        .post(
            "/dashboard/logout-everywhere",
            &[("token", &home.token_of("/dashboard/logout-everywhere"))],
        )
        .await;
    assert_eq!(out.status, 303);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        laptop.get("/dashboard").await.status,
        303,
        "the laptop is signed out too"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM dashboard_sessions").await,
        0
    );
}

#[tokio::test]
async fn a_checkout_reopened_after_a_decline_is_expired_from_its_page() {
    let app = spawn_app().await;
    let session = app
        .create_session(&json!({"product": "Creator plan", "amount": 116,
            "customer": "buyer@example.com", "preferredRoute": "card"}))
        .await;
    let id = session["id"].as_str().unwrap().to_owned();
    // Declined: the checkout is open again, with a failed payment.
    Buyer::new(&app, &id)
        .card_checkout("4000000000000002")
        .await;
    let path = format!("/dashboard/payments/{id}");

    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let seen = viewer.get(&path).await;
    assert!(
        !seen.html.contains("/expire\""),
        "a viewer is offered no expiry"
    );
    let refused = viewer
        .post(&format!("{path}/expire"), &[("token", &seen.first_token())])
        .await;
    assert_eq!(refused.status, 403);

    let mut dev = signed_in(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get(&path).await;
    assert_eq!(page.status, 200, "a session's id finds its payment");
    assert!(page.html.contains("id=\"payment-status\">failed<"));
    assert!(
        !page.html.contains("id=\"refund-form\""),
        "a failed payment is not refundable"
    );
    let action = format!(
        "/dashboard/payments/{}/expire",
        page.html
            .split("action=\"/dashboard/payments/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
    );
    let done = dev
        .post(&action, &[("token", &page.token_of(&action))])
        .await;
    assert_eq!(done.status, 303);
    let told = dev.get(done.location()).await;
    assert!(
        told.html.contains("The checkout is expired."),
        "{}",
        told.html
    );
    assert!(!told.html.contains("/expire\""), "nothing more to expire");
    let api: Value = app
        .get(&format!("/api/gateway/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["status"], "expired");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'session.expire'")
            .await,
        1
    );
}

/// The code of the base32 `secret` now.
fn code_now(secret: &str) -> String {
    use openrails_checkout::domain::totp::{code_at, from_base32};
    code_at(
        &from_base32(secret).unwrap(),
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
}

#[tokio::test]
async fn a_second_factor_once_on_is_asked_at_every_sign_in() {
    let app = spawn_app().await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get("/dashboard/account").await;
    assert!(page.html.contains("id=\"totp-state\">Off"));
    assert!(page.html.contains("<svg"), "a QR code to scan");
    let secret = page.text_of("totp-secret");
    // A page's secret cannot be swapped for another: the token is bound to it.
    let swapped = owner
        .post(
            "/dashboard/account/totp",
            &[
                ("token", &page.token_of("/dashboard/account/totp")),
                ("secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
                ("code", &code_now("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")),
            ],
        )
        .await;
    assert_eq!(swapped.status, 403);
    let page = owner.get("/dashboard/account").await;
    let secret2 = page.text_of("totp-secret");
    assert_ne!(secret, secret2, "each page offers a fresh secret");
    let wrong = owner
        .post(
            "/dashboard/account/totp",
            &[
                ("token", &page.token_of("/dashboard/account/totp")),
                ("secret", &secret2),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.location(), "/dashboard/account?notice=code_wrong");
    let page = owner.get("/dashboard/account").await;
    let secret = page.text_of("totp-secret");
    let on = owner
        .post(
            "/dashboard/account/totp",
            &[
                ("token", &page.token_of("/dashboard/account/totp")),
                ("secret", &secret),
                ("code", &code_now(&secret)),
            ],
        )
        .await;
    assert_eq!(on.location(), "/dashboard/account?notice=totp_on");
    assert!(
        owner
            .get(on.location())
            .await
            .html
            .contains("id=\"totp-state\">On")
    );

    // The password alone no longer signs in.
    let mut browser = Browser::new(&app);
    let step = browser.sign_in("owner@shop.example", PASSWORD).await;
    assert_eq!(step.status, 200, "the code is asked for");
    assert!(step.html.contains("autocomplete=\"one-time-code\""));
    assert!(browser.cookie.is_none());
    let user = step
        .html
        .split("name=\"user\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let bad = browser
        .post(
            "/dashboard/login/code",
            &[
                ("token", &step.first_token()),
                ("user", &user),
                ("code", "123456"),
                ("next", "/dashboard"),
            ],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert!(bad.html.contains("That code is not right. Sign in again."));
    assert!(browser.cookie.is_none());
    // A code step's form works once, and only for its person.
    let step = browser.sign_in("owner@shop.example", PASSWORD).await;
    let token = step.first_token();
    let other = browser
        .post(
            "/dashboard/login/code",
            &[
                ("token", &token),
                ("user", "usr_someoneelse"),
                ("code", &code_now(&secret)),
                ("next", "/dashboard"),
            ],
        )
        .await;
    assert_eq!(other.status, 403);
    let step = browser.sign_in("owner@shop.example", PASSWORD).await;
    let done = browser
        .post(
            "/dashboard/login/code",
            &[
                ("token", &step.first_token()),
                ("user", &user),
                ("code", &code_now(&secret)),
                ("next", "/dashboard/payments"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.location(), "/dashboard/payments");
    assert!(browser.cookie.is_some());
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'user.totp_on'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_event_is_sent_again_from_the_payments_timeline() {
    let app = spawn_app().await;
    let receiver = crate::webhook_support::Receiver::accepting().await;
    crate::webhook_support::register(&app, &receiver.url, None).await;
    let payment = paid(&app, "buyer@example.com", None).await;
    receiver
        .wait_for(1, std::time::Duration::from_secs(15))
        .await;
    let path = format!("/dashboard/payments/{payment}");

    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let seen = viewer.get(&path).await;
    assert!(
        !seen.html.contains("/redeliver\""),
        "a viewer sends nothing again"
    );

    let mut dev = signed_in(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get(&path).await;
    let api = payment_json(&app, &payment).await;
    let session = api["sessionId"].as_str().unwrap();
    let action = format!("/dashboard/events/evt_{session}_paid/redeliver");
    let done = dev
        .post(&action, &[("token", &page.token_of(&action))])
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let told = dev.get(done.location()).await;
    assert!(
        told.html.contains("Queued again for 1 endpoint(s)."),
        "{}",
        told.html
    );
    // payment.provider_pending and payment.paid came first; then payment.paid again.
    let paid_copies = || {
        receiver
            .requests()
            .iter()
            .filter(|r| r.json()["type"] == "payment.paid")
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while paid_copies() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(paid_copies(), 2, "the same event, delivered again");
    // Another merchant's event is not theirs to send.
    let other = app.create_merchant("Other").await;
    let mut them = signed_in_at(&app, &other.merchant_id, "them@other.example", Role::Owner).await;
    let mine = them.get("/dashboard").await;
    let refused = them.post(&action, &[("token", &mine.first_token())]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'event.redeliver'")
            .await,
        1
    );

    // With no endpoint to take it, the page says so instead of "0 endpoint(s)".
    let lonely = spawn_app().await;
    let payment = paid(&lonely, "buyer@example.com", None).await;
    let api = payment_json(&lonely, &payment).await;
    let action = format!(
        "/dashboard/events/evt_{}_paid/redeliver",
        api["sessionId"].as_str().unwrap()
    );
    let mut dev = signed_in(&lonely, "dev@shop.example", Role::Developer).await;
    let page = dev.get(&format!("/dashboard/payments/{payment}")).await;
    let done = dev
        .post(&action, &[("token", &page.token_of(&action))])
        .await;
    let told = dev.get(done.location()).await;
    assert!(
        told.html.contains("No endpoint takes this event"),
        "{}",
        told.html
    );
}

#[tokio::test]
async fn the_filtered_payments_export_as_csv_in_batches() {
    use openrails_checkout::db::payments::{get_payment_by_id, insert_payment};
    use openrails_checkout::domain::PaymentId;
    let app = spawn_app().await;
    let ada = paid(&app, "ada@example.com", None).await;
    let body = json!({"product": "=HYPERLINK(\"x\")", "amount": 5, "customer": "eve@example.com",
        "preferredRoute": "card"});
    let session = app.create_session(&body).await;
    Buyer::new(&app, session["id"].as_str().unwrap())
        .card_checkout("4242424242424242")
        .await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;

    let one = owner
        .get("/dashboard/payments.csv?email=ada%40example.com")
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        one.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"payments-sandbox-")
    );
    let lines: Vec<&str> = one.html.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{}", one.html);
    assert!(lines[0].starts_with("id,session_id,created,status"));
    assert!(
        lines[1].starts_with(&format!("{ada},"))
            && lines[1].contains(",paid,settled,116.00,3.72,119.72,0.00,USD,"),
        "{}",
        lines[1]
    );
    let eve = owner
        .get("/dashboard/payments.csv?email=eve%40example.com")
        .await;
    assert!(
        eve.html.contains(",\"'=HYPERLINK(\"\"x\"\")\","),
        "a formula is defused and quoted: {}",
        eve.html
    );
    let bad = owner.get("/dashboard/payments.csv?status=nope").await;
    assert_eq!(bad.status, 400);

    // More rows than a batch: every one comes, once, newest first.
    let first = get_payment_by_id(&app.db.read, &PaymentId::parse(&ada).unwrap())
        .await
        .unwrap()
        .unwrap();
    for attempt in 0..1_100 {
        let copy = openrails_checkout::db::payments::PaymentRow {
            id: PaymentId::generate(),
            attempt: 10 + attempt,
            ..first.clone()
        };
        insert_payment(&app.db.write, &copy).await.unwrap();
    }
    let all = owner.get("/dashboard/payments.csv").await;
    let ids: Vec<&str> = all
        .html
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 1_102);
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 1_102, "no row twice across batches");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payments.export'")
            .await,
        3,
        "the refused filter exports nothing"
    );
}

#[tokio::test]
async fn api_keys_are_created_once_shown_and_revoked_from_the_page() {
    let app = spawn_app().await;
    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let seen = viewer.get("/dashboard/keys").await;
    assert_eq!(seen.status, 200);
    assert!(
        seen.html.contains("sk_test_…"),
        "the first key, by its hint"
    );
    assert!(
        !seen.html.contains("action=\"/dashboard/keys\""),
        "a viewer creates none"
    );
    let refused = viewer
        .post(
            "/dashboard/keys",
            &[("token", &seen.first_token()), ("environment", "sandbox")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let mut dev = signed_in(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get("/dashboard/keys").await;
    let made = dev
        .post(
            "/dashboard/keys",
            &[
                ("token", &page.token_of("/dashboard/keys")),
                ("environment", "sandbox"),
                ("label", "shop backend"),
            ],
        )
        .await;
    assert_eq!(made.status, 200);
    let secret = made.value_of("new-key-secret");
    assert!(secret.starts_with("sk_test_"), "{secret}");
    let works = app.get_with_key("/api/gateway/payments", &secret).await;
    assert_eq!(works.status(), 200);
    let again = dev.get("/dashboard/keys").await;
    assert!(!again.html.contains(&secret), "shown only once");
    assert!(again.html.contains("shop backend"));
    let hint = &secret[secret.len() - 4..];
    let row = again.html.split(&format!("…{hint}")).nth(1).unwrap();
    let id = row
        .split("/dashboard/keys/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let action = format!("/dashboard/keys/{id}/revoke");
    let revoked = dev
        .post(&action, &[("token", &again.token_of(&action))])
        .await;
    assert_eq!(revoked.location(), "/dashboard/keys?notice=revoked");
    let refused = app.get_with_key("/api/gateway/payments", &secret).await;
    assert_eq!(refused.status(), 401, "a revoked key is refused at once");

    // Everything above is in the audit log, and the log filters.
    let log = dev.get("/dashboard/audit").await;
    assert_eq!(log.status, 200);
    for action in ["api_key.create", "api_key.revoke", "user.sign_in"] {
        assert!(log.html.contains(action), "{action}:\n{}", log.html);
    }
    let only = dev.get("/dashboard/audit?action=api_key.revoke").await;
    assert!(only.html.contains("api_key.revoke") && !only.html.contains("user.sign_in"));
    let odd = dev.get("/dashboard/audit?actor=%00%01").await;
    assert_eq!(odd.status, 200, "odd characters find nothing, calmly");
}

#[tokio::test]
async fn webhook_endpoints_are_added_tried_rotated_and_removed_from_the_page() {
    let app = spawn_app().await;
    let receiver = crate::webhook_support::Receiver::accepting().await;
    let mut dev = signed_in(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get("/dashboard/webhooks").await;
    assert!(page.html.contains("No endpoints yet"));
    let token = page.token_of("/dashboard/webhooks");
    let refused = dev
        .post(
            "/dashboard/webhooks",
            &[
                ("token", &token),
                ("url", "not a url"),
                ("events", "payment.paid"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("id=\"add-error\""));
    let added = dev
        .post(
            "/dashboard/webhooks",
            &[
                ("token", &refused.token_of("/dashboard/webhooks")),
                ("url", &receiver.url),
                ("events", "payment.paid"),
                ("events", "refund.succeeded"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.html);
    let secret = added.value_of("new-secret-value");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(added.html.contains("payment.paid, refund.succeeded"));
    let id = added
        .html
        .split("/dashboard/webhooks/we_")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let id = format!("we_{id}");

    // The test event, signed with the secret just shown.
    let test = format!("/dashboard/webhooks/{id}/test");
    let tried = dev.post(&test, &[("token", &added.token_of(&test))]).await;
    assert_eq!(tried.status, 200);
    assert!(
        tried
            .html
            .contains("The test event was answered with HTTP 200."),
        "{}",
        tried.html
    );
    let got = receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    crate::webhook_support::assert_signed_with(&got[0], &secret);

    // A real event shows in the delivery log.
    paid(&app, "buyer@example.com", None).await;
    receiver
        .wait_for(2, std::time::Duration::from_secs(15))
        .await;
    let mut log = dev.get("/dashboard/webhooks").await;
    for _ in 0..50 {
        if log.html.contains("id=\"attempts\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        log = dev.get("/dashboard/webhooks").await;
    }
    assert!(log.html.contains("_paid</code> #1"), "{}", log.html);
    assert!(log.html.contains("HTTP 200"));
    let failed_only = dev.get("/dashboard/webhooks?outcome=failed").await;
    assert!(failed_only.html.contains("id=\"no-attempts\""));
    // By endpoint: this one's attempts; another's (well-formed, not this merchant's) none.
    let mine = dev.get(&format!("/dashboard/webhooks?endpoint={id}")).await;
    assert!(mine.html.contains("_paid</code> #1"), "{}", mine.html);
    let other = dev.get("/dashboard/webhooks?endpoint=we_nobody").await;
    assert!(other.html.contains("id=\"no-attempts\""), "{}", other.html);

    // Rotated: a new secret, shown once.
    let rotate = format!("/dashboard/webhooks/{id}/rotate");
    let rotated = dev
        .post(&rotate, &[("token", &log.token_of(&rotate))])
        .await;
    let fresh = rotated.value_of("new-secret-value");
    assert!(fresh.starts_with("whsec_") && fresh != secret);

    // A viewer sees it all and changes nothing.
    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let seen = viewer.get("/dashboard/webhooks").await;
    assert!(seen.html.contains(&receiver.url) && !seen.html.contains("/remove\""));
    let remove = format!("/dashboard/webhooks/{id}/remove");
    let refused = viewer
        .post(&remove, &[("token", &seen.first_token())])
        .await;
    assert_eq!(refused.status, 403);

    let removed = dev
        .post(&remove, &[("token", &rotated.token_of(&remove))])
        .await;
    assert_eq!(removed.location(), "/dashboard/webhooks?notice=removed");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM webhook_endpoints").await,
        0
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'webhook_endpoint.%'")
            .await,
        4
    );
}

#[tokio::test]
async fn a_customer_is_found_by_e_mail_with_their_payments() {
    let app = spawn_app().await;
    let first = paid(&app, "ada@example.com", None).await;
    let second = paid(&app, "ADA@example.com", None).await;
    let bob = paid(&app, "bob@example.com", None).await;
    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let list = viewer
        .get("/dashboard/customers?email=Ada%40Example.com")
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.html
            .matches("href=\"/dashboard/customers/cus_")
            .count(),
        1,
        "one customer, any case"
    );
    let href = list
        .html
        .split("href=\"/dashboard/customers/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let page = viewer.get(&format!("/dashboard/customers/{href}")).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains(&first) && page.html.contains(&second));
    assert!(!page.html.contains(&bob));
    let all = viewer
        .get(&format!("/dashboard/payments?customer={href}"))
        .await;
    assert!(all.html.contains(&first) && !all.html.contains(&bob));
    // Another merchant's customer is not found.
    let other = app.create_merchant("Other").await;
    let mut them = signed_in_at(&app, &other.merchant_id, "them@other.example", Role::Owner).await;
    assert_eq!(
        them.get(&format!("/dashboard/customers/{href}"))
            .await
            .status,
        404
    );
    assert_eq!(them.get("/dashboard/customers/cus_nope").await.status, 404);
}

#[tokio::test]
async fn the_owner_edits_the_branding_beside_a_preview_of_the_checkout() {
    let app = spawn_app().await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get("/dashboard/branding").await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        page.html
            .contains("<iframe src=\"/dashboard/branding/preview?v=0\"")
    );

    let bad = owner
        .post(
            "/dashboard/branding",
            &[
                ("token", &page.token_of("/dashboard/branding")),
                ("color", "purple"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("id=\"branding-error\""), "{}", bad.html);
    let saved = owner
        .post(
            "/dashboard/branding",
            &[
                ("token", &bad.token_of("/dashboard/branding")),
                ("display_name", "Nimbus Studio"),
                ("color", "#6d28d9"),
                ("shape", "pill"),
                ("note", "Questions? hello@nimbus.example"),
                ("language", "es"),
            ],
        )
        .await;
    assert_eq!(saved.location(), "/dashboard/branding?notice=saved");
    let api: Value = app.get("/api/gateway/branding").await.json().await.unwrap();
    assert_eq!(api["brandColor"], "#6d28d9");
    assert_eq!(api["buttonShape"], "pill");
    assert_eq!(api["displayName"], "Nimbus Studio");
    assert_eq!(api["defaultLanguage"], "es");

    let after = owner.get("/dashboard/branding?notice=saved").await;
    assert!(
        after
            .html
            .contains("Saved: the checkout wears it from now on.")
    );
    assert!(
        !after.html.contains("preview?v=0\""),
        "the frame's address changed with the save"
    );
    let preview = owner.get("/dashboard/branding/preview").await;
    assert_eq!(preview.status, 200);
    let csp = preview.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert!(preview.html.contains("Nimbus Studio"));
    assert!(preview.html.contains("Questions? hello@nimbus.example"));
    assert!(
        preview
            .html
            .contains(&format!("/brand/{}/style.css", app.merchant_id))
    );
    assert!(
        preview.html.contains("lang=\"es\""),
        "in the default language"
    );

    // Cleared by an empty field.
    let page = owner.get("/dashboard/branding").await;
    owner
        .post(
            "/dashboard/branding",
            &[
                ("token", &page.token_of("/dashboard/branding")),
                ("display_name", ""),
                ("color", "#6d28d9"),
            ],
        )
        .await;
    let api: Value = app.get("/api/gateway/branding").await.json().await.unwrap();
    assert_eq!(api["displayName"], Value::Null);

    let mut dev = signed_in(&app, "dev@shop.example", Role::Developer).await;
    let seen = dev.get("/dashboard/branding").await;
    assert!(!seen.html.contains("id=\"branding-form\""));
    assert!(seen.html.contains("owner can change the branding."));
    let refused = dev
        .post(
            "/dashboard/branding",
            &[("token", &seen.first_token()), ("color", "#000000")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'branding.update'")
            .await,
        2
    );
}

#[tokio::test]
async fn payments_are_found_by_an_exact_metadata_value() {
    let app = spawn_app().await;
    let pay = |metadata: Value| {
        let app = &app;
        async move {
            let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
                "preferredRoute": "card", "metadata": metadata});
            let session = app.create_session(&body).await;
            let id = session["id"].as_str().unwrap().to_owned();
            Buyer::new(app, &id).card_checkout("4242424242424242").await;
            let p = payment_json(app, &id).await;
            p["id"].as_str().unwrap().to_owned()
        }
    };
    let exact = pay(json!({"order_id": "ord_1", "team": "a_b"})).await;
    let longer = pay(json!({"order_id": "ord_10"})).await;
    let posing = pay(json!({"note": "\"order_id\":\"ord_1\""})).await;
    let wildcard = pay(json!({"team": "aXb"})).await;
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let found = owner
        .get("/dashboard/payments?metadata=order_id%3Dord_1")
        .await;
    assert_eq!(found.status, 200);
    assert!(found.html.contains(&exact), "{}", found.html);
    for other in [&longer, &posing, &wildcard] {
        assert!(!found.html.contains(other.as_str()), "only the exact value");
    }
    let team = owner.get("/dashboard/payments?metadata=team%3Da_b").await;
    assert!(
        team.html.contains(&exact) && !team.html.contains(&wildcard),
        "_ is not a wildcard"
    );
    let bad = owner.get("/dashboard/payments?metadata=nokey").await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("key=value"));
    let csv = owner
        .get("/dashboard/payments.csv?metadata=order_id%3Dord_10")
        .await;
    assert!(csv.html.contains(&longer) && !csv.html.contains(&exact));
}

/// The numbers in the `<td class="num" …>` cells of the funnel's row for `route`.
fn funnel_row(html: &str, route: &str) -> Vec<String> {
    let row = html
        .split(&format!("<tr data-route=\"{route}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no funnel row for {route:?}: {html}"))
        .split("</tr>")
        .next()
        .unwrap();
    row.split("<td class=\"num\"")
        .skip(1)
        .map(|cell| {
            let text = &cell[cell.find('>').unwrap() + 1..];
            text.split('<').next().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_home_page_counts_the_funnel_from_opened_to_paid_per_route() {
    let app = spawn_app().await;
    let body = json!({"product": "Creator plan", "amount": 116,
        "customer": "buyer@example.com", "preferredRoute": "card"});
    // Paid by card: opened, chosen, paid.
    paid(&app, "paid@example.com", None).await;
    // Declined by card: opened, chosen, still open (the buyer may try again).
    let declined = app.create_session(&body).await;
    Buyer::new(&app, declined["id"].as_str().unwrap())
        .card_checkout("4000000000000002")
        .await;
    // Opened twice, nothing chosen: opened once, at the first view.
    let looked = app.create_session(&body).await;
    let looked = looked["id"].as_str().unwrap().to_owned();
    let path = format!("/checkout/{looked}");
    assert_eq!(app.get_anonymous(&path).await.status(), 200);
    let opened_sql = format!("SELECT opened_at FROM checkout_sessions WHERE id = '{looked}'");
    let first = app.scalar(&opened_sql).await;
    assert!(first > 0, "the first view is noted");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(app.get_anonymous(&path).await.status(), 200);
    assert_eq!(
        app.scalar(&opened_sql).await,
        first,
        "later views write nothing"
    );
    // Never opened, expired by the merchant.
    let ignored = app.create_session(&body).await;
    assert_eq!(
        app.expire_session(ignored["id"].as_str().unwrap())
            .await
            .status(),
        200
    );

    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let home = viewer.get("/dashboard").await;
    assert_eq!(home.status, 200);
    for (step, n) in [("created", 4), ("opened", 3), ("chosen", 2), ("paid", 1)] {
        assert!(
            home.html.contains(&format!("id=\"funnel-{step}\">{n}<")),
            "{step} should be {n}: {}",
            home.html
        );
    }
    // Chosen, paid, failed, expired, open, paid of chosen.
    assert_eq!(
        funnel_row(&home.html, "card-bridge-a"),
        ["2", "1", "0", "0", "1", "50%"]
    );
    assert_eq!(funnel_row(&home.html, "")[3], "1", "one expired unchosen");

    // The page opened is on the paid payment's timeline.
    let page = viewer
        .get(&format!(
            "/dashboard/payments/{}",
            declined["id"].as_str().unwrap()
        ))
        .await;
    assert!(page.html.contains("Page opened"), "{}", page.html);
}

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

#[tokio::test]
async fn the_owner_uploads_and_removes_a_logo_and_bad_files_change_nothing() {
    let app = spawn_app().await;
    let logo_path = format!("/brand/{}/logo", app.merchant_id);
    let mut owner = signed_in(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get("/dashboard/branding").await;
    assert!(page.html.contains("enctype=\"multipart/form-data\""));
    assert!(!page.html.contains("id=\"logo-current\""), "no logo yet");
    let upload = async |owner: &mut Browser, name: &str, kind: &str, bytes: &[u8]| {
        let page = owner.get("/dashboard/branding").await;
        let token = page.token_of("/dashboard/branding");
        owner
            .post_multipart(
                "/dashboard/branding",
                &[("token", &token), ("display_name", "Nimbus")],
                ("logo", name, kind, bytes),
            )
            .await
    };

    let saved = upload(&mut owner, "logo.png", "image/png", PNG).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let page = owner.get("/dashboard/branding").await;
    assert!(page.html.contains("id=\"logo-current\""), "{}", page.html);
    assert_eq!(
        page.value_of("b-name"),
        "Nimbus",
        "the other fields are saved too"
    );
    let served = app.get_anonymous(&logo_path).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

    // Not an image, whatever its name and type say.
    let text = upload(&mut owner, "logo.png", "image/png", b"hello, not a picture").await;
    assert_eq!(text.status, 400);
    assert!(
        text.html
            .contains("The logo must be a PNG, JPEG, WebP or SVG image"),
        "{}",
        text.html
    );
    // An SVG that would run script.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let script = upload(&mut owner, "logo.svg", "image/svg+xml", svg).await;
    assert_eq!(script.status, 400);
    assert!(script.html.contains("plain SVG drawing"), "{}", script.html);
    // Too large: refused before it is read whole.
    let mut big = PNG.to_vec();
    big.resize(90 * 1024, 0);
    let large = upload(&mut owner, "big.png", "image/png", &big).await;
    assert_eq!(large.status, 413);
    assert!(large.html.contains("at most 64 KiB"), "{}", large.html);
    // Just over the logo's limit, within the form's: the API's rule says so.
    big.truncate(65 * 1024);
    let over = upload(&mut owner, "big.png", "image/png", &big).await;
    assert_eq!(over.status, 400);
    assert!(over.html.contains("64 KiB"), "{}", over.html);
    let served = app.get_anonymous(&logo_path).await;
    assert_eq!(
        served.bytes().await.unwrap().as_ref(),
        PNG,
        "nothing half-written: the first logo stays"
    );

    // No file chosen leaves the logo; the box removes it.
    let kept = upload(&mut owner, "", "application/octet-stream", b"").await;
    assert_eq!(kept.status, 303);
    assert_eq!(app.get_anonymous(&logo_path).await.status(), 200);
    let page = owner.get("/dashboard/branding").await;
    let removed = owner
        .post_multipart(
            "/dashboard/branding",
            &[
                ("token", &page.token_of("/dashboard/branding")),
                ("remove_logo", "1"),
            ],
            ("logo", "", "application/octet-stream", b""),
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(app.get_anonymous(&logo_path).await.status(), 404);

    // A viewer cannot, and a replayed token is spent.
    let mut viewer = signed_in(&app, "viewer@shop.example", Role::Viewer).await;
    let refused = viewer
        .post_multipart(
            "/dashboard/branding",
            &[("token", "x")],
            ("logo", "logo.png", "image/png", PNG),
        )
        .await;
    assert_eq!(refused.status, 403);
    let page = owner.get("/dashboard/branding").await;
    let token = page.token_of("/dashboard/branding");
    let file = ("logo", "logo.png", "image/png", PNG);
    let first = owner
        .post_multipart("/dashboard/branding", &[("token", &token)], file)
        .await;
    assert_eq!(first.status, 303);
    let again = owner
        .post_multipart("/dashboard/branding", &[("token", &token)], file)
        .await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn every_payments_filter_reads_through_an_index() {
    use openrails_checkout::db::Backend;
    use openrails_checkout::db::dashboard::{PaymentSearch, search_query};
    use sqlx::Row;
    let app = spawn_app().await;
    if app.db.backend != Backend::Sqlite {
        // The plan's wording is SQLite's; PostgreSQL plans by its statistics.
        return;
    }
    let base = PaymentSearch {
        limit: 50,
        ..PaymentSearch::default()
    };
    let some = |s: &str| Some(s.to_owned());
    // (filter, the index that must find the rows; None: the list index, newest first)
    let cases = [
        ("nothing", base.clone(), None),
        (
            "status",
            PaymentSearch {
                status: some("paid"),
                ..base.clone()
            },
            Some("payments_status"),
        ),
        (
            "route",
            PaymentSearch {
                route: some("card-bridge-a"),
                ..base.clone()
            },
            Some("payments_route"),
        ),
        (
            "dates and cursor",
            PaymentSearch {
                from_ms: Some(1),
                to_ms: Some(2),
                before: some("pay_x"),
                ..base.clone()
            },
            None,
        ),
        (
            "e-mail",
            PaymentSearch {
                email: some("a@b.example"),
                ..base.clone()
            },
            Some("payments_customer"),
        ),
        (
            "customer",
            PaymentSearch {
                customer_id: some("cus_x"),
                ..base.clone()
            },
            Some("payments_customer"),
        ),
        (
            "reference",
            PaymentSearch {
                client_reference_id: some("ord_1"),
                ..base.clone()
            },
            Some("checkout_sessions_reference"),
        ),
        (
            "metadata",
            PaymentSearch {
                metadata: Some(("order".into(), "ord_1".into())),
                ..base.clone()
            },
            Some("payment_metadata_value"),
        ),
        (
            "metadata and dates",
            PaymentSearch {
                metadata: Some(("plan".into(), "pro".into())),
                from_ms: Some(1),
                ..base.clone()
            },
            Some("payment_metadata_value"),
        ),
    ];
    for (name, search, index) in cases {
        let (sql, values) = search_query(&search);
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain).bind(&app.merchant_id).bind("sandbox");
        for value in &values {
            query = query.bind(value);
        }
        let plan: Vec<String> = query
            .fetch_all(&app.db.read)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(3))
            .collect();
        for step in &plan {
            assert!(
                !step.starts_with("SCAN") || step.contains("INDEX"),
                "{name}: a table is read whole: {plan:?}"
            );
        }
        match index {
            Some(index) => {
                assert!(
                    plan.iter()
                        .any(|s| s.starts_with("SEARCH") && s.contains(index)),
                    "{name}: not found through {index}: {plan:?}"
                );
                // The list index may find one payment by id, never walk the merchant's list.
                assert!(
                    !plan
                        .iter()
                        .any(|s| s.contains("payments_list") && !s.contains(" id=?")),
                    "{name}: walks the merchant's whole list: {plan:?}"
                );
            }
            None => assert!(
                plan.iter().any(|s| s.contains("payments_list")),
                "{name}: newest first on the list index: {plan:?}"
            ),
        }
    }
}
