//! The hosted page a buyer is sent to: no JavaScript, nothing from elsewhere.

use actix_web::{HttpResponse, web};

use super::create::display_amount;
use super::{AsyncPayment, Session, Shared, now};

pub async fn show(path: web::Path<String>, state: Shared) -> HttpResponse {
    let id = path.into_inner();
    let mut books = state.books();
    state.settle(&mut books, &id, now());
    match books.sessions.get(&id) {
        Some(session) => html(200, &render(session, None)),
        None => not_found(),
    }
}

pub async fn act(
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: Shared,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let email = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v);
    let now = now();
    let mut books = state.books();
    state.settle(&mut books, &id, now);
    let Some(session) = books.sessions.get_mut(&id) else {
        return not_found();
    };
    let open = session.status() == "open";
    match action.as_str() {
        "pay" if session.status() == "complete" => see_other(&success_url(session)),
        "pay" | "pay_by_bank" if !open => html(409, &render(session, None)),
        "pay_by_bank" if !session.bank_offered => html(
            400,
            &render(
                session,
                Some("Bank payments are not offered for this checkout."),
            ),
        ),
        "pay" | "pay_by_bank" => {
            let paid = action == "pay";
            match state.complete(&mut books, &id, paid, email.as_deref(), now) {
                Ok(_) => match books.sessions.get(&id) {
                    Some(session) => see_other(&success_url(session)),
                    None => not_found(),
                },
                Err(message) => html(409, &page_text("Checkout", &message)),
            }
        }
        "decline" if open => {
            session.declines += 1;
            html(200, &render(session, Some("Your card was declined.")))
        }
        "decline" => html(409, &render(session, None)),
        "back" => match session.object["cancel_url"].as_str() {
            Some(url) => see_other(url),
            None => html(
                400,
                &render(session, Some("This checkout has no page to go back to.")),
            ),
        },
        _ => not_found(),
    }
}

/// `success_url` with `{CHECKOUT_SESSION_ID}` replaced, as Stripe does.
fn success_url(session: &Session) -> String {
    session
        .field("success_url")
        .replace("{CHECKOUT_SESSION_ID}", session.field("id"))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn not_found() -> HttpResponse {
    html(
        404,
        &page_text(
            "Checkout not found",
            "This checkout session does not exist.",
        ),
    )
}

fn html(status: u16, body: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    )
    .content_type("text/html; charset=utf-8")
    .insert_header(("Cache-Control", "no-store"))
    .insert_header((
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'",
    ))
    .body(body.to_owned())
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:34rem;\
         margin:2rem auto;padding:0 1rem}}form{{display:inline-block;margin:.25rem .25rem 0 0}}\
         </style>\n</head>\n<body>\n<main>\n<p>Stripe Checkout stand-in</p>\n{main}</main>\n\
         </body>\n</html>\n",
        escape(title)
    )
}

fn page_text(title: &str, text: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(text)),
    )
}

fn render(session: &Session, notice: Option<&str>) -> String {
    let id = escape(session.field("id"));
    let currency = session.field("currency");
    let amount = display_amount(
        session.object["amount_total"].as_i64().unwrap_or_default(),
        currency,
    );
    let product = match session.items.as_slice() {
        [] => "Checkout".to_owned(),
        [one] => one.name.clone(),
        [first, rest @ ..] => format!("{} and {} more", first.name, rest.len()),
    };
    let mut main = format!(
        "<h1>{} — {}</h1>\n<ul>\n",
        escape(&product),
        escape(&amount)
    );
    for item in &session.items {
        main.push_str(&format!(
            "<li>{} × {} — {}</li>\n",
            item.quantity,
            escape(&item.name),
            escape(&display_amount(item.unit_amount * item.quantity, currency))
        ));
    }
    main.push_str("</ul>\n");
    if !session.object["livemode"].as_bool().unwrap_or_default() {
        main.push_str("<p>Test mode: no money moves.</p>\n");
    }
    if let Some(notice) = notice {
        main.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(notice)));
    }
    match (session.status(), session.async_payment) {
        ("open", _) => {
            let email = match session.object["customer_email"].as_str() {
                Some(email) => format!("<p>Paying as {}</p>\n", escape(email)),
                None => String::new(),
            };
            let email_field = if session.object["customer_email"].is_null() {
                "<label>Email <input type=\"email\" name=\"email\" \
                 value=\"buyer@example.com\"></label> "
            } else {
                ""
            };
            main.push_str(&email);
            main.push_str(&format!(
                "<form method=\"post\" action=\"/pay/{id}/pay\">{email_field}\
                 <button type=\"submit\">Pay</button></form>\n"
            ));
            if session.bank_offered {
                main.push_str(&format!(
                    "<form method=\"post\" action=\"/pay/{id}/pay_by_bank\">{email_field}\
                     <button type=\"submit\">Pay by bank (delayed)</button></form>\n"
                ));
            }
            main.push_str(&format!(
                "<form method=\"post\" action=\"/pay/{id}/decline\">\
                 <button type=\"submit\">Decline</button></form>\n"
            ));
            if !session.object["cancel_url"].is_null() {
                main.push_str(&format!(
                    "<form method=\"post\" action=\"/pay/{id}/back\">\
                     <button type=\"submit\">Back</button></form>\n"
                ));
            }
        }
        ("complete", AsyncPayment::Pending) => main.push_str(
            "<p role=\"status\">This checkout session is complete. The bank payment is \
             processing.</p>\n",
        ),
        ("complete", AsyncPayment::Failed) => main.push_str(
            "<p role=\"status\">This checkout session is complete, but the bank payment \
             failed.</p>\n",
        ),
        ("complete", _) => main.push_str(
            "<p role=\"status\">This checkout session is complete: the payment was \
             received.</p>\n",
        ),
        _ => main.push_str("<p role=\"status\">This checkout session has expired.</p>\n"),
    }
    layout(&format!("Checkout — {product}"), &main)
}
