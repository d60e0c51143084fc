//! Strict decoding of contract bodies (docs/contract.md, "Encoding"): every body is one
//! MessagePack map with named fields. `rmp_serde` alone is lenient — it reads a struct sent as
//! a positional array, a string sent as `bin`, and stops after the first value whatever
//! follows — so a body the contract forbids would be applied. [`decode`] refuses those, and
//! says which rule a body breaks and where.

mod path;
mod strict;
mod visit;

use std::io::{Cursor, ErrorKind};

use serde::de::DeserializeOwned;

use path::{Chain, Track};
use strict::{At, Strict};

/// A rule of the contract's encoding that a body breaks. [`Rule::as_str`] is also the
/// `Mandate-Dlq-Kind` of an event dead-lettered for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A struct encoded as an array (positional fields), or a map whose key is not a string.
    NotAMap,
    /// A string or a map key encoded as MessagePack `bin` instead of `str`.
    BinaryString,
    /// Bytes after the body's value.
    TrailingBytes,
    /// Not MessagePack, truncated, a value of the wrong type, a required field missing.
    Undecodable,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotAMap => "not-a-map",
            Rule::BinaryString => "binary-string",
            Rule::TrailingBytes => "trailing-bytes",
            Rule::Undecodable => "undecodable",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body was refused: the rule it breaks, where (`lines[0].sku`; empty for the top
/// level) and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    pub rule: Rule,
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.rule, self.message)
        } else {
            write!(f, "{} at {}: {}", self.rule, self.path, self.message)
        }
    }
}

/// Decodes one contract body as `T`, strictly (see the module's documentation). Unknown
/// fields are skipped, whatever they hold: additive changes are the versioning rule.
///
/// Costs little over `rmp_serde::from_slice`: the checks are a wrapper the compiler inlines,
/// and the path is only written out on failure. Read through a cursor, whose position says
/// whether anything follows the value (rmp_serde's borrowing reader cannot tell).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError {
            rule: Rule::Undecodable,
            path: String::new(),
            message: "an empty body: a body is a map, `{}` (0x80) when it has nothing to say".into(),
        });
    }
    let track = Track::default();
    let mut de = rmp_serde::Deserializer::new(Cursor::new(bytes));
    let root = Chain::Root;
    let decoded = T::deserialize(Strict {
        de: &mut de,
        at: At::value(&root, &track),
    });
    match decoded {
        Ok(value) if de.position() == bytes.len() as u64 => Ok(value),
        Ok(_) => Err(DecodeError {
            rule: Rule::TrailingBytes,
            path: String::new(),
            message: format!(
                "{} byte(s) after the body's MessagePack value",
                bytes.len() as u64 - de.position()
            ),
        }),
        Err(err) => Err(refusal(track, &err)),
    }
}

#[cold]
fn refusal(track: Track, err: &rmp_serde::decode::Error) -> DecodeError {
    use rmp_serde::decode::Error;
    let syntax = match err {
        Error::Syntax(message) => message.as_str(),
        _ => "",
    };
    let (path, violation) = track.finish(syntax);
    if let Some(violation) = violation {
        return DecodeError {
            rule: violation.rule,
            path,
            message: violation.message.to_owned(),
        };
    }
    let message = match err {
        Error::InvalidMarkerRead(e) | Error::InvalidDataRead(e) if e.kind() == ErrorKind::UnexpectedEof => {
            "truncated: the body ends inside a value".to_owned()
        }
        Error::TypeMismatch(marker) => format!("not MessagePack, or a value of the wrong type (found {marker:?})"),
        other => other.to_string(),
    };
    DecodeError {
        rule: Rule::Undecodable,
        path,
        message,
    }
}

#[cfg(test)]
mod tests;
