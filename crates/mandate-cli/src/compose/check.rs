//! What a component's entry in docker-compose.yml must look like, checked on the parsed
//! file: built from the one Dockerfile with `COMPONENT=<name>`, its own `<name>-data` volume
//! at /data, its own bus user whose password comes from `${<NAME>_PASSWORD:?...}`, which the
//! nats service also receives (nats-server resolves the variable in permissions.conf).

use serde_yaml_ng::Value;

use crate::busconfig::permissions::password_var;

/// Every problem of compose file `text` for `components` (component names), one line each.
pub fn problems(text: &str, components: &[String]) -> Vec<String> {
    let doc: Value = match serde_yaml_ng::from_str(text) {
        Ok(doc) => doc,
        Err(err) => return vec![format!("docker-compose.yml is not YAML: {err}")],
    };
    let mut problems = Vec::new();
    let services = &doc["services"];
    let nats_env = &services["nats"]["environment"];
    for name in components {
        let Some(service) = services.get(name.as_str()).filter(|s| s.is_mapping()) else {
            problems.push(format!(
                "no service `{name}` for components/{name}: add it like the other components' (`mandate new component` does it for new ones)"
            ));
            continue;
        };
        let mut expect = |ok: bool, what: String| {
            if !ok {
                problems.push(format!("service `{name}`: {what}"));
            }
        };
        expect(
            text_of(&service["build"]["args"]["COMPONENT"]) == Some(name),
            format!("must be built with the build argument COMPONENT: {name}"),
        );
        expect(
            text_of(&service["build"]["dockerfile"]) == Some("Dockerfile"),
            "must be built from the repository's Dockerfile".to_owned(),
        );
        let volume = format!("{name}-data");
        expect(
            strings(&service["volumes"]).contains(&format!("{volume}:/data")),
            format!("must mount its own volume `{volume}:/data` (its private store)"),
        );
        expect(
            doc["volumes"].get(volume.as_str()).is_some(),
            format!("its volume `{volume}` is not declared under the top-level `volumes:`"),
        );
        expect(
            text_of(&service["environment"]["NATS_USER"]) == Some(name),
            format!("must connect as its own bus user: NATS_USER: {name}"),
        );
        let var = password_var(name);
        expect(
            text_of(&service["environment"]["NATS_PASSWORD"]).and_then(variable) == Some(var.as_str()),
            format!("NATS_PASSWORD must come from the environment: ${{{var}:?...}}"),
        );
        expect(
            nats_env.get(var.as_str()).is_some(),
            format!("the nats service's environment lacks {var}, so nats-server cannot resolve its password"),
        );
    }
    if let Some(services) = services.as_mapping() {
        for (service, body) in services {
            if let Some(component) = text_of(&body["build"]["args"]["COMPONENT"])
                && !components.iter().any(|c| c == component)
            {
                problems.push(format!(
                    "service `{}` runs component {component}, which has no components/{component}/manifest.json",
                    text_of(service).unwrap_or("?")
                ));
            }
        }
    }
    problems
}

fn text_of(value: &Value) -> Option<&str> {
    value.as_str()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `${VAR:?...}`, `${VAR:-...}` or `${VAR}` → `VAR`.
fn variable(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    inner.split([':', '-', '?']).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_compose() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker-compose.yml");
        std::fs::read_to_string(path).expect("the repository's docker-compose.yml")
    }

    fn components() -> Vec<String> {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        crate::repo::manifest::read_all(&repo)
            .expect("manifests")
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    #[test]
    fn the_repository_compose_file_runs_every_component() {
        assert_eq!(problems(&repo_compose(), &components()), Vec::<String>::new());
    }

    #[test]
    fn a_component_without_a_service_is_named() {
        let mut names = components();
        names.push("order-history".into());
        let found = problems(&repo_compose(), &names);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("no service `order-history`"), "{found:?}");
    }

    #[test]
    fn a_service_for_a_removed_component_is_named() {
        let names: Vec<String> = components().into_iter().filter(|n| n != "shipping").collect();
        let found = problems(&repo_compose(), &names);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("runs component shipping"), "{found:?}");
    }

    #[test]
    fn a_shared_volume_or_a_committed_password_is_refused() {
        let text = repo_compose()
            .replace("- orders-data:/data", "- payments-data:/data")
            .replace(
                "NATS_PASSWORD: ${CATALOG_PASSWORD:?set CATALOG_PASSWORD in .env (copy .env.example)}",
                "NATS_PASSWORD: hunter2",
            );
        let found = problems(&text, &components());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`catalog`: NATS_PASSWORD"), "{found:?}");
        assert!(
            found[1].contains("`orders`: must mount its own volume `orders-data:/data`"),
            "{found:?}"
        );
    }
}
