//! Stage 6: findings become bytes on a writer.
//!
//! In: the sorted findings, the run's `Stats`, and access to the source
//! text the findings point into (`SourceText`); in patch mode, per patch,
//! the patch's own lines (`PatchText`). Out: the chosen `Format` written to
//! any `std::io::Write`. Every format is rendered from the same `Finding`
//! values, so they never disagree; this stage decides nothing about what is
//! a finding or in which order findings come.
//!
//! | format | for | module |
//! |---|---|---|
//! | `human` | a terminal: codespan-reporting diagnostics | `human` |
//! | `json` | DESIGN.md's output contract | `json` |
//! | `checkpatch` | pre-submit, b4, tools that parse checkpatch.pl | `checkpatch` |
//! | `sarif` | GitHub code scanning and other SARIF 2.1.0 consumers | `sarif` |
//! | `github` | GitHub Actions workflow-command annotations | `github` |
//! | `review` | a ready-to-paste LKML reply, like the seed review | `review` |

mod checkpatch;
mod github;
mod human;
mod json;
mod review;
mod sarif;
mod text;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::findings::Finding;

/// The output formats of `waitcheck check` and `waitcheck patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with source snippets (codespan-reporting), then a summary.
    Human,
    /// DESIGN.md's output contract: `{"version":1,"findings":[...],"stats":{...}}`.
    Json,
    /// checkpatch.pl's layout: `WARNING: message`, `#N: FILE: path:line:`,
    /// the quoted line, `total: ...`, the verdict.
    Checkpatch,
    /// SARIF 2.1.0, as GitHub code scanning accepts it.
    Sarif,
    /// GitHub Actions workflow commands (`::warning file=...::message`).
    Github,
    /// An LKML reply: the patch's lines quoted, the question, the chain.
    Review,
}

impl Format {
    /// Every format, by the name the command line and `.waitcheck.toml` use.
    pub const NAMES: &'static [(&'static str, Format)] = &[
        ("human", Format::Human),
        ("json", Format::Json),
        ("checkpatch", Format::Checkpatch),
        ("sarif", Format::Sarif),
        ("github", Format::Github),
        ("review", Format::Review),
    ];

    /// The format named `name` (exact, lowercase), if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Format> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("human", |(n, _)| n)
    }
}

/// checkpatch.pl's own output flags, honoured by `--format checkpatch`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpatchOptions {
    /// One line per report (implies `emacs` and `quiet`, as in checkpatch).
    pub terse: bool,
    /// Prefix each report with `FILE:LINE: ` of the input.
    pub emacs: bool,
    /// Prefix with the patched file's position, and drop the `#N:` line.
    pub showfile: bool,
    /// `WARNING:TYPE:` instead of `WARNING:`.
    pub show_types: bool,
    /// No per-patch headers, verdicts or notes; no summary when clean.
    pub quiet: bool,
    /// No `total:` line.
    pub no_summary: bool,
    /// `--types` as given (the findings are filtered before rendering; this
    /// is for the `NOTE: Used message types:` line).
    pub types: Vec<String>,
    /// `--ignore` as given, for the `NOTE: Ignored message types:` line.
    pub ignore: Vec<String>,
}

/// Everything a report needs besides its units.
pub struct Context<'a> {
    pub stats: &'a Stats,
    /// ANSI colours (human format only).
    pub color: bool,
    /// The units are patches of a series (`waitcheck patch`), not files.
    pub patch_mode: bool,
    /// List the findings each patch fixes.
    pub show_fixed: bool,
    /// List suppressed findings (they are always counted in `stats`).
    pub show_suppressed: bool,
    pub checkpatch: CheckpatchOptions,
}

/// One unit of input, as checkpatch.pl sees one file: the whole `check`
/// run, or one patch of a series.
pub struct Unit<'a> {
    /// How the verdict names it: the paths checked, the patch file, or
    /// `"[PATCH 2/3] subject"`.
    pub name: String,
    /// The findings to report, sorted.
    pub findings: &'a [Finding],
    /// Patch mode: findings present before the patch and gone after it.
    pub fixed: &'a [Finding],
    /// Findings silenced by an inline `waitcheck-ignore` comment.
    pub suppressed: &'a [Suppressed],
    /// Patch mode: the patch's own lines, to point at and to quote.
    pub patch: Option<&'a PatchText>,
    /// The text the findings point into (after the patch, in patch mode).
    pub sources: &'a dyn SourceText,
    /// Patch mode: the text before the patch, for the fixed findings.
    pub sources_before: Option<&'a dyn SourceText>,
    /// checkpatch's `lines checked`: the lines of the files analysed, or
    /// the hunk lines of the patch.
    pub lines_checked: usize,
}

/// A finding silenced by an inline comment, and the comment's reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    /// Where the `waitcheck-ignore` comment is (`path:line`).
    pub at: String,
    /// The text after the type in the comment.
    pub reason: String,
}

/// The lines of one patch, as `waitcheck patch` read them: what reports
/// point at (`#N:` is a line of the patch input) and what a review quotes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchText {
    /// `[PATCH 2/3] subject`.
    pub title: String,
    /// The `From:` of the mail, when there is one.
    pub author: Option<String>,
    /// The commit id of a `git format-patch` mail (`From <sha> Mon Sep 17`).
    pub commit: Option<String>,
    /// How checkpatch's `--emacs` prefix names the input (`-` for stdin).
    pub input: String,
    /// What the patch was compared against, when it is not simply the tree
    /// (the human format says so).
    pub base_note: Option<String>,
    pub hunks: Vec<HunkText>,
}

/// One hunk: the file it changes and its body lines, in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HunkText {
    pub path: String,
    pub lines: Vec<PatchLine>,
}

/// One body line of a hunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchLine {
    /// 1-based line of the patch input.
    pub input_line: usize,
    /// `+`, `-` or ` `.
    pub marker: char,
    /// The line without its marker and line ending.
    pub text: String,
    /// The line's number in the file after the patch (`None` for `-`).
    pub new_line: Option<u32>,
    /// The line's number in the file before the patch (`None` for `+`).
    pub old_line: Option<u32>,
}

impl PatchText {
    /// The hunk and index of the patch line that is `line` of `path` after
    /// the patch (an added or a context line).
    #[must_use]
    pub fn find(&self, path: &str, line: u32) -> Option<(usize, usize)> {
        self.hunks.iter().enumerate().find_map(|(h, hunk)| {
            if hunk.path != path {
                return None;
            }
            let i = hunk.lines.iter().position(|l| l.new_line == Some(line))?;
            Some((h, i))
        })
    }

    /// The hunk and index of the patch line that was `line` of `path`
    /// before the patch (a removed or a context line).
    #[must_use]
    pub fn find_old(&self, path: &str, line: u32) -> Option<(usize, usize)> {
        self.hunks.iter().enumerate().find_map(|(h, hunk)| {
            if hunk.path != path {
                return None;
            }
            let i = hunk.lines.iter().position(|l| l.old_line == Some(line))?;
            Some((h, i))
        })
    }

    /// Is `line` of `path` one the patch added?
    #[must_use]
    pub fn added(&self, path: &str, line: u32) -> bool {
        self.find(path, line)
            .and_then(|(h, i)| self.hunks.get(h)?.lines.get(i))
            .is_some_and(|l| l.marker == '+')
    }
}

/// What a run looked at, printed with the findings so that "no findings" can
/// be weighed: a clean result over half-parsed files means less.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Files given or found by the walk, skipped ones included.
    pub files: usize,
    /// Files whose facts were extracted.
    pub files_parsed: usize,
    /// Function definitions seen.
    pub functions: usize,
    /// Function definitions that contain a tree-sitter ERROR node.
    pub functions_with_errors: usize,
    /// `1 - functions_with_errors / functions` (1.0 when there are none).
    pub parse_coverage: f64,
    /// Files not analysed, each with its reason: never skipped silently.
    pub skipped: Vec<SkippedFile>,
    /// Wait-for edges of the graph.
    pub edges: usize,
    /// Resources (lock, work, probe, ... classes) of the graph.
    pub resources: usize,
    /// Findings reported.
    pub findings: usize,
    /// Findings silenced by an inline `waitcheck-ignore` comment.
    #[serde(default)]
    pub suppressed: usize,
    /// Findings left out because their fingerprint is in the `--baseline`.
    #[serde(default)]
    pub baselined: usize,
    /// Findings left out by type (`--types`, `--ignore`, the config's
    /// `ignore`) or by path (the config's `exclude`).
    #[serde(default)]
    pub ignored: usize,
    /// Wall-clock time of the analysis.
    pub elapsed_ms: u64,
}

/// A file that was not analysed, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Relative to the tree root, like a finding's path.
    pub path: String,
    pub reason: String,
}

/// Read access to the analysed files, by the relative path a finding names.
///
/// A trait so that the report can point into files on disk, into a patched
/// tree held in memory, or into fixtures in a test, alike.
pub trait SourceText {
    /// The file's text, with byte offsets equal to the analysed bytes;
    /// `None` when it cannot be read (the report then prints without it).
    fn text(&self, path: &str) -> Option<Cow<'_, str>>;
}

/// In-memory sources: path -> text.
impl<S: BuildHasher> SourceText for HashMap<String, String, S> {
    fn text(&self, path: &str) -> Option<Cow<'_, str>> {
        self.get(path).map(|s| Cow::Borrowed(s.as_str()))
    }
}

/// The files of a tree on disk, read on first use and kept: a file usually
/// carries several findings and chain steps.
pub struct DiskSources {
    root: PathBuf,
    /// Decoded text per relative path; `None` caches a failed read too.
    cache: Mutex<HashMap<String, Option<Arc<str>>>>,
}

impl DiskSources {
    /// Sources under `root`, the directory finding paths are relative to.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DiskSources {
            root: root.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn load(&self, path: &str) -> Option<Arc<str>> {
        let bytes = std::fs::read(self.root.join(path)).ok()?;
        Some(Arc::from(decode_lossy(&bytes)))
    }
}

impl SourceText for DiskSources {
    fn text(&self, path: &str) -> Option<Cow<'_, str>> {
        // A poisoned lock only means another reader panicked; the map is
        // still a valid cache.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = cache
            .entry(path.to_string())
            .or_insert_with(|| self.load(path));
        entry.as_deref().map(|s| Cow::Owned(s.to_string()))
    }
}

/// UTF-8 text of `bytes` with each invalid byte replaced by one `?`, so that
/// byte offsets computed on the raw file stay exact (`from_utf8_lossy`
/// would insert three-byte U+FFFD characters and shift everything after).
fn decode_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat('?').take(chunk.invalid().len()));
    }
    out
}

/// Write `findings` (already sorted by the caller) and `stats` in `format`,
/// as one `check` unit with default options. `color` adds ANSI colours to
/// the human format; no other format is ever coloured.
///
/// # Errors
/// Only when writing to `out` fails: a finding whose source cannot be
/// shown is still rendered, without its snippets.
pub fn render(
    format: Format,
    findings: &[Finding],
    stats: &Stats,
    sources: &dyn SourceText,
    color: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let ctx = Context {
        stats,
        color,
        patch_mode: false,
        show_fixed: false,
        show_suppressed: false,
        checkpatch: CheckpatchOptions::default(),
    };
    let unit = Unit {
        name: "waitcheck".to_string(),
        findings,
        fixed: &[],
        suppressed: &[],
        patch: None,
        sources,
        sources_before: None,
        lines_checked: 0,
    };
    render_units(format, &[unit], &ctx, out)
}

/// Write every unit in `format`: the whole `check` run (one unit) or each
/// patch of a series, in order.
///
/// # Errors
/// Only when writing to `out` fails.
pub fn render_units(
    format: Format,
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Human => human::render_units(units, ctx, out),
        Format::Json => json::render_units(units, ctx, out),
        Format::Checkpatch => checkpatch::render(units, ctx, out),
        Format::Sarif => sarif::render(units, ctx, out),
        Format::Github => github::render(units, ctx, out),
        Format::Review => review::render(units, ctx, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_decoding_keeps_offsets() {
        let raw = b"a\xffb\xe2\x82c\xc3\xa9";
        let text = decode_lossy(raw);
        assert_eq!(text.len(), raw.len());
        assert_eq!(text, "a?b??c\u{e9}");
    }

    #[test]
    fn disk_sources_read_once_and_report_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.c"), b"int x;\xff\n").expect("write");
        let src = DiskSources::new(dir.path());
        assert_eq!(src.text("a.c").as_deref(), Some("int x;?\n"));
        std::fs::remove_file(dir.path().join("a.c")).expect("rm");
        assert_eq!(src.text("a.c").as_deref(), Some("int x;?\n"));
        assert!(src.text("missing.c").is_none());
    }
}
