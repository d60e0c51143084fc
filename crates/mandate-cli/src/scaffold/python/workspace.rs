//! A component folder that is not a Rust crate must be named in the root Cargo.toml's
//! `exclude`: the member glob `components/*` cannot skip a folder without a Cargo.toml, and
//! cargo refuses the whole workspace otherwise (`mandate check` says so too).

use std::path::Path;

use anyhow::Context as _;

/// Adds `components/<name>` to `[workspace] exclude` of `repo`'s Cargo.toml (a one-line
/// array, kept sorted; created after `members` when there is none). `Ok(false)` when it is
/// there already; an error saying what to add when the file has another shape.
pub fn exclude(repo: &Path, name: &str) -> anyhow::Result<bool> {
    let path = repo.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(edited) = excluded(&text, &format!("components/{name}")).map_err(|why| {
        anyhow::anyhow!("Cargo.toml: {why}; add \"components/{name}\" to `exclude` under [workspace] by hand")
    })?
    else {
        return Ok(false);
    };
    std::fs::write(&path, edited).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// `text` with `folder` in its workspace's `exclude`, or `None` when it is there already.
fn excluded(text: &str, folder: &str) -> Result<Option<String>, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut in_workspace = false;
    let mut members = None;
    let mut exclude = None;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_workspace = trimmed == "[workspace]";
            continue;
        }
        if !in_workspace {
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        if key == "members" {
            members = Some(index);
        } else if key == "exclude" {
            exclude = Some(index);
        }
    }
    let quoted = format!("\"{folder}\"");
    match (exclude, members) {
        (Some(index), _) => {
            let line = &lines[index];
            let open = line.find('[').ok_or("its `exclude` is not an array")?;
            let close = line
                .rfind(']')
                .filter(|close| *close > open)
                .ok_or("its `exclude` spans several lines")?;
            let mut entries: Vec<String> = line[open + 1..close]
                .split(',')
                .map(|entry| entry.trim().to_owned())
                .filter(|entry| !entry.is_empty())
                .collect();
            if entries.contains(&quoted) {
                return Ok(None);
            }
            entries.push(quoted);
            entries.sort();
            lines[index] = format!("{}[{}]{}", &line[..open], entries.join(", "), &line[close + 1..]);
        }
        (None, Some(index)) => {
            let line = &lines[index];
            if !line.trim_end().ends_with(']') {
                return Err("its `members` spans several lines".to_owned());
            }
            lines.insert(index + 1, format!("exclude = [{quoted}]"));
        }
        (None, None) => return Err("it has no [workspace] with `members`".to_owned()),
    }
    Ok(Some(lines.join("\n") + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_joins_the_exclude_list_in_order() {
        let text = "[workspace]\nresolver = \"3\"\nmembers = [\"crates/*\", \"components/*\"]\n# why\nexclude = [\"components/loyalty\"]\n\n[workspace.package]\nexclude = 1\n";
        let edited = excluded(text, "components/answers").expect("edits").expect("not there");
        assert_eq!(
            edited,
            text.replace(
                "exclude = [\"components/loyalty\"]",
                "exclude = [\"components/answers\", \"components/loyalty\"]"
            )
        );
        assert_eq!(excluded(&edited, "components/answers").expect("reads"), None);
    }

    #[test]
    fn a_workspace_without_exclude_gets_one_after_its_members() {
        let text = "[workspace]\nmembers = [\"components/*\"]\nresolver = \"3\"\n";
        let edited = excluded(text, "components/x").expect("edits").expect("not there");
        assert_eq!(
            edited,
            "[workspace]\nmembers = [\"components/*\"]\nexclude = [\"components/x\"]\nresolver = \"3\"\n"
        );
        let many = "[workspace]\nmembers = [\n  \"a\",\n]\n";
        assert!(
            excluded(many, "components/x")
                .expect_err("refused")
                .contains("several lines")
        );
    }
}
