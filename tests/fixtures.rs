//! Fixture tests: every case directory `testdata/<case>/` is a small C tree
//! plus an `expected.toml` naming the findings `waitcheck check` must report
//! on it, and no others.
//!
//! ```toml
//! description = "one line: the shape and why it is (not) a deadlock"
//! [[finding]]                  # none = no finding expected
//! type = "PROBE_FLUSH_WAITS_FOR_PROBE"
//! path = "drivers/dax/bus.c"   # primary location, relative to the case dir
//! line = 74
//! chain = ["dax_hmem_platform_probe", "kill_defer_work", "dax_hmem_flush_work"]
//! ```
//!
//! `chain` lists functions that must appear, in this order, among the
//! `function`s of the finding's chain steps (a subsequence, after collapsing
//! consecutive repeats). Each expected entry must be matched by its own
//! actual finding.
//!
//! One `#[test]` per case, so `cargo test --test fixtures seed` runs the
//! seed (and `-- --exact seed` only it).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

/// Directories under `testdata/` that hold C files but are not `check`
/// fixtures, each checked by its own tests.
const NOT_FIXTURES: &[&str] = &[
    "patches",   // `waitcheck patch` inputs and the trees they must produce
    "prepass",   // pre-pass inputs
    "bad-input", // inputs the CLI must reject or skip
    "formats",   // reserved for output-format tests
    "living",    // reserved
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    description: String,
    #[serde(default)]
    finding: Vec<ExpectedFinding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    line: u64,
    chain: Vec<String>,
    /// `error` or `warning`, when the fixture is about severity.
    #[serde(default)]
    severity: Option<String>,
    /// A part of the one-line condition, when the cycle needs a path.
    #[serde(default)]
    condition: Option<String>,
}

impl std::fmt::Display for ExpectedFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}:{} chain ⊇ {:?}",
            self.kind, self.path, self.line, self.chain
        )?;
        if let Some(s) = &self.severity {
            write!(f, " severity {s}")?;
        }
        if let Some(c) = &self.condition {
            write!(f, " condition ∋ {c:?}")?;
        }
        Ok(())
    }
}

/// The parts of an actual finding the fixtures check, plus what helps to
/// debug a mismatch.
#[derive(Debug)]
struct Actual {
    kind: String,
    path: String,
    line: u64,
    column: u64,
    function: String,
    cycle: Vec<String>,
    /// Chain step functions, consecutive repeats collapsed.
    chain: Vec<String>,
    severity: String,
    condition: Option<String>,
}

impl Actual {
    fn from_json(f: &Value) -> Actual {
        let s = |v: &Value| v.as_str().unwrap_or("<missing>").to_string();
        let loc = &f["location"];
        let mut chain: Vec<String> = Vec::new();
        for step in f["chain"].as_array().into_iter().flatten() {
            let name = s(&step["function"]);
            if chain.last() != Some(&name) {
                chain.push(name);
            }
        }
        Actual {
            kind: s(&f["type"]),
            path: s(&loc["path"]),
            line: loc["line"].as_u64().unwrap_or(0),
            column: loc["column"].as_u64().unwrap_or(0),
            function: s(&loc["function"]),
            cycle: f["cycle"].as_array().into_iter().flatten().map(s).collect(),
            chain,
            severity: s(&f["severity"]),
            condition: f["condition"].as_str().map(str::to_string),
        }
    }

    fn matches(&self, e: &ExpectedFinding) -> bool {
        self.kind == e.kind
            && self.path == e.path
            && self.line == e.line
            && is_subsequence(&e.chain, &self.chain)
            && e.severity.as_ref().map_or(true, |s| *s == self.severity)
            && e.condition.as_ref().map_or(true, |c| {
                self.condition
                    .as_ref()
                    .is_some_and(|have| have.contains(c.as_str()))
            })
    }
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}:{}:{} in {} ({})\n      cycle: {}\n      chain: {:?}\n      condition: {:?}",
            self.kind,
            self.path,
            self.line,
            self.column,
            self.function,
            self.severity,
            self.cycle.join(" -> "),
            self.chain,
            self.condition
        )
    }
}

/// `want` appears in `have` in order, not necessarily contiguously.
fn is_subsequence(want: &[String], have: &[String]) -> bool {
    let mut rest = have.iter();
    want.iter().all(|w| rest.any(|h| h == w))
}

/// Maximum bipartite matching of expected entries to distinct actual
/// findings; returns, per expected entry, the index of its finding.
fn assign(expected: &[ExpectedFinding], actual: &[Actual]) -> Vec<Option<usize>> {
    fn augment(
        e: usize,
        expected: &[ExpectedFinding],
        actual: &[Actual],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for (a, f) in actual.iter().enumerate() {
            if seen[a] || !f.matches(&expected[e]) {
                continue;
            }
            seen[a] = true;
            let free = match owner[a] {
                None => true,
                Some(o) => augment(o, expected, actual, seen, owner),
            };
            if free {
                owner[a] = Some(e);
                return true;
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    for e in 0..expected.len() {
        let mut seen = vec![false; actual.len()];
        augment(e, expected, actual, &mut seen, &mut owner);
    }
    let mut of_expected = vec![None; expected.len()];
    for (a, o) in owner.iter().enumerate() {
        if let Some(e) = o {
            of_expected[*e] = Some(a);
        }
    }
    of_expected
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_expected(case: &str) -> Expected {
    let file = root().join("testdata").join(case).join("expected.toml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let expected: Expected =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(
        !expected.description.trim().is_empty(),
        "{}: empty description",
        file.display()
    );
    expected
}

fn run_case(case: &str) {
    let expected = load_expected(case);
    let rel = format!("testdata/{case}");
    let out = Command::cargo_bin("waitcheck")
        .expect("the waitcheck binary is built")
        .args(["check", "--format", "json", &rel])
        .current_dir(root())
        .output()
        .expect("waitcheck runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{case}: stdout is not JSON ({e}); exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status.code()
        )
    });
    assert_eq!(json["version"], 1, "{case}: JSON version\n{stdout}");
    let actual: Vec<Actual> = json["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no `findings` array\n{stdout}"))
        .iter()
        .map(Actual::from_json)
        .collect();

    let assigned = assign(&expected.finding, &actual);
    let want_code = if expected.finding.is_empty() { 0 } else { 1 };
    let count_ok = actual.len() == expected.finding.len();
    let code_ok = out.status.code() == Some(want_code);
    let all_matched = assigned.iter().all(Option::is_some);
    if count_ok && code_ok && all_matched {
        return;
    }

    let mut msg = format!("fixture `{case}` ({})\n", expected.description);
    if !code_ok {
        let _ = writeln!(msg, "exit code {:?}, want {want_code}", out.status.code());
    }
    if !count_ok {
        let _ = writeln!(
            msg,
            "{} findings, want {}",
            actual.len(),
            expected.finding.len()
        );
    }
    let _ = writeln!(msg, "expected:");
    if expected.finding.is_empty() {
        let _ = writeln!(msg, "  (none)");
    }
    for (e, a) in expected.finding.iter().zip(&assigned) {
        let status = match a {
            Some(i) => format!("matched by #{i}"),
            None => "NOT FOUND".to_string(),
        };
        let _ = writeln!(msg, "  {e}  [{status}]");
    }
    let _ = writeln!(msg, "actual:");
    if actual.is_empty() {
        let _ = writeln!(msg, "  (none)");
    }
    let used: BTreeSet<usize> = assigned.iter().flatten().copied().collect();
    for (i, a) in actual.iter().enumerate() {
        let tag = if used.contains(&i) {
            ""
        } else {
            "  [unexpected]"
        };
        let _ = writeln!(msg, "  #{i} {a}{tag}");
    }
    if !stderr.trim().is_empty() {
        let _ = writeln!(msg, "stderr:\n{stderr}");
    }
    panic!("{msg}");
}

macro_rules! fixtures {
    ($($name:ident => $dir:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_case($dir);
            }
        )*

        /// Every case directory with a test above.
        const CASES: &[&str] = &[$($dir),*];
    };
}

fixtures! {
    seed => "seed",
    seed_fixed => "seed-fixed",
    guard_device_wait_probe => "guard-device-wait-probe",
    devres_flush_no_probe_wait => "devres-flush-no-probe-wait",
    probe_flush_direct => "probe-flush-direct",
    alx_stop => "alx-stop",
    alx_stop_fixed => "alx-stop-fixed",
    mlx5_cache_cleanup => "mlx5-cache-cleanup",
    mlx5_cache_cleanup_fixed => "mlx5-cache-cleanup-fixed",
    self_cancel => "self-cancel",
    self_cancel_guarded => "self-cancel-guarded",
    remove_cancel_device_lock => "remove-cancel-device-lock",
    remove_cancel_device_lock_other => "remove-cancel-device-lock-other",
    mutex_trylock => "mutex-trylock",
    teardown_cancel_under_lock => "teardown-cancel-under-lock",
    teardown_cancel_after_unlock => "teardown-cancel-after-unlock",
    self_cancel_param_guard => "self-cancel-param-guard",
    self_cancel_param_unguarded => "self-cancel-param-unguarded",
    wq_flush_under_lock => "wq-flush-under-lock",
    wq_flush_after_unlock => "wq-flush-after-unlock",
    lockdep_assert_cancel => "lockdep-assert-cancel",
    lockdep_assert_other_lock => "lockdep-assert-other-lock",
    remove_waits_for_probes => "remove-waits-for-probes",
    devm_autocancel_waits_for_probe => "devm-autocancel-waits-for-probe",
    devm_autocancel_no_probe_wait => "devm-autocancel-no-probe-wait",
    completion_wait_under_lock => "completion-wait-under-lock",
    completion_wait_after_unlock => "completion-wait-after-unlock",
    cancel_under_lock_param_guard => "cancel-under-lock-param-guard",
    completion_barrier_self => "completion-barrier-self",
    callee_drops_caller_lock => "callee-drops-caller-lock",
    callee_keeps_caller_lock => "callee-keeps-caller-lock",
    lock_wrapper_cancel => "lock-wrapper-cancel",
    lock_wrapper_unlocked => "lock-wrapper-unlocked",
    spinlock_cancel_direct => "spinlock-cancel-direct",
    spinlock_cancel_through_call => "spinlock-cancel-through-call",
    completion_handshake => "completion-handshake",
    lock_families => "lock-families",
    lock_families_released => "lock-families-released",
    kthread_stop_under_lock => "kthread-stop-under-lock",
    kthread_stop_after_unlock => "kthread-stop-after-unlock",
    handler_lock_own_cancel => "handler-lock-own-cancel",
    handler_lock_own_cancel_guarded => "handler-lock-own-cancel-guarded",
    lock_param_correlated => "lock-param-correlated",
    lock_param_correlated_held => "lock-param-correlated-held",
    state_bit_set_before_call => "state-bit-set-before-call",
    state_bit_clear_before_call => "state-bit-clear-before-call",
    state_global_set_before_call => "state-global-set-before-call",
    state_global_unset => "state-global-unset",
    completion_completer_holds => "completion-completer-holds",
    completion_completer_blocked => "completion-completer-blocked",
    must_hold_cancel => "must-hold-cancel",
    must_hold_other_lock => "must-hold-other-lock",
    state_bit_tested_before_call => "state-bit-tested-before-call",
    timer_del_sync_under_lock => "timer-del-sync-under-lock",
    timer_del_sync_after_unlock => "timer-del-sync-after-unlock",
    tasklet_kill_under_lock => "tasklet-kill-under-lock",
    tasklet_kill_after_unlock => "tasklet-kill-after-unlock",
    spinlock_wrapper_through_call => "spinlock-wrapper-through-call",
    spinlock_wrapper_direct => "spinlock-wrapper-direct",
    fresh_work_error_path => "fresh-work-error-path",
    fresh_work_queued_error_path => "fresh-work-queued-error-path",
}

fn has_c_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .any(|p| {
            if p.is_dir() {
                has_c_files(&p)
            } else {
                p.extension().is_some_and(|x| x == "c" || x == "h")
            }
        })
}

/// A fixture nobody checks is worse than none: every directory under
/// `testdata/` with C files must have an `expected.toml` and a test above,
/// and every listed case must exist and parse.
#[test]
fn every_fixture_is_checked() {
    let testdata = root().join("testdata");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&testdata).expect("testdata/ exists") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !path.is_dir() || NOT_FIXTURES.contains(&name.as_str()) || !has_c_files(&path) {
            continue;
        }
        if !path.join("expected.toml").is_file() {
            problems.push(format!("testdata/{name}/ has C files but no expected.toml"));
        }
        if !CASES.contains(&name.as_str()) {
            problems.push(format!(
                "testdata/{name}/ has no test: add it to `fixtures!` in tests/fixtures.rs"
            ));
        }
    }
    for case in CASES {
        let dir = testdata.join(case);
        if !dir.is_dir() || !has_c_files(&dir) {
            problems.push(format!("testdata/{case}/ is listed but has no C files"));
            continue;
        }
        load_expected(case); // panics with the file and the parse error
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn chain_subsequence_rules() {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(is_subsequence(&v(&["a", "c"]), &v(&["a", "b", "c"])));
    assert!(is_subsequence(&v(&[]), &v(&["a"])));
    assert!(!is_subsequence(&v(&["c", "a"]), &v(&["a", "b", "c"])));
    assert!(!is_subsequence(&v(&["a", "a"]), &v(&["a", "b"])));
}

/// The human rendering of the seed finding, as a reviewer reads it.
#[test]
fn seed_human_rendering() {
    let out = Command::cargo_bin("waitcheck")
        .expect("the waitcheck binary is built")
        .args(["check", "--color", "never", "testdata/seed"])
        .current_dir(root())
        .output()
        .expect("waitcheck runs");
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}
