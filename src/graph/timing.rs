//! Per-stage timings and memory of the graph build, for `--stats`.

use std::time::{Duration, Instant};

/// One stage: its name, wall time, and the process's resident and peak
/// resident memory (KiB, from `/proc/self/status`; 0 where unknown) when
/// it ended.
#[derive(Clone, Debug)]
pub struct Stage {
    pub name: &'static str,
    pub time: Duration,
    pub rss_kb: u64,
    pub peak_kb: u64,
}

/// Records stages one after the other.
pub struct Stages {
    pub done: Vec<Stage>,
    last: Instant,
}

impl Default for Stages {
    fn default() -> Stages {
        Stages {
            done: Vec::new(),
            last: Instant::now(),
        }
    }
}

impl Stages {
    /// The stage that ran since the previous call (or since creation).
    pub fn mark(&mut self, name: &'static str) {
        let (rss_kb, peak_kb) = memory_kb();
        self.done.push(Stage {
            name,
            time: self.last.elapsed(),
            rss_kb,
            peak_kb,
        });
        self.last = Instant::now();
    }
}

/// (VmRSS, VmHWM) of this process in KiB; zeros off Linux.
pub fn memory_kb() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
