//! `mandate bus-config`: the broker configuration generated from the component manifests —
//! one bus user per component with least-privilege permissions (`bus-config/permissions.conf`,
//! included by the hand-written `bus-config/nats-server.conf` and the cluster configs) and
//! the list of password variables (`.env.example`).
//!
//! The manifests are the one source of truth: `--write` regenerates the committed files;
//! without it the command says whether they are current and shows the difference.
//! `mandate check` runs the same comparison ([`check_repo`]).

pub mod diff;
pub mod manifest;
pub mod permissions;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::commands::Global;

/// The generated permissions, relative to the repository.
pub const PERMISSIONS_FILE: &str = "bus-config/permissions.conf";
/// The generated list of password variables, relative to the repository.
pub const ENV_EXAMPLE_FILE: &str = ".env.example";

#[derive(Debug, clap::Args)]
pub struct BusConfigArgs {
    /// Rewrite the generated files (bus-config/permissions.conf, .env.example) from the
    /// manifests. Without it: say whether they are current and show how they differ (exit 1
    /// when stale).
    #[arg(long)]
    pub write: bool,
    /// Print the permissions for nkey authentication instead (`nkey: $<USER>_NKEY`, each
    /// user's public key from the environment) on stdout; the committed files are untouched.
    #[arg(long, conflicts_with = "write")]
    pub nkeys: bool,
    /// The repository (default: the workspace around the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

/// A file as the manifests generate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Relative to the repository, with `/`.
    pub path: &'static str,
    pub text: String,
}

/// Everything generated from `repo`'s `components/*/manifest.json`.
pub fn generate(repo: &Path) -> anyhow::Result<Vec<Generated>> {
    let manifests = manifest::read_all(repo)?;
    let users = permissions::users(&manifests);
    Ok(vec![
        Generated {
            path: PERMISSIONS_FILE,
            text: permissions::render(&users, permissions::Auth::Password),
        },
        Generated {
            path: ENV_EXAMPLE_FILE,
            text: env_example(&users),
        },
    ])
}

/// The problems `mandate check` reports: one line per generated file that differs from what
/// the manifests generate, saying how to fix it — or why nothing could be generated (a missing
/// or invalid manifest), so that `check` still reports its other findings.
pub fn check_repo(repo: &Path) -> Vec<String> {
    let generated = match generate(repo) {
        Ok(generated) => generated,
        Err(err) => {
            return vec![format!(
                "cannot generate bus-config from components/*/manifest.json: {err:#}"
            )];
        }
    };
    let mut problems = Vec::new();
    for file in generated {
        match committed(repo, file.path) {
            Ok(Some(text)) if text == file.text => {}
            Ok(_) => problems.push(format!(
                "{} differs from what components/*/manifest.json generate: run `mandate bus-config --write` (and commit it)",
                file.path
            )),
            Err(err) => problems.push(format!("{err:#}")),
        }
    }
    problems
}

/// Rewrites the generated files of `repo` that differ from what its manifests generate;
/// returns the ones it wrote.
pub fn write_repo(repo: &Path) -> anyhow::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    for file in generate(repo)? {
        if committed(repo, file.path)?.as_deref() != Some(file.text.as_str()) {
            write_file(repo, &file)?;
            written.push(file.path);
        }
    }
    Ok(written)
}

fn write_file(repo: &Path, file: &Generated) -> anyhow::Result<()> {
    let path = repo.join(file.path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, &file.text).with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: &BusConfigArgs, global: Global) -> anyhow::Result<()> {
    let repo = match &args.repo {
        Some(repo) => repo.clone(),
        None => crate::check::current_workspace()?,
    };
    if args.nkeys {
        let users = permissions::users(&manifest::read_all(&repo)?);
        print!("{}", permissions::render(&users, permissions::Auth::Nkey));
        return Ok(());
    }
    let mut report = Vec::new();
    let mut stale = Vec::new();
    for file in generate(&repo)? {
        let current = committed(&repo, file.path)?;
        let up_to_date = current.as_deref() == Some(file.text.as_str());
        let status = match (up_to_date, args.write) {
            (true, _) => "current",
            (false, true) => {
                write_file(&repo, &file)?;
                "written"
            }
            (false, false) => {
                stale.push(file.path);
                "stale"
            }
        };
        if !global.json {
            match status {
                "stale" => match &current {
                    Some(current) => {
                        println!("{}: stale (- committed, + generated)", file.path);
                        print!("{}", diff::unified(current, &file.text, 3));
                    }
                    None => println!("{}: missing", file.path),
                },
                status => println!("{}: {status}", file.path),
            }
        }
        report.push(serde_json::json!({ "path": file.path, "status": status }));
    }
    if global.json {
        println!("{}", serde_json::json!({ "files": report }));
    }
    if !stale.is_empty() {
        let verb = if stale.len() == 1 { "differs" } else { "differ" };
        bail!(
            "{} {verb} from what components/*/manifest.json generate: run `mandate bus-config --write` and commit the result",
            stale.join(" and ")
        );
    }
    Ok(())
}

/// The committed text of `path`, `None` when there is no such file.
fn committed(repo: &Path, path: &str) -> anyhow::Result<Option<String>> {
    let full = repo.join(path);
    match std::fs::read_to_string(&full) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", full.display())),
    }
}

/// `.env.example`: every user's password variable with a placeholder.
fn env_example(users: &[permissions::User]) -> String {
    let mut out = String::from(
        "\
# GENERATED by `mandate bus-config --write` from components/*/manifest.json: do not edit.
#
# The passwords of the bus users of bus-config/permissions.conf. nats-server reads them from
# its environment, each component's container gets its own (docker-compose.yml).
#
# Copy this file to `.env` (git-ignored) and replace every value with a secret of your own,
# e.g. the output of: echo \"pw$(openssl rand -hex 24)\"
# nats-server parses a variable's value as a config value, so use only letters, digits, `-`
# and `_`, starting with a letter: `123` would become a number, `true` a boolean, and a
# space or a comma breaks the configuration.
",
    );
    for user in users {
        out.push_str(&format!("\n# {}\n", user.summary[0]));
        out.push_str(&format!("{}=change-me-{}\n", user.password_var, user.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(manifests: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, json) in manifests {
            let component = dir.path().join("components").join(name);
            std::fs::create_dir_all(&component).expect("mkdir");
            std::fs::write(component.join("manifest.json"), json).expect("write");
        }
        dir
    }

    #[test]
    fn stale_files_are_reported_until_written() {
        let repo = repo_with(&[("alpha", r#"{"name":"alpha","serves":["alpha.get.v1"]}"#)]);
        let problems = check_repo(repo.path());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("bus-config/permissions.conf differs"));
        assert!(problems[0].contains("mandate bus-config --write"));

        let args = BusConfigArgs {
            write: false,
            nkeys: false,
            repo: Some(repo.path().to_owned()),
        };
        let err = run(&args, Global { json: true }).expect_err("stale");
        assert!(err.to_string().contains("mandate bus-config --write"), "{err}");

        let args = BusConfigArgs {
            write: true,
            nkeys: false,
            repo: Some(repo.path().to_owned()),
        };
        run(&args, Global { json: true }).expect("writes");
        assert_eq!(check_repo(repo.path()), Vec::<String>::new());
        let env = std::fs::read_to_string(repo.path().join(ENV_EXAMPLE_FILE)).expect("written");
        assert!(env.contains("\nALPHA_PASSWORD=change-me-alpha\n"));
        assert!(env.contains("\nOPERATOR_PASSWORD=change-me-operator\n"));
        assert!(env.contains("\nOBSERVER_PASSWORD=change-me-observer\n"));

        std::fs::write(
            repo.path().join("components/alpha/manifest.json"),
            r#"{"name":"alpha","serves":["alpha.get.v1"],"publishes":["alpha.happened.v1"]}"#,
        )
        .expect("write");
        let problems = check_repo(repo.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with(PERMISSIONS_FILE));
    }

    #[test]
    fn a_manifest_must_sit_in_its_components_directory() {
        let repo = repo_with(&[("alpha", r#"{"name":"beta","serves":["beta.get.v1"]}"#)]);
        let err = generate(repo.path()).expect_err("refused");
        assert!(format!("{err:#}").contains("components/alpha"), "{err:#}");
        // `mandate check` reports it as a problem rather than stopping.
        let problems = check_repo(repo.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("cannot generate bus-config"), "{problems:?}");
    }
}
