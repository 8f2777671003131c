//! `--format human`: one codespan-reporting diagnostic per finding, then a
//! summary line.
//!
//! A finding reads like the seed review: the waiting site as the primary
//! label, every other chain step as a secondary label (in whichever files
//! they are), then notes with the cycle, the path it needs, the whole chain
//! indented the way the reviewer wrote it, and where to read more.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label, Severity as Level};
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term::{self, termcolor::Ansi, Config};

use super::{Context, SourceText, Stats, Unit};
use crate::findings::{Finding, Location, Severity, Step};

/// Skipped files listed after the summary; the rest are only counted.
const MAX_SKIPPED_LISTED: usize = 20;

/// Chain steps deeper than this are indented no further: the depth comes from
/// the input and must not blow up the output.
const MAX_INDENT_DEPTH: usize = 32;

/// `check`: the findings, the summary, then (when asked) the suppressed
/// findings. `patch`: per patch a heading, its new findings, and (when
/// asked) the ones it fixes and the suppressed ones; then one summary.
pub(super) fn render_units(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let config = Config {
        // Kernel C is indented with 8-column tabs.
        tab_width: 8,
        ..Config::default()
    };
    let mut found = 0;
    for u in units {
        found += u.findings.len();
        let title = u.patch.map_or(u.name.as_str(), |p| p.title.as_str());
        if ctx.patch_mode {
            writeln!(out, "{title}: {} new circular wait(s)", u.findings.len())?;
            if let Some(note) = u.patch.and_then(|p| p.base_note.as_deref()) {
                writeln!(out, "  ({note})")?;
            }
        }
        for f in u.findings {
            out.write_all(&finding_bytes(f, u.sources, &config, ctx.color)?)?;
        }
        if ctx.show_fixed && !u.fixed.is_empty() {
            writeln!(out, "{title}: fixes {} circular wait(s):", u.fixed.len())?;
            for f in u.fixed {
                writeln!(
                    out,
                    "  fixed: {} {}:{} {}",
                    f.kind, f.location.path, f.location.line, f.message
                )?;
            }
        }
    }
    summary(found, ctx.stats, out)?;
    if ctx.show_suppressed {
        for s in units.iter().flat_map(|u| u.suppressed) {
            writeln!(
                out,
                "suppressed: {} {}:{} {} (at {}: {})",
                s.finding.kind,
                s.finding.location.path,
                s.finding.location.line,
                s.finding.message,
                s.at,
                one_line(&s.reason)
            )?;
        }
    }
    Ok(())
}

/// One finding, rendered into a buffer first: if the source snippets cannot
/// be rendered, nothing partial has been written and the plain form is used.
fn finding_bytes(
    f: &Finding,
    sources: &dyn SourceText,
    config: &Config,
    color: bool,
) -> anyhow::Result<Vec<u8>> {
    let files = FindingFiles::load(f, sources);
    if let Some(labels) = labels(f, &files) {
        let rich = diagnostic(f, notes(f)).with_labels(labels);
        if let Ok(bytes) = emit(config, &files.db, &rich, color) {
            return Ok(bytes);
        }
    }
    let mut plain_notes = vec![at_note(&f.location)];
    plain_notes.extend(notes(f));
    Ok(emit(config, &files.db, &diagnostic(f, plain_notes), color)?)
}

fn diagnostic(f: &Finding, notes: Vec<String>) -> Diagnostic<usize> {
    let level = match f.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    Diagnostic::new(level)
        .with_code(&f.kind)
        .with_message(&f.message)
        .with_notes(notes)
}

fn emit(
    config: &Config,
    files: &SimpleFiles<&str, Cow<'_, str>>,
    d: &Diagnostic<usize>,
    color: bool,
) -> Result<Vec<u8>, codespan_reporting::files::Error> {
    let mut buf = Vec::new();
    if color {
        term::emit_to_write_style(&mut Ansi::new(&mut buf), config, files, d)?;
    } else {
        term::emit_to_io_write(&mut buf, config, files, d)?;
    }
    Ok(buf)
}

/// The texts of the files one finding points into, read once each.
struct FindingFiles<'a> {
    db: SimpleFiles<&'a str, Cow<'a, str>>,
    /// Path -> id in `db`; `None` when the file cannot be read.
    ids: HashMap<&'a str, Option<usize>>,
}

impl<'a> FindingFiles<'a> {
    fn load(f: &'a Finding, sources: &'a dyn SourceText) -> Self {
        let mut files = FindingFiles {
            db: SimpleFiles::new(),
            ids: HashMap::new(),
        };
        let paths = std::iter::once(&f.location).chain(f.chain.iter().map(|s| &s.at));
        for path in paths.map(|l| l.path.as_str()) {
            if !files.ids.contains_key(path) {
                let id = sources.text(path).map(|text| files.db.add(path, text));
                files.ids.insert(path, id);
            }
        }
        files
    }

    /// The file id and byte range of `loc`, when the file was read and the
    /// range still fits it: inside the text, on character boundaries, and on
    /// the line the analysis saw (a file edited since then must not get a
    /// label at a random place).
    fn span(&self, loc: &Location) -> Option<(usize, Range<usize>)> {
        let id = self.ids.get(loc.path.as_str()).copied().flatten()?;
        let text = self.db.get(id).ok()?.source();
        text.get(loc.start..loc.end)?;
        let line = self.db.line_index(id, loc.start).ok()? + 1;
        (line == loc.line as usize).then_some((id, loc.start..loc.end))
    }
}

fn same_span(a: &Location, b: &Location) -> bool {
    (&a.path, a.start, a.end) == (&b.path, b.start, b.end)
}

/// Primary label at the finding's location, secondary labels at every other
/// chain step that can be shown; `None` when the primary cannot be.
fn labels(f: &Finding, files: &FindingFiles<'_>) -> Option<Vec<Label<usize>>> {
    let (id, range) = files.span(&f.location)?;
    let at_primary = |s: &&Step| same_span(&s.at, &f.location);
    let text = f.chain.iter().find(at_primary).map_or("", |s| &s.text);
    let mut labels = vec![Label::primary(id, range).with_message(text)];
    let others = f.chain.iter().filter(|s| !at_primary(s));
    labels.extend(others.filter_map(|s| {
        let (id, range) = files.span(&s.at)?;
        Some(Label::secondary(id, range).with_message(&s.text))
    }));
    Some(labels)
}

/// Cycle, condition, chain, help: what the reader needs besides the code.
fn notes(f: &Finding) -> Vec<String> {
    let mut notes = vec![format!("cycle: {}", f.cycle.join(" -> "))];
    if let Some(c) = &f.condition {
        notes.push(format!("needs: {c}"));
    }
    if !f.chain.is_empty() {
        notes.push(chain_note(f));
    }
    notes.push(format!("help: run 'waitcheck explain {}'", f.kind));
    notes
}

/// Where the finding is, for the plain form that shows no source.
fn at_note(loc: &Location) -> String {
    format!(
        "at: {}:{}:{} in {}() (source not shown: unreadable, or changed since the analysis)",
        loc.path, loc.line, loc.column, loc.function
    )
}

/// The chain as the seed's reviewer wrote it: each edge of the cycle under a
/// heading, its steps indented by call depth.
fn chain_note(f: &Finding) -> String {
    let mut edges: Vec<usize> = f.chain.iter().map(|s| s.edge).collect();
    edges.sort_unstable();
    edges.dedup();
    let mut note = String::from("chain:");
    for edge in edges {
        note.push_str("\n  ");
        note.push_str(&edge_heading(&f.cycle, edge));
        for s in f.chain.iter().filter(|s| s.edge == edge) {
            note.push_str("\n    ");
            note.push_str(&step_line(s));
        }
    }
    note
}

/// `probe -> work:dax_hmem_work:` for edge 0 of that cycle.
fn edge_heading(cycle: &[String], edge: usize) -> String {
    match (cycle.get(edge), cycle.get(edge + 1)) {
        (Some(from), Some(to)) => format!("{from} -> {to}:"),
        _ => format!("edge {edge}:"),
    }
}

/// `  kill_defer_work (drivers/dax/hmem/hmem.c:182): calls ...`
fn step_line(s: &Step) -> String {
    let depth = (s.depth as usize).min(MAX_INDENT_DEPTH);
    format!(
        "{}{} ({}:{}): {}",
        "  ".repeat(depth),
        s.at.function,
        s.at.path,
        s.at.line,
        s.text
    )
}

/// `waitcheck: 1 finding in 3 files (0 skipped); 12 functions, parse
/// coverage 100.00%`, then the skipped files.
fn summary(found: usize, stats: &Stats, out: &mut dyn Write) -> std::io::Result<()> {
    let files = count(stats.files, "file", "files");
    let skipped = stats.skipped.len();
    let mut left_out = String::new();
    for (n, what) in [
        (stats.suppressed, "suppressed"),
        (stats.baselined, "in the baseline"),
        (stats.ignored, "ignored"),
    ] {
        if n > 0 {
            left_out.push_str(&format!(", {n} {what}"));
        }
    }
    // What was read, so that "no findings" can be weighed: functions and
    // the share that parsed without error.
    let read = format!(
        "{}, parse coverage {:.2}%",
        count(stats.functions, "function", "functions"),
        stats.parse_coverage * 100.0
    );
    if found == 0 {
        write!(out, "waitcheck: no circular waits found in {files}")?;
        if skipped > 0 || !left_out.is_empty() {
            write!(out, " ({skipped} skipped{left_out})")?;
        }
        writeln!(out, "; {read}")?;
    } else {
        let findings = count(found, "finding", "findings");
        writeln!(
            out,
            "waitcheck: {findings} in {files} ({skipped} skipped{left_out}); {read}"
        )?;
    }
    for s in stats.skipped.iter().take(MAX_SKIPPED_LISTED) {
        writeln!(out, "skipped: {}: {}", s.path, one_line(&s.reason))?;
    }
    if skipped > MAX_SKIPPED_LISTED {
        writeln!(out, "... and {} more", skipped - MAX_SKIPPED_LISTED)?;
    }
    Ok(())
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Reasons can carry an error's multi-line context; a summary line must not.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
