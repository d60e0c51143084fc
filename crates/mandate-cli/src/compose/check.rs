//! What a component's entry in docker-compose.yml must look like, checked on the parsed
//! file: its own `<name>-data` volume at /data, its own bus user whose password comes from
//! `${<NAME>_PASSWORD:?...}`, which the nats service also receives (nats-server resolves the
//! variable in permissions.conf) — and its image: a crate of the workspace is built from the
//! one Dockerfile with `COMPONENT=<name>`; a component in another language from its own
//! `components/<name>/Dockerfile`, with the repository as context, copying nothing of another
//! component's directory. Each also turns its metrics listener on (`MANDATE_METRICS`), has a
//! healthcheck (the binary's own `--healthcheck`) and waits for a healthy nats.

use std::path::Path;

use serde_yaml_ng::Value;

use crate::busconfig::permissions::password_var;
use crate::repo::manifest::ComponentManifest;

/// A component as the compose file must run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub name: String,
    pub build: Build,
    /// How many partitions it runs as (its manifest's `partitions.count`, else 1): a service
    /// `<name>-p<P>of<N>` each, with its own volume, all as the component's bus user.
    pub partitions: u32,
}

/// How a component's image is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// A crate of the workspace: the repository's Dockerfile, `COMPONENT=<name>`.
    Workspace,
    /// Not a Rust crate (its manifest's `start` is a command): its own
    /// `components/<name>/Dockerfile`, whose text this is (`None` when it has none).
    Own(Option<String>),
}

impl Deployed {
    pub fn workspace(name: &str) -> Deployed {
        Deployed {
            name: name.to_owned(),
            build: Build::Workspace,
            partitions: 1,
        }
    }

    /// The component of `manifest` in `repo`: a workspace crate unless its manifest starts it
    /// with a command of its own (the process runner's rule).
    pub fn in_repo(repo: &Path, manifest: &ComponentManifest) -> Deployed {
        let build = match manifest.start {
            Some(runner::Start::Command(_)) => {
                Build::Own(std::fs::read_to_string(repo.join(own_dockerfile(&manifest.name))).ok())
            }
            _ => Build::Workspace,
        };
        Deployed {
            name: manifest.name.clone(),
            build,
            partitions: manifest.partitions.as_ref().map_or(1, |p| p.count.max(1)),
        }
    }

    /// Its services: its name, or `<name>-p<P>of<N>` per partition with `(P, N)`.
    pub fn services(&self) -> Vec<(String, Option<(u32, u32)>)> {
        if self.partitions <= 1 {
            return vec![(self.name.clone(), None)];
        }
        (0..self.partitions)
            .map(|p| {
                (
                    format!("{}-p{p}of{}", self.name, self.partitions),
                    Some((p, self.partitions)),
                )
            })
            .collect()
    }
}

/// `components/<name>/Dockerfile`: where a component in another language keeps its build.
pub fn own_dockerfile(name: &str) -> String {
    format!("components/{name}/Dockerfile")
}

/// Where a component's metrics listener listens in its container.
pub const METRICS_ADDR: &str = "0.0.0.0:9464";

/// The healthcheck of a component built from the repository's Dockerfile.
pub const HEALTHCHECK: [&str; 3] = ["CMD", "/usr/local/bin/component", "--healthcheck"];

/// Every problem of compose file `text` for `components` (component names), one line each.
pub fn problems(text: &str, components: &[Deployed]) -> Vec<String> {
    let doc: Value = match serde_yaml_ng::from_str(text) {
        Ok(doc) => doc,
        Err(err) => return vec![format!("docker-compose.yml is not YAML: {err}")],
    };
    let mut problems = Vec::new();
    let services = &doc["services"];
    for component in components {
        for (service_name, partition) in component.services() {
            check_service(&doc, &service_name, partition, component, &mut problems);
        }
    }
    if let Some(services) = services.as_mapping() {
        for (service, body) in services {
            let built = text_of(&body["build"]["args"]["COMPONENT"]).or_else(|| {
                text_of(&body["build"]["dockerfile"])?
                    .strip_prefix("components/")?
                    .strip_suffix("/Dockerfile")
            });
            let Some(built) = built else { continue };
            let service = text_of(service).unwrap_or("?");
            match components.iter().find(|c| c.name == built) {
                None => problems.push(format!(
                    "service `{service}` runs component {built}, which has no components/{built}/manifest.json"
                )),
                Some(component) if !component.services().iter().any(|(name, _)| name == service) => {
                    let names: Vec<String> = component.services().into_iter().map(|(name, _)| name).collect();
                    problems.push(format!(
                        "service `{service}` runs {built} as one process, but its manifest declares {} partitions: \
                         run one service per partition, {}",
                        component.partitions,
                        names.join(", ")
                    ));
                }
                Some(_) => {}
            }
        }
    }
    problems
}

/// The problems of one service of `component`: `service_name`, running it whole or as
/// partition `(P, N)`.
fn check_service(
    doc: &Value,
    service_name: &str,
    partition: Option<(u32, u32)>,
    component: &Deployed,
    problems: &mut Vec<String>,
) {
    let name = &component.name;
    let nats_env = &doc["services"]["nats"]["environment"];
    {
        let Some(service) = doc["services"].get(service_name).filter(|s| s.is_mapping()) else {
            problems.push(match partition {
                None => format!(
                    "no service `{name}` for components/{name}: add it like the other components' (`mandate new component` does it for new ones)"
                ),
                Some((p, n)) => format!(
                    "no service `{service_name}` for partition {p} of {n} of components/{name} (its manifest's `partitions`): \
                     add one like the other partitions', with its own volume"
                ),
            });
            return;
        };
        let mut expect = |ok: bool, what: String| {
            if !ok {
                problems.push(format!("service `{service_name}`: {what}"));
            }
        };
        if let Some((p, n)) = partition {
            let (count, index) = (n.to_string(), p.to_string());
            expect(
                text_of(&service["environment"]["MANDATE_PARTITIONS"]) == Some(count.as_str())
                    && text_of(&service["environment"]["MANDATE_PARTITION"]) == Some(index.as_str()),
                format!("must run as partition {p} of {n}: MANDATE_PARTITIONS: \"{n}\", MANDATE_PARTITION: \"{p}\""),
            );
        }
        match &component.build {
            Build::Workspace => {
                expect(
                    text_of(&service["build"]["args"]["COMPONENT"]) == Some(name),
                    format!("must be built with the build argument COMPONENT: {name}"),
                );
                expect(
                    text_of(&service["build"]["dockerfile"]) == Some("Dockerfile"),
                    "must be built from the repository's Dockerfile".to_owned(),
                );
            }
            Build::Own(dockerfile) => {
                let own = own_dockerfile(name);
                expect(
                    text_of(&service["build"]["dockerfile"]) == Some(own.as_str())
                        && text_of(&service["build"]["context"]) == Some("."),
                    format!(
                        "components/{name} is not a Rust crate: build it from its own Dockerfile, \
                         `context: .` and `dockerfile: {own}`"
                    ),
                );
                match dockerfile {
                    None => expect(false, format!("there is no {own} to build it from")),
                    Some(text) => {
                        if let Some(directive) = frontend_directive(text) {
                            expect(false, format!("{own}: {}", fetches_a_frontend(directive)));
                        }
                        for reads in foreign_copies(name, text) {
                            expect(
                                false,
                                format!("{own} copies {reads}: a component reads no other component's directory"),
                            );
                        }
                    }
                }
            }
        }
        let volume = format!("{service_name}-data");
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
            format!("must connect as its component's bus user: NATS_USER: {name}"),
        );
        // The cluster profile's command sets MANDATE_STREAM_REPLICAS=3 for the whole stack; a
        // service that does not pass it on creates its stream with one replica, which a lost
        // node then takes down (`scripts/check-compose` runs that command).
        expect(
            text_of(&service["environment"]["MANDATE_STREAM_REPLICAS"]).and_then(variable)
                == Some("MANDATE_STREAM_REPLICAS"),
            "must pass the stack's stream replicas on: MANDATE_STREAM_REPLICAS: ${MANDATE_STREAM_REPLICAS:-1}"
                .to_owned(),
        );
        // Health (docs/operate.md): the Rust kit's listener on, and the binary asking it — the
        // image has nothing else to ask with; a component in another language brings its own
        // check. Nothing starts before the server it needs answers.
        if component.build == Build::Workspace {
            expect(
                text_of(&service["environment"]["MANDATE_METRICS"]).is_some(),
                format!(
                    "must turn its metrics listener on, which its healthcheck asks: MANDATE_METRICS: {METRICS_ADDR}"
                ),
            );
        }
        let healthcheck = strings(&service["healthcheck"]["test"]);
        let healthy = match component.build {
            Build::Workspace => healthcheck == HEALTHCHECK,
            Build::Own(_) => !healthcheck.is_empty(),
        };
        expect(
            healthy,
            match component.build {
                Build::Workspace => format!("must have a healthcheck: `test: {HEALTHCHECK:?}` (the image's own binary asks its /readyz)"),
                Build::Own(_) => "must have a healthcheck (`healthcheck: test: [...]`), e.g. `python -m mandate_kit.healthcheck <name>` for a component on the Python kit".to_owned(),
            },
        );
        expect(
            text_of(&service["depends_on"]["nats"]["condition"]) == Some("service_healthy"),
            "must wait for a healthy nats: `depends_on: nats: condition: service_healthy`".to_owned(),
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
}

/// The `# syntax=` parser directive at the top of `dockerfile`, if it has one. BuildKit then
/// pulls that frontend image from Docker Hub before it reads a line — a build fails where
/// registries are not reachable, for nothing: the built-in frontend handles cache mounts.
pub fn frontend_directive(dockerfile: &str) -> Option<&str> {
    for line in dockerfile.lines() {
        // Parser directives are comments of the form `# key=value` before anything else.
        let comment = line.trim_start().strip_prefix('#')?;
        let (key, _) = comment.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("syntax") {
            return Some(line.trim());
        }
    }
    None
}

/// What is wrong with a Dockerfile's `directive`, and what to do.
pub fn fetches_a_frontend(directive: &str) -> String {
    format!(
        "`{directive}` makes BuildKit fetch that frontend image from Docker Hub, so the image cannot be built where registries are unreachable; the built-in frontend handles cache mounts: remove the line"
    )
}

/// What `dockerfile`'s COPY and ADD instructions take from the build context (the repository)
/// that is not `name`'s: the whole context, `components/` or another component's folder.
/// Copies from another stage or image (`--from`) read no context.
fn foreign_copies(name: &str, dockerfile: &str) -> Vec<String> {
    let mut found = Vec::new();
    for instruction in dockerfile.replace("\\\n", " ").lines() {
        let mut words = instruction.split_whitespace();
        if !words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("COPY") || w.eq_ignore_ascii_case("ADD"))
        {
            continue;
        }
        let words: Vec<&str> = words.collect();
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let args: Vec<String> = match words.iter().position(|w| w.starts_with('[')) {
            Some(at) => serde_json::from_str(&words[at..].join(" ")).unwrap_or_default(),
            None => words
                .iter()
                .filter(|w| !w.starts_with("--"))
                .map(|w| (*w).to_owned())
                .collect(),
        };
        let Some((_, sources)) = args.split_last() else {
            continue;
        };
        for source in sources {
            let path = source.trim_start_matches("./").trim_end_matches('/');
            let folder = path
                .strip_prefix("components/")
                .map(|rest| rest.split('/').next().unwrap_or(""));
            let whole = matches!(path, "" | "." | "components") || path.starts_with('*');
            if whole || folder.is_some_and(|folder| folder != name) {
                found.push(format!("`{source}`"));
            }
        }
    }
    found
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
}
