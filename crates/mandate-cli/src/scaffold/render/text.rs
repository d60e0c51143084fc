//! Formatting the generated sources share: the templates' placeholders, wrapped doc comments
//! and `use` lines in rustfmt's order.

/// `template` (a file of `scaffold/templates/`) with each `{{key}}` replaced by its value, in
/// one pass: a value is never searched for placeholders, whatever the user typed into it.
/// A placeholder without a value, or a value without its placeholder, is a bug of the caller.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let key = after.find("}}").map(|end| &after[..end]);
        let found = key.and_then(|key| values.iter().position(|(k, _)| *k == key));
        match (key, found) {
            (Some(key), Some(index)) => {
                out.push_str(values[index].1);
                used[index] = true;
                rest = &after[key.len() + 2..];
            }
            _ => {
                debug_assert!(
                    !key.is_some_and(|key| key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')),
                    "no value for {{{{{}}}}}",
                    key.unwrap_or_default()
                );
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    debug_assert!(
        used.iter().all(|used| *used),
        "values without a placeholder: {:?}",
        values
            .iter()
            .zip(&used)
            .filter(|(_, used)| !**used)
            .map(|((key, _), _)| key)
            .collect::<Vec<_>>()
    );
    out
}

/// Doc comment lines (`marker` is `//!` or `///`), one paragraph per item, wrapped at 100
/// columns whatever names went into them.
pub(super) fn doc(marker: &str, paragraphs: &[&str]) -> String {
    let mut out = String::new();
    for (index, paragraph) in paragraphs.iter().enumerate() {
        if index > 0 {
            out.push_str(marker);
            out.push('\n');
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && marker.len() + 1 + line.len() + 1 + word.len() > 100 {
                out.push_str(&format!("{marker} {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(&format!("{marker} {line}\n"));
        }
    }
    out
}

/// `use module::Name;` or `use module::{A, B};`, the names in rustfmt's order.
pub(super) fn use_line(module: &str, names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort_by(|a, b| version_order(a, b));
    match names.as_slice() {
        [one] => format!("use {module}::{one};\n"),
        many => format!("use {module}::{{{}}};\n", many.join(", ")),
    }
}

/// Identifiers compared as rustfmt's version sort does: runs of digits by their value.
pub(super) fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(text: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = text.as_bytes();
        for index in 1..=bytes.len() {
            if index == bytes.len() || bytes[index].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &text[start..index]));
                start = index;
            }
        }
        out
    }
    let (a, b) = (chunks(a), chunks(b));
    for ((a_digits, a), (b_digits, b)) in a.iter().zip(&b) {
        let order = if *a_digits && *b_digits {
            a.parse::<u64>().unwrap_or(0).cmp(&b.parse::<u64>().unwrap_or(0))
        } else {
            a.cmp(b)
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// Indents every line but the first by `spaces` more.
pub(super) fn indent_continuation(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                line.to_owned()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_values_are_not_searched() {
        let filled = fill("[{{a}}] {{b}} {{ {x} }}\n", &[("a", "{{b}}"), ("b", "two")]);
        assert_eq!(filled, "[{{b}}] two {{ {x} }}\n");
    }
}
