//! Stage 3: facts. One syntax tree in, one `FileFacts` out.
//!
//! In: the file's original bytes, its pre-passed bytes (same offsets), the
//! tree-sitter tree of the pre-passed bytes, and the rules. Out: plain data
//! (`model::FileFacts`): functions with their sites in order and the locks
//! held at each, globals, struct definitions, typedefs, file-scope work
//! bindings and function-pointer initializers. The tree is dropped after.

pub mod function;
pub mod model;
pub mod syntax;

use tree_sitter::{Node, Tree};

use crate::rules::{Effect, Rules};
use model::{FileBind, FileFacts, FileStore, Global, KeyPath, StructDef};
use syntax::{
    declarator_name, declares_function, is_ident, is_static, named_children, split_macro_args,
    text, type_name,
};

/// Deeper nesting of declarations than this is not walked.
const MAX_DEPTH: usize = 200;

/// Extract everything the later stages need from one parsed file.
pub fn extract(path: &str, orig: &[u8], pre: &[u8], tree: &Tree, rules: &Rules) -> FileFacts {
    let mut facts = FileFacts {
        path: path.to_string(),
        ..Default::default()
    };
    let mut bodies = Vec::new();
    top_level(
        tree.root_node(),
        pre,
        orig,
        rules,
        &mut facts,
        &mut bodies,
        0,
    );
    facts.functions_with_errors = facts.functions.iter().filter(|f| f.has_errors).count() as u32;
    bodies.sort_unstable();
    file_scope_binds(tree, pre, orig, rules, &bodies, &mut facts);
    facts
}

fn top_level(
    n: Node,
    src: &[u8],
    orig: &[u8],
    rules: &Rules,
    facts: &mut FileFacts,
    bodies: &mut Vec<(usize, usize)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for c in named_children(n) {
        match c.kind() {
            "function_definition" => {
                if let Some(b) = c.child_by_field_name("body") {
                    bodies.push((b.start_byte(), b.end_byte()));
                }
                if let Some(f) = function::extract_function(c, src, orig, rules) {
                    facts.functions.push(f);
                }
                structs_in(c.child_by_field_name("type"), src, facts, depth);
            }
            "declaration" => declaration(c, src, facts, depth),
            "type_definition" => typedef(c, src, facts, depth),
            "struct_specifier" | "union_specifier" => structs_in(Some(c), src, facts, depth),
            "translation_unit"
            | "linkage_specification"
            | "declaration_list"
            | "ERROR"
            | "preproc_if"
            | "preproc_ifdef"
            | "preproc_else"
            | "preproc_elif"
            | "preproc_elifdef" => top_level(c, src, orig, rules, facts, bodies, depth + 1),
            _ => {}
        }
    }
}

/// A file-scope declaration: globals, struct definitions in its type, and
/// `.field = function` initializers.
fn declaration(n: Node, src: &[u8], facts: &mut FileFacts, depth: usize) {
    let ty_node = n.child_by_field_name("type");
    structs_in(ty_node, src, facts, depth);
    let ty = ty_node.map(|t| type_name(t, src)).unwrap_or_default();
    let stat = is_static(n, src);
    let mut cur = n.walk();
    let decls: Vec<Node> = n.children_by_field_name("declarator", &mut cur).collect();
    for d in decls {
        if declares_function(d) {
            continue;
        }
        let Some((name, _)) = declarator_name(d, src) else {
            continue;
        };
        if let Some(v) = d.child_by_field_name("value") {
            if v.kind() == "initializer_list" {
                initializer(v, src, &ty, &name, &mut Vec::new(), facts, 0);
            }
        }
        facts.globals.push(Global {
            name,
            ty: ty.clone(),
            is_static: stat,
        });
    }
}

/// `.a = f`, `.b = { .c = g }` inside a struct variable's initializer.
fn initializer(
    list: Node,
    src: &[u8],
    ty: &str,
    var: &str,
    fields: &mut Vec<String>,
    facts: &mut FileFacts,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    for item in named_children(list) {
        match item.kind() {
            "initializer_pair" => {
                let mut names = Vec::new();
                let mut cur = item.walk();
                for d in item.children_by_field_name("designator", &mut cur) {
                    let t = text(d, src).trim_start_matches('.').trim();
                    if is_ident(t) {
                        names.push(t.to_string());
                    }
                }
                let Some(v) = item.child_by_field_name("value") else {
                    continue;
                };
                let pushed = names.len();
                fields.extend(names);
                initializer_value(v, src, ty, var, fields, facts, depth);
                fields.truncate(fields.len() - pushed);
            }
            // Arrays of structs: `{ { .probe = a }, { .probe = b } }`.
            "initializer_list" => initializer(item, src, ty, var, fields, facts, depth + 1),
            _ => {}
        }
    }
}

fn initializer_value(
    v: Node,
    src: &[u8],
    ty: &str,
    var: &str,
    fields: &mut Vec<String>,
    facts: &mut FileFacts,
    depth: usize,
) {
    match v.kind() {
        "initializer_list" => initializer(v, src, ty, var, fields, facts, depth + 1),
        "identifier" if !fields.is_empty() => facts.stores.push(FileStore {
            pos: syntax::pos(v),
            ty: ty.to_string(),
            fields: fields.clone(),
            func: text(v, src).to_string(),
            var: var.to_string(),
        }),
        _ => {}
    }
}

fn typedef(n: Node, src: &[u8], facts: &mut FileFacts, depth: usize) {
    let Some(t) = n.child_by_field_name("type") else {
        return;
    };
    let mut cur = n.walk();
    let names: Vec<String> = n
        .children_by_field_name("declarator", &mut cur)
        .filter_map(|d| declarator_name(d, src).map(|(n, _)| n))
        .collect();
    let anon = matches!(t.kind(), "struct_specifier" | "union_specifier")
        && t.child_by_field_name("name").is_none()
        && t.child_by_field_name("body").is_some();
    if anon {
        if let (Some(name), Some(body)) = (names.first(), t.child_by_field_name("body")) {
            struct_def(name, body, src, facts, depth);
        }
    } else {
        structs_in(Some(t), src, facts, depth);
        let target = type_name(t, src);
        for name in names {
            if !target.is_empty() && name != target {
                facts.typedefs.push((name, target.clone()));
            }
        }
    }
}

/// Struct definitions (with a body) in a type specifier.
fn structs_in(t: Option<Node>, src: &[u8], facts: &mut FileFacts, depth: usize) {
    let Some(t) = t else { return };
    if !matches!(t.kind(), "struct_specifier" | "union_specifier") {
        return;
    }
    if let (Some(name), Some(body)) = (t.child_by_field_name("name"), t.child_by_field_name("body"))
    {
        struct_def(text(name, src), body, src, facts, depth);
    }
}

fn struct_def(name: &str, body: Node, src: &[u8], facts: &mut FileFacts, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let mut def = StructDef {
        name: name.to_string(),
        fields: Vec::new(),
    };
    fields_of(body, name, src, &mut def.fields, facts, depth);
    facts.structs.push(def);
}

/// Fields of a struct body; members of anonymous struct/union members are
/// the parent's own (C11), named members of an unnamed struct type get a
/// synthetic type `parent::member`.
fn fields_of(
    body: Node,
    parent: &str,
    src: &[u8],
    out: &mut Vec<(String, String)>,
    facts: &mut FileFacts,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for f in named_children(body) {
        if f.kind().starts_with("preproc_") {
            fields_of(f, parent, src, out, facts, depth + 1);
            continue;
        }
        if f.kind() != "field_declaration" {
            continue;
        }
        let Some(t) = f.child_by_field_name("type") else {
            continue;
        };
        let mut cur = f.walk();
        let decls: Vec<Node> = f.children_by_field_name("declarator", &mut cur).collect();
        let unnamed_type = matches!(t.kind(), "struct_specifier" | "union_specifier")
            && t.child_by_field_name("name").is_none();
        let tbody = t.child_by_field_name("body");
        if decls.is_empty() {
            if let (true, Some(b)) = (unnamed_type, tbody) {
                fields_of(b, parent, src, out, facts, depth + 1);
            }
            continue;
        }
        structs_in(Some(t), src, facts, depth + 1);
        for d in decls {
            let Some((name, _)) = declarator_name(d, src) else {
                continue;
            };
            let ty = match (unnamed_type, tbody) {
                (true, Some(b)) => {
                    let synth = format!("{parent}::{name}");
                    struct_def(&synth, b, src, facts, depth + 1);
                    synth
                }
                _ => type_name(t, src),
            };
            out.push((name, ty));
        }
    }
}

/// `DECLARE_WORK(name, fn)` and `__WORK_INITIALIZER(n, f)` at file scope:
/// tree-sitter misparses these macro shapes, so they are recovered from the
/// text, outside function bodies, comments and `#define`s.
fn file_scope_binds(
    tree: &Tree,
    src: &[u8],
    orig: &[u8],
    rules: &Rules,
    bodies: &[(usize, usize)],
    facts: &mut FileFacts,
) {
    let Ok(text_all) = std::str::from_utf8(src) else {
        return;
    };
    let bytes = text_all.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b == b'_' || b.is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
            i += 1;
        }
        let word = &text_all[start..i];
        if !rules.knows(word) || (start > 0 && is_ident_byte(bytes[start - 1])) {
            continue;
        }
        let bind = rules.effects(word).iter().find_map(|e| match e {
            Effect::Bind(r) if r.declares || r.initializer => Some(r.clone()),
            _ => None,
        });
        let Some(rule) = bind else { continue };
        if in_ranges(bodies, start) || in_comment_or_define(tree, start) {
            continue;
        }
        let rest = &text_all[i..];
        let Some(open) = rest.find(|c: char| !c.is_whitespace()) else {
            continue;
        };
        if !rest[open..].starts_with('(') {
            continue;
        }
        let after = i + open + 1;
        let Some((args, used)) = split_macro_args(&text_all[after..]) else {
            continue;
        };
        let (Some(key), Some(handler)) = (args.get(rule.arg), args.get(rule.handler)) else {
            continue;
        };
        let handler = handler.trim_start_matches('&').trim();
        let Some(key) = text_path(key) else { continue };
        if !is_ident(handler) {
            continue;
        }
        let end = after + used;
        if rule.declares && key.fields.is_empty() {
            // The declared object is a file-scope variable of its own.
            let before = text_all[..start].trim_end();
            facts.globals.push(Global {
                name: key.display(),
                ty: String::new(),
                is_static: before.ends_with("static"),
            });
        }
        let line = text_all[..start].matches('\n').count() as u32 + 1;
        let col = (start - text_all[..start].rfind('\n').map(|p| p + 1).unwrap_or(0)) as u32 + 1;
        let snippet = std::str::from_utf8(orig.get(start..end).unwrap_or_default())
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        facts.binds.push(FileBind {
            pos: model::Pos {
                start: start as u32,
                end: end as u32,
                line,
                col,
            },
            key,
            handler: handler.to_string(),
            api: word.to_string(),
            text: snippet,
        });
        i = end;
    }
}

fn is_ident_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

fn in_ranges(ranges: &[(usize, usize)], at: usize) -> bool {
    let i = ranges.partition_point(|r| r.1 <= at);
    ranges.get(i).is_some_and(|r| r.0 <= at && at < r.1)
}

fn in_comment_or_define(tree: &Tree, at: usize) -> bool {
    let mut n = tree.root_node().descendant_for_byte_range(at, at + 1);
    while let Some(x) = n {
        if matches!(
            x.kind(),
            "comment" | "preproc_def" | "preproc_function_def" | "string_literal"
        ) {
            return true;
        }
        n = x.parent();
    }
    false
}

/// `a.b->c` / `&a.b` written as macro argument text, rooted at a global.
fn text_path(t: &str) -> Option<KeyPath> {
    let t = t.trim().trim_start_matches('&').trim();
    let t = t.trim_start_matches('(').trim_end_matches(')').trim();
    let mut parts = t.split(['.']).flat_map(|p| p.split("->")).map(str::trim);
    let root = parts.next().filter(|r| is_ident(r))?;
    let mut key = KeyPath::global(root);
    for p in parts {
        if !is_ident(p) {
            return None;
        }
        key.fields.push(p.to_string());
    }
    Some(key)
}

#[cfg(test)]
mod tests;
