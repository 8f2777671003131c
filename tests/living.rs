//! Living with findings: `.waitcheck.toml` (defaults, ignored types, extra
//! rules, excluded paths, errors as `file:line: reason`), inline
//! `waitcheck-ignore` comments (counted, listed with `--show-suppressed`),
//! and baselines (`--write-baseline`, `--baseline`), in `check` and
//! `patch` mode.
//!
//! Each test works on a scratch copy of `testdata/formats/tree` (a warning
//! in `gadget-scan.c`, an error in `gadget.c`) or of the wpool patch tree.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn waitcheck(cwd: &Path, args: &[&str]) -> Run {
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("waitcheck")
        .expect("binary")
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("WAITCHECK_CACHE_DIR", cache.path())
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn expect(r: Run, code: i32) -> Run {
    assert_eq!(
        r.code,
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    r
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A scratch copy of the formats tree.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("testdata/formats/tree"), dir.path());
    dir
}

const GADGET: &str = "drivers/misc/gadget.c";
const WAIT_LINE: &str = "\tcancel_work_sync(&g->reset_work);\n";

/// Replace the one occurrence of `old` in `path` under `dir`.
fn edit(dir: &Path, path: &str, old: &str, new: &str) {
    let p = dir.join(path);
    let text = std::fs::read_to_string(&p).expect("read");
    assert_eq!(text.matches(old).count(), 1, "{old:?} in {path}");
    std::fs::write(&p, text.replace(old, new)).expect("write");
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn types(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------- config --

#[test]
fn config_sets_the_default_format_and_the_command_line_wins() {
    let t = tree();
    std::fs::write(
        t.path().join(".waitcheck.toml"),
        "format = \"checkpatch\"\n",
    )
    .expect("write");
    let r = expect(waitcheck(t.path(), &["check", "."]), 1);
    assert!(
        r.stdout.contains("total: 1 errors, 1 warnings,"),
        "{}",
        r.stdout
    );
    let r = expect(waitcheck(t.path(), &["check", ".", "--format", "json"]), 1);
    assert_eq!(json(&r)["version"], 1);
}

#[test]
fn config_ignores_types_and_excludes_paths() {
    let t = tree();
    std::fs::write(
        t.path().join(".waitcheck.toml"),
        "# only the probe waits matter here\nignore = [\"work_wait_under_lock\"]\n",
    )
    .expect("write");
    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v), ["PROBE_FLUSH_WAITS_FOR_PROBE"]);
    assert_eq!(v["stats"]["ignored"], 1);

    std::fs::write(
        t.path().join(".waitcheck.toml"),
        "exclude = [\"drivers/misc/gadget-*.c\"]\n",
    )
    .expect("write");
    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v), ["WORK_WAIT_UNDER_LOCK"]);
    assert_eq!(v["stats"]["ignored"], 1);

    std::fs::write(
        t.path().join(".waitcheck.toml"),
        "exclude = [\"drivers/\"]\n",
    )
    .expect("write");
    let r = expect(waitcheck(t.path(), &["check", "."]), 0);
    assert!(r.stdout.contains("(0 skipped, 2 ignored)"), "{}", r.stdout);
}

#[test]
fn config_rules_directories_extend_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("drivers/misc");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("drain.c"),
        "// SPDX-License-Identifier: GPL-2.0\n\
         #include <linux/workqueue.h>\n\
         #include <linux/mutex.h>\n\
         \n\
         struct pump {\n\
         \tstruct mutex lock;\n\
         \tstruct work_struct work;\n\
         };\n\
         \n\
         static void pump_fn(struct work_struct *work)\n\
         {\n\
         \tstruct pump *p = container_of(work, struct pump, work);\n\
         \n\
         \tmutex_lock(&p->lock);\n\
         \tmutex_unlock(&p->lock);\n\
         }\n\
         \n\
         void pump_init(struct pump *p)\n\
         {\n\
         \tINIT_WORK(&p->work, pump_fn);\n\
         }\n\
         \n\
         void pump_stop(struct pump *p)\n\
         {\n\
         \tmutex_lock(&p->lock);\n\
         \tvendor_drain_work(&p->work);\n\
         \tmutex_unlock(&p->lock);\n\
         }\n",
    )
    .expect("write");
    // Without the vendor's rules, vendor_drain_work() is an unknown call.
    expect(waitcheck(dir.path(), &["check", "."]), 0);
    let rules = dir.path().join("tools/waitcheck");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(
        rules.join("vendor.toml"),
        "[[wait]]\ncalls = [\"vendor_drain_work\"]\nresource = \"work\"\narg = 0\nmode = \"flush\"\nnote = \"the vendor's flush_work()\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join(".waitcheck.toml"),
        "rules = [\"tools/waitcheck\"]\n",
    )
    .expect("write");
    let v = json(&expect(
        waitcheck(dir.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v), ["WORK_WAIT_UNDER_LOCK"]);
}

#[test]
fn a_config_given_with_config_is_used_from_anywhere() {
    let t = tree();
    let cfg = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(
        cfg.path(),
        "format = \"github\"\nignore = [\"PROBE_FLUSH_WAITS_FOR_PROBE\"]\n",
    )
    .expect("write");
    let cfg = cfg.path().to_str().expect("utf-8");
    let r = expect(waitcheck(t.path(), &["check", ".", "--config", cfg]), 1);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("::error file=drivers/misc/gadget.c,"));
    let r = expect(
        waitcheck(t.path(), &["check", ".", "--config", "nowhere.toml"]),
        2,
    );
    assert!(
        r.stderr.contains("nowhere.toml:1: cannot read"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_malformed_config_is_exit_2_with_file_line_and_reason() {
    let cases = [
        (
            "format = \"checkpatch\"\nformat = \"sarif\"\n",
            2,
            "duplicate key",
        ),
        (
            "format = \"checkpatch\"\n\nformat_x = 1\n",
            3,
            "unknown field `format_x`",
        ),
        ("format = \"yaml\"\n", 1, "unknown format `yaml`"),
        (
            "ignore = [\n  \"WORK_WAIT_UNDER_LOCK\",\n  \"WORK_WAIT_UNDER_LOKC\",\n]\n",
            3,
            "unknown finding type `WORK_WAIT_UNDER_LOKC`",
        ),
        (
            "rules = [\"no/such/dir\"]\n",
            1,
            "rules directory `no/such/dir` does not exist",
        ),
        ("exclude = \"drivers/\"\n", 1, "invalid type"),
        ("[format\n", 1, ""),
    ];
    for (text, line, reason) in cases {
        let t = tree();
        std::fs::write(t.path().join(".waitcheck.toml"), text).expect("write");
        let r = expect(waitcheck(t.path(), &["check", "."]), 2);
        assert!(r.stdout.is_empty(), "{text:?}: {}", r.stdout);
        let want = format!(".waitcheck.toml:{line}: {reason}");
        assert!(
            r.stderr.contains(&want),
            "{text:?}: want `{want}` in: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
}

// ----------------------------------------------------------- suppression --

#[test]
fn a_comment_on_the_line_above_suppresses_and_is_counted() {
    let t = tree();
    edit(
        t.path(),
        GADGET,
        WAIT_LINE,
        &format!("\t/* waitcheck-ignore: WORK_WAIT_UNDER_LOCK stop runs only once the work is off */\n{WAIT_LINE}"),
    );
    let r = expect(waitcheck(t.path(), &["check", "."]), 1);
    assert!(
        r.stdout
            .contains("waitcheck: 1 finding in 2 files (0 skipped, 1 suppressed)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("suppressed: WORK_WAIT_UNDER_LOCK"));

    let r = expect(waitcheck(t.path(), &["check", ".", "--show-suppressed"]), 1);
    assert!(
        r.stdout
            .contains("suppressed: WORK_WAIT_UNDER_LOCK drivers/misc/gadget.c:35 ")
            && r.stdout
                .contains("(at drivers/misc/gadget.c:34: stop runs only once the work is off)"),
        "{}",
        r.stdout
    );

    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v), ["PROBE_FLUSH_WAITS_FOR_PROBE"]);
    assert_eq!(v["stats"]["suppressed"], 1);
    assert!(v.get("suppressed").is_none(), "listed only when asked");
    let v = json(&expect(
        waitcheck(
            t.path(),
            &["check", ".", "--format", "json", "--show-suppressed"],
        ),
        1,
    ));
    assert_eq!(v["suppressed"][0]["type"], "WORK_WAIT_UNDER_LOCK");
    assert_eq!(
        v["suppressed"][0]["reason"],
        "stop runs only once the work is off"
    );
    assert_eq!(v["suppressed"][0]["at"], "drivers/misc/gadget.c:34");

    // SARIF keeps it as a suppressed result, which code scanning closes.
    let r = expect(
        waitcheck(
            t.path(),
            &["check", ".", "--format", "sarif", "--show-suppressed"],
        ),
        1,
    );
    let v = json(&r);
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let s = results
        .iter()
        .find(|r| r.get("suppressions").is_some())
        .expect("suppressed result");
    assert_eq!(s["suppressions"][0]["kind"], "inSource");
    assert_eq!(v["runs"][0]["properties"]["suppressed"], 1);

    let r = expect(
        waitcheck(
            t.path(),
            &["check", ".", "--format", "checkpatch", "--show-suppressed"],
        ),
        1,
    );
    assert!(r.stdout.contains("NOTE: suppressed at drivers/misc/gadget.c:34 (stop runs only once the work is off): gadget_stop() waits"), "{}", r.stdout);
    assert!(
        r.stdout.contains("total: 0 errors, 1 warnings,"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_trailing_line_comment_suppresses_and_only_its_type() {
    let t = tree();
    edit(
        t.path(),
        GADGET,
        WAIT_LINE,
        "\tcancel_work_sync(&g->reset_work); // waitcheck-ignore: work_wait_under_lock reviewed\n",
    );
    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v), ["PROBE_FLUSH_WAITS_FOR_PROBE"]);
    assert_eq!(v["stats"]["suppressed"], 1);

    // Another type named, or the comment two lines up: not suppressed.
    let t = tree();
    edit(
        t.path(),
        GADGET,
        WAIT_LINE,
        &format!("\t/* waitcheck-ignore: WORK_WAITS_FOR_ITSELF wrong type */\n{WAIT_LINE}"),
    );
    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(v["stats"]["suppressed"], 0);
    let t = tree();
    edit(
        t.path(),
        GADGET,
        WAIT_LINE,
        &format!("\t/* waitcheck-ignore: WORK_WAIT_UNDER_LOCK too far */\n\n{WAIT_LINE}"),
    );
    let v = json(&expect(
        waitcheck(t.path(), &["check", ".", "--format", "json"]),
        1,
    ));
    assert_eq!(types(&v).len(), 2);
}

#[test]
fn everything_suppressed_is_exit_0() {
    let t = tree();
    edit(
        t.path(),
        GADGET,
        WAIT_LINE,
        &format!("\t// waitcheck-ignore: WORK_WAIT_UNDER_LOCK reviewed\n{WAIT_LINE}"),
    );
    edit(
        t.path(),
        "drivers/misc/gadget-scan.c",
        "\tflush_work(&gadget_scan_work);\n",
        "\tflush_work(&gadget_scan_work); /* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE reviewed */\n",
    );
    let r = expect(waitcheck(t.path(), &["check", "."]), 0);
    assert!(
        r.stdout
            .contains("no circular waits found in 2 files (0 skipped, 2 suppressed)"),
        "{}",
        r.stdout
    );
}

/// The series with a suppression comment added by patch 1 above the flush
/// that patch 2's finding is located at (its hunk header counts one more
/// line).
fn series_with_suppression() -> String {
    let text =
        std::fs::read_to_string(root().join("testdata/patches/wpool/series.mbox")).expect("series");
    let flush = "+\tflush_work(&wpool_deferred_work);\n";
    assert_eq!(text.matches(flush).count(), 1);
    let text = text.replace(
        flush,
        &format!("+\t/* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE owners never fail to probe */\n{flush}"),
    );
    assert_eq!(text.matches("@@ -7,6 +7,71 @@").count(), 1);
    text.replace("@@ -7,6 +7,71 @@", "@@ -7,6 +7,72 @@")
}

#[test]
fn suppression_in_patch_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("series.mbox");
    std::fs::write(&mbox, series_with_suppression()).expect("write");
    let tree = root().join("testdata/patches/wpool/tree");
    let args = [
        "patch",
        mbox.to_str().expect("utf-8"),
        "--tree",
        tree.to_str().expect("utf-8"),
        "--format",
        "json",
        "--show-suppressed",
    ];
    let v = json(&expect(waitcheck(&root(), &args), 0));
    assert_eq!(v["stats"]["suppressed"], 1);
    let p2 = &v["patches"][1];
    assert_eq!(p2["introduced"], Value::Array(vec![]));
    assert_eq!(p2["suppressed"][0]["type"], "PROBE_FLUSH_WAITS_FOR_PROBE");
    assert_eq!(p2["suppressed"][0]["reason"], "owners never fail to probe");
}

// -------------------------------------------------------------- baseline --

#[test]
fn a_baseline_is_sorted_stable_and_reviewable() {
    let t = tree();
    let r = expect(
        waitcheck(t.path(), &["check", ".", "--write-baseline", "base.json"]),
        1,
    );
    assert!(
        r.stdout.contains("2 findings"),
        "written findings are still reported"
    );
    let first = std::fs::read_to_string(t.path().join("base.json")).expect("baseline");
    expect(
        waitcheck(
            t.path(),
            &["check", ".", "-j", "1", "--write-baseline", "again.json"],
        ),
        1,
    );
    let again = std::fs::read_to_string(t.path().join("again.json")).expect("baseline");
    assert_eq!(first, again, "same findings, same bytes");
    let v: Value = serde_json::from_str(&first).expect("json");
    assert_eq!(v["version"], 1);
    let entries = v["findings"].as_array().expect("entries");
    let paths: Vec<&str> = entries.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        paths,
        ["drivers/misc/gadget-scan.c", "drivers/misc/gadget.c"]
    );
    for e in entries {
        for key in ["type", "path", "function", "fingerprint", "message"] {
            assert!(
                e[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {e}"
            );
        }
    }
    assert_eq!(entries[1]["function"], "gadget_stop");
}

#[test]
fn a_baseline_reports_only_new_findings_across_unrelated_edits() {
    let t = tree();
    // Accept only the lock finding.
    expect(
        waitcheck(
            t.path(),
            &[
                "check",
                ".",
                "--types",
                "WORK_WAIT_UNDER_LOCK",
                "--write-baseline",
                "base.json",
            ],
        ),
        1,
    );
    // Unrelated edits move every line.
    edit(
        t.path(),
        GADGET,
        "#include <linux/mutex.h>\n",
        "#include <linux/mutex.h>\n\n/* a new comment */\n\n",
    );
    let v = json(&expect(
        waitcheck(
            t.path(),
            &["check", ".", "--baseline", "base.json", "--format", "json"],
        ),
        1,
    ));
    assert_eq!(types(&v), ["PROBE_FLUSH_WAITS_FOR_PROBE"]);
    assert_eq!(v["stats"]["baselined"], 1);
    // All accepted: nothing new, exit 0.
    expect(
        waitcheck(t.path(), &["check", ".", "--write-baseline", "all.json"]),
        1,
    );
    let r = expect(
        waitcheck(t.path(), &["check", ".", "--baseline", "all.json"]),
        0,
    );
    assert!(r.stdout.contains("2 in the baseline"), "{}", r.stdout);
}

#[test]
fn a_baseline_applies_to_what_a_patch_introduces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base.json");
    let series = root().join("testdata/patches/wpool/series.mbox");
    let tree = root().join("testdata/patches/wpool/tree");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "patch".into(),
            series.display().to_string(),
            "--tree".into(),
            tree.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let base_s = base.display().to_string();
    let w = args(&["--write-baseline", &base_s]);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    expect(waitcheck(&root(), &w), 1);
    let b = args(&["--baseline", &base_s, "--format", "checkpatch", "-q"]);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let r = expect(waitcheck(&root(), &b), 0);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn a_bad_baseline_is_exit_2_naming_it() {
    let t = tree();
    std::fs::write(
        t.path().join("base.json"),
        "{\n  \"version\": 1,\n  \"findings\": {}\n}\n",
    )
    .expect("write");
    let r = expect(
        waitcheck(t.path(), &["check", ".", "--baseline", "base.json"]),
        2,
    );
    assert!(
        r.stderr.contains("base.json:3: not a waitcheck baseline"),
        "{}",
        r.stderr
    );
    let r = expect(
        waitcheck(t.path(), &["check", ".", "--baseline", "missing.json"]),
        2,
    );
    assert!(
        r.stderr.contains("missing.json: cannot read the baseline"),
        "{}",
        r.stderr
    );
}

#[test]
fn patch_mode_reads_the_config_at_the_tree_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("testdata/patches/wpool/tree"), dir.path());
    std::fs::write(
        dir.path().join(".waitcheck.toml"),
        "format = \"checkpatch\"\n",
    )
    .expect("write");
    let series = root().join("testdata/patches/wpool/series.mbox");
    let series = series.to_str().expect("utf-8");
    let tree = dir.path().to_str().expect("utf-8");
    let r = expect(
        waitcheck(&root(), &["patch", series, "--tree", tree, "-q"]),
        1,
    );
    assert!(
        r.stdout.starts_with("WARNING: wpool_flush_deferred()"),
        "{}",
        r.stdout
    );
    std::fs::write(dir.path().join(".waitcheck.toml"), "format = 1\n").expect("write");
    let r = expect(waitcheck(&root(), &["patch", series, "--tree", tree]), 2);
    assert!(
        r.stderr.contains(".waitcheck.toml:1: invalid type"),
        "{}",
        r.stderr
    );
}
