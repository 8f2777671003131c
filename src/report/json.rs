//! `--format json`: DESIGN.md's output contract, for CI and other tools.
//!
//! The findings and stats exactly as serde serializes them, in the order
//! given, wrapped with a format version so consumers can detect changes.

use std::io::Write;

use serde::Serialize;

use super::{Context, Stats, Suppressed, Unit};
use crate::findings::Finding;

/// Bumped whenever a field of the document changes meaning or disappears.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    findings: Vec<&'a Finding>,
    /// With `--show-suppressed` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<Vec<&'a Suppressed>>,
    stats: &'a Stats,
}

/// `waitcheck patch --format json`: per patch what it introduces (and,
/// with `--show-fixed`, fixes).
#[derive(Serialize)]
struct PatchDocument<'a> {
    version: u32,
    patches: Vec<PatchEntry<'a>>,
    stats: &'a Stats,
}

#[derive(Serialize)]
struct PatchEntry<'a> {
    title: &'a str,
    introduced: &'a [Finding],
    fixed: &'a [Finding],
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<&'a [Suppressed]>,
}

/// Pretty-printed (diffable in CI logs), one trailing newline.
pub(super) fn render_units(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if ctx.patch_mode {
        let doc = PatchDocument {
            version: VERSION,
            patches: units
                .iter()
                .map(|u| PatchEntry {
                    title: u.patch.map_or(u.name.as_str(), |p| p.title.as_str()),
                    introduced: u.findings,
                    fixed: if ctx.show_fixed { u.fixed } else { &[] },
                    suppressed: ctx.show_suppressed.then_some(u.suppressed),
                })
                .collect(),
            stats: ctx.stats,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
    } else {
        let doc = Document {
            version: VERSION,
            findings: units.iter().flat_map(|u| u.findings).collect(),
            suppressed: ctx
                .show_suppressed
                .then(|| units.iter().flat_map(|u| u.suppressed).collect()),
            stats: ctx.stats,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
    }
    writeln!(out)?;
    Ok(())
}
