//! `--format review`: a finding as a ready-to-paste LKML reply, shaped like
//! the review in `../shared/seed/` that started the project:
//!
//! 1. the lines of the patch the chain runs through, quoted with `> ` as a
//!    mail client quotes them (from the function's first line down to the
//!    line involved; `[...]` where lines are left out);
//! 2. the question: is there a potential deadlock here, what waits for
//!    what, and the path it needs (`Finding::condition`);
//! 3. the chain, numbered, one edge of the cycle after the other, indented
//!    by call depth;
//! 4. how likely the trigger is, and a one-line suggestion in question form
//!    from the finding type (its page's "How to fix").
//!
//! Plain text wrapped at 72 columns (quoted code is never wrapped). Without
//! a patch (`waitcheck check`) the source lines are quoted instead, under
//! the name of their file.

use std::io::Write;

use super::text::{resource, sentence, source_line, wrap};
use super::{Context, PatchText, SourceText, Unit};
use crate::findings::{Finding, Severity, Step};

/// Mail bodies are wrapped here.
const WIDTH: usize = 72;

/// How far up from a quoted line its function's first line is looked for.
const MAX_LOOKBACK: usize = 20;

/// Lines between two quoted regions that are quoted rather than elided.
const JOIN_GAP: usize = 3;

/// Chain steps deeper than this are indented no further.
const MAX_DEPTH: usize = 6;

pub(super) fn render(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut first = true;
    for u in units.iter().filter(|u| !u.findings.is_empty()) {
        if !first {
            writeln!(out, "\n")?;
        }
        first = false;
        let patch = u.patch.filter(|_| ctx.patch_mode);
        if let Some(p) = patch {
            writeln!(out, "Re: {}", p.title)?;
            writeln!(out)?;
            if let Some(a) = &p.author {
                writeln!(out, "{a} wrote:")?;
                writeln!(out)?;
            }
        }
        for (i, f) in u.findings.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let quote = match patch {
                Some(p) => quote_patch(f, p, u.sources),
                None => quote_sources(f, u.sources),
            };
            for l in quote {
                writeln!(out, "{l}")?;
            }
            writeln!(out)?;
            for l in explanation(f) {
                writeln!(out, "{l}")?;
            }
        }
    }
    Ok(())
}

/// Everything after the quote, as lines.
fn explanation(f: &Finding) -> Vec<String> {
    let mut lines = Vec::new();
    let para = |lines: &mut Vec<String>, text: &str| {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(wrap(text, WIDTH, "", ""));
    };
    para(
        &mut lines,
        &format!(
            "Is there a potential deadlock here? {}",
            sentence(&f.message)
        ),
    );
    if let Some(c) = &f.condition {
        para(&mut lines, &format!("It happens if {}", sentence(c)));
    }
    para(
        &mut lines,
        "Each side waits for the other, so this looks like a circular wait:",
    );
    lines.push(String::new());
    lines.extend(chain(f));
    let likelihood = match f.severity {
        Severity::Warning => {
            "The trigger requires that path, so the window may be narrow, but the deadlock would be permanent if hit."
        }
        Severity::Error => {
            "No rare path is needed: every run of these paths closes the cycle, and the deadlock is permanent once hit."
        }
    };
    para(&mut lines, likelihood);
    para(&mut lines, &suggestion(f));
    para(
        &mut lines,
        &format!(
            "(Found with waitcheck, {k}; 'waitcheck explain {k}' has the details.)",
            k = f.kind
        ),
    );
    lines
}

/// The chain, numbered across the edges, each edge under its heading.
fn chain(f: &Finding) -> Vec<String> {
    let mut edges: Vec<usize> = f.chain.iter().map(|s| s.edge).collect();
    edges.sort_unstable();
    edges.dedup();
    let mut lines = Vec::new();
    let mut n = 0;
    for (k, &e) in edges.iter().enumerate() {
        if k > 0 {
            lines.push(String::new());
        }
        match (f.cycle.get(e), f.cycle.get(e + 1)) {
            (Some(a), Some(b)) => lines.push(format!("{a} -> {b}:")),
            _ => lines.push(format!("edge {e}:")),
        }
        for s in f.chain.iter().filter(|s| s.edge == e) {
            n += 1;
            lines.extend(step(n, s));
        }
    }
    lines
}

/// ` 3.   text (path:line)`, indented by depth, wrapped with a hanging
/// indent.
fn step(n: usize, s: &Step) -> Vec<String> {
    let indent = "  ".repeat((s.depth as usize).min(MAX_DEPTH));
    let first = format!("{n:>2}. {indent}");
    let rest = " ".repeat(first.chars().count());
    let text = format!("{} ({}:{})", s.text, s.at.path, s.at.line);
    wrap(&text, WIDTH, &first, &rest)
}

/// The one-line suggestion of the finding's type, as a question.
fn suggestion(f: &Finding) -> String {
    let work = resource(f, "work").unwrap_or("the work");
    let lock = resource(f, "lock").unwrap_or("the lock");
    match f.kind.as_str() {
        "PROBE_FLUSH_WAITS_FOR_PROBE" => format!(
            "Would it be safer to cancel {work} without waiting (cancel_work()) on the probe's error path instead of flushing it, or to queue it only once the probe can no longer fail?"
        ),
        "DEVICE_LOCK_WAITS_FOR_PROBE" => "Would it be safer to wait for probes before taking the device lock, or to express the dependency directly (-EPROBE_DEFER, a device link) instead of waiting for every probe?".to_string(),
        "WORK_WAIT_UNDER_LOCK" => format!(
            "Would it be safer to drop {lock} before waiting for {work}, or to have the handler back off with a trylock instead of blocking on it?"
        ),
        "WORK_WAIT_UNDER_DEVICE_LOCK" => format!(
            "Would it be safer to protect what the handler of {work} needs with a driver-private lock instead of the device lock, or to have it use device_trylock() and back off?"
        ),
        "WORK_WAITS_FOR_ITSELF" => format!(
            "Would it be safer to skip the wait when the caller is the handler of {work} itself (compare current_work()), or to cancel it without waiting (cancel_work()) on that path?"
        ),
        _ => {
            let first = f.cycle.first().map_or("the first resource", String::as_str);
            format!(
                "Would it be safer to move the wait out of the region that holds {first}, or to make the side it waits for not need {first}?"
            )
        }
    }
}

/// A region of lines to quote: `[start, end]` indexes into a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    group: usize,
    start: usize,
    end: usize,
}

/// Regions around `wanted` (indexes into each group's lines): from the
/// first line of the function (a line starting with an identifier, at most
/// `MAX_LOOKBACK` up) to the line, joined when close, extended to a closing
/// `}` that follows within a few lines.
fn regions(groups: &[Vec<&str>], wanted: &[(usize, usize)]) -> Vec<Region> {
    let mut rs: Vec<Region> = wanted
        .iter()
        .filter_map(|&(g, i)| {
            let lines = groups.get(g)?;
            lines.get(i)?;
            let low = i.saturating_sub(MAX_LOOKBACK);
            let start = (low..=i)
                .rev()
                .find(|&k| starts_definition(lines[k]))
                .unwrap_or_else(|| i.saturating_sub(2));
            Some(Region {
                group: g,
                start,
                end: i,
            })
        })
        .collect();
    rs.sort_by_key(|r| (r.group, r.start, r.end));
    let mut merged: Vec<Region> = Vec::new();
    for r in rs {
        match merged.last_mut() {
            Some(m) if m.group == r.group && r.start <= m.end + JOIN_GAP + 1 => {
                m.end = m.end.max(r.end);
            }
            _ => merged.push(r),
        }
    }
    for m in &mut merged {
        let lines = &groups[m.group];
        let limit = (m.end + 3).min(lines.len().saturating_sub(1));
        if let Some(close) = (m.end + 1..=limit).find(|&k| lines[k].trim_end() == "}") {
            m.end = close;
        }
    }
    merged
}

/// A top-level line: a definition starts here (`static int f(...)`).
fn starts_definition(line: &str) -> bool {
    line.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && !line.trim_end().ends_with(';')
}

/// The patch's lines around every chain step it has, as `> ` quotes; the
/// source's when the patch has none of them (a finding its removed lines
/// made).
fn quote_patch(f: &Finding, p: &PatchText, sources: &dyn SourceText) -> Vec<String> {
    let groups: Vec<Vec<&str>> = p
        .hunks
        .iter()
        .map(|h| h.lines.iter().map(|l| l.text.as_str()).collect())
        .collect();
    let mut wanted = Vec::new();
    for at in std::iter::once(&f.location).chain(f.chain.iter().map(|s| &s.at)) {
        if let Some(hit) = p.find(&at.path, at.line) {
            wanted.push(hit);
        }
    }
    let rs = regions(&groups, &wanted);
    let mut out = Vec::new();
    for (k, r) in rs.iter().enumerate() {
        let at_top = k == 0 && r.group == 0 && r.start == 0;
        if !at_top {
            if k > 0 {
                out.push(String::new());
            }
            out.push("[...]".to_string());
            out.push(String::new());
        }
        let Some(h) = p.hunks.get(r.group) else {
            continue;
        };
        for l in h.lines.get(r.start..=r.end).unwrap_or_default() {
            out.push(format!("> {}{}", l.marker, l.text).trim_end().to_string());
        }
    }
    if out.is_empty() {
        return quote_sources(f, sources);
    }
    out
}

/// Without a readable source, name the places.
fn quote_sources_plain(f: &Finding) -> Vec<String> {
    let l = &f.location;
    vec![format!("In {}:{}, {}():", l.path, l.line, l.function)]
}

/// The source lines around every chain step, file by file.
fn quote_sources(f: &Finding, sources: &dyn SourceText) -> Vec<String> {
    // Files in order of first appearance in the chain.
    let mut files: Vec<&str> = Vec::new();
    for at in std::iter::once(&f.location).chain(f.chain.iter().map(|s| &s.at)) {
        if !files.contains(&at.path.as_str()) {
            files.push(&at.path);
        }
    }
    let texts: Vec<Option<String>> = files
        .iter()
        .map(|p| sources.text(p).map(|t| t.into_owned()))
        .collect();
    let groups: Vec<Vec<&str>> = texts
        .iter()
        .map(|t| t.as_deref().map_or_else(Vec::new, |t| t.lines().collect()))
        .collect();
    let mut wanted = Vec::new();
    for at in std::iter::once(&f.location).chain(f.chain.iter().map(|s| &s.at)) {
        let g = files.iter().position(|p| *p == at.path);
        let i = (at.line as usize).checked_sub(1);
        if let (Some(g), Some(i)) = (g, i) {
            // Only lines that still say what the analysis saw.
            if source_line(sources, &at.path, at.line).is_some() {
                wanted.push((g, i));
            }
        }
    }
    let rs = regions(&groups, &wanted);
    if rs.is_empty() {
        return quote_sources_plain(f);
    }
    let mut out = Vec::new();
    let mut last_group = None;
    for (k, r) in rs.iter().enumerate() {
        if k > 0 {
            out.push(String::new());
        }
        if last_group != Some(r.group) {
            out.push(format!("In {}:", files[r.group]));
            out.push(String::new());
        } else {
            out.push("[...]".to_string());
            out.push(String::new());
        }
        last_group = Some(r.group);
        for l in groups[r.group].get(r.start..=r.end).unwrap_or_default() {
            out.push(format!("> {l}").trim_end().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_start_at_the_function_and_join() {
        let lines = vec![
            "static int a(void)", // 0
            "{",                  // 1
            "\tx();",             // 2
            "\ty();",             // 3
            "\tz();",             // 4
            "\tw();",             // 5
            "}",                  // 6
            "",                   // 7
            "static int b(void)", // 8
            "{",                  // 9
            "\tz();",             // 10
            "\treturn 0;",        // 11
            "}",                  // 12
        ];
        let groups = vec![lines];
        let region = |start, end| Region {
            group: 0,
            start,
            end,
        };
        // Each from its function's first line; the second one ends at its
        // function's closing brace, the first is too far from its own.
        let rs = regions(&groups, &[(0, 2), (0, 10)]);
        assert_eq!(rs, vec![region(0, 2), region(8, 12)]);
        // Regions at most JOIN_GAP lines apart become one.
        let rs = regions(&groups, &[(0, 5), (0, 8)]);
        assert_eq!(rs, vec![region(0, 8)]);
        // Out-of-range requests are ignored, not a panic.
        assert!(regions(&groups, &[(3, 0), (0, 99)]).is_empty());
    }

    #[test]
    fn declarations_do_not_start_a_region() {
        assert!(starts_definition("static void f(void *data)"));
        assert!(!starts_definition("static int x;"));
        assert!(!starts_definition("\tfoo();"));
        assert!(!starts_definition("}"));
    }
}
