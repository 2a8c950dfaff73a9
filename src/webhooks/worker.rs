//! The delivery worker: a loop around one step, [`deliver_due`], which claims the deliveries
//! that are due, sends them concurrently, and records every attempt and its consequence in one
//! transaction. Tests drive the step directly with the time they choose.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::future::join_all;

use super::client::{is_forbidden_ip, literal_ip};
use super::schedule::{next_attempt_at, parse_retry_after, random_jitter};
use super::secret_box::signing_secrets;
use super::sign_header;
use crate::db::webhook_deliveries::{
    AttemptRecord, DueDelivery, NextStep, claim_due_deliveries, finish_attempt, insert_attempt,
};
use crate::db::webhook_endpoints::{disable_endpoint, record_endpoint_health};
use crate::domain::time::now_ms;
use crate::metrics::Metrics;
use crate::startup::AppState;

/// How much of an endpoint's answer is kept with the attempt.
const RESPONSE_SNIPPET_BYTES: usize = 2048;

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepSummary {
    pub claimed: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// What one attempt came to.
struct Attempt {
    delivery: DueDelivery,
    started_at: i64,
    duration_ms: i64,
    status_code: Option<u16>,
    response_body: Option<String>,
    error: Option<String>,
    retry_after: Option<i64>,
}

/// Claims, sends and records whatever is due at `now_ms`.
pub async fn deliver_due(
    state: &AppState,
    worker_id: &str,
    now_ms: i64,
) -> anyhow::Result<StepSummary> {
    let settings = &state.settings;
    let claimed = claim_due_deliveries(
        &state.db,
        worker_id,
        now_ms,
        settings.webhook_lease_seconds * 1000,
        settings.webhook_batch_size,
    )
    .await?;
    if claimed.is_empty() {
        return Ok(StepSummary::default());
    }
    let attempts = join_all(claimed.into_iter().map(|d| send(state, d))).await;
    let mut summary = StepSummary {
        claimed: attempts.len(),
        ..StepSummary::default()
    };
    let mut tx = state.db.begin().await?;
    for attempt in &attempts {
        if record(state, &mut tx, attempt, now_ms).await? {
            summary.succeeded += 1;
        } else {
            summary.failed += 1;
        }
    }
    tx.commit().await.context("recording delivery attempts")?;
    Metrics::add(
        &state.metrics.webhook_attempts_succeeded,
        summary.succeeded as u64,
    );
    Metrics::add(
        &state.metrics.webhook_attempts_failed,
        summary.failed as u64,
    );
    Ok(summary)
}

/// Sends one delivery. Never fails: every problem becomes the attempt's error.
async fn send(state: &AppState, delivery: DueDelivery) -> Attempt {
    let started_at = now_ms();
    let clock = Instant::now();
    let mut attempt = Attempt {
        delivery,
        started_at,
        duration_ms: 0,
        status_code: None,
        response_body: None,
        error: None,
        retry_after: None,
    };
    let d = &attempt.delivery;
    if d.endpoint_status != "active" {
        attempt.error = Some("the endpoint is disabled".into());
        return attempt;
    }
    if state.webhook_clients.public_only(&d.environment)
        && literal_ip(&d.url).is_some_and(is_forbidden_ip)
    {
        attempt.error = Some("refused: the endpoint's address is not public".into());
        return attempt;
    }
    let secrets = match signing_secrets(
        &state.settings.encryption,
        &d.endpoint_id,
        &d.secret,
        d.previous_secret.as_deref(),
        d.previous_secret_expires_at,
        started_at,
    ) {
        Ok(secrets) => secrets,
        Err(e) => {
            attempt.error = Some(format!("not sent: {e}"));
            return attempt;
        }
    };
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = sign_header(&secrets, started_at / 1000, d.payload.as_bytes());
    let request = state
        .webhook_clients
        .for_environment(&d.environment)
        .post(&d.url)
        .header("content-type", "application/json")
        .header("x-gateway-event", &d.event_id)
        .header("x-gateway-signature", signature)
        .body(d.payload.clone());
    match request.send().await {
        Ok(mut response) => {
            attempt.status_code = Some(response.status().as_u16());
            attempt.retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let mut body = Vec::new();
            while body.len() < RESPONSE_SNIPPET_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        attempt.error = Some(format!("reading the answer failed: {e}"));
                        break;
                    }
                }
            }
            body.truncate(RESPONSE_SNIPPET_BYTES);
            attempt.response_body = Some(String::from_utf8_lossy(&body).into_owned());
        }
        Err(e) => {
            attempt.error = Some(describe(&e));
        }
    }
    attempt.duration_ms = clock.elapsed().as_millis() as i64;
    attempt
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

/// Writes the attempt and what follows from it; `true` when delivered.
async fn record(
    state: &AppState,
    tx: &mut crate::db::Tx,
    a: &Attempt,
    now: i64,
) -> anyhow::Result<bool> {
    let d = &a.delivery;
    let status = a.status_code;
    let delivered = a.error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
    let gone = status == Some(410);
    let step = if delivered {
        NextStep::Succeeded
    } else if gone || d.endpoint_status != "active" {
        NextStep::GiveUp
    } else {
        match next_attempt_at(d.attempts, now, random_jitter(), a.retry_after) {
            Some(at) => NextStep::RetryAt(at),
            None => NextStep::GiveUp,
        }
    };
    let error = match (&a.error, status) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(s)) if !delivered => Some(format!("the endpoint answered {s}")),
        _ => None,
    };
    insert_attempt(
        &mut **tx,
        &AttemptRecord {
            delivery_id: d.id.clone(),
            event_id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            attempt: d.attempts,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: status.map(i64::from),
            response_body: a.response_body.clone(),
            error: error.clone(),
        },
    )
    .await?;
    finish_attempt(
        &mut **tx,
        &d.id,
        &step,
        status.map(i64::from),
        error.as_deref(),
        now,
    )
    .await?;
    if d.endpoint_status == "active" {
        record_endpoint_health(&mut **tx, &d.endpoint_id, delivered, now).await?;
        if gone {
            disable_endpoint(
                &mut **tx,
                &d.endpoint_id,
                "the endpoint answered 410 Gone",
                now,
            )
            .await?;
        } else if !delivered
            && d.failing_since.is_some_and(|since| {
                now - since >= state.settings.webhook_disable_after_seconds * 1000
            })
        {
            disable_endpoint(
                &mut **tx,
                &d.endpoint_id,
                "every delivery failed for days",
                now,
            )
            .await?;
        }
    }
    match &step {
        NextStep::Succeeded => {
            tracing::info!(event.id = %d.event_id, endpoint.id = %d.endpoint_id, attempt = d.attempts, "webhook delivered")
        }
        _ => {
            tracing::warn!(event.id = %d.event_id, endpoint.id = %d.endpoint_id, attempt = d.attempts, error = error.as_deref().unwrap_or(""), next = ?step, "webhook attempt failed")
        }
    }
    Ok(delivered)
}

/// Runs the worker until `stop` turns true, finishing the batch in hand first. Wakes at once
/// when this instance records an event, and polls for other instances' events otherwise.
pub async fn run(
    state: actix_web::web::Data<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let worker_id = format!(
        "wrk_{}",
        crate::domain::ids::random_token(12).unwrap_or_default()
    );
    let poll = Duration::from_millis(state.settings.webhook_poll_interval_ms);
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = match deliver_due(&state, &worker_id, now_ms()).await {
            Ok(summary) => summary.claimed > 0,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "webhook worker step failed; will retry"
                );
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = state.webhook_wakeup.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
