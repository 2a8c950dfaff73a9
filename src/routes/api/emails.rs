//! A payment's receipt e-mails: what was queued, to whom, where each stands, every try, and
//! the e-mail itself (subject and plain-text part), sent or kept.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::payments::payment_of_key;
use crate::auth::Authenticated;
use crate::db::emails::{EmailAttemptRow, EmailRow, emails_of_payment};
use crate::domain::time::iso_seconds;
use crate::error::{ApiError, ErrorEnvelope};
use crate::routes::pages::compose;
use crate::state::AppState;

/// A receipt e-mail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    /// `eml_…`
    pub id: String,
    /// Always `email`.
    pub object: &'static str,
    /// `receipt` or `refund` (to the buyer), `receipt_copy` or `refund_copy` (to the shop).
    pub kind: String,
    pub to: String,
    /// The language it speaks.
    pub language: String,
    /// `pending` (to be sent, or tried again), `sent`, `kept` (no SMTP server for it: shown
    /// here, never sent) or `failed` (given up).
    pub status: String,
    /// The event it tells of.
    pub event_id: String,
    pub refund_id: Option<String>,
    /// ISO 8601 UTC.
    pub created: String,
    /// ISO 8601 UTC, once the SMTP server took it.
    pub sent_at: Option<String>,
    /// ISO 8601 UTC, while it is pending.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub attempts: Vec<EmailAttempt>,
    pub subject: String,
    /// The plain-text part (the HTML part says the same).
    pub text: String,
}

/// One try at sending an e-mail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailAttempt {
    pub attempt: i64,
    /// ISO 8601 UTC.
    pub started: String,
    pub duration_ms: i64,
    /// The SMTP server's reply code, when it answered (250: taken).
    pub reply_code: Option<i64>,
    /// What went wrong; `null` when the server took the message.
    pub error: Option<String>,
}

/// The list of a payment's e-mails.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<Email>,
}

/// The e-mail object, composed as it reads now.
pub async fn email_object(
    state: &AppState,
    email: EmailRow,
    attempts: Vec<EmailAttemptRow>,
) -> anyhow::Result<Email> {
    let composed = compose(state, &email).await?;
    let (subject, text) = composed.map_or_else(Default::default, |c| (c.subject, c.text));
    Ok(Email {
        object: "email",
        next_attempt_at: (email.status == "pending").then(|| iso_seconds(email.next_attempt_at)),
        sent_at: email.sent_at.map(iso_seconds),
        created: iso_seconds(email.created_at),
        attempts: attempts
            .into_iter()
            .map(|a| EmailAttempt {
                attempt: a.attempt,
                started: iso_seconds(a.started_at),
                duration_ms: a.duration_ms,
                reply_code: a.reply_code,
                error: a.error,
            })
            .collect(),
        id: email.id,
        kind: email.kind,
        to: email.recipient,
        language: email.language,
        status: email.status,
        event_id: email.event_id,
        refund_id: email.refund_id,
        last_error: email.last_error,
        subject,
        text,
    })
}

/// List a payment's receipt e-mails, oldest first, each with its tries.
#[utoipa::path(
    get,
    path = "/api/gateway/payments/{id}/emails",
    tag = "Payments",
    params(("id" = String, Path, description = "`pay_…` or `chk_…`")),
    responses(
        (status = 200, description = "The payment's e-mails", body = EmailList),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such payment for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_payment_emails_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let payment = payment_of_key(&state, &auth, &id).await?;
    let mut data = Vec::new();
    for (email, attempts) in emails_of_payment(&state.db, payment.id.as_str()).await? {
        data.push(email_object(&state, email, attempts).await?);
    }
    Ok(HttpResponse::Ok().json(EmailList {
        object: "list",
        data,
    }))
}
