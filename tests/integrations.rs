//! The CI integrations in `ci/integrations/`, exercised as their hosts run
//! them:
//!
//! - `sendemail-validate`, run as `git send-email` runs it (from the top of
//!   the work tree, the mail's file as `$1`), on a good and a bad patch;
//! - the waitcheck command lines of `b4.conf`, with a patch on stdin as b4
//!   pipes it (`b4 prep --check` and `b4 am --check`);
//! - `github-workflow.yml` and `gitlab-ci.yml`: their structure checked as
//!   text, every waitcheck flag they use checked against `--help`, and the
//!   exact shell of every step that runs waitcheck run against a git
//!   fixture with the variables the host would set.
//!
//! The fixture is a git repository made from `testdata/patches/wpool/tree`
//! with the wpool series committed on top (patch 2 of 3 introduces a
//! circular wait).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn integration(name: &str) -> PathBuf {
    root().join("ci/integrations").join(name)
}

fn read(name: &str) -> String {
    let p = integration(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("waitcheck")
}

/// PATH with the waitcheck under test first.
fn path_env() -> String {
    let dir = binary().parent().expect("bin dir").to_path_buf();
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
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
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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

/// A git repository holding the wpool tree (`base`), then `commits` of the
/// series (0 to 3) applied with `git am`; `origin/main` points at the base.
struct Repo {
    dir: tempfile::TempDir,
    base: String,
}

fn repo(commits: usize) -> Repo {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    copy_dir(&root().join("testdata/patches/wpool/tree"), p);
    git(p, &["init", "-q"]);
    git(p, &["add", "-A"]);
    git(p, &["commit", "-q", "-m", "wpool: base"]);
    let base = git(p, &["rev-parse", "HEAD"]);
    git(p, &["update-ref", "refs/remotes/origin/main", &base]);
    if commits > 0 {
        let mails = split_series();
        for mail in mails.iter().skip(1).take(commits) {
            let f = p.join(".git/mail.patch");
            std::fs::write(&f, mail).expect("write");
            git(p, &["am", "-q", f.to_str().expect("utf-8")]);
        }
    }
    Repo { dir, base }
}

impl Repo {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `git format-patch` of the commits after the base, with a cover
    /// letter, as files (what `git send-email` is given).
    fn format_patch(&self) -> Vec<PathBuf> {
        let out = self.path().join(".git/outgoing");
        let range = format!("{}..HEAD", self.base);
        git(
            self.path(),
            &[
                "format-patch",
                "-q",
                "--cover-letter",
                "-o",
                out.to_str().expect("utf-8"),
                &range,
            ],
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
            .expect("outgoing")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        files
    }
}

/// The mails of the wpool series (cover letter first).
fn split_series() -> Vec<String> {
    let text =
        std::fs::read_to_string(root().join("testdata/patches/wpool/series.mbox")).expect("series");
    let mut mails: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let starts = line.starts_with("From ") && line.trim_end().ends_with(" 2001");
        if starts || mails.is_empty() {
            mails.push(String::new());
        }
        if let Some(m) = mails.last_mut() {
            m.push_str(line);
        }
    }
    mails
}

/// A mail as b4 pipes it: headers and body, without the mbox `From ` line.
fn as_b4_sends(mail: &str) -> String {
    mail.split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ------------------------------------------------------ sendemail-validate --

fn run_hook(repo: &Repo, mail: &Path, counter: usize, total: usize) -> Output {
    Command::new(integration("sendemail-validate"))
        .current_dir(repo.path())
        .arg(mail)
        .env("PATH", path_env())
        .env("GIT_SENDEMAIL_FILE_COUNTER", counter.to_string())
        .env("GIT_SENDEMAIL_FILE_TOTAL", total.to_string())
        .env(
            "WAITCHECK_CACHE_DIR",
            repo.path().join(".git/waitcheck-cache"),
        )
        .output()
        .expect("hook runs")
}

#[test]
fn sendemail_validate_blocks_only_the_patch_that_introduces_a_cycle() {
    // The usual flow: commits, `git format-patch`, `git send-email`.
    let repo = repo(3);
    let mails = repo.format_patch();
    assert_eq!(mails.len(), 4, "cover letter and three patches");
    let mut codes = Vec::new();
    for (i, mail) in mails.iter().enumerate() {
        let out = run_hook(&repo, mail, i + 1, mails.len());
        let (stdout, stderr) = text(&out);
        codes.push(out.status.code());
        if i == 2 {
            assert!(
                stdout.contains("WARNING:PROBE_FLUSH_WAITS_FOR_PROBE: wpool_flush_deferred() waits for wpool_deferred_work"),
                "{stdout}"
            );
            assert!(
                stdout.contains("\n+\twait_for_device_probe();\n"),
                "{stdout}"
            );
            assert!(
                stderr.contains("introduces a circular wait; not sending."),
                "{stderr}"
            );
        } else {
            assert!(!stdout.contains("WARNING"), "mail {i}: {stdout}");
        }
    }
    assert_eq!(codes, [Some(0), Some(0), Some(1), Some(0)]);
}

#[test]
fn sendemail_validate_passes_a_good_patch_not_yet_committed() {
    // The fix, as a file, against the tree holding the series.
    let repo = repo(3);
    let out = run_hook(
        &repo,
        &root().join("testdata/patches/wpool/fix.patch"),
        1,
        1,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("has no obvious circular waits and is ready for submission."));
    // A patch that does not apply is refused too (exit 2), with the reason.
    let base = self::repo(0);
    let out = run_hook(
        &base,
        &root().join("testdata/patches/wpool/no-apply.patch"),
        1,
        1,
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hunk #1"), "{stderr}");
}

// ------------------------------------------------------------------- b4 --

/// The waitcheck command lines of `b4.conf` for `key`.
fn b4_commands(key: &str) -> Vec<Vec<String>> {
    let conf = read("b4.conf");
    assert!(conf.lines().any(|l| l.trim() == "[b4]"), "a [b4] section");
    conf.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
        .filter(|cmd| cmd.starts_with("waitcheck "))
        .map(|cmd| cmd.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Run `cmd` as b4 does: from the top of the work tree, `mail` on stdin.
fn run_b4_check(repo: &Repo, cmd: &[String], mail: &str) -> Output {
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .current_dir(repo.path())
        .env("PATH", path_env())
        .env(
            "WAITCHECK_CACHE_DIR",
            repo.path().join(".git/waitcheck-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(mail.as_bytes()).expect("stdin write");
    }
    child.wait_with_output().expect("waits")
}

#[test]
fn b4_prep_check_reports_one_line_for_the_bad_patch_only() {
    let cmds = b4_commands("prep-perpatch-check-cmd");
    assert_eq!(cmds.len(), 1, "one waitcheck line for b4 prep");
    // b4 prep checks the commits of the prep branch: all in the tree.
    let repo = repo(3);
    let mails = split_series();
    for (i, mail) in mails.iter().enumerate().skip(1) {
        let out = run_b4_check(&repo, &cmds[0], &as_b4_sends(mail));
        let (stdout, stderr) = text(&out);
        // b4 takes every stderr line as a failure.
        assert!(stderr.is_empty(), "patch {i}: {stderr}");
        if i == 2 {
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(
                stdout,
                "drivers/wpool/plat.c:68: WARNING: wpool_flush_deferred() waits for wpool_deferred_work from a probe path, but its handler wpool_deferred_work_fn() waits for probes to finish\n"
            );
        } else {
            assert_eq!(out.status.code(), Some(0), "patch {i}: {stdout}");
            assert!(
                stdout.is_empty(),
                "patch {i}: no output means passed: {stdout}"
            );
        }
    }
}

#[test]
fn b4_am_check_reads_patches_that_are_not_applied() {
    let cmds = b4_commands("am-perpatch-check-cmd");
    assert_eq!(cmds.len(), 1, "one waitcheck line for b4 am");
    let repo = repo(1);
    let mails = split_series();
    let out = run_b4_check(&repo, &cmds[0], &as_b4_sends(&mails[2]));
    let (stdout, stderr) = text(&out);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    // Without --showfile the line is the patch's: `-:N:` (b4 strips `-:`).
    assert!(stdout.starts_with("-:"), "{stdout}");
    assert!(
        stdout.contains(": WARNING: wpool_flush_deferred()"),
        "{stdout}"
    );
}

// ------------------------------------------------------ CI configurations --

/// The shell of every `run: |` block of a GitHub workflow, by step name.
fn github_run_blocks(yaml: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut name = String::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim_start();
        if let Some(n) = t.strip_prefix("- name: ") {
            name = n.to_string();
        }
        let run = t.strip_prefix("run:").map(str::trim);
        if let Some(rest) = run {
            let indent = l.len() - t.len();
            let mut block = String::new();
            if rest == "|" {
                i += 1;
                while i < lines.len() {
                    let b = lines[i];
                    let bi = b.len() - b.trim_start().len();
                    if !b.trim().is_empty() && bi <= indent {
                        break;
                    }
                    block.push_str(b.trim_start());
                    block.push('\n');
                    i += 1;
                }
                out.push((name.clone(), block));
                continue;
            }
            out.push((name.clone(), format!("{rest}\n")));
        }
        i += 1;
    }
    out
}

/// The `script:` items of each job of a GitLab CI file, by job name.
fn gitlab_scripts(yaml: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut job = String::new();
    let mut in_script = false;
    for l in yaml.lines() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if !l.starts_with(' ') {
            job = l.trim_end_matches(':').to_string();
            in_script = false;
            continue;
        }
        let t = l.trim_start();
        let indent = l.len() - t.len();
        if indent == 2 {
            in_script = t == "script:";
            continue;
        }
        if in_script {
            if let Some(item) = t.strip_prefix("- ") {
                out.entry(job.clone()).or_default().push(item.to_string());
            }
        }
    }
    out
}

/// YAML as these files write it: spaces only, two per level, no trailing
/// blanks; every top-level line a key.
fn assert_plain_yaml(name: &str, yaml: &str) {
    for (n, l) in yaml.lines().enumerate() {
        let at = format!("{name}:{}", n + 1);
        assert!(!l.contains('\t'), "{at}: a tab");
        assert_eq!(l, l.trim_end(), "{at}: trailing blanks");
        let indent = l.len() - l.trim_start().len();
        assert_eq!(indent % 2, 0, "{at}: odd indentation");
        if indent == 0 && !l.is_empty() && !l.starts_with('#') {
            assert!(l.ends_with(':') || l.contains(": "), "{at}: not a key: {l}");
        }
    }
}

/// The options `waitcheck SUB --help` lists.
fn known_flags(sub: &str) -> Vec<String> {
    let out = Command::new(binary())
        .args([sub, "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
        .filter(|w| w.starts_with('-'))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        })
        .collect()
}

/// Every `waitcheck check|patch ...` command in `shell` uses only flags the
/// binary knows; returns how many commands there were.
fn assert_known_flags(source: &str, shell: &str) -> usize {
    let mut n = 0;
    for line in shell.lines() {
        let Some(at) = line.find("waitcheck ") else {
            continue;
        };
        let words: Vec<&str> = line[at..].split_whitespace().collect();
        let sub = words.get(1).copied().unwrap_or_default();
        if sub != "check" && sub != "patch" {
            continue;
        }
        n += 1;
        let known = known_flags(sub);
        for w in &words[2..] {
            let w = w.trim_matches('"');
            if w.starts_with('-') && w != "-" {
                let flag = w.split('=').next().unwrap_or(w);
                assert!(
                    known.iter().any(|k| k == flag),
                    "{source}: `{flag}` is no flag of waitcheck {sub}"
                );
            }
            if matches!(w, "||" | ">" | ";") {
                break;
            }
        }
    }
    n
}

fn run_shell(repo: &Repo, shell: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.args(["--noprofile", "--norc", "-e", "-o", "pipefail", "-c", shell])
        .current_dir(repo.path())
        .env("PATH", path_env())
        .env(
            "WAITCHECK_CACHE_DIR",
            repo.path().join(".git/waitcheck-cache"),
        );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("bash runs")
}

fn assert_sarif_file(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("SARIF is JSON");
    assert_eq!(v["version"], "2.1.0");
    let schema_path = root().join("../shared/schemas/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).expect("schema"))
            .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&v), "the SARIF written validates");
}

#[test]
fn github_workflow_runs_as_written() {
    let yaml = read("github-workflow.yml");
    assert_plain_yaml("github-workflow.yml", &yaml);
    for needle in [
        "\non:\n",
        "\n  push:\n",
        "\n  pull_request:\n",
        "\njobs:\n",
        "security-events: write",
        "uses: github/codeql-action/upload-sarif@v3",
        "sarif_file: waitcheck.sarif",
        "fetch-depth: 0",
        "cargo install --locked --path .waitcheck-src",
        "echo \"$RUNNER_TEMP/waitcheck/bin\" >> \"$GITHUB_PATH\"",
    ] {
        assert!(
            yaml.contains(needle),
            "github-workflow.yml lacks `{needle}`"
        );
    }
    let blocks = github_run_blocks(&yaml);
    let waitcheck: Vec<&(String, String)> = blocks
        .iter()
        .filter(|(_, b)| b.contains("waitcheck check") || b.contains("waitcheck patch"))
        .collect();
    assert_eq!(waitcheck.len(), 2, "{blocks:?}");
    let commands: usize = waitcheck
        .iter()
        .map(|(n, b)| assert_known_flags(n, b))
        .sum();
    assert_eq!(commands, 2);

    // The scan step: a tree with a finding; it must write SARIF and pass
    // (exit 1 is findings: the upload step still runs).
    let repo = repo(3);
    let (name, scan) = waitcheck[0];
    assert!(scan.contains("--format sarif > waitcheck.sarif"), "{name}");
    let out = run_shell(&repo, scan, &[]);
    assert!(out.status.success(), "{name}: {:?}", text(&out));
    assert_sarif_file(&repo.path().join("waitcheck.sarif"));
    let sarif = std::fs::read_to_string(repo.path().join("waitcheck.sarif")).expect("sarif");
    assert!(sarif.contains("\"ruleId\": \"PROBE_FLUSH_WAITS_FOR_PROBE\""));

    // The pull-request step: the branch's commits against origin/main.
    let (name, pr) = waitcheck[1];
    let out = run_shell(&repo, pr, &[("GITHUB_BASE_REF", "main")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{name}: {stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(
            "::warning file=drivers/wpool/plat.c,line=68,col=2,title=PROBE_FLUSH_WAITS_FOR_PROBE::"
        ),
        "{stdout}"
    );
    // A clean branch passes.
    let clean = self::repo(1);
    let out = run_shell(&clean, pr, &[("GITHUB_BASE_REF", "main")]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn gitlab_ci_runs_as_written() {
    let yaml = read("gitlab-ci.yml");
    assert_plain_yaml("gitlab-ci.yml", &yaml);
    for needle in [
        "\n.waitcheck-build:\n",
        "extends: .waitcheck-build",
        "$CI_PIPELINE_SOURCE == \"merge_request_event\"",
        "\n  artifacts:\n",
        "      - waitcheck.sarif\n",
        "GIT_DEPTH: 0",
    ] {
        assert!(yaml.contains(needle), "gitlab-ci.yml lacks `{needle}`");
    }
    let scripts = gitlab_scripts(&yaml);
    let build = scripts.get(".waitcheck-build");
    assert!(build.is_none(), "the build is a before_script");
    let scan = scripts.get("waitcheck").expect("job waitcheck");
    let mr = scripts.get("waitcheck-mr").expect("job waitcheck-mr");
    let scan = scan.join("\n");
    let mr = mr.join("\n");
    assert_eq!(assert_known_flags("gitlab waitcheck", &scan), 2);
    assert_eq!(assert_known_flags("gitlab waitcheck-mr", &mr), 1);

    let repo = repo(3);
    // The scan job fails on findings, after writing the artifact.
    let out = run_shell(&repo, &scan, &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("WARNING: wpool_flush_deferred()"),
        "the log shows it: {stdout}"
    );
    assert_sarif_file(&repo.path().join("waitcheck.sarif"));

    let base = repo.base.clone();
    let env = [("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.as_str())];
    let out = run_shell(&repo, &mr, &env);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches("WARNING:").count(), 1, "{stdout}");
    assert!(stdout.contains("(\"wpool: resolve remote ranges once their owners have bound\") has circular waits, please review."));
    let clean = self::repo(1);
    let base = clean.base.clone();
    let out = run_shell(
        &clean,
        &mr,
        &[("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn b4_and_hook_use_only_real_flags() {
    let conf = read("b4.conf");
    assert_eq!(assert_known_flags("b4.conf", &conf), 2);
    let hook = read("sendemail-validate");
    assert!(hook.starts_with("#!/bin/sh\n"));
    assert_eq!(
        assert_known_flags(
            "sendemail-validate",
            &hook.replace("\"${WAITCHECK:-waitcheck}\"", "waitcheck")
        ),
        1
    );
    let mode = std::fs::metadata(integration("sendemail-validate"))
        .expect("hook")
        .permissions();
    use std::os::unix::fs::PermissionsExt as _;
    assert!(mode.mode() & 0o111 != 0, "the hook is executable");
}
