//! Stage 5: cycles of the wait-for graph become findings.
//!
//! In: the wait-for graph (`graph::WaitGraph`) with a witness on every edge.
//! Out: `Vec<Finding>`, classified by cycle shape, with a chain for each half
//! of the cycle, a trigger condition where one is needed, and a fingerprint;
//! sorted deterministically.

pub mod build;
pub mod model;

pub use model::{Finding, Location, Role, Severity, Step};
