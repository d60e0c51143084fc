//! A workspace beside this one, for tests that run the tool as a user does (`mandate new`,
//! then build): this workspace's root manifest and lock with the members cut to
//! `components/*`, the shared crates (kit, testkit, schemas, runner) referred to where they
//! are by absolute path, and copies of the contract's files the tool reads. Built with this
//! workspace's target directory ([`cargo`]), so registry dependencies are not built again.
//!
//! Why not copies of the shared crates: cargo names a workspace crate's build outputs after
//! its path relative to the workspace root, so copies at the same relative paths would share
//! this workspace's outputs in the same target directory and overwrite them with the copy's
//! paths compiled in (testkit's `repo_root()` pointing at a deleted temporary directory).
//! Referred to by absolute path, they build once under names of their own and stay fresh.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::repo_root;

/// A workspace of `components/*` (empty) around this one's shared crates, with copies of
/// `schemas/src`, `schemas/json` and each of `extra` (files or folders, relative to the root).
pub fn workspace_copy(extra: &[&str]) -> tempfile::TempDir {
    let repo = repo_root();
    let copy = tempfile::Builder::new()
        .prefix("mandate-workspace-")
        .tempdir()
        .expect("testkit: tempdir");
    let manifest = fs::read_to_string(repo.join("Cargo.toml")).expect("testkit: Cargo.toml");
    let mut rewritten = String::new();
    for line in manifest.lines() {
        let line = if line.trim_start().starts_with("members") {
            r#"members = ["components/*"]"#.to_owned()
        } else if let Some((before, after)) = line.split_once("path = \"") {
            format!("{before}path = \"{}/{after}", repo.display())
        } else {
            line.to_owned()
        };
        rewritten.push_str(&line);
        rewritten.push('\n');
    }
    assert!(
        rewritten.contains(r#"members = ["components/*"]"#)
            && rewritten.contains(&format!("{}/crates/mandate", repo.display())),
        "testkit: the root manifest has changed shape:\n{rewritten}"
    );
    fs::write(copy.path().join("Cargo.toml"), rewritten).expect("testkit: Cargo.toml written");
    for file in ["Cargo.lock", "rustfmt.toml"] {
        if repo.join(file).exists() {
            copy_file(&repo.join(file), &copy.path().join(file));
        }
    }
    for path in ["schemas/src", "schemas/json"].iter().chain(extra) {
        copy_path(&repo.join(path), &copy.path().join(path));
    }
    fs::create_dir_all(copy.path().join("components")).expect("testkit: components/");
    copy
}

/// Copies a file or a folder (recursively, skipping `target` and hidden entries), keeping
/// modification times so that cargo sees nothing new.
pub fn copy_path(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).expect("testkit: mkdir");
        for entry in fs::read_dir(from).expect("testkit: read_dir") {
            let name = entry.expect("testkit: entry").file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            copy_path(&from.join(&name), &to.join(&name));
        }
    } else {
        copy_file(from, to);
    }
}

fn copy_file(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).expect("testkit: mkdir");
    }
    fs::copy(from, to).unwrap_or_else(|e| panic!("testkit: copying {}: {e}", from.display()));
    let modified = fs::metadata(from).and_then(|m| m.modified()).expect("testkit: mtime");
    fs::File::options()
        .write(true)
        .open(to)
        .and_then(|file| file.set_modified(modified))
        .expect("testkit: set mtime");
}

/// This workspace's target directory (the parent of `target/<profile>`).
pub fn target_dir() -> PathBuf {
    crate::bin_dir()
        .parent()
        .expect("testkit: target/<profile> has a parent")
        .to_path_buf()
}

/// `cargo ARGS` in `dir` with this workspace's target directory (output captured).
pub fn cargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("testkit: cargo runs")
}
