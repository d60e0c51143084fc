//! Tests of `check.rs` (kept apart: the module is long enough on its own).

use super::*;

fn repo_compose() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker-compose.yml");
    std::fs::read_to_string(path).expect("the repository's docker-compose.yml")
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn components() -> Vec<Deployed> {
    crate::compose::deployed(&repo()).expect("manifests")
}

/// The repository's components with `name`'s build replaced.
fn with_build(name: &str, build: Build) -> Vec<Deployed> {
    let mut components = components();
    let component = components
        .iter_mut()
        .find(|c| c.name == name)
        .expect("a component of the repository");
    component.build = build;
    components
}

#[test]
fn the_repository_compose_file_runs_every_component() {
    assert_eq!(problems(&repo_compose(), &components()), Vec::<String>::new());
}

#[test]
fn a_partitioned_component_runs_as_a_service_per_partition_with_its_own_volume() {
    let orders = components().into_iter().find(|c| c.name == "orders").expect("orders");
    assert_eq!(orders.partitions, 3, "orders declares three partitions");
    // One service for the whole component instead of one per partition.
    let text = repo_compose();
    let start = text.find("\n  orders-p0of3:").expect("orders' first partition");
    let end = text.find("\n  payments-p0of3:").expect("the next component");
    let single = "\n  orders:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      args:\n        \
                  COMPONENT: orders\n    environment:\n      NATS_USER: orders\n    volumes:\n      - orders-data:/data\n";
    let text = format!("{}{single}{}", &text[..start], &text[end..]);
    let found = problems(&text, &components());
    assert!(
        found.iter().any(|p| p.contains("no service `orders-p1of3`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("service `orders` runs orders as one process, but its manifest declares 3")),
        "{found:?}"
    );
    // A partition told another index than its service name says.
    let text = repo_compose().replacen("MANDATE_PARTITION: \"1\"", "MANDATE_PARTITION: \"2\"", 1);
    let found = problems(&text, &components());
    assert!(
        found
            .iter()
            .any(|p| p.contains("`orders-p1of3`: must run as partition 1 of 3")),
        "{found:?}"
    );
}

#[test]
fn a_service_that_does_not_pass_the_stream_replicas_on_is_refused() {
    let text = repo_compose();
    let loyalty = text.find("\n  loyalty:").expect("loyalty's service");
    let line = "      MANDATE_STREAM_REPLICAS: ${MANDATE_STREAM_REPLICAS:-1}\n";
    let at = loyalty + text[loyalty..].find(line).expect("its replicas line");
    let text = format!("{}{}", &text[..at], &text[at + line.len()..]);
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`loyalty`: must pass the stack's stream replicas on"),
        "{found:?}"
    );
}

/// `text` without the first `line` after `service`'s own line.
fn without(text: &str, service: &str, line: &str) -> String {
    let start = text.find(&format!("\n  {service}:\n")).expect("the service");
    let at = start + text[start..].find(line).expect("the line in the service");
    format!("{}{}", &text[..at], &text[at + line.len()..])
}

#[test]
fn a_component_service_without_its_healthcheck_is_refused() {
    // A partition's service is held to it like any other.
    let text = without(
        &repo_compose(),
        "orders-p1of3",
        "      test: [\"CMD\", \"/usr/local/bin/component\", \"--healthcheck\"]\n",
    );
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`orders-p1of3`: must have a healthcheck"),
        "{found:?}"
    );
    assert!(found[0].contains("--healthcheck"), "says what to write: {found:?}");
    let text = without(
        &repo_compose(),
        "loyalty",
        "      test: [\"CMD\", \"python\", \"-m\", \"mandate_kit.healthcheck\", \"loyalty\"]\n",
    );
    let found = problems(&text, &components());
    assert!(
        found.iter().any(|p| p.contains("`loyalty`: must have a healthcheck")),
        "{found:?}"
    );
}

#[test]
fn a_component_service_without_its_metrics_listener_is_refused() {
    let text = without(&repo_compose(), "inventory", "      MANDATE_METRICS: 0.0.0.0:9464\n");
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`inventory`: must turn its metrics listener on"),
        "{found:?}"
    );
}

#[test]
fn a_service_of_another_language_whose_manifest_declares_metrics_needs_its_listener() {
    // loyalty (Python kit) declares "metrics": true: its healthcheck asks that listener.
    let text = without(&repo_compose(), "loyalty", "      MANDATE_METRICS: 0.0.0.0:9464\n");
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`loyalty`: must turn its metrics listener on"),
        "{found:?}"
    );
    // One that does not declare it is not held to it.
    let mut undeclared = components();
    let loyalty = undeclared.iter_mut().find(|c| c.name == "loyalty").expect("loyalty");
    loyalty.metrics = false;
    assert_eq!(problems(&text, &undeclared), Vec::<String>::new());
}

#[test]
fn a_component_service_that_does_not_wait_for_a_healthy_nats_is_refused() {
    let text = without(&repo_compose(), "shipping", "        condition: service_healthy\n");
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`shipping`: must wait for a healthy nats"),
        "{found:?}"
    );
}

#[test]
fn a_syntax_directive_is_found_only_at_the_top() {
    assert_eq!(
        frontend_directive("# syntax=docker/dockerfile:1\nFROM x"),
        Some("# syntax=docker/dockerfile:1")
    );
    assert_eq!(
        frontend_directive("#escape=`\n# Syntax = docker/dockerfile:1.7\nFROM x"),
        Some("# Syntax = docker/dockerfile:1.7")
    );
    assert_eq!(
        frontend_directive("# An image.\n# syntax=docker/dockerfile:1\nFROM x"),
        None
    );
    assert_eq!(frontend_directive("FROM x\n# syntax=docker/dockerfile:1"), None);
}

#[test]
fn an_own_dockerfile_that_fetches_a_frontend_is_refused() {
    let text = "# syntax=docker/dockerfile:1\nFROM python:3.11-slim\nCOPY components/loyalty /app\n";
    let found = problems(
        &repo_compose(),
        &with_build("loyalty", Build::Own(Some(text.to_owned()))),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("fetch that frontend image from Docker Hub"),
        "{found:?}"
    );
}

#[test]
fn a_component_without_a_service_is_named() {
    let mut names = components();
    names.push(Deployed::workspace("order-history"));
    let found = problems(&repo_compose(), &names);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("no service `order-history`"), "{found:?}");
}

#[test]
fn a_service_for_a_removed_component_is_named() {
    let names: Vec<Deployed> = components().into_iter().filter(|c| c.name != "shipping").collect();
    let found = problems(&repo_compose(), &names);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("runs component shipping"), "{found:?}");
}

#[test]
fn a_shared_volume_or_a_committed_password_is_refused() {
    let text = repo_compose()
        .replace("- shipping-data:/data", "- inventory-data:/data")
        .replace(
            "NATS_PASSWORD: ${CATALOG_PASSWORD:?set CATALOG_PASSWORD in .env (copy .env.example)}",
            "NATS_PASSWORD: hunter2",
        );
    let found = problems(&text, &components());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("`catalog`: NATS_PASSWORD"), "{found:?}");
    assert!(
        found[1].contains("`shipping`: must mount its own volume `shipping-data:/data`"),
        "{found:?}"
    );
}

#[test]
fn a_component_in_another_language_is_built_from_its_own_dockerfile() {
    let loyalty = components().into_iter().find(|c| c.name == "loyalty").expect("loyalty");
    assert!(matches!(loyalty.build, Build::Own(Some(_))), "{loyalty:?}");
    // Built from the repository's Dockerfile, as a Rust crate would be: refused.
    let text = repo_compose().replace(
        "dockerfile: components/loyalty/Dockerfile",
        "dockerfile: Dockerfile\n      args:\n        COMPONENT: loyalty",
    );
    let found = problems(&text, &components());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("`loyalty`: components/loyalty is not a Rust crate"),
        "{found:?}"
    );
    // Without a Dockerfile of its own: named.
    let found = problems(&repo_compose(), &with_build("loyalty", Build::Own(None)));
    assert_eq!(
        found,
        ["service `loyalty`: there is no components/loyalty/Dockerfile to build it from"]
    );
}

#[test]
fn a_component_whose_build_reads_another_components_directory_is_refused() {
    let reads = |dockerfile: &str| {
        problems(
            &repo_compose(),
            &with_build("loyalty", Build::Own(Some(dockerfile.to_owned()))),
        )
    };
    assert_eq!(
        reads("FROM python\nCOPY components/loyalty /app\nCOPY clients/python schemas/json /app/\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        reads("FROM python\nCOPY --from=build /out /app\n"),
        Vec::<String>::new()
    );
    for (dockerfile, source) in [
        ("COPY . /src", "`.`"),
        ("COPY ./ /src", "`./`"),
        ("COPY --chown=1:1 components/orders/src /src", "`components/orders/src`"),
        ("ADD components /src", "`components`"),
        (
            "COPY components/loyalty \\\n  components/payments /src",
            "`components/payments`",
        ),
        (r#"COPY ["components/inventory", "/src"]"#, "`components/inventory`"),
        ("copy components/* /src", "`components/*`"),
    ] {
        let found = reads(&format!("FROM python\n{dockerfile}\n"));
        assert_eq!(
            found,
            [format!(
                "service `loyalty`: components/loyalty/Dockerfile copies {source}: a component reads no other component's directory"
            )],
            "{dockerfile}"
        );
    }
}
