//! `mandate asyncapi`: writes the AsyncAPI document of the whole system (`asyncapi/`) to
//! schemas/asyncapi.yaml, another file or stdout, or (`--check`) says whether the committed
//! one is current and how it differs.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::Global;
use crate::asyncapi::{DOCUMENT_FILE, REGENERATE, generate};
use crate::repo::{self, generated};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    mandate asyncapi                 # rewrite schemas/asyncapi.yaml\n  \
    mandate asyncapi --check         # exit 1 (with a diff) when it is stale\n  \
    mandate asyncapi -o - | less     # print it")]
pub struct AsyncApiArgs {
    /// The repository (default: the workspace around the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Write the document to FILE instead of schemas/asyncapi.yaml (`-`: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with = "check")]
    pub output: Option<PathBuf>,

    /// Write nothing: say whether schemas/asyncapi.yaml is current, show how it differs, and
    /// exit 1 when it is stale.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &AsyncApiArgs, global: Global) -> anyhow::Result<()> {
    let repo = repo::discover(args.repo.as_deref(), REGENERATE)?;
    let text = generate(&repo)?;
    if args.output.as_deref() == Some(Path::new("-")) {
        print!("{text}");
        return Ok(());
    }
    let path = args.output.clone().unwrap_or_else(|| repo.join(DOCUMENT_FILE));
    let (status, current) = generated::reconcile(&path, &text, !args.check)?;
    let shown = path.strip_prefix(&repo).unwrap_or(&path).display().to_string();
    if global.json {
        println!("{}", serde_json::json!({ "path": shown, "status": status.as_str() }));
    } else {
        generated::print_status(&shown, status, current.as_deref(), &text);
    }
    if status == generated::Status::Stale {
        bail!(
            "{shown} differs from what schemas/json/** and components/*/manifest.json generate: run `{REGENERATE}` and commit the result"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asyncapi::check_repo;
    use crate::asyncapi::tests::copy_contract;

    #[test]
    fn check_reports_a_stale_or_missing_document_and_how_to_fix_it() {
        let repo = tempfile::tempdir().expect("tempdir");
        // No contract at all: nothing to describe.
        assert!(check_repo(repo.path()).is_empty());
        copy_contract(repo.path());
        let problems = check_repo(repo.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("is missing: run `mandate asyncapi`"),
            "{problems:?}"
        );

        let args = AsyncApiArgs {
            repo: Some(repo.path().to_owned()),
            output: None,
            check: false,
        };
        run(&args, Global { json: true }).expect("writes");
        assert!(check_repo(repo.path()).is_empty());
        run(&AsyncApiArgs { check: true, ..args }, Global { json: true }).expect("current");

        // A manifest change makes it stale.
        let manifest = repo.path().join("components/shipping/manifest.json");
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        std::fs::write(
            &manifest,
            text.replace("\"shipping.get.v1\"", "\"shipping.get.v1\", \"shipping.track.v1\""),
        )
        .expect("write");
        let problems = check_repo(repo.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("differs from what"), "{problems:?}");
        assert!(problems[0].contains("run `mandate asyncapi`"), "{problems:?}");
        let stale = run(
            &AsyncApiArgs {
                repo: Some(repo.path().to_owned()),
                output: None,
                check: true,
            },
            Global { json: true },
        );
        assert!(stale.expect_err("stale").to_string().contains("mandate asyncapi"));
        // An operation without a committed schema still gets its channels.
        let text = generate(repo.path()).expect("generates");
        assert!(
            text.contains("\n  svc.shipping.track.v1:\n"),
            "no channel for the new operation"
        );
        assert!(text.contains("No JSON Schema is committed for shipping.track.v1.request"));
        assert!(text.contains("Commit your schemas"), "says how any owner publishes one");
    }
}
