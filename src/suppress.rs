//! Inline suppression: a comment that silences one finding type where it
//! is reported.
//!
//! ```c
//!     /* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE probe cannot fail after queueing */
//!     flush_work(&priv->scan_work);
//! ```
//!
//! In: the findings and the text of the files they point into. Out: the
//! findings still to report and the suppressed ones, each with where its
//! comment is and the reason given. The comment (`/* ... */` or `// ...`)
//! must be on a line the finding is reported at or on the line above it:
//! the finding's location, or one of the waits of its chain (the formats
//! that point into a patch show a wait the patch added). The type is
//! matched without regard to case; the rest of the comment is the reason.

use crate::findings::{Finding, Role};
use crate::report::{SourceText, Suppressed};

/// The marker that starts a suppression inside a comment.
pub const MARKER: &str = "waitcheck-ignore:";

/// Split `findings` into those to report and those a comment suppresses.
/// Order is kept in both.
pub fn suppress(
    findings: Vec<Finding>,
    sources: &dyn SourceText,
) -> (Vec<Finding>, Vec<Suppressed>) {
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    for f in findings {
        match find(&f, sources) {
            Some((at, reason)) => suppressed.push(Suppressed {
                finding: f,
                at,
                reason,
            }),
            None => kept.push(f),
        }
    }
    (kept, suppressed)
}

/// The first suppression of `f` found: (`path:line` of the comment, reason).
fn find(f: &Finding, sources: &dyn SourceText) -> Option<(String, String)> {
    let waits = f
        .chain
        .iter()
        .filter(|s| s.role == Role::Wait)
        .map(|s| &s.at);
    for loc in std::iter::once(&f.location).chain(waits) {
        let Some(text) = sources.text(&loc.path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let Some(at) = (loc.line as usize).checked_sub(1) else {
            continue;
        };
        for n in [at, at.wrapping_sub(1)] {
            let Some(line) = lines.get(n) else {
                continue;
            };
            if let Some(reason) = parse(line, &f.kind) {
                return Some((format!("{}:{}", loc.path, n + 1), reason));
            }
        }
    }
    None
}

/// The reason of a `waitcheck-ignore: TYPE reason` comment on `line` that
/// names `kind`; `None` when there is none. A marker outside a comment
/// (in code or a string before any `/*` or `//`) does not count.
pub fn parse(line: &str, kind: &str) -> Option<String> {
    let mut rest = line;
    while let Some(i) = rest.find(MARKER) {
        let before = &rest[..i];
        let after = &rest[i + MARKER.len()..];
        rest = after;
        if !(before.contains("/*") || before.contains("//")) {
            continue;
        }
        let body = after.split("*/").next().unwrap_or(after).trim();
        let (ty, reason) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        if ty.eq_ignore_ascii_case(kind) {
            let reason = reason.trim();
            return Some(if reason.is_empty() {
                "no reason given".to_string()
            } else {
                reason.to_string()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "PROBE_FLUSH_WAITS_FOR_PROBE";

    #[test]
    fn comments_of_both_kinds_with_reasons() {
        assert_eq!(
            parse(
                "\t/* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE cannot fail here */",
                K
            )
            .as_deref(),
            Some("cannot fail here")
        );
        assert_eq!(
            parse(
                "\tflush_work(&w); // waitcheck-ignore: probe_flush_waits_for_probe ok",
                K
            )
            .as_deref(),
            Some("ok")
        );
        assert_eq!(
            parse("/* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE */", K).as_deref(),
            Some("no reason given")
        );
    }

    #[test]
    fn other_types_and_code_do_not_suppress() {
        assert!(parse("/* waitcheck-ignore: WORK_WAIT_UNDER_LOCK x */", K).is_none());
        assert!(parse(
            "\tputs(\"waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE\");",
            K
        )
        .is_none());
        assert!(parse("/* waitcheck-ignore:PROBE_FLUSH_WAITS_FOR_PROBE_X y */", K).is_none());
        assert!(parse("", K).is_none());
        // A second marker on the line can still match.
        assert_eq!(
            parse(
                "/* waitcheck-ignore: A a */ /* waitcheck-ignore: PROBE_FLUSH_WAITS_FOR_PROBE b */",
                K
            )
            .as_deref(),
            Some("b")
        );
    }
}
