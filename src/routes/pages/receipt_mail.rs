//! A receipt page's e-mails: each composed from the payment, its session, branding and refund
//! as they are when it is sent, with the receipt page's lines; and the worker that works the
//! outbox (`db::emails`) the way the webhook worker works deliveries: claimed with a lease,
//! retried with backoff, each try recorded. Without `smtp_url` (and, unless
//! `smtp_send_sandbox`, for the sandbox) e-mails are kept, never sent: the dashboard and the
//! API show them.

use std::time::Duration;

use super::brand::Brand;
use super::{BrandView, Ctx, receipt_lines};
use crate::db::emails::{EmailKind, EmailRow, Outcome, claim_due, record_try};
use crate::db::payments::get_payment_by_id;
use crate::db::refunds::get_refund_by_id;
use crate::db::sessions::get_session_view;
use crate::domain::Environment;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::receipt;
use crate::domain::time::now_ms;
use crate::emails::{Composed, Mail, retry_at, smtp};
use crate::state::AppState;

/// The e-mail `email` as it is sent: its payment, session, branding and refund read now.
/// `None` when what it tells of is gone (it never is: nothing is deleted).
pub async fn compose(state: &AppState, email: &EmailRow) -> anyhow::Result<Option<Composed>> {
    let Some(payment) = get_payment_by_id(
        &state.db.read,
        &PaymentId::from_trusted(email.payment_id.clone()),
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(view) = get_session_view(&state.db.read, &payment.session_id).await? else {
        return Ok(None);
    };
    let kind = EmailKind::parse(&email.kind).unwrap_or(EmailKind::Receipt);
    let refund = match &email.refund_id {
        Some(id) => get_refund_by_id(&state.db.read, &RefundId::from_trusted(id.clone())).await?,
        None => None,
    };
    let brand = Brand::resolve(state, &view.branding);
    let t = state.catalogs.negotiate(
        Some(&email.language),
        None,
        brand.default_language.as_deref(),
    );
    let color = brand.color;
    let ctx = Ctx::fixed(
        t.clone(),
        "",
        Some(BrandView {
            brand,
            css_href: None,
            logo_href: None,
        }),
    );
    let merchant = ctx.merchant_name(&view.merchant_name);
    let paid_at = payment.updated_at.min(email.created_at);
    let lines = receipt_lines(state, &ctx, &payment, &view.session.product, paid_at)
        .into_iter()
        .map(|l| (l.label, l.value))
        .collect();
    let receipt_url = format!(
        "{}{}",
        state.public_url,
        receipt::path(
            &state.receipt_secret,
            payment.id.as_str(),
            payment.language.as_deref()
        )
    );
    let (subject_key, intro, note) = match (kind.is_refund(), &refund) {
        (true, Some(r)) => (
            "email.refund_subject",
            t.with2(
                "email.refund_intro",
                ("merchant", &merchant),
                ("amount", &ctx.money(r.amount_cents)),
            )
            .replace("{product}", &view.session.product),
            Some(t.get("email.refund_timing").into_owned()),
        ),
        _ => (
            "email.receipt_subject",
            t.with("email.paid_intro", "merchant", &merchant),
            None,
        ),
    };
    let mut subject = t.with(subject_key, "merchant", &merchant);
    if kind.is_copy() {
        subject = t.with("email.copy_subject", "subject", &subject);
    }
    let sandbox = email.environment == Environment::Sandbox;
    if sandbox {
        subject = t.with("email.sandbox_subject", "subject", &subject);
    }
    let mail = Mail {
        lang: t.code,
        dir: t.dir(),
        heading: t.with("receipt.from", "merchant", &merchant),
        subject,
        intro,
        note,
        sandbox: sandbox.then(|| t.get("receipt.sandbox").into_owned()),
        lines,
        receipt_url,
        view_label: t.get("email.view_online").into_owned(),
        footer: t.with("email.footer", "merchant", &merchant),
        color: color.map_or("#0b57d0".into(), |c| c.hex()),
        color_text: color.map_or("#ffffff".into(), |c| c.text_color().hex()),
    };
    mail.render().map(Some)
}

/// Works the outbox once: claims what is due and sends (or keeps) each. Returns how many.
pub async fn send_due_once(state: &AppState, worker: &str) -> anyhow::Result<usize> {
    let settings = &state.settings;
    let lease_ms = (settings.smtp_timeout_seconds as i64 + 30) * 1000;
    let due = claim_due(&state.db, worker, now_ms(), lease_ms, 16).await?;
    let count = due.len();
    for email in due {
        let started = now_ms();
        let outcome = match state.mailer.as_ref() {
            Some(mailer)
                if email.environment == Environment::Production || settings.smtp_send_sandbox =>
            {
                send_one(state, mailer, &email, started).await
            }
            _ => Outcome::Kept,
        };
        match &outcome {
            Outcome::Sent { .. } => {
                tracing::info!(email.id = %email.id, email.kind = %email.kind, "receipt e-mail sent")
            }
            Outcome::Kept => {
                tracing::info!(email.id = %email.id, email.kind = %email.kind, "receipt e-mail kept: no SMTP server for it")
            }
            Outcome::Failed {
                error, retry_at, ..
            } => tracing::warn!(
                email.id = %email.id,
                attempt = email.attempts,
                error.cause = %error,
                gives_up = retry_at.is_none(),
                "receipt e-mail not sent"
            ),
        }
        record_try(&state.db, &email, worker, started, now_ms(), &outcome).await?;
    }
    Ok(count)
}

async fn send_one(
    state: &AppState,
    mailer: &smtp::Mailer,
    email: &EmailRow,
    started: i64,
) -> Outcome {
    let settings = &state.settings;
    let composed = match compose(state, email).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Outcome::Failed {
                reply_code: None,
                error: "its payment is gone".into(),
                retry_at: None,
            };
        }
        Err(e) => {
            return Outcome::Failed {
                reply_code: None,
                error: format!("composing it failed: {e:#}"),
                retry_at: retry_at(
                    started,
                    email.attempts,
                    settings.email_retry_base_seconds,
                    settings.email_max_attempts,
                ),
            };
        }
    };
    match mailer.send(&email.id, &email.recipient, &composed).await {
        Ok(reply_code) => Outcome::Sent { reply_code },
        Err(failure) => Outcome::Failed {
            reply_code: failure.reply_code,
            retry_at: if failure.permanent {
                None
            } else {
                retry_at(
                    started,
                    email.attempts,
                    settings.email_retry_base_seconds,
                    settings.email_max_attempts,
                )
            },
            error: failure.message,
        },
    }
}

/// Runs the e-mail worker for as long as the server runs.
pub async fn run(state: actix_web::web::Data<AppState>) {
    let worker = format!(
        "eml_{}",
        crate::domain::ids::random_token(12).unwrap_or_default()
    );
    let every = Duration::from_millis(state.settings.email_poll_interval_ms.max(50));
    loop {
        match send_due_once(&state, &worker).await {
            // A full batch: there may be more at once.
            Ok(16) => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error.cause = format!("{e:#}"),
                "working the e-mail outbox failed; will retry"
            ),
        }
        tokio::time::sleep(every).await;
    }
}
