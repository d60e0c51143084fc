//! Finding event types in `schemas/` by reading its source as text (the tool never links the
//! `schemas` crate, docs/design.md §2).
//!
//! A small Rust tokenizer and a scanner of top-level items: `impl Event for X` blocks with
//! their `OWNER`/`NAME`/`VERSION` constants, and `struct`/`enum` definitions with their fields,
//! so a scaffold can name an event's type by path (`schemas::orders::OrderPlaced`), pick a key
//! field, and write a test value of it. Items inside blocks (`mod tests { ... }`, function
//! bodies) are not looked at.
//!
//! Over 600 lines because the tokenizer, the item scanner and the type model they fill are one
//! concern. `schemas/json` holds most of the same facts (title, properties, required) but not
//! the type's module path the generated code names it by, so this stays until it does.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// A token of Rust source; comments are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// A string literal's contents (escapes kept as written).
    Str(String),
    /// Number, char and other literals, as written.
    Lit(String),
    Lifetime(String),
    /// Punctuation: one character, except `::`.
    Punct(&'static str),
}

impl Tok {
    fn is_ident(&self, name: &str) -> bool {
        matches!(self, Tok::Ident(i) if i == name)
    }

    fn is(&self, punct: &str) -> bool {
        matches!(self, Tok::Punct(p) if *p == punct)
    }
}

const PUNCTS: &[&str] = &[
    "{", "}", "(", ")", "[", "]", "<", ">", ",", ";", ":", "=", "#", "&", "!", "?", ".", "-", "+", "*", "/", "%", "^",
    "|", "@", "$", "~",
];

fn tokenize(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"'
            || ((c == 'r' || c == 'b') && at(i + 1) == '"')
            || (c == 'r' && at(i + 1) == '#' && matches!(at(i + 2), '"' | '#'))
        {
            // "...", b"...", r"...", r#"..."#
            let raw = c == 'r';
            if c != '"' {
                i += 1;
            }
            let mut hashes = 0;
            while raw && at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            let start = i;
            loop {
                if i >= chars.len() {
                    break;
                }
                if !raw && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '"' && (0..hashes).all(|h| at(i + 1 + h) == '#') {
                    break;
                }
                i += 1;
            }
            let end = i.min(chars.len());
            tokens.push(Tok::Str(chars[start..end].iter().collect()));
            i = end + 1 + hashes;
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                let start = i;
                i += 3; // the quote, the backslash and the escaped character
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                tokens.push(Tok::Lit(chars[start..i.min(chars.len())].iter().collect()));
            } else if at(i + 2) == '\'' {
                tokens.push(Tok::Lit(chars[i..i + 3].iter().collect()));
                i += 3;
            } else {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Tok::Lifetime(chars[start..i].iter().collect()));
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || (chars[i] == '.' && at(i + 1).is_ascii_digit()))
            {
                i += 1;
            }
            tokens.push(Tok::Lit(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && at(i + 1) == '#' {
                i += 2; // a raw identifier
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Tok::Punct("::"));
            i += 2;
        } else {
            let text = c.to_string();
            if let Some(p) = PUNCTS.iter().find(|p| **p == text) {
                tokens.push(Tok::Punct(p));
            }
            i += 1;
        }
    }
    tokens
}

/// A type as written in a field: a path with generic arguments, a tuple, or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `a::b::Name<Args>`: the segments and the arguments of the last one.
    Path {
        segments: Vec<String>,
        args: Vec<Ty>,
    },
    Tuple(Vec<Ty>),
    /// References, arrays, function types, ...: not constructed by the scaffold.
    Other,
}

impl Ty {
    pub fn is_string(&self) -> bool {
        match self {
            Ty::Path { segments, args } => {
                args.is_empty()
                    && (segments.as_slice() == ["String"] || segments.join("::").ends_with("std::string::String"))
            }
            _ => false,
        }
    }
}

/// A named field of a struct (or of a struct-like enum variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    /// `#[serde(default)]`: old events may lack it.
    pub defaulted: bool,
}

/// The shape of a struct or of an enum variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Named(Vec<Field>),
    Tuple(Vec<Ty>),
    Unit,
}

/// A top-level `struct` or `enum` of the schemas crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    pub name: String,
    /// `schemas::orders`
    pub module: String,
    pub generics: Vec<String>,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    Struct(Shape),
    Enum(Vec<(String, Shape)>),
}

impl TypeDef {
    /// `schemas::orders::OrderPlaced`
    pub fn path(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }
}

/// An `impl Event for X` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventImpl {
    pub owner: String,
    pub name: String,
    pub version: u32,
    /// The implementing type's name (last path segment).
    pub type_name: String,
    /// The module the impl is in, e.g. `schemas::orders`.
    pub module: String,
}

impl EventImpl {
    pub fn ce_type(&self) -> String {
        format!("{}.{}.v{}", self.owner, self.name, self.version)
    }
}

/// What the schemas crate's source declares.
#[derive(Debug, Default)]
pub struct Schemas {
    pub events: Vec<EventImpl>,
    pub types: Vec<TypeDef>,
}

impl Schemas {
    /// Reads every `.rs` file under `<repo>/schemas/src`.
    pub fn read(repo: &Path) -> anyhow::Result<Schemas> {
        let src = repo.join("schemas/src");
        let mut files = Vec::new();
        collect_rs_files(&src, &mut files).with_context(|| {
            format!(
                "reading {}: is {} a mandate repository? (pass --repo)",
                src.display(),
                repo.display()
            )
        })?;
        files.sort();
        let mut schemas = Schemas::default();
        for file in files {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let relative = file.strip_prefix(&src).unwrap_or(&file);
            schemas.add_source(&module_path(relative), &text);
        }
        Ok(schemas)
    }

    /// Scans one file's source, whose items live in `module` (e.g. `schemas::orders`).
    pub fn add_source(&mut self, module: &str, text: &str) {
        let tokens = tokenize(text);
        let mut depth = 0usize;
        let mut i = 0;
        while i < tokens.len() {
            let tok = &tokens[i];
            if tok.is("{") {
                depth += 1;
            } else if tok.is("}") {
                depth = depth.saturating_sub(1);
            } else if depth == 0 {
                if tok.is_ident("impl") {
                    if let Some((event, end)) = parse_event_impl(&tokens, i + 1, module) {
                        self.events.push(event);
                        i = end;
                        continue;
                    }
                } else if tok.is_ident("struct") || tok.is_ident("enum") {
                    if let Some((def, end)) = parse_type_def(&tokens, i, module) {
                        self.types.push(def);
                        i = end;
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// The event `<owner>.<name>.v<version>`.
    pub fn event(&self, owner: &str, name: &str, version: u32) -> Option<&EventImpl> {
        self.events
            .iter()
            .find(|e| e.owner == owner && e.name == name && e.version == version)
    }

    /// Every event type, sorted.
    pub fn event_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.events.iter().map(EventImpl::ce_type).collect();
        types.sort();
        types.dedup();
        types
    }

    /// The struct or enum `name`, preferably the one in `module`, else the only one anywhere.
    pub fn type_def(&self, name: &str, module: &str) -> Option<&TypeDef> {
        let candidates: Vec<&TypeDef> = self.types.iter().filter(|t| t.name == name).collect();
        match candidates.as_slice() {
            [only] => Some(*only),
            several => several.iter().find(|t| t.module == module).copied(),
        }
    }
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `lib.rs` → `schemas`, `orders.rs` and `orders/mod.rs` → `schemas::orders`, `a/b.rs` →
/// `schemas::a::b`.
fn module_path(relative: &Path) -> String {
    let mut parts = vec!["schemas".to_owned()];
    let components: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (index, part) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        if last {
            let stem = part.strip_suffix(".rs").unwrap_or(part);
            if !(matches!(stem, "mod" | "main") || (stem == "lib" && components.len() == 1)) {
                parts.push(stem.to_owned());
            }
        } else {
            parts.push(part.clone());
        }
    }
    parts.join("::")
}

/// After `impl`: `[path::]Event for Type { ... const OWNER ... }`. Returns the event and the
/// index after the block's closing brace.
fn parse_event_impl(tokens: &[Tok], mut i: usize, module: &str) -> Option<(EventImpl, usize)> {
    // The trait path, ending in `Event`.
    let mut trait_name = None;
    while let Some(Tok::Ident(segment)) = tokens.get(i) {
        trait_name = Some(segment.clone());
        i += 1;
        if tokens.get(i).is_some_and(|t| t.is("::")) {
            i += 1;
        } else {
            break;
        }
    }
    if trait_name.as_deref() != Some("Event") || !tokens.get(i)?.is_ident("for") {
        return None;
    }
    i += 1;
    let mut type_name = None;
    while let Some(Tok::Ident(segment)) = tokens.get(i) {
        type_name = Some(segment.clone());
        i += 1;
        if tokens.get(i).is_some_and(|t| t.is("::")) {
            i += 1;
        } else {
            break;
        }
    }
    let type_name = type_name?;
    if !tokens.get(i)?.is("{") {
        return None; // generic impls and where clauses are not for the scaffold
    }
    let end = matching(tokens, i)?;
    let body = &tokens[i + 1..end];
    let owner = const_value(body, "OWNER").and_then(|t| match t {
        Tok::Str(s) => Some(s.clone()),
        _ => None,
    })?;
    let name = const_value(body, "NAME").and_then(|t| match t {
        Tok::Str(s) => Some(s.clone()),
        _ => None,
    })?;
    let version = const_value(body, "VERSION").and_then(|t| match t {
        Tok::Lit(n) => {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        }
        _ => None,
    })?;
    Some((
        EventImpl {
            owner,
            name,
            version,
            type_name,
            module: module.to_owned(),
        },
        end + 1,
    ))
}

/// The token after `=` in `const NAME: ... = <token>;` within `body` (at its top level).
fn const_value<'a>(body: &'a [Tok], name: &str) -> Option<&'a Tok> {
    let start = body
        .windows(2)
        .position(|w| w[0].is_ident("const") && w[1].is_ident(name))?;
    let eq = body[start..].iter().position(|t| t.is("="))? + start;
    body.get(eq + 1)
}

/// The index of the bracket closing the one at `open`.
fn matching(tokens: &[Tok], open: usize) -> Option<usize> {
    let (o, c) = match &tokens[open] {
        Tok::Punct("{") => ("{", "}"),
        Tok::Punct("(") => ("(", ")"),
        Tok::Punct("[") => ("[", "]"),
        Tok::Punct("<") => ("<", ">"),
        _ => return None,
    };
    let mut depth = 0usize;
    for (index, tok) in tokens.iter().enumerate().skip(open) {
        if tok.is(o) {
            depth += 1;
        } else if tok.is(c) {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
}

/// At `struct`/`enum`: the definition and the index after it.
fn parse_type_def(tokens: &[Tok], i: usize, module: &str) -> Option<(TypeDef, usize)> {
    let is_enum = tokens[i].is_ident("enum");
    let Some(Tok::Ident(name)) = tokens.get(i + 1) else {
        return None;
    };
    let mut j = i + 2;
    let mut generics = Vec::new();
    if tokens.get(j)?.is("<") {
        let close = matching(tokens, j)?;
        // Type parameters: an identifier right after `<` or a top-level `,`.
        let mut depth = 0;
        let mut expect_param = true;
        for tok in &tokens[j + 1..close] {
            match tok {
                Tok::Punct("<") => depth += 1,
                Tok::Punct(">") => depth -= 1,
                Tok::Punct(",") if depth == 0 => {
                    expect_param = true;
                    continue;
                }
                Tok::Ident(param) if expect_param && depth == 0 && param != "const" => generics.push(param.clone()),
                _ => {}
            }
            expect_param = false;
        }
        j = close + 1;
    }
    // A where clause, if any, runs up to the body.
    while j < tokens.len() && !tokens[j].is("{") && !tokens[j].is("(") && !tokens[j].is(";") {
        j += 1;
    }
    let open = tokens.get(j)?;
    let (kind, end) = if is_enum {
        if !open.is("{") {
            return None;
        }
        let close = matching(tokens, j)?;
        (TypeKind::Enum(parse_variants(&tokens[j + 1..close])), close + 1)
    } else if open.is("{") {
        let close = matching(tokens, j)?;
        (
            TypeKind::Struct(Shape::Named(parse_fields(&tokens[j + 1..close]))),
            close + 1,
        )
    } else if open.is("(") {
        let close = matching(tokens, j)?;
        (
            TypeKind::Struct(Shape::Tuple(parse_tuple(&tokens[j + 1..close]))),
            close + 1,
        )
    } else {
        (TypeKind::Struct(Shape::Unit), j + 1)
    };
    Some((
        TypeDef {
            name: name.clone(),
            module: module.to_owned(),
            generics,
            kind,
        },
        end,
    ))
}

/// Splits at top-level commas.
fn split_top(tokens: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (index, tok) in tokens.iter().enumerate() {
        match tok {
            Tok::Punct("{" | "(" | "[" | "<") => depth += 1,
            Tok::Punct("}" | ")" | "]" | ">") => depth -= 1,
            Tok::Punct(",") if depth == 0 => {
                parts.push(&tokens[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Drops leading attributes and visibility; says whether a `serde(... default ...)` was
/// among the attributes.
fn strip_attributes(mut tokens: &[Tok]) -> (&[Tok], bool) {
    let mut defaulted = false;
    while tokens.first().is_some_and(|t| t.is("#")) {
        let open = if tokens.get(1).is_some_and(|t| t.is("!")) { 2 } else { 1 };
        let Some(close) = tokens
            .get(open)
            .filter(|t| t.is("["))
            .and_then(|_| matching(tokens, open))
        else {
            break;
        };
        let attribute = &tokens[open + 1..close];
        if attribute.first().is_some_and(|t| t.is_ident("serde")) && attribute.iter().any(|t| t.is_ident("default")) {
            defaulted = true;
        }
        tokens = &tokens[close + 1..];
    }
    if tokens.first().is_some_and(|t| t.is_ident("pub")) {
        tokens = &tokens[1..];
        if tokens.first().is_some_and(|t| t.is("(")) {
            if let Some(close) = matching(tokens, 0) {
                tokens = &tokens[close + 1..];
            }
        }
    }
    (tokens, defaulted)
}

fn parse_fields(tokens: &[Tok]) -> Vec<Field> {
    split_top(tokens)
        .into_iter()
        .filter_map(|part| {
            let (rest, defaulted) = strip_attributes(part);
            let [Tok::Ident(name), Tok::Punct(":"), ty @ ..] = rest else {
                return None;
            };
            Some(Field {
                name: name.clone(),
                ty: parse_ty(ty),
                defaulted,
            })
        })
        .collect()
}

fn parse_tuple(tokens: &[Tok]) -> Vec<Ty> {
    split_top(tokens)
        .into_iter()
        .map(|part| parse_ty(strip_attributes(part).0))
        .collect()
}

fn parse_variants(tokens: &[Tok]) -> Vec<(String, Shape)> {
    split_top(tokens)
        .into_iter()
        .filter_map(|part| {
            let (rest, _) = strip_attributes(part);
            let Some(Tok::Ident(name)) = rest.first() else {
                return None;
            };
            let shape = match rest.get(1) {
                Some(Tok::Punct("{")) => Shape::Named(parse_fields(&rest[2..rest.len() - 1])),
                Some(Tok::Punct("(")) => Shape::Tuple(parse_tuple(&rest[2..rest.len() - 1])),
                _ => Shape::Unit,
            };
            Some((name.clone(), shape))
        })
        .collect()
}

/// Parses a whole type; anything it does not understand is [`Ty::Other`].
fn parse_ty(tokens: &[Tok]) -> Ty {
    let mut i = 0;
    let ty = parse_ty_at(tokens, &mut i);
    if i == tokens.len() { ty } else { Ty::Other }
}

fn parse_ty_at(tokens: &[Tok], i: &mut usize) -> Ty {
    match tokens.get(*i) {
        Some(Tok::Punct("(")) => {
            let Some(close) = matching(tokens, *i) else {
                return Ty::Other;
            };
            let inner = &tokens[*i + 1..close];
            *i = close + 1;
            let parts = split_top(inner);
            if parts.len() == 1 && !inner.last().is_some_and(|t| t.is(",")) {
                return parse_ty(parts[0]); // parenthesized
            }
            Ty::Tuple(parts.into_iter().map(parse_ty).collect())
        }
        Some(Tok::Ident(_) | Tok::Punct("::")) => {
            let mut segments = Vec::new();
            let mut args = Vec::new();
            loop {
                if tokens.get(*i).is_some_and(|t| t.is("::")) {
                    *i += 1;
                }
                match tokens.get(*i) {
                    Some(Tok::Ident(segment)) if !matches!(segment.as_str(), "dyn" | "impl" | "fn") => {
                        segments.push(segment.clone());
                        *i += 1;
                    }
                    _ => return Ty::Other,
                }
                if tokens.get(*i).is_some_and(|t| t.is("<")) {
                    let Some(close) = matching(tokens, *i) else {
                        return Ty::Other;
                    };
                    args = split_top(&tokens[*i + 1..close]).into_iter().map(parse_ty).collect();
                    *i = close + 1;
                }
                if !tokens.get(*i).is_some_and(|t| t.is("::")) {
                    return Ty::Path { segments, args };
                }
            }
        }
        _ => {
            *i = tokens.len();
            Ty::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"
//! Owned by `orders`.
use mandate::{Event, Operation};
use crate::paging::Page;

/// One line. // not a comment end
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
}

/* a block /* nested */ comment with struct Fake { x: u8 } */
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    /// doc: `customer_id: u8,`
    #[serde(default)]
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub totals: std::collections::BTreeMap<String, (i64, Option<u32>)>,
    #[serde(rename = "x,y")]
    pub(crate) status: Status,
    pub page: Page<OrderLine>,
}

impl Event for OrderPlaced {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "placed";
    const VERSION: u32 = 2;
}

impl mandate::Event for Other {
    const OWNER: &str = r"orders";
    const NAME: &'static str = "other-thing";
    const VERSION: u32 = 1u32;
}

pub enum Status {
    #[serde(rename = "a")]
    Placed(u8),
    Paid { at: String },
    Done,
}

#[cfg(test)]
mod tests {
    struct Hidden<'a> { x: &'a str }
    impl Event for Hidden { const OWNER: &'static str = "no"; const NAME: &'static str = "no"; const VERSION: u32 = 1; }
}
"#;

    fn orders() -> Schemas {
        let mut schemas = Schemas::default();
        schemas.add_source("schemas::orders", ORDERS);
        schemas
    }

    #[test]
    fn event_impls_are_found_with_their_constants_but_not_inside_blocks() {
        let schemas = orders();
        assert_eq!(schemas.event_types(), vec!["orders.other-thing.v1", "orders.placed.v2"]);
        let placed = schemas.event("orders", "placed", 2).expect("found");
        assert_eq!(placed.type_name, "OrderPlaced");
        assert_eq!(placed.module, "schemas::orders");
        assert!(schemas.event("no", "no", 1).is_none());
        assert!(schemas.type_def("Hidden", "schemas::orders").is_none());
        assert!(
            schemas.type_def("Fake", "schemas::orders").is_none(),
            "comments are skipped"
        );
    }

    #[test]
    fn struct_fields_and_enum_variants_are_parsed() {
        let schemas = orders();
        let placed = schemas.type_def("OrderPlaced", "schemas::orders").expect("found");
        let TypeKind::Struct(Shape::Named(fields)) = &placed.kind else {
            panic!("{placed:?}")
        };
        let names: Vec<(&str, bool)> = fields.iter().map(|f| (f.name.as_str(), f.defaulted)).collect();
        assert_eq!(
            names,
            vec![
                ("order_id", false),
                ("customer_id", true),
                ("lines", false),
                ("totals", false),
                ("status", false),
                ("page", false)
            ]
        );
        assert!(fields[0].ty.is_string());
        assert!(matches!(&fields[2].ty, Ty::Path { segments, args } if segments == &["Vec"] && args.len() == 1));
        let Ty::Path { segments, args } = &fields[3].ty else {
            panic!("{:?}", fields[3].ty)
        };
        assert_eq!(segments.join("::"), "std::collections::BTreeMap");
        assert_eq!(args.len(), 2);
        assert!(matches!(&args[1], Ty::Tuple(items) if items.len() == 2));

        let status = schemas.type_def("Status", "schemas::orders").expect("found");
        let TypeKind::Enum(variants) = &status.kind else {
            panic!("{status:?}")
        };
        let names: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["Placed", "Paid", "Done"]);
        assert_eq!(variants[2].1, Shape::Unit);
    }

    #[test]
    fn module_paths_follow_the_files() {
        assert_eq!(module_path(Path::new("lib.rs")), "schemas");
        assert_eq!(module_path(Path::new("orders.rs")), "schemas::orders");
        assert_eq!(module_path(Path::new("orders/mod.rs")), "schemas::orders");
        assert_eq!(module_path(Path::new("orders/v2.rs")), "schemas::orders::v2");
    }

    #[test]
    fn the_real_schemas_are_read() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let schemas = Schemas::read(&repo).expect("schemas/src reads");
        let placed = schemas.event("orders", "placed", 1).expect("orders.placed.v1");
        assert_eq!(
            format!("{}::{}", placed.module, placed.type_name),
            "schemas::orders::OrderPlaced"
        );
        assert!(schemas.event("payments", "captured", 1).is_some());
        assert!(schemas.type_def("OrderLine", "schemas::orders").is_some());
    }
}
