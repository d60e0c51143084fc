//! The size of a message as NATS counts it, shared by what stages messages (the outbox, dead
//! letters) and what lists them (the set-aside entries).

use async_nats::HeaderMap;

/// What NATS counts against `max_payload` (async-nats' client check, the server's `HPUB`
/// size): the payload, plus — when there are headers — `NATS/1.0\r\n`, a `name: value\r\n`
/// line per value and a closing `\r\n`.
pub(crate) fn wire_size<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, payload: usize) -> usize {
    let mut headers = headers.into_iter().peekable();
    if headers.peek().is_none() {
        return payload;
    }
    let lines: usize = headers.map(|(name, value)| name.len() + value.len() + 4).sum();
    "NATS/1.0\r\n".len() + lines + "\r\n".len() + payload
}

/// A header map as (name, value) pairs, one per value.
pub(crate) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string(), value.as_str().to_owned()))
        })
        .collect()
}
