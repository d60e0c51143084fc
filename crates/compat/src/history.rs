//! The append-only revision history FULL_TRANSITIVE compares against:
//! `<history>/<message stem>/<NNNN>.json`.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One committed revision of a message version's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// 1 for `0001.json`.
    pub number: u32,
    pub schema: Value,
}

impl Revision {
    /// `0001`, as the file is named.
    pub fn label(&self) -> String {
        format!("{:04}", self.number)
    }
}

/// The revisions kept in `dir` (`0001.json`, `0002.json`, ...), oldest first; none if the
/// directory does not exist. Fails on a file that is not JSON and on a gap in the numbering
/// (history is append-only: a missing number means a revision was deleted).
pub fn read_history(dir: &Path) -> io::Result<Vec<Revision>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut revisions = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(number) = revision_number(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        let schema = serde_json::from_str(&text).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not JSON: {err}", path.display()),
            )
        })?;
        revisions.push(Revision { number, schema });
    }
    revisions.sort_by_key(|revision| revision.number);
    for (expected, revision) in (1..).zip(&revisions) {
        if revision.number != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: revision {expected:04} is missing (history is append-only: restore it from version control)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(revisions)
}

/// Appends `schema_text` (a JSON Schema, written as given) as the next revision in `dir` and
/// returns its path. The file appears atomically (written aside, then renamed), so a reader
/// running at the same time never sees half a revision.
pub fn append_revision(dir: &Path, schema_text: &str) -> io::Result<PathBuf> {
    serde_json::from_str::<Value>(schema_text)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, format!("not JSON: {err}")))?;
    std::fs::create_dir_all(dir)?;
    let next = read_history(dir)?.last().map_or(1, |newest| newest.number + 1);
    let path = dir.join(format!("{next:04}.json"));
    let aside = dir.join(format!(".{next:04}.json.partial"));
    std::fs::write(&aside, schema_text)?;
    std::fs::rename(&aside, &path)?;
    Ok(path)
}

/// `NNNN.json` → NNNN; anything else (a partial write, a README) is not a revision.
fn revision_number(path: &Path) -> Option<u32> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    if stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok().filter(|&number| number > 0)
    } else {
        None
    }
}
