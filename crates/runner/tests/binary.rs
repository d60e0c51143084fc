//! Which nats-server the runner accepts: fake servers that print a version, and the real one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner::NatsBinary;

/// Writes an executable script printing `version_line` for `--version`.
fn fake_server(dir: &Path, version_line: &str) -> PathBuf {
    let path = dir.join("nats-server");
    fs::write(&path, format!("#!/bin/sh\necho '{version_line}'\n")).expect("write fake server");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod fake server");
    path
}

/// `NatsBinary::checked`, retrying while another thread's fork still holds the fresh script
/// open for writing (ETXTBSY, "Text file busy": a known hazard of exec'ing a just-written file).
fn checked(bin: &Path) -> Result<NatsBinary, String> {
    for _ in 0..100 {
        match NatsBinary::checked(bin.to_owned()) {
            Err(e) if e.to_string().contains("Text file busy") => std::thread::sleep(Duration::from_millis(10)),
            other => return other.map_err(|e| e.to_string()),
        }
    }
    NatsBinary::checked(bin.to_owned()).map_err(|e| e.to_string())
}

#[test]
fn servers_older_than_2_10_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = fake_server(dir.path(), "nats-server: v2.9.10");
    let err = checked(&old).expect_err("2.9.10 must be refused");
    assert!(err.contains("v2.9.10") && err.contains("older than 2.10.0"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let new = fake_server(dir.path(), "nats-server: v2.10.0");
    assert_eq!(checked(&new).map(|b| b.version), Ok((2, 10, 0)));

    let dir = tempfile::tempdir().expect("tempdir");
    let mute = fake_server(dir.path(), "hello");
    let err = checked(&mute).expect_err("no version");
    assert!(err.contains("printed no version"), "{err}");
}

#[test]
fn the_repository_s_server_is_found_and_supported() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = NatsBinary::find([repo.as_path()]).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(binary.version >= runner::MIN_VERSION, "{binary:?}");
}
