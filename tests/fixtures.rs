//! Fixture-driven tests: every `testdata/<case>/` with C files has an
//! `expected.toml` listing the findings `waitcheck check` must report
//! (type, primary location, chain functions in order), and no others.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Expected {
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    finding: Vec<ExpectedFinding>,
}

#[derive(Deserialize)]
struct ExpectedFinding {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    line: u64,
    chain: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn summary(f: &Value) -> String {
    let fns: Vec<&str> = chain_fns(f);
    format!(
        "{} {}:{} chain={:?}",
        f["type"], f["location"]["path"], f["location"]["line"], fns
    )
}

fn chain_fns(f: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in f["chain"].as_array().into_iter().flatten() {
        let name = s["function"].as_str().unwrap_or("");
        if out.last() != Some(&name) {
            out.push(name);
        }
    }
    out
}

fn is_subsequence(want: &[String], have: &[&str]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

fn run_case(case: &str) {
    let dir = root().join("testdata").join(case);
    let text = std::fs::read_to_string(dir.join("expected.toml")).expect("expected.toml");
    let expected: Expected = toml::from_str(&text).expect("valid expected.toml");
    let out = Command::cargo_bin("waitcheck")
        .expect("binary")
        .args(["check", "--format", "json"])
        .arg(&dir)
        .output()
        .expect("runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json output");
    let actual = v["findings"].as_array().cloned().unwrap_or_default();
    let shown: Vec<String> = actual.iter().map(summary).collect();
    let want_code = if expected.finding.is_empty() { 0 } else { 1 };
    assert_eq!(
        out.status.code(),
        Some(want_code),
        "{case}: exit code; findings: {shown:#?}"
    );
    assert_eq!(
        actual.len(),
        expected.finding.len(),
        "{case}: findings: {shown:#?}"
    );
    let mut used = vec![false; actual.len()];
    for e in &expected.finding {
        let hit = actual.iter().enumerate().position(|(i, f)| {
            !used[i]
                && f["type"] == e.kind.as_str()
                && f["location"]["path"] == e.path.as_str()
                && f["location"]["line"] == e.line
                && is_subsequence(&e.chain, &chain_fns(f))
        });
        match hit {
            Some(i) => used[i] = true,
            None => panic!(
                "{case}: no finding {} {}:{} with chain {:?}; got {shown:#?}",
                e.kind, e.path, e.line, e.chain
            ),
        }
    }
}

macro_rules! fixture {
    ($name:ident, $dir:literal) => {
        #[test]
        fn $name() {
            run_case($dir);
        }
    };
}

fixture!(seed, "seed");
fixture!(seed_fixed, "seed-fixed");
fixture!(guard_device_wait_probe, "guard-device-wait-probe");
fixture!(devres_flush_no_probe_wait, "devres-flush-no-probe-wait");
fixture!(probe_flush_direct, "probe-flush-direct");
fixture!(alx_stop, "alx-stop");
fixture!(alx_stop_fixed, "alx-stop-fixed");
fixture!(mlx5_cache_cleanup, "mlx5-cache-cleanup");
fixture!(mlx5_cache_cleanup_fixed, "mlx5-cache-cleanup-fixed");
fixture!(self_cancel, "self-cancel");
fixture!(self_cancel_guarded, "self-cancel-guarded");
fixture!(remove_cancel_device_lock, "remove-cancel-device-lock");
fixture!(
    remove_cancel_device_lock_other,
    "remove-cancel-device-lock-other"
);
fixture!(mutex_trylock, "mutex-trylock");

/// A fixture directory without expectations would be silently unchecked.
#[test]
fn every_fixture_has_expectations() {
    let skip = ["patches", "formats", "living", "bad-input"];
    for e in std::fs::read_dir(root().join("testdata")).expect("testdata") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !p.is_dir() || skip.contains(&name.as_str()) {
            continue;
        }
        assert!(
            p.join("expected.toml").is_file(),
            "{name} has no expected.toml"
        );
        assert!(has_c(&p), "{name} has no C files");
    }
}

fn has_c(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            if p.is_dir() {
                has_c(&p)
            } else {
                p.extension().is_some_and(|x| x == "c" || x == "h")
            }
        })
}

/// The human rendering of the seed finding, as a reviewer reads it.
#[test]
fn seed_human_rendering() {
    let out = Command::cargo_bin("waitcheck")
        .expect("binary")
        .args(["check", "--color", "never", "testdata/seed"])
        .current_dir(root())
        .output()
        .expect("runs");
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}
