//! `--since`: a duration back from now (`10m`, `2h 30m`, humantime) or an RFC 3339 time.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A clap value parser for `--since`.
pub fn parse_since(text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    match humantime::parse_duration(text) {
        Ok(ago) => Ok(OffsetDateTime::now_utc() - ago),
        Err(_) => Err(format!(
            "{text:?} is neither a duration (e.g. 10m, 1h30m) nor an RFC 3339 time (e.g. 2025-01-31T12:00:00Z)"
        )),
    }
}

/// RFC 3339 text of a time (UTC).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let ten_minutes_ago = parse_since("10m").expect("duration");
        let age = OffsetDateTime::now_utc() - ten_minutes_ago;
        assert!(age >= time::Duration::minutes(10) && age < time::Duration::minutes(11));
        let at = parse_since("2025-01-31T12:00:00Z").expect("time");
        assert_eq!(rfc3339(at), "2025-01-31T12:00:00Z");
        assert!(parse_since("yesterday").is_err());
    }
}
