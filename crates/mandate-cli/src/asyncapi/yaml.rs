//! Small helpers to build the document as an ordered YAML value: keys come out in the order
//! they are inserted, so the document reads top-down (and is byte-for-byte deterministic).

use serde_yaml_ng::{Mapping, Value};

/// A YAML mapping built in order.
#[derive(Debug, Clone, Default)]
pub struct Map(Mapping);

impl Map {
    pub fn new() -> Map {
        Map(Mapping::new())
    }

    /// The map with `key: value` appended.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Map {
        self.insert(key, value);
        self
    }

    /// The map with `key: value` appended when there is a value.
    pub fn maybe(self, key: &str, value: Option<impl Into<Value>>) -> Map {
        match value {
            Some(value) => self.with(key, value),
            None => self,
        }
    }

    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(Value::String(key.to_owned()), value.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Mapping(map.0)
    }
}

/// A sequence of strings.
pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::Sequence(
        items
            .into_iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect(),
    )
}

/// `{$ref: <pointer>}`.
pub fn reference(pointer: &str) -> Value {
    Map::new().with("$ref", pointer).into()
}

/// A JSON pointer token: `~` → `~0`, `/` → `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
