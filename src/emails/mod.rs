//! Receipt e-mails: what both parts show (`Mail`), rendered from askama templates a designer
//! edits (`templates/email/`), the SMTP connection (`smtp`) and the retry schedule. What an
//! e-mail says is composed, and the outbox worked, beside the receipt page
//! (`routes::pages::receipt_mail`), from the same lines.

pub mod smtp;

use std::sync::Arc;

use askama::Template;

use crate::i18n::Catalog;

/// What both parts of an e-mail show.
pub struct Mail {
    pub lang: &'static str,
    pub dir: &'static str,
    pub subject: String,
    pub heading: String,
    pub intro: String,
    /// A sentence under the intro (how long a refund takes).
    pub note: Option<String>,
    /// The sandbox's "no real money moved", in the sandbox.
    pub sandbox: Option<String>,
    pub lines: Vec<(String, String)>,
    pub receipt_url: String,
    pub view_label: String,
    pub footer: String,
    /// The button's colour (the merchant's brand colour, else the checkout's accent) and its text.
    pub color: String,
    pub color_text: String,
}

#[derive(Template)]
#[template(path = "email/receipt.txt")]
pub struct MailText<'a> {
    pub mail: &'a Mail,
}

#[derive(Template)]
#[template(path = "email/receipt.html")]
pub struct MailHtml<'a> {
    pub mail: &'a Mail,
}

/// The plain-text part in a bare page, for the preview gallery.
#[derive(Template)]
#[template(path = "email/text_preview.html")]
pub struct TextPage<'a> {
    pub mail: &'a Mail,
    pub text: &'a str,
}

/// A composed e-mail.
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn render(&self) -> anyhow::Result<Composed> {
        Ok(Composed {
            subject: self.subject.clone(),
            text: MailText { mail: self }.render()?,
            html: MailHtml { mail: self }.render()?,
        })
    }
}

/// When a failed e-mail is tried again: `base` after the first try, four times longer after
/// each next one, at most six hours; `None` once `max_attempts` were made.
pub fn retry_at(now: i64, attempts: i64, base_seconds: i64, max_attempts: i64) -> Option<i64> {
    if attempts >= max_attempts {
        return None;
    }
    let factor = 4_i64.saturating_pow(u32::try_from(attempts - 1).unwrap_or(0));
    let wait_ms = base_seconds
        .saturating_mul(1000)
        .saturating_mul(factor)
        .min(6 * 3_600_000);
    Some(now + wait_ms)
}

/// The sample e-mail of the preview gallery: the fixture payment's receipt in `t`'s language.
pub fn sample(t: Arc<Catalog>, refund: bool) -> Mail {
    let money = |c: i64| t.money(c);
    let merchant = "Demo Store";
    Mail {
        lang: t.code,
        dir: t.dir(),
        subject: t.with(
            if refund {
                "email.refund_subject"
            } else {
                "email.receipt_subject"
            },
            "merchant",
            merchant,
        ),
        heading: t.with("receipt.from", "merchant", merchant),
        intro: if refund {
            t.with2(
                "email.refund_intro",
                ("merchant", merchant),
                ("amount", &money(2_000)),
            )
            .replace("{product}", "Creator plan")
        } else {
            t.with("email.paid_intro", "merchant", merchant)
        },
        note: refund.then(|| t.get("email.refund_timing").into_owned()),
        sandbox: Some(t.get("receipt.sandbox").into_owned()),
        lines: vec![
            (t.get("receipt.product").into_owned(), "Creator plan".into()),
            (t.get("receipt.amount").into_owned(), money(11_600)),
            (t.get("receipt.fee").into_owned(), money(372)),
            (t.get("receipt.total").into_owned(), money(11_972)),
            (
                t.get("receipt.payment_id").into_owned(),
                "pay_preview".into(),
            ),
        ],
        receipt_url: "https://pay.example/receipts/pay_preview?token=preview".into(),
        view_label: t.get("email.view_online").into_owned(),
        footer: t.with("email.footer", "merchant", merchant),
        color: "#0b57d0".into(),
        color_text: "#ffffff".into(),
    }
}
