//! Timestamp encodings of the state JSON: most collections carry Unix milliseconds; PBS,
//! PMG, disks, backups and alerts carry RFC3339 strings, with Go's zero time for "unset".

use serde::Serializer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the reference emits for an unset timestamp; clients compare against it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats Unix milliseconds as RFC3339 in UTC (`Z`); 0 → `ZERO_TIME`.
pub fn rfc3339_ms(ms: i64) -> String {
    if ms == 0 {
        return ZERO_TIME.to_string();
    }
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

/// `#[serde(serialize_with = "rfc3339")]` for an `i64` holding Unix milliseconds.
pub fn rfc3339<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_ms(*ms))
}

/// As `rfc3339`, for optional timestamps (callers skip `None`).
pub fn rfc3339_opt<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_ms(ms.unwrap_or(0)))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339_ms(0), ZERO_TIME);
        assert_eq!(rfc3339_ms(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
