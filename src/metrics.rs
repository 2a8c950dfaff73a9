//! What this instance counts, for `GET /metrics` (`routes::api::metrics`): HTTP responses by
//! status class, sessions created, webhook attempts. Plain counters, shared through an `Arc`
//! by the request middleware, the handlers and the webhook worker.

use std::sync::atomic::{AtomicU64, Ordering};

/// What this instance counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP responses by status class: 2xx, 3xx, 4xx, 5xx.
    responses: [AtomicU64; 4],
    pub sessions_created: AtomicU64,
    pub webhook_attempts_succeeded: AtomicU64,
    pub webhook_attempts_failed: AtomicU64,
    /// JSON-RPC calls the chain scanners made.
    pub onchain_rpc_calls: AtomicU64,
    /// Chain scan steps that failed (and were retried after a pause).
    pub onchain_scan_failures: AtomicU64,
    /// Provider answers that named another amount or currency than the payment asked.
    pub provider_amount_mismatches: AtomicU64,
    /// API requests refused because their key was over its rate.
    pub api_rate_limited: AtomicU64,
    /// Card forms refused because the session had too many declined cards.
    pub cards_refused_session: AtomicU64,
    /// Card forms refused because the client address had too many declined cards this hour.
    pub cards_refused_address: AtomicU64,
}

impl Metrics {
    /// Counts one response of `status`.
    pub fn count_response(&self, status: u16) {
        if let Some(slot) = (status / 100)
            .checked_sub(2)
            .and_then(|i| self.responses.get(usize::from(i)))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Responses counted so far, as (status class, count).
    pub fn responses(&self) -> [(&'static str, u64); 4] {
        let count = |i: usize| self.responses[i].load(Ordering::Relaxed);
        [
            ("2xx", count(0)),
            ("3xx", count(1)),
            ("4xx", count(2)),
            ("5xx", count(3)),
        ]
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
