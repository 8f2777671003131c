//! Stage 1: source. Paths in, files and their bytes out.
//!
//! In: the paths the user gave (files or directories). Out: a sorted,
//! deduplicated list of C files ([`walk`]) with the files skipped and why;
//! for each file its bytes ([`read`]), with invalid UTF-8 replaced byte for
//! byte so every offset is still an offset in the file on disk; and the
//! byte-preserving kernel pre-pass ([`prepass::prepass`]) the parse stage
//! runs before tree-sitter. Nothing here panics on any input: a file that
//! cannot be used is a [`Skipped`] entry, not an error.

pub mod includes;
pub mod prepass;

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context as _, Result};
use ignore::{WalkBuilder, WalkState};

/// How files are found and which are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkOptions {
    /// Files larger than this many bytes are skipped: generated register
    /// tables of tens of MiB cost parse time and hold no waits.
    pub max_file_size: u64,
    /// File name extensions (without the dot) taken from directories.
    pub extensions: Vec<String>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_file_size: 8 << 20,
            extensions: vec!["c".to_string(), "h".to_string()],
        }
    }
}

/// The files to analyse, sorted and deduplicated, and those left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<Skipped>,
}

/// A file (or directory entry) that will not be analysed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// Why a file is not analysed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Larger than `WalkOptions::max_file_size`; the file's size in bytes.
    TooLarge(u64),
    /// A NUL byte near the start: not C source.
    Binary,
    /// Could not be read; the I/O error, short and lowercase.
    Unreadable(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::TooLarge(n) => {
                write!(f, "larger than the size limit: {} ({n} bytes)", mib(*n))
            }
            SkipReason::Binary => f.write_str("binary (NUL byte)"),
            SkipReason::Unreadable(e) => write!(f, "unreadable: {e}"),
        }
    }
}

impl std::error::Error for SkipReason {}

/// `12345678` -> `11.8 MiB`.
fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
}

/// A file's bytes, ready for the pre-pass and the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Valid UTF-8, with exactly the length of the file on disk.
    pub bytes: Vec<u8>,
    /// Some invalid UTF-8 byte was replaced by `?`.
    pub lossy: bool,
}

/// How far into a file a NUL byte marks it as binary.
const BINARY_PROBE: usize = 8 << 10;

/// Collect the files under `paths`. Directories are walked honouring
/// `.ignore` files, and `.gitignore` files inside git work trees only,
/// skipping hidden entries and not following symlinks, so a tree's in-tree
/// symlinks do not analyse a file twice. Files named explicitly are always
/// taken. A path that does not exist is an error.
pub fn walk(paths: &[PathBuf], opts: &WalkOptions) -> Result<Walk> {
    let mut out = Walk::default();
    let mut dirs = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).with_context(|| format!("{}: cannot open", p.display()))?;
        if meta.is_dir() {
            dirs.push(p.clone());
        } else {
            out.files.push(normalise(p));
        }
    }
    if !dirs.is_empty() {
        let found = walk_dirs(&dirs, opts)?;
        out.files.extend(found.files);
        out.skipped.extend(found.skipped);
    }
    out.files.sort();
    out.files.dedup();
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    out.skipped.dedup_by(|a, b| a.path == b.path);
    out.files
        .retain(|f| out.skipped.binary_search_by(|s| s.path.cmp(f)).is_err());
    Ok(out)
}

/// Walk directories in parallel; the caller sorts.
fn walk_dirs(dirs: &[PathBuf], opts: &WalkOptions) -> Result<Walk> {
    let Some((first, rest)) = dirs.split_first() else {
        return Ok(Walk::default());
    };
    let mut builder = WalkBuilder::new(first);
    for d in rest {
        builder.add(d);
    }
    builder
        .standard_filters(true)
        .git_global(false)
        // .gitignore applies to git work trees only: Debian's kernel source
        // tarball ships a top-level .gitignore that ignores everything (`/*`).
        .require_git(true)
        .follow_links(false);
    let found = Mutex::new(Walk::default());
    builder.build_parallel().run(|| {
        let found = &found;
        Box::new(move |entry| {
            let item = classify_entry(entry, opts);
            if let Ok(mut w) = found.lock() {
                match item {
                    Some(Ok(f)) => w.files.push(f),
                    Some(Err(s)) => w.skipped.push(s),
                    None => {}
                }
            }
            WalkState::Continue
        })
    });
    match found.into_inner() {
        Ok(w) => Ok(w),
        Err(_) => bail!("walking the source tree: a worker panicked"),
    }
}

/// What one walked entry contributes: a file, a skipped file, or nothing.
fn classify_entry(
    entry: std::result::Result<ignore::DirEntry, ignore::Error>,
    opts: &WalkOptions,
) -> Option<std::result::Result<PathBuf, Skipped>> {
    let entry = match entry {
        Ok(e) => e,
        Err(e) => return walk_error(&e).map(Err),
    };
    let is_file = entry.file_type().is_some_and(|t| t.is_file());
    if !is_file || !has_extension(entry.path(), &opts.extensions) {
        return None;
    }
    let path = normalise(entry.path());
    match entry.metadata() {
        Ok(m) if m.len() > opts.max_file_size => Some(Err(Skipped {
            path,
            reason: SkipReason::TooLarge(m.len()),
        })),
        Ok(_) => Some(Ok(path)),
        Err(e) => Some(Err(Skipped {
            path,
            reason: SkipReason::Unreadable(e.to_string()),
        })),
    }
}

/// A walk error that names a path (an unreadable directory) is a skipped
/// entry; others (a bad ignore file's glob) only affect filtering.
fn walk_error(e: &ignore::Error) -> Option<Skipped> {
    match e {
        ignore::Error::WithPath { path, err } => Some(Skipped {
            path: normalise(path),
            reason: SkipReason::Unreadable(error_text(err)),
        }),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err)
        }
        _ => None,
    }
}

fn error_text(e: &ignore::Error) -> String {
    match e {
        ignore::Error::Io(io) => describe(io),
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_text(err),
        other => other.to_string(),
    }
}

fn has_extension(path: &Path, exts: &[String]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| x == e))
}

/// Drop `.` components and trailing slashes so `./a//b.c` and `a/b.c`
/// deduplicate.
fn normalise(p: &Path) -> PathBuf {
    let n: PathBuf = p.components().filter(|c| *c != Component::CurDir).collect();
    if n.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        n
    }
}

/// Read a file for analysis. Too large, binary or unreadable files are
/// skipped; invalid UTF-8 is not: each byte of an invalid sequence becomes
/// `?`, so offsets stay those of the file on disk.
pub fn read(path: &Path, opts: &WalkOptions) -> std::result::Result<Loaded, SkipReason> {
    let meta = metadata(path, opts)?;
    // `decode` checks the size again: the file may have grown since `stat`.
    decode(read_bytes(path, &meta, opts)?, opts)
}

/// A file's metadata, taken before reading it (the facts cache compares it
/// with the run before): a directory or a file over the size limit is
/// skipped here already.
pub fn metadata(path: &Path, opts: &WalkOptions) -> std::result::Result<fs::Metadata, SkipReason> {
    let meta = fs::metadata(path).map_err(|e| SkipReason::Unreadable(describe(&e)))?;
    if meta.is_dir() {
        return Err(SkipReason::Unreadable("is a directory".to_string()));
    }
    if meta.len() > opts.max_file_size {
        return Err(SkipReason::TooLarge(meta.len()));
    }
    Ok(meta)
}

/// A file's bytes exactly as on disk (at most one byte over the size limit,
/// so `decode` can tell it grew past it); `meta` sizes the buffer.
pub fn read_bytes(
    path: &Path,
    meta: &fs::Metadata,
    opts: &WalkOptions,
) -> std::result::Result<Vec<u8>, SkipReason> {
    let unreadable = |e: io::Error| SkipReason::Unreadable(describe(&e));
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let file = fs::File::open(path).map_err(unreadable)?;
    file.take(opts.max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(bytes)
}

/// Check bytes that did not come from disk (a patched file in memory) the
/// way `read` checks a file: size, binary, invalid UTF-8 replaced.
pub fn decode(mut bytes: Vec<u8>, opts: &WalkOptions) -> std::result::Result<Loaded, SkipReason> {
    if bytes.len() as u64 > opts.max_file_size {
        return Err(SkipReason::TooLarge(bytes.len() as u64));
    }
    if bytes[..bytes.len().min(BINARY_PROBE)].contains(&0) {
        return Err(SkipReason::Binary);
    }
    let lossy = replace_invalid_utf8(&mut bytes);
    Ok(Loaded { bytes, lossy })
}

/// Replace every byte of every invalid UTF-8 sequence with `?`, in place.
/// Returns whether anything was replaced.
fn replace_invalid_utf8(bytes: &mut [u8]) -> bool {
    let mut lossy = false;
    let mut i = 0;
    while i < bytes.len() {
        match std::str::from_utf8(&bytes[i..]) {
            Ok(_) => break,
            Err(e) => {
                let bad_start = i + e.valid_up_to();
                let bad_end = e.error_len().map_or(bytes.len(), |n| bad_start + n);
                bytes[bad_start..bad_end].fill(b'?');
                lossy = true;
                i = bad_end;
            }
        }
    }
    lossy
}

/// A short, lowercase description of an I/O error: `permission denied`.
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "not found".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::InvalidData => "invalid data".to_string(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s);
            s.to_lowercase()
        }
    }
}

/// `path` relative to `root`, `/`-separated, for reports and fingerprints.
/// Relative paths are tried against `root` as given and canonicalised; a
/// path not under `root` is returned as given.
pub fn relative_path(root: &Path, path: &Path) -> String {
    if let Ok(r) = path.strip_prefix(root) {
        return slashed(r);
    }
    let canon_root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if let Ok(abs) = fs::canonicalize(path) {
        if let Ok(r) = abs.strip_prefix(&canon_root) {
            return slashed(r);
        }
    }
    slashed(path)
}

/// Join a path's components with `/`, whatever the platform.
fn slashed(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Prefix(x) => Some(x.as_os_str().to_string_lossy().into_owned()),
            Component::RootDir => Some(String::new()),
            Component::CurDir => None,
            Component::ParentDir => Some("..".to_string()),
            Component::Normal(x) => Some(x.to_string_lossy().into_owned()),
        })
        .collect();
    match parts.as_slice() {
        [] => ".".to_string(),
        [root] if root.is_empty() => "/".to_string(),
        _ => parts.join("/"),
    }
}

/// The nearest ancestor of `start` (itself included) that looks like the
/// top of a kernel tree, so paths are reported as `drivers/...` wherever
/// inside the tree the user pointed.
pub fn find_tree_root(start: &Path) -> Option<PathBuf> {
    let start = if start.is_dir() {
        start
    } else {
        start.parent()?
    };
    start.ancestors().find(|d| looks_like_tree_top(d)).map(|d| {
        if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d.to_path_buf()
        }
    })
}

fn looks_like_tree_top(d: &Path) -> bool {
    let d = if d.as_os_str().is_empty() {
        Path::new(".")
    } else {
        d
    };
    let file = |n: &str| d.join(n).is_file();
    let dir = |n: &str| d.join(n).is_dir();
    (file("Kbuild") || file("Makefile"))
        && (file("MAINTAINERS") || file("Kconfig"))
        && (dir("drivers") || dir("include"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir()
                .join(format!("waitcheck-source-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("create scratch dir");
            Scratch(p)
        }

        fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(rel);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).expect("create dirs");
            }
            fs::write(&p, bytes).expect("write file");
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn walk_sorts_filters_and_respects_ignore_files() {
        let s = Scratch::new("walk");
        s.write("b.c", b"int b;");
        s.write("a/x.h", b"int x;");
        s.write("a/y.txt", b"text");
        s.write(".hidden/z.c", b"int z;");
        s.write("gen/g.c", b"int g;");
        s.write(".ignore", b"gen/\n");
        // Not a git work tree: its .gitignore (Debian's ignores all) is not
        // applied.
        s.write(".gitignore", b"/*\n");
        let w = walk(&[s.0.clone(), s.0.join("b.c")], &WalkOptions::default()).expect("walk");
        let rel: Vec<String> = w.files.iter().map(|f| relative_path(&s.0, f)).collect();
        assert_eq!(rel, vec!["a/x.h", "b.c"]);
        assert!(w.skipped.is_empty());
    }

    #[test]
    fn explicit_files_taken_whatever_the_extension() {
        let s = Scratch::new("explicit");
        let f = s.write("notes.txt", b"int a;");
        let w = walk(std::slice::from_ref(&f), &WalkOptions::default()).expect("walk");
        assert_eq!(w.files, vec![f]);
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let err = walk(
            &[PathBuf::from("/no/such/waitcheck/path")],
            &WalkOptions::default(),
        )
        .expect_err("missing path");
        assert!(format!("{err:#}").contains("/no/such/waitcheck/path"));
    }

    #[test]
    fn walk_skips_large_files() {
        let s = Scratch::new("large");
        s.write("big.c", &[b'x'; 100]);
        let opts = WalkOptions {
            max_file_size: 10,
            ..WalkOptions::default()
        };
        let w = walk(std::slice::from_ref(&s.0), &opts).expect("walk");
        assert!(w.files.is_empty());
        assert_eq!(w.skipped.len(), 1);
        assert_eq!(w.skipped[0].reason, SkipReason::TooLarge(100));
    }

    #[test]
    fn read_replaces_invalid_utf8_byte_for_byte() {
        let s = Scratch::new("utf8");
        let f = s.write("a.c", b"int a; /* \xff\xe2\x82 caf\xc3\xa9 */\n\xe2");
        let l = read(&f, &WalkOptions::default()).expect("read");
        assert!(l.lossy);
        assert_eq!(l.bytes, b"int a; /* ??? caf\xc3\xa9 */\n?".to_vec());
        assert!(std::str::from_utf8(&l.bytes).is_ok());
    }

    #[test]
    fn read_valid_file_is_not_lossy() {
        let s = Scratch::new("valid");
        let f = s.write("a.c", "int café;\n".as_bytes());
        let l = read(&f, &WalkOptions::default()).expect("read");
        assert!(!l.lossy);
        assert_eq!(l.bytes, "int café;\n".as_bytes());
    }

    #[test]
    fn read_skips_binary_large_and_missing() {
        let s = Scratch::new("skips");
        let bin = s.write("a.c", b"ab\0cd");
        let big = s.write("b.c", &[b'x'; 100]);
        let opts = WalkOptions {
            max_file_size: 10,
            ..WalkOptions::default()
        };
        assert_eq!(read(&bin, &opts), Err(SkipReason::Binary));
        assert_eq!(read(&big, &opts), Err(SkipReason::TooLarge(100)));
        let missing = read(&s.0.join("none.c"), &opts).expect_err("missing");
        assert_eq!(missing.to_string(), "unreadable: not found");
    }

    #[test]
    fn decode_checks_bytes_like_read() {
        let opts = WalkOptions {
            max_file_size: 10,
            ..WalkOptions::default()
        };
        let l = decode(b"a\xffb".to_vec(), &opts).expect("decode");
        assert_eq!((l.bytes, l.lossy), (b"a?b".to_vec(), true));
        assert_eq!(decode(vec![b'x'; 11], &opts), Err(SkipReason::TooLarge(11)));
        assert_eq!(decode(b"a\0".to_vec(), &opts), Err(SkipReason::Binary));
    }

    #[test]
    fn skip_reasons_read_well() {
        assert_eq!(
            SkipReason::TooLarge(12_345_678).to_string(),
            "larger than the size limit: 11.8 MiB (12345678 bytes)"
        );
        assert_eq!(SkipReason::Binary.to_string(), "binary (NUL byte)");
        assert_eq!(
            SkipReason::Unreadable("permission denied".into()).to_string(),
            "unreadable: permission denied"
        );
    }

    #[test]
    fn relative_paths_use_slashes_and_fall_back() {
        assert_eq!(
            relative_path(Path::new("/k"), Path::new("/k/drivers/a.c")),
            "drivers/a.c"
        );
        assert_eq!(
            relative_path(Path::new("/k"), Path::new("/elsewhere/a.c")),
            "/elsewhere/a.c"
        );
        assert_eq!(
            relative_path(Path::new("/k"), Path::new("./x/../a.c")),
            "x/../a.c"
        );
    }

    #[test]
    fn finds_kernel_tree_root() {
        let s = Scratch::new("tree");
        s.write("Makefile", b"");
        s.write("Kconfig", b"");
        let f = s.write("drivers/base/dd.c", b"");
        assert_eq!(find_tree_root(&f), Some(s.0.clone()));
        assert_eq!(find_tree_root(&s.0.join("drivers")), Some(s.0.clone()));
        let other = Scratch::new("not-tree");
        let g = other.write("a/b.c", b"");
        assert_eq!(find_tree_root(&g), None);
    }
}
