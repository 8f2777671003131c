//! `--format checkpatch`: the layout of the kernel's `scripts/checkpatch.pl`
//! (see Documentation/dev-tools/checkpatch.rst), so that whatever reads
//! checkpatch output (b4 `prep --check`, patchwork checks, editors'
//! compile buffers) reads waitcheck's.
//!
//! Per report, as checkpatch prints it:
//!
//! ```text
//! WARNING:PROBE_FLUSH_WAITS_FOR_PROBE: <message>     (TYPE only with --show-types)
//! #185: FILE: drivers/wpool/plat.c:68:               (#N: the line of the patch input)
//! +    wait_for_device_probe();                   (the line, as the patch has it)
//!
//! ```
//!
//! then per unit (a patch, or the files of `check`, which is checkpatch's
//! `--file` layout: `#N` is the file line and every line is quoted with
//! `+`) `total: E errors, W warnings, L lines checked` and the verdict.
//! `--terse` keeps the first line of each report (and implies `--emacs` and
//! `-q`, as in checkpatch), `--emacs` prefixes `INPUT:N: `, `--showfile`
//! prefixes `FILE:LINE: ` of the patched file instead and drops the `#N:`
//! line, `-q` drops headers, verdicts and notes, and the summary of a clean
//! unit, `--no-summary` drops the `total:` line.

use std::io::Write;

use super::text::{patch_site, source_line, Side};
use super::{Context, Suppressed, Unit};
use crate::findings::{Finding, Severity};

pub(super) fn render(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let o = &ctx.checkpatch;
    let quiet = o.quiet || o.terse;
    let mut reported = false;
    for u in units {
        if units.len() > 1 && !quiet {
            let rule = "-".repeat(u.name.chars().count());
            writeln!(out, "{rule}\n{}\n{rule}", u.name)?;
        }
        let (mut errors, mut warnings) = (0usize, 0usize);
        for f in u.findings {
            match f.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            let level = match f.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARNING",
            };
            write_report(out, ctx, u, f, Side::New, level, &f.message)?;
        }
        if ctx.show_fixed {
            for f in u.fixed {
                let msg = format!("fixes: {}", f.message);
                write_report(out, ctx, &before(u), f, Side::Old, "NOTE", &msg)?;
            }
        }
        if ctx.show_suppressed {
            for s in u.suppressed {
                write_suppressed(out, ctx, u, s)?;
            }
        }
        let clean = u.findings.is_empty();
        reported |= !clean;
        let summary = !(o.no_summary || clean && quiet);
        if summary {
            writeln!(
                out,
                "total: {errors} errors, {warnings} warnings, {} lines checked",
                u.lines_checked
            )?;
        }
        if !quiet {
            writeln!(out)?;
            if clean {
                writeln!(
                    out,
                    "{} has no obvious circular waits and is ready for submission.",
                    u.name
                )?;
            } else {
                writeln!(out, "{} has circular waits, please review.", u.name)?;
            }
        }
    }
    if !quiet {
        type_note(out, "Used", &o.types)?;
        type_note(out, "Ignored", &o.ignore)?;
        if reported {
            writeln!(
                out,
                "\nNOTE: If any of the findings are false positives, run 'waitcheck explain TYPE'\n      \
                 for what each needs, and silence one with a comment on its line:\n      \
                 /* waitcheck-ignore: TYPE reason */"
            )?;
        }
    }
    Ok(())
}

/// The unit as it was before the patch: fixed findings point there.
fn before<'a>(u: &Unit<'a>) -> Unit<'a> {
    Unit {
        name: u.name.clone(),
        findings: &[],
        fixed: &[],
        suppressed: &[],
        patch: u.patch,
        sources: u.sources_before.unwrap_or(u.sources),
        sources_before: None,
        lines_checked: u.lines_checked,
    }
}

/// Where a report points: the input line (`#N`), the file and line after
/// the patch, and the quoted line with its marker.
struct Where {
    input_line: Option<usize>,
    path: String,
    line: u32,
    quoted: Option<String>,
}

fn locate(u: &Unit<'_>, f: &Finding, side: Side, patch_mode: bool) -> Where {
    if let Some(patch) = u.patch.filter(|_| patch_mode) {
        if let Some(site) = patch_site(f, patch, side) {
            return Where {
                input_line: Some(site.line.input_line),
                path: site.hunk.path.clone(),
                line: site.at.line,
                quoted: Some(format!("{}{}", site.line.marker, site.line.text)),
            };
        }
        // No step on a line of the patch: point at the file, as checkpatch
        // does for reports about a whole file, and quote it as context.
        let l = &f.location;
        return Where {
            input_line: None,
            path: l.path.clone(),
            line: l.line,
            quoted: source_line(u.sources, &l.path, l.line).map(|t| format!(" {t}")),
        };
    }
    // checkpatch --file reads `diff -u /dev/null FILE`: every line is added.
    let l = &f.location;
    Where {
        input_line: Some(l.line as usize),
        path: l.path.clone(),
        line: l.line,
        quoted: source_line(u.sources, &l.path, l.line).map(|t| format!("+{t}")),
    }
}

fn write_report(
    out: &mut dyn Write,
    ctx: &Context<'_>,
    u: &Unit<'_>,
    f: &Finding,
    side: Side,
    level: &str,
    message: &str,
) -> std::io::Result<()> {
    let o = &ctx.checkpatch;
    let w = locate(u, f, side, ctx.patch_mode);
    let prefix = if o.showfile {
        format!("{}:{}: ", w.path, w.line)
    } else if o.emacs || o.terse {
        match (ctx.patch_mode, w.input_line) {
            (true, Some(n)) => {
                let input = u.patch.map_or("-", |p| p.input.as_str());
                format!("{input}:{n}: ")
            }
            _ => format!("{}:{}: ", w.path, w.line),
        }
    } else {
        String::new()
    };
    let kind = if o.show_types {
        format!("{}:", f.kind)
    } else {
        String::new()
    };
    writeln!(out, "{prefix}{level}:{kind} {}", one_line(message))?;
    if o.terse {
        return Ok(());
    }
    if !o.showfile {
        match w.input_line {
            Some(n) => writeln!(out, "#{n}: FILE: {}:{}:", w.path, w.line)?,
            None => writeln!(out, "FILE: {}:{}:", w.path, w.line)?,
        }
    }
    if let Some(q) = &w.quoted {
        writeln!(out, "{q}")?;
    }
    writeln!(out)
}

fn write_suppressed(
    out: &mut dyn Write,
    ctx: &Context<'_>,
    u: &Unit<'_>,
    s: &Suppressed,
) -> std::io::Result<()> {
    let msg = format!(
        "suppressed at {} ({}): {}",
        s.at,
        one_line(&s.reason),
        s.finding.message
    );
    write_report(out, ctx, u, &s.finding, Side::New, "NOTE", &msg)
}

fn type_note(out: &mut dyn Write, what: &str, types: &[String]) -> std::io::Result<()> {
    if types.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<String> = types.iter().map(|t| t.to_ascii_uppercase()).collect();
    sorted.sort();
    sorted.dedup();
    writeln!(out, "\nNOTE: {what} message types: {}", sorted.join(" "))
}

/// A report's first line must stay one line (`--terse`, b4 and editors
/// read one report per line).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
