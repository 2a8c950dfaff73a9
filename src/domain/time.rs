//! Timestamps: stored as integer Unix milliseconds, shown as ISO 8601 UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-05-24T17:37:00Z`: REST objects carry whole seconds.
pub fn iso_seconds(ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    dt.format(&Rfc3339).unwrap_or_default()
}

/// `2026-05-24T17:37:00.000Z`: webhook payloads carry milliseconds.
pub fn iso_millis(ms: i64) -> String {
    let base = iso_seconds(ms);
    match base.strip_suffix('Z') {
        Some(head) => format!("{head}.{:03}Z", ms.rem_euclid(1000)),
        None => base,
    }
}

/// Parses an RFC 3339 timestamp into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|dt| (dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A duration in the largest whole unit it is made of: `3 days`, `1 hour`, `90 seconds`.
pub fn duration_in_words(seconds: i64) -> String {
    let (count, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(unit, _)| seconds != 0 && seconds % unit == 0)
        .map_or((seconds, "second"), |(size, name)| (seconds / size, name));
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(duration_in_words(3 * 86_400), "3 days");
        assert_eq!(duration_in_words(86_400), "1 day");
        assert_eq!(duration_in_words(7_200), "2 hours");
        assert_eq!(duration_in_words(90_000), "25 hours");
        assert_eq!(duration_in_words(90), "90 seconds");
        assert_eq!(duration_in_words(0), "0 seconds");
    }

    #[test]
    fn formats_both_precisions() {
        assert_eq!(iso_seconds(1_779_900_000_123), "2026-05-27T16:40:00Z");
        assert_eq!(iso_millis(1_779_900_000_123), "2026-05-27T16:40:00.123Z");
        assert_eq!(
            parse_rfc3339_ms("2026-05-27T16:40:00.123Z"),
            Some(1_779_900_000_123)
        );
    }
}
