//! Helpers shared by the plain-text formats: source lines, where in a patch
//! a finding is best pointed at, word wrapping, the resources of a cycle.

use super::{HunkText, PatchLine, PatchText, SourceText};
use crate::findings::{Finding, Location, Role};

/// The text of 1-based `line` of `path`, without its line ending; `None`
/// when the file cannot be read or is shorter.
pub(super) fn source_line(sources: &dyn SourceText, path: &str, line: u32) -> Option<String> {
    let text = sources.text(path)?;
    let n = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = text.split('\n').nth(n)?;
    Some(l.strip_suffix('\r').unwrap_or(l).to_string())
}

/// The 1-based column, counted in characters, of 1-based byte column
/// `byte_col` on `line_text` (they differ only after non-ASCII text).
pub(super) fn char_column(line_text: &str, byte_col: u32) -> u32 {
    let Ok(b) = usize::try_from(byte_col.saturating_sub(1)) else {
        return byte_col;
    };
    let mut end = b.min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end -= 1;
    }
    u32::try_from(line_text[..end].chars().count() + 1).unwrap_or(byte_col)
}

/// Where a finding of a patch is pointed at: a line of the patch itself.
pub(super) struct PatchSite<'p> {
    pub hunk: &'p HunkText,
    pub line: &'p PatchLine,
    /// The chain location on that line (or the finding's own).
    pub at: Location,
}

/// Which side of a patch a finding's lines are numbered on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// After the patch: a finding it introduces (or leaves).
    New,
    /// Before the patch: a finding it fixes.
    Old,
}

/// The line of `patch` that best shows `f`: the finding's own location if
/// the patch added it (removed it, for `Side::Old`); else a wait on such a
/// line; else any chain step on such a line, nearest the end of the chain
/// first (closest to the wait); else the same on a context line of the
/// patch. `None` when no step of the chain is on a line of the patch (a
/// finding introduced by removed lines only).
pub(super) fn patch_site<'p>(
    f: &Finding,
    patch: &'p PatchText,
    side: Side,
) -> Option<PatchSite<'p>> {
    let own = std::iter::once(&f.location);
    let waits = f
        .chain
        .iter()
        .filter(|s| s.role == Role::Wait)
        .map(|s| &s.at);
    let others = f.chain.iter().rev().map(|s| &s.at);
    let candidates: Vec<&Location> = own.chain(waits).chain(others).collect();
    let changed = match side {
        Side::New => '+',
        Side::Old => '-',
    };
    for marker in [changed, ' '] {
        for loc in &candidates {
            let found = match side {
                Side::New => patch.find(&loc.path, loc.line),
                Side::Old => patch.find_old(&loc.path, loc.line),
            };
            let Some((h, i)) = found else {
                continue;
            };
            let Some(hunk) = patch.hunks.get(h) else {
                continue;
            };
            let Some(line) = hunk.lines.get(i) else {
                continue;
            };
            if line.marker == marker {
                return Some(PatchSite {
                    hunk,
                    line,
                    at: (*loc).clone(),
                });
            }
        }
    }
    None
}

/// `text` wrapped at `width` columns: the first line starts with `first`,
/// the others with `rest`. Words longer than a line stay whole.
pub(super) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::replace(&mut cur, rest.to_string()));
            empty = true;
        }
        if !empty {
            cur.push(' ');
        }
        cur.push_str(word);
        empty = false;
    }
    if !empty || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The name of the first resource of kind `kind` (`work`, `lock`, ...) in
/// the cycle: `work:foo` -> `foo`.
pub(super) fn resource<'f>(f: &'f Finding, kind: &str) -> Option<&'f str> {
    f.cycle
        .iter()
        .find_map(|r| r.strip_prefix(kind)?.strip_prefix(':'))
}

/// `message` as a sentence: with a full stop at the end.
pub(super) fn sentence(message: &str) -> String {
    let m = message.trim();
    if m.ends_with(['.', '?', '!']) {
        m.to_string()
    } else {
        format!("{m}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_width_and_indents() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let lines = wrap(text, 20, " 1. ", "    ");
        assert_eq!(
            lines,
            vec![
                " 1. one two three",
                "    four five six",
                "    seven eight nine",
                "    ten eleven",
                "    twelve"
            ]
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 20));
        assert_eq!(wrap("", 10, "> ", "> "), vec!["> "]);
        let long = wrap("a verylongwordthatdoesnotfit b", 10, "", "");
        assert_eq!(long, vec!["a", "verylongwordthatdoesnotfit", "b"]);
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(char_column("\tfoo();", 2), 2);
        assert_eq!(char_column("/* é */ foo();", 10), 9);
        assert_eq!(char_column("ab", 99), 3);
        assert_eq!(char_column("é", 2), 1);
    }

    #[test]
    fn sentences_end_once() {
        assert_eq!(sentence("a b"), "a b.");
        assert_eq!(sentence("a b."), "a b.");
        assert_eq!(sentence("why? "), "why?");
    }
}
