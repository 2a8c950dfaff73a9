//! Receipt e-mails: written with the event they tell of (the outbox), claimed by the e-mail
//! worker with a lease that works the same on SQLite and PostgreSQL, one row of
//! `email_attempts` per try.

use anyhow::Context;
use sqlx::FromRow;

use super::events::EventRow;
use crate::domain::Environment;
use crate::domain::ids::new_suffix;

/// What an e-mail tells of, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// The receipt of a paid payment, to the buyer.
    Receipt,
    /// A refund that went back, to the buyer.
    Refund,
    /// A copy of the receipt, to the merchant.
    ReceiptCopy,
    /// A copy of the refund e-mail, to the merchant.
    RefundCopy,
}

impl EmailKind {
    /// The word stored in `emails.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Receipt => "receipt",
            EmailKind::Refund => "refund",
            EmailKind::ReceiptCopy => "receipt_copy",
            EmailKind::RefundCopy => "refund_copy",
        }
    }

    /// The kind `s` names, if any.
    pub fn parse(s: &str) -> Option<EmailKind> {
        [
            EmailKind::Receipt,
            EmailKind::Refund,
            EmailKind::ReceiptCopy,
            EmailKind::RefundCopy,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// A copy for the merchant.
    pub fn is_copy(self) -> bool {
        matches!(self, EmailKind::ReceiptCopy | EmailKind::RefundCopy)
    }

    /// About a refund.
    pub fn is_refund(self) -> bool {
        matches!(self, EmailKind::Refund | EmailKind::RefundCopy)
    }
}

/// One e-mail of the outbox.
#[derive(Debug, Clone, FromRow)]
pub struct EmailRow {
    /// `eml_…`
    pub id: String,
    /// The merchant of the payment.
    pub merchant_id: String,
    /// The payment's environment: sandbox e-mails are kept unless `smtp_send_sandbox`.
    pub environment: Environment,
    /// The event it tells of.
    pub event_id: String,
    /// The payment the e-mail is about.
    pub payment_id: String,
    /// The refund of a refund e-mail.
    pub refund_id: Option<String>,
    /// `receipt`, `refund`, `receipt_copy` or `refund_copy`.
    pub kind: String,
    /// The address it goes to.
    pub recipient: String,
    /// The catalog code it speaks; empty for the merchant's default.
    pub language: String,
    /// `pending`, `sent`, `kept` or `failed`.
    pub status: String,
    /// Tries so far (a claimed e-mail counts the try in hand).
    pub attempts: i64,
    /// When it is due (Unix milliseconds).
    pub next_attempt_at: i64,
    /// What went wrong on the last try, if it failed.
    pub last_error: Option<String>,
    /// When the SMTP server took it (Unix milliseconds).
    pub sent_at: Option<i64>,
    /// When it was queued, with its event (Unix milliseconds).
    pub created_at: i64,
    /// When it last changed (Unix milliseconds).
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, environment, event_id, payment_id, refund_id, kind, \
    recipient, language, status, attempts, next_attempt_at, last_error, sent_at, created_at, \
    updated_at";

/// One try at sending an e-mail.
#[derive(Debug, Clone, FromRow)]
pub struct EmailAttemptRow {
    /// 1 for the first try.
    pub attempt: i64,
    /// When it began (Unix milliseconds).
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// The SMTP server's reply code to the message, when it gave one.
    pub reply_code: Option<i64>,
    /// What went wrong; `None` when the server took the message.
    pub error: Option<String>,
}

/// Queues the e-mails `event` owes, in the caller's transaction: for `payment.paid`, the
/// receipt (to the buyer, unless the session's receipts are off) and its copy (when the session
/// names a copy address); for `refund.succeeded`, the refund e-mail and its copy. Nothing for
/// other events. An event queued before (its step run twice) is left alone.
pub async fn queue_for_event(tx: &mut super::Tx, event: &EventRow) -> anyhow::Result<u64> {
    let (payment_join, refund_id, buyer, copy) = match event.kind.as_str() {
        // The paid payment is the session's current one.
        "payment.paid" => (
            "JOIN payments p ON p.id = s.payment_id",
            None,
            EmailKind::Receipt,
            EmailKind::ReceiptCopy,
        ),
        // The event's id is `evt_{refund id}_succeeded`.
        "refund.succeeded" => {
            let refund = event
                .id
                .as_str()
                .strip_prefix("evt_")
                .and_then(|r| r.strip_suffix("_succeeded"))
                .map(str::to_owned);
            (
                "JOIN refunds r ON r.id = $6 JOIN payments p ON p.id = r.payment_id",
                refund,
                EmailKind::Refund,
                EmailKind::RefundCopy,
            )
        }
        _ => return Ok(0),
    };
    if event.kind == "refund.succeeded" && refund_id.is_none() {
        return Ok(0);
    }
    let mut queued = 0;
    for (kind, recipient, condition) in [
        (
            buyer,
            "s.customer_email",
            "s.receipts = 'buyer' AND s.customer_email <> ''",
        ),
        (
            copy,
            "s.receipt_copy_to",
            "s.receipt_copy_to IS NOT NULL AND s.receipt_copy_to <> ''",
        ),
    ] {
        let sql = format!(
            "INSERT INTO emails (id, merchant_id, environment, event_id, payment_id, refund_id,
                 kind, recipient, language, status, attempts, next_attempt_at, created_at,
                 updated_at)
             SELECT $1, s.merchant_id, s.environment, $2, p.id, $6, $3, {recipient},
                 COALESCE(p.language, ''), 'pending', 0, $4, $4, $4
             FROM checkout_sessions s {payment_join}
             WHERE s.id = $5 AND {condition}
             ON CONFLICT (event_id, kind) DO NOTHING"
        );
        let done = sqlx::query(&sql)
            .bind(format!("eml_{}", new_suffix()))
            .bind(event.id.as_str())
            .bind(kind.as_str())
            .bind(event.created_at)
            .bind(&event.session_id)
            .bind(&refund_id)
            .execute(&mut **tx)
            .await
            .context("queueing a receipt e-mail")?;
        queued += done.rows_affected();
    }
    Ok(queued)
}

/// The e-mail worker's choice of e-mails to send (`claim_due`), read through `emails_due`.
pub const DUE_EMAILS: &str = "SELECT id FROM emails
             WHERE status = 'pending' AND next_attempt_at <= $3
               AND (locked_until IS NULL OR locked_until < $3)
             ORDER BY next_attempt_at
             LIMIT $4";

/// Claims up to `batch` due e-mails for `worker` until `now_ms + lease_ms`, counting the
/// attempt; returns them.
pub async fn claim_due(
    db: &super::Db,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
) -> anyhow::Result<Vec<EmailRow>> {
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "UPDATE emails
         SET locked_until = $1, locked_by = $2, attempts = attempts + 1, updated_at = $3
         WHERE id IN ({DUE_EMAILS})
         AND status = 'pending' AND (locked_until IS NULL OR locked_until < $3)
         RETURNING id"
    ))
    .bind(now_ms + lease_ms)
    .bind(worker)
    .bind(now_ms)
    .bind(batch)
    .fetch_all(&db.write)
    .await
    .context("claiming receipt e-mails")?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let row: EmailRow = sqlx::query_as(&format!("SELECT {COLUMNS} FROM emails WHERE id = $1"))
            .bind(&id)
            .fetch_one(&db.write)
            .await
            .context("reading a claimed e-mail")?;
        claimed.push(row);
    }
    Ok(claimed)
}

/// How a try ended.
pub enum Outcome {
    /// The SMTP server took the message.
    Sent {
        /// The server's reply code (250).
        reply_code: Option<i64>,
    },
    /// Not sent on purpose: no SMTP server is configured (or none for the sandbox).
    Kept,
    /// Not sent; try again at `retry_at`, or give up when `None`.
    Failed {
        /// The server's reply code, when it answered.
        reply_code: Option<i64>,
        /// What went wrong, in words.
        error: String,
        /// When to try again; `None` gives up.
        retry_at: Option<i64>,
    },
}

/// Records a try of `email` (claimed by `worker`) and its outcome, if the worker still holds
/// its lease; `false` when another worker took it over meanwhile.
pub async fn record_try(
    db: &super::Db,
    email: &EmailRow,
    worker: &str,
    started_at: i64,
    now_ms: i64,
    outcome: &Outcome,
) -> anyhow::Result<bool> {
    let (status, next, error, sent_at, reply_code) = match outcome {
        Outcome::Sent { reply_code } => (
            "sent",
            email.next_attempt_at,
            None,
            Some(now_ms),
            *reply_code,
        ),
        Outcome::Kept => ("kept", email.next_attempt_at, None, None, None),
        Outcome::Failed {
            reply_code,
            error,
            retry_at: Some(at),
        } => ("pending", *at, Some(error.as_str()), None, *reply_code),
        Outcome::Failed {
            reply_code,
            error,
            retry_at: None,
        } => (
            "failed",
            email.next_attempt_at,
            Some(error.as_str()),
            None,
            *reply_code,
        ),
    };
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE emails SET status = $1, next_attempt_at = $2, last_error = $3, sent_at = $4,
             locked_until = NULL, locked_by = NULL, updated_at = $5
         WHERE id = $6 AND locked_by = $7 AND status = 'pending'",
    )
    .bind(status)
    .bind(next)
    .bind(error)
    .bind(sent_at)
    .bind(now_ms)
    .bind(&email.id)
    .bind(worker)
    .execute(&mut *tx)
    .await
    .context("recording an e-mail's outcome")?;
    if done.rows_affected() == 0 {
        tx.rollback().await.context("rolling back a lost e-mail")?;
        return Ok(false);
    }
    if !matches!(outcome, Outcome::Kept) {
        sqlx::query(
            "INSERT INTO email_attempts (id, email_id, attempt, started_at, duration_ms,
                 reply_code, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(format!("ema_{}", new_suffix()))
        .bind(&email.id)
        .bind(email.attempts)
        .bind(started_at)
        .bind(now_ms - started_at)
        .bind(reply_code)
        .bind(error)
        .execute(&mut *tx)
        .await
        .context("recording an e-mail attempt")?;
    }
    tx.commit()
        .await
        .context("committing an e-mail's outcome")?;
    Ok(true)
}

/// The e-mails of a payment, oldest first, each with its attempts.
pub async fn emails_of_payment(
    db: &super::Db,
    payment_id: &str,
) -> anyhow::Result<Vec<(EmailRow, Vec<EmailAttemptRow>)>> {
    let emails: Vec<EmailRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM emails WHERE payment_id = $1 ORDER BY created_at, id"
    ))
    .bind(payment_id)
    .fetch_all(&db.read)
    .await
    .context("reading a payment's e-mails")?;
    let mut all = Vec::with_capacity(emails.len());
    for email in emails {
        let attempts = sqlx::query_as(
            "SELECT attempt, started_at, duration_ms, reply_code, error FROM email_attempts
             WHERE email_id = $1 ORDER BY attempt",
        )
        .bind(&email.id)
        .fetch_all(&db.read)
        .await
        .context("reading an e-mail's attempts")?;
        all.push((email, attempts));
    }
    Ok(all)
}

/// One e-mail by id, if it is the merchant's in `environment`.
pub async fn get_email(
    db: &super::Db,
    merchant_id: &str,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<EmailRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM emails WHERE id = $1 AND merchant_id = $2 AND environment = $3"
    ))
    .bind(id)
    .bind(merchant_id)
    .bind(environment)
    .fetch_optional(&db.read)
    .await
    .context("reading an e-mail")
}
