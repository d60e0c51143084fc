//! `mandate bus-config`: the broker configuration generated from the component manifests
//! (`busconfig/`): say whether the committed files are current and how they differ, `--write`
//! them, or print the nkey variant.

use std::path::PathBuf;

use anyhow::bail;

use super::Global;
use crate::busconfig::{generate, permissions};
use crate::repo::{self, generated, manifest};

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

pub fn run(args: &BusConfigArgs, global: Global) -> anyhow::Result<()> {
    let repo = repo::discover(args.repo.as_deref(), "mandate bus-config")?;
    if args.nkeys {
        let users = permissions::users(&manifest::read_all(&repo)?);
        print!("{}", permissions::render(&users, permissions::Auth::Nkey));
        return Ok(());
    }
    let mut report = Vec::new();
    let mut stale = Vec::new();
    for file in generate(&repo)? {
        let (status, current) = generated::reconcile(&repo.join(file.path), &file.text, args.write)?;
        if status == generated::Status::Stale {
            stale.push(file.path);
        }
        if !global.json {
            generated::print_status(file.path, status, current.as_deref(), &file.text);
        }
        report.push(serde_json::json!({ "path": file.path, "status": status.as_str() }));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::busconfig::tests::repo_with;
    use crate::busconfig::{ENV_EXAMPLE_FILE, PERMISSIONS_FILE, check_repo};

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
}
