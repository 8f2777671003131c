//! Output formats end to end: `checkpatch` against hand-written references
//! (check and patch mode) and with each of checkpatch's flags, SARIF
//! against the official 2.1.0 schema, GitHub workflow commands, the LKML
//! review, and `--types`/`--ignore`.
//!
//! Fixtures: `testdata/formats/tree` (two findings, a warning and an error)
//! and the `testdata/patches/wpool` series (patch 2 of 3 introduces the
//! seed's shape).

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn waitcheck() -> Command {
    let mut c = Command::cargo_bin("waitcheck").expect("binary");
    c.current_dir(root()).env("NO_COLOR", "1");
    c
}

const TREE: &str = "testdata/formats/tree";
const SERIES: &str = "testdata/patches/wpool/series.mbox";
const WPOOL_TREE: &str = "testdata/patches/wpool/tree";

/// stdout of `waitcheck ARGS`, asserting the exit code. Each run gets its
/// own facts cache directory: runs in parallel share nothing.
fn run(args: &[&str], code: i32) -> String {
    let cache = tempfile::tempdir().expect("tempdir");
    let out = waitcheck()
        .env("WAITCHECK_CACHE_DIR", cache.path())
        .args(args)
        .output()
        .expect("runs");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "waitcheck {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

fn check(extra: &[&str], code: i32) -> String {
    let mut args = vec!["check", TREE];
    args.extend_from_slice(extra);
    run(&args, code)
}

fn patch(extra: &[&str], code: i32) -> String {
    let mut args = vec!["patch", SERIES, "--tree", WPOOL_TREE];
    args.extend_from_slice(extra);
    run(&args, code)
}

/// Compare with a hand-written reference, line by line, naming the first
/// difference.
fn assert_matches_reference(actual: &str, reference: &str) {
    let path = root().join("testdata/formats/expected").join(reference);
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().collect();
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        assert_eq!(
            x,
            y,
            "{reference}:{}: differs\nactual output:\n{actual}",
            i + 1
        );
    }
    assert_eq!(
        a.len(),
        e.len(),
        "{reference}: {} lines expected, {} printed\nactual output:\n{actual}",
        e.len(),
        a.len()
    );
}

#[test]
fn checkpatch_file_layout_matches_the_reference() {
    let out = check(&["--format", "checkpatch", "--show-types"], 1);
    assert_matches_reference(&out, "tree.checkpatch");
}

#[test]
fn checkpatch_patch_layout_matches_the_reference() {
    let out = patch(&["--format", "checkpatch"], 1);
    assert_matches_reference(&out, "wpool-series.checkpatch");
    // `#N` is the line of the patch input that holds the quoted line.
    let input = std::fs::read_to_string(root().join(SERIES)).expect("series");
    let quoted = input.lines().nth(185 - 1).expect("line 185");
    assert_eq!(quoted, "+\twait_for_device_probe();");
}

#[test]
fn checkpatch_terse_is_one_line_per_report_with_the_input_position() {
    let out = patch(&["--format", "checkpatch", "--terse"], 1);
    assert_eq!(
        out,
        format!(
            "{SERIES}:185: WARNING: wpool_flush_deferred() waits for wpool_deferred_work from a probe path, but its handler wpool_deferred_work_fn() waits for probes to finish\n\
             total: 0 errors, 1 warnings, 62 lines checked\n"
        )
    );
    let out = patch(&["--format", "checkpatch", "--terse", "--no-summary"], 1);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn checkpatch_showfile_points_into_the_patched_file() {
    let out = patch(
        &["--format", "checkpatch", "--showfile", "--show-types", "-q"],
        1,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "drivers/wpool/plat.c:68: WARNING:PROBE_FLUSH_WAITS_FOR_PROBE: wpool_flush_deferred() waits for wpool_deferred_work from a probe path, but its handler wpool_deferred_work_fn() waits for probes to finish"
    );
    // No `#N: FILE:` line with --showfile; the quoted line follows.
    assert_eq!(lines[1], "+\twait_for_device_probe();");
    // Quiet: no headers, verdicts or notes; clean patches print nothing.
    assert!(!out.contains("-----") && !out.contains("NOTE:") && !out.contains("please review"));
    assert_eq!(out.matches("total:").count(), 1, "{out}");
}

#[test]
fn checkpatch_emacs_prefixes_every_report() {
    let out = check(&["--format", "checkpatch", "--emacs"], 1);
    assert!(out.starts_with("drivers/misc/gadget-scan.c:19: WARNING: gadget_stop_scan() waits for"));
    assert!(out.contains("\ndrivers/misc/gadget.c:34: ERROR: gadget_stop() waits"));
    assert!(out.contains(
        "\n#34: FILE: drivers/misc/gadget.c:34:\n+\tcancel_work_sync(&g->reset_work);\n"
    ));
}

#[test]
fn types_and_ignore_filter_every_format() {
    let out = check(
        &["--format", "checkpatch", "--ignore", "work_wait_under_lock"],
        1,
    );
    assert!(!out.contains("ERROR:"), "{out}");
    assert!(out.contains("total: 0 errors, 1 warnings, 113 lines checked"));
    assert!(out.contains("NOTE: Ignored message types: WORK_WAIT_UNDER_LOCK"));
    let out = check(
        &[
            "--format",
            "json",
            "--types",
            "WORK_WAIT_UNDER_LOCK,WORK_WAITS_FOR_ITSELF",
        ],
        1,
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["findings"][0]["type"], "WORK_WAIT_UNDER_LOCK");
    assert_eq!(v["stats"]["ignored"], 1);
    assert_eq!(v["stats"]["findings"], 1);
    // Nothing left to report: exit 0, and checkpatch says so.
    let out = check(
        &[
            "--format",
            "checkpatch",
            "--ignore",
            "WORK_WAIT_UNDER_LOCK,PROBE_FLUSH_WAITS_FOR_PROBE",
        ],
        0,
    );
    assert!(out.starts_with("total: 0 errors, 0 warnings, 113 lines checked\n"));
    assert!(out.contains("has no obvious circular waits and is ready for submission."));
}

fn sarif_validator() -> jsonschema::Validator {
    let path = root().join("../shared/schemas/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the SARIF schema from ../shared)", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn assert_valid_sarif(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).expect("SARIF is JSON");
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));
    v
}

#[test]
fn sarif_validates_and_carries_the_finding() {
    let out = check(&["--format", "sarif"], 1);
    let v = assert_valid_sarif(&out);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "waitcheck");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let repo = option_env!("CARGO_PKG_REPOSITORY").filter(|r| !r.is_empty());
    if let Some(repo) = repo {
        assert_eq!(driver["informationUri"], repo);
    }
    // A rule per documented type, each described from `waitcheck explain`.
    let rules = driver["rules"].as_array().expect("rules");
    for t in waitcheck::explain::TYPES {
        let r = rules.iter().find(|r| r["id"] == *t).expect("rule per type");
        assert_eq!(
            r["shortDescription"]["text"],
            waitcheck::explain::summary(t).expect("summary")
        );
        assert!(r["fullDescription"]["text"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert_eq!(
            r["help"]["text"],
            waitcheck::explain::explain(t).expect("page")
        );
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let lock = results
        .iter()
        .find(|r| r["ruleId"] == "WORK_WAIT_UNDER_LOCK")
        .expect("lock result");
    assert_eq!(lock["level"], "error");
    let rule_index = lock["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[rule_index]["id"], "WORK_WAIT_UNDER_LOCK");
    let loc = &lock["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "drivers/misc/gadget.c");
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(loc["region"]["startLine"], 34);
    assert_eq!(loc["region"]["startColumn"], 2);
    assert_eq!(loc["region"]["endLine"], 34);
    // `cancel_work_sync(&g->reset_work)` is 32 characters long.
    assert_eq!(loc["region"]["endColumn"], 34);
    // The fingerprint is the finding's.
    let json = check(&["--format", "json"], 1);
    let j: Value = serde_json::from_str(&json).expect("json");
    let fp = j["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["type"] == "WORK_WAIT_UNDER_LOCK")
        .map(|f| f["fingerprint"].clone())
        .expect("finding");
    assert_eq!(lock["partialFingerprints"]["waitcheckFingerprint/v1"], fp);
    // The chain: a thread flow per edge of the cycle, every step in it.
    let flows = lock["codeFlows"][0]["threadFlows"]
        .as_array()
        .expect("flows");
    assert_eq!(flows.len(), 2, "one per edge of lock -> work -> lock");
    let steps: usize = flows
        .iter()
        .map(|f| f["locations"].as_array().map_or(0, Vec::len))
        .sum();
    let chain_len = j["findings"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["type"] == "WORK_WAIT_UNDER_LOCK"))
        .and_then(|f| f["chain"].as_array())
        .map_or(0, Vec::len);
    assert_eq!(steps, chain_len);
    let related = lock["relatedLocations"].as_array().expect("related");
    assert!(!related.is_empty());
    for r in related {
        let region = &r["physicalLocation"]["region"];
        assert!(
            region != &loc["region"]
                || r["physicalLocation"]["artifactLocation"] != loc["artifactLocation"],
            "the primary location is not repeated"
        );
    }
}

#[test]
fn sarif_of_a_series_validates_and_holds_only_patch_two() {
    let out = patch(&["--format", "sarif"], 1);
    let v = assert_valid_sarif(&out);
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "PROBE_FLUSH_WAITS_FOR_PROBE");
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "drivers/wpool/core.c");
    // Nothing found: still a valid document, with no results.
    let clean = run(&["check", WPOOL_TREE, "--format", "sarif"], 0);
    let v = assert_valid_sarif(&clean);
    assert_eq!(v["runs"][0]["results"], Value::Array(vec![]));
}

#[test]
fn github_annotations_are_escaped_workflow_commands() {
    let out = check(&["--format", "github"], 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(
        "::warning file=drivers/misc/gadget-scan.c,line=19,col=2,title=PROBE_FLUSH_WAITS_FOR_PROBE::gadget_stop_scan() waits for"
    ));
    assert!(lines[1].starts_with(
        "::error file=drivers/misc/gadget.c,line=34,col=2,title=WORK_WAIT_UNDER_LOCK::gadget_stop() waits for"
    ));
    // The cycle and the condition on further lines of the message.
    assert!(lines[1]
        .contains("%0Acycle: lock:gadget::lock -> work:gadget::reset_work -> lock:gadget::lock"));
    assert!(lines[0].contains("%0Aneeds: gadget_scan_probe() fails"));
    for l in &lines {
        assert!(!l.contains('\r'));
        let rest = l.strip_prefix("::").expect("a workflow command");
        let (head, _message) = rest.split_once("::").expect("command::message");
        assert!(!head.contains(':'), "properties escape `:`: {head}");
    }
    // In patch mode the annotation sits on a line the patch added.
    let out = patch(&["--format", "github"], 1);
    assert!(
        out.starts_with(
            "::warning file=drivers/wpool/plat.c,line=68,col=2,title=PROBE_FLUSH_WAITS_FOR_PROBE::"
        ),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn review_of_a_series_reads_like_the_seed_reply() {
    let out = patch(&["--format", "review"], 1);
    // Only patch 2 is replied to.
    assert!(out.starts_with(
        "Re: [PATCH 2/3] wpool: resolve remote ranges once their owners have bound\n"
    ));
    assert!(!out.contains("[PATCH 1/3]") && !out.contains("[PATCH 3/3]"));
    // The patch's own lines, quoted as a mail client quotes them.
    assert!(out.contains("\n> +\twait_for_device_probe();\n"));
    assert!(out.contains("\n> +\twpool_flush_deferred();\n"));
    assert!(out.contains("\n>  static int wpool_plat_probe(struct platform_device *pdev)\n"));
    assert!(out.contains("\n[...]\n"));
    // The question, the condition, the numbered chain, the suggestion.
    assert!(
        out.contains("\nIs there a potential deadlock here? wpool_flush_deferred() waits for\n")
    );
    assert!(
        out.contains("\nIt happens if wpool_plat_probe() fails after wpool_deferred_work was\n")
    );
    assert!(
        out.contains("\nprobe -> work:wpool_deferred_work:\n 1. wpool_plat_probe() is the probe")
    );
    assert!(out.contains("\nwork:wpool_deferred_work -> probe:\n"));
    assert!(out.contains("\n16.   wait_for_device_probe() waits for every probe in flight"));
    assert!(out.contains("\nWould it be safer to cancel wpool_deferred_work without waiting\n"));
    // Prose is wrapped for mail; quoted code and the subject line are left
    // as they are.
    for l in out.lines().skip(1).filter(|l| !l.starts_with('>')) {
        assert!(l.chars().count() <= 72, "longer than 72 columns: {l:?}");
    }
    insta::assert_snapshot!("review_of_the_wpool_series", out);
}

#[test]
fn review_without_a_patch_quotes_the_source() {
    let out = check(&["--format", "review"], 1);
    assert!(out.starts_with(
        "In drivers/misc/gadget-scan.c:\n\n> static void gadget_scan(struct work_struct *work)\n"
    ));
    assert!(out.contains("\n> \tcancel_work_sync(&g->reset_work);\n"));
    assert!(
        out.contains("No rare path is needed"),
        "the error finding says so"
    );
    assert!(out
        .contains("Would it be safer to drop gadget::lock before waiting for\ngadget::reset_work"));
    for l in out.lines().filter(|l| !l.starts_with('>')) {
        assert!(l.chars().count() <= 72, "longer than 72 columns: {l:?}");
    }
    insta::assert_snapshot!("review_of_the_formats_tree", out);
}

#[test]
fn every_format_is_deterministic_and_exit_codes_follow_findings() {
    for format in ["human", "json", "checkpatch", "sarif", "github", "review"] {
        let a = check(&["--format", format, "-j", "1"], 1);
        let b = check(&["--format", format, "-j", "2"], 1);
        if format == "json" {
            // Only the wall-clock time may differ.
            let strip = |t: &str| {
                let mut v: Value = serde_json::from_str(t).expect("json");
                v["stats"]["elapsed_ms"] = Value::Null;
                v
            };
            assert_eq!(strip(&a), strip(&b));
            continue;
        }
        assert_eq!(a, b, "{format} differs between runs");
        let clean = run(&["check", WPOOL_TREE, "--format", format], 0);
        if format == "github" || format == "review" {
            assert!(clean.is_empty(), "{format}: {clean}");
        }
    }
}

#[test]
fn json_of_a_series_lists_each_patch() {
    let out = patch(&["--format", "json"], 1);
    let v: Value = serde_json::from_str(&out).expect("json");
    let patches = v["patches"].as_array().expect("patches");
    let counts: Vec<usize> = patches
        .iter()
        .map(|p| p["introduced"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(counts, [0, 1, 0]);
    assert_eq!(
        patches[1]["title"],
        "[PATCH 2/3] wpool: resolve remote ranges once their owners have bound"
    );
}

#[test]
fn unknown_format_is_a_usage_error() {
    let out = waitcheck()
        .args(["check", TREE, "--format", "xml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("xml"));
}
