//! waitcheck: static detection of circular waits on Linux driver paths.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! `source` -> `parse` -> `facts` -> `graph` -> `findings` -> `report`;
//! `check` runs it end to end, `rules` is the kernel API model it consults.

pub mod baseline;
pub mod cache;
pub mod check;
pub mod config;
pub mod explain;
pub mod facts;
pub mod findings;
pub mod graph;
pub mod parse;
pub mod patch;
pub mod patchcheck;
pub mod progress;
pub mod report;
pub mod rules;
pub mod source;
pub mod suppress;
