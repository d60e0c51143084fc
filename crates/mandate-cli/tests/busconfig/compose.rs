//! docker-compose.yml against the repository: the pinned nats-server with every password
//! from the environment, the cluster profile, the exposed ports, the Dockerfile. (Each
//! component's service, volume and bus user are `mandate check`'s, src/compose/check.rs; the
//! file's syntax and interpolation are checked by scripts/check-compose.)

use serde_yaml_ng::Value;

use crate::common::repo_root;

fn compose() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).expect("docker-compose.yml");
    serde_yaml_ng::from_str(&text).expect("docker-compose.yml is YAML")
}

fn pinned_version() -> String {
    std::fs::read_to_string(repo_root().join("scripts/nats-server.pin"))
        .expect("scripts/nats-server.pin")
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "version").then(|| value.trim().to_owned())
        })
        .expect("a version in scripts/nats-server.pin")
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn nats_is_the_pinned_server_with_the_bus_config_and_every_password() {
    let doc = compose();
    let nats = &doc["services"]["nats"];
    let image = format!("nats:{}-alpine", pinned_version());
    assert_eq!(
        str_of(&nats["image"], "nats image"),
        image,
        "the tag must be scripts/nats-server.pin's version"
    );
    assert_eq!(
        strings(&nats["command"]),
        ["nats-server", "--config", "/etc/nats/nats-server.conf"]
    );
    let mounts = strings(&nats["volumes"]);
    assert!(mounts.contains(&"./bus-config:/etc/nats:ro".to_owned()), "{mounts:?}");
    assert!(mounts.contains(&"nats-data:/data".to_owned()), "{mounts:?}");
    let ports = strings(&nats["ports"]);
    assert!(ports.contains(&"127.0.0.1:8222:8222".to_owned()), "{ports:?}");
    let health = strings(&nats["healthcheck"]["test"]).join(" ");
    assert!(health.contains("http://127.0.0.1:8222/healthz"), "{health}");

    // Every variable of .env.example reaches nats-server, and only through `${VAR:?...}`.
    let env_example = std::fs::read_to_string(repo_root().join(".env.example")).expect(".env.example");
    let vars: Vec<&str> = env_example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(!vars.is_empty());
    let environment = nats["environment"].as_mapping().expect("nats environment");
    for var in &vars {
        let value = environment
            .get(*var)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("nats lacks {var}"));
        assert!(value.starts_with(&format!("${{{var}:?")), "{var}: {value}");
    }
    assert_eq!(
        environment.len(),
        vars.len(),
        "nats has variables .env.example does not list"
    );

    // The cluster profile: three nodes of the same image, each with its own node config.
    for i in 1..=3 {
        let node = &doc["services"][format!("nats-{i}").as_str()];
        assert_eq!(strings(&node["profiles"]), ["cluster"], "nats-{i}");
        assert_eq!(str_of(&node["image"], "image"), image, "nats-{i}");
        assert_eq!(
            strings(&node["command"]),
            ["nats-server", "--config", &format!("/etc/nats/cluster/nats-{i}.conf")]
        );
        assert_eq!(node["environment"], nats["environment"], "nats-{i}");
        assert!(
            strings(&node["volumes"]).contains(&format!("nats-{i}-data:/data")),
            "nats-{i}"
        );
    }
}

#[test]
fn the_gateway_publishes_its_port_and_nothing_else_is_exposed() {
    let doc = compose();
    for (name, service) in doc["services"].as_mapping().expect("services") {
        let name = str_of(name, "service name");
        let ports = strings(&service["ports"]);
        match name {
            "gateway" => assert_eq!(ports, ["8080:8080"]),
            "nats" | "nats-1" | "nats-2" | "nats-3" => {
                assert!(ports.iter().all(|p| p.starts_with("127.0.0.1:")), "{name}: {ports:?}");
            }
            _ => assert!(ports.is_empty(), "{name} publishes {ports:?}"),
        }
    }
}

#[test]
fn the_dockerfile_builds_one_component_as_a_non_root_user() {
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    for needle in [
        "ARG COMPONENT",
        "cargo build --release --locked -p \"$COMPONENT\" --bin \"$COMPONENT\"",
        "MANDATE_DATA_DIR=/data",
        "USER mandate:mandate",
        "VOLUME [\"/data\"]",
    ] {
        assert!(dockerfile.contains(needle), "the Dockerfile lacks {needle:?}");
    }
    assert_eq!(
        dockerfile.matches("\nFROM ").count(),
        2,
        "a build stage and a runtime stage"
    );
}
