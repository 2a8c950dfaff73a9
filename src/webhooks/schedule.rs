//! When to try a failed delivery again: immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h, 14 h, 20 h and 24 h (about three days in all), each with ±10 % jitter so that a
//! recovering endpoint is not hit by every retry at once. A `Retry-After` from the endpoint
//! postpones the next attempt, up to a bound.

/// Delay before attempt n+1 after attempt n failed (index 0: after the first attempt).
pub const DELAYS_SECONDS: &[i64] = &[5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// The most a `Retry-After` may postpone an attempt.
pub const MAX_RETRY_AFTER_SECONDS: i64 = 3_600;

/// How many attempts a delivery gets in all.
pub fn max_attempts() -> i64 {
    DELAYS_SECONDS.len() as i64 + 1
}

/// When to try again after the `attempt`-th attempt failed at `now_ms`; `None` when that was
/// the last. `jitter` is a number in [-1, 1]; `retry_after_seconds` what the endpoint asked.
pub fn next_attempt_at(
    attempt: i64,
    now_ms: i64,
    jitter: f64,
    retry_after_seconds: Option<i64>,
) -> Option<i64> {
    let index = usize::try_from(attempt - 1).ok()?;
    let base = *DELAYS_SECONDS.get(index)? * 1000;
    let jittered = base + (base as f64 * 0.1 * jitter.clamp(-1.0, 1.0)) as i64;
    let asked = retry_after_seconds.map_or(0, |s| s.clamp(0, MAX_RETRY_AFTER_SECONDS) * 1000);
    Some(now_ms + jittered.max(asked))
}

/// A uniformly random number in [-1, 1].
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured).
pub fn parse_retry_after(value: &str) -> Option<i64> {
    value.trim().parse::<i64>().ok().filter(|s| *s >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_ten_attempts_over_about_three_days() {
        assert_eq!(max_attempts(), 10);
        let total: i64 = DELAYS_SECONDS.iter().sum();
        assert!((2 * 86_400..4 * 86_400).contains(&total), "{total}");
        assert_eq!(next_attempt_at(1, 0, 0.0, None), Some(5_000));
        assert_eq!(next_attempt_at(2, 0, 0.0, None), Some(300_000));
        assert_eq!(next_attempt_at(9, 0, 0.0, None), Some(86_400_000));
        assert_eq!(next_attempt_at(10, 0, 0.0, None), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        assert_eq!(next_attempt_at(2, 0, 1.0, None), Some(330_000));
        assert_eq!(next_attempt_at(2, 0, -1.0, None), Some(270_000));
        for _ in 0..100 {
            let j = random_jitter();
            assert!((-1.0..=1.0).contains(&j));
        }
    }

    #[test]
    fn retry_after_postpones_up_to_an_hour() {
        assert_eq!(next_attempt_at(1, 0, 0.0, Some(60)), Some(60_000));
        assert_eq!(next_attempt_at(1, 0, 0.0, Some(2)), Some(5_000));
        assert_eq!(next_attempt_at(1, 0, 0.0, Some(1_000_000)), Some(3_600_000));
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
