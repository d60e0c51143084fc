//! The cycle every generator shares: a file generated from the repository's committed sources
//! is compared with the committed one, then written (`--write`, or `mandate asyncapi` without
//! `--check`) or reported as stale with a diff. `mandate check` runs the comparison only.

use std::path::Path;

use anyhow::Context;

use super::diff;

/// A file as the committed sources generate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Relative to the repository, with `/`.
    pub path: &'static str,
    pub text: String,
}

/// Where a generated file stands after [`reconcile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Current,
    Written,
    Stale,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Written => "written",
            Status::Stale => "stale",
        }
    }
}

/// The committed text of `path`, `None` when there is no such file.
pub fn committed(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `text` to `path`, creating its folder.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Compares `path` with `generated`; writes it when it differs and `write` is set. Returns the
/// status and the committed text as it was.
pub fn reconcile(path: &Path, generated: &str, write_it: bool) -> anyhow::Result<(Status, Option<String>)> {
    let current = committed(path)?;
    let status = match (current.as_deref() == Some(generated), write_it) {
        (true, _) => Status::Current,
        (false, true) => {
            write(path, generated)?;
            Status::Written
        }
        (false, false) => Status::Stale,
    };
    Ok((status, current))
}

/// The line a person reads for one file: its status, or for a stale one how it differs
/// (`-` committed, `+` generated), or that it is missing.
pub fn print_status(shown: &str, status: Status, current: Option<&str>, generated: &str) {
    match (status, current) {
        (Status::Stale, Some(current)) => {
            println!("{shown}: stale (- committed, + generated)");
            print!("{}", diff::unified(current, generated, 3));
        }
        (Status::Stale, None) => println!("{shown}: missing"),
        (status, _) => println!("{shown}: {}", status.as_str()),
    }
}
