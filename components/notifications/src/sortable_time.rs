//! Times as keys: RFC 3339 strings do not sort as text (`…:00Z` sorts after `…:00.5Z`,
//! and `+02:00` offsets sort by local time), so keys use one fixed-width UTC form.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `2026-03-01T12:00:00+02:00` → `2026-03-01T10:00:00.000000000Z`, or `None` when the text
/// is not an RFC 3339 time.
pub(crate) fn sortable(rfc3339: &str) -> Option<String> {
    let utc = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?.to_offset(UtcOffset::UTC);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.nanosecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::sortable;

    #[test]
    fn sortable_times_sort_as_the_times_do() {
        let times = [
            "2026-03-01T09:59:59.999Z",
            "2026-03-01T12:00:00+02:00",
            "2026-03-01T10:00:00.5Z",
            "2026-03-01T10:00:01Z",
        ];
        let keys: Vec<String> = times.iter().map(|t| sortable(t).expect("parses")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys[1], "2026-03-01T10:00:00.000000000Z");
        assert_eq!(sortable("yesterday"), None);
    }
}
