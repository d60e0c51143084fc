//! The checks: a visitor that sees what rmp_serde found before the type's own visitor does,
//! and the seq, map and enum accesses that carry the checks (and the path) one level down.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::path::{
    Chain, KEY_AS_BIN, KEY_NOT_A_STRING, STRING_AS_BIN, STRUCT_AS_ARRAY, Track, VARIANT_NOT_A_NAME, Violation,
};
use super::strict::{At, Position, Strict, StrictSeed};

/// What the type asked the deserializer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A struct: only a map will do (rmp_serde also reads an array, positionally).
    Struct,
    /// A string: only `str` will do (rmp_serde also hands `bin` to string visitors).
    Text,
    /// Bytes, asked for as such: `bin` is right.
    Bytes,
    /// Whatever is there (a buffered or self-describing type): no `bin` in a contract body.
    Any,
    /// Anything else: numbers, sequences, maps, options, enums.
    Other,
}

/// The type's visitor, behind the checks.
pub(super) struct Wrap<'a, 'de, V> {
    visitor: V,
    at: At<'a, 'de>,
    expect: Expect,
}

impl<'a, 'de, V> Wrap<'a, 'de, V> {
    #[inline]
    pub fn new(visitor: V, at: At<'a, 'de>, expect: Expect) -> Self {
        Wrap { visitor, at, expect }
    }

    #[cold]
    fn broke<E: de::Error>(&self, violation: Violation) -> E {
        self.at.track.broke(violation)
    }

    /// A number, a bool, nil: fine as a value, not as a key or an enumeration's name.
    #[inline]
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        match self.at.position {
            Position::Value => Ok(()),
            Position::Key => Err(self.broke(KEY_NOT_A_STRING)),
            Position::Variant => Err(self.broke(VARIANT_NOT_A_NAME)),
        }
    }

    /// `bin`: right where bytes were asked for; a string in disguise anywhere else. Bytes
    /// that are not UTF-8 pass on, for the visitor to refuse as the wrong type (it is also
    /// how rmp_serde reports a `str` holding invalid UTF-8).
    #[inline]
    fn binary<E: de::Error>(&self, bytes: &[u8]) -> Result<(), E> {
        let key = self.at.position == Position::Key;
        match self.expect {
            Expect::Bytes if !key => Ok(()),
            Expect::Any => Err(self.broke(if key { KEY_AS_BIN } else { STRING_AS_BIN })),
            _ if std::str::from_utf8(bytes).is_err() => Ok(()),
            _ => Err(self.broke(if key { KEY_AS_BIN } else { STRING_AS_BIN })),
        }
    }

    #[inline]
    fn keep_key(&mut self, key: Cow<'de, str>) {
        if let Some(slot) = self.at.key.as_deref_mut() {
            *slot = Some(key);
        }
    }
}

macro_rules! scalars {
    ($($method:ident($ty:ty);)*) => {
        $(
            #[inline]
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.scalar()?;
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    scalars! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
    }

    #[inline]
    fn visit_char<E: de::Error>(self, v: char) -> Result<V::Value, E> {
        self.visitor.visit_char(v)
    }

    #[inline]
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        if self.at.key.is_some() {
            self.keep_key(Cow::Owned(v.to_owned()));
        }
        self.visitor.visit_str(v)
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.keep_key(Cow::Borrowed(v));
        self.visitor.visit_borrowed_str(v)
    }

    #[inline]
    fn visit_string<E: de::Error>(mut self, v: String) -> Result<V::Value, E> {
        if self.at.key.is_some() {
            self.keep_key(Cow::Owned(v.clone()));
        }
        self.visitor.visit_string(v)
    }

    #[inline]
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        self.binary(v)?;
        self.visitor.visit_bytes(v)
    }

    #[inline]
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        self.binary(v)?;
        self.visitor.visit_borrowed_bytes(v)
    }

    #[inline]
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        self.binary(&v)?;
        self.visitor.visit_byte_buf(v)
    }

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar()?;
        self.visitor.visit_none()
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar()?;
        self.visitor.visit_unit()
    }

    #[inline]
    fn visit_some<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict { de, at: self.at })
    }

    #[inline]
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict { de, at: self.at })
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.expect == Expect::Struct {
            return Err(self.broke(STRUCT_AS_ARRAY));
        }
        self.scalar()?;
        self.visitor.visit_seq(SeqWrap {
            seq,
            chain: self.at.chain,
            track: self.at.track,
            index: 0,
        })
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.scalar()?;
        self.visitor.visit_map(MapWrap {
            map,
            chain: self.at.chain,
            track: self.at.track,
            key: None,
        })
    }

    #[inline]
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(EnumWrap {
            data,
            chain: self.at.chain,
            track: self.at.track,
        })
    }
}

/// An array's elements, each checked at `chain[index]`.
struct SeqWrap<'a, A> {
    seq: A,
    chain: &'a Chain<'a>,
    track: &'a Track,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for SeqWrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        let chain = Chain::Index {
            parent: self.chain,
            index: self.index,
        };
        self.index += 1;
        self.seq.next_element_seed(StrictSeed {
            seed,
            at: At::value(&chain, self.track),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// A map's entries: each key must be a `str`; each value is checked at `chain.key`.
struct MapWrap<'a, 'de, A> {
    map: A,
    chain: &'a Chain<'a>,
    track: &'a Track,
    key: Option<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for MapWrap<'_, 'de, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.key = None;
        self.map.next_key_seed(StrictSeed {
            seed,
            at: At {
                chain: self.chain,
                track: self.track,
                position: Position::Key,
                key: Some(&mut self.key),
            },
        })
    }

    #[inline]
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let chain = Chain::Field {
            parent: self.chain,
            name: self.key.as_deref().unwrap_or("?"),
        };
        self.map.next_value_seed(StrictSeed {
            seed,
            at: At::value(&chain, self.track),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// An enumeration: its name must be a `str`; its content (if any) follows the rules. One
/// thing rmp_serde hides: whether a variant with content came as `{name: value}` or as the
/// positional `[name, value]`, so that form is not refused here. The contract's
/// enumerations are all plain names (a `str`, checked), which makes it moot for now.
struct EnumWrap<'a, A> {
    data: A,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for EnumWrap<'a, A> {
    type Error = A::Error;
    type Variant = VariantWrap<'a, A::Variant>;

    #[inline]
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error> {
        let (chain, track) = (self.chain, self.track);
        let at = At {
            chain,
            track,
            position: Position::Variant,
            key: None,
        };
        let (value, variant) = self.data.variant_seed(StrictSeed { seed, at })?;
        Ok((value, VariantWrap { variant, chain, track }))
    }
}

struct VariantWrap<'a, A> {
    variant: A,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for VariantWrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(StrictSeed {
            seed,
            at: At::value(self.chain, self.track),
        })
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let at = At::value(self.chain, self.track);
        self.variant.tuple_variant(len, Wrap::new(visitor, at, Expect::Other))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let at = At::value(self.chain, self.track);
        self.variant
            .struct_variant(fields, Wrap::new(visitor, at, Expect::Struct))
    }
}
