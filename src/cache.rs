//! The per-file facts cache: one embedded redb database file
//! (`<dir>/facts-v1.redb`) that maps a file's content to its [`FileFacts`],
//! so a re-run over an unchanged tree, or after editing one file, parses
//! only what changed.
//!
//! What goes in:
//! - a directory ([`default_dir`] or the user's choice) and a `salt` that the
//!   caller derives from the tool version, the rules hash and its build;
//! - per file, a content key ([`content_key`]: xxh3-128 over the relative
//!   path and the bytes, since facts carry the path) and the file's facts
//!   ([`Cache::put_many`]);
//! - per file on disk, `(stat_path, FileStat, key)` for the stat fast path
//!   ([`Cache::record_stats`]; `stat_path` names the file on disk and the
//!   relative path it was analysed as, see [`stat_path`]), and at the end of
//!   a run over a whole root the set of keys the run used ([`Cache::retain`]);
//! - per run, its result under the key of what was asked (scope) and the
//!   key of what was read (every input's key): [`Cache::put_result`].
//!
//! What comes out:
//! - facts for a key, or `None` ([`Cache::get`], [`Cache::get_many`]): a
//!   `None` is always safe, the caller parses the file;
//! - the key recorded for an unchanged `(path, size, mtime, ctime, inode)`
//!   ([`Cache::lookup_stat`]), so an unchanged tree need not be read;
//! - a scope's last result if it was computed from the same inputs
//!   ([`Cache::get_result`]), so an unchanged tree needs no facts at all;
//! - warnings to print (from [`Cache::open`]) and counters
//!   ([`Cache::stats`], [`CacheStats`]).
//!
//! A run goes: `open` (before reading any file: its time is the reference
//! of the racy rule below) -> for each file, `stat` it BEFORE reading it (a
//! file changed between the stat and the read then only costs a miss next
//! time), `lookup_stat` -> if every file has a key, `get_result` -> else,
//! per file, facts by the stat key, else read it, compute `content_key` and
//! look that up ([`Cache::reader`]) -> parse the misses -> `put_many` ->
//! `record_stats` -> `retain` with every key the run used (whole-root runs
//! only) -> `put_result`.
//!
//! Trust: nothing read from disk is trusted into a wrong result. Every value
//! carries a format version and an xxh3-64 checksum of its postcard payload;
//! one that fails either or does not decode is a miss, counted in
//! [`Cache::corrupt_entries`], and deleted at the next write. The salt (mixed
//! with this module's format version and the source of the facts model, so
//! an edited model can never be decoded by the wrong shape) is stored in the
//! database: a different salt drops every entry. A database file that redb
//! cannot open as its own (garbage, truncated, another schema) is moved
//! aside to `.corrupt` and replaced by an empty one, with a warning.
//!
//! The stat fast path compares size, mtime, ctime and inode, as git does: a
//! file rewritten in place with its old mtime restored still has a new
//! ctime, a file replaced by another has a new inode. It can miss an edit
//! that keeps the size and lands within the file system's time granularity
//! of the recorded times. As git does ("racy git"), [`Cache::record_stats`]
//! refuses to record a file whose mtime or ctime is within 2 seconds of the
//! time the cache was opened, or later: such a file is read again next run.
//!
//! Costs: `open` verifies every page checksum of the file (redb's integrity
//! check, ~0.7-1.2 s for a whole kernel tree's 1.1 GB file) because a plain
//! open of a damaged file can panic later, inside a read. One process holds the
//! database at a time: a second `open` fails, and its caller runs uncached.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rayon::prelude::*;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata, StorageError,
    TableDefinition, TableError, WriteTransaction,
};
use serde::Serialize;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::facts::model::FileFacts;

/// The database file's name; the `v1` names the table layout.
const DB_FILE: &str = "facts-v1.redb";

/// The value header's format version: bump it when the header or the
/// encoding changes. It is also mixed into the stored salt, so a bump drops
/// old entries instead of reading them as corrupt.
const FORMAT_VERSION: u32 = 1;

/// Value header: format version (u32 LE) + xxh3-64 of the payload (u64 LE).
const HEADER_LEN: usize = 12;

/// Garbage collection starts when the store holds more than this many
/// times the live entries: room for a second tree or branch.
const GC_FACTOR: u64 = 2;

/// The race window of the stat fast path: coarse mtime granularity (FAT
/// has 2 s) plus clock skew between the file system and this process.
const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// redb's page cache. Each entry is read once per run, so a large cache
/// only grows the process; the OS page cache serves re-reads.
const REDB_CACHE_BYTES: usize = 64 << 20;

/// How many values `put_many` encodes before inserting them.
const PUT_CHUNK: usize = 1024;

/// Content key -> header + postcard(FileFacts).
const FACTS: TableDefinition<u128, &[u8]> = TableDefinition::new("facts");
/// Stat path -> (size, mtime_ns, ctime_ns, inode, content key).
const STATS: TableDefinition<&str, (u64, i128, i128, u64, u128)> = TableDefinition::new("stats");
/// Scope key -> run key (u128 LE) + the run's result, both checksummed
/// like facts: the last result of each scope (see [`Cache::get_result`]).
const RESULTS: TableDefinition<u128, &[u8]> = TableDefinition::new("results");
/// More scopes than this and the results table is emptied: results are
/// cheap to recompute from cached facts, the bound keeps the table small.
const MAX_RESULTS: u64 = 64;
/// Metadata: `salt`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const SALT_KEY: &str = "salt";

/// The source of the types whose postcard encoding is stored. Postcard is
/// not self-describing: a reordered field or variant would decode old bytes
/// into wrong facts without an error, so any edit of these files drops the
/// cache (at worst one cold run too many).
const MODEL_SOURCES: [&str; 2] = [include_str!("facts/model.rs"), include_str!("rules.rs")];

/// Counters of one cache handle, for the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Keys found with valid facts.
    pub hits: u64,
    /// Keys not found, or found unusable.
    pub misses: u64,
    /// Values that failed the checksum or did not decode (also misses).
    pub corrupt_entries: u64,
    /// Reads the database failed (also misses).
    pub read_errors: u64,
    /// Stored bytes read by `get`/`get_many` (headers included).
    pub bytes_read: u64,
    /// Stored bytes written by `put_many` (headers included).
    pub bytes_written: u64,
    /// `lookup_stat` calls answered with a key.
    pub stat_hits: u64,
    /// `lookup_stat` calls that found no matching record.
    pub stat_misses: u64,
    /// Stat records refused because the mtime was too recent (racy).
    pub stat_refused: u64,
    /// Entries dropped by `retain`.
    pub dropped: u64,
}

/// Atomic twin of [`CacheStats`]: `get_many` runs on `&self` from rayon.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    read_errors: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    stat_hits: AtomicU64,
    stat_misses: AtomicU64,
    stat_refused: AtomicU64,
    dropped: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// One recorded stat: size, mtime and ctime in ns since the epoch, inode,
/// content key.
type StatRow = (u64, i128, i128, u64, u128);

/// What the stat fast path compares: a file whose `FileStat` is the one
/// recorded is taken as unchanged without reading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileStat {
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i128,
    /// Status change time, ns since the epoch (the mtime where there is none).
    pub ctime_ns: i128,
    /// Inode number (0 where there is none).
    pub ino: u64,
}

impl FileStat {
    /// The stat of a file from its metadata.
    #[cfg(unix)]
    pub fn of(meta: &fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileStat {
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }

    /// The stat of a file from its metadata.
    #[cfg(not(unix))]
    pub fn of(meta: &fs::Metadata) -> FileStat {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        FileStat {
            size: meta.len(),
            mtime_ns,
            ctime_ns: mtime_ns,
            ino: 0,
        }
    }

    /// The later of mtime and ctime: what the racy rule looks at.
    fn changed_ns(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }

    fn row(&self, key: u128) -> StatRow {
        (self.size, self.mtime_ns, self.ctime_ns, self.ino, key)
    }
}

/// The stat table's key for a file: the root its relative path is taken
/// from and that relative path. The file on disk is `root/rel`; the
/// relative path is part of the key because facts (and content keys) carry
/// it, so the same file analysed under another root is another entry.
pub fn stat_path(root: &Path, rel: &str) -> String {
    format!("{}\0{rel}", root.display())
}

/// The facts cache. See the module doc.
pub struct Cache {
    db: Database,
    path: PathBuf,
    /// When this handle was opened, in ns since the epoch: a lower bound of
    /// the time the caller read any file, the reference of the racy rule.
    opened_ns: i128,
    counters: Counters,
    /// Keys whose stored value was found corrupt, deleted at the next write.
    pending_deletes: Mutex<HashSet<u128>>,
    /// The stat table, loaded on the first lookup: one read instead of a
    /// transaction per file.
    stat_index: OnceLock<HashMap<String, StatRow>>,
}

/// Where the cache lives by default: `$WAITCHECK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/waitcheck`, else `$HOME/.cache/waitcheck`.
pub fn default_dir() -> Option<PathBuf> {
    dir_from_env(|name| std::env::var_os(name))
}

/// [`default_dir`] over any environment, so tests need not change the
/// process's (other tests may read `HOME` meanwhile).
fn dir_from_env(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WAITCHECK_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("waitcheck"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("waitcheck"))
}

/// The cache key of a file: xxh3-128 over its relative path and its bytes.
/// The path is part of it because facts record the path; its length goes
/// first so `("a", "bc")` and `("ab", "c")` differ.
pub fn content_key(rel_path: &str, bytes: &[u8]) -> u128 {
    let mut h = Xxh3::new();
    h.update(&(rel_path.len() as u64).to_le_bytes());
    h.update(rel_path.as_bytes());
    h.update(bytes);
    h.digest128()
}

/// The salt actually stored: the caller's, this module's format version and
/// the model's source.
fn effective_salt(salt: u64) -> u64 {
    let mut h = Xxh3::new();
    h.update(&salt.to_le_bytes());
    h.update(&FORMAT_VERSION.to_le_bytes());
    for src in MODEL_SOURCES {
        h.update(&(src.len() as u64).to_le_bytes());
        h.update(src.as_bytes());
    }
    h.digest()
}

fn now_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        // A clock before 1970: every mtime looks racy, which is only slower.
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Encodes one value: header + postcard payload. `None` if postcard fails
/// (it cannot for these types; the entry is then simply not cached).
fn encode(facts: &FileFacts) -> Option<Vec<u8>> {
    let mut buf = postcard::to_extend(facts, vec![0u8; HEADER_LEN]).ok()?;
    let sum = xxh3_64(&buf[HEADER_LEN..]);
    buf[..4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf[4..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
    Some(buf)
}

/// Header + `body`, like `encode` for bytes that are not facts.
fn seal(body: Vec<u8>) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER_LEN];
    buf.extend_from_slice(&body);
    let sum = xxh3_64(&buf[HEADER_LEN..]);
    buf[..4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf[4..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
    buf
}

/// The body of a value `seal` wrote, or `None` (short, other version, bad
/// checksum).
fn unseal(raw: &[u8]) -> Option<&[u8]> {
    let (header, body) = raw.split_at_checked(HEADER_LEN)?;
    let (version, sum) = header.split_at(4);
    if u32::from_le_bytes(version.try_into().ok()?) != FORMAT_VERSION {
        return None;
    }
    if u64::from_le_bytes(sum.try_into().ok()?) != xxh3_64(body) {
        return None;
    }
    Some(body)
}

/// Decodes one stored value; `None` for anything that is not exactly what
/// `encode` wrote (short, other version, bad checksum, trailing bytes).
fn decode(raw: &[u8]) -> Option<FileFacts> {
    let payload = unseal(raw)?;
    match postcard::take_from_bytes::<FileFacts>(payload) {
        Ok((facts, [])) => Some(facts),
        _ => None,
    }
}

/// Why opening the database failed: a file to move aside, or a condition
/// that moving the file would not fix (permissions, another process).
enum OpenError {
    Corrupt(String),
    Fatal(anyhow::Error),
}

/// Storage errors that mean "this file is not a sound redb database".
fn storage_is_corrupt(e: &StorageError) -> bool {
    match e {
        StorageError::Corrupted(_) => true,
        StorageError::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

fn classify_db(e: DatabaseError) -> OpenError {
    let corrupt = match &e {
        DatabaseError::RepairAborted | DatabaseError::UpgradeRequired(_) => true,
        DatabaseError::Storage(s) => storage_is_corrupt(s),
        _ => false,
    };
    if corrupt {
        OpenError::Corrupt(e.to_string())
    } else {
        OpenError::Fatal(anyhow::Error::new(e))
    }
}

fn classify_table(e: TableError) -> OpenError {
    match e {
        TableError::Storage(s) if !storage_is_corrupt(&s) => OpenError::Fatal(s.into()),
        // Another table layout under our file name: not ours to read.
        other => OpenError::Corrupt(other.to_string()),
    }
}

fn classify_storage(e: StorageError) -> OpenError {
    if storage_is_corrupt(&e) {
        OpenError::Corrupt(e.to_string())
    } else {
        OpenError::Fatal(e.into())
    }
}

fn classify_txn(e: redb::TransactionError) -> OpenError {
    match e {
        redb::TransactionError::Storage(s) => classify_storage(s),
        other => OpenError::Fatal(other.into()),
    }
}

fn classify_commit(e: redb::CommitError) -> OpenError {
    match e {
        redb::CommitError::Storage(s) => classify_storage(s),
        other => OpenError::Fatal(other.into()),
    }
}

/// Opens (or creates) the database and makes its tables and salt current.
/// redb may panic on a file altered behind its back; the integrity check
/// turns that into an error, and a panic that still escapes counts as a
/// corrupt file too.
fn open_db(path: &Path, salt: u64, warnings: &mut Vec<String>) -> Result<Database, OpenError> {
    let opened = panic::catch_unwind(AssertUnwindSafe(|| {
        let db = Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            // Verifies every page checksum, so a damaged file fails here
            // rather than panicking or misreading later.
            .set_check_integrity_on_open(true)
            .create(path)
            .map_err(classify_db)?;
        init_tables(&db, salt, warnings)?;
        Ok(db)
    }));
    match opened {
        Ok(result) => result,
        Err(_) => Err(OpenError::Corrupt("redb panicked reading it".into())),
    }
}

/// Creates the tables if missing and drops every entry when the stored
/// salt is not `salt`.
fn init_tables(db: &Database, salt: u64, warnings: &mut Vec<String>) -> Result<(), OpenError> {
    let txn = db.begin_write().map_err(classify_txn)?;
    let stored = {
        let meta = txn.open_table(META).map_err(classify_table)?;
        let stored = meta.get(SALT_KEY).map_err(classify_storage)?;
        stored.map(|v| v.value())
    };
    if stored != Some(salt) {
        let had_entries = {
            let facts = txn.open_table(FACTS).map_err(classify_table)?;
            !facts.is_empty().map_err(classify_storage)?
        };
        if stored.is_some() || had_entries {
            warnings.push("cache: rules or tool version changed, rebuilding".into());
        }
        txn.delete_table(FACTS).map_err(classify_table)?;
        txn.delete_table(STATS).map_err(classify_table)?;
        txn.delete_table(RESULTS).map_err(classify_table)?;
        let mut meta = txn.open_table(META).map_err(classify_table)?;
        meta.insert(SALT_KEY, salt).map_err(classify_storage)?;
    }
    // Opening creates a missing table, so readers never meet "no table".
    txn.open_table(FACTS).map_err(classify_table)?;
    txn.open_table(STATS).map_err(classify_table)?;
    txn.open_table(RESULTS).map_err(classify_table)?;
    txn.commit().map_err(classify_commit)
}

/// Moves a bad database file aside so the next open starts empty; the old
/// file is kept for a bug report, replacing any previous one.
fn move_aside(path: &Path, reason: &str) -> Result<String> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    fs::rename(path, &aside)
        .with_context(|| format!("cannot move corrupt cache {} aside", path.display()))?;
    Ok(format!(
        "cache: {} is damaged ({reason}); moved to {} and starting empty",
        path.display(),
        aside.display()
    ))
}

impl Cache {
    /// Opens the cache in `dir` (created if missing). Warnings are for the
    /// user (salt change, a damaged file moved aside); an error means no
    /// cache this run (unwritable directory, database in use by another
    /// process) and callers should warn and go on without one.
    pub fn open(dir: &Path, salt: u64) -> Result<(Cache, Vec<String>)> {
        // Taken first: the racy rule needs a time before any read of the run.
        let opened_ns = now_ns();
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create cache directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        let salt = effective_salt(salt);
        let mut warnings = Vec::new();
        let db = match open_db(&path, salt, &mut warnings) {
            Ok(db) => db,
            Err(OpenError::Fatal(e)) => {
                return Err(e.context(format!("cannot open cache {}", path.display())))
            }
            Err(OpenError::Corrupt(reason)) => {
                // A salt warning about the damaged file is moot now.
                warnings.clear();
                warnings.push(move_aside(&path, &reason)?);
                Self::open_fresh(&path, salt)?
            }
        };
        Ok((Cache::from_db(db, path, opened_ns), warnings))
    }

    /// The second open after moving a damaged file aside: any error is final.
    fn open_fresh(path: &Path, salt: u64) -> Result<Database> {
        match open_db(path, salt, &mut Vec::new()) {
            Ok(db) => Ok(db),
            Err(OpenError::Fatal(e)) => Err(e),
            Err(OpenError::Corrupt(reason)) => {
                anyhow::bail!("cannot create cache {}: {reason}", path.display())
            }
        }
    }

    fn from_db(db: Database, path: PathBuf, opened_ns: i128) -> Cache {
        Cache {
            db,
            path,
            opened_ns,
            counters: Counters::default(),
            pending_deletes: Mutex::new(HashSet::new()),
            stat_index: OnceLock::new(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The facts stored for `key`, or `None` (absent, corrupt, unreadable).
    pub fn get(&self, key: u128) -> Option<FileFacts> {
        self.get_many(&[key]).pop().flatten()
    }

    /// The facts for each key, in order, from one read transaction. Values
    /// are read and decoded in parallel (rayon), in chunks, so the raw bytes
    /// of the whole tree are never all in memory at once.
    pub fn get_many(&self, keys: &[u128]) -> Vec<Option<FileFacts>> {
        let table = match self.begin_read_facts() {
            Ok(table) => table,
            Err(_) => {
                bump(&self.counters.read_errors, 1);
                bump(&self.counters.misses, keys.len() as u64);
                return vec![None; keys.len()];
            }
        };
        keys.par_iter()
            .with_min_len(64)
            .map(|&key| self.read_one(&table, key))
            .collect()
    }

    /// A read view for looking facts up one key at a time, from any thread
    /// (one read transaction for all of them): for a caller that decides
    /// per file, as it goes, whether to parse.
    pub fn reader(&self) -> Reader<'_> {
        let table = match self.begin_read_facts() {
            Ok(table) => Some(table),
            Err(_) => {
                bump(&self.counters.read_errors, 1);
                None
            }
        };
        Reader { cache: self, table }
    }

    fn begin_read_facts(&self) -> Result<redb::ReadOnlyTable<u128, &'static [u8]>> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(FACTS)?)
    }

    /// Reads and decodes one value, keeping the counters.
    fn read_one(
        &self,
        table: &redb::ReadOnlyTable<u128, &'static [u8]>,
        key: u128,
    ) -> Option<FileFacts> {
        let raw = match table.get(key) {
            Ok(Some(guard)) => guard,
            Ok(None) => return self.miss(),
            Err(_) => {
                bump(&self.counters.read_errors, 1);
                return self.miss();
            }
        };
        let raw = raw.value();
        bump(&self.counters.bytes_read, raw.len() as u64);
        match decode(raw) {
            Some(facts) => {
                bump(&self.counters.hits, 1);
                Some(facts)
            }
            None => {
                self.mark_corrupt(key);
                self.miss()
            }
        }
    }

    fn miss(&self) -> Option<FileFacts> {
        bump(&self.counters.misses, 1);
        None
    }

    fn mark_corrupt(&self, key: u128) {
        bump(&self.counters.corrupt, 1);
        // A poisoned lock only means a panic elsewhere; the set is still fine.
        let mut pending = self
            .pending_deletes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.insert(key);
    }

    /// How many stored values were found corrupt by this handle so far.
    pub fn corrupt_entries(&self) -> u64 {
        self.counters.corrupt.load(Ordering::Relaxed)
    }

    /// Stores facts, all in one write transaction: a crash leaves the old
    /// state. Values are encoded in parallel, a chunk at a time, so the
    /// encoded bytes of a whole tree are never all in memory at once.
    pub fn put_many(&mut self, entries: Vec<(u128, &FileFacts)>) -> Result<()> {
        let txn = self.db.begin_write()?;
        self.flush_deletes(&txn)?;
        let mut written = 0u64;
        {
            let mut table = txn.open_table(FACTS)?;
            for chunk in entries.chunks(PUT_CHUNK) {
                let encoded: Vec<(u128, Vec<u8>)> = chunk
                    .par_iter()
                    .filter_map(|&(key, facts)| Some((key, encode(facts)?)))
                    .collect();
                for (key, value) in &encoded {
                    table.insert(key, value.as_slice())?;
                    written += value.len() as u64;
                }
            }
        }
        txn.commit()?;
        bump(&self.counters.bytes_written, written);
        Ok(())
    }

    /// Deletes the values found corrupt, inside the caller's transaction.
    /// If that transaction does not commit, the values stay and are simply
    /// found corrupt again by a later read.
    fn flush_deletes(&self, txn: &WriteTransaction) -> Result<()> {
        let keys: Vec<u128> = {
            let mut pending = self
                .pending_deletes
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            pending.drain().collect()
        };
        if keys.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(FACTS)?;
        for key in keys {
            table.remove(key)?;
        }
        Ok(())
    }

    /// The content key recorded for `rel_path` if its size and mtime are the
    /// ones recorded: the file is then taken as unchanged without reading it.
    /// See the module doc for the race this accepts and how it is narrowed.
    pub fn lookup_stat(&self, stat_path: &str, stat: FileStat) -> Option<u128> {
        let found = match self.stat_index().get(stat_path) {
            Some(&(size, mtime, ctime, ino, key))
                if (size, mtime, ctime, ino)
                    == (stat.size, stat.mtime_ns, stat.ctime_ns, stat.ino) =>
            {
                Some(key)
            }
            _ => None,
        };
        let counter = match found {
            Some(_) => &self.counters.stat_hits,
            None => &self.counters.stat_misses,
        };
        bump(counter, 1);
        found
    }

    fn stat_index(&self) -> &HashMap<String, StatRow> {
        self.stat_index
            .get_or_init(|| match self.load_stat_index() {
                Ok(index) => index,
                Err(_) => {
                    // Unreadable index: every lookup misses, files are read.
                    bump(&self.counters.read_errors, 1);
                    HashMap::new()
                }
            })
    }

    fn load_stat_index(&self) -> Result<HashMap<String, StatRow>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STATS)?;
        let mut index = HashMap::with_capacity(table.len()? as usize);
        for row in table.iter()? {
            let (path, stat) = row?;
            index.insert(path.value().to_string(), stat.value());
        }
        Ok(index)
    }

    /// Records `(stat_path, stat, key)` rows in one write transaction. A row
    /// whose mtime or ctime is within 2 s of when the cache was opened, or
    /// later, is refused and any older row for that path removed: the file
    /// may still change within its times' granularity. The open
    /// time, not the time of this call, is the reference because it precedes
    /// every read of the run: it refuses all that "2 s before now" would,
    /// and also files edited while the run was parsing. Returns how many
    /// rows were recorded.
    pub fn record_stats(&mut self, rows: Vec<(String, FileStat, u128)>) -> Result<usize> {
        self.record_stats_at(rows, self.opened_ns)
    }

    fn record_stats_at(&mut self, rows: Vec<(String, FileStat, u128)>, now: i128) -> Result<usize> {
        let txn = self.db.begin_write()?;
        self.flush_deletes(&txn)?;
        let mut recorded = Vec::with_capacity(rows.len());
        let mut refused = Vec::new();
        {
            let mut table = txn.open_table(STATS)?;
            for (path, stat, key) in rows {
                if stat.changed_ns() > now - RACY_WINDOW_NS {
                    table.remove(path.as_str())?;
                    refused.push(path);
                } else {
                    let row = stat.row(key);
                    table.insert(path.as_str(), row)?;
                    recorded.push((path, row));
                }
            }
        }
        txn.commit()?;
        bump(&self.counters.stat_refused, refused.len() as u64);
        let count = recorded.len();
        self.update_stat_index(recorded, refused);
        Ok(count)
    }

    /// Keeps the in-memory index equal to the table after a commit.
    fn update_stat_index(&mut self, recorded: Vec<(String, StatRow)>, refused: Vec<String>) {
        let Some(index) = self.stat_index.get_mut() else {
            return; // not loaded yet: the next lookup loads the table
        };
        for path in refused {
            index.remove(&path);
        }
        index.extend(recorded);
    }

    /// Garbage collection after a run over the whole of one root (the stat
    /// paths starting with `stat_prefix`, `stat_path(root, "")`): the keys
    /// to keep are `live` (the keys this run used) and the keys the stat
    /// rows of other roots point to (another tree stays warm). When the
    /// store holds more than twice as many facts as that, every other entry
    /// is dropped, with this root's stat rows that point elsewhere (deleted
    /// files). Call it after `put_many`, only for a run over all of its
    /// root: a run over a few files would drop the rest of the tree.
    /// Returns how many facts were dropped.
    pub fn retain(&mut self, stat_prefix: &str, live: &HashSet<u128>) -> Result<u64> {
        // An empty run says nothing about what is still useful.
        if live.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin_write()?;
        self.flush_deletes(&txn)?;
        let dropped = {
            let mut keep = live.clone();
            let mut stats = txn.open_table(STATS)?;
            for row in stats.iter()? {
                let (path, (_, _, _, _, key)) = {
                    let (p, v) = row?;
                    (p.value().to_string(), v.value())
                };
                if !path.starts_with(stat_prefix) {
                    keep.insert(key);
                }
            }
            let mut facts = txn.open_table(FACTS)?;
            let before = facts.len()?;
            if before <= GC_FACTOR.saturating_mul(keep.len() as u64) {
                0
            } else {
                facts.retain(|key, _| keep.contains(&key))?;
                stats.retain(|path, (_, _, _, _, key)| {
                    !path.starts_with(stat_prefix) || live.contains(&key)
                })?;
                before - facts.len()?
            }
        };
        txn.commit()?;
        if dropped > 0 {
            self.stat_index = OnceLock::new(); // rows went too: reload lazily
        }
        bump(&self.counters.dropped, dropped);
        Ok(dropped)
    }

    /// The result stored for `scope` if it was computed from exactly the
    /// inputs `run` names (the caller's hash of every input's key): a run
    /// over an unchanged tree needs no facts at all. `None` for anything
    /// else (absent, other inputs, corrupt, unreadable).
    pub fn get_result(&self, scope: u128, run: u128) -> Option<Vec<u8>> {
        let read = || -> Result<Option<Vec<u8>>> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(RESULTS)?;
            Ok(table.get(scope)?.map(|v| v.value().to_vec()))
        };
        let raw = match read() {
            Ok(Some(raw)) => raw,
            Ok(None) => return None,
            Err(_) => {
                bump(&self.counters.read_errors, 1);
                return None;
            }
        };
        bump(&self.counters.bytes_read, raw.len() as u64);
        let Some(body) = unseal(&raw) else {
            bump(&self.counters.corrupt, 1);
            return None;
        };
        let (stored_run, payload) = body.split_at_checked(16)?;
        if u128::from_le_bytes(stored_run.try_into().ok()?) != run {
            return None;
        }
        Some(payload.to_vec())
    }

    /// Stores `payload` as the result of `scope` computed from `run`,
    /// replacing the scope's previous one, in one write transaction.
    pub fn put_result(&mut self, scope: u128, run: u128, payload: &[u8]) -> Result<()> {
        let mut body = Vec::with_capacity(16 + payload.len());
        body.extend_from_slice(&run.to_le_bytes());
        body.extend_from_slice(payload);
        let value = seal(body);
        let txn = self.db.begin_write()?;
        self.flush_deletes(&txn)?;
        {
            let mut table = txn.open_table(RESULTS)?;
            if table.len()? >= MAX_RESULTS && table.get(scope)?.is_none() {
                table.retain(|_, _| false)?;
            }
            table.insert(scope, value.as_slice())?;
        }
        txn.commit()?;
        bump(&self.counters.bytes_written, value.len() as u64);
        Ok(())
    }

    /// How many facts the store holds.
    pub fn entry_count(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(FACTS)?.len()?)
    }

    /// A snapshot of this handle's counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            corrupt_entries: get(&c.corrupt),
            read_errors: get(&c.read_errors),
            bytes_read: get(&c.bytes_read),
            bytes_written: get(&c.bytes_written),
            stat_hits: get(&c.stat_hits),
            stat_misses: get(&c.stat_misses),
            stat_refused: get(&c.stat_refused),
            dropped: get(&c.dropped),
        }
    }
}

/// See [`Cache::reader`]. Counts into its cache's counters.
pub struct Reader<'a> {
    cache: &'a Cache,
    /// `None` when the read transaction could not start: every get misses.
    table: Option<redb::ReadOnlyTable<u128, &'static [u8]>>,
}

impl Reader<'_> {
    /// The facts stored for `key`, or `None` (absent, corrupt, unreadable).
    pub fn get(&self, key: u128) -> Option<FileFacts> {
        match &self.table {
            Some(table) => self.cache.read_one(table, key),
            None => self.cache.miss(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::model::{
        FileBind, FnValue, Function, Global, KeyPath, Param, Pos, Root, Site, SiteKind, StructDef,
    };
    use crate::rules::{ResourceKind, WaitMode};

    const SALT: u64 = 0x5eed;

    fn pos(n: u32) -> Pos {
        Pos {
            start: n,
            end: n + 4,
            line: n / 10 + 1,
            col: n % 10 + 1,
        }
    }

    fn lock_key(ty: &str) -> KeyPath {
        KeyPath {
            root: Root::Type(ty.into()),
            fields: vec!["lock".into()],
        }
    }

    fn function(name: &str, n: u32) -> Function {
        let key = lock_key("foo_priv");
        let sites = vec![
            Site {
                pos: pos(n),
                kind: SiteKind::Acquire {
                    res: ResourceKind::Lock,
                    key: key.clone(),
                    is_try: false,
                    shared: false,
                    api: "mutex_lock".into(),
                },
                held: vec![],
                not_in_work: vec![],
                guards: vec![],
                consts: vec![],
                released: vec![],
                states: vec![],
                known: vec![],
                text: "mutex_lock(&priv->lock);".into(),
            },
            Site {
                pos: pos(n + 1),
                kind: SiteKind::Wait {
                    res: ResourceKind::Work,
                    key: Some(KeyPath::global("foo_work")),
                    mode: WaitMode::Cancel,
                    api: "cancel_work_sync".into(),
                },
                held: vec![0],
                not_in_work: vec![KeyPath::global("bar_work")],
                guards: vec![],
                consts: vec![],
                released: vec![],
                states: vec![],
                known: vec![],
                text: "cancel_work_sync(&foo_work);".into(),
            },
            Site {
                pos: pos(n + 2),
                kind: SiteKind::Call {
                    callee: "helper".into(),
                    fn_args: vec![(1, FnValue::Func("cb".into()))],
                    args: vec![(
                        0,
                        KeyPath {
                            root: Root::Param {
                                index: 0,
                                ty: "foo_priv".into(),
                            },
                            fields: vec![],
                        },
                    )],
                },
                held: vec![0],
                not_in_work: vec![],
                guards: vec![],
                consts: vec![],
                released: vec![],
                states: vec![],
                known: vec![],
                text: "helper(priv, cb);".into(),
            },
        ];
        Function {
            name: name.into(),
            is_static: n % 2 == 0,
            pos: pos(n),
            params: vec![Param {
                name: "priv".into(),
                ty: "foo_priv".into(),
            }],
            sites,
            has_errors: false,
            returns_holding: vec![],
            returns_released: vec![],
        }
    }

    fn facts(path: &str, n: u32) -> FileFacts {
        FileFacts {
            path: path.into(),
            functions: (0..n).map(|i| function(&format!("f{i}"), i)).collect(),
            globals: vec![Global {
                name: "foo_work".into(),
                ty: "work_struct".into(),
                is_static: true,
            }],
            structs: vec![StructDef {
                name: "foo_priv".into(),
                fields: vec![("lock".into(), "mutex".into())],
            }],
            typedefs: vec![("foo_t".into(), "foo_priv".into())],
            binds: vec![FileBind {
                pos: pos(1),
                key: KeyPath::global("foo_work"),
                handler: "foo_fn".into(),
                api: "DECLARE_WORK".into(),
                text: "DECLARE_WORK(foo_work, foo_fn);".into(),
            }],
            stores: vec![],
            functions_with_errors: 0,
            lossy: n % 3 == 0,
        }
    }

    /// `count` files `dir/fileN.c` with their keys and facts.
    fn corpus(count: u32) -> Vec<(u128, FileFacts)> {
        (0..count)
            .map(|i| {
                let path = format!("drivers/foo/file{i}.c");
                let key = content_key(&path, format!("int x{i};").as_bytes());
                (key, facts(&path, i % 5 + 1))
            })
            .collect()
    }

    fn put(cache: &mut Cache, entries: &[(u128, FileFacts)]) {
        let refs = entries.iter().map(|(k, f)| (*k, f)).collect();
        cache.put_many(refs).expect("put_many");
    }

    /// A stat with ctime equal to mtime and no inode.
    fn st(size: u64, mtime_ns: i128) -> FileStat {
        FileStat {
            size,
            mtime_ns,
            ctime_ns: mtime_ns,
            ino: 0,
        }
    }

    fn open(dir: &Path, salt: u64) -> (Cache, Vec<String>) {
        Cache::open(dir, salt).expect("open")
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(20);
        {
            let (mut cache, warnings) = open(dir.path(), SALT);
            assert!(warnings.is_empty(), "{warnings:?}");
            put(&mut cache, &entries);
            assert_eq!(cache.get(entries[3].0), Some(entries[3].1.clone()));
            assert!(cache.stats().bytes_written > 0);
        }
        let (cache, warnings) = open(dir.path(), SALT);
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut keys: Vec<u128> = entries.iter().map(|e| e.0).collect();
        keys.push(42); // never stored
        let got = cache.get_many(&keys);
        for ((_, want), got) in entries.iter().zip(&got) {
            assert_eq!(got.as_ref(), Some(want));
        }
        assert_eq!(got[20], None);
        let stats = cache.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.corrupt_entries),
            (20, 1, 0)
        );
        assert!(stats.bytes_read > 0);
        assert_eq!(cache.entry_count().unwrap(), 20);
    }

    #[test]
    fn content_key_covers_path_and_bytes() {
        let a = content_key("a.c", b"int x;");
        assert_ne!(a, content_key("b.c", b"int x;"));
        assert_ne!(a, content_key("a.c", b"int y;"));
        assert_ne!(content_key("ab", b"c"), content_key("a", b"bc"));
        assert_eq!(a, content_key("a.c", b"int x;"));
    }

    #[test]
    fn salt_change_drops_entries() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(5);
        {
            let (mut cache, _) = open(dir.path(), SALT);
            put(&mut cache, &entries);
            cache
                .record_stats_at(vec![("a.c".into(), st(1, 0), entries[0].0)], i128::MAX)
                .unwrap();
        }
        let (cache, warnings) = open(dir.path(), SALT + 1);
        assert_eq!(
            warnings,
            ["cache: rules or tool version changed, rebuilding"]
        );
        assert_eq!(cache.get(entries[0].0), None);
        assert_eq!(cache.entry_count().unwrap(), 0);
        assert_eq!(cache.lookup_stat("a.c", st(1, 0)), None);
        drop(cache);
        let (_, warnings) = open(dir.path(), SALT + 1);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// Rewrites the stored value of `key` through redb with `edit`.
    fn tamper(dir: &Path, key: u128, edit: impl Fn(&mut Vec<u8>)) {
        let db = Database::create(dir.join(DB_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(FACTS).unwrap();
            let mut raw = table.get(key).unwrap().unwrap().value().to_vec();
            edit(&mut raw);
            table.insert(key, raw.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn corrupt_value_is_a_miss_and_deleted_on_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(4);
        {
            let (mut cache, _) = open(dir.path(), SALT);
            put(&mut cache, &entries);
        }
        // A flipped payload byte (checksum), a short value, a bad version.
        tamper(dir.path(), entries[0].0, |raw| {
            let last = raw.len() - 1;
            raw[last] ^= 0xff;
        });
        tamper(dir.path(), entries[1].0, |raw| raw.truncate(5));
        tamper(dir.path(), entries[2].0, |raw| raw[0] ^= 0x01);
        let (mut cache, warnings) = open(dir.path(), SALT);
        assert!(warnings.is_empty(), "{warnings:?}");
        let keys: Vec<u128> = entries.iter().map(|e| e.0).collect();
        let got = cache.get_many(&keys);
        assert_eq!(got[..3], [None, None, None]);
        assert_eq!(got[3].as_ref(), Some(&entries[3].1));
        assert_eq!(cache.corrupt_entries(), 3);
        assert_eq!(cache.stats().misses, 3);
        // The next write deletes them; a re-put of one survives.
        put(&mut cache, &entries[..1]);
        assert_eq!(cache.entry_count().unwrap(), 2);
        assert_eq!(cache.get(entries[0].0).as_ref(), Some(&entries[0].1));
    }

    #[test]
    fn checksummed_garbage_that_does_not_decode_is_a_miss() {
        let mut raw = vec![0u8; HEADER_LEN];
        raw.extend_from_slice(&[0xff; 16]);
        let sum = xxh3_64(&raw[HEADER_LEN..]);
        raw[..4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        raw[4..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&raw), None);
        // Trailing bytes after a valid payload are refused too.
        let mut raw = encode(&facts("a.c", 1)).unwrap();
        raw.push(0);
        let sum = xxh3_64(&raw[HEADER_LEN..]);
        raw[4..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&raw), None);
    }

    fn assert_moved_aside(dir: &Path, warnings: &[String]) {
        let path = dir.join(DB_FILE);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(&path.display().to_string()),
            "{warnings:?}"
        );
        assert!(warnings[0].contains(".corrupt"), "{warnings:?}");
        assert!(dir.join("facts-v1.redb.corrupt").exists());
    }

    #[test]
    fn garbage_database_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let garbage: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        fs::write(dir.path().join(DB_FILE), garbage).unwrap();
        let (mut cache, warnings) = open(dir.path(), SALT);
        assert_moved_aside(dir.path(), &warnings);
        let entries = corpus(3);
        put(&mut cache, &entries);
        assert_eq!(cache.get(entries[1].0).as_ref(), Some(&entries[1].1));
    }

    #[test]
    fn truncated_database_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(200);
        {
            let (mut cache, _) = open(dir.path(), SALT);
            put(&mut cache, &entries);
        }
        let path = dir.path().join(DB_FILE);
        let len = fs::metadata(&path).unwrap().len();
        let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len / 3).unwrap();
        drop(file);
        let (cache, warnings) = open(dir.path(), SALT);
        assert_moved_aside(dir.path(), &warnings);
        assert_eq!(cache.get(entries[0].0), None);
    }

    #[test]
    fn overwritten_pages_are_moved_aside_or_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(200);
        {
            let (mut cache, _) = open(dir.path(), SALT);
            put(&mut cache, &entries);
        }
        let path = dir.path().join(DB_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..mid + 8192].fill(0xa5);
        fs::write(&path, bytes).unwrap();
        let (cache, warnings) = open(dir.path(), SALT);
        assert_moved_aside(dir.path(), &warnings);
        assert_eq!(cache.entry_count().unwrap(), 0);
    }

    #[test]
    fn unusable_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        assert!(Cache::open(&file.join("sub"), SALT).is_err());
    }

    #[test]
    fn stat_fast_path() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let now = cache.opened_ns;
        let old = now - 60_000_000_000;
        let rows = vec![
            ("old.c".to_string(), st(10, old), 1),
            ("racy.c".to_string(), st(10, now - 1_000_000_000), 2),
            ("future.c".to_string(), st(10, now + 5_000_000_000), 3),
            // An old mtime but a recent ctime (touched back): racy too.
            (
                "ctime.c".to_string(),
                FileStat {
                    ctime_ns: now,
                    ..st(10, old)
                },
                5,
            ),
        ];
        assert_eq!(cache.record_stats(rows).unwrap(), 1);
        assert_eq!(cache.lookup_stat("old.c", st(10, old)), Some(1));
        assert_eq!(cache.lookup_stat("old.c", st(11, old)), None);
        assert_eq!(cache.lookup_stat("old.c", st(10, old + 1)), None);
        let moved = FileStat {
            ino: 7,
            ..st(10, old)
        };
        assert_eq!(cache.lookup_stat("old.c", moved), None);
        let changed = FileStat {
            ctime_ns: old + 1,
            ..st(10, old)
        };
        assert_eq!(cache.lookup_stat("old.c", changed), None);
        assert_eq!(
            cache.lookup_stat("racy.c", st(10, now - 1_000_000_000)),
            None
        );
        assert_eq!(
            cache.lookup_stat("future.c", st(10, now + 5_000_000_000)),
            None
        );
        assert_eq!(cache.lookup_stat("new.c", st(10, old)), None);
        let stats = cache.stats();
        assert_eq!(
            (stats.stat_hits, stats.stat_misses, stats.stat_refused),
            (1, 7, 3)
        );
        // A racy record also removes the older row for that path.
        assert_eq!(
            cache
                .record_stats(vec![("old.c".into(), st(10, now), 9)])
                .unwrap(),
            0
        );
        assert_eq!(cache.lookup_stat("old.c", st(10, old)), None);
        cache
            .record_stats(vec![("old.c".into(), st(12, old), 4)])
            .unwrap();
        drop(cache);
        let (cache, _) = open(dir.path(), SALT);
        assert_eq!(cache.lookup_stat("old.c", st(12, old)), Some(4));
    }

    #[test]
    fn stat_paths_keep_roots_apart() {
        let a = stat_path(Path::new("/k/linux-6.1"), "drivers/a.c");
        let b = stat_path(Path::new("/k/linux-6.12"), "drivers/a.c");
        let c = stat_path(Path::new("/k"), "linux-6.1/drivers/a.c");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, stat_path(Path::new("/k/linux-6.1"), "drivers/a.c"));
    }

    #[test]
    fn retain_drops_dead_entries_past_twice_live() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let entries = corpus(10);
        put(&mut cache, &entries);
        let old = cache.opened_ns - 60_000_000_000;
        let root = Path::new("/k");
        let prefix = stat_path(root, "");
        let rows = entries
            .iter()
            .enumerate()
            .map(|(i, (key, _))| (stat_path(root, &format!("f{i}.c")), st(1, old), *key))
            .collect();
        cache.record_stats(rows).unwrap();
        // 10 stored, 5 live: not over 2x, nothing dropped.
        let five: HashSet<u128> = entries[..5].iter().map(|e| e.0).collect();
        assert_eq!(cache.retain(&prefix, &five).unwrap(), 0);
        assert_eq!(cache.retain(&prefix, &HashSet::new()).unwrap(), 0);
        // 10 stored, 2 live: the other 8 and their stat rows go.
        let two: HashSet<u128> = entries[..2].iter().map(|e| e.0).collect();
        assert_eq!(cache.retain(&prefix, &two).unwrap(), 8);
        assert_eq!(cache.entry_count().unwrap(), 2);
        assert_eq!(cache.get(entries[1].0).as_ref(), Some(&entries[1].1));
        assert_eq!(cache.get(entries[2].0), None);
        let f1 = stat_path(root, "f1.c");
        let f2 = stat_path(root, "f2.c");
        assert_eq!(cache.lookup_stat(&f1, st(1, old)), Some(entries[1].0));
        assert_eq!(cache.lookup_stat(&f2, st(1, old)), None);
        assert_eq!(cache.stats().dropped, 8);
    }

    #[test]
    fn retain_keeps_what_other_roots_use() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let entries = corpus(10);
        put(&mut cache, &entries);
        let old = cache.opened_ns - 60_000_000_000;
        let (a, b) = (Path::new("/k/a"), Path::new("/k/ab"));
        // Root b (a prefix-sharing name) uses entries 5..8.
        let rows = (5..8)
            .map(|i| (stat_path(b, &format!("f{i}.c")), st(1, old), entries[i].0))
            .collect();
        cache.record_stats(rows).unwrap();
        // A whole run of root a uses entry 0: keep 0 and b's 5..8.
        let live: HashSet<u128> = [entries[0].0].into();
        assert_eq!(cache.retain(&stat_path(a, ""), &live).unwrap(), 6);
        for (i, (key, facts)) in entries.iter().enumerate() {
            let kept = i == 0 || (5..8).contains(&i);
            assert_eq!(cache.get(*key).as_ref(), kept.then_some(facts), "entry {i}");
        }
        let f5 = stat_path(b, "f5.c");
        assert_eq!(cache.lookup_stat(&f5, st(1, old)), Some(entries[5].0));
    }

    #[test]
    fn reader_gets_from_rayon_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let entries = corpus(50);
        put(&mut cache, &entries);
        let reader = cache.reader();
        let got: Vec<Option<FileFacts>> = entries
            .par_iter()
            .map(|(key, _)| reader.get(*key))
            .collect();
        for ((_, want), got) in entries.iter().zip(&got) {
            assert_eq!(got.as_ref(), Some(want));
        }
        assert_eq!(reader.get(42), None);
        drop(reader);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (50, 1));
    }

    #[test]
    fn results_by_scope_and_run() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut cache, _) = open(dir.path(), SALT);
            assert_eq!(cache.get_result(1, 10), None);
            cache.put_result(1, 10, b"first").unwrap();
            cache.put_result(2, 20, b"other scope").unwrap();
            assert_eq!(cache.get_result(1, 10).as_deref(), Some(&b"first"[..]));
            // Other inputs: no result.
            assert_eq!(cache.get_result(1, 11), None);
            // A new result replaces the scope's old one.
            cache.put_result(1, 11, b"second").unwrap();
            assert_eq!(cache.get_result(1, 10), None);
        }
        let (mut cache, _) = open(dir.path(), SALT);
        assert_eq!(cache.get_result(1, 11).as_deref(), Some(&b"second"[..]));
        assert_eq!(
            cache.get_result(2, 20).as_deref(),
            Some(&b"other scope"[..])
        );
        // Past the bound, the table starts over with the new scope.
        for scope in 3..=MAX_RESULTS as u128 {
            cache.put_result(scope, 0, b"x").unwrap();
        }
        assert!(cache.get_result(2, 20).is_some());
        cache.put_result(1000, 0, b"new").unwrap();
        assert_eq!(cache.get_result(2, 20), None);
        assert_eq!(cache.get_result(1000, 0).as_deref(), Some(&b"new"[..]));
        drop(cache);
        // A salt change drops results too.
        let (cache, _) = open(dir.path(), SALT + 1);
        assert_eq!(cache.get_result(1000, 0), None);
    }

    #[test]
    fn corrupt_result_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut cache, _) = open(dir.path(), SALT);
            cache.put_result(1, 10, b"payload").unwrap();
        }
        {
            let db = Database::create(dir.path().join(DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(RESULTS).unwrap();
                let mut raw = table.get(1).unwrap().unwrap().value().to_vec();
                let last = raw.len() - 1;
                raw[last] ^= 1;
                table.insert(1, raw.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let (cache, _) = open(dir.path(), SALT);
        assert_eq!(cache.get_result(1, 10), None);
        assert_eq!(cache.corrupt_entries(), 1);
    }

    #[test]
    fn put_many_spans_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let entries = corpus(PUT_CHUNK as u32 * 2 + 3);
        put(&mut cache, &entries);
        assert_eq!(cache.entry_count().unwrap(), entries.len() as u64);
        let last = entries.last().unwrap();
        assert_eq!(cache.get(last.0).as_ref(), Some(&last.1));
    }

    #[test]
    fn concurrent_get_many_from_rayon() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(dir.path(), SALT);
        let entries = corpus(300);
        put(&mut cache, &entries);
        let keys: Vec<u128> = entries.iter().map(|e| e.0).collect();
        let cache = &cache;
        let rounds: Vec<Vec<Option<FileFacts>>> = (0..8)
            .into_par_iter()
            .map(|i| cache.get_many(&keys[i * 10..]))
            .collect();
        for (i, got) in rounds.iter().enumerate() {
            for ((_, want), got) in entries[i * 10..].iter().zip(got) {
                assert_eq!(got.as_ref(), Some(want));
            }
        }
        assert_eq!(cache.stats().misses, 0);
    }

    /// `dir_from_env` over a fixed list of variables.
    fn dir_with(vars: &[(&str, &str)]) -> Option<PathBuf> {
        dir_from_env(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        })
    }

    #[test]
    fn default_dir_order() {
        let home = ("HOME", "/x/home");
        let xdg = ("XDG_CACHE_HOME", "/x/xdg");
        let all = [("WAITCHECK_CACHE_DIR", "/x/wc"), xdg, home];
        assert_eq!(dir_with(&all), Some("/x/wc".into()));
        let empty_wc = [("WAITCHECK_CACHE_DIR", ""), xdg, home];
        assert_eq!(dir_with(&empty_wc), Some("/x/xdg/waitcheck".into()));
        assert_eq!(dir_with(&[home]), Some("/x/home/.cache/waitcheck".into()));
        assert_eq!(dir_with(&[]), None);
    }

    #[test]
    fn database_in_use_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let entries = corpus(2);
        let (mut first, _) = open(dir.path(), SALT);
        put(&mut first, &entries);
        assert!(Cache::open(dir.path(), SALT).is_err());
        assert!(!dir.path().join("facts-v1.redb.corrupt").exists());
        assert_eq!(first.get(entries[0].0).as_ref(), Some(&entries[0].1));
    }
}
