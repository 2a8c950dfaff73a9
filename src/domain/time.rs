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

#[cfg(test)]
mod tests {
    use super::*;

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
