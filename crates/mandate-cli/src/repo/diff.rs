//! A small line diff (longest common subsequence) for showing how a committed file differs
//! from what it should be. The files are a few hundred lines: the quadratic table is fine.

/// The lines of `new` against `old` in unified style (`-` removed, `+` added, ` ` context),
/// with `context` unchanged lines around each change and `@@ -a +b @@` at each hunk.
pub fn unified(old: &str, new: &str, context: usize) -> String {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let ops = operations(&old, &new);
    let changed: Vec<bool> = ops.iter().map(|op| !matches!(op, Op::Same(..))).collect();
    let mut out = String::new();
    let mut index = 0;
    while index < ops.len() {
        if !changed[index] {
            index += 1;
            continue;
        }
        // A hunk: from `context` lines before this change to `context` lines after the last
        // change that is at most 2 * context lines further.
        let start = index.saturating_sub(context);
        let mut end = index;
        while end < ops.len() {
            if changed[end] {
                end += 1;
                continue;
            }
            let next_change = (end..ops.len()).find(|&i| changed[i]);
            match next_change {
                Some(next) if next - end <= 2 * context => end = next,
                _ => break,
            }
        }
        let end = (end + context).min(ops.len());
        let (old_line, new_line) = position(&ops[start]);
        out.push_str(&format!("@@ -{} +{} @@\n", old_line + 1, new_line + 1));
        for op in &ops[start..end] {
            match op {
                Op::Same(_, _, line) => out.push_str(&format!(" {line}\n")),
                Op::Removed(_, _, line) => out.push_str(&format!("-{line}\n")),
                Op::Added(_, _, line) => out.push_str(&format!("+{line}\n")),
            }
        }
        index = end;
    }
    out
}

/// One step of the edit script, with the old and new line indexes before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op<'a> {
    Same(usize, usize, &'a str),
    Removed(usize, usize, &'a str),
    Added(usize, usize, &'a str),
}

fn position(op: &Op<'_>) -> (usize, usize) {
    match *op {
        Op::Same(a, b, _) | Op::Removed(a, b, _) | Op::Added(a, b, _) => (a, b),
    }
}

fn operations<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    // lcs[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            ops.push(Op::Same(i, j, old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Removed(i, j, old[i]));
            i += 1;
        } else {
            ops.push(Op::Added(i, j, new[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", 3), "");
    }

    #[test]
    fn changes_come_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n";
        assert_eq!(
            unified(old, new, 1),
            "@@ -4 +4 @@\n 4\n-5\n+five\n 6\n@@ -9 +9 @@\n 9\n+10\n"
        );
    }

    #[test]
    fn a_missing_file_is_all_added() {
        assert_eq!(unified("", "a\nb\n", 3), "@@ -1 +1 @@\n+a\n+b\n");
    }
}
