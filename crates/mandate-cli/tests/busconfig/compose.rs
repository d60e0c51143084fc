//! docker-compose.yml against the repository: a service, a volume and a bus user per
//! component, the pinned nats-server, and every password from the environment. (The file's
//! syntax and interpolation are checked by scripts/check-compose.)

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::common::repo_root;

fn compose() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).expect("docker-compose.yml");
    serde_yaml::from_str(&text).expect("docker-compose.yml is YAML")
}

/// The directories under components/.
fn components() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("components"))
        .expect("components/")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
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

/// `${VAR:?...}` or `${VAR}` → `VAR`.
fn variable(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    Some(inner.split([':', '-', '?']).next().unwrap_or(inner))
}

#[test]
fn every_component_has_a_service_a_volume_and_a_bus_user() {
    let doc = compose();
    let services = &doc["services"];
    let volumes: BTreeSet<String> = doc["volumes"]
        .as_mapping()
        .expect("top-level volumes")
        .keys()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let permissions =
        std::fs::read_to_string(repo_root().join("bus-config/permissions.conf")).expect("bus-config/permissions.conf");
    let mut seen_volumes = BTreeSet::new();
    for name in components() {
        let service = &services[name.as_str()];
        assert!(service.is_mapping(), "docker-compose.yml has no service {name}");
        assert_eq!(str_of(&service["build"]["context"], "build.context"), ".", "{name}");
        assert_eq!(
            str_of(&service["build"]["dockerfile"], "build.dockerfile"),
            "Dockerfile",
            "{name}"
        );
        assert_eq!(
            str_of(&service["build"]["args"]["COMPONENT"], "COMPONENT"),
            name,
            "{name}"
        );
        assert_eq!(str_of(&service["restart"], "restart"), "unless-stopped", "{name}");
        assert_eq!(
            str_of(&service["depends_on"]["nats"]["condition"], "depends_on"),
            "service_healthy",
            "{name}"
        );

        // Its own named volume at /data.
        let mounts = strings(&service["volumes"]);
        let volume = format!("{name}-data");
        assert_eq!(mounts, [format!("{volume}:/data")], "{name}");
        assert!(volumes.contains(&volume), "volume {volume} is not declared");
        assert!(seen_volumes.insert(volume), "{name} shares a volume");

        // Its own bus user, its password from the environment.
        let env = &service["environment"];
        assert_eq!(str_of(&env["NATS_USER"], "NATS_USER"), name, "{name}");
        let password_var = format!("{}_PASSWORD", name.to_uppercase().replace('-', "_"));
        assert_eq!(
            variable(str_of(&env["NATS_PASSWORD"], "NATS_PASSWORD")),
            Some(password_var.as_str()),
            "{name}: NATS_PASSWORD must be ${{{password_var}:?...}}"
        );
        assert!(
            str_of(&env["NATS_URL"], "NATS_URL").contains("nats://nats:4222"),
            "{name}"
        );
        assert!(
            permissions.contains(&format!("user: \"{name}\"\n      password: ${password_var}\n")),
            "bus-config/permissions.conf has no user {name}: run `mandate bus-config --write`"
        );
    }
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
