//! The progress bar of `waitcheck check`: files parsed, then the graph
//! stages, on stderr.
//!
//! Shown only when stderr is a terminal and `CI` is unset ([`wanted`]); in
//! every other case a [`Progress`] is hidden and costs an atomic add per
//! file. It never writes to stdout, so reports are the same with or without
//! it, and it is cleared before the report is printed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner of a graph stage redraws.
const TICK: Duration = Duration::from_millis(120);

/// Should a run show progress: stderr is a terminal and `CI` is not set.
pub fn wanted() -> bool {
    wanted_for(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some(),
    )
}

fn wanted_for(stderr_is_terminal: bool, ci: bool) -> bool {
    stderr_is_terminal && !ci
}

/// A progress display: a bar over the files, then a spinner per stage.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A visible display on stderr when `show`, else a hidden one.
    pub fn new(show: bool) -> Progress {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            bar: ProgressBar::with_draw_target(None, target),
        }
    }

    /// Whether anything is drawn.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Starts the files bar: `total` files to read or look up.
    pub fn files(&self, total: u64) {
        let style = ProgressStyle::with_template(
            "{prefix:>8} [{bar:30}] {pos}/{len} files ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.bar.set_style(style);
        self.bar.set_prefix("parsing");
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    /// One more file done.
    pub fn file_done(&self) {
        self.bar.inc(1);
    }

    /// A graph stage began (`"graph"`, `"findings"`): a spinner with its name.
    pub fn stage(&self, name: &'static str) {
        let style = ProgressStyle::with_template("{spinner} {prefix:>8} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        self.bar.set_style(style);
        self.bar.set_prefix(name);
        self.bar.reset_elapsed();
        if !self.bar.is_hidden() {
            self.bar.enable_steady_tick(TICK);
        }
    }

    /// Runs `f` (which prints to stderr) with the display taken down.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Clears the display: the report follows.
    pub fn finish(&self) {
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    /// An error return must not leave a spinner ticking over the message.
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_on_a_terminal_outside_ci() {
        assert!(wanted_for(true, false));
        assert!(!wanted_for(true, true));
        assert!(!wanted_for(false, false));
        assert!(!wanted_for(false, true));
    }

    #[test]
    fn hidden_progress_counts_and_draws_nothing() {
        let p = Progress::new(false);
        assert!(p.is_hidden());
        p.files(3);
        p.file_done();
        p.file_done();
        assert_eq!(p.bar.position(), 2);
        assert_eq!(p.bar.length(), Some(3));
        p.stage("graph");
        p.finish();
        assert!(p.bar.is_finished());
    }
}
