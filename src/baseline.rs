//! Baselines: accept the findings a tree has today, report only new ones.
//!
//! `--write-baseline FILE` writes the current findings; `--baseline FILE`
//! then reports only findings whose fingerprint is not in it. Fingerprints
//! are made of the type, the functions and the resources of the cycle, not
//! of line numbers, so unrelated edits keep a finding in the baseline.
//!
//! The file is JSON meant to be reviewed and committed: one entry per
//! finding with its type, path, function, message and fingerprint, sorted
//! by path, type, function and fingerprint, one trailing newline, the same
//! bytes for the same findings.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::findings::Finding;

/// Bumped when the file's shape changes.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    findings: Vec<Entry>,
}

/// One accepted finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The fields are in sort order: path first, as a reviewer reads.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: String,
    pub fingerprint: String,
    /// For the reader only; not compared.
    pub message: String,
}

/// The fingerprints of a baseline file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    fingerprints: BTreeSet<String>,
}

impl Baseline {
    /// Read `path`.
    ///
    /// # Errors
    /// An unreadable file, or one that is not a baseline (`file:line:
    /// reason` for JSON errors).
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the baseline", path.display()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: not a waitcheck baseline: {e}",
                path.display(),
                e.line().max(1)
            )
        })?;
        if file.version != VERSION {
            anyhow::bail!(
                "{}: baseline version {} is not supported (expected {VERSION})",
                path.display(),
                file.version
            );
        }
        Ok(Baseline {
            fingerprints: file.findings.into_iter().map(|e| e.fingerprint).collect(),
        })
    }

    /// Does the baseline accept `f`?
    #[must_use]
    pub fn contains(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
    }

    /// The findings not in the baseline, and how many were.
    #[must_use]
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let before = findings.len();
        let kept: Vec<Finding> = findings.into_iter().filter(|f| !self.contains(f)).collect();
        let dropped = before - kept.len();
        (kept, dropped)
    }
}

/// The baseline document of `findings`: sorted, one entry per fingerprint.
#[must_use]
pub fn render(findings: &[Finding]) -> String {
    let mut entries: Vec<Entry> = findings
        .iter()
        .map(|f| Entry {
            path: f.location.path.clone(),
            kind: f.kind.clone(),
            function: f.location.function.clone(),
            fingerprint: f.fingerprint.clone(),
            message: f.message.clone(),
        })
        .collect();
    entries.sort();
    let mut seen = BTreeSet::new();
    entries.retain(|e| seen.insert(e.fingerprint.clone()));
    let file = File {
        version: VERSION,
        findings: entries,
    };
    // Serialising plain strings and numbers cannot fail.
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// Write the baseline of `findings` to `path`.
///
/// # Errors
/// When the file cannot be written.
pub fn write(path: &Path, findings: &[Finding]) -> Result<()> {
    std::fs::write(path, render(findings))
        .with_context(|| format!("{}: cannot write the baseline", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Location, Severity};

    fn finding(path: &str, kind: &str, fp: &str) -> Finding {
        Finding {
            kind: kind.to_string(),
            severity: Severity::Warning,
            message: format!("{kind} in {path}"),
            location: Location {
                path: path.to_string(),
                line: 3,
                column: 1,
                function: "f".to_string(),
                start: 0,
                end: 1,
            },
            cycle: vec![],
            condition: None,
            chain: vec![],
            fingerprint: fp.to_string(),
        }
    }

    #[test]
    fn render_is_sorted_stable_and_round_trips() {
        let a = finding("drivers/b.c", "CIRCULAR_WAIT", "2");
        let b = finding("drivers/a.c", "WORK_WAIT_UNDER_LOCK", "1");
        let text = render(&[a.clone(), b.clone(), a.clone()]);
        assert_eq!(text, render(&[b.clone(), a.clone()]));
        assert!(text.find("drivers/a.c") < text.find("drivers/b.c"));
        assert!(text.ends_with("}\n"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("baseline.json");
        write(&path, std::slice::from_ref(&a)).expect("write");
        let base = Baseline::load(&path).expect("load");
        let (kept, dropped) = base.filter(vec![a, b.clone()]);
        assert_eq!((kept, dropped), (vec![b], 1));
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.json");
        std::fs::write(&path, "{\n  \"version\": 1,\n  \"findings\": [ 3 ]\n}\n").expect("write");
        let e = Baseline::load(&path).expect_err("not entries").to_string();
        assert!(e.contains("b.json:3: not a waitcheck baseline"), "{e}");
        std::fs::write(&path, "{\"version\": 9, \"findings\": []}").expect("write");
        let e = Baseline::load(&path).expect_err("version").to_string();
        assert!(e.contains("version 9"), "{e}");
        let e = Baseline::load(&dir.path().join("none.json")).expect_err("missing");
        assert!(format!("{e:#}").contains("none.json: cannot read the baseline"));
    }
}
