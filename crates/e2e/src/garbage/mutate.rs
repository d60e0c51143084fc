//! One defect each, made to a right MessagePack body (a map with string keys). `None` when a
//! body offers no place for the defect (no nested struct, no string value...).

use rand::Rng;
use rand::rngs::StdRng;
use rmpv::Value;

/// The byte MessagePack never uses: a body starting with it is not MessagePack at all,
/// whatever follows.
pub const NEVER_USED: u8 = 0xc1;

pub fn encode(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, value).expect("writing to a Vec cannot fail");
    bytes
}

fn fields_mut(body: &mut Value) -> Option<&mut Vec<(Value, Value)>> {
    match body {
        Value::Map(fields) => Some(fields),
        _ => None,
    }
}

fn entries(body: &Value) -> &[(Value, Value)] {
    body.as_map().map_or(&[], Vec::as_slice)
}

/// The struct in field order as a positional array (what `rmp_serde::to_vec` writes).
pub fn positional(body: &Value) -> Option<Vec<u8>> {
    let values = entries(body).iter().map(|(_, v)| v.clone()).collect();
    Some(encode(&Value::Array(values)))
}

/// The first nested struct (a map field, or the first map in an array field) as a
/// positional array; the top level stays a map.
pub fn positional_nested(body: &Value) -> Option<Vec<u8>> {
    let mut body = body.clone();
    let fields = fields_mut(&mut body)?;
    for (_, value) in fields.iter_mut() {
        let nested: Option<&mut Value> = if value.is_map() {
            Some(value)
        } else if let Value::Array(items) = value {
            items.iter_mut().find(|item| item.is_map())
        } else {
            None
        };
        if let Some(nested) = nested {
            let values = entries(nested).iter().map(|(_, v)| v.clone()).collect();
            *nested = Value::Array(values);
            return Some(encode(&body));
        }
    }
    None
}

/// A right body followed by 1 to 16 more bytes.
pub fn trailing(body: &Value, rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut bytes = encode(body);
    let extra = rng.random_range(1..=16);
    bytes.extend((0..extra).map(|_| rng.random::<u8>()));
    Some(bytes)
}

/// One key encoded as MessagePack `bin` instead of `str`.
pub fn binary_key(body: &Value, rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut body = body.clone();
    let fields = fields_mut(&mut body)?;
    let index = rng.random_range(0..fields.len().max(1));
    let (key, _) = fields.get_mut(index)?;
    *key = Value::Binary(key.as_str()?.as_bytes().to_vec());
    Some(encode(&body))
}

/// One string value encoded as `bin`.
pub fn binary_value(body: &Value, rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut body = body.clone();
    let fields = fields_mut(&mut body)?;
    let strings: Vec<usize> = (0..fields.len()).filter(|&i| fields[i].1.is_str()).collect();
    let index = *strings.get(rng.random_range(0..strings.len().max(1)))?;
    let value = &mut fields[index].1;
    *value = Value::Binary(value.as_str()?.as_bytes().to_vec());
    Some(encode(&body))
}

/// One field given a value of another type (a string for a number, a number for a string...).
pub fn wrong_type(body: &Value, rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut body = body.clone();
    let fields = fields_mut(&mut body)?;
    let index = rng.random_range(0..fields.len().max(1));
    let (_, value) = fields.get_mut(index)?;
    *value = match value {
        Value::String(_) => Value::from(42),
        Value::Integer(_) | Value::F32(_) | Value::F64(_) => Value::from("42"),
        Value::Map(_) | Value::Array(_) => Value::from("not a list"),
        _ => Value::from(vec![Value::from(1)]),
    };
    Some(encode(&body))
}

/// One field the contract requires, left out.
pub fn missing_field(body: &Value, required: &[String], rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut body = body.clone();
    let fields = fields_mut(&mut body)?;
    let present: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].0.as_str().is_some_and(|k| required.iter().any(|r| r == k)))
        .collect();
    let index = *present.get(rng.random_range(0..present.len().max(1)))?;
    fields.remove(index);
    Some(encode(&body))
}

/// A right body cut short (at least one byte kept, at least one missing).
pub fn truncated(body: &Value, rng: &mut StdRng) -> Option<Vec<u8>> {
    let mut bytes = encode(body);
    if bytes.len() < 2 {
        return None;
    }
    bytes.truncate(rng.random_range(1..bytes.len()));
    Some(bytes)
}

/// 1 to 256 random bytes that are not MessagePack (they start with [`NEVER_USED`]).
pub fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(1..=256);
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    bytes[0] = NEVER_USED;
    bytes
}

/// `len` bytes that are not MessagePack: a body as large as the server allows, which no
/// decoder can read — and whose dead letter, with the body, would not fit.
pub fn oversized(len: usize, rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = vec![0u8; len.max(1)];
    rng.fill(&mut bytes[..]);
    bytes[0] = NEVER_USED;
    bytes
}
