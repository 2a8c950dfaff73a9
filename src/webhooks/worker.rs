//! The delivery worker. [`run`] keeps up to `webhook_batch_size` attempts in flight, each
//! independent of the others: it claims due deliveries whenever it has room (at most
//! `webhook_endpoint_concurrency` of one endpoint), records each attempt as soon as it
//! finishes (the attempts that finished together in one transaction), and renews its leases
//! while attempts last, so leases can stay short and a dead worker's deliveries are taken over
//! within seconds. A hung endpoint therefore costs only its own deliveries. [`deliver_due`] is
//! the same work as one step, which tests drive with the time they choose.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::future::join_all;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::client::{WebhookClients, is_forbidden_ip, literal_ip};
use super::schedule::{next_attempt_at, parse_retry_after, random_jitter};
use super::secrets::signing_secrets;
use super::sign_header;
use crate::config::Settings;
use crate::db::Db;
use crate::db::webhook_deliveries::{
    AttemptRecord, DueDelivery, NextStep, claim_due_deliveries, finish_attempt, insert_attempt,
    renew_leases,
};
use crate::db::webhook_endpoints::{disable_endpoint, record_endpoint_health};
use crate::domain::EndpointStatus;
use crate::domain::time::{duration_in_words, now_ms};
use crate::metrics::Metrics;

/// What the worker works with, and nothing more (the handlers' state is not its business).
#[derive(Clone)]
pub struct WorkerContext {
    /// Where deliveries are claimed and attempts recorded.
    pub db: Db,
    /// Batch size, leases, concurrency per endpoint, the keys that open stored secrets, and
    /// when to disable a failing endpoint.
    pub settings: Arc<Settings>,
    /// The HTTP clients that send the deliveries.
    pub clients: WebhookClients,
    /// Counts attempts that succeeded and failed.
    pub metrics: Arc<Metrics>,
    /// Notified when this instance records an event.
    pub wakeup: Arc<Notify>,
}

/// How much of an endpoint's answer is kept with the attempt.
const RESPONSE_SNIPPET_BYTES: usize = 2048;

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepSummary {
    /// Deliveries claimed and attempted.
    pub claimed: usize,
    /// Attempts an endpoint answered with a 2xx.
    pub succeeded: usize,
    /// Attempts that did not succeed (retried later or given up on).
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

/// Claims up to `limit` due deliveries at `now_ms` for `worker_id`.
async fn claim(
    ctx: &WorkerContext,
    worker_id: &str,
    now_ms: i64,
    limit: i64,
) -> anyhow::Result<Vec<DueDelivery>> {
    let settings = &ctx.settings;
    claim_due_deliveries(
        &ctx.db,
        worker_id,
        now_ms,
        settings.webhook_lease_seconds * 1000,
        limit,
        settings.webhook_endpoint_concurrency,
    )
    .await
}

/// Claims, sends and records whatever is due at `now_ms`: each attempt is recorded as soon
/// as it finishes, whatever the others are doing.
#[tracing::instrument(skip_all, fields(worker.id = %worker_id))]
pub async fn deliver_due(
    ctx: &WorkerContext,
    worker_id: &str,
    now_ms: i64,
) -> anyhow::Result<StepSummary> {
    let claimed = claim(ctx, worker_id, now_ms, ctx.settings.webhook_batch_size).await?;
    let results = join_all(claimed.into_iter().map(|d| async move {
        let attempt = send(ctx, d).await;
        record_all(ctx, worker_id, &[attempt], now_ms).await
    }))
    .await;
    let mut summary = StepSummary::default();
    for result in results {
        let (succeeded, failed) = result?;
        summary.claimed += succeeded + failed;
        summary.succeeded += succeeded;
        summary.failed += failed;
    }
    Ok(summary)
}

/// Records attempts that finished, in one transaction; (delivered, failed).
async fn record_all(
    ctx: &WorkerContext,
    worker_id: &str,
    attempts: &[Attempt],
    now: i64,
) -> anyhow::Result<(usize, usize)> {
    let (mut succeeded, mut failed) = (0, 0);
    let mut tx = ctx.db.begin().await?;
    for attempt in attempts {
        if record(ctx, &mut tx, worker_id, attempt, now).await? {
            succeeded += 1;
        } else {
            failed += 1;
        }
    }
    tx.commit().await.context("recording delivery attempts")?;
    Metrics::add(&ctx.metrics.webhook_attempts_succeeded, succeeded as u64);
    Metrics::add(&ctx.metrics.webhook_attempts_failed, failed as u64);
    Ok((succeeded, failed))
}

/// Sends one delivery. Never fails: every problem becomes the attempt's error.
#[tracing::instrument(skip_all, fields(delivery.id = %delivery.id, event.id = %delivery.event_id, endpoint.id = %delivery.endpoint_id))]
async fn send(ctx: &WorkerContext, delivery: DueDelivery) -> Attempt {
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
    if d.endpoint_status != EndpointStatus::Active {
        attempt.error = Some("the endpoint is disabled".into());
        return attempt;
    }
    if ctx.clients.public_only(d.environment) && literal_ip(&d.url).is_some_and(is_forbidden_ip) {
        attempt.error = Some("refused: the endpoint's address is not public".into());
        return attempt;
    }
    let secrets = match signing_secrets(
        &ctx.settings.encryption,
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
    let request = ctx
        .clients
        .for_environment(d.environment)
        .post(&d.url)
        .header("content-type", "application/json")
        .header("x-gateway-event", d.event_id.as_str())
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

/// A failed request in words, with its causes (an address refused by the rules says why).
pub fn describe(e: &reqwest::Error) -> String {
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

/// What follows from an attempt: decided from the attempt alone, so it can be tested alone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    /// A 2xx answer, with the body read to the end.
    delivered: bool,
    /// What happens to the delivery.
    step: NextStep,
    /// What went wrong, as recorded with the attempt.
    error: Option<String>,
    /// Whether to record how the endpoint is doing: only while it is active.
    track_health: bool,
    /// Why the endpoint is disabled now, if it is.
    disable: Option<String>,
}

/// Decides what follows `a` at `now`: delivered, tried again (with `jitter` in [-1, 1] on the
/// schedule, or when the endpoint's `Retry-After` asks), or given up; and whether the endpoint
/// is disabled (it answered 410, or it has failed for `disable_after_seconds`).
fn decide(a: &Attempt, now: i64, jitter: f64, disable_after_seconds: i64) -> Decision {
    let d = &a.delivery;
    let status = a.status_code;
    let delivered = a.error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
    let gone = status == Some(410);
    let active = d.endpoint_status == EndpointStatus::Active;
    let step = if delivered {
        NextStep::Succeeded
    } else if gone || !active {
        NextStep::GiveUp
    } else {
        match next_attempt_at(d.attempts, now, jitter, a.retry_after) {
            Some(at) => NextStep::RetryAt(at),
            None => NextStep::GiveUp,
        }
    };
    let error = match (&a.error, status) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(s)) if !delivered => Some(format!("the endpoint answered {s}")),
        _ => None,
    };
    let failing_too_long = !delivered
        && d.failing_since
            .is_some_and(|since| now - since >= disable_after_seconds * 1000);
    let disable = match (active, gone, failing_too_long) {
        (false, _, _) => None,
        (true, true, _) => Some("the endpoint answered 410 Gone".to_owned()),
        (true, false, true) => Some(format!(
            "every delivery failed for {}",
            duration_in_words(disable_after_seconds)
        )),
        (true, false, false) => None,
    };
    Decision {
        delivered,
        step,
        error,
        track_health: active,
        disable,
    }
}

/// Writes the attempt and what follows from it; `true` when delivered.
async fn record(
    ctx: &WorkerContext,
    tx: &mut crate::db::Tx,
    worker_id: &str,
    a: &Attempt,
    now: i64,
) -> anyhow::Result<bool> {
    let d = &a.delivery;
    let status = a.status_code.map(i64::from);
    let decision = decide(
        a,
        now,
        random_jitter(),
        ctx.settings.webhook_disable_after_seconds,
    );
    insert_attempt(
        &mut **tx,
        &AttemptRecord {
            delivery_id: d.id.clone(),
            event_id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            attempt: d.attempts,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: status,
            response_body: a.response_body.clone(),
            error: decision.error.clone(),
        },
    )
    .await?;
    finish_attempt(
        &mut **tx,
        worker_id,
        &d.id,
        &decision.step,
        status,
        decision.error.as_deref(),
        now,
    )
    .await?;
    if decision.track_health {
        record_endpoint_health(&mut **tx, &d.endpoint_id, decision.delivered, now).await?;
    }
    if let Some(reason) = &decision.disable {
        disable_endpoint(&mut **tx, &d.endpoint_id, reason, now).await?;
    }
    match &decision.step {
        NextStep::Succeeded => {
            tracing::info!(event.id = %d.event_id, endpoint.id = %d.endpoint_id, attempt = d.attempts, "webhook delivered")
        }
        step => {
            tracing::warn!(event.id = %d.event_id, endpoint.id = %d.endpoint_id, attempt = d.attempts, error.cause = decision.error.as_deref().unwrap_or(""), next = ?step, "webhook attempt failed")
        }
    }
    Ok(decision.delivered)
}

/// Runs the worker until `stop` turns true, then finishes and records the attempts in hand.
/// Wakes at once when this instance records an event, and polls for other instances' events
/// otherwise.
pub async fn run(ctx: WorkerContext, mut stop: tokio::sync::watch::Receiver<bool>) {
    let ctx = Arc::new(ctx);
    let worker_id = format!(
        "wrk_{}",
        crate::domain::ids::random_token(12).unwrap_or_default()
    );
    let settings = &ctx.settings;
    let poll = Duration::from_millis(settings.webhook_poll_interval_ms);
    let lease_ms = settings.webhook_lease_seconds * 1000;
    let mut renew = tokio::time::interval(Duration::from_millis((lease_ms / 3).max(100) as u64));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sending: JoinSet<Attempt> = JoinSet::new();
    let mut stopping = false;
    let mut next_poll = Instant::now();
    loop {
        stopping = stopping || *stop.borrow();
        if stopping && sending.is_empty() {
            return;
        }
        let room = settings.webhook_batch_size - sending.len() as i64;
        if !stopping && room > 0 && Instant::now() >= next_poll {
            match claim(&ctx, &worker_id, now_ms(), room).await {
                Ok(claimed) => {
                    // A full claim may have left more behind: look again at once.
                    let full = claimed.len() as i64 == room;
                    for delivery in claimed {
                        let ctx = ctx.clone();
                        sending.spawn(async move { send(&ctx, delivery).await });
                    }
                    if !full {
                        next_poll = Instant::now() + poll;
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        error.cause = format!("{e:#}"),
                        "claiming webhook deliveries failed; will retry"
                    );
                    next_poll = Instant::now() + poll;
                }
            }
        }
        tokio::select! {
            Some(first) = sending.join_next(), if !sending.is_empty() => {
                let mut finished = Vec::new();
                finished.extend(first.ok());
                while let Some(more) = sending.try_join_next() {
                    finished.extend(more.ok());
                }
                if let Err(e) = record_all(&ctx, &worker_id, &finished, now_ms()).await {
                    tracing::warn!(error.cause = format!("{e:#}"), "recording webhook attempts failed; their leases will run out and they will be retried");
                }
            }
            _ = ctx.wakeup.notified(), if !stopping => next_poll = Instant::now(),
            _ = tokio::time::sleep_until(next_poll.into()), if !stopping && room > 0 => {}
            _ = renew.tick(), if !sending.is_empty() => {
                let now = now_ms();
                if let Err(e) = renew_leases(&ctx.db, &worker_id, now, now + lease_ms).await {
                    // Past its lease another worker may send the same delivery: stop ours.
                    tracing::warn!(error.cause = format!("{e:#}"), in_flight = sending.len(), "renewing webhook leases failed; abandoning the attempts in flight");
                    sending.abort_all();
                }
            }
            _ = stop.changed(), if !stopping => stopping = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeliveryId, Environment, EventId, WebhookEndpointId};

    const DAY_MS: i64 = 86_400_000;

    fn attempt(status: Option<u16>, attempts: i64, failing_since: Option<i64>) -> Attempt {
        Attempt {
            delivery: DueDelivery {
                id: DeliveryId::generate(),
                event_id: EventId::generate(),
                endpoint_id: WebhookEndpointId::generate(),
                attempts,
                payload: "{}".into(),
                url: "https://merchant.example/hooks".into(),
                environment: Environment::Sandbox,
                endpoint_status: EndpointStatus::Active,
                secret: "whsec_x".into(),
                previous_secret: None,
                previous_secret_expires_at: None,
                failing_since,
                created_at: 0,
            },
            started_at: 0,
            duration_ms: 5,
            status_code: status,
            response_body: None,
            error: None,
            retry_after: None,
        }
    }

    #[test]
    fn a_2xx_is_delivered_and_ends_a_failing_run() {
        let d = decide(&attempt(Some(204), 1, Some(0)), DAY_MS, 0.0, 3 * 86_400);
        assert_eq!(
            (d.delivered, d.step, d.error, d.disable),
            (true, NextStep::Succeeded, None, None)
        );
        assert!(d.track_health);
    }

    #[test]
    fn a_failure_is_tried_again_on_the_schedule_until_the_last_attempt() {
        let d = decide(&attempt(Some(500), 1, None), 1_000, 0.0, 3 * 86_400);
        assert_eq!(d.step, NextStep::RetryAt(6_000));
        assert_eq!(d.error.as_deref(), Some("the endpoint answered 500"));
        assert_eq!(d.disable, None);
        let last = decide(&attempt(Some(500), 10, None), 1_000, 0.0, 3 * 86_400);
        assert_eq!(last.step, NextStep::GiveUp);
    }

    #[test]
    fn a_410_gives_up_and_disables_the_endpoint() {
        let d = decide(&attempt(Some(410), 1, None), 1_000, 0.0, 3 * 86_400);
        assert_eq!(d.step, NextStep::GiveUp);
        assert_eq!(d.disable.as_deref(), Some("the endpoint answered 410 Gone"));
    }

    #[test]
    fn an_endpoint_failing_for_the_configured_time_is_disabled_saying_how_long() {
        let window = 2 * 3_600;
        let young = decide(
            &attempt(Some(500), 3, Some(0)),
            window * 1000 - 1,
            0.0,
            window,
        );
        assert_eq!(young.disable, None);
        let old = decide(&attempt(Some(500), 3, Some(0)), window * 1000, 0.0, window);
        assert_eq!(
            old.disable.as_deref(),
            Some("every delivery failed for 2 hours")
        );
        assert!(matches!(old.step, NextStep::RetryAt(_)));
    }

    #[test]
    fn a_disabled_endpoint_gets_no_more_attempts_and_no_health_record() {
        let mut a = attempt(None, 1, Some(0));
        a.delivery.endpoint_status = EndpointStatus::Disabled;
        a.error = Some("the endpoint is disabled".into());
        let d = decide(&a, 10 * DAY_MS, 0.0, 3 * 86_400);
        assert_eq!(d.step, NextStep::GiveUp);
        assert_eq!((d.track_health, d.disable), (false, None));
        assert_eq!(d.error.as_deref(), Some("the endpoint is disabled"));
    }
}
