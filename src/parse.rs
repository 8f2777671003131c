//! Stage 2: parse. Bytes in, facts out, one tree-sitter parser per thread.
//!
//! In: a file's bytes (already decoded by `source::read`). Out: its
//! `FileFacts`. The pre-pass runs first (same offsets), the syntax tree is
//! dropped as soon as facts are extracted, so memory stays per-file.

use std::cell::RefCell;

use anyhow::{anyhow, Result};
use tree_sitter::{Parser, Tree};

use crate::facts::{self, model::FileFacts};
use crate::rules::Rules;
use crate::source::prepass::prepass;

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parse `bytes` (the file at `rel`) and extract its facts.
pub fn parse_file(rel: &str, bytes: &[u8], rules: &Rules) -> Result<FileFacts> {
    let pre = prepass(bytes);
    let tree = parse_tree(rel, &pre)?;
    Ok(facts::extract(rel, bytes, &pre, &tree, rules))
}

/// Parse `bytes` with tree-sitter-c and nothing else (no pre-pass, no
/// facts): the floor the benchmark compares a run with. Returns whether the
/// tree has an error node.
pub fn parse_only(rel: &str, bytes: &[u8]) -> Result<bool> {
    Ok(parse_tree(rel, bytes)?.root_node().has_error())
}

/// Parses with this thread's parser (made on first use).
fn parse_tree(rel: &str, bytes: &[u8]) -> Result<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_c::LANGUAGE.into())
                .map_err(|e| anyhow!("loading the C grammar: {e}"))?;
            *slot = Some(p);
        }
        let parser = slot.as_mut().ok_or_else(|| anyhow!("no parser"))?;
        parser
            .parse(bytes, None)
            .ok_or_else(|| anyhow!("{rel}: tree-sitter gave no tree"))
    })
}
