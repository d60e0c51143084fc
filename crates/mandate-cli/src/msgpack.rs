//! MessagePack ↔ JSON, the way every command shows and takes bodies.
//!
//! MessagePack → JSON ([`to_json`]):
//! - maps become objects; a key that is not a string becomes its JSON text (`1` → `"1"`);
//! - **binary** becomes a **base64 string** (standard alphabet, padded);
//! - extension values become `{"ext_type": <i8>, "data_base64": "..."}`;
//! - NaN and ±infinity become the strings `"NaN"`, `"inf"`, `"-inf"` (JSON has no such numbers);
//! - strings that are not valid UTF-8 are decoded lossily (U+FFFD).
//!
//! JSON → MessagePack ([`from_json`]) writes maps with named fields (`rmp_serde::to_vec_named`),
//! as docs/design.md §4 requires of every body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmpv::Value as Pack;
use serde_json::{Map, Number, Value};

/// Why bytes are not exactly one MessagePack value.
#[derive(Debug)]
pub enum DecodeError {
    Empty,
    Malformed(String),
    Trailing { used: usize, left: usize },
}

impl std::error::Error for DecodeError {}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("no input: expected one MessagePack value"),
            DecodeError::Malformed(reason) => write!(f, "not valid MessagePack: {reason}"),
            DecodeError::Trailing { used, left } => write!(
                f,
                "{left} byte(s) left after the first MessagePack value ({used} bytes): expected exactly one value"
            ),
        }
    }
}

/// Decodes exactly one MessagePack value (no trailing bytes) into JSON.
pub fn to_json(bytes: &[u8]) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let used = value_length(bytes)?;
    if used < bytes.len() {
        return Err(DecodeError::Trailing {
            used,
            left: bytes.len() - used,
        });
    }
    let mut cursor = bytes;
    let value = rmpv::decode::read_value(&mut cursor).map_err(|e| DecodeError::Malformed(describe(&e)))?;
    Ok(convert(value))
}

/// The length of the first MessagePack value in `bytes`, checking its structure on the way:
/// rmpv reads the never-used marker `0xc1` as nil, and a truncated value must be named as
/// such. Iterative (a count of values still to read), so nesting cannot overflow the stack.
fn value_length(bytes: &[u8]) -> Result<usize, DecodeError> {
    let truncated = || DecodeError::Malformed("the input ends in the middle of a value (truncated?)".to_owned());
    let mut at = 0usize;
    let mut pending: u64 = 1;
    let read_len = |at: &mut usize, width: usize| -> Result<u64, DecodeError> {
        let field = bytes.get(*at..*at + width).ok_or_else(truncated)?;
        *at += width;
        Ok(field.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    };
    while pending > 0 {
        pending -= 1;
        let marker = *bytes.get(at).ok_or_else(truncated)?;
        at += 1;
        // (payload bytes to skip, values contained)
        let (skip, children): (u64, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc1 => {
                return Err(DecodeError::Malformed(format!(
                    "byte 0x{marker:02x} at offset {} is not a MessagePack type (it is never used)",
                    at - 1
                )));
            }
            0xc4 | 0xd9 => (read_len(&mut at, 1)?, 0),
            0xc5 | 0xda => (read_len(&mut at, 2)?, 0),
            0xc6 | 0xdb => (read_len(&mut at, 4)?, 0),
            0xc7 => (read_len(&mut at, 1)? + 1, 0),
            0xc8 => (read_len(&mut at, 2)? + 1, 0),
            0xc9 => (read_len(&mut at, 4)? + 1, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, read_len(&mut at, 2)?),
            0xdd => (0, read_len(&mut at, 4)?),
            0xde => (0, 2 * read_len(&mut at, 2)?),
            0xdf => (0, 2 * read_len(&mut at, 4)?),
        };
        let skip = usize::try_from(skip).map_err(|_| truncated())?;
        if bytes.len() - at < skip {
            return Err(truncated());
        }
        at += skip;
        pending += children;
    }
    Ok(at)
}

fn describe(err: &rmpv::decode::Error) -> String {
    use rmpv::decode::Error;
    match err {
        Error::InvalidMarkerRead(e) | Error::InvalidDataRead(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the input ends in the middle of a value (truncated?)".to_owned()
        }
        Error::DepthLimitExceeded => "values nested too deeply".to_owned(),
        other => other.to_string(),
    }
}

fn convert(value: Pack) -> Value {
    match value {
        Pack::Nil => Value::Null,
        Pack::Boolean(b) => Value::Bool(b),
        Pack::Integer(i) => i
            .as_u64()
            .map(Number::from)
            .or_else(|| i.as_i64().map(Number::from))
            .map_or(Value::Null, Value::Number),
        Pack::F32(f) => float(f64::from(f)),
        Pack::F64(f) => float(f),
        Pack::String(s) => Value::String(text(s)),
        Pack::Binary(bytes) => Value::String(BASE64.encode(bytes)),
        Pack::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
        Pack::Map(entries) => {
            let mut object = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key {
                    Pack::String(s) => text(s),
                    other => convert(other).to_string(),
                };
                object.insert(key, convert(value));
            }
            Value::Object(object)
        }
        Pack::Ext(kind, data) => serde_json::json!({ "ext_type": kind, "data_base64": BASE64.encode(data) }),
    }
}

fn text(s: rmpv::Utf8String) -> String {
    if s.is_str() {
        s.into_str().unwrap_or_default()
    } else {
        String::from_utf8_lossy(&s.into_bytes()).into_owned()
    }
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

/// Encodes JSON as MessagePack, objects as maps with named fields.
pub fn from_json(value: &Value) -> anyhow::Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| anyhow::anyhow!("cannot encode the JSON as MessagePack: {e}"))
}

/// A body for display: decoded JSON, or (when it does not decode) the reason and the bytes.
pub fn body_fields(payload: &[u8], into: &mut Map<String, Value>) {
    if payload.is_empty() {
        into.insert("body".into(), Value::Null);
        return;
    }
    match to_json(payload) {
        Ok(body) => {
            into.insert("body".into(), body);
        }
        Err(err) => {
            into.insert("body".into(), Value::Null);
            into.insert("body_error".into(), Value::String(err.to_string()));
            into.insert("payload_base64".into(), Value::String(BASE64.encode(payload)));
        }
    }
}

pub fn base64_encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    BASE64.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_named_maps() {
        let value = json!({"order_id": "o-1", "lines": [{"sku": "a", "quantity": 2}], "total": -5, "big": u64::MAX, "ratio": 0.5, "none": null});
        let bytes = from_json(&value).expect("encodes");
        assert_eq!(bytes[0] & 0xf0, 0x80, "a fixmap, not a positional array");
        assert_eq!(to_json(&bytes).expect("decodes"), value);
    }

    #[test]
    fn binary_becomes_base64_and_odd_keys_become_strings() {
        let value = Pack::Map(vec![
            (Pack::from("data"), Pack::Binary(vec![0, 1, 2, 255])),
            (Pack::from(7), Pack::from(true)),
            (Pack::from("nan"), Pack::F64(f64::NAN)),
            (Pack::from("ext"), Pack::Ext(5, vec![1])),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &value).expect("encodes");
        assert_eq!(
            to_json(&bytes).expect("decodes"),
            json!({"data": "AAEC/w==", "7": true, "nan": "NaN", "ext": {"ext_type": 5, "data_base64": "AQ=="}})
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(to_json(b""), Err(DecodeError::Empty)));
        assert!(matches!(to_json(b"\xc1"), Err(DecodeError::Malformed(_))));
        // A map header promising 2^32-1 entries with none behind it.
        assert!(matches!(
            to_json(b"\xdf\xff\xff\xff\xff"),
            Err(DecodeError::Malformed(_))
        ));
        // A string header promising more bytes than there are.
        assert!(matches!(to_json(b"\xd9\x20abc"), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            to_json(b"\x01\x02"),
            Err(DecodeError::Trailing { used: 1, left: 1 })
        ));
        let deep = vec![0x91u8; 100_000];
        assert!(to_json(&deep).is_err());
    }
}
