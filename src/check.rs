//! The `check` pipeline end to end: paths in, findings and stats out.
//!
//! In: paths, the rules, a thread count, optionally an overlay of file
//! contents (patch mode). Out: `Outcome` (sorted findings, stats, the root
//! paths are relative to). Files are read and parsed in parallel, one parser
//! per thread; collection keeps input order, so the output is the same
//! whatever the thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use rayon::prelude::*;

use crate::facts::model::FileFacts;
use crate::findings::{self, Finding};
use crate::graph::WaitGraph;
use crate::report::{SkippedFile, Stats};
use crate::rules::Rules;
use crate::source::{self, WalkOptions};

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub jobs: Option<usize>,
    pub walk: WalkOptions,
    /// Report paths relative to this directory (default: the enclosing
    /// kernel tree, else the common parent of `paths`).
    pub root: Option<PathBuf>,
    /// Contents that replace (`Some`) or delete (`None`) files on disk, by
    /// root-relative path: a patch applied in memory.
    pub overlay: Option<Arc<Overlay>>,
}

/// Root-relative path -> new content, or `None` for a deleted file.
pub type Overlay = BTreeMap<String, Option<Vec<u8>>>;

impl Options {
    pub fn new(paths: Vec<PathBuf>) -> Options {
        Options {
            paths,
            jobs: None,
            walk: WalkOptions::default(),
            root: None,
            overlay: None,
        }
    }
}

/// One file to analyse: on disk, or from the overlay.
enum Input {
    Disk(PathBuf),
    Memory(String),
}

pub struct Outcome {
    pub findings: Vec<Finding>,
    pub stats: Stats,
    pub root: PathBuf,
}

/// Worker threads get a large stack: deeply nested kernel expressions make
/// tree walks deep, and running out of stack must not be the failure mode.
const WORKER_STACK: usize = 64 << 20;

pub fn run(opts: &Options, rules: &Rules) -> Result<Outcome> {
    let started = Instant::now();
    let root = match &opts.root {
        Some(r) => {
            std::fs::canonicalize(r).with_context(|| format!("{}: cannot open", r.display()))?
        }
        None => root_of(&opts.paths)?,
    };
    let walk = source::walk(&opts.paths, &opts.walk)?;
    let inputs = inputs(&root, &walk.files, opts);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .stack_size(WORKER_STACK)
        .build()
        .context("starting worker threads")?;
    let results: Vec<Result<FileFacts, SkippedFile>> = pool.install(|| {
        inputs
            .par_iter()
            .map(|i| analyse_input(&root, i, opts, rules))
            .collect()
    });
    let mut stats = Stats::default();
    stats.files = inputs.len() + walk.skipped.len();
    stats.skipped = walk
        .skipped
        .iter()
        .map(|s| SkippedFile {
            path: source::relative_path(&root, &s.path),
            reason: s.reason.to_string(),
        })
        .collect();
    let mut files = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(f) => files.push(f),
            Err(s) => stats.skipped.push(s),
        }
    }
    stats.files_parsed = files.len();
    stats.functions = files.iter().map(|f| f.functions.len()).sum();
    stats.functions_with_errors = files.iter().map(|f| f.functions_with_errors as usize).sum();
    stats.parse_coverage = if stats.functions == 0 {
        1.0
    } else {
        1.0 - stats.functions_with_errors as f64 / stats.functions as f64
    };
    let graph = pool.install(|| WaitGraph::build(files, rules));
    let found = findings::build::findings(&graph);
    stats.edges = graph.edges.len();
    stats.resources = graph.resource_count();
    stats.findings = found.len();
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(Outcome {
        findings: found,
        stats,
        root,
    })
}

/// The walked files with the overlay applied: deleted ones dropped, new ones
/// under the analysed paths added; sorted by relative path.
fn inputs(root: &Path, walked: &[PathBuf], opts: &Options) -> Vec<Input> {
    let Some(overlay) = &opts.overlay else {
        return walked.iter().cloned().map(Input::Disk).collect();
    };
    let mut by_rel: BTreeMap<String, Input> = BTreeMap::new();
    for p in walked {
        let rel = source::relative_path(root, p);
        match overlay.get(&rel) {
            Some(None) => {}
            Some(Some(_)) => {
                by_rel.insert(rel.clone(), Input::Memory(rel));
            }
            None => {
                by_rel.insert(rel, Input::Disk(p.clone()));
            }
        }
    }
    let scopes: Vec<String> = opts
        .paths
        .iter()
        .map(|p| source::relative_path(root, &root.join(p)))
        .collect();
    for (rel, content) in overlay.iter() {
        let wanted = content.is_some()
            && has_extension(rel, &opts.walk.extensions)
            && scopes.iter().any(|s| in_scope(rel, s));
        if wanted && !by_rel.contains_key(rel) {
            by_rel.insert(rel.clone(), Input::Memory(rel.clone()));
        }
    }
    by_rel.into_values().collect()
}

fn in_scope(rel: &str, scope: &str) -> bool {
    scope.is_empty() || scope == "." || rel == scope || rel.starts_with(&format!("{scope}/"))
}

fn has_extension(rel: &str, exts: &[String]) -> bool {
    rel.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| x == e))
}

fn analyse_input(
    root: &Path,
    input: &Input,
    opts: &Options,
    rules: &Rules,
) -> Result<FileFacts, SkippedFile> {
    let (rel, loaded) = match input {
        Input::Disk(p) => (source::relative_path(root, p), source::read(p, &opts.walk)),
        Input::Memory(rel) => {
            let bytes = opts
                .overlay
                .as_ref()
                .and_then(|o| o.get(rel).cloned().flatten())
                .unwrap_or_default();
            (rel.clone(), source::decode(bytes, &opts.walk))
        }
    };
    let loaded = loaded.map_err(|reason| SkippedFile {
        path: rel.clone(),
        reason: reason.to_string(),
    })?;
    let mut facts =
        crate::parse::parse_file(&rel, &loaded.bytes, rules).map_err(|e| SkippedFile {
            path: rel.clone(),
            reason: format!("{e:#}"),
        })?;
    facts.lossy = loaded.lossy;
    Ok(facts)
}

/// The root paths are reported relative to: the enclosing kernel tree if
/// there is one, else the directory given (or the common parent).
pub fn root_of(paths: &[PathBuf]) -> Result<PathBuf> {
    let mut abs = Vec::new();
    for p in paths {
        let a =
            std::fs::canonicalize(p).with_context(|| format!("{}: cannot open", p.display()))?;
        abs.push(a);
    }
    let Some(first) = abs.first() else {
        return Ok(PathBuf::from("."));
    };
    if let Some(t) = source::find_tree_root(first) {
        if abs.iter().all(|p| p.starts_with(&t)) {
            return Ok(t);
        }
    }
    let mut common = if first.is_dir() {
        first.clone()
    } else {
        first.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    for p in &abs[1..] {
        while !p.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    Ok(common)
}
