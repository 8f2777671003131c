//! Stage 6: findings become bytes on a writer.
//!
//! In: the sorted `&[Finding]`, the run's `Stats`, and access to the source
//! text the findings point into (`SourceText`). Out: the chosen `Format`
//! written to any `std::io::Write`. Every format is rendered from the same
//! `Finding` values, so they never disagree; this stage decides nothing about
//! what is a finding or in which order findings come.

mod human;
mod json;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::findings::Finding;

/// The output formats of `waitcheck check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with source snippets (codespan-reporting), then a summary.
    Human,
    /// DESIGN.md's output contract: `{"version":1,"findings":[...],"stats":{...}}`.
    Json,
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

/// Write `findings` (already sorted by the caller) and `stats` in `format`.
/// `color` adds ANSI colours to the human format; JSON is never coloured.
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
    match format {
        Format::Human => human::render(findings, stats, sources, color, out),
        Format::Json => json::render(findings, stats, out),
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
