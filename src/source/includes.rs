//! Cross-reference: the headers a set of files includes, from the tree.
//!
//! In: the kernel tree's root and the files given on the command line. Out:
//! every header they `#include`, transitively, resolved the way the kernel's
//! build resolves them (`"x.h"` next to the including file first, then the
//! tree's include directories). Analysing these headers with the given
//! files gives struct definitions (so `dev->cache.rb_lock` and
//! `cache->rb_lock` resolve to one class), inline helpers and shared
//! globals; findings are still reported only for the given paths.
//!
//! Text scanning, not preprocessing: an `#include` under a false `#if` is
//! followed too, which can only add definitions.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// Include directories of an x86 build of the tree, in search order
/// (`arch/x86` is the architecture the Debian trees are checked for).
const INCLUDE_DIRS: &[&str] = &[
    "include",
    "arch/x86/include",
    "include/uapi",
    "arch/x86/include/uapi",
];

/// At most this many headers are added: a bound on memory and time for a
/// file that includes half the tree (measured: a driver directory pulls in
/// 700 to 950 headers, 6 to 9 MB).
pub const MAX_HEADERS: usize = 4000;

/// Cross-reference for a run: the kernel tree, and the headers to read
/// with the given paths.
#[derive(Debug)]
pub struct CrossRef {
    pub tree: PathBuf,
    pub headers: Vec<PathBuf>,
}

/// The cross-reference for `paths`: `tree` if given, else the kernel tree
/// that encloses the first path (found by its top-level files); `None`
/// outside a kernel tree, or when a path is the whole tree (everything is
/// read anyway).
///
/// # Errors
/// A path or tree that cannot be opened.
pub fn cross_reference(paths: &[PathBuf], tree: Option<&Path>) -> anyhow::Result<Option<CrossRef>> {
    use anyhow::Context as _;
    let abs = |p: &Path| {
        std::fs::canonicalize(p).with_context(|| format!("{}: cannot open", p.display()))
    };
    let given: Vec<PathBuf> = paths
        .iter()
        .map(|p| abs(p))
        .collect::<anyhow::Result<_>>()?;
    let tree = match tree {
        Some(t) => abs(t)?,
        None => match given.first().and_then(|p| super::find_tree_root(p)) {
            Some(t) => abs(&t)?,
            None => return Ok(None),
        },
    };
    if given.iter().any(|p| *p == tree || !p.starts_with(&tree)) {
        return Ok(None);
    }
    let mut files = Vec::new();
    for p in &given {
        sources_under(p, &mut files);
    }
    let headers = closure(&tree, &files);
    Ok(Some(CrossRef { tree, headers }))
}

/// Is a finding at `path` (relative to `root`) inside one of the paths
/// the user gave? Cross-reference headers are read, never reported on.
pub fn is_given(path: &str, root: &Path, given: &[PathBuf]) -> bool {
    given.iter().any(|g| {
        let Ok(abs) = std::fs::canonicalize(g) else {
            return false;
        };
        match abs.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => true,
            Ok(rel) => Path::new(path).starts_with(rel),
            Err(_) => false,
        }
    })
}

/// `.c` and `.h` files at or under `p` (sorted walk, hidden entries skipped).
fn sources_under(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(p) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        let hidden = e
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if e.is_dir() {
            sources_under(&e, out);
        } else if e.extension().is_some_and(|x| x == "c" || x == "h") {
            out.push(e);
        }
    }
}

/// The headers `files` include, transitively, that exist under `tree`,
/// excluding `files` themselves; sorted, so runs are deterministic.
pub fn closure(tree: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let given: HashSet<PathBuf> = files.iter().map(|f| normalize(f)).collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut todo: VecDeque<PathBuf> = files.iter().cloned().collect();
    while let Some(file) = todo.pop_front() {
        // Unreadable files are the walk's business (it reports them);
        // here they simply include nothing.
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for (quoted, name) in includes(&bytes) {
            let Some(header) = resolve(tree, &file, quoted, &name) else {
                continue;
            };
            if given.contains(&header) || !seen.insert(header.clone()) {
                continue;
            }
            if seen.len() >= MAX_HEADERS {
                return seen.into_iter().collect();
            }
            todo.push_back(header);
        }
    }
    seen.into_iter().collect()
}

/// `#include "x"` -> (true, "x"); `#include <x>` -> (false, "x").
fn includes(bytes: &[u8]) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        let line = trim_start(line);
        let Some(rest) = line.strip_prefix(b"#") else {
            continue;
        };
        let Some(rest) = trim_start(rest).strip_prefix(b"include") else {
            continue;
        };
        let rest = trim_start(rest);
        let (quoted, close) = match rest.first() {
            Some(b'"') => (true, b'"'),
            Some(b'<') => (false, b'>'),
            _ => continue,
        };
        let body = &rest[1..];
        let Some(end) = body.iter().position(|b| *b == close) else {
            continue;
        };
        if let Ok(name) = std::str::from_utf8(&body[..end]) {
            if !name.is_empty() {
                out.push((quoted, name.to_string()));
            }
        }
    }
    out
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    &s[n..]
}

/// Where the build would find the header, if it is in the tree.
fn resolve(tree: &Path, from: &Path, quoted: bool, name: &str) -> Option<PathBuf> {
    if quoted {
        if let Some(dir) = from.parent() {
            let local = normalize(&dir.join(name));
            if local.is_file() && local.starts_with(tree) {
                return Some(local);
            }
        }
    }
    INCLUDE_DIRS
        .iter()
        .map(|d| normalize(&tree.join(d).join(name)))
        .find(|p| p.is_file() && p.starts_with(tree))
}

/// `a/b/../c` -> `a/c`, without touching the file system (symlinks in a
/// kernel tree are rare, and `canonicalize` would make paths absolute).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn follows_quoted_and_angle_includes_transitively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path();
        write(
            t,
            "drivers/foo/main.c",
            "#include <linux/mutex.h>\n  # include \"foo.h\"\n",
        );
        write(
            t,
            "drivers/foo/foo.h",
            "#include \"../bar/bar.h\"\nstruct foo { int x; };\n",
        );
        write(t, "drivers/bar/bar.h", "#include <linux/types.h>\n");
        write(
            t,
            "include/linux/mutex.h",
            "#include <linux/types.h>\n#include <asm/barrier.h>\n",
        );
        write(t, "include/linux/types.h", "");
        write(
            t,
            "arch/x86/include/asm/barrier.h",
            "#include <linux/missing.h>\n",
        );
        let got = closure(t, &[t.join("drivers/foo/main.c")]);
        let rel: Vec<String> = got
            .iter()
            .map(|p| {
                p.strip_prefix(t)
                    .expect("in tree")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            rel,
            [
                "arch/x86/include/asm/barrier.h",
                "drivers/bar/bar.h",
                "drivers/foo/foo.h",
                "include/linux/mutex.h",
                "include/linux/types.h",
            ]
        );
    }

    #[test]
    fn given_files_are_not_repeated_and_cycles_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path();
        write(t, "d/a.h", "#include \"b.h\"\n");
        write(t, "d/b.h", "#include \"a.h\"\n");
        let got = closure(t, &[t.join("d/a.h")]);
        assert_eq!(got, vec![t.join("d/b.h")]);
    }

    #[test]
    fn cross_reference_finds_the_enclosing_tree_and_reports_only_given_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path();
        for f in ["Makefile", "Kconfig"] {
            write(t, f, "");
        }
        write(t, "drivers/foo/main.c", "#include <linux/foo.h>\n");
        write(t, "include/linux/foo.h", "struct foo { int x; };\n");
        let x = cross_reference(&[t.join("drivers/foo")], None)
            .expect("opens")
            .expect("inside a tree");
        let root = std::fs::canonicalize(t).expect("canonical");
        assert_eq!(x.tree, root);
        assert_eq!(x.headers, vec![root.join("include/linux/foo.h")]);
        let given = [t.join("drivers/foo")];
        assert!(is_given("drivers/foo/main.c", &root, &given));
        assert!(!is_given("include/linux/foo.h", &root, &given));
        // The whole tree needs no cross-reference; outside a tree there is none.
        assert!(cross_reference(&[t.to_path_buf()], None)
            .expect("opens")
            .is_none());
        let other = tempfile::tempdir().expect("tempdir");
        write(other.path(), "a.c", "");
        assert!(cross_reference(&[other.path().join("a.c")], None)
            .expect("opens")
            .is_none());
    }

    #[test]
    fn headers_outside_the_tree_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path().join("tree");
        write(dir.path(), "outside.h", "");
        write(
            &t,
            "d/a.c",
            "#include \"../../outside.h\"\n#include <stdio.h>\n",
        );
        assert!(closure(&t, &[t.join("d/a.c")]).is_empty());
    }
}
