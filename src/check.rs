//! The `check` pipeline end to end: paths in, findings and stats out.
//!
//! In: paths, the rules, a thread count, optionally an overlay of file
//! contents (patch mode) and a facts cache directory. Out: `Outcome` (sorted
//! findings, stats, the root paths are relative to, where the time went).
//! Files are read and parsed in parallel, one parser per thread; collection
//! keeps input order, so the output is the same whatever the thread count,
//! and whether facts came from the cache or from parsing.
//!
//! With a cache ([`Options::cache`], see `cache.rs`), each file on disk is
//! first looked up by its stat (unchanged size, times and inode: not even
//! read), else read and looked up by content; only misses are parsed, and
//! their facts stored after. Overlay files (patched content in memory) are
//! looked up by content only. The cache's salt is the tool version, the
//! rules' hash and a hash of this executable, so facts from another build
//! or other rules are never used. Any cache failure is a warning on stderr
//! and the run goes on, uncached where it must.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rayon::prelude::*;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::cache::{self, Cache, CacheStats, FileStat};
use crate::facts::model::FileFacts;
use crate::findings::{self, Finding};
use crate::graph::WaitGraph;
use crate::progress::Progress;
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
    /// The facts cache's directory (`cache::default_dir()` from the command
    /// line). `None`: no cache, nothing read or written outside the paths.
    pub cache: Option<PathBuf>,
    /// Draw a progress bar on stderr; the caller decides
    /// (`progress::wanted()`: a terminal, not CI).
    pub progress: bool,
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
            cache: None,
            progress: false,
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
    /// Where the time went (`--stats`); the caller adds `report`.
    pub times: StageTimes,
    /// How the files were obtained (`--stats`).
    pub counts: FileCounts,
    /// Cache warnings, already printed on stderr.
    pub warnings: Vec<String>,
}

/// Wall time per stage of one run. The per-file stages (read and hash,
/// cache lookup, parse and facts) interleave file by file on every worker,
/// so they are given as thread time summed over the workers, within the
/// wall time of `files`.
#[derive(Clone, Debug, Default)]
pub struct StageTimes {
    /// Finding the files.
    pub walk: Duration,
    /// Stat of every file and the cache's stat lookups.
    pub stat: Duration,
    /// Opening the cache (integrity check, salt), overlapping `walk`.
    pub cache_open: Duration,
    /// Wall time of the per-file phase.
    pub files: Duration,
    /// Thread time: stat, read and content hash.
    pub read_hash: Duration,
    /// Thread time: stat and facts lookups, decoding cached facts.
    pub cache_lookup: Duration,
    /// Thread time: pre-pass, tree-sitter and fact extraction.
    pub parse_facts: Duration,
    /// Storing new facts and stats, garbage collection.
    pub cache_store: Duration,
    /// The wait-for graph: index, summaries, edges, cycles.
    pub graph: Duration,
    /// Findings from the cycles.
    pub findings: Duration,
    /// Rendering the report: set by the caller.
    pub report: Duration,
    /// The whole of `run`.
    pub run: Duration,
    /// The graph's own stages (index, summaries, each edge pass, cycles).
    pub graph_stages: Vec<crate::graph::timing::Stage>,
    /// Resident and peak resident memory (KiB) at the end of the main
    /// stages: files, graph, findings.
    pub memory: Vec<(&'static str, u64, u64)>,
}

/// How a run obtained each file's facts.
#[derive(Clone, Debug, Default)]
pub struct FileCounts {
    /// Files whose bytes were read this run.
    pub read: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Files parsed with tree-sitter.
    pub parsed: usize,
    /// Files with nothing to parse (only directives and comments): their
    /// facts are empty without a parse.
    pub no_definitions: usize,
    /// Files whose facts came from the cache.
    pub cache_hits: usize,
    /// ... of them, files not even read (unchanged stat).
    pub stat_hits: usize,
    /// Files looked up in the cache and not found.
    pub cache_misses: usize,
    /// The cache's own counters; `None` when the run had no cache.
    pub cache: Option<CacheStats>,
    /// The cache's database file.
    pub cache_path: Option<PathBuf>,
    /// Facts dropped by garbage collection.
    pub cache_dropped: u64,
    /// Nothing had changed: the stored result of the last run was used.
    pub result_hit: bool,
}

/// Worker threads get a large stack: deeply nested kernel expressions make
/// tree walks deep, and running out of stack must not be the failure mode.
const WORKER_STACK: usize = 64 << 20;

pub fn run(opts: &Options, rules: &Rules) -> Result<Outcome> {
    let started = Instant::now();
    let progress = Progress::new(opts.progress);
    let root = match &opts.root {
        Some(r) => {
            std::fs::canonicalize(r).with_context(|| format!("{}: cannot open", r.display()))?
        }
        None => root_of(&opts.paths)?,
    };
    let mut times = StageTimes::default();
    let mut warnings = Vec::new();
    // The cache opens (checking its integrity) while the tree is walked;
    // nothing is read before it is open, as its racy rule requires.
    let (walk, opened) = std::thread::scope(|s| {
        let opening = opts.cache.as_deref().map(|dir| {
            s.spawn(move || {
                let t = Instant::now();
                (open_cache(dir, rules), t.elapsed())
            })
        });
        let t = Instant::now();
        let walk = source::walk(&walk_paths(&opts.paths), &opts.walk);
        times.walk = t.elapsed();
        let opened = opening.map(|h| match h.join() {
            Ok(r) => r,
            Err(_) => (
                Err("cache: opening it panicked; running without it".to_string()),
                Duration::ZERO,
            ),
        });
        (walk, opened)
    });
    let walk = walk?;
    let mut cache = match opened {
        None => None,
        Some((result, took)) => {
            times.cache_open = took;
            match result {
                Ok((cache, w)) => {
                    warnings.extend(w);
                    Some(cache)
                }
                Err(w) => {
                    warnings.push(w);
                    None
                }
            }
        }
    };
    for w in &warnings {
        warn(&progress, w);
    }
    let inputs = inputs(&root, &walk.files, opts);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .stack_size(WORKER_STACK)
        .build()
        .context("starting worker threads")?;
    let mut stats = Stats {
        files: inputs.len() + walk.skipped.len(),
        skipped: walk
            .skipped
            .iter()
            .map(|s| SkippedFile {
                path: source::relative_path(&root, &s.path),
                reason: s.reason.to_string(),
            })
            .collect(),
        ..Stats::default()
    };
    let mut counts = FileCounts::default();

    // Every input's relative path and stat, and with a cache its key when
    // the stat says it is unchanged.
    let t = Instant::now();
    let probes: Vec<Probe> = pool.install(|| {
        inputs
            .par_iter()
            .map(|i| probe(i, &root, opts, cache.as_ref()))
            .collect()
    });
    times.stat = t.elapsed();
    let scope = scope_key(opts, &root);
    if let Some(c) = &cache {
        let t = Instant::now();
        let keys: Option<Vec<u128>> = probes.iter().map(|p| p.key).collect();
        let stored = keys
            .map(|keys| run_key(scope, &probes, &keys, &stats.skipped))
            .and_then(|run| c.get_result(scope, run))
            .and_then(|bytes| serde_json::from_slice::<StoredResult>(&bytes).ok());
        times.cache_lookup += t.elapsed();
        if let Some(stored) = stored {
            // Nothing changed since the run that stored this result.
            progress.finish();
            counts.cache_hits = probes.len();
            counts.stat_hits = probes.iter().filter(|p| p.meta.is_some()).count();
            counts.result_hit = true;
            counts.cache = Some(c.stats());
            counts.cache_path = Some(c.path().to_path_buf());
            let mut stats = stored.stats;
            stats.parse_coverage = coverage(stats.functions, stats.functions_with_errors);
            stats.elapsed_ms = started.elapsed().as_millis() as u64;
            times.run = started.elapsed();
            return Ok(Outcome {
                findings: stored.findings,
                stats,
                root,
                times,
                counts,
                warnings,
            });
        }
    }

    let t = Instant::now();
    progress.files(inputs.len() as u64);
    let results: Vec<FileResult> = {
        let worker = Worker {
            opts,
            rules,
            cache: cache.as_ref().map(|c| c.reader()),
        };
        pool.install(|| {
            inputs
                .par_iter()
                .zip(probes.into_par_iter())
                .map(|(i, p)| {
                    let r = worker.analyse(i, p);
                    progress.file_done();
                    r
                })
                .collect()
        })
    };
    times.files = t.elapsed();
    mark_memory(&mut times, "files");
    for r in &results {
        times.read_hash += r.read;
        times.cache_lookup += r.lookup;
        times.parse_facts += r.parse;
        match r.origin {
            Origin::Cache { stat_hit } => {
                counts.cache_hits += 1;
                counts.stat_hits += usize::from(stat_hit);
            }
            Origin::Parsed => counts.parsed += 1,
            Origin::NoDefinitions => counts.no_definitions += 1,
            Origin::Skipped => {}
        }
        if let Some(n) = r.bytes {
            counts.read += 1;
            counts.bytes += n;
        }
        if cache.is_some() && r.key.is_some() && !matches!(r.origin, Origin::Cache { .. }) {
            counts.cache_misses += 1;
        }
    }
    // The run's key, when every input has one: its result is stored below.
    let run = {
        let keys: Option<Vec<u128>> = results.iter().map(|r| r.key).collect();
        keys.map(|keys| run_key(scope, &results, &keys, &stats.skipped))
    };

    if let Some(c) = cache.as_mut() {
        progress.stage("caching");
        let t = Instant::now();
        let whole = opts.overlay.is_none() && is_whole_tree(&root, &opts.paths);
        let w = pool.install(|| store(c, &root, &results, whole, &mut counts));
        times.cache_store += t.elapsed();
        for w in w {
            warn(&progress, &w);
            warnings.push(w);
        }
    }

    let mut files = Vec::with_capacity(results.len());
    for r in results {
        match r.facts {
            Ok(f) => files.push(f),
            Err(s) => stats.skipped.push(s),
        }
    }
    stats.files_parsed = files.len();
    stats.functions = files.iter().map(|f| f.functions.len()).sum();
    stats.functions_with_errors = files.iter().map(|f| f.functions_with_errors as usize).sum();
    stats.parse_coverage = coverage(stats.functions, stats.functions_with_errors);
    progress.stage("graph");
    let t = Instant::now();
    let graph = pool.install(|| WaitGraph::build(files, rules));
    times.graph = t.elapsed();
    times.graph_stages = graph.stages.done.clone();
    mark_memory(&mut times, "graph");
    progress.stage("findings");
    let t = Instant::now();
    let found = pool.install(|| findings::build::findings(&graph));
    times.findings = t.elapsed();
    mark_memory(&mut times, "findings");
    stats.edges = graph.edges.len();
    stats.resources = graph.resource_count();
    stats.findings = found.len();
    drop(graph);

    if let (Some(c), Some(run)) = (cache.as_mut(), run) {
        let t = Instant::now();
        let stored = StoredResult {
            findings: found.clone(),
            stats: stats.clone(),
        };
        let put = serde_json::to_vec(&stored)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| c.put_result(scope, run, &bytes));
        if let Err(e) = put {
            let w = format!("cache: storing the result failed: {e:#}");
            warn(&progress, &w);
            warnings.push(w);
        }
        times.cache_store += t.elapsed();
    }
    if let Some(c) = &cache {
        counts.cache = Some(c.stats());
        counts.cache_path = Some(c.path().to_path_buf());
    }
    progress.finish();
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    times.run = started.elapsed();
    Ok(Outcome {
        findings: found,
        stats,
        root,
        times,
        counts,
        warnings,
    })
}

/// `1 - with_errors / functions`, 1.0 when there are none.
fn mark_memory(times: &mut StageTimes, stage: &'static str) {
    let (rss, peak) = crate::graph::timing::memory_kb();
    times.memory.push((stage, rss, peak));
}

fn coverage(functions: usize, with_errors: usize) -> f64 {
    if functions == 0 {
        1.0
    } else {
        1.0 - with_errors as f64 / functions as f64
    }
}

/// A run's result as the cache keeps it. JSON, not postcard: findings use
/// serde attributes (`flatten`, `skip_serializing_if`) that only a
/// self-describing format reads back; `parse_coverage` is recomputed from
/// the counts on load, so no float goes through text.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredResult {
    findings: Vec<Finding>,
    stats: Stats,
}

/// The key of what a run was asked: root, paths, options. Every field of
/// `Options` is named here, so one added later cannot be forgotten: a field
/// that changes the result must be hashed.
fn scope_key(opts: &Options, root: &Path) -> u128 {
    let Options {
        paths,
        jobs: _,
        walk,
        root: _,
        overlay,
        cache: _,
        progress: _,
    } = opts;
    let mut h = Xxh3::new();
    let mut put = |b: &[u8]| {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    put(b"scope-v1");
    put(root.as_os_str().as_encoded_bytes());
    let mut canon: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    canon.sort();
    for p in &canon {
        put(p.as_os_str().as_encoded_bytes());
    }
    let WalkOptions {
        max_file_size,
        extensions,
    } = walk;
    put(&max_file_size.to_le_bytes());
    for e in extensions {
        put(e.as_bytes());
    }
    put(&[u8::from(overlay.is_some())]);
    h.digest128()
}

/// The key of what a run read: the scope, every input's relative path and
/// content key in order, and the files skipped by the walk.
fn run_key<T: Named>(scope: u128, inputs: &[T], keys: &[u128], skipped: &[SkippedFile]) -> u128 {
    let mut h = Xxh3::new();
    h.update(&scope.to_le_bytes());
    h.update(&(inputs.len() as u64).to_le_bytes());
    for (i, key) in inputs.iter().zip(keys) {
        let rel = i.rel();
        h.update(&(rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        h.update(&key.to_le_bytes());
    }
    for s in skipped {
        for part in [&s.path, &s.reason] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    h.digest128()
}

/// Something with the relative path of an input.
trait Named {
    fn rel(&self) -> &str;
}

impl Named for Probe {
    fn rel(&self) -> &str {
        &self.rel
    }
}

impl Named for FileResult {
    fn rel(&self) -> &str {
        &self.rel
    }
}

/// Prints a warning on stderr without tearing the progress bar.
fn warn(progress: &Progress, msg: &str) {
    progress.suspend(|| eprintln!("waitcheck: warning: {msg}"));
}

/// The paths to walk: directories canonical (so walked files are under the
/// canonical root and their relative paths need no further system call),
/// files as given (a symlinked file keeps its own name).
fn walk_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .map(|p| match std::fs::canonicalize(p) {
            Ok(c) if c.is_dir() => c,
            _ => p.clone(),
        })
        .collect()
}

/// Does the run cover all of `root`: then the keys it used are all the
/// cache needs to keep for this tree.
fn is_whole_tree(root: &Path, paths: &[PathBuf]) -> bool {
    paths
        .iter()
        .any(|p| std::fs::canonicalize(p).is_ok_and(|c| c == root))
}

/// Opens the cache with this build's salt; an error is the warning to print.
fn open_cache(dir: &Path, rules: &Rules) -> std::result::Result<(Cache, Vec<String>), String> {
    let Some(salt) = cache_salt(rules) else {
        return Err(
            "cache: cannot read this program's executable to identify the build; \
             running without the cache"
                .to_string(),
        );
    };
    Cache::open(dir, salt).map_err(|e| format!("{e:#}; running without the cache"))
}

/// The cache's salt: tool version, rules and build. `None` when the build
/// cannot be identified.
fn cache_salt(rules: &Rules) -> Option<u64> {
    let mut h = Xxh3::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&rules.hash.to_le_bytes());
    h.update(&build_identity()?.to_le_bytes());
    Some(h.digest())
}

/// A hash of this program's executable: any rebuild, whatever it changed
/// in how facts are extracted, gets a cache of its own. Computed once per
/// process (~20 ms for the release binary).
fn build_identity() -> Option<u64> {
    static ID: OnceLock<Option<u64>> = OnceLock::new();
    *ID.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let bytes = std::fs::read(exe).ok()?;
        Some(xxh3_64(&bytes))
    })
}

/// What the stat pass learnt about one input.
struct Probe {
    rel: String,
    /// A file on disk: its metadata, taken before reading it, or why it
    /// is skipped. `None` for an overlay file.
    meta: Option<std::result::Result<std::fs::Metadata, String>>,
    /// The content key when known without reading: recorded for this
    /// stat (disk), or hashed from memory (overlay).
    key: Option<u128>,
    /// `key` came from the stat table: the file need not be read if its
    /// facts are in the cache.
    stat_hit: bool,
}

fn probe(input: &Input, root: &Path, opts: &Options, cache: Option<&Cache>) -> Probe {
    match input {
        Input::Disk(path) => {
            let rel = source::relative_path(root, path);
            let meta = source::metadata(path, &opts.walk).map_err(|r| r.to_string());
            let key = match (&meta, cache) {
                (Ok(m), Some(c)) => c.lookup_stat(&cache::stat_path(root, &rel), FileStat::of(m)),
                _ => None,
            };
            Probe {
                rel,
                meta: Some(meta),
                key,
                stat_hit: key.is_some(),
            }
        }
        Input::Memory(rel) => {
            let key = cache.map(|_| cache::content_key(rel, overlay_bytes(opts, rel)));
            Probe {
                rel: rel.clone(),
                meta: None,
                key,
                stat_hit: false,
            }
        }
    }
}

/// An overlay file's content (empty if it is not there: `inputs` only
/// names overlay files with content).
fn overlay_bytes<'a>(opts: &'a Options, rel: &str) -> &'a [u8] {
    opts.overlay
        .as_ref()
        .and_then(|o| o.get(rel))
        .and_then(|c| c.as_deref())
        .unwrap_or_default()
}

/// How a file's facts were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// From the cache; `stat_hit`: without reading the file.
    Cache { stat_hit: bool },
    /// Parsed this run.
    Parsed,
    /// Only directives and comments: empty facts without a parse.
    NoDefinitions,
    /// Not analysed.
    Skipped,
}

/// One file's outcome, with what the cache needs and the time spent.
struct FileResult {
    rel: String,
    facts: Result<FileFacts, SkippedFile>,
    origin: Origin,
    /// The content key (with a cache).
    key: Option<u128>,
    /// The stat taken before reading, to record (files on disk, read).
    stat: Option<FileStat>,
    /// Bytes read, when the file was read.
    bytes: Option<u64>,
    read: Duration,
    lookup: Duration,
    parse: Duration,
}

impl FileResult {
    fn new(rel: String) -> FileResult {
        FileResult {
            rel,
            facts: Err(SkippedFile::default()),
            origin: Origin::Skipped,
            key: None,
            stat: None,
            bytes: None,
            read: Duration::ZERO,
            lookup: Duration::ZERO,
            parse: Duration::ZERO,
        }
    }

    fn skip(mut self, reason: String) -> FileResult {
        self.facts = Err(SkippedFile {
            path: self.rel.clone(),
            reason,
        });
        self.origin = Origin::Skipped;
        self
    }
}

/// What every file's analysis shares.
struct Worker<'a> {
    opts: &'a Options,
    rules: &'a Rules,
    cache: Option<cache::Reader<'a>>,
}

impl Worker<'_> {
    fn analyse(&self, input: &Input, probe: Probe) -> FileResult {
        let mut r = FileResult::new(probe.rel);
        let path = match input {
            Input::Disk(path) => path,
            Input::Memory(rel) => {
                let bytes = overlay_bytes(self.opts, rel).to_vec();
                return self.content(r, bytes);
            }
        };
        let meta = match probe.meta {
            Some(Ok(m)) => m,
            Some(Err(reason)) => return r.skip(reason),
            None => return r.skip("no metadata".to_string()),
        };
        if let (Some(reader), Some(key), true) = (&self.cache, probe.key, probe.stat_hit) {
            let t = Instant::now();
            let found = cached(reader, key, &r.rel);
            r.lookup += t.elapsed();
            if let Some(facts) = found {
                r.key = Some(key);
                r.facts = Ok(facts);
                r.origin = Origin::Cache { stat_hit: true };
                return r;
            }
        }
        let t = Instant::now();
        let bytes = source::read_bytes(path, &meta, &self.opts.walk);
        r.read += t.elapsed();
        match bytes {
            Ok(b) => {
                r.bytes = Some(b.len() as u64);
                r.stat = Some(FileStat::of(&meta));
                self.content(r, b)
            }
            Err(reason) => r.skip(reason.to_string()),
        }
    }

    /// Content lookup, else decode and parse.
    fn content(&self, mut r: FileResult, bytes: Vec<u8>) -> FileResult {
        if let Some(reader) = &self.cache {
            let t = Instant::now();
            let key = cache::content_key(&r.rel, &bytes);
            r.read += t.elapsed();
            r.key = Some(key);
            let t = Instant::now();
            let found = cached(reader, key, &r.rel);
            r.lookup += t.elapsed();
            if let Some(facts) = found {
                r.facts = Ok(facts);
                r.origin = Origin::Cache { stat_hit: false };
                return r;
            }
        }
        let t = Instant::now();
        let parsed = match source::decode(bytes, &self.opts.walk) {
            Err(reason) => Err(reason.to_string()),
            Ok(loaded) if crate::parse::has_no_definitions(&loaded.bytes) => Ok((
                FileFacts {
                    path: r.rel.clone(),
                    lossy: loaded.lossy,
                    ..FileFacts::default()
                },
                Origin::NoDefinitions,
            )),
            Ok(loaded) => crate::parse::parse_file(&r.rel, &loaded.bytes, self.rules)
                .map(|mut facts| {
                    facts.lossy = loaded.lossy;
                    (facts, Origin::Parsed)
                })
                .map_err(|e| format!("{e:#}")),
        };
        r.parse += t.elapsed();
        match parsed {
            Ok((facts, origin)) => {
                r.facts = Ok(facts);
                r.origin = origin;
                r
            }
            Err(reason) => r.skip(reason),
        }
    }
}

/// Cached facts for `key`, if they are this file's (the key covers the
/// path; checking it costs nothing).
fn cached(reader: &cache::Reader, key: u128, rel: &str) -> Option<FileFacts> {
    reader.get(key).filter(|f| f.path == rel)
}

/// After the per-file phase: stores new facts, records the stats of the
/// files read (skipped ones too: their key feeds the run key), and on a
/// whole-tree run drops what the tree no longer uses. Returns the warnings
/// (a failed write only costs the next run a miss).
fn store(
    cache: &mut Cache,
    root: &Path,
    results: &[FileResult],
    whole_tree: bool,
    counts: &mut FileCounts,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let fresh: Vec<(u128, &FileFacts)> = results
        .iter()
        .filter(|r| matches!(r.origin, Origin::Parsed | Origin::NoDefinitions))
        .filter_map(|r| Some((r.key?, r.facts.as_ref().ok()?)))
        .collect();
    if !fresh.is_empty() || cache.corrupt_entries() > 0 {
        if let Err(e) = cache.put_many(fresh) {
            warnings.push(format!("cache: storing facts failed: {e:#}"));
            return warnings;
        }
    }
    let rows: Vec<(String, FileStat, u128)> = results
        .iter()
        .filter_map(|r| Some((cache::stat_path(root, &r.rel), r.stat?, r.key?)))
        .collect();
    if !rows.is_empty() {
        if let Err(e) = cache.record_stats(rows) {
            warnings.push(format!("cache: recording file stats failed: {e:#}"));
        }
    }
    if whole_tree {
        let live: HashSet<u128> = results.iter().filter_map(|r| r.key).collect();
        match cache.retain(&cache::stat_path(root, ""), &live) {
            Ok(n) => counts.cache_dropped = n,
            Err(e) => warnings.push(format!("cache: garbage collection failed: {e:#}")),
        }
    }
    warnings
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

/// Writes `--stats`: one `waitcheck: stats` line, then one line per stage
/// (`time <label> <seconds> s`) and per count (`count <label> <value>`),
/// with stable labels, for people and scripts alike.
pub fn write_stats(outcome: &Outcome, out: &mut dyn Write) -> std::io::Result<()> {
    let t = &outcome.times;
    let c = &outcome.counts;
    let s = &outcome.stats;
    writeln!(out, "waitcheck: stats")?;
    let thread = "(thread time, summed over workers)";
    let stages: [(&str, Duration, &str); 12] = [
        ("walk", t.walk, ""),
        ("cache-open", t.cache_open, "(alongside walk)"),
        ("stat", t.stat, ""),
        (
            "files",
            t.files,
            "(wall: the three below, per file, in parallel)",
        ),
        ("read+hash", t.read_hash, thread),
        ("cache-lookup", t.cache_lookup, thread),
        ("parse+facts", t.parse_facts, thread),
        ("cache-store", t.cache_store, ""),
        ("graph", t.graph, "(index, summaries, edges, cycles)"),
        ("findings", t.findings, ""),
        ("report", t.report, ""),
        ("total", t.run + t.report, ""),
    ];
    for (label, d, note) in stages {
        let line = format!("time  {label:<20}{:>9.3} s  {note}", d.as_secs_f64());
        writeln!(out, "{}", line.trim_end())?;
        if label == "graph" {
            for g in &t.graph_stages {
                writeln!(
                    out,
                    "time    {:<18}{:>9.3} s  (rss {} MB, peak {} MB)",
                    g.name,
                    g.time.as_secs_f64(),
                    g.rss_kb / 1024,
                    g.peak_kb / 1024
                )?;
            }
        }
    }
    for (stage, rss, peak) in &t.memory {
        writeln!(
            out,
            "mem   after {stage:<14}{:>9} MB  (peak {} MB)",
            rss / 1024,
            peak / 1024
        )?;
    }
    let mut count = |label: &str, value: String| writeln!(out, "count {label:<20}{value:>9}");
    count("files", s.files.to_string())?;
    count("files-read", c.read.to_string())?;
    count("bytes-read", c.bytes.to_string())?;
    count("cache-hits", c.cache_hits.to_string())?;
    count("stat-hits", c.stat_hits.to_string())?;
    count("cache-misses", c.cache_misses.to_string())?;
    count("parsed", c.parsed.to_string())?;
    count("no-definitions", c.no_definitions.to_string())?;
    count("skipped", s.skipped.len().to_string())?;
    count("functions", s.functions.to_string())?;
    count(
        "parse-coverage",
        format!("{:.2}%", s.parse_coverage * 100.0),
    )?;
    count("edges", s.edges.to_string())?;
    count("resources", s.resources.to_string())?;
    count("findings", s.findings.to_string())?;
    match (&c.cache, &c.cache_path) {
        (Some(cs), Some(path)) => {
            count("cache-bytes-read", cs.bytes_read.to_string())?;
            count("cache-bytes-written", cs.bytes_written.to_string())?;
            count("cache-corrupt", cs.corrupt_entries.to_string())?;
            count("cache-dropped", c.cache_dropped.to_string())?;
            count(
                "result-hit",
                (if c.result_hit { "yes" } else { "no" }).to_string(),
            )?;
            writeln!(out, "cache {}", path.display())?;
        }
        _ => writeln!(out, "cache off")?,
    }
    Ok(())
}

/// What `--parse-only` measured: the floor a run is compared with.
#[derive(Clone, Debug, Default)]
pub struct ParseOnly {
    /// Files parsed.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Files whose tree has an error node.
    pub with_errors: usize,
    /// Files not parsed (too large, binary, unreadable).
    pub skipped: usize,
    pub walk: Duration,
    /// Wall time of reading and parsing.
    pub parse: Duration,
}

/// Walks and parses every file with tree-sitter-c, as `run` would find and
/// read them, and does nothing else: no pre-pass, facts, cache or graph.
pub fn parse_only(opts: &Options) -> Result<ParseOnly> {
    let progress = Progress::new(opts.progress);
    let t = Instant::now();
    let walk = source::walk(&walk_paths(&opts.paths), &opts.walk)?;
    let mut out = ParseOnly {
        walk: t.elapsed(),
        skipped: walk.skipped.len(),
        ..ParseOnly::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .stack_size(WORKER_STACK)
        .build()
        .context("starting worker threads")?;
    let t = Instant::now();
    progress.files(walk.files.len() as u64);
    let parsed: Vec<Option<(u64, bool)>> = pool.install(|| {
        walk.files
            .par_iter()
            .map(|p| {
                let r = source::read(p, &opts.walk).ok().and_then(|l| {
                    let rel = p.display().to_string();
                    let has_error = crate::parse::parse_only(&rel, &l.bytes).ok()?;
                    Some((l.bytes.len() as u64, has_error))
                });
                progress.file_done();
                r
            })
            .collect()
    });
    progress.finish();
    out.parse = t.elapsed();
    for p in parsed {
        match p {
            Some((bytes, has_error)) => {
                out.files += 1;
                out.bytes += bytes;
                out.with_errors += usize::from(has_error);
            }
            None => out.skipped += 1,
        }
    }
    Ok(out)
}
