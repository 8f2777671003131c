//! The facts cache end to end: a warm run prints exactly what a cold run
//! prints, a damaged cache is a warning and never a wrong result, an edit
//! is seen, `--no-cache` touches nothing, and patched content in memory is
//! keyed by content, never by the stat of the file on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use waitcheck::check::{self, Options};
use waitcheck::rules::Rules;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed");
const HMEM: &str = "drivers/dax/hmem/hmem.c";
const WAIT: &str = "wait_for_device_probe();";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readdir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// A copy of the seed tree, old enough (over the cache's 2 s race window,
/// which also looks at the ctime a copy cannot set back) for the stat fast
/// path to record its files.
fn aged_seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new(SEED), dir.path());
    std::thread::sleep(Duration::from_millis(2200));
    dir
}

fn waitcheck(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waitcheck"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CI")
        .output()
        .expect("runs waitcheck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The value of a `count LABEL VALUE` line of `--stats`.
fn count(stderr: &str, label: &str) -> String {
    stderr
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("count") && w.next() == Some(label))
                .then(|| w.next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| panic!("no `count {label}` in:\n{stderr}"))
}

/// The JSON report without its wall-clock time.
fn json_without_time(stdout: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(stdout).expect("JSON report");
    v["stats"]
        .as_object_mut()
        .expect("stats")
        .remove("elapsed_ms");
    v
}

#[test]
fn warm_run_prints_exactly_what_a_cold_run_prints() {
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    // The repository's fixture is old: its stats are recorded at once.
    let cold = waitcheck(&["check", SEED, "--cache", c, "--stats"], Path::new("."));
    let warm = waitcheck(&["check", SEED, "--cache", c, "--stats"], Path::new("."));
    assert_eq!(cold.status.code(), Some(1), "{}", text(&cold.stderr));
    assert_eq!(warm.status.code(), Some(1));
    assert!(!cold.stdout.is_empty());
    assert_eq!(text(&cold.stdout), text(&warm.stdout));
    let (cold_err, warm_err) = (text(&cold.stderr), text(&warm.stderr));
    assert_eq!(count(&cold_err, "parsed"), "4", "{cold_err}");
    assert_eq!(count(&cold_err, "result-hit"), "no");
    assert_eq!(count(&warm_err, "parsed"), "0", "{warm_err}");
    assert_eq!(count(&warm_err, "stat-hits"), "4");
    assert_eq!(count(&warm_err, "result-hit"), "yes");
    assert!(!warm_err.contains("warning"), "{warm_err}");

    // JSON too, and a facts-only warm run (another format is the same
    // scope, so the stored result serves it as well).
    let cold_json = waitcheck(
        &["check", SEED, "--no-cache", "--format", "json"],
        Path::new("."),
    );
    let warm_json = waitcheck(
        &["check", SEED, "--cache", c, "--format", "json"],
        Path::new("."),
    );
    assert_eq!(
        json_without_time(&cold_json.stdout),
        json_without_time(&warm_json.stdout)
    );
}

#[test]
fn warm_facts_without_a_stored_result_give_the_same_report() {
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    let tree = Path::new(SEED);
    let first = waitcheck(&["check", ".", "--cache", c], tree);
    // Another scope (other options) over the same files: facts from the
    // cache, the graph built anew.
    let args = ["check", ".", "--max-file-size", "1000000"];
    let warm = waitcheck(&[&args[..], &["--cache", c, "--stats"]].concat(), tree);
    let err = text(&warm.stderr);
    assert_eq!(count(&err, "result-hit"), "no", "{err}");
    assert_eq!(count(&err, "parsed"), "0", "{err}");
    assert_eq!(count(&err, "cache-hits"), "4", "{err}");
    let uncached = waitcheck(&[&args[..], &["--no-cache"]].concat(), tree);
    assert_eq!(text(&warm.stdout), text(&uncached.stdout));
    assert_eq!(text(&first.stdout), text(&uncached.stdout));
}

#[test]
fn a_damaged_cache_is_a_warning_and_the_result_is_right() {
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    let db = cache.path().join("facts-v1.redb");
    let want = waitcheck(&["check", SEED, "--no-cache"], Path::new("."));
    assert_eq!(want.status.code(), Some(1));
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("garbage", |p| {
            let garbage: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
            std::fs::write(p, garbage).expect("write");
        }),
        ("truncated", |p| {
            let len = std::fs::metadata(p).expect("stat").len();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .expect("open");
            f.set_len(len / 3).expect("truncate");
        }),
        ("overwritten pages", |p| {
            let mut bytes = std::fs::read(p).expect("read");
            let mid = bytes.len() / 2;
            let end = (mid + 8192).min(bytes.len());
            bytes[mid..end].fill(0xa5);
            std::fs::write(p, bytes).expect("write");
        }),
    ];
    for (name, damage) in damages {
        let _ = std::fs::remove_file(cache.path().join("facts-v1.redb.corrupt"));
        let first = waitcheck(&["check", SEED, "--cache", c], Path::new("."));
        assert_eq!(text(&first.stdout), text(&want.stdout), "{name}");
        assert!(db.exists(), "{name}: no cache file written");
        damage(&db);
        let got = waitcheck(&["check", SEED, "--cache", c], Path::new("."));
        let err = text(&got.stderr);
        assert_eq!(got.status.code(), Some(1), "{name}: {err}");
        assert_eq!(text(&got.stdout), text(&want.stdout), "{name}");
        assert!(
            err.contains("warning") && err.contains("damaged"),
            "{name}: {err}"
        );
        assert!(
            cache.path().join("facts-v1.redb.corrupt").exists(),
            "{name}"
        );
        // Rebuilt: the next run is warm and quiet again.
        let again = waitcheck(&["check", SEED, "--cache", c, "--stats"], Path::new("."));
        let err = text(&again.stderr);
        assert_eq!(count(&err, "result-hit"), "yes", "{name}: {err}");
        assert!(!err.contains("warning"), "{name}: {err}");
        assert_eq!(text(&again.stdout), text(&want.stdout), "{name}");
    }
}

#[test]
fn no_cache_touches_no_cache_directory() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dirs = ["wc", "xdg", "home"].map(|d| scratch.path().join(d));
    let run = |extra: &[&str]| {
        let mut args = vec!["check", SEED];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_waitcheck"))
            .args(&args)
            .env("WAITCHECK_CACHE_DIR", &dirs[0])
            .env("XDG_CACHE_HOME", &dirs[1])
            .env("HOME", &dirs[2])
            .output()
            .expect("runs waitcheck")
    };
    let out = run(&["--no-cache"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_dir(scratch.path()).expect("readdir").count(),
        0,
        "--no-cache created something"
    );
    // Without it the default directory is used: $WAITCHECK_CACHE_DIR first.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(dirs[0].join("facts-v1.redb").is_file());
    assert!(!dirs[1].exists() && !dirs[2].exists());
}

#[test]
fn an_edit_is_seen_even_with_size_and_mtime_kept() {
    let tree = aged_seed();
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    let args = ["check", ".", "--cache", c, "--stats"];
    let cold = waitcheck(&args, tree.path());
    let warm = waitcheck(&args, tree.path());
    assert_eq!(cold.status.code(), Some(1));
    assert_eq!(count(&text(&warm.stderr), "stat-hits"), "4");
    assert_eq!(count(&text(&warm.stderr), "result-hit"), "yes");

    // Blank out the wait that closes the cycle: same size, same mtime.
    let file = tree.path().join(HMEM);
    let mtime = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    let before = std::fs::read_to_string(&file).expect("read");
    assert!(before.contains(WAIT));
    let after = before.replace(WAIT, &" ".repeat(WAIT.len()));
    std::fs::write(&file, &after).expect("write");
    let f = std::fs::File::options()
        .write(true)
        .open(&file)
        .expect("open");
    f.set_modified(mtime).expect("set mtime");
    drop(f);

    let edited = waitcheck(&args, tree.path());
    let err = text(&edited.stderr);
    assert_eq!(edited.status.code(), Some(0), "{err}");
    assert_eq!(count(&err, "parsed"), "1", "{err}");
    assert_eq!(count(&err, "result-hit"), "no", "{err}");
    let uncached = waitcheck(&["check", ".", "--no-cache"], tree.path());
    assert_eq!(text(&edited.stdout), text(&uncached.stdout));

    // Back to the old content: its facts and result are still there.
    std::fs::write(&file, &before).expect("write");
    let restored = waitcheck(&args, tree.path());
    assert_eq!(restored.status.code(), Some(1));
    assert_eq!(text(&restored.stdout), text(&cold.stdout));
    assert_eq!(count(&text(&restored.stderr), "parsed"), "0");
}

#[test]
fn no_progress_or_noise_on_a_pipe() {
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    for _ in 0..2 {
        let out = waitcheck(&["check", SEED, "--cache", c], Path::new("."));
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

#[test]
fn stats_lines_have_stable_labels() {
    let out = waitcheck(&["check", SEED, "--no-cache", "--stats"], Path::new("."));
    let err = text(&out.stderr);
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("waitcheck: stats"), "{err}");
    let labels: Vec<(String, String)> = lines
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap_or("").to_string(),
                w.next().unwrap_or("").to_string(),
            )
        })
        .collect();
    for stage in [
        "walk",
        "cache-open",
        "stat",
        "files",
        "read+hash",
        "cache-lookup",
        "parse+facts",
        "cache-store",
        "graph",
        "findings",
        "report",
        "total",
    ] {
        assert!(
            labels.contains(&("time".into(), stage.into())),
            "time {stage}: {err}"
        );
    }
    for c in [
        "files",
        "files-read",
        "cache-hits",
        "cache-misses",
        "parsed",
        "no-definitions",
        "functions",
        "parse-coverage",
        "edges",
        "resources",
        "findings",
    ] {
        assert!(
            labels.contains(&("count".into(), c.into())),
            "count {c}: {err}"
        );
    }
    // Each graph stage, with the memory at its end.
    for stage in [
        "index",
        "contexts",
        "pointer-slots",
        "call-graph",
        "summary-setup",
        "summaries",
        "context-edges",
        "site-edges",
        "queue-edges",
        "signal-edges",
        "wrapper-edges",
        "cycles",
    ] {
        let line = err
            .lines()
            .find(|l| l.split_whitespace().take(2).eq(["time", stage]))
            .unwrap_or_else(|| panic!("time {stage}: {err}"));
        assert!(line.contains("(rss ") && line.contains("peak "), "{line}");
    }
    for stage in ["files", "graph", "findings"] {
        assert!(
            err.lines()
                .any(|l| l.split_whitespace().take(3).eq(["mem", "after", stage])),
            "mem after {stage}: {err}"
        );
    }
    assert_eq!(count(&err, "files"), "4");
    assert_eq!(count(&err, "findings"), "1");
    assert_eq!(count(&err, "parse-coverage"), "100.00%");
    assert!(err.lines().any(|l| l == "cache off"), "{err}");
}

/// Patch mode's overlay: the same path with other content in memory is
/// another entry, and the file on disk keeps its own.
#[test]
fn overlay_content_is_keyed_by_content_not_by_stat() {
    let tree = aged_seed();
    let cache = tempfile::tempdir().expect("tempdir");
    let rules = Rules::embedded();
    let on_disk = std::fs::read_to_string(tree.path().join(HMEM)).expect("read");
    let patched = on_disk.replace(WAIT, "");
    let options = |overlay: Option<&str>| {
        let mut o = Options::new(vec![tree.path().join("drivers")]);
        o.root = Some(tree.path().to_path_buf());
        o.cache = Some(cache.path().to_path_buf());
        o.overlay = overlay.map(|text| {
            let mut m: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
            m.insert(HMEM.to_string(), Some(text.as_bytes().to_vec()));
            Arc::new(m)
        });
        o
    };
    let run = |o: &Options| check::run(o, &rules).expect("check runs");
    let disk = run(&options(None));
    assert_eq!(disk.findings.len(), 1);
    let warm_disk = run(&options(None));
    assert!(warm_disk.counts.result_hit);
    let patched_run = run(&options(Some(&patched)));
    assert!(patched_run.findings.is_empty());
    assert_eq!(patched_run.counts.parsed, 1, "the patched file is parsed");
    assert!(!patched_run.counts.result_hit);
    // The disk file's entry is untouched by the overlay.
    let disk_again = run(&options(None));
    assert_eq!(disk_again.findings, disk.findings);
    assert_eq!(disk_again.counts.parsed, 0);
    // The same overlay again: by content, from the cache.
    let patched_again = run(&options(Some(&patched)));
    assert!(patched_again.findings.is_empty());
    assert_eq!(patched_again.counts.parsed, 0);
    // Overlay content equal to the disk's: the disk's findings.
    let same = run(&options(Some(&on_disk)));
    assert_eq!(same.findings, disk.findings);
    // Nothing the overlay did reached the disk.
    let mtime_now = std::fs::metadata(tree.path().join(HMEM))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert!(mtime_now < SystemTime::now() - Duration::from_secs(2));
}

/// A whole-tree run drops facts of files the tree no longer has, once they
/// outnumber the live ones; a run over part of the tree never does.
#[test]
fn whole_tree_runs_collect_garbage() {
    let tree = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    let write = |n: usize| {
        for i in 0..n {
            let p: PathBuf = tree.path().join(format!("sub/f{i}.c"));
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("int f{i}(void) {{ return {i}; }}\n")).expect("write");
        }
    };
    write(6);
    // Old enough for the stat rows to be recorded: they tell the roots apart.
    std::thread::sleep(Duration::from_millis(2200));
    let first = waitcheck(&["check", ".", "--cache", c, "--stats"], tree.path());
    assert_eq!(count(&text(&first.stderr), "parsed"), "6");
    for i in 1..6 {
        std::fs::remove_file(tree.path().join(format!("sub/f{i}.c"))).expect("rm");
    }
    // A run over part of the tree (its own root, as no kernel tree is
    // around): what the other root's stat rows use is kept.
    let part = waitcheck(&["check", "sub", "--cache", c, "--stats"], tree.path());
    assert_eq!(count(&text(&part.stderr), "cache-dropped"), "0");
    // The whole tree: 6 stored, 1 live, the 5 dead go.
    let whole = waitcheck(&["check", ".", "--cache", c, "--stats"], tree.path());
    let err = text(&whole.stderr);
    assert_eq!(count(&err, "cache-dropped"), "5", "{err}");
    assert_eq!(count(&err, "cache-hits"), "1", "{err}");
}

/// The textual pre-filter against the parser on the real tree: every file
/// it lets skip tree-sitter must have empty facts when parsed after all.
/// Over the headers of `include/linux` and one generated register
/// directory (the whole tree with `WAITCHECK_PREFILTER_ALL=1`).
#[test]
fn prefilter_agrees_with_the_parser_on_the_kernel_tree() {
    let Some(tree) = std::env::var_os("WAITCHECK_LINUX_6_12").map(PathBuf::from) else {
        eprintln!("note: WAITCHECK_LINUX_6_12 not set; run ci/test.sh");
        return;
    };
    let dirs: Vec<PathBuf> = if std::env::var_os("WAITCHECK_PREFILTER_ALL").is_some() {
        vec![tree.clone()]
    } else {
        ["include/linux", "drivers/gpu/drm/amd/include/asic_reg/gc"]
            .iter()
            .map(|d| tree.join(d))
            .collect()
    };
    let walk = waitcheck::source::walk(&dirs, &Default::default()).expect("walk");
    let rules = Rules::embedded();
    let (mut filtered, mut total) = (0, 0);
    for f in &walk.files {
        let Ok(loaded) = waitcheck::source::read(f, &Default::default()) else {
            continue;
        };
        total += 1;
        if !waitcheck::parse::has_no_definitions(&loaded.bytes) {
            continue;
        }
        filtered += 1;
        let rel = f.display().to_string();
        let facts = waitcheck::parse::parse_file(&rel, &loaded.bytes, &rules).expect("parses");
        let empty = waitcheck::facts::model::FileFacts {
            path: rel.clone(),
            ..Default::default()
        };
        assert_eq!(
            facts, empty,
            "{rel}: the pre-filter skipped a file with facts"
        );
    }
    eprintln!("pre-filter: {filtered} of {total} files need no parse");
    assert!(filtered > 0, "the pre-filter never applied");
}

/// `waitcheck patch` reads and fills the same facts cache as `check`: a
/// second run (warm) prints what the first (cold) printed, and both print
/// what `--no-cache` prints.
#[test]
fn patch_mode_uses_the_facts_cache() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = tempfile::tempdir().expect("tempdir");
    let c = cache.path().to_str().expect("utf-8 path");
    let series = "testdata/patches/wpool/series.mbox";
    let tree = "testdata/patches/wpool/tree";
    let run = |extra: &[&str]| {
        let args = [
            &["patch", series, "--tree", tree, "--format", "json"],
            extra,
        ]
        .concat();
        let out = waitcheck(&args, root);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        json_without_time(&out.stdout)
    };
    let cold = run(&["--cache", c]);
    assert!(
        std::fs::read_dir(cache.path())
            .expect("cache dir")
            .next()
            .is_some(),
        "the patch run wrote no cache"
    );
    let warm = run(&["--cache", c]);
    assert_eq!(cold, warm);
    assert_eq!(cold, run(&["--no-cache"]));
}
