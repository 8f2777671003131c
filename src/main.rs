//! The `waitcheck` command line: `check`, `patch`, `explain`, `rules`.
//!
//! Exit codes: 0 no findings, 1 findings, 2 usage, input or rules error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};

use waitcheck::baseline::{self, Baseline};
use waitcheck::check::{self, Options};
use waitcheck::config::Config;
use waitcheck::findings::Finding;
use waitcheck::report::{
    self, CheckpatchOptions, Context, DiskSources, Format, SourceText, Stats, Suppressed, Unit,
};
use waitcheck::rules::Rules;
use waitcheck::source::{includes, WalkOptions};

#[derive(Parser)]
#[command(
    name = "waitcheck",
    version,
    about = "Find circular waits (deadlocks) on Linux kernel driver paths, statically",
    after_help = "Exit status: 0 no findings, 1 findings, 2 usage, input or rules error."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyse C files and directories and report circular waits.
    Check(CheckArgs),
    /// Check a patch or series: report only the circular waits it introduces.
    Patch(PatchArgs),
    /// Explain a finding type: what it detects, why it deadlocks, how to fix it.
    Explain {
        /// The finding type (e.g. PROBE_FLUSH_WAITS_FOR_PROBE); omit to list them.
        #[arg(value_name = "TYPE")]
        kind: Option<String>,
    },
    /// Print the loaded kernel API model (and validate extra rules files).
    Rules {
        /// Extra rules directory (its *.toml files), may be repeated.
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// List every call the model knows, with its effects.
        #[arg(long)]
        list: bool,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Files or directories to analyse.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    /// Extra rules directory (its *.toml files), may be repeated.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Files larger than this many bytes are skipped (and counted).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_file_size: u64,
    /// The kernel tree whose headers the given paths include, read for
    /// struct definitions and inline helpers (default: the tree enclosing
    /// the first path). Findings are reported only for the given paths.
    #[arg(long, value_name = "ROOT", conflicts_with = "no_tree")]
    tree: Option<PathBuf>,
    /// Read only the given paths, no headers from the tree.
    #[arg(long)]
    no_tree: bool,
    /// The facts cache directory (default: $WAITCHECK_CACHE_DIR, else
    /// $XDG_CACHE_HOME/waitcheck, else ~/.cache/waitcheck).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Parse every file; read and write no cache.
    #[arg(long)]
    no_cache: bool,
    /// Print timings per stage and counts to stderr.
    #[arg(long)]
    stats: bool,
    /// Walk and parse every file with tree-sitter, nothing else (benchmark floor).
    #[arg(long, hide = true)]
    parse_only: bool,
}

#[derive(clap::Args)]
struct PatchArgs {
    /// The patch: git format-patch output, an mbox series or a unified diff
    /// (`-` for stdin).
    #[arg(value_name = "FILE", conflicts_with = "git")]
    file: Option<PathBuf>,
    /// Check commits instead: `REV` or `A..B` (applied to the tree at their
    /// base commit, whatever is checked out).
    #[arg(long, value_name = "REV")]
    git: Option<String>,
    /// The tree the patch applies to (default: the git top-level of the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    tree: Option<PathBuf>,
    /// Also list the findings the patch fixes.
    #[arg(long)]
    show_fixed: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Extra rules directory (its *.toml files), may be repeated.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// The facts cache directory, shared with `check` (default:
    /// $WAITCHECK_CACHE_DIR, else $XDG_CACHE_HOME/waitcheck, else
    /// ~/.cache/waitcheck).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Parse every file; read and write no cache.
    #[arg(long)]
    no_cache: bool,
}

/// What to report and how: shared by `check` and `patch`.
#[derive(clap::Args)]
struct OutputArgs {
    /// Output format [default: human, or the `format` of .waitcheck.toml].
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Report only these finding types (comma-separated).
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',')]
    types: Vec<String>,
    /// Do not report these finding types (comma-separated).
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',')]
    ignore: Vec<String>,
    /// checkpatch: one line per report.
    #[arg(long)]
    terse: bool,
    /// checkpatch: emacs compile window format (`FILE:LINE: ` prefix).
    #[arg(long)]
    emacs: bool,
    /// checkpatch: show the patched file's position, not the input's.
    #[arg(long)]
    showfile: bool,
    /// checkpatch: show the finding type (`WARNING:TYPE:`).
    #[arg(long)]
    show_types: bool,
    /// checkpatch: no headers, verdicts or notes; no summary when clean.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// checkpatch: no `total:` line.
    #[arg(long)]
    no_summary: bool,
    /// Configuration file [default: .waitcheck.toml at the tree root].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also list the findings suppressed by a `waitcheck-ignore` comment.
    #[arg(long)]
    show_suppressed: bool,
    /// Report only findings whose fingerprint is not in this baseline.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the findings (after suppression, before --baseline) as a
    /// baseline to FILE.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    Checkpatch,
    Sarif,
    Github,
    Review,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Checkpatch => Format::Checkpatch,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Github => Format::Github,
            FormatArg::Review => Format::Review,
        }
    }
}

impl OutputArgs {
    /// `--format`, else the configuration's, else human.
    fn format(&self, config: &Config) -> Format {
        self.format
            .map(Format::from)
            .or(config.format)
            .unwrap_or(Format::Human)
    }

    fn checkpatch(&self, config: &Config) -> CheckpatchOptions {
        let mut ignore = self.ignore.clone();
        ignore.extend(config.ignore.iter().cloned());
        CheckpatchOptions {
            terse: self.terse,
            emacs: self.emacs,
            showfile: self.showfile,
            show_types: self.show_types,
            quiet: self.quiet,
            no_summary: self.no_summary,
            types: self.types.clone(),
            ignore,
        }
    }

    /// Is a finding reported, by `--types`, `--ignore` and the
    /// configuration's `ignore` and `exclude`?
    fn wanted(&self, config: &Config, f: &Finding) -> bool {
        let listed = |l: &[String]| l.iter().any(|t| t.trim().eq_ignore_ascii_case(&f.kind));
        (self.types.is_empty() || listed(&self.types))
            && !listed(&self.ignore)
            && !config.ignores(&f.kind)
            && !config.excluded(&f.location.path)
    }

    /// The findings wanted; the others are counted in `ignored`.
    fn filter(&self, config: &Config, findings: Vec<Finding>, ignored: &mut usize) -> Vec<Finding> {
        let before = findings.len();
        let kept: Vec<Finding> = findings
            .into_iter()
            .filter(|f| self.wanted(config, f))
            .collect();
        *ignored += before - kept.len();
        kept
    }

    /// The `--baseline`, read.
    fn baseline(&self) -> Result<Option<Baseline>> {
        self.baseline.as_deref().map(Baseline::load).transpose()
    }
}

/// What is left to report of some findings, after `--types`/`--ignore`,
/// the configuration, inline suppressions and the baseline.
struct Triaged {
    /// To report.
    findings: Vec<Finding>,
    /// Silenced by a comment.
    suppressed: Vec<Suppressed>,
    /// What `--write-baseline` writes: after suppression, before the
    /// baseline.
    current: Vec<Finding>,
}

fn triage(
    output: &OutputArgs,
    config: &Config,
    baseline: Option<&Baseline>,
    findings: Vec<Finding>,
    sources: &dyn SourceText,
    stats: &mut Stats,
) -> Triaged {
    let wanted = output.filter(config, findings, &mut stats.ignored);
    let (kept, suppressed) = waitcheck::suppress::suppress(wanted, sources);
    stats.suppressed += suppressed.len();
    let current = kept.clone();
    let findings = match baseline {
        Some(b) => {
            let (kept, dropped) = b.filter(kept);
            stats.baselined += dropped;
            kept
        }
        None => kept,
    };
    Triaged {
        findings,
        suppressed,
        current,
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "waitcheck: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.cmd {
        Cmd::Check(args) => run_check(args),
        Cmd::Patch(args) => run_patch(args),
        Cmd::Explain { kind } => run_explain(kind),
        Cmd::Rules { rules, list } => {
            let r = Rules::load(&rules)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{}", r.describe())?;
            if list {
                write!(out, "{}", r.listing())?;
            }
            Ok(0)
        }
    }
}

fn run_check(args: CheckArgs) -> Result<u8> {
    let root = check::root_of(&args.paths)?;
    let config = Config::find(&root, args.output.config.as_deref())?;
    let baseline = args.output.baseline()?;
    let mut rule_dirs = config.rules.clone();
    rule_dirs.extend(args.rules.iter().cloned());
    let rules = Rules::load(&rule_dirs)?;
    let walk = WalkOptions {
        max_file_size: args.max_file_size,
        ..WalkOptions::default()
    };
    // Cross-reference: the headers the given files include are read with
    // them (struct definitions, inline helpers), never reported on.
    let given = args.paths.clone();
    let xref = if args.no_tree {
        None
    } else {
        includes::cross_reference(&args.paths, args.tree.as_deref())?
    };
    let mut paths = args.paths;
    if let Some(x) = &xref {
        paths.extend(x.headers.iter().cloned());
    }
    let opts = Options {
        jobs: args.jobs,
        walk,
        cache: if args.no_cache {
            None
        } else {
            args.cache.or_else(waitcheck::cache::default_dir)
        },
        progress: waitcheck::progress::wanted(),
        ..Options::new(paths)
    };
    if args.parse_only {
        let p = check::parse_only(&opts)?;
        println!(
            "waitcheck: parse-only: {} files, {} bytes, {} with errors, {} skipped; \
             walk {:.3} s, parse {:.3} s",
            p.files,
            p.bytes,
            p.with_errors,
            p.skipped,
            p.walk.as_secs_f64(),
            p.parse.as_secs_f64()
        );
        return Ok(0);
    }
    let mut outcome = check::run(&opts, &rules)?;
    if xref.is_some() {
        let root = outcome.root.clone();
        outcome
            .findings
            .retain(|f| includes::is_given(&f.location.path, &root, &given));
        outcome.stats.findings = outcome.findings.len();
    }
    let report_started = std::time::Instant::now();
    let format = args.output.format(&config);
    let color = use_color(args.color);
    let sources = DiskSources::new(outcome.root.clone());
    let t = triage(
        &args.output,
        &config,
        baseline.as_ref(),
        std::mem::take(&mut outcome.findings),
        &sources,
        &mut outcome.stats,
    );
    if let Some(path) = &args.output.write_baseline {
        baseline::write(path, &t.current)?;
    }
    outcome.findings = t.findings;
    outcome.stats.findings = outcome.findings.len();
    let lines_checked = if format == Format::Checkpatch {
        lines_in(&given, &opts.walk)
    } else {
        0
    };
    let name: Vec<String> = given.iter().map(|p| p.display().to_string()).collect();
    let unit = Unit {
        name: name.join(" "),
        findings: &outcome.findings,
        fixed: &[],
        suppressed: &t.suppressed,
        patch: None,
        sources: &sources,
        sources_before: None,
        lines_checked,
    };
    let ctx = Context {
        stats: &outcome.stats,
        color,
        patch_mode: false,
        show_fixed: false,
        show_suppressed: args.output.show_suppressed,
        checkpatch: args.output.checkpatch(&config),
    };
    let mut out = std::io::stdout().lock();
    report::render_units(format, &[unit], &ctx, &mut out).context("writing the report")?;
    out.flush()?;
    if args.stats {
        outcome.times.report = report_started.elapsed();
        check::write_stats(&outcome, &mut std::io::stderr().lock())?;
    }
    Ok(if outcome.findings.is_empty() { 0 } else { 1 })
}

/// checkpatch's `lines checked` for `check`: the lines of the files
/// analysed (unreadable ones count none; they are reported as skipped).
fn lines_in(paths: &[PathBuf], walk: &WalkOptions) -> usize {
    let Ok(w) = waitcheck::source::walk(paths, walk) else {
        return 0;
    };
    w.files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .map(|b| {
            b.iter().filter(|&&c| c == b'\n').count()
                + usize::from(b.last().is_some_and(|&c| c != b'\n'))
        })
        .sum()
}

fn use_color(c: ColorArg) -> bool {
    match c {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn run_patch(args: PatchArgs) -> Result<u8> {
    use waitcheck::patchcheck::{self, Input, PatchOptions, SeriesSources};
    let root = patchcheck::tree_root(args.tree.as_deref())?;
    let config = Config::find(&root, args.output.config.as_deref())?;
    let baseline = args.output.baseline()?;
    let mut rule_dirs = config.rules.clone();
    rule_dirs.extend(args.rules.iter().cloned());
    let rules = Rules::load(&rule_dirs)?;
    let input = match (&args.git, &args.file) {
        (Some(rev), _) => Input::Git(rev.clone()),
        (None, Some(f)) if f.as_os_str() == "-" => Input::Stdin,
        (None, Some(f)) => Input::File(f.clone()),
        (None, None) => Input::Stdin,
    };
    let opts = PatchOptions {
        input,
        tree: Some(root),
        jobs: args.jobs,
        cache: if args.no_cache {
            None
        } else {
            args.cache.clone().or_else(waitcheck::cache::default_dir)
        },
    };
    let mut res = patchcheck::run(&opts, &rules)?;
    let mut stats = res.stats.clone();
    let tree = res.root.clone();
    let overlays: Vec<_> = res
        .patches
        .iter()
        .map(|p| (p.overlay_before.clone(), p.overlay_after.clone()))
        .collect();
    let sources: Vec<(SeriesSources, SeriesSources)> = overlays
        .iter()
        .map(|(before, after)| {
            let at = |overlay| SeriesSources {
                root: &tree,
                overlay,
            };
            (at(before), at(after))
        })
        .collect();
    let mut suppressed = Vec::new();
    let mut current = Vec::new();
    let mut kept = Vec::new();
    for (p, (_, after)) in res.patches.iter_mut().zip(&sources) {
        let t = triage(
            &args.output,
            &config,
            baseline.as_ref(),
            std::mem::take(&mut p.introduced),
            after,
            &mut stats,
        );
        let mut not_counted = 0;
        let fixed = args
            .output
            .filter(&config, std::mem::take(&mut p.fixed), &mut not_counted);
        kept.push((t.findings, fixed));
        suppressed.push(t.suppressed);
        current.extend(t.current);
    }
    for (p, (introduced, fixed)) in res.patches.iter_mut().zip(kept) {
        p.introduced = introduced;
        p.fixed = fixed;
    }
    if let Some(path) = &args.output.write_baseline {
        baseline::write(path, &current)?;
    }
    let introduced: usize = res.patches.iter().map(|p| p.introduced.len()).sum();
    stats.findings = introduced;
    let single = res.patches.len() == 1;
    let units: Vec<Unit> = res
        .patches
        .iter()
        .zip(&sources)
        .zip(&suppressed)
        .map(|((p, (before, after)), suppressed)| Unit {
            name: unit_name(&args, p, single),
            findings: &p.introduced,
            fixed: &p.fixed,
            suppressed,
            patch: Some(&p.text),
            sources: after,
            sources_before: Some(before),
            lines_checked: p.lines_checked,
        })
        .collect();
    let ctx = Context {
        stats: &stats,
        color: use_color(args.color),
        patch_mode: true,
        show_fixed: args.show_fixed,
        show_suppressed: args.output.show_suppressed,
        checkpatch: args.output.checkpatch(&config),
    };
    let mut out = std::io::stdout().lock();
    report::render_units(args.output.format(&config), &units, &ctx, &mut out)
        .context("writing the report")?;
    out.flush()?;
    Ok(if introduced > 0 { 1 } else { 0 })
}

/// How checkpatch names a patch in its verdict: the file given for a
/// single patch, `Commit <id> ("subject")` for commits, else the quoted
/// subject (as checkpatch does for stdin).
fn unit_name(args: &PatchArgs, p: &waitcheck::patchcheck::PatchResult, single: bool) -> String {
    if let (Some(id), Some(_)) = (&p.text.commit, &args.git) {
        let short: String = id.chars().take(12).collect();
        let subject = p
            .title
            .split_once("] ")
            .map_or(p.title.as_str(), |(_, s)| s);
        return format!("Commit {short} (\"{subject}\")");
    }
    match &args.file {
        Some(f) if single && f.as_os_str() != "-" => f.display().to_string(),
        _ => format!("\"{}\"", p.title),
    }
}

fn run_explain(kind: Option<String>) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match kind {
        None => {
            writeln!(out, "finding types (waitcheck explain TYPE):")?;
            for t in waitcheck::explain::TYPES {
                let summary = waitcheck::explain::summary(t).unwrap_or_default();
                writeln!(out, "  {t:<30} {summary}")?;
            }
            Ok(0)
        }
        Some(k) => match waitcheck::explain::explain(&k) {
            Some(doc) => {
                write!(out, "{doc}")?;
                Ok(0)
            }
            None => {
                anyhow::bail!(
                    "unknown finding type `{k}`; known types: {}",
                    waitcheck::explain::TYPES.join(", ")
                )
            }
        },
    }
}
