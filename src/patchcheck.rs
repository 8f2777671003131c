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
use crate::report::{HunkText, PatchLine, PatchText, SourceText, Stats};
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
    /// The patch's hunks as the input has them, for reports to point at
    /// and quote.
    #[serde(skip)]
    pub text: PatchText,
    /// checkpatch's `lines checked` for this patch.
    #[serde(skip)]
    pub lines_checked: usize,
    /// The tree's contents changed so far, before and after this patch:
    /// its fixed findings point into the first, its new ones into the
    /// second.
    #[serde(skip)]
    pub overlay_before: Arc<Overlay>,
    #[serde(skip)]
    pub overlay_after: Arc<Overlay>,
    /// What the patch was compared against.
    #[serde(skip)]
    pub applied_to: AppliedTo,
}

/// The tree a patch was checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AppliedTo {
    /// The tree as the series left it so far (or as `--git` found it at
    /// the base commit).
    #[default]
    Tree,
    /// The tree already holds the patch, and the mail names its commit:
    /// the tree at the commit's parent.
    Parent(String),
    /// The tree already holds the patch and no commit is known: the tree
    /// with the patch reversed.
    Reversed,
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
    /// The facts cache directory, shared with `check` (`None`: no cache).
    /// Files a patch leaves unchanged come from it; patched contents are
    /// keyed by their bytes like any other file.
    pub cache: Option<PathBuf>,
}

pub fn run(opts: &PatchOptions, rules: &Rules) -> Result<SeriesResult> {
    let root = tree_root(opts.tree.as_deref())?;
    let (name, bytes) = read_input(&opts.input, &root)?;
    // Commits apply to the tree at their base commit, not to the files on
    // disk (which, for `--git origin/main..HEAD`, already hold them).
    let base = match &opts.input {
        Input::Git(rev) => Some(git_range(&root, rev)?.0),
        _ => None,
    };
    let series = patch::parse_series(&name, &bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let input_lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let emacs_name = match &opts.input {
        Input::Stdin => "-".to_string(),
        _ => name.clone(),
    };
    let starts: Vec<usize> = series.patches.iter().map(|p| p.start_line).collect();
    let mut overlay: Overlay = BTreeMap::new();
    let mut results = Vec::new();
    let mut stats = Stats::default();
    for p in series.changes() {
        let scope = scope_of(&root, p);
        if let Some(rev) = &base {
            fill_from_git(&root, rev, &scope, &mut overlay)?;
        }
        let commit = commit_of(&input_lines, p.start_line);
        let raw = mail_bytes(&bytes, &starts, p.start_line);
        let (before_overlay, touched, applied_to) = place(
            &root,
            p,
            raw,
            &scope,
            commit.as_deref(),
            base.is_some(),
            &mut overlay,
        )
        .with_context(|| name.clone())?;
        let before = analyse(&root, &scope, &before_overlay, opts, rules)?;
        let after = analyse(&root, &scope, &overlay, opts, rules)?;
        stats = after.stats.clone();
        let mut r = diff(p, before.findings, after.findings, touched);
        r.text = patch_text(p, &emacs_name, commit);
        r.lines_checked = lines_checked(p);
        r.text.base_note = match &applied_to {
            AppliedTo::Tree => None,
            AppliedTo::Parent(c) => Some(format!(
                "already in the tree: checked against its commit's parent {}",
                c.get(..12).unwrap_or(c)
            )),
            AppliedTo::Reversed => {
                Some("already in the tree: checked against the tree without it".to_string())
            }
        };
        r.applied_to = applied_to;
        r.overlay_before = Arc::new(before_overlay);
        r.overlay_after = Arc::new(overlay.clone());
        results.push(r);
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
///
/// # Errors
/// A tree that cannot be opened, or no git work tree around the current
/// directory.
pub fn tree_root(tree: Option<&Path>) -> Result<PathBuf> {
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
    let (_, range) = git_range(root, rev)?;
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(["format-patch", "--stdout", "--no-signature"])
        .args(&range);
    let out = cmd.output().context("running git format-patch")?;
    if !out.status.success() {
        bail!(
            "git format-patch {rev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((format!("git {rev}"), out.stdout))
}

/// The commit the series of `--git REV` applies to, and the arguments of
/// `git format-patch` that produce the series. For `A..B` and `A...B` the
/// base is the merge base of `A` and `B` (`A` itself when `B` descends from
/// it; an empty side is `HEAD`), so a branch is checked against the point
/// it forked from even when `A` has moved on; a single `REV` applies to its
/// parent.
fn git_range(root: &Path, rev: &str) -> Result<(String, Vec<String>)> {
    let side = |s: &str| {
        if s.is_empty() {
            "HEAD".to_string()
        } else {
            s.to_string()
        }
    };
    let ends = rev.split_once("...").or_else(|| rev.split_once(".."));
    let (base, range) = match ends {
        Some((a, b)) => {
            let (a, b) = (side(a), side(b));
            let base = git_text(root, &["merge-base", &a, &b])
                .with_context(|| format!("--git {rev}: no common base of {a} and {b}"))?;
            let range = format!("{base}..{b}");
            (base, vec![range])
        }
        None => (format!("{rev}^"), vec!["-1".to_string(), rev.to_string()]),
    };
    let base = git_text(
        root,
        &["rev-parse", "--verify", &format!("{base}^{{commit}}")],
    )
    .with_context(|| format!("--git {rev}: no base commit"))?;
    Ok((base, range))
}

/// The trimmed stdout of `git -C root ARGS`.
fn git_text(root: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Put into `overlay` the base commit's version of every file under the
/// scope that the overlay does not hold yet, and mark as deleted the files
/// on disk there that the base commit does not have.
fn fill_from_git(root: &Path, rev: &str, scope: &[PathBuf], overlay: &mut Overlay) -> Result<()> {
    let dirs: Vec<String> = scope
        .iter()
        .map(|d| crate::source::relative_path(root, d))
        .map(|d| if d.is_empty() { ".".to_string() } else { d })
        .collect();
    let mut args = vec!["ls-tree", "-r", "-z", "--name-only", rev, "--"];
    args.extend(dirs.iter().map(String::as_str));
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(&args)
        .output()
        .context("running git ls-tree")?;
    if !out.status.success() {
        bail!(
            "git ls-tree {rev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let at_base: BTreeSet<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let wanted: Vec<&String> = at_base
        .iter()
        .filter(|p| !overlay.contains_key(*p))
        .collect();
    for (path, bytes) in wanted.iter().zip(cat_files(root, rev, &wanted)?) {
        overlay.insert((*path).clone(), Some(bytes));
    }
    let on_disk = crate::source::walk(scope, &crate::source::WalkOptions::default())?;
    for f in &on_disk.files {
        let rel = crate::source::relative_path(root, f);
        if !at_base.contains(&rel) {
            overlay.entry(rel).or_insert(None);
        }
    }
    Ok(())
}

/// The contents of `paths` at `rev`, in order, from one `git cat-file`.
fn cat_files(root: &Path, rev: &str, paths: &[&String]) -> Result<Vec<Vec<u8>>> {
    use std::io::{Read as _, Write as _};
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running git cat-file")?;
    let mut request = String::new();
    for p in paths {
        request.push_str(&format!("{rev}:./{p}\n"));
    }
    let mut stdin = child.stdin.take().context("git cat-file: no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut raw = Vec::new();
    child
        .stdout
        .take()
        .context("git cat-file: no stdout")?
        .read_to_end(&mut raw)?;
    let status = child.wait()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("git cat-file: writer failed"))??;
    if !status.success() {
        bail!("git cat-file --batch failed");
    }
    let mut out = Vec::with_capacity(paths.len());
    let mut rest = raw.as_slice();
    for p in paths {
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .with_context(|| format!("git cat-file: truncated output at {p}"))?;
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let size: usize = match header.rsplit(' ').next().map(str::parse) {
            Some(Ok(n)) if header.contains(" blob ") => n,
            _ => bail!("git cat-file {rev}:{p}: {header}"),
        };
        let body = rest
            .get(nl + 1..nl + 1 + size)
            .with_context(|| format!("git cat-file: truncated content of {p}"))?;
        out.push(body.to_vec());
        rest = rest.get(nl + 2 + size..).unwrap_or_default();
    }
    Ok(out)
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
            // A directory the patch creates is not there yet: analyse the
            // nearest one that is (new files under it come from the overlay).
            let mut dir = root.join(d);
            while !dir.exists() && dir != root && dir.pop() {}
            dir
        })
        .collect::<BTreeSet<PathBuf>>()
        .into_iter()
        .collect()
}

fn analyse(
    root: &Path,
    scope: &[PathBuf],
    overlay: &Overlay,
    opts: &PatchOptions,
    rules: &Rules,
) -> Result<check::Outcome> {
    let mut o = Options::new(scope.to_vec());
    o.root = Some(root.to_path_buf());
    o.overlay = Some(Arc::new(overlay.clone()));
    o.jobs = opts.jobs;
    o.cache = opts.cache.clone();
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
        text: PatchText::default(),
        lines_checked: 0,
        overlay_before: Arc::default(),
        overlay_after: Arc::default(),
        applied_to: AppliedTo::Tree,
    }
}

/// Apply `p` to the tree as `overlay` has it, leaving the state after the
/// patch in `overlay`; returns the state before it, the touched lines, and
/// what it was applied to.
///
/// A patch that is already in the tree (a commit being mailed, a b4 prep
/// branch) does not apply forward. It is then checked against the parent
/// of its commit: the one the mail names (`From <sha>` of `git
/// format-patch`) if the repository has it, else a recent commit of `HEAD`
/// with the same `git patch-id`; failing both, against the tree with the
/// patch reversed. When nothing works, the error is the forward one.
fn place(
    root: &Path,
    p: &Patch,
    raw: &[u8],
    scope: &[PathBuf],
    commit: Option<&str>,
    git_input: bool,
    overlay: &mut Overlay,
) -> Result<(Overlay, Vec<TouchedLines>, AppliedTo)> {
    let forward_error = match apply(root, p, overlay) {
        Ok(applied) => {
            let before = overlay.clone();
            overlay.extend(applied.files);
            return Ok((before, applied.touched, AppliedTo::Tree));
        }
        Err(e) if git_input => return Err(e),
        Err(e) => e,
    };
    let parent_of = |c: &str| {
        git_text(
            root,
            &["rev-parse", "--verify", "-q", &format!("{c}^^{{commit}}")],
        )
        .ok()
    };
    let named = commit.and_then(parent_of);
    let by_id = std::iter::once_with(|| commit_by_patch_id(root, raw).and_then(|c| parent_of(&c)));
    for parent in named.into_iter().chain(by_id.flatten()) {
        let mut at_parent = Overlay::new();
        fill_from_git(root, &parent, scope, &mut at_parent)?;
        if let Ok(applied) = apply(root, p, &at_parent) {
            let before = at_parent.clone();
            at_parent.extend(applied.files);
            *overlay = at_parent;
            return Ok((before, applied.touched, AppliedTo::Parent(parent)));
        }
    }
    if let Ok(reversed) = apply(root, &reverse(p), overlay) {
        let mut before = overlay.clone();
        before.extend(reversed.files);
        let touched = touched_of(p);
        return Ok((before, touched, AppliedTo::Reversed));
    }
    Err(forward_error)
}

/// How many commits of `HEAD` are searched for a patch's commit.
const PATCH_ID_DEPTH: &str = "100";

/// `git patch-id --stable` of `input`: (patch id, commit id) per patch.
fn patch_ids(root: &Path, input: &[u8]) -> Option<Vec<(String, String)>> {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["patch-id", "--stable"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.lines()
            .filter_map(|l| {
                let (id, commit) = l.split_once(' ')?;
                Some((id.to_string(), commit.trim().to_string()))
            })
            .collect(),
    )
}

/// The recent commit of `HEAD` whose `git patch-id --stable` is the one of
/// `raw` (one mail); `None` outside a git repository or when none matches.
fn commit_by_patch_id(root: &Path, raw: &[u8]) -> Option<String> {
    let (wanted, _) = patch_ids(root, raw)?.into_iter().next()?;
    let log = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "log",
            "-p",
            "--no-color",
            "--no-ext-diff",
            "--no-merges",
            "-n",
        ])
        .arg(PATCH_ID_DEPTH)
        .arg("HEAD")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !log.status.success() {
        return None;
    }
    patch_ids(root, &log.stdout)?
        .into_iter()
        .find(|(id, _)| *id == wanted)
        .map(|(_, commit)| commit)
}

/// The patch that undoes `p`.
fn reverse(p: &Patch) -> Patch {
    let mut r = p.clone();
    for f in &mut r.files {
        std::mem::swap(&mut f.old_path, &mut f.new_path);
        std::mem::swap(&mut f.old_mode, &mut f.new_mode);
        for h in &mut f.hunks {
            std::mem::swap(&mut h.old_start, &mut h.new_start);
            std::mem::swap(&mut h.old_len, &mut h.new_len);
            std::mem::swap(&mut h.old_missing_newline, &mut h.new_missing_newline);
            for l in &mut h.lines {
                *l = match std::mem::replace(l, patch::HunkLine::Context(String::new())) {
                    patch::HunkLine::Add(t) => patch::HunkLine::Remove(t),
                    patch::HunkLine::Remove(t) => patch::HunkLine::Add(t),
                    c @ patch::HunkLine::Context(_) => c,
                };
            }
        }
    }
    r
}

/// The lines `p` adds, by file, as applying it would report them.
fn touched_of(p: &Patch) -> Vec<TouchedLines> {
    p.files
        .iter()
        .filter(|f| f.new_path.is_some())
        .map(|f| {
            let text = patch_text(p, "", None);
            let added = text
                .hunks
                .iter()
                .filter(|h| h.path == f.path())
                .flat_map(|h| h.lines.iter())
                .filter(|l| l.marker == '+')
                .filter_map(|l| l.new_line)
                .collect();
            TouchedLines {
                path: f.path().to_string(),
                added,
                hunks: f.hunks.iter().map(|h| (h.new_start, h.new_len)).collect(),
            }
        })
        .collect()
}

/// The bytes of the mail that starts on 1-based line `start` of `input`,
/// up to the start of the next one (`starts`: every mail's first line).
fn mail_bytes<'b>(input: &'b [u8], starts: &[usize], start: usize) -> &'b [u8] {
    let next = starts.iter().copied().filter(|&s| s > start).min();
    let offset_of = |line: usize| -> usize {
        if line <= 1 {
            return 0;
        }
        input
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(input.len(), |(i, _)| i + 1)
    };
    let from = offset_of(start);
    let to = next.map_or(input.len(), offset_of);
    input.get(from..to.max(from)).unwrap_or_default()
}

/// The commit id of a `git format-patch` mail: its first line is
/// `From <40 hex digits> Mon Sep 17 00:00:00 2001`.
fn commit_of(input: &[&[u8]], start_line: usize) -> Option<String> {
    let line = input.get(start_line.checked_sub(1)?)?;
    let rest = line.strip_prefix(b"From ")?;
    let id = rest.get(..40)?;
    let is_hex = id.iter().all(u8::is_ascii_hexdigit);
    (is_hex && rest.get(40) == Some(&b' ')).then(|| String::from_utf8_lossy(id).into_owned())
}

/// The hunks of `p` with each line's place in the input and in the file
/// after the patch.
fn patch_text(p: &Patch, input: &str, commit: Option<String>) -> PatchText {
    let mut hunks = Vec::new();
    for f in &p.files {
        for h in &f.hunks {
            let mut new_line = h.new_start;
            let mut old_line = h.old_start;
            let mut lines = Vec::with_capacity(h.lines.len());
            let marker_after = old_marker_index(h);
            for (i, l) in h.lines.iter().enumerate() {
                // A `\ No newline` marker after the last old line (followed
                // by added lines) takes one input line.
                let skip = usize::from(marker_after.is_some_and(|m| i > m));
                let input_line = h.line + 1 + i + skip;
                let (marker, text, new, old) = match l {
                    patch::HunkLine::Add(t) => ('+', t, Some(new_line), None),
                    patch::HunkLine::Context(t) => (' ', t, Some(new_line), Some(old_line)),
                    patch::HunkLine::Remove(t) => ('-', t, None, Some(old_line)),
                };
                new_line += u32::from(new.is_some());
                old_line += u32::from(old.is_some());
                lines.push(PatchLine {
                    input_line,
                    marker,
                    text: text.clone(),
                    new_line: new,
                    old_line: old,
                });
            }
            hunks.push(HunkText {
                path: f.path().to_string(),
                lines,
            });
        }
    }
    PatchText {
        title: p.title(),
        author: p.author.clone(),
        commit,
        input: input.to_string(),
        base_note: None,
        hunks,
    }
}

/// Index of the last old-side line of a hunk whose old side ends without a
/// newline, when new-side lines follow it (git then prints the marker
/// between them).
fn old_marker_index(h: &patch::Hunk) -> Option<usize> {
    if !h.old_missing_newline {
        return None;
    }
    let last_old = h
        .lines
        .iter()
        .rposition(|l| !matches!(l, patch::HunkLine::Add(_)))?;
    (last_old + 1 < h.lines.len()).then_some(last_old)
}

/// checkpatch counts, per hunk, its lines up to the last one of the new
/// side (context or added), removed lines among them included.
fn lines_checked(p: &Patch) -> usize {
    p.files
        .iter()
        .flat_map(|f| &f.hunks)
        .map(|h| {
            h.lines
                .iter()
                .rposition(|l| !matches!(l, patch::HunkLine::Remove(_)))
                .map_or(0, |i| i + 1)
        })
        .sum()
}

/// For every added line: its position in the patch input (for `#N:`).
fn patch_lines(p: &Patch) -> BTreeMap<(String, u32), usize> {
    let text = patch_text(p, "", None);
    let mut out = BTreeMap::new();
    for h in &text.hunks {
        for l in &h.lines {
            if let (Some(n), '+') = (l.new_line, l.marker) {
                out.insert((h.path.clone(), n), l.input_line);
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = r#"From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Subject: [PATCH 1/2] x

---
diff --git a/a.c b/a.c
--- a/a.c
+++ b/a.c
@@ -1,2 +1,2 @@
 int a;
-int b;
+int c;
From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Subject: [PATCH 2/2] y

---
diff --git a/a.c b/a.c
--- a/a.c
+++ b/a.c
@@ -1,2 +1,3 @@
 int a;
 int c;
+int d;
"#;

    #[test]
    fn mails_commits_and_reversal() {
        let series = patch::parse_series("t.mbox", MAIL.as_bytes()).expect("parses");
        let starts: Vec<usize> = series.patches.iter().map(|p| p.start_line).collect();
        assert_eq!(starts, [1, 13]);
        let lines: Vec<&[u8]> = MAIL.as_bytes().split(|&b| b == b'\n').collect();
        assert_eq!(
            commit_of(&lines, 13).as_deref(),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(commit_of(&lines, 2), None);
        let first = mail_bytes(MAIL.as_bytes(), &starts, 1);
        assert!(first.ends_with(b"+int c;\n"));
        let second = mail_bytes(MAIL.as_bytes(), &starts, 13);
        assert!(second.starts_with(b"From 1111") && second.ends_with(b"+int d;\n"));
        assert!(mail_bytes(MAIL.as_bytes(), &starts, 999).is_empty());

        let p = &series.patches[0];
        assert_eq!(reverse(&reverse(p)), *p);
        let mut files = BTreeMap::new();
        files.insert("a.c".to_string(), b"int a;\nint c;\n".to_vec());
        let mut read = |path: &str| Ok(files.get(path).cloned());
        let undone = patch::apply(&reverse(p), &mut read).expect("reverses");
        assert_eq!(undone.files[0].1.as_deref(), Some(&b"int a;\nint b;\n"[..]));
        assert_eq!(lines_checked(p), 3);
        let text = patch_text(p, "t.mbox", None);
        let l = &text.hunks[0].lines;
        assert_eq!(
            (l[1].marker, l[1].old_line, l[1].new_line),
            ('-', Some(2), None)
        );
        assert_eq!(
            (l[2].marker, l[2].old_line, l[2].new_line, l[2].input_line),
            ('+', None, Some(2), 12)
        );
    }
}
