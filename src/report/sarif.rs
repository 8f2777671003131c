//! `--format sarif`: SARIF 2.1.0, as GitHub code scanning accepts it
//! (`github/codeql-action/upload-sarif`).
//!
//! - `tool.driver`: name, version, `informationUri` (the crate's repository
//!   or homepage when Cargo.toml names one) and one rule per finding type,
//!   described from its `waitcheck explain` page;
//! - one result per finding: `ruleId`, `level`, the message with the cycle
//!   and the condition, the primary location relative to `%SRCROOT%` (the
//!   tree root), `partialFingerprints` from the finding's fingerprint (so
//!   code scanning tracks an alert across unrelated edits), the chain as a
//!   `codeFlow` with one `threadFlow` per edge of the cycle (each edge is
//!   one of the parties that wait for each other), and the other chain
//!   sites as `relatedLocations`;
//! - with `--show-suppressed`, the suppressed findings too, each with an
//!   `inSource` suppression and its reason (code scanning closes them).
//!
//! Columns are counted in Unicode code points (`columnKind`), computed from
//! the source when it can be read, else the byte column.

use std::io::Write;

use serde_json::{json, Value};

use super::{Context, SourceText, Suppressed, Unit};
use crate::findings::{Finding, Location, Severity};

/// The key of our fingerprint in `partialFingerprints`; bump the version
/// if the fingerprint's recipe changes.
const FINGERPRINT_KEY: &str = "waitcheckFingerprint/v1";

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub(super) fn render(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let kinds = rule_kinds(units);
    let mut results = Vec::new();
    for u in units {
        for f in u.findings {
            results.push(result(f, &kinds, u.sources, None));
        }
        if ctx.show_suppressed {
            for s in u.suppressed {
                results.push(result(&s.finding, &kinds, u.sources, Some(s)));
            }
        }
    }
    let mut driver = json!({
        "name": "waitcheck",
        "version": env!("CARGO_PKG_VERSION"),
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "rules": kinds.iter().map(|k| rule(k)).collect::<Vec<_>>(),
    });
    if let Some(uri) = information_uri() {
        driver["informationUri"] = json!(uri);
    }
    let st = ctx.stats;
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": driver },
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "files": st.files,
                "filesSkipped": st.skipped.len(),
                "findings": st.findings,
                "suppressed": st.suppressed,
                "baselined": st.baselined,
                "ignored": st.ignored,
            },
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

/// The crate's repository (or homepage) from Cargo.toml, if it names one.
pub(super) fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|u| !u.is_empty())
}

/// Every documented finding type, then any other type the findings carry
/// (in order of appearance), so that every `ruleId` has its rule.
fn rule_kinds(units: &[Unit<'_>]) -> Vec<String> {
    let mut kinds: Vec<String> = crate::explain::TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    let all = units.iter().flat_map(|u| {
        u.findings
            .iter()
            .chain(u.suppressed.iter().map(|s| &s.finding))
    });
    for f in all {
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind.clone());
        }
    }
    kinds
}

fn rule(kind: &str) -> Value {
    let page = crate::explain::explain(kind);
    let short = crate::explain::summary(kind)
        .map_or_else(|| format!("Circular wait of type {kind}."), str::to_string);
    let full = page
        .and_then(|p| section(p, "What it detects"))
        .map(first_paragraph)
        .unwrap_or_else(|| short.clone());
    let help = page.map_or_else(
        || format!("Run 'waitcheck explain {kind}'."),
        str::to_string,
    );
    json!({
        "id": kind,
        "name": camel(kind),
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help, "markdown": help },
        "defaultConfiguration": { "level": "warning" },
        "properties": {
            "tags": ["concurrency", "deadlock", "linux-kernel"],
            "precision": "medium",
            "problem.severity": "warning",
        },
    })
}

/// `PROBE_FLUSH_WAITS_FOR_PROBE` -> `ProbeFlushWaitsForProbe`.
fn camel(kind: &str) -> String {
    kind.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// The body of the `## title` section of an explain page.
fn section<'a>(page: &'a str, title: &str) -> Option<&'a str> {
    let heading = format!("\n## {title}\n");
    let start = page.find(&heading)? + heading.len();
    let body = page.get(start..)?;
    let end = body.find("\n## ").map_or(body.len(), |e| e + 1);
    body.get(..end)
}

/// The first paragraph, its line breaks folded.
fn first_paragraph(body: &str) -> String {
    let para = body.trim_start().split("\n\n").next().unwrap_or("");
    para.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn result(
    f: &Finding,
    kinds: &[String],
    sources: &dyn SourceText,
    suppressed: Option<&Suppressed>,
) -> Value {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut text = f.message.clone();
    text.push_str(&format!("\ncycle: {}", f.cycle.join(" -> ")));
    if let Some(c) = &f.condition {
        text.push_str(&format!("\nneeds: {c}"));
    }
    let mut r = json!({
        "ruleId": f.kind,
        "level": level,
        "message": { "text": text },
        "locations": [location(&f.location, sources, None)],
        "partialFingerprints": { FINGERPRINT_KEY: f.fingerprint },
        "properties": { "cycle": f.cycle },
    });
    if let Some(i) = kinds.iter().position(|k| *k == f.kind) {
        r["ruleIndex"] = json!(i);
    }
    if let Some(c) = &f.condition {
        r["properties"]["condition"] = json!(c);
    }
    if !f.chain.is_empty() {
        r["codeFlows"] = json!([code_flow(f, sources)]);
    }
    let related = related(f, sources);
    if !related.is_empty() {
        r["relatedLocations"] = Value::Array(related);
    }
    if let Some(s) = suppressed {
        r["suppressions"] = json!([{
            "kind": "inSource",
            "status": "accepted",
            "justification": format!("{} (at {})", s.reason, s.at),
        }]);
    }
    r
}

/// The chain: one thread flow per edge of the cycle, its steps nested by
/// call depth.
fn code_flow(f: &Finding, sources: &dyn SourceText) -> Value {
    let mut edges: Vec<usize> = f.chain.iter().map(|s| s.edge).collect();
    edges.sort_unstable();
    edges.dedup();
    let flows: Vec<Value> = edges
        .iter()
        .map(|&e| {
            let heading = match (f.cycle.get(e), f.cycle.get(e + 1)) {
                (Some(a), Some(b)) => format!("{a} -> {b}"),
                _ => format!("edge {e}"),
            };
            let locations: Vec<Value> = f
                .chain
                .iter()
                .filter(|s| s.edge == e)
                .map(|s| {
                    json!({
                        "location": location(&s.at, sources, Some(&s.text)),
                        "nestingLevel": s.depth,
                        "kinds": [s.role.as_str()],
                    })
                })
                .collect();
            json!({
                "id": format!("edge-{e}"),
                "message": { "text": heading },
                "locations": locations,
            })
        })
        .collect();
    json!({
        "message": { "text": format!("cycle: {}", f.cycle.join(" -> ")) },
        "threadFlows": flows,
    })
}

/// Every chain site other than the primary location, once each.
fn related(f: &Finding, sources: &dyn SourceText) -> Vec<Value> {
    let mut seen: Vec<(&str, usize, usize)> =
        vec![(&f.location.path, f.location.start, f.location.end)];
    let mut out = Vec::new();
    for s in &f.chain {
        let key = (s.at.path.as_str(), s.at.start, s.at.end);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let mut l = location(&s.at, sources, Some(&s.text));
        l["id"] = json!(out.len() + 1);
        out.push(l);
    }
    out
}

fn location(at: &Location, sources: &dyn SourceText, message: Option<&str>) -> Value {
    let mut l = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri(&at.path), "uriBaseId": "%SRCROOT%" },
            "region": region(at, sources),
        },
    });
    if !at.function.is_empty() && !at.function.starts_with('<') {
        l["logicalLocations"] = json!([{ "name": at.function, "kind": "function" }]);
    }
    if let Some(m) = message {
        l["message"] = json!({ "text": m });
    }
    l
}

/// Start and end in lines and code-point columns when the source still has
/// the analysed text at `at`; else the start the analysis recorded.
fn region(at: &Location, sources: &dyn SourceText) -> Value {
    let fallback = json!({ "startLine": at.line.max(1), "startColumn": at.column.max(1) });
    let Some(text) = sources.text(&at.path) else {
        return fallback;
    };
    let (Some(_), true) = (text.get(at.start..at.end), at.start <= at.end) else {
        return fallback;
    };
    let (start_line, start_col) = line_col(&text, at.start);
    if start_line != at.line as usize {
        return fallback;
    }
    // An empty range, or one ending right after a newline, ends where it
    // starts or at the end of its last line.
    let end = if at.end > at.start && text.as_bytes().get(at.end - 1) == Some(&b'\n') {
        at.end - 1
    } else {
        at.end
    };
    let (end_line, end_col) = line_col(&text, end.max(at.start));
    json!({
        "startLine": start_line,
        "startColumn": start_col,
        "endLine": end_line,
        "endColumn": end_col,
    })
}

/// 1-based line and code-point column of byte `offset` (a char boundary).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// A relative path as a URI reference: each byte outside RFC 3986's
/// unreserved set (and `/`) percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("drivers/a b/c+d.c"), "drivers/a%20b/c%2Bd.c");
        assert_eq!(uri("dé.c"), "d%C3%A9.c");
    }

    #[test]
    fn names_and_sections() {
        assert_eq!(camel("WORK_WAITS_FOR_ITSELF"), "WorkWaitsForItself");
        let page = "# T\n\n## What it detects\n\nOne\ntwo.\n\nMore.\n## Next\nx\n";
        assert_eq!(
            first_paragraph(section(page, "What it detects").unwrap()),
            "One two."
        );
        assert!(section(page, "Missing").is_none());
    }

    #[test]
    fn line_and_column_of_offsets() {
        let t = "ab\n\té();\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        // After the two-byte `é`: column counts code points.
        assert_eq!(line_col(t, 6), (2, 3));
    }
}
