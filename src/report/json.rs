//! `--format json`: DESIGN.md's output contract, for CI and other tools.
//!
//! The findings and stats exactly as serde serializes them, in the order
//! given, wrapped with a format version so consumers can detect changes.

use std::io::Write;

use serde::Serialize;

use super::Stats;
use crate::findings::Finding;

/// Bumped whenever a field of the document changes meaning or disappears.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    findings: &'a [Finding],
    stats: &'a Stats,
}

/// Pretty-printed (diffable in CI logs), one trailing newline.
pub(super) fn render(
    findings: &[Finding],
    stats: &Stats,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let doc = Document {
        version: VERSION,
        findings,
        stats,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
