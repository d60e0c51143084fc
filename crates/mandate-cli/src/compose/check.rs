//! What a component's entry in docker-compose.yml must look like, checked on the parsed
//! file: its own `<name>-data` volume at /data, its own bus user whose password comes from
//! `${<NAME>_PASSWORD:?...}`, which the nats service also receives (nats-server resolves the
//! variable in permissions.conf) — and its image: a crate of the workspace is built from the
//! one Dockerfile with `COMPONENT=<name>`; a component in another language from its own
//! `components/<name>/Dockerfile`, with the repository as context, copying nothing of another
//! component's directory. Each also turns its metrics listener on (`MANDATE_METRICS`; one in
//! another language when its manifest declares `"metrics": true`), has a healthcheck (the
//! binary's own `--healthcheck`) and waits for a healthy nats.

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
    /// Whether its process serves `/metrics` and the probes on `MANDATE_METRICS`
    /// (`ComponentManifest::serves_metrics`): then its service must turn the listener on.
    pub metrics: bool,
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
            metrics: true,
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
            metrics: manifest.serves_metrics(),
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
        // Health (docs/operate.md): the listener on for every process that serves one (the Rust
        // kit's; another language's when its manifest declares `"metrics": true`), and the
        // binary asking it — the image has nothing else to ask with; a component in another
        // language brings its own check. Nothing starts before the server it needs answers.
        if component.metrics {
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
#[path = "check_tests.rs"]
mod tests;
