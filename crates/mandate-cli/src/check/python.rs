//! The mandate for components in Python, as `dependencies.rs` keeps it for crates: a
//! component's package (`components/<name>/pyproject.toml`) may depend on the Python kit
//! (`mandate-kit`, kits/python), the client package (`mandate-client`, clients/python) and
//! third-party packages — never on another component's package or folder. (Its Dockerfile is
//! held to the same rule by the compose check.)

use std::path::Path;

/// Every rule broken by the Python components of `repo`, one line each.
pub fn check_repo(repo: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(repo.join("components")) else {
        return Vec::new();
    };
    let mut folders: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut problems = Vec::new();
    for name in &folders {
        let path = repo.join("components").join(name).join("pyproject.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        problems.extend(check(name, &text, &folders));
    }
    problems
}

/// The problems of component `name`'s pyproject.toml `text`; `components` are the folders of
/// `components/`.
pub fn check(name: &str, text: &str, components: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for requirement in dependencies(text) {
        let package: String = requirement
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect::<String>()
            .to_lowercase()
            .replace(['_', '.'], "-");
        let other = components.iter().find(|c| {
            *c != name
                && (package == format!("mandate-{c}")
                    || package == c.replace('_', "-")
                    || requirement.contains(&format!("components/{c}")))
        });
        if let Some(other) = other {
            problems.push(format!(
                "components/{name}/pyproject.toml depends on {requirement:?}, the component {other}: a component \
                 depends on no other component (reach it over the bus); the kit (mandate-kit) and the client \
                 package (mandate-client) are what it may use"
            ));
        }
    }
    problems
}

/// The requirement strings of `[project] dependencies` (a TOML array of strings; read as
/// text, which is enough for the one key).
fn dependencies(text: &str) -> Vec<String> {
    let mut in_project = false;
    let mut collecting = false;
    let mut found = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if !collecting && trimmed.starts_with('[') && !trimmed.starts_with("[\"") {
            in_project = trimmed == "[project]";
            continue;
        }
        if in_project && !collecting && trimmed.split('=').next().is_some_and(|k| k.trim() == "dependencies") {
            collecting = true;
        }
        if !collecting {
            continue;
        }
        let code = trimmed.split(" #").next().unwrap_or("");
        found.extend(code.split('"').skip(1).step_by(2).map(str::to_owned));
        if code.contains(']') {
            collecting = false;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn components() -> Vec<String> {
        ["loyalty", "orders", "points"].map(str::to_owned).to_vec()
    }

    #[test]
    fn the_kit_the_client_and_third_party_packages_are_allowed() {
        let text = "[project]\nname = \"mandate-points\"\ndependencies = [\n    \"mandate-kit==0.1.0\",\n    \
                    \"mandate-client==0.1.0\", # the strict reading\n    \"nats-py==2.16.0\",\n]\n";
        assert_eq!(
            dependencies(text),
            ["mandate-kit==0.1.0", "mandate-client==0.1.0", "nats-py==2.16.0"]
        );
        assert_eq!(check("points", text, &components()), Vec::<String>::new());
    }

    #[test]
    fn another_components_package_or_folder_is_refused() {
        for requirement in [
            "mandate-loyalty==0.1.0",
            "Mandate_Loyalty>=0.1",
            "loyalty",
            "ledger @ file:///repo/components/loyalty",
        ] {
            let text = format!("[project]\ndependencies = [\"mandate-kit\", \"{requirement}\"]\n");
            let problems = check("points", &text, &components());
            assert_eq!(problems.len(), 1, "{requirement}: {problems:?}");
            assert!(problems[0].contains("the component loyalty"), "{problems:?}");
        }
        // Its own name is no dependency on another.
        let own = "[project]\ndependencies = [\"mandate-points\"]\n";
        assert_eq!(check("points", own, &components()), Vec::<String>::new());
    }

    #[test]
    fn the_repository_follows_the_rule() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(check_repo(&repo), Vec::<String>::new());
        let loyalty = std::fs::read_to_string(repo.join("components/loyalty/pyproject.toml")).expect("loyalty");
        assert!(dependencies(&loyalty).iter().any(|d| d.starts_with("mandate-kit")));
    }
}
