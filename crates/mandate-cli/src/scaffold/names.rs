//! Names: what the user may type (component names, `--serve` operations) and the Rust
//! identifiers a scaffold derives from them.

/// Names a component may not take even when the kit's rule accepts them: cargo refuses them
/// as package names, or they would clash with a crate the component itself depends on.
const RESERVED_PACKAGES: &[&str] = &[
    "test",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "build",
    "mandate",
    "mandate-cli",
    "schemas",
    "testkit",
    "e2e",
    "serde",
    "tokio",
    "tempfile",
    "async-nats",
];

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The kit's rule for component names, plus the names cargo or the scaffold cannot use.
pub fn check_component_name(name: &str) -> Result<(), String> {
    mandate::validate_component_name(name)?;
    if RESERVED_PACKAGES.contains(&name) || KEYWORDS.contains(&name) {
        return Err(format!(
            "the component name {name:?} is taken by Rust, cargo or a crate of the workspace: pick another (e.g. \"{name}-service\")"
        ));
    }
    Ok(())
}

/// An operation the new component serves: `svc.<component>.<name>.v<version>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpName {
    pub name: String,
    pub version: u32,
}

/// Parses `--serve`: `<op>`, `<op>.v<N>`, `<component>.<op>` or `<component>.<op>.v<N>` (v1
/// when no version is given); an operation owned by another component is refused.
pub fn parse_op(component: &str, text: &str) -> Result<OpName, String> {
    let hint = format!("give <op>, <op>.v<major> or {component}.<op>.v<major>, e.g. --serve count.v1");
    let tokens: Vec<&str> = text.split('.').collect();
    let (owner, name, version) = match tokens.as_slice() {
        [name] => (component, *name, 1),
        [name, version] if parse_version(version).is_some() => (component, *name, parse_version(version).unwrap_or(1)),
        [owner, name] => (*owner, *name, 1),
        [owner, name, version] => (
            *owner,
            *name,
            parse_version(version)
                .ok_or_else(|| format!("--serve {text}: {version:?} is not a major version like v1; {hint}"))?,
        ),
        _ => return Err(format!("--serve {text}: not an operation; {hint}")),
    };
    if owner != component {
        return Err(format!(
            "--serve {text}: that operation belongs to `{owner}`, and a component serves only its own \
             (svc.{component}.<op>.v<major>). Give `--serve {name}` to serve {component}.{name}.v{version}; \
             to use what {owner} knows, subscribe to its events (--subscribe {owner}.<event>.v<major>)"
        ));
    }
    if !is_name(name) {
        return Err(format!(
            "--serve {text}: the operation name {name:?} must be lower-case letters, digits, dashes or underscores, starting with a letter; {hint}"
        ));
    }
    if name == "admin" {
        return Err(format!(
            "--serve {text}: `admin` is the kit's own service of every component (svc.{component}.admin.*): pick another name"
        ));
    }
    Ok(OpName {
        name: name.to_owned(),
        version,
    })
}

fn is_name(token: &str) -> bool {
    let mut chars = token.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn parse_version(token: &str) -> Option<u32> {
    let digits = token.strip_prefix('v')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `orders-by-customer` → `orders_by_customer`; a keyword gets a suffix.
pub fn snake(name: &str) -> String {
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        format!("{ident}_op")
    } else {
        ident
    }
}

/// `orders-by-customer` → `OrdersByCustomer`.
pub fn pascal(name: &str) -> String {
    let ident: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if ident == "Self" { "SelfOp".to_owned() } else { ident }
}

/// `OrderPlaced` → `order_placed`, `HTTPRequest` → `http_request`.
pub fn snake_of_pascal(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(char::is_ascii_lowercase);
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_follow_the_kit_and_avoid_taken_ones() {
        assert!(check_component_name("customer-tally").is_ok());
        assert!(
            check_component_name("Tally")
                .expect_err("refused")
                .contains("lower-case")
        );
        for taken in ["schemas", "mandate", "test", "self", "tokio"] {
            assert!(
                check_component_name(taken)
                    .expect_err("refused")
                    .contains("pick another"),
                "{taken}"
            );
        }
    }

    #[test]
    fn serve_takes_short_or_qualified_own_operations() {
        let op = |name: &str, version| OpName {
            name: name.into(),
            version,
        };
        assert_eq!(parse_op("tally", "count"), Ok(op("count", 1)));
        assert_eq!(parse_op("tally", "count.v2"), Ok(op("count", 2)));
        assert_eq!(parse_op("tally", "tally.count"), Ok(op("count", 1)));
        assert_eq!(parse_op("tally", "tally.by-customer.v3"), Ok(op("by-customer", 3)));
        let foreign = parse_op("tally", "orders.get.v1").expect_err("refused");
        assert!(
            foreign.contains("belongs to `orders`") && foreign.contains("--serve get"),
            "{foreign}"
        );
        assert!(
            parse_op("tally", "tally.count.1")
                .expect_err("refused")
                .contains("major version")
        );
        assert!(parse_op("tally", "Count").expect_err("refused").contains("lower-case"));
        assert!(parse_op("tally", "admin").expect_err("refused").contains("kit's own"));
        assert!(
            parse_op("tally", "a.b.c.d")
                .expect_err("refused")
                .contains("not an operation")
        );
    }

    #[test]
    fn identifiers_are_derived() {
        assert_eq!(snake("orders-by-customer"), "orders_by_customer");
        assert_eq!(snake("type"), "type_op");
        assert_eq!(pascal("orders-by-customer"), "OrdersByCustomer");
        assert_eq!(pascal("top_10"), "Top10");
        assert_eq!(pascal("self"), "SelfOp");
        assert_eq!(snake_of_pascal("OrderPlaced"), "order_placed");
        assert_eq!(snake_of_pascal("HTTPRequest"), "http_request");
        assert_eq!(snake_of_pascal("Item2Sold"), "item2_sold");
    }
}
