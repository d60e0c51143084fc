//! Where in a body the decoder is, and what went wrong there. The path is a linked list on
//! the stack, turned into text only when something fails: a body that decodes costs no
//! allocation for it.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;

use super::Rule;

/// The way from the top of the body to the value being decoded.
#[derive(Debug)]
pub(super) enum Chain<'a> {
    Root,
    /// The value of a map entry (a struct's field): `parent.name`.
    Field {
        parent: &'a Chain<'a>,
        name: &'a str,
    },
    /// An element of an array: `parent[index]`.
    Index {
        parent: &'a Chain<'a>,
        index: usize,
    },
}

impl Chain<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Chain::Root => {}
            Chain::Field { parent, name } => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Chain::Index { parent, index } => {
                parent.render(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// A rule broken, as the check that found it words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Violation {
    pub rule: Rule,
    pub message: &'static str,
}

pub(super) const STRUCT_AS_ARRAY: Violation = Violation {
    rule: Rule::NotAMap,
    message: "a struct encoded as an array",
};
pub(super) const KEY_NOT_A_STRING: Violation = Violation {
    rule: Rule::NotAMap,
    message: "a map key that is not a string",
};
pub(super) const STRING_AS_BIN: Violation = Violation {
    rule: Rule::BinaryString,
    message: "a string encoded as bin",
};
pub(super) const KEY_AS_BIN: Violation = Violation {
    rule: Rule::BinaryString,
    message: "a map key encoded as bin",
};
pub(super) const VARIANT_NOT_A_NAME: Violation = Violation {
    rule: Rule::Undecodable,
    message: "an enumeration value that is not its name as a string",
};

/// What one decode has found so far: where the first error happened and which rule, if
/// any, it broke. Errors travel as the inner deserializer's own error type, which cannot
/// carry either.
#[derive(Debug, Default)]
pub(super) struct Track {
    path: RefCell<Option<String>>,
    violation: Cell<Option<Violation>>,
}

impl Track {
    /// Notes where an error happened. Errors travel outwards, so the first note is the
    /// innermost place, and the one kept.
    #[cold]
    pub fn failed_at(&self, chain: &Chain<'_>) {
        let mut path = self.path.borrow_mut();
        if path.is_none() {
            let mut text = String::new();
            chain.render(&mut text);
            *path = Some(text);
        }
    }

    /// The error to return for `violation`, noted so that the caller can name its rule.
    #[cold]
    pub fn broke<E: serde::de::Error>(&self, violation: Violation) -> E {
        self.violation.set(Some(violation));
        E::custom(violation.message)
    }

    /// Where the first error happened, and the rule broken, if the error that ended the
    /// decode is that violation's own (rmp_serde may replace a visitor's error with its
    /// own: then the body is undecodable for another reason).
    pub fn finish(self, ended_with: &str) -> (String, Option<Violation>) {
        let path = self.path.into_inner().unwrap_or_default();
        let violation = self.violation.get().filter(|v| v.message == ended_with);
        (path, violation)
    }
}
