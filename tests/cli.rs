//! The command line on bad input: clear messages, exit 2, nothing silently
//! skipped, never a panic.

use assert_cmd::Command;

fn waitcheck() -> Command {
    Command::cargo_bin("waitcheck").expect("binary")
}

#[test]
fn missing_path_is_exit_2_naming_it() {
    let out = waitcheck()
        .args(["check", "/nonexistent/waitcheck-x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/waitcheck-x"));
}

#[test]
fn malformed_rules_file_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[wait]]\ncalls = [\"x\"]\nresource = \"nope\"\n",
    )
    .expect("write");
    let out = waitcheck()
        .args(["check", "--rules"])
        .arg(dir.path())
        .arg("testdata/seed")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:"), "{err}");
}

#[test]
fn binary_and_non_utf8_files_are_counted_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("blob.c"), b"\x7fELF\0\0\0\x01\x02").expect("write");
    // Latin-1 in a comment: analysed with the bad byte replaced.
    let mut latin = b"/* caf\xe9 */\nstatic void h(struct work_struct *w)\n{\n\tcancel_work_sync(&the_work);\n}\nstatic DECLARE_WORK(the_work, h);\n".to_vec();
    latin.extend_from_slice(&[b'\n'; 3]);
    std::fs::write(dir.path().join("latin.c"), latin).expect("write");
    std::fs::write(
        dir.path().join("deep.c"),
        format!(
            "int f(void) {{ return {}1{}; }}\n",
            "(".repeat(20000),
            ")".repeat(20000)
        ),
    )
    .expect("write");
    let out = waitcheck()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let skipped = v["stats"]["skipped"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(skipped.len(), 1, "{v:#}");
    assert_eq!(skipped[0]["path"], "blob.c");
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap_or("")
        .contains("binary"));
    // The self-cancel in latin.c is still found.
    let types: Vec<&str> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["type"].as_str())
        .collect();
    assert_eq!(types, ["WORK_WAITS_FOR_ITSELF"], "{v:#}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn explain_known_and_unknown_types() {
    let ok = waitcheck()
        .args(["explain", "probe_flush_waits_for_probe"])
        .output()
        .expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("## How to fix"));
    let bad = waitcheck()
        .args(["explain", "NOPE"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown finding type"));
}

#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let run = |j: &str| {
        waitcheck()
            .args(["check", "--format", "json", "-j", j, "testdata"])
            .output()
            .expect("runs")
            .stdout
    };
    let strip = |b: Vec<u8>| {
        let mut v: serde_json::Value = serde_json::from_slice(&b).expect("json");
        v["stats"]["elapsed_ms"] = 0.into();
        v
    };
    assert_eq!(strip(run("1")), strip(run("4")));
}

#[test]
fn rules_command_validates_and_lists() {
    let out = waitcheck()
        .args(["rules", "--list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("flush_work") && s.contains("platform_driver"));
}
