//! `waitcheck patch`: only the circular waits a patch introduces.
//!
//! In: a series (git format-patch output, an mbox, a plain diff, or commits
//! named with `--git`), the tree it applies to, the rules. Out: per patch, the
//! findings present after it and not before (by fingerprint), the ones it
//! fixes, and the lines it added (so reports can point at the patch's own
//! lines). Patches apply in memory, in order; the tree on disk is untouched.
//! A patch that does not apply is an error naming the patch, file, hunk, line.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};

use crate::check::{self, Options, Overlay};
use crate::findings::Finding;
use crate::patch::{self, Patch, TouchedLines};
use crate::report::{SourceText, Stats};
use crate::rules::Rules;

/// What one patch of the series did.
#[derive(Debug, serde::Serialize)]
pub struct PatchResult {
    /// `[PATCH 2/3] subject`.
    pub title: String,
    /// Findings present after the patch and not before.
    pub introduced: Vec<Finding>,
    /// Findings present before and gone after.
    pub fixed: Vec<Finding>,
    /// Lines the patch added, by file (new-file line numbers).
    #[serde(skip)]
    pub touched: Vec<TouchedLines>,
    /// For each added line, where it is in the patch input: (path, line) -> input line.
    #[serde(skip)]
    pub patch_lines: BTreeMap<(String, u32), usize>,
}

pub struct SeriesResult {
    pub root: PathBuf,
    pub patches: Vec<PatchResult>,
    /// Tree contents after the whole series (for rendering sources).
    pub overlay: Arc<Overlay>,
    pub stats: Stats,
}

/// Where the series comes from.
pub enum Input {
    File(PathBuf),
    Stdin,
    Git(String),
}

pub struct PatchOptions {
    pub input: Input,
    pub tree: Option<PathBuf>,
    pub jobs: Option<usize>,
}

pub fn run(opts: &PatchOptions, rules: &Rules) -> Result<SeriesResult> {
    let root = tree_root(opts.tree.as_deref())?;
    let (name, bytes) = read_input(&opts.input, &root)?;
    let series = patch::parse_series(&name, &bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut overlay: Overlay = BTreeMap::new();
    let mut results = Vec::new();
    let mut stats = Stats::default();
    for p in series.changes() {
        let scope = scope_of(&root, p);
        let before = analyse(&root, &scope, &overlay, opts.jobs, rules)?;
        let applied = apply(&root, p, &overlay)?;
        for (path, content) in applied.files {
            overlay.insert(path, content);
        }
        let after = analyse(&root, &scope, &overlay, opts.jobs, rules)?;
        stats = after.stats.clone();
        results.push(diff(p, before.findings, after.findings, applied.touched));
    }
    if results.is_empty() {
        bail!("{name}: the series holds no patch with changes");
    }
    Ok(SeriesResult {
        root,
        patches: results,
        overlay: Arc::new(overlay),
        stats,
    })
}

/// The tree: `--tree`, else the git top-level of the current directory.
fn tree_root(tree: Option<&Path>) -> Result<PathBuf> {
    if let Some(t) = tree {
        return std::fs::canonicalize(t)
            .with_context(|| format!("{}: cannot open the tree", t.display()));
    }
    let out = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .context("running git to find the tree (or give --tree DIR)")?;
    if !out.status.success() {
        bail!("not inside a git repository: give the tree with --tree DIR");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn read_input(input: &Input, root: &Path) -> Result<(String, Vec<u8>)> {
    match input {
        Input::File(p) => {
            let b = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
            Ok((p.display().to_string(), b))
        }
        Input::Stdin => {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .context("reading the patch from stdin")?;
            Ok(("<stdin>".to_string(), b))
        }
        Input::Git(rev) => git_series(root, rev),
    }
}

/// `--git A..B` or `--git REV`: the commits as format-patch output.
fn git_series(root: &Path, rev: &str) -> Result<(String, Vec<u8>)> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(["format-patch", "--stdout", "--no-signature"]);
    if rev.contains("..") {
        cmd.arg(rev);
    } else {
        cmd.args(["-1", rev]);
    }
    let out = cmd.output().context("running git format-patch")?;
    if !out.status.success() {
        bail!(
            "git format-patch {rev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((format!("git {rev}"), out.stdout))
}

/// The directories a patch touches (each file's parent), without ones
/// nested in another: the analysis before and after covers them.
fn scope_of(root: &Path, p: &Patch) -> Vec<PathBuf> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in &p.files {
        for path in [&f.old_path, &f.new_path].into_iter().flatten() {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            dirs.insert(dir);
        }
    }
    let all: Vec<String> = dirs.into_iter().collect();
    all.iter()
        .filter(|d| {
            !all.iter()
                .any(|o| o != *d && (o.is_empty() || d.starts_with(&format!("{o}/"))))
        })
        .map(|d| {
            if d.is_empty() {
                root.to_path_buf()
            } else {
                root.join(d)
            }
        })
        .filter(|d| d.exists())
        .collect()
}

fn analyse(
    root: &Path,
    scope: &[PathBuf],
    overlay: &Overlay,
    jobs: Option<usize>,
    rules: &Rules,
) -> Result<check::Outcome> {
    let mut o = Options::new(scope.to_vec());
    o.root = Some(root.to_path_buf());
    o.overlay = Some(Arc::new(overlay.clone()));
    o.jobs = jobs;
    check::run(&o, rules)
}

fn apply(root: &Path, p: &Patch, overlay: &Overlay) -> Result<patch::Applied> {
    let mut read = |path: &str| -> std::io::Result<Option<Vec<u8>>> {
        if let Some(c) = overlay.get(path) {
            return Ok(c.clone());
        }
        match std::fs::read(root.join(path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    patch::apply(p, &mut read).map_err(|e| anyhow::anyhow!("{e}"))
}

fn diff(
    p: &Patch,
    before: Vec<Finding>,
    after: Vec<Finding>,
    touched: Vec<TouchedLines>,
) -> PatchResult {
    let had: HashSet<&str> = before.iter().map(|f| f.fingerprint.as_str()).collect();
    let has: HashSet<&str> = after.iter().map(|f| f.fingerprint.as_str()).collect();
    let introduced = after
        .iter()
        .filter(|f| !had.contains(f.fingerprint.as_str()))
        .cloned()
        .collect();
    let fixed = before
        .iter()
        .filter(|f| !has.contains(f.fingerprint.as_str()))
        .cloned()
        .collect();
    PatchResult {
        title: p.title(),
        introduced,
        fixed,
        touched,
        patch_lines: patch_lines(p),
    }
}

/// For every added line: its position in the patch input (for `#N:`).
fn patch_lines(p: &Patch) -> BTreeMap<(String, u32), usize> {
    let mut out = BTreeMap::new();
    for f in &p.files {
        let path = f.path().to_string();
        for h in &f.hunks {
            let mut new_line = h.new_start;
            for (i, l) in h.lines.iter().enumerate() {
                match l {
                    patch::HunkLine::Add(_) => {
                        out.insert((path.clone(), new_line), h.line + 1 + i);
                        new_line += 1;
                    }
                    patch::HunkLine::Context(_) => new_line += 1,
                    patch::HunkLine::Remove(_) => {}
                }
            }
        }
    }
    out
}

impl PatchResult {
    /// Does the finding's chain touch a line this patch added?
    pub fn touches(&self, f: &Finding) -> bool {
        f.chain.iter().any(|s| {
            self.patch_lines
                .contains_key(&(s.at.path.clone(), s.at.line))
        })
    }
}

/// Sources as the series left them: the overlay first, then the disk.
pub struct SeriesSources<'a> {
    pub root: &'a Path,
    pub overlay: &'a Overlay,
}

impl SourceText for SeriesSources<'_> {
    fn text(&self, path: &str) -> Option<Cow<'_, str>> {
        let bytes = match self.overlay.get(path) {
            Some(Some(b)) => b.clone(),
            Some(None) => return None,
            None => std::fs::read(self.root.join(path)).ok()?,
        };
        // The same byte-for-byte replacement as analysis used, so the
        // findings' byte offsets land on the same characters.
        let opts = crate::source::WalkOptions {
            max_file_size: u64::MAX,
            ..Default::default()
        };
        let loaded = crate::source::decode(bytes, &opts).ok()?;
        String::from_utf8(loaded.bytes).ok().map(Cow::Owned)
    }
}
