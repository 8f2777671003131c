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
    let facts = {
        let tree = parse_tree(rel, &pre)?;
        facts::extract(rel, bytes, &pre, &tree, rules)
    };
    drop(pre);
    // The facts outlive the file by the whole run; the extraction grew its
    // vectors push by push, between the syntax tree's allocations. A copy
    // made once the tree is gone holds every vector and string at its exact
    // length, packed: a whole tree's facts take much less memory.
    Ok(facts.clone())
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

/// Does the file hold nothing but preprocessor directives, comments and
/// white space (a generated register header: only `#define`s)? Its facts
/// are then empty, and tree-sitter need not run. Conservative: anything it
/// is not sure of (a directive not at the start of its line, a comment or
/// string that runs past a directive's line, a backslash followed by white
/// space) answers `false`, and the file is parsed.
pub fn has_no_definitions(bytes: &[u8]) -> bool {
    let mut i = 0;
    // At the start of a line, only white space or comments seen since.
    let mut line_start = true;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' | b'\x0b' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some(end) = find(bytes, i + 2, b"*/") else {
                    return false; // unterminated: let the parser judge
                };
                i = end + 2;
                line_start = false;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = line_end(bytes, i);
                if ends_with_backslash(&bytes[i..end]) {
                    return false; // a spliced line comment
                }
                i = end;
            }
            b'#' if line_start => match directive_end(bytes, i) {
                Some(end) => i = end,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

/// The end (the `\n` or the end of the file) of the directive starting at
/// `start`, following `\`-newline continuations as tree-sitter does.
/// `None` when a comment or literal in it runs past its last line, or a
/// backslash is followed by white space (the compilers would splice).
fn directive_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return Some(i),
            b'\\' => {
                let rest = &bytes[i + 1..];
                if rest.starts_with(b"\n") {
                    i += 2;
                } else if rest.starts_with(b"\r\n") {
                    i += 3;
                } else {
                    let ws = rest
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                        .count();
                    if ws > 0 && matches!(rest.get(ws), Some(b'\n') | None) {
                        return None;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = find(bytes, i + 2, b"*/")?;
                if bytes[i..end].contains(&b'\n') {
                    return None;
                }
                i = end + 2;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = line_end(bytes, i);
                if ends_with_backslash(&bytes[i..end]) {
                    return None;
                }
                return Some(end);
            }
            q @ (b'"' | b'\'') => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        Some(b'\\') => j += 2,
                        Some(&c) if c == q => break,
                        Some(b'\n') | None => return None,
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    Some(bytes.len())
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn ends_with_backslash(line: &[u8]) -> bool {
    line.iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .is_some_and(|&b| b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_facts(rel: &str, src: &str) -> bool {
        let f = parse_file(rel, src.as_bytes(), &Rules::embedded()).expect("parses");
        f == FileFacts {
            path: rel.to_string(),
            ..FileFacts::default()
        }
    }

    const NO_DEFS: &[&str] = &[
        "",
        "\n\n",
        "/* SPDX */\n#ifndef A_H\n#define A_H\n#define REG_X 0x10 /* x */\n#define M(a, b) \\\n  ((a) + \\\n   (b))\n#endif\n",
        "// c\n#include <linux/types.h>\n  #  define Y \"/*\" // y\n#pragma once\n",
        "/* a\n * b\n */\n#define Z 'x'\n",
    ];

    const DEFS: &[&str] = &[
        "int x;\n",
        "#define A 1\nstruct s { int a; };\n",
        "#define A 1\nstatic inline void f(void) {}\n",
        "typedef int t;\n",
        // A comment opened in a directive that runs on: parsed.
        "#define A 1 /* one\n int x; */\n",
        // A backslash followed by spaces: compilers splice, parsers differ.
        "#define A 1 \\  \nint x;\n",
        // A spliced line comment.
        "// c \\\nint x;\n",
        "/* c */ #define A 1\n",
        "#define S \"unterminated\nint x;\n",
        "DECLARE_WORK(w, f);\n",
    ];

    #[test]
    fn directive_only_files_have_no_definitions() {
        for src in NO_DEFS {
            assert!(has_no_definitions(src.as_bytes()), "{src:?}");
            assert!(empty_facts("a.h", src), "facts of {src:?}");
        }
    }

    #[test]
    fn anything_else_is_parsed() {
        for src in DEFS {
            assert!(!has_no_definitions(src.as_bytes()), "{src:?}");
        }
    }
}
