//! The one `Finding` value every output format is rendered from.
//!
//! In: nothing (plain data). Out: `Finding`, `Step`, `Location`, `Severity`,
//! `Role`, serialisable with serde in the shape DESIGN.md's output contract
//! gives (`--format json`).

use serde::{Deserialize, Serialize};

/// How sure we are that the cycle can happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The cycle closes on every path through the entry points.
    Error,
    /// The cycle needs a particular path (an error path, a debug option,
    /// a parameter value); `Finding::condition` says which.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in the analysed tree. `path` is relative to the tree root, with
/// `/` separators; `line` and `column` are 1-based, `column` counts bytes.
/// `start`/`end` are byte offsets of the highlighted range in the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub function: String,
    pub start: usize,
    pub end: usize,
}

/// What a step of the chain does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An entry point the driver core (or the workqueue) calls:
    /// a probe or remove callback, a work handler, a devres action.
    Entry,
    /// The context's implicit hold, or an explicit lock acquisition that is
    /// still held further down the chain.
    Hold,
    /// A direct call on the way to the wait.
    Call,
    /// A call through a function pointer (argument, global, field).
    Indirect,
    /// A devres registration: the action runs later, in the context named
    /// by the step's text.
    Devres,
    /// Binding of a work item to its handler (`INIT_WORK`, `DECLARE_WORK`).
    Bind,
    /// A function pointer stored for a later indirect call.
    Register,
    /// Queueing of a work item (part of the trigger, not of the cycle).
    Queue,
    /// The blocking operation that closes one half of the cycle.
    Wait,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Entry => "entry",
            Role::Hold => "hold",
            Role::Call => "call",
            Role::Indirect => "indirect",
            Role::Devres => "devres",
            Role::Bind => "bind",
            Role::Register => "register",
            Role::Queue => "queue",
            Role::Wait => "wait",
        }
    }
}

/// One step of a finding's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(flatten)]
    pub at: Location,
    pub role: Role,
    /// One line, e.g. "flush_work(&dax_hmem_work) waits for hmem_deferred_work".
    pub text: String,
    /// Which edge of the cycle this step witnesses (0-based, in `cycle` order);
    /// trigger steps (role `queue`) carry the edge they enable.
    pub edge: usize,
    /// Call depth below the edge's entry point, for indented rendering.
    pub depth: u32,
}

/// A circular wait, with everything any output format needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable UPPER_SNAKE name, e.g. `PROBE_FLUSH_WAITS_FOR_PROBE`.
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Severity,
    /// One sentence.
    pub message: String,
    /// The primary location: the waiting site of the first edge.
    pub location: Location,
    /// The resources of the cycle, first repeated at the end:
    /// `["probe", "work:dax_hmem_work", "probe"]`.
    pub cycle: Vec<String>,
    /// When the cycle needs a particular path, that path in one line.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub condition: Option<String>,
    pub chain: Vec<Step>,
    /// Stable across unrelated edits: type + functions + resources, no lines.
    pub fingerprint: String,
}
