//! The `waitcheck` command line: `check`, `explain`, `rules`.
//!
//! Exit codes: 0 no findings, 1 findings, 2 usage, input or rules error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};

use waitcheck::check::{self, Options};
use waitcheck::report::{self, DiskSources, Format};
use waitcheck::rules::Rules;
use waitcheck::source::WalkOptions;

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
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
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
}

#[derive(clap::Args)]
struct PatchArgs {
    /// The patch: git format-patch output, an mbox series or a unified diff
    /// (`-` for stdin).
    #[arg(value_name = "FILE", conflicts_with = "git")]
    file: Option<PathBuf>,
    /// Check commits instead: `REV` or `A..B`.
    #[arg(long, value_name = "REV")]
    git: Option<String>,
    /// The tree the patch applies to (default: the git top-level of the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    tree: Option<PathBuf>,
    /// Also list the findings the patch fixes.
    #[arg(long)]
    show_fixed: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// Extra rules directory (its *.toml files), may be repeated.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
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
    let rules = Rules::load(&args.rules)?;
    let walk = WalkOptions {
        max_file_size: args.max_file_size,
        ..WalkOptions::default()
    };
    let opts = Options {
        jobs: args.jobs,
        walk,
        ..Options::new(args.paths)
    };
    let outcome = check::run(&opts, &rules)?;
    let format = match args.format {
        FormatArg::Human => Format::Human,
        FormatArg::Json => Format::Json,
    };
    let stdout = std::io::stdout();
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let sources = DiskSources::new(outcome.root.clone());
    let mut out = stdout.lock();
    report::render(
        format,
        &outcome.findings,
        &outcome.stats,
        &sources,
        color,
        &mut out,
    )
    .context("writing the report")?;
    out.flush()?;
    Ok(if outcome.findings.is_empty() { 0 } else { 1 })
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
    let rules = Rules::load(&args.rules)?;
    let input = match (&args.git, &args.file) {
        (Some(rev), _) => Input::Git(rev.clone()),
        (None, Some(f)) if f.as_os_str() == "-" => Input::Stdin,
        (None, Some(f)) => Input::File(f.clone()),
        (None, None) => Input::Stdin,
    };
    let opts = PatchOptions {
        input,
        tree: args.tree,
        jobs: args.jobs,
    };
    let res = patchcheck::run(&opts, &rules)?;
    let sources = SeriesSources {
        root: &res.root,
        overlay: &res.overlay,
    };
    let color = use_color(args.color);
    let mut out = std::io::stdout().lock();
    let introduced: usize = res.patches.iter().map(|p| p.introduced.len()).sum();
    match args.format {
        FormatArg::Json => {
            let empty: &[waitcheck::findings::Finding] = &[];
            let patches: Vec<serde_json::Value> = res
                .patches
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "title": p.title,
                        "introduced": p.introduced,
                        "fixed": if args.show_fixed { p.fixed.as_slice() } else { empty },
                    })
                })
                .collect();
            let v = serde_json::json!({ "version": 1, "patches": patches, "stats": res.stats });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        FormatArg::Human => {
            for p in &res.patches {
                writeln!(
                    out,
                    "{}: {} new circular wait(s)",
                    p.title,
                    p.introduced.len()
                )?;
                if !p.introduced.is_empty() {
                    report::render(
                        Format::Human,
                        &p.introduced,
                        &res.stats,
                        &sources,
                        color,
                        &mut out,
                    )?;
                }
                if args.show_fixed && !p.fixed.is_empty() {
                    writeln!(
                        out,
                        "{}: fixes {} circular wait(s):",
                        p.title,
                        p.fixed.len()
                    )?;
                    for f in &p.fixed {
                        writeln!(
                            out,
                            "  fixed: {} {}:{} {}",
                            f.kind, f.location.path, f.location.line, f.message
                        )?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(if introduced > 0 { 1 } else { 0 })
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
