//! Rendering of findings: the human form (snapshotted), its fallback when
//! sources are missing or stale, the summary, and the JSON contract.
//!
//! The finding is the seed's shape, built by hand; the source files are
//! placeholder C lines at the lines the chain names.

use std::collections::HashMap;

use waitcheck::findings::{Finding, Location, Role, Severity, Step};
use waitcheck::report::{render, Format, SkippedFile, SourceText, Stats};

const HMEM: &str = "drivers/dax/hmem/hmem.c";
const BUS: &str = "drivers/dax/bus.c";

/// `lines` placed at their 1-based line numbers, blank lines between.
fn file(lines: &[(u32, &str)]) -> String {
    let last = lines.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut text = String::new();
    for n in 1..=last + 2 {
        if let Some((_, l)) = lines.iter().find(|(k, _)| *k == n) {
            text.push_str(l);
        }
        text.push('\n');
    }
    text
}

fn sources() -> HashMap<String, String> {
    let hmem = file(&[
        (159, "static void process_defer_work(void *arg)"),
        (160, "{"),
        (164, "\t/* placeholder: wait for the other drivers */"),
        (165, "\twait_for_device_probe();"),
        (166, "}"),
        (180, "static void kill_defer_work(void *arg)"),
        (181, "{"),
        (182, "\tdax_hmem_flush_work();"),
        (183, "}"),
        (
            189,
            "static int dax_hmem_platform_probe(struct platform_device *pdev)",
        ),
        (
            197,
            "\terr = devm_add_action_or_reset(&pdev->dev, kill_defer_work, pdev);",
        ),
    ]);
    let bus = file(&[
        (34, "static void hmem_deferred_work(struct work_struct *w)"),
        (35, "{"),
        (45, "\t\tfn(data);"),
        (83, "{"),
        (84, "\tflush_work(&dax_hmem_work);"),
        (85, "}"),
    ]);
    HashMap::from([(HMEM.to_string(), hmem), (BUS.to_string(), bus)])
}

/// The location of `needle` on `line` of `path` in `src`, as the analysis
/// would have computed it.
fn at(
    src: &HashMap<String, String>,
    path: &str,
    line: u32,
    needle: &str,
    function: &str,
) -> Location {
    let text = src.text(path).expect("fixture file");
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line as usize - 1)
        .map(str::len)
        .sum();
    let line_text = text[line_start..].lines().next().expect("line");
    let col = line_text.find(needle).expect("needle on its line");
    Location {
        path: path.to_string(),
        line,
        column: col as u32 + 1,
        function: function.to_string(),
        start: line_start + col,
        end: line_start + col + needle.len(),
    }
}

fn step(at: Location, role: Role, text: &str, edge: usize, depth: u32) -> Step {
    Step {
        at,
        role,
        text: text.to_string(),
        edge,
        depth,
    }
}

fn seed_finding(src: &HashMap<String, String>) -> Finding {
    let probe = "dax_hmem_platform_probe";
    let wait = at(
        src,
        BUS,
        84,
        "flush_work(&dax_hmem_work)",
        "dax_hmem_flush_work",
    );
    let chain = vec![
        step(
            at(src, HMEM, 189, probe, probe),
            Role::Entry,
            "dax_hmem_platform_probe() is the probe of dax_hmem_driver: runs counted in probe_count, holding the device lock",
            0,
            0,
        ),
        step(
            at(src, HMEM, 197, "devm_add_action_or_reset", probe),
            Role::Devres,
            "devm_add_action_or_reset() registers kill_defer_work(): it runs at devres release, and on probe failure inside really_probe()",
            0,
            0,
        ),
        step(
            at(src, HMEM, 180, "kill_defer_work", "kill_defer_work"),
            Role::Entry,
            "kill_defer_work() runs as a devres action",
            0,
            1,
        ),
        step(
            at(src, HMEM, 182, "dax_hmem_flush_work()", "kill_defer_work"),
            Role::Call,
            "calls dax_hmem_flush_work()",
            0,
            1,
        ),
        step(
            wait.clone(),
            Role::Wait,
            "flush_work(&dax_hmem_work) waits for hmem_deferred_work() to return",
            0,
            2,
        ),
        step(
            at(src, BUS, 34, "hmem_deferred_work", "hmem_deferred_work"),
            Role::Entry,
            "hmem_deferred_work() runs as the work handler of dax_hmem_work: waiting for that work waits for it",
            1,
            0,
        ),
        step(
            at(src, BUS, 45, "fn(data)", "hmem_deferred_work"),
            Role::Indirect,
            "fn(data) calls process_defer_work() through a function pointer",
            1,
            0,
        ),
        step(
            at(src, HMEM, 159, "process_defer_work", "process_defer_work"),
            Role::Entry,
            "process_defer_work() runs through that pointer",
            1,
            1,
        ),
        step(
            at(src, HMEM, 165, "wait_for_device_probe()", "process_defer_work"),
            Role::Wait,
            "wait_for_device_probe() waits for every probe in flight to finish (probe_count == 0)",
            1,
            1,
        ),
    ];
    Finding {
        kind: "PROBE_FLUSH_WAITS_FOR_PROBE".to_string(),
        severity: Severity::Warning,
        message: "dax_hmem_flush_work() waits for dax_hmem_work from a probe path, but its handler hmem_deferred_work() waits for probes to finish".to_string(),
        location: wait,
        cycle: vec!["probe".into(), "work:dax_hmem_work".into(), "probe".into()],
        condition: Some("probe fails after walk_hmem_resources() queued dax_hmem_work".into()),
        chain,
        fingerprint: "5eed5eed5eed5eed".to_string(),
    }
}

fn stats(findings: usize) -> Stats {
    Stats {
        files: 3,
        files_parsed: 3,
        functions: 12,
        functions_with_errors: 1,
        parse_coverage: 1.0 - 1.0 / 12.0,
        skipped: Vec::new(),
        edges: 2,
        resources: 2,
        findings,
        elapsed_ms: 7,
        ..Stats::default()
    }
}

fn render_to_string(
    format: Format,
    fs: &[Finding],
    st: &Stats,
    src: &dyn SourceText,
    color: bool,
) -> String {
    let mut out = Vec::new();
    render(format, fs, st, src, color, &mut out).expect("renders");
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn seed_finding_renders_like_the_review() {
    let src = sources();
    let f = seed_finding(&src);
    let text = render_to_string(Format::Human, &[f], &stats(1), &src, false);
    assert!(!text.contains('\x1b'), "no colour asked for");
    insta::assert_snapshot!(text);
}

#[test]
fn colour_only_when_asked() {
    let src = sources();
    let f = seed_finding(&src);
    let text = render_to_string(Format::Human, &[f], &stats(1), &src, true);
    assert!(text.contains("\x1b["), "{text}");
}

#[test]
fn finding_whose_files_are_missing_still_renders() {
    let src = sources();
    let f = seed_finding(&src);
    let none: HashMap<String, String> = HashMap::new();
    let text = render_to_string(Format::Human, &[f], &stats(1), &none, false);
    insta::assert_snapshot!(text);
}

#[test]
fn unreadable_secondary_file_drops_only_its_labels() {
    let mut src = sources();
    let f = seed_finding(&src);
    src.remove(HMEM);
    let text = render_to_string(Format::Human, &[f], &stats(1), &src, false);
    assert!(text.contains("drivers/dax/bus.c:84:2"), "{text}");
    assert!(!text.contains("┌─ drivers/dax/hmem/hmem.c"), "{text}");
    // The chain note still names every step.
    assert!(
        text.contains("process_defer_work (drivers/dax/hmem/hmem.c:165)"),
        "{text}"
    );
}

#[test]
fn stale_or_out_of_range_locations_fall_back_to_plain() {
    let src = sources();
    let mut moved = seed_finding(&src);
    moved.location.line += 1;
    let mut past_end = seed_finding(&src);
    past_end.location.start = usize::MAX - 1;
    past_end.location.end = usize::MAX;
    for f in [moved, past_end] {
        let text = render_to_string(Format::Human, &[f], &stats(1), &src, false);
        assert!(text.contains("= at: drivers/dax/bus.c:"), "{text}");
        assert!(
            text.contains("= cycle: probe -> work:dax_hmem_work -> probe"),
            "{text}"
        );
    }
}

#[test]
fn summary_without_findings_lists_skipped_files() {
    let mut st = stats(0);
    st.files = 30;
    st.skipped = (0..23)
        .map(|i| SkippedFile {
            path: format!("drivers/big{i}.c"),
            reason: "larger than\n8 MiB".to_string(),
        })
        .collect();
    let text = render_to_string(Format::Human, &[], &st, &sources(), false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "waitcheck: no circular waits found in 30 files (23 skipped); \
         12 functions, parse coverage 91.67%"
    );
    assert_eq!(lines[1], "skipped: drivers/big0.c: larger than 8 MiB");
    assert_eq!(lines.len(), 1 + 20 + 1);
    assert_eq!(lines[21], "... and 3 more");
}

#[test]
fn json_parses_back_into_the_same_findings() {
    let src = sources();
    let mut second = seed_finding(&src);
    second.condition = None;
    second.severity = Severity::Error;
    let fs = vec![seed_finding(&src), second];
    let text = render_to_string(Format::Json, &fs, &stats(2), &src, true);
    assert!(text.ends_with("}\n") && !text.contains('\x1b'));
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["version"], 1);
    let back: Vec<Finding> = serde_json::from_value(v["findings"].clone()).expect("findings");
    assert_eq!(back, fs);
    let st: Stats = serde_json::from_value(v["stats"].clone()).expect("stats");
    assert_eq!(st, stats(2));
    assert_eq!(v["findings"][0]["type"], "PROBE_FLUSH_WAITS_FOR_PROBE");
    assert!(v["findings"][1].get("condition").is_none());
}

#[test]
fn every_format_renders_a_finding_whose_files_are_missing() {
    let src = sources();
    let f = seed_finding(&src);
    let none: HashMap<String, String> = HashMap::new();
    for format in [
        Format::Checkpatch,
        Format::Sarif,
        Format::Github,
        Format::Review,
    ] {
        let text = render_to_string(format, std::slice::from_ref(&f), &stats(1), &none, false);
        assert!(text.contains("dax_hmem_flush_work()"), "{format:?}: {text}");
        assert!(!text.contains('\x1b'), "{format:?} is never coloured");
    }
    // Without the source, checkpatch still names the place, unquoted.
    let text = render_to_string(Format::Checkpatch, &[f], &stats(1), &none, false);
    assert!(
        text.contains("WARNING: dax_hmem_flush_work() waits for dax_hmem_work from a probe path"),
        "{text}"
    );
    assert!(
        text.contains("\n#84: FILE: drivers/dax/bus.c:84:\n\ntotal: 0 errors, 1 warnings"),
        "{text}"
    );
}

#[test]
fn sarif_regions_come_from_the_source_when_it_is_there() {
    let src = sources();
    let f = seed_finding(&src);
    let with = render_to_string(
        Format::Sarif,
        std::slice::from_ref(&f),
        &stats(1),
        &src,
        false,
    );
    let v: serde_json::Value = serde_json::from_str(&with).expect("json");
    let region = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 84);
    assert_eq!(region["startColumn"], 2);
    assert_eq!(region["endColumn"], 2 + "flush_work(&dax_hmem_work)".len());
    let none: HashMap<String, String> = HashMap::new();
    let without = render_to_string(Format::Sarif, &[f], &stats(1), &none, false);
    let v: serde_json::Value = serde_json::from_str(&without).expect("json");
    let region = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 84);
    assert!(region.get("endColumn").is_none());
}
