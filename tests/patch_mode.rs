//! `waitcheck patch` end to end, on the `testdata/patches/wpool` fixtures:
//! a series where only patch 2 of 3 introduces the seed's shape (in every
//! format, from a file, from stdin and as git commits), a patch that fixes
//! it (`--show-fixed`), a patch that adds a new directory, and inputs that
//! must be rejected with exit 2 and a message naming file, hunk and line.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

const DIR: &str = "testdata/patches/wpool";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join(DIR).join(name)
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `waitcheck ARGS` in `cwd`, with its own facts cache directory.
fn waitcheck_in(cwd: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut c = Command::cargo_bin("waitcheck").expect("binary");
    c.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("WAITCHECK_CACHE_DIR", cache.path())
        .args(args);
    if let Some(input) = stdin {
        c.write_stdin(input);
    }
    let out = c.output().expect("runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `waitcheck patch INPUT --tree testdata/patches/wpool/tree ARGS`.
fn patch(input: &str, extra: &[&str], code: i32) -> Run {
    let input = fixture(input);
    let tree = fixture("tree");
    let mut args = vec![
        "patch",
        input.to_str().expect("utf-8 path"),
        "--tree",
        tree.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let r = waitcheck_in(&root(), &args, None);
    assert_eq!(
        r.code,
        Some(code),
        "waitcheck {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    r
}

const PATCH_2: &str = "[PATCH 2/3] wpool: resolve remote ranges once their owners have bound";

#[test]
fn only_patch_two_of_the_series_is_reported_in_every_format() {
    let human = patch("series.mbox", &["--format", "human"], 1).stdout;
    assert!(human.contains("[PATCH 1/3] wpool: add deferred work helpers: 0 new circular wait(s)"));
    assert!(human.contains(&format!("{PATCH_2}: 1 new circular wait(s)")));
    assert!(human.contains("[PATCH 3/3] wpool: count the ranges of a pool: 0 new circular wait(s)"));
    assert_eq!(
        human
            .matches("warning[PROBE_FLUSH_WAITS_FOR_PROBE]")
            .count(),
        1
    );

    let json = patch("series.mbox", &["--format", "json"], 1).stdout;
    let v: Value = serde_json::from_str(&json).expect("json");
    let patches = v["patches"].as_array().expect("patches");
    let introduced: Vec<usize> = patches
        .iter()
        .map(|p| p["introduced"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(introduced, [0, 1, 0]);
    assert_eq!(
        patches[1]["introduced"][0]["type"],
        "PROBE_FLUSH_WAITS_FOR_PROBE"
    );

    let checkpatch = patch("series.mbox", &["--format", "checkpatch"], 1).stdout;
    let blocks: Vec<&str> = checkpatch.split("\n---").collect();
    assert_eq!(checkpatch.matches("WARNING:").count(), 1);
    let reported = blocks
        .iter()
        .find(|b| b.contains("WARNING:"))
        .expect("a block reports");
    assert!(reported.contains(PATCH_2), "{reported}");

    let sarif = patch("series.mbox", &["--format", "sarif"], 1).stdout;
    let v: Value = serde_json::from_str(&sarif).expect("sarif");
    assert_eq!(v["runs"][0]["results"].as_array().map(Vec::len), Some(1));

    let github = patch("series.mbox", &["--format", "github"], 1).stdout;
    assert_eq!(github.lines().count(), 1, "{github}");
    assert!(github.starts_with("::warning file=drivers/wpool/plat.c,line=68,"));

    let review = patch("series.mbox", &["--format", "review"], 1).stdout;
    assert_eq!(
        review.matches("\nRe: ").count() + usize::from(review.starts_with("Re: ")),
        1
    );
    assert!(review.starts_with(&format!("Re: {PATCH_2}\n")));
}

#[test]
fn the_same_series_on_stdin_names_the_input_as_checkpatch_does() {
    let bytes = std::fs::read(fixture("series.mbox")).expect("series");
    let tree = fixture("tree");
    let tree = tree.to_str().expect("utf-8");
    let args = [
        "patch",
        "-",
        "--tree",
        tree,
        "--format",
        "checkpatch",
        "--terse",
    ];
    let r = waitcheck_in(&root(), &args, Some(bytes));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("-:185: WARNING: wpool_flush_deferred() waits for"),
        "{}",
        r.stdout
    );
}

#[test]
fn each_patch_points_into_its_own_version_of_the_files() {
    // The series and then the fix, as one input: the fix rewrites the
    // lines patch 2's finding points at, yet the report of patch 2 quotes
    // them as they were right after patch 2, and the fix's fixed finding
    // as they were before the fix.
    let mut bytes = std::fs::read(fixture("series.mbox")).expect("series");
    bytes.extend(std::fs::read(fixture("fix.patch")).expect("fix"));
    let tree = fixture("tree");
    let tree = tree.to_str().expect("utf-8");
    let args = [
        "patch",
        "-",
        "--tree",
        tree,
        "--color",
        "never",
        "--show-fixed",
    ];
    let r = waitcheck_in(&root(), &args, Some(bytes));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let human = r.stdout;
    assert!(
        human.contains("79 │         wpool_flush_deferred();"),
        "{human}"
    );
    assert!(
        human.contains("68 │         wait_for_device_probe();"),
        "{human}"
    );
    assert!(
        !human.contains("= at: "),
        "no finding lost its snippets: {human}"
    );
    assert!(human.contains("wpool: do not flush the deferred work from the probe error path: fixes 1 circular wait(s):"));
}

/// A git work tree in a temporary directory: `tree/` committed, then the
/// series applied with `git am`.
fn git_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture("tree"), dir.path());
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "wpool: base"]);
    let series = fixture("series.mbox");
    git(
        dir.path(),
        &["am", "-q", "--empty=drop", series.to_str().expect("utf-8")],
    );
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let out = Process::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.org"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_fix_is_listed_with_show_fixed_only() {
    let repo = git_tree();
    let fix = fixture("fix.patch");
    let fix = fix.to_str().expect("utf-8");
    let tree = repo.path().to_str().expect("utf-8");
    let base = ["patch", fix, "--tree", tree];

    // It introduces nothing: exit 0, and by default says nothing of fixes.
    let r = waitcheck_in(&root(), &[&base[..], &["--format", "json"]].concat(), None);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["patches"][0]["introduced"], Value::Array(vec![]));
    assert_eq!(v["patches"][0]["fixed"], Value::Array(vec![]));

    let args = [&base[..], &["--format", "json", "--show-fixed"]].concat();
    let r = waitcheck_in(&root(), &args, None);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    let fixed = v["patches"][0]["fixed"].as_array().expect("fixed");
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0]["type"], "PROBE_FLUSH_WAITS_FOR_PROBE");

    let args = [&base[..], &["--show-fixed"]].concat();
    let r = waitcheck_in(&root(), &args, None);
    assert!(
        r.stdout.contains("fixes 1 circular wait(s):"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("  fixed: PROBE_FLUSH_WAITS_FOR_PROBE drivers/wpool/core.c:71"));

    // checkpatch points at the line the fix removes.
    let args = [&base[..], &["--format", "checkpatch", "--show-fixed"]].concat();
    let r = waitcheck_in(&root(), &args, None);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("NOTE: fixes: wpool_flush_deferred() waits for wpool_deferred_work"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("FILE: drivers/wpool/plat.c:79:\n-\twpool_flush_deferred();\n"));
    assert!(r.stdout.contains("total: 0 errors, 0 warnings,"));
}

#[test]
fn git_commits_are_checked_against_their_base_commit() {
    // The work tree already holds the series; `--git` must apply each
    // commit to the tree as it was before it.
    let repo = git_tree();
    let r = waitcheck_in(
        repo.path(),
        &["patch", "--git", "HEAD~3..HEAD", "--format", "checkpatch"],
        None,
    );
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.matches("WARNING:").count(), 1);
    assert!(r.stdout.contains("(\"wpool: resolve remote ranges once their owners have bound\") has circular waits, please review."));
    assert!(r
        .stdout
        .contains("(\"wpool: count the ranges of a pool\") has no obvious circular waits"));
    assert!(r.stdout.starts_with("--------"), "a header per commit");

    // One commit: its parent is the base.
    let r = waitcheck_in(
        repo.path(),
        &["patch", "--git", "HEAD~1", "--format", "github"],
        None,
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1);
    let r = waitcheck_in(repo.path(), &["patch", "--git", "HEAD"], None);
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    // A base that is not a commit is an input error.
    let r = waitcheck_in(repo.path(), &["patch", "--git", "nosuch..HEAD"], None);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("nosuch"), "{}", r.stderr);
}

#[test]
fn a_patch_that_creates_a_directory_is_analysed() {
    let r = patch(
        "new-dir.patch",
        &["--format", "checkpatch", "--show-types", "-q"],
        1,
    );
    assert!(r
        .stdout
        .starts_with("ERROR:WORK_WAITS_FOR_ITSELF: wpool_watch_poll() waits for its own work"));
    assert!(r
        .stdout
        .contains("FILE: drivers/wpool/extra/watch.c:18:\n+\tcancel_work_sync(&w->poll_work);\n"));
}

#[test]
fn malformed_patch_is_exit_2_naming_file_and_line() {
    let r = patch("malformed.patch", &[], 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("testdata/patches/wpool/malformed.patch:19: malformed hunk header `@@ -38,9 +38;61 @@ err_put:`"),
        "{}",
        r.stderr
    );
}

#[test]
fn non_applying_patch_is_exit_2_naming_file_hunk_and_line() {
    let r = patch("no-apply.patch", &["--format", "checkpatch"], 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    for part in [
        "testdata/patches/wpool/no-apply.patch",
        PATCH_2,
        "drivers/wpool/plat.c: hunk #1 (patch line 19)",
        "context at line 43 of drivers/wpool/plat.c differs",
        "wpool_add_one_range",
    ] {
        assert!(r.stderr.contains(part), "missing `{part}` in: {}", r.stderr);
    }
}

#[test]
fn a_missing_patch_file_is_exit_2_naming_it() {
    let r = patch("no-such.patch", &[], 2);
    assert!(
        r.stderr.contains("no-such.patch: cannot read"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_patch_already_in_a_tree_without_git_is_checked_against_the_tree_without_it() {
    // The series applied, then the files copied out of git: patch 2 no
    // longer applies forward, no commit can be looked up, so it is
    // reversed to get the tree before it.
    let repo = git_tree();
    let plain = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo.path().join("drivers"), &plain.path().join("drivers"));
    let mails = std::fs::read_to_string(fixture("series.mbox")).expect("series");
    let start = mails.find("Subject: [PATCH 2/3]").expect("patch 2");
    let end = mails.find("Subject: [PATCH 3/3]").expect("patch 3");
    let patch_2 = mails[start..end].to_string();
    let tree = plain.path().to_str().expect("utf-8");
    let r = waitcheck_in(
        &root(),
        &["patch", "-", "--tree", tree, "--color", "never"],
        Some(patch_2.into_bytes()),
    );
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{PATCH_2}: 1 new circular wait(s)\n  (already in the tree: checked against the tree without it)\n"
        )),
        "{}",
        r.stdout
    );
}

/// Debian's Linux 6.12 tree (ci/test.sh extracts it and sets the variable);
/// without it the test says why it did nothing, and under CI it fails.
fn linux_6_12() -> Option<PathBuf> {
    match std::env::var_os("WAITCHECK_LINUX_6_12") {
        Some(p) if Path::new(&p).join("drivers").is_dir() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("WAITCHECK_LINUX_6_12 must point at an extracted kernel tree under CI (run ci/test.sh)")
        }
        _ => {
            eprintln!(
                "note: WAITCHECK_LINUX_6_12 not set; run ci/test.sh for the kernel-tree tests"
            );
            None
        }
    }
}

/// The seed's real patches (../shared/seed/patches) whose names start so.
fn seed_patches(starts: &[&str]) -> Vec<u8> {
    let dir = root().join("../shared/seed/patches");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("../shared/seed/patches")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let mut bytes = Vec::new();
    for s in starts {
        let p = names
            .iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(s))
            })
            .unwrap_or_else(|| panic!("no seed patch {s}"));
        bytes.extend(std::fs::read(p).expect("seed patch"));
    }
    bytes
}

#[test]
fn the_seed_series_on_linux_6_12_is_reported_at_patch_2_like_the_review() {
    let Some(linux) = linux_6_12() else {
        return;
    };
    let tree = linux.to_str().expect("utf-8");
    let series = seed_patches(&["0001", "0002"]);
    let args = ["patch", "-", "--tree", tree, "--format", "json"];
    let r = waitcheck_in(&root(), &args, Some(series.clone()));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    let introduced: Vec<usize> = v["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .map(|p| p["introduced"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(introduced, [0, 1]);
    assert_eq!(
        v["patches"][1]["introduced"][0]["type"],
        "PROBE_FLUSH_WAITS_FOR_PROBE"
    );

    // checkpatch points at the wait the reviewed patch adds.
    let args = [
        "patch",
        "-",
        "--tree",
        tree,
        "--format",
        "checkpatch",
        "-q",
        "--showfile",
    ];
    let r = waitcheck_in(&root(), &args, Some(series.clone()));
    assert!(
        r.stdout.starts_with(
            "drivers/dax/hmem/hmem.c:165: WARNING: dax_hmem_flush_work() waits for dax_hmem_work"
        ),
        "{}",
        r.stdout
    );

    // The review quotes the reviewed lines, as the seed's reviewer did.
    let args = ["patch", "-", "--tree", tree, "--format", "review"];
    let r = waitcheck_in(&root(), &args, Some(series));
    let review = r.stdout;
    assert!(review.starts_with(
        "Re: [PATCH 2/2] dax/hmem, cxl: Defer and resolve ownership of Soft Reserved memory ranges\n"
    ));
    for quoted in [
        "> +static void process_defer_work(void *data)\n",
        "> +\twait_for_device_probe();\n",
        "> +static void kill_defer_work(void *data)\n",
        "> +\tdax_hmem_flush_work();\n",
        "> +\trc = devm_add_action_or_reset(&pdev->dev, kill_defer_work, pdev);\n",
        ">  \treturn walk_hmem_resources(&pdev->dev, hmem_register_device);\n",
    ] {
        assert!(review.contains(quoted), "`{quoted}` not quoted:\n{review}");
    }
    assert!(review.contains("\nIs there a potential deadlock here?"));
    assert!(
        review.contains("It happens if dax_hmem_platform_probe() fails after dax_hmem_work was")
    );
    assert!(review.contains("wait_for_device_probe() waits for every probe in flight to finish"));

    // The merged fix, applied instead, introduces nothing.
    let fix = seed_patches(&["fixed-v8"]);
    let r = waitcheck_in(&root(), &["patch", "-", "--tree", tree], Some(fix));
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
}
