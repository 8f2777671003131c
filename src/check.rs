//! The `check` pipeline end to end: paths in, findings and stats out.
//!
//! In: paths, the rules, a thread count. Out: `Outcome` (sorted findings,
//! stats, the root paths are relative to). Files are read and parsed in
//! parallel, one parser per thread; collection keeps input order, so the
//! output is the same whatever the thread count.

use std::path::{Path, PathBuf};
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
    let root = root_of(&opts.paths)?;
    let walk = source::walk(&opts.paths, &opts.walk)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .stack_size(WORKER_STACK)
        .build()
        .context("starting worker threads")?;
    let results: Vec<Result<FileFacts, SkippedFile>> = pool.install(|| {
        walk.files
            .par_iter()
            .map(|p| analyse_file(&root, p, &opts.walk, rules))
            .collect()
    });
    let mut stats = Stats::default();
    stats.files = walk.files.len() + walk.skipped.len();
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

fn analyse_file(
    root: &Path,
    path: &Path,
    walk: &WalkOptions,
    rules: &Rules,
) -> Result<FileFacts, SkippedFile> {
    let rel = source::relative_path(root, path);
    let loaded = source::read(path, walk).map_err(|reason| SkippedFile {
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
