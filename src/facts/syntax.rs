//! Small helpers over tree-sitter-c nodes: text, declarator names, type names.

use tree_sitter::Node;

use super::model::Pos;

/// The node's text (the source is valid UTF-8 after `source::read`).
pub fn text<'a>(n: Node, src: &'a [u8]) -> &'a str {
    src.get(n.start_byte()..n.end_byte())
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

pub fn pos(n: Node) -> Pos {
    let p = n.start_position();
    Pos {
        start: n.start_byte() as u32,
        end: n.end_byte() as u32,
        line: p.row as u32 + 1,
        col: p.column as u32 + 1,
    }
}

/// Named children, skipping comments (they may appear anywhere).
pub fn named_children<'t>(n: Node<'t>) -> Vec<Node<'t>> {
    let mut cur = n.walk();
    n.named_children(&mut cur)
        .filter(|c| c.kind() != "comment")
        .collect()
}

/// The identifier a declarator declares: descends through pointer, array,
/// function, parenthesized, attributed and init declarators.
pub fn declarator_name<'t>(mut n: Node<'t>, src: &[u8]) -> Option<(String, Node<'t>)> {
    for _ in 0..64 {
        match n.kind() {
            "identifier" | "field_identifier" | "type_identifier" => {
                return Some((text(n, src).to_string(), n));
            }
            _ => {
                let next = n
                    .child_by_field_name("declarator")
                    .or_else(|| named_children(n).into_iter().find(is_declarator_like))?;
                n = next;
            }
        }
    }
    None
}

fn is_declarator_like(n: &Node) -> bool {
    n.kind().ends_with("declarator")
        || matches!(
            n.kind(),
            "identifier" | "field_identifier" | "type_identifier"
        )
}

/// The function_declarator inside a definition's declarator, if any.
pub fn function_declarator<'t>(mut n: Node<'t>) -> Option<Node<'t>> {
    for _ in 0..64 {
        if n.kind() == "function_declarator" {
            return Some(n);
        }
        n = n.child_by_field_name("declarator")?;
    }
    None
}

/// Does the declarator declare a function (a prototype), not a variable?
/// `int (*fp)(void)` is a variable: its function_declarator wraps a
/// parenthesized pointer.
pub fn declares_function(n: Node) -> bool {
    match function_declarator(n) {
        Some(f) => f
            .child_by_field_name("declarator")
            .is_some_and(|d| d.kind() != "parenthesized_declarator"),
        None => false,
    }
}

/// Normalised type name of a type specifier: `struct foo` -> `foo`,
/// typedef names as written, `<anon>` for unnamed aggregates.
pub fn type_name(n: Node, src: &[u8]) -> String {
    match n.kind() {
        "struct_specifier" | "union_specifier" | "enum_specifier" => n
            .child_by_field_name("name")
            .map(|c| text(c, src).to_string())
            .unwrap_or_else(|| "<anon>".to_string()),
        "type_identifier" | "primitive_type" | "sized_type_specifier" => text(n, src).to_string(),
        "type_descriptor" => n
            .child_by_field_name("type")
            .map(|t| type_name(t, src))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Does a storage-class specifier `static` appear among the node's children?
pub fn is_static(n: Node, src: &[u8]) -> bool {
    let mut cur = n.walk();
    let found = n
        .children(&mut cur)
        .any(|c| c.kind() == "storage_class_specifier" && text(c, src) == "static");
    found
}

/// Strip `&`, `*`, casts and parentheses around an expression.
pub fn strip_expr(mut n: Node) -> Node {
    for _ in 0..64 {
        match n.kind() {
            "parenthesized_expression" => match named_children(n).first() {
                Some(c) => n = *c,
                None => return n,
            },
            "pointer_expression" => match n.child_by_field_name("argument") {
                Some(c) => n = c,
                None => return n,
            },
            _ => return n,
        }
    }
    n
}

/// One line of source for a site: whitespace collapsed, at most 96 chars.
pub fn snippet(n: Node, src: &[u8]) -> String {
    let t = text(n, src);
    let mut out = String::with_capacity(t.len().min(100));
    let mut space = false;
    for ch in t.chars() {
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(ch);
        if out.len() >= 96 {
            out.push_str("...");
            break;
        }
    }
    out
}

/// Split a macro's argument text `(a, b(c, d), e)` at top-level commas.
/// `s` starts just after the opening parenthesis; returns the arguments and
/// the byte length consumed including the closing parenthesis.
pub fn split_macro_args(s: &str) -> Option<(Vec<&str>, usize)> {
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut args = Vec::new();
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                args.push(s[start..i].trim());
                return Some((args, i + 1));
            }
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                args.push(s[start..i].trim());
                start = i + 1;
            }
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

pub fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}
