//! The outbox: an event is written in the transaction of the state change it reports, and with
//! it one pending delivery for every endpoint subscribed to it. So an event exists, and is owed
//! to every such endpoint, if and only if its change was committed; the webhook worker sends
//! what is owed. Redelivery queues an event again the same way.

use anyhow::Context;
use tokio::sync::Notify;

use crate::db::emails::queue_for_event;
use crate::db::events::{EventRow, events_since, insert_event};
use crate::db::webhook_deliveries::{fan_out_event, requeue_deliveries};
use crate::db::{Db, Tx};
use crate::domain::time::now_ms;
use crate::domain::{Environment, MerchantId};

/// Writes an event and queues its webhook deliveries and the receipt e-mails it owes, in the
/// caller's transaction. An event written before (the same step run twice) is left alone: its
/// id is derived from the step.
pub async fn record_event(tx: &mut Tx, event: &EventRow) -> anyhow::Result<()> {
    if insert_event(&mut **tx, event).await? {
        fan_out_event(&mut **tx, event).await?;
        queue_for_event(tx, event).await?;
    }
    Ok(())
}

/// Commits a transaction that may have recorded events, and wakes this instance's webhook
/// worker to send them (other instances' workers find them when they next look).
pub async fn commit_and_wake(tx: Tx, wakeup: &Notify, what: &'static str) -> anyhow::Result<()> {
    tx.commit().await.context(what)?;
    wakeup.notify_one();
    Ok(())
}

/// Queues the event again for every endpoint that should have it: its finished deliveries go
/// back to pending, and active endpoints subscribed since get one. Returns how many.
pub async fn redeliver_event(tx: &mut Tx, event: &EventRow, now_ms: i64) -> anyhow::Result<u64> {
    let requeued = requeue_deliveries(&mut **tx, &event.id, now_ms).await?;
    let fresh = EventRow {
        created_at: now_ms,
        ..event.clone()
    };
    let added = fan_out_event(&mut **tx, &fresh).await?;
    Ok(requeued + added)
}

/// Queues every event of the merchant since `since_ms` again, in one transaction, and wakes
/// the worker; returns (events, deliveries).
pub async fn redeliver_since(
    db: &Db,
    wakeup: &Notify,
    merchant_id: &MerchantId,
    environment: Environment,
    since_ms: i64,
) -> anyhow::Result<(usize, u64)> {
    let events = events_since(&db.read, merchant_id, environment, since_ms).await?;
    let mut tx = db.begin().await?;
    let mut queued = 0;
    for event in &events {
        queued += redeliver_event(&mut tx, event, now_ms()).await?;
    }
    commit_and_wake(tx, wakeup, "committing a redelivery").await?;
    Ok((events.len(), queued))
}
