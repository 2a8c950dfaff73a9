//! How fast one API key may call the merchant API: a token bucket per key, kept in this
//! process's memory. Each instance counts on its own, so with N instances a key may make up to
//! N times its rate; the checkout pages' card limits, which must hold across instances, are
//! counted in the database instead (see `db::card_declines`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What one request found of its key's bucket: whether it may go on, and the
/// `RateLimit-*` / `Retry-After` figures the answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may go on.
    pub allowed: bool,
    /// `RateLimit-Limit`: the burst, the most requests the key may make at once.
    pub limit: u32,
    /// `RateLimit-Remaining`: requests the key may still make at once after this one.
    pub remaining: u32,
    /// `RateLimit-Reset`: seconds until the bucket is full again.
    pub reset_seconds: u64,
    /// `Retry-After` when refused: seconds until one more request may go.
    pub retry_after_seconds: u64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of this instance, one per API key that has called it.
pub struct KeyLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl KeyLimiter {
    /// `rate` requests a second on average, `burst` at once; both at least 1.
    pub fn new(rate: u32, burst: u32) -> KeyLimiter {
        KeyLimiter {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket at `now`, if it holds one.
    pub fn take(&self, key: &str, now: Instant) -> Verdict {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let seconds = |tokens: f64| (tokens.max(0.0) / self.rate).ceil() as u64;
        Verdict {
            allowed,
            limit: self.burst as u32,
            remaining: bucket.tokens.floor() as u32,
            reset_seconds: seconds(self.burst - bucket.tokens),
            retry_after_seconds: if allowed {
                0
            } else {
                seconds(1.0 - bucket.tokens).max(1)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_key_gets_its_burst_then_its_rate_and_other_keys_are_not_touched() {
        let limiter = KeyLimiter::new(10, 20);
        let start = Instant::now();
        for n in 0..20 {
            let v = limiter.take("a", start);
            assert!(v.allowed, "request {n} of the burst");
            assert_eq!(v.remaining, 19 - n);
        }
        let refused = limiter.take("a", start);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.limit), (0, 20));
        assert_eq!(refused.retry_after_seconds, 1);
        assert_eq!(refused.reset_seconds, 2, "20 tokens at 10 a second");
        assert!(
            limiter.take("b", start).allowed,
            "another key has its own bucket"
        );
        // A tenth of a second later one request may go again, and only one.
        let later = start + Duration::from_millis(100);
        assert!(limiter.take("a", later).allowed);
        assert!(!limiter.take("a", later).allowed);
        // After a quiet moment the whole burst is back, never more.
        let quiet = start + Duration::from_secs(60);
        let v = limiter.take("a", quiet);
        assert!(v.allowed);
        assert_eq!(v.remaining, 19);
    }

    #[test]
    fn a_slow_rate_asks_for_a_longer_wait() {
        let limiter = KeyLimiter::new(1, 1);
        let now = Instant::now();
        assert!(limiter.take("k", now).allowed);
        let refused = limiter.take("k", now);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_seconds, 1);
        let half = now + Duration::from_millis(500);
        assert_eq!(limiter.take("k", half).retry_after_seconds, 1);
    }
}
