//! Whether each provider is answering: every call this instance makes to a provider (a
//! hand-off, a poll, a refund, a chain scan) counts as answered or failed. A provider whose
//! every call has failed for `ready_provider_failing_seconds` makes `/readyz` answer 503;
//! `/metrics` shows the same figures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::{
    CallbackError, CallbackRequest, NeedsBuyer, PollResult, Provider, ProviderEvent,
    ProviderPayment, RefundOutcome, RefundRequest, StartOutcome, StartRequest,
};

/// One provider's calls by this instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// Calls that got an answer.
    pub answered: u64,
    /// Calls that failed (no answer, or an error instead of one).
    pub failed: u64,
    /// Since when every call has failed (Unix ms); `None` while the last one was answered.
    pub failing_since: Option<i64>,
}

/// The calls of every provider this instance has called.
#[derive(Debug, Default)]
pub struct ProviderHealth {
    calls: Mutex<BTreeMap<String, Calls>>,
}

impl ProviderHealth {
    /// Counts one call to `provider` at `now_ms`.
    pub fn record(&self, provider: &str, answered: bool, now_ms: i64) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let entry = calls.entry(provider.to_owned()).or_default();
        if answered {
            entry.answered += 1;
            entry.failing_since = None;
        } else {
            entry.failed += 1;
            entry.failing_since.get_or_insert(now_ms);
        }
    }

    /// Every provider called so far, by id.
    pub fn snapshot(&self) -> BTreeMap<String, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A provider whose calls are counted in a [`ProviderHealth`].
pub struct Watched {
    inner: Arc<dyn Provider>,
    health: Arc<ProviderHealth>,
}

impl Watched {
    /// `inner`, its calls counted in `health`.
    pub fn new(inner: Arc<dyn Provider>, health: Arc<ProviderHealth>) -> Watched {
        Watched { inner, health }
    }

    fn count<T>(&self, result: &anyhow::Result<T>) {
        // A card payment started without the buyer's card is ours to finish, not a failure.
        let answered = match result {
            Ok(_) => true,
            Err(e) if e.downcast_ref::<NeedsBuyer>().is_some() => return,
            Err(_) => false,
        };
        self.health
            .record(self.inner.id(), answered, crate::domain::time::now_ms());
    }
}

impl Provider for Watched {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn start<'a>(
        &'a self,
        request: StartRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<StartOutcome>> {
        Box::pin(async move {
            let result = self.inner.start(request).await;
            self.count(&result);
            result
        })
    }

    fn parse_callback(
        &self,
        request: CallbackRequest<'_>,
        now_ms: i64,
    ) -> Result<Option<ProviderEvent>, CallbackError> {
        self.inner.parse_callback(request, now_ms)
    }

    fn acknowledges_replays(&self) -> bool {
        self.inner.acknowledges_replays()
    }

    fn poll<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let result = self.inner.poll(payment).await;
            self.count(&result);
            result
        })
    }

    fn refunds(&self) -> bool {
        self.inner.refunds()
    }

    fn refund_by_merchant<'a>(
        &'a self,
        payment: &'a ProviderPayment,
        refund_id: &'a crate::domain::RefundId,
        amount_cents: i64,
    ) -> BoxFuture<'a, anyhow::Result<Option<crate::domain::onchain::RefundTransfer>>> {
        self.inner
            .refund_by_merchant(payment, refund_id, amount_cents)
    }

    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        Box::pin(async move {
            let result = self.inner.refund(request).await;
            self.count(&result);
            result
        })
    }

    fn poll_refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        Box::pin(async move {
            let result = self.inner.poll_refund(request).await;
            self.count(&result);
            result
        })
    }

    fn cancel<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let result = self.inner.cancel(payment).await;
            self.count(&result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_since_is_the_first_failure_after_the_last_answer() {
        let health = ProviderHealth::default();
        health.record("stripe", false, 1_000);
        health.record("stripe", false, 2_000);
        let calls = health.snapshot()["stripe"];
        assert_eq!(calls.failing_since, Some(1_000));
        assert_eq!((calls.answered, calls.failed), (0, 2));
        health.record("stripe", true, 3_000);
        assert_eq!(health.snapshot()["stripe"].failing_since, None);
        health.record("stripe", false, 4_000);
        assert_eq!(health.snapshot()["stripe"].failing_since, Some(4_000));
    }
}
