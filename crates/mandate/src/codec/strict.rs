//! A `serde::Deserializer` around rmp_serde's that passes every request on, wrapping the
//! visitor (visit.rs) so that what rmp_serde finds is checked against what the type asked
//! for — and so on at every depth, through the wrapped seq, map, enum and option accesses.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, Visitor};

use super::path::{Chain, Track};
use super::visit::{Expect, Wrap};

/// What the value being decoded is to the map or enum around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    /// A value: the top level, a field's value, an element.
    Value,
    /// A map key (a struct's field name): must be a `str`.
    Key,
    /// The name of an enumeration value: must be a `str`.
    Variant,
}

/// Where a value sits, and what to report to.
#[derive(Debug)]
pub(super) struct At<'a, 'de> {
    pub chain: &'a Chain<'a>,
    pub track: &'a Track,
    pub position: Position,
    /// For a key: where to keep its text, so that the path can name the field whose value
    /// fails. Borrowed from the input, so no allocation.
    pub key: Option<&'a mut Option<Cow<'de, str>>>,
}

impl<'a> At<'a, '_> {
    #[inline]
    pub fn value(chain: &'a Chain<'a>, track: &'a Track) -> Self {
        At {
            chain,
            track,
            position: Position::Value,
            key: None,
        }
    }
}

/// The strict deserializer: `de` does the reading, the wrapped visitor the checking.
pub(super) struct Strict<'a, 'de, D> {
    pub de: D,
    pub at: At<'a, 'de>,
}

/// A seed (what seq, map and enum accesses hand out) that deserializes through [`Strict`].
pub(super) struct StrictSeed<'a, 'de, S> {
    pub seed: S,
    pub at: At<'a, 'de>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<'_, 'de, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict { de, at: self.at })
    }
}

/// Each method passes the request on with the visitor wrapped, expecting `$expect`, and on
/// failure notes the place. `#[inline]` throughout this module and visit.rs: without it the
/// wrappers cost ~3× more (measured on a 100-byte body: ~+300 ns against ~+100 ns over plain
/// rmp_serde), and this runs for every event.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) => $expect:expr;)*) => {
        $(
            #[inline]
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                let Strict { de, at } = self;
                let (chain, track) = (at.chain, at.track);
                let result = de.$method($($arg,)* Wrap::new(visitor, at, $expect));
                if result.is_err() {
                    track.failed_at(chain);
                }
                result
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'_, 'de, D> {
    type Error = D::Error;

    forward! {
        deserialize_any() => Expect::Any;
        deserialize_bool() => Expect::Other;
        deserialize_i8() => Expect::Other;
        deserialize_i16() => Expect::Other;
        deserialize_i32() => Expect::Other;
        deserialize_i64() => Expect::Other;
        deserialize_i128() => Expect::Other;
        deserialize_u8() => Expect::Other;
        deserialize_u16() => Expect::Other;
        deserialize_u32() => Expect::Other;
        deserialize_u64() => Expect::Other;
        deserialize_u128() => Expect::Other;
        deserialize_f32() => Expect::Other;
        deserialize_f64() => Expect::Other;
        deserialize_char() => Expect::Text;
        deserialize_str() => Expect::Text;
        deserialize_string() => Expect::Text;
        deserialize_identifier() => Expect::Text;
        deserialize_bytes() => Expect::Bytes;
        deserialize_byte_buf() => Expect::Bytes;
        deserialize_option() => Expect::Other;
        deserialize_unit() => Expect::Other;
        deserialize_unit_struct(name: &'static str) => Expect::Other;
        deserialize_newtype_struct(name: &'static str) => Expect::Other;
        deserialize_seq() => Expect::Other;
        deserialize_tuple(len: usize) => Expect::Other;
        deserialize_tuple_struct(name: &'static str, len: usize) => Expect::Other;
        deserialize_map() => Expect::Other;
        deserialize_struct(name: &'static str, fields: &'static [&'static str]) => Expect::Struct;
        deserialize_enum(name: &'static str, variants: &'static [&'static str]) => Expect::Other;
    }

    /// An unknown field's value is skipped as it is: what a newer writer put there is not
    /// this reader's to judge (additive changes are the versioning rule).
    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let Strict { de, at } = self;
        let (chain, track) = (at.chain, at.track);
        let result = if at.position == Position::Value {
            de.deserialize_ignored_any(visitor)
        } else {
            de.deserialize_ignored_any(Wrap::new(visitor, at, Expect::Any))
        };
        if result.is_err() {
            track.failed_at(chain);
        }
        result
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}
