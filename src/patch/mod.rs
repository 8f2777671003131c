//! Patches as kernel developers exchange them, parsed and applied in memory.
//!
//! In: the bytes of one input (`git format-patch` output, an mbox holding a
//! whole series, or a plain unified diff) and, for application, a callback
//! that returns the current bytes of a file of the tree being patched.
//! Out: a [`Series`] of [`Patch`]es in input order ([`parse_series`]), and for
//! each patch the new content of every file it touches plus the new-file line
//! numbers of its own lines ([`apply`]), so that `waitcheck patch` can compare
//! the analysis before and after each patch of a series and point at the
//! lines the patch introduced.
//!
//! Nothing here touches the file system: the caller owns the tree and the
//! overlay that accumulates the patches of a series, applying them one after
//! another in the order of [`Series::patches`].
//!
//! Errors name the input, the line in the input and the reason
//! ([`PatchError`]), or the patch, file and hunk that failed ([`ApplyError`]).

mod apply;
mod parse;

pub use apply::{apply, Applied, ApplyError, ApplyErrorKind, HunkOffset, TouchedLines};
pub use parse::parse_series;

use std::fmt;

/// Every patch found in one input, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub patches: Vec<Patch>,
}

impl Series {
    /// The patches that change files: cover letters and other messages
    /// without a diff are left out.
    pub fn changes(&self) -> impl Iterator<Item = &Patch> {
        self.patches.iter().filter(|p| !p.cover_letter)
    }
}

/// One patch: one mail of a series, or the whole input for a plain diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The subject without its `[PATCH ...]` tags (and without `Re:`); for a
    /// plain diff without mail headers, the first line of text before the
    /// diff, or failing that the input's name.
    pub subject: String,
    /// `(n, m)` from a `[PATCH n/m]` tag; `(0, m)` is a cover letter.
    pub index: Option<(u32, u32)>,
    /// The `From:` header (or in-body `From:`), decoded.
    pub author: Option<String>,
    /// The commit message: the body up to the `---` line or the first diff,
    /// with mbox `>From ` quoting undone. Empty for plain diffs.
    pub description: String,
    pub files: Vec<FileDiff>,
    /// 1-based line of the input where this patch starts.
    pub start_line: usize,
    /// True for a message without any diff (a `[PATCH 0/n]` cover letter or
    /// a reply kept in an mbox): it has no files and callers skip it.
    pub cover_letter: bool,
}

impl Patch {
    /// How errors and reports name this patch: `[PATCH n/m] subject`.
    pub fn title(&self) -> String {
        match self.index {
            Some((n, m)) => format!("[PATCH {n}/{m}] {}", self.subject),
            None => self.subject.clone(),
        }
    }
}

/// The changes of one file within a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Path relative to the tree root; `None` for a new file.
    pub old_path: Option<String>,
    /// Path relative to the tree root; `None` for a deleted file.
    pub new_path: Option<String>,
    pub hunks: Vec<Hunk>,
    /// A binary change (`GIT binary patch` or `Binary files ... differ`):
    /// it has no hunks and callers count it as skipped.
    pub binary: bool,
    /// `rename from`/`rename to`: the old path disappears.
    pub rename: bool,
    /// `copy from`/`copy to`: the old path stays.
    pub copy: bool,
    /// `similarity index N%` of a rename or copy.
    pub similarity: Option<u32>,
    /// File modes from `old mode`/`deleted file mode` and
    /// `new mode`/`new file mode`, e.g. `0o100644`.
    pub old_mode: Option<u32>,
    pub new_mode: Option<u32>,
    /// 1-based input line of its header (`diff --git` or `---`).
    pub line: usize,
}

impl FileDiff {
    /// The path this diff is known by in messages: the new one unless the
    /// file is deleted.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }
}

/// One `@@ -old_start,old_len +new_start,new_len @@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: u32,
    pub old_len: u32,
    pub new_start: u32,
    pub new_len: u32,
    pub lines: Vec<HunkLine>,
    /// `\ No newline at end of file` followed the last old-side line
    /// (the last `Context` or `Remove`).
    pub old_missing_newline: bool,
    /// `\ No newline at end of file` followed the last new-side line
    /// (the last `Context` or `Add`).
    pub new_missing_newline: bool,
    /// 1-based input line of the `@@` header.
    pub line: usize,
}

impl Hunk {
    /// The lines the file has before the hunk applies.
    pub fn old_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            HunkLine::Context(s) | HunkLine::Remove(s) => Some(s.as_str()),
            HunkLine::Add(_) => None,
        })
    }

    /// The lines the file has after the hunk applies.
    pub fn new_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            HunkLine::Context(s) | HunkLine::Add(s) => Some(s.as_str()),
            HunkLine::Remove(_) => None,
        })
    }
}

/// One line of a hunk body, without its leading marker and line ending.
/// Bytes that are not UTF-8 are replaced by U+FFFD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

/// Why an input could not be parsed; always names the input and a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PatchError {
    /// The input's name as given to [`parse_series`].
    pub input: String,
    /// 1-based line of the input where the problem is.
    pub line: usize,
    pub kind: PatchErrorKind,
}

impl PatchError {
    fn render(&self) -> String {
        match self.kind {
            // Worded as callers show it for a file that is not a patch at
            // all; a line number would only distract there.
            PatchErrorKind::NoPatch => format!("{}: {}", self.input, self.kind),
            _ => format!("{}:{}: {}", self.input, self.line, self.kind),
        }
    }
}

/// The reason of a [`PatchError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchErrorKind {
    #[error("no patch found (expected a unified diff, git format-patch output or an mbox)")]
    NoPatch,
    #[error("malformed hunk header `{header}`: {reason}")]
    MalformedHunkHeader { header: String, reason: String },
    #[error("hunk body shorter than its header says: `{header}` announces {expected}, found {found} before {stop}")]
    HunkTooShort {
        header: String,
        expected: LineCounts,
        found: LineCounts,
        stop: String,
    },
    #[error("hunk body longer than its header says: `{header}` announces {expected}, but line {extra_line} continues the hunk")]
    HunkTooLong {
        header: String,
        expected: LineCounts,
        extra_line: usize,
    },
    #[error("truncated input: {0}")]
    Truncated(String),
    #[error("malformed file header: {0}")]
    MalformedFileHeader(String),
    #[error("combined diffs (merge commits) are not supported")]
    CombinedDiff,
    #[error("`{0}` is numbered as a patch but contains no diff")]
    EmptyPatch(String),
}

/// Old- and new-side line counts of a hunk, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    pub old: u32,
    pub new: u32,
}

impl fmt::Display for LineCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} old and {} new lines", self.old, self.new)
    }
}

/// Helpers shared by the tests of `parse` and `apply`.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// `testdata/patches` of this crate.
    pub fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/patches")
    }

    /// The bytes of one test file under `testdata/patches`.
    pub fn read(rel: &str) -> Vec<u8> {
        let path = dir().join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every patch file under `testdata/patches`, as (name, bytes).
    pub fn all_patches() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(dir()).expect("testdata/patches");
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_patch = [".patch", ".mbox", ".diff", ".txt"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if is_patch {
                out.push((name.clone(), read(&name)));
            }
        }
        out.sort();
        out
    }
}
