//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding:
//!
//! ```text
//! ::warning file=drivers/wpool/plat.c,line=68,col=2,title=PROBE_FLUSH_WAITS_FOR_PROBE::message%0Acycle: ...
//! ```
//!
//! `::error` for severity error. The message carries the cycle and the
//! condition on further lines (`%0A`). In patch mode the annotation points
//! at a line the patch added when the chain has one, since GitHub shows
//! annotations inline only on the lines of the diff. Escaping is GitHub's:
//! `%` `\r` `\n` in the message, and also `:` `,` in properties.

use std::io::Write;

use super::text::{char_column, patch_site, source_line, Side};
use super::SourceText;
use super::{Context, Unit};
use crate::findings::{Finding, Location, Severity};

pub(super) fn render(
    units: &[Unit<'_>],
    ctx: &Context<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for u in units {
        for f in u.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let at = site(u, f, ctx.patch_mode);
            command(out, level, &at, u.sources, &f.kind, &message(f))?;
        }
        if ctx.show_fixed {
            for f in u.fixed {
                let title = format!("{} (fixed)", f.kind);
                let by = u.patch.map_or(u.name.as_str(), |p| p.title.as_str());
                let msg = format!("fixed by {by}: {}", f.message);
                let before = u.sources_before.unwrap_or(u.sources);
                command(out, "notice", &f.location, before, &title, &msg)?;
            }
        }
        if ctx.show_suppressed {
            for s in u.suppressed {
                let title = format!("{} (suppressed)", s.finding.kind);
                let msg = format!(
                    "suppressed at {}: {}\n{}",
                    s.at,
                    s.reason,
                    message(&s.finding)
                );
                command(out, "notice", &s.finding.location, u.sources, &title, &msg)?;
            }
        }
    }
    Ok(())
}

fn site(u: &Unit<'_>, f: &Finding, patch_mode: bool) -> Location {
    u.patch
        .filter(|_| patch_mode)
        .and_then(|p| patch_site(f, p, Side::New))
        .map_or_else(|| f.location.clone(), |s| s.at)
}

/// The message, then the cycle and the condition, one per line.
fn message(f: &Finding) -> String {
    let mut m = f.message.clone();
    m.push_str("\ncycle: ");
    m.push_str(&f.cycle.join(" -> "));
    if let Some(c) = &f.condition {
        m.push_str("\nneeds: ");
        m.push_str(c);
    }
    m.push_str(&format!("\nrun 'waitcheck explain {}' for more", f.kind));
    m
}

fn command(
    out: &mut dyn Write,
    level: &str,
    at: &Location,
    sources: &dyn SourceText,
    title: &str,
    msg: &str,
) -> std::io::Result<()> {
    // GitHub counts columns in characters; the analysis counts bytes.
    let col =
        source_line(sources, &at.path, at.line).map_or(at.column, |l| char_column(&l, at.column));
    writeln!(
        out,
        "::{level} file={},line={},col={},title={}::{}",
        escape_property(&at.path),
        at.line,
        col,
        escape_property(title),
        escape_data(msg)
    )
}

/// Escaping of a command's message.
pub(super) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a property value (`file=`, `title=`): also `:` and `,`.
pub(super) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_toolkit() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_data("a:b,c"), "a:b,c");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // `%` first, so that escapes are not escaped again.
        assert_eq!(escape_property("%3A"), "%253A");
    }
}
