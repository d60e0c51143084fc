//! Subject rules (docs/design.md §3): what an event or a service subject looks like, and whether
//! two subject patterns can match the same subject.

/// An event subject, `evt.<owner>.<name>.v<N>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSubject {
    pub owner: String,
    pub name: String,
    pub version: u32,
}

impl EventSubject {
    pub fn subject(&self) -> String {
        format!("evt.{}.{}.v{}", self.owner, self.name, self.version)
    }

    /// The CloudEvents type, `<owner>.<name>.v<N>`.
    pub fn ce_type(&self) -> String {
        format!("{}.{}.v{}", self.owner, self.name, self.version)
    }
}

/// Parses `evt.<owner>.<name>.v<N>` (a clap value parser: a refusal is a usage error).
pub fn parse_event_subject(text: &str) -> Result<EventSubject, String> {
    let hint = "an event subject is evt.<owner>.<name>.v<major>, e.g. evt.orders.placed.v1";
    let tokens: Vec<&str> = text.split('.').collect();
    let [evt, owner, name, version] = tokens.as_slice() else {
        return Err(format!("{text:?} is not an event subject: {hint}"));
    };
    if *evt != "evt" {
        return Err(format!("{text:?} does not start with `evt.`: {hint}"));
    }
    mandate::validate_component_name(owner).map_err(|e| format!("{text:?}: the owner is an {e}"))?;
    if !is_name(name) {
        return Err(format!(
            "{text:?}: the event name {name:?} must be lower-case letters, digits, dashes or underscores, starting with a letter ({hint})"
        ));
    }
    let version = parse_version(version)
        .ok_or_else(|| format!("{text:?}: {version:?} is not a major version like v1 ({hint})"))?;
    Ok(EventSubject {
        owner: (*owner).to_owned(),
        name: (*name).to_owned(),
        version,
    })
}

/// The subject of a service operation: `<owner>.<op>.v<N>` becomes `svc.<owner>.<op>.v<N>`;
/// a full `svc....` subject is taken as is.
pub fn service_subject(text: &str) -> Result<String, String> {
    let hint = "give <owner>.<operation>.v<major> (e.g. orders.place.v1) or a full svc.... subject";
    if let Some(rest) = text.strip_prefix("svc.") {
        let tokens: Vec<&str> = rest.split('.').collect();
        if tokens.len() < 2 || tokens.iter().any(|t| !is_literal_token(t)) {
            return Err(format!("{text:?} is not a service subject: {hint}"));
        }
        return Ok(text.to_owned());
    }
    let tokens: Vec<&str> = text.split('.').collect();
    match tokens.as_slice() {
        [owner, op, version]
            if mandate::validate_component_name(owner).is_ok() && is_name(op) && parse_version(version).is_some() =>
        {
            Ok(format!("svc.{text}"))
        }
        _ => Err(format!("{text:?} is not a service: {hint}")),
    }
}

/// True for a kit admin subject, `svc.<component>.admin.<op>`: those bodies are JSON.
pub fn is_admin_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    matches!(tokens.as_slice(), ["svc", _, "admin", _])
}

/// A subject (or pattern) a subscription or a consumer filter accepts.
pub fn parse_filter(text: &str) -> Result<String, String> {
    let tokens: Vec<&str> = text.split('.').collect();
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        let ok = match *token {
            "*" => true,
            ">" => i == last,
            t => is_literal_token(t),
        };
        if !ok {
            return Err(format!(
                "{text:?} is not a valid subject filter: tokens are separated by dots, `*` matches one token, `>` the rest (e.g. evt.orders.>)"
            ));
        }
    }
    Ok(text.to_owned())
}

/// True when some subject matches both patterns (`*` one token, `>` one or more).
pub fn overlap(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (None, None) => return true,
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(x), Some(y)) => {
                if x != y && *x != "*" && *y != "*" {
                    return false;
                }
            }
        }
        i += 1;
    }
}

/// True when every subject `narrow` matches is also matched by `wide`.
pub fn is_subset(narrow: &str, wide: &str) -> bool {
    let n: Vec<&str> = narrow.split('.').collect();
    let w: Vec<&str> = wide.split('.').collect();
    let mut i = 0;
    loop {
        match (n.get(i), w.get(i)) {
            (None, None) => return true,
            (_, Some(&">")) => return n.len() > i,
            (Some(&">"), _) => return false,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(x), Some(y)) => {
                if *y != "*" && (x != y || *x == "*") {
                    return false;
                }
            }
        }
        i += 1;
    }
}

fn is_name(token: &str) -> bool {
    let mut chars = token.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_literal_token(token: &str) -> bool {
    !token.is_empty() && !token.contains(['*', '>', ' ', '\t', '\r', '\n'])
}

fn parse_version(token: &str) -> Option<u32> {
    let digits = token.strip_prefix('v')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_subjects_are_evt_owner_name_version() {
        let parsed = parse_event_subject("evt.orders.placed.v1").expect("valid");
        assert_eq!(parsed.ce_type(), "orders.placed.v1");
        assert_eq!(parsed.subject(), "evt.orders.placed.v1");
        assert_eq!(
            parse_event_subject("evt.catalog.product-upserted.v12").map(|s| s.version),
            Ok(12)
        );
        for bad in [
            "orders.placed.v1",
            "evt.orders.placed",
            "evt.orders.placed.1",
            "evt.orders.placed.v0",
            "evt.orders.placed.v01",
            "evt.Orders.placed.v1",
            "evt.orders.*.v1",
            "evt.orders.>",
            "evt.orders.placed.v1.extra",
            "svc.orders.place.v1",
        ] {
            assert!(parse_event_subject(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn services_are_short_or_full() {
        assert_eq!(service_subject("orders.place.v1").as_deref(), Ok("svc.orders.place.v1"));
        assert_eq!(
            service_subject("svc.orders.admin.status").as_deref(),
            Ok("svc.orders.admin.status")
        );
        assert!(service_subject("orders.place").is_err());
        assert!(service_subject("svc.orders.*").is_err());
        assert!(service_subject("svc.").is_err());
        assert!(is_admin_subject("svc.orders.admin.status"));
        assert!(!is_admin_subject("svc.orders.place.v1"));
    }

    #[test]
    fn filters_overlap_like_the_server_says() {
        assert!(overlap("evt.>", "evt.orders.>"));
        assert!(overlap("evt.*.placed.v1", "evt.orders.>"));
        assert!(overlap("evt.orders.placed.v1", "evt.orders.>"));
        assert!(!overlap("evt.orders.>", "evt.orders"));
        assert!(!overlap("evt.>", "dlq.>"));
        assert!(!overlap("evt.payments.>", "evt.orders.>"));
        assert!(overlap(">", "dlq.orders"));
        assert!(!overlap("evt.*", "evt.orders.placed"));
    }

    #[test]
    fn subsets() {
        assert!(is_subset("evt.orders.>", "evt.>"));
        assert!(is_subset("evt.orders.placed.v1", "evt.orders.>"));
        assert!(is_subset("evt.orders.placed.v1", "evt.*.placed.v1"));
        assert!(!is_subset("evt.>", "evt.orders.>"));
        assert!(!is_subset("evt.*.placed.v1", "evt.orders.>"));
        assert!(!is_subset("evt.orders", "evt.orders.>"));
        assert!(is_subset("evt.*", "evt.*"));
        assert!(!is_subset("evt.*", "evt.orders"));
    }

    #[test]
    fn filters_are_checked() {
        assert!(parse_filter("evt.>").is_ok());
        assert!(parse_filter("evt.*.placed.v1").is_ok());
        assert!(parse_filter("evt.>.x").is_err());
        assert!(parse_filter("evt..x").is_err());
        assert!(parse_filter("").is_err());
    }
}
