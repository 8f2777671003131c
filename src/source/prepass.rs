//! The byte-preserving kernel pre-pass.
//!
//! In: a file's bytes (valid UTF-8 after `source::read`, but any bytes are
//! accepted). Out: bytes of exactly the same length in which every `\n` is
//! at the same offset, so every position in the tree-sitter tree of the
//! output is a position in the user's file. Bytes are only replaced by
//! spaces, or an identifier is overwritten in place:
//!
//! - kernel annotation macros tree-sitter-c cannot parse without a
//!   preprocessor (`__iomem`, `__init`, `__acquires(x)`, ...) are blanked;
//! - statement macros used as loop heads (`list_for_each_entry(...) {`,
//!   `scoped_guard(...)`) get their name overwritten by `while` (or `for`)
//!   and spaces, so the facts stage can read the original name back at the
//!   same offset; a statement macro used without its `;` is blanked;
//! - `#if` groups tree-sitter-c cannot take as they stand (a branch that
//!   does not balance `{}`/`()` or is not whole statements, or a group
//!   inside an expression or initializer) keep their first branch only
//!   (the rest, and the group's directive lines, blanked); `#define`s
//!   where tree-sitter-c takes none are blanked;
//! - macro arguments become expressions: a type loses all but its last
//!   word (`container_of(p, struct foo, m)` -> `container_of(p, foo, m)`),
//!   statement keywords and trailing `;`/`,` are blanked, a braced list
//!   becomes `{ }`; string macros (`KERN_ERR "x"`), GNU ranges
//!   (`case 1 ... 3:`) and pasted numbers (`5705_PLUS`) are made C.
//!
//! Everything else is byte-identical. The scanner is a single linear pass
//! over the bytes (comments, string and character literals skipped) into a
//! token list, then linear passes over the tokens: no regex, no recursion,
//! so it runs on every file of a whole kernel tree and on any input.
//! Measured on Linux 6.12 `drivers/`: 85.5% of function definitions parse
//! clean with their name from the raw bytes, 99.8% after the pre-pass.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Whether an annotation macro takes a parenthesised argument that must be
/// blanked with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Args {
    /// A bare word: `__iomem`.
    None,
    /// A word followed by a balanced `( ... )`: `__aligned(8)`. If no `(`
    /// follows, the word alone is blanked.
    Parens,
}

/// Kernel annotation macros blanked before parsing. One table, so adding a
/// name found to confuse tree-sitter-c is a one-line change. `inline` is
/// not here: tree-sitter-c knows it, and blanking it changed nothing
/// measurable on `drivers/`.
const ANNOTATIONS: &[(&str, Args)] = &[
    // Address-space and sparse annotations.
    ("__iomem", Args::None),
    ("__user", Args::None),
    ("__rcu", Args::None),
    ("__percpu", Args::None),
    ("__force", Args::None),
    ("__bitwise", Args::None),
    ("__private", Args::None),
    ("__nocast", Args::None),
    ("__safe", Args::None),
    ("__kernel", Args::None),
    ("__data_racy", Args::None),
    // Section placement.
    ("__init", Args::None),
    ("__exit", Args::None),
    ("__initdata", Args::None),
    ("__initconst", Args::None),
    ("__exitdata", Args::None),
    ("__devinit", Args::None),
    ("__devexit", Args::None),
    ("__devinitdata", Args::None),
    ("__devinitconst", Args::None),
    ("__ref", Args::None),
    ("__refdata", Args::None),
    ("__refconst", Args::None),
    ("__read_mostly", Args::None),
    ("__ro_after_init", Args::None),
    ("__init_or_module", Args::None),
    ("__meminit", Args::None),
    ("__meminitdata", Args::None),
    ("__meminitconst", Args::None),
    ("__net_init", Args::None),
    ("__net_exit", Args::None),
    ("__net_initdata", Args::None),
    ("__exit_call", Args::None),
    ("__initcall", Args::None),
    ("__setup_param", Args::None),
    ("__sched", Args::None),
    ("__kprobes", Args::None),
    ("__irq_entry", Args::None),
    ("__cpuidle", Args::None),
    ("__exception_irq_entry", Args::None),
    ("__xipram", Args::None),
    ("__init_or_acpilib", Args::None),
    ("__head", Args::None),
    ("__initdata_or_meminfo", Args::None),
    ("__section", Args::Parens),
    // Function and variable attributes.
    ("__maybe_unused", Args::None),
    ("__always_unused", Args::None),
    ("__used", Args::None),
    ("__always_inline", Args::None),
    ("noinline", Args::None),
    ("__noinline", Args::None),
    ("noinline_for_stack", Args::None),
    ("__inline", Args::None),
    ("__inline__", Args::None),
    ("__cold", Args::None),
    ("__hot", Args::None),
    ("__weak", Args::None),
    ("__visible", Args::None),
    ("asmlinkage", Args::None),
    ("notrace", Args::None),
    ("__must_check", Args::None),
    ("__pure", Args::None),
    ("__packed", Args::None),
    ("__deprecated", Args::None),
    ("____cacheline_aligned", Args::None),
    ("____cacheline_aligned_in_smp", Args::None),
    ("__cacheline_aligned", Args::None),
    ("__cacheline_aligned_in_smp", Args::None),
    ("____cacheline_internodealigned_in_smp", Args::None),
    ("__randomize_layout", Args::None),
    ("__no_randomize_layout", Args::None),
    ("__noreturn", Args::None),
    ("__latent_entropy", Args::None),
    ("__nocfi", Args::None),
    ("__noclone", Args::None),
    ("__flatten", Args::None),
    ("__malloc", Args::None),
    ("__no_kcsan", Args::None),
    ("__no_sanitize_address", Args::None),
    ("__attribute_const__", Args::None),
    ("__nonstring", Args::None),
    ("__noinstr", Args::None),
    ("noinstr", Args::None),
    ("__fix_address", Args::None),
    ("__noipa", Args::None),
    ("__naked", Args::None),
    ("__bpf_kfunc", Args::None),
    ("__efiapi", Args::None),
    // ACPICA calling-convention and export markers.
    ("ACPI_SYSTEM_XFACE", Args::None),
    ("ACPI_EXTERNAL_XFACE", Args::None),
    ("ACPI_INTERNAL_XFACE", Args::None),
    ("ACPI_INTERNAL_VAR_XFACE", Args::None),
    ("ACPI_INIT_FUNCTION", Args::None),
    ("__designated_init", Args::None),
    ("__aligned_largest", Args::None),
    ("__alias", Args::Parens),
    ("__attribute__", Args::Parens),
    ("__attribute", Args::Parens),
    ("__aligned", Args::Parens),
    ("__printf", Args::Parens),
    ("__scanf", Args::Parens),
    ("__alloc_size", Args::Parens),
    ("__assume_aligned", Args::Parens),
    ("__compiletime_error", Args::Parens),
    ("__nocapture", Args::Parens),
    ("__diag_ignore", Args::Parens),
    ("__counted_by", Args::Parens),
    ("__counted_by_le", Args::Parens),
    ("__counted_by_be", Args::Parens),
    ("__free", Args::Parens),
    ("__cleanup", Args::Parens),
    // Lock-context annotations (sparse / clang thread safety).
    ("__acquires", Args::Parens),
    ("__releases", Args::Parens),
    ("__must_hold", Args::Parens),
    ("__cond_acquires", Args::Parens),
    ("__cond_releases", Args::Parens),
    ("__guarded_by", Args::Parens),
    ("__pt_guarded_by", Args::Parens),
    ("__acquire_shared", Args::Parens),
    ("__release_shared", Args::Parens),
];

/// Names that, used like `name(...) {` or `name(...) stmt;`, are loop
/// heads even though they do not contain `for_each`.
const LOOP_HEADS: &[&str] = &["scoped_guard", "scoped_cond_guard"];

/// Statement keywords that macros take as an argument
/// (`scoped_cond_guard(class, return -EINTR, lock)`,
/// `PP_ASSERT_WITH_CODE(c, msg, return ret)`); blanked so the argument
/// parses as an expression.
const ARG_KEYWORDS: &[&str] = &["return", "goto", "break", "continue"];

/// See the module doc. The output has the length of `src` and its `\n`
/// bytes at the same offsets.
pub fn prepass(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    let toks = lex(src);
    for t in toks
        .iter()
        .filter(|t| t.kind == Kind::Directive(Dir::Other))
    {
        blank_directive_comments(src, t, &mut out);
        blank_named_variadic(src, t, &mut out);
    }
    let blanks = merge(conditional_blanks(&toks, src));
    for &(s, e) in &blanks {
        blank(&mut out, s, e);
    }
    let visible = surviving(toks, &blanks);
    let visible = blank_annotations(&visible, src, &mut out);
    rewrite(&visible, src, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Lexing

/// A preprocessor directive's role in `#if` grouping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    /// `#if`, `#ifdef`, `#ifndef`; `zero` for a literal `#if 0`.
    If {
        zero: bool,
    },
    /// `#elif`, `#elifdef`, `#elifndef`.
    Elif,
    Else,
    Endif,
    /// `#define`, `#include`, ...: kept unless misplaced.
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ident,
    /// Any single byte that is not part of another token.
    Punct(u8),
    /// A string, character or number literal.
    Literal,
    /// A whole directive, from `#` to the end of its logical line.
    Directive(Dir),
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

fn is_ident_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_ident_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Tokenise `src`: comments and whitespace dropped, directives kept whole.
fn lex(src: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::with_capacity(src.len() / 4);
    let mut i = 0;
    let mut line_start = true;
    while i < src.len() {
        let b = src[i];
        let next = src.get(i + 1).copied().unwrap_or(0);
        let start = i;
        let kind = match b {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b'/' if next == b'*' => {
                i = skip_block_comment(src, i);
                continue;
            }
            b'/' if next == b'/' => {
                i = skip_line_comment(src, i);
                continue;
            }
            b'\\' if continues_line(src, i) => {
                i = skip_continuation(src, i);
                continue;
            }
            b'#' if line_start => {
                i = directive_end(src, i);
                Kind::Directive(classify(&src[start..i]))
            }
            b'"' | b'\'' => {
                i = skip_quoted(src, i, b);
                Kind::Literal
            }
            _ if is_ident_start(b) => {
                i = skip_ident(src, i);
                Kind::Ident
            }
            _ if b.is_ascii_digit() || (b == b'.' && next.is_ascii_digit()) => {
                i = skip_number(src, i);
                Kind::Literal
            }
            _ => {
                i += 1;
                Kind::Punct(b)
            }
        };
        line_start = false;
        toks.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    toks
}

/// Index just past the `*/` closing the comment at `i` (or the end).
fn skip_block_comment(src: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    while j + 1 < src.len() {
        if src[j] == b'*' && src[j + 1] == b'/' {
            return j + 2;
        }
        j += 1;
    }
    src.len()
}

/// Index of the newline ending the `//` comment at `i` (continuations
/// included), or the end.
fn skip_line_comment(src: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < src.len() {
        if src[j] == b'\n' && !escaped_newline(src, j) {
            return j;
        }
        j += 1;
    }
    src.len()
}

/// Is the `\` at `i` a line continuation (`\` then optional `\r`, `\n`)?
fn continues_line(src: &[u8], i: usize) -> bool {
    match src.get(i + 1) {
        Some(b'\n') => true,
        Some(b'\r') => src.get(i + 2) == Some(&b'\n'),
        _ => false,
    }
}

fn skip_continuation(src: &[u8], i: usize) -> usize {
    if src.get(i + 1) == Some(&b'\r') {
        i + 3
    } else {
        i + 2
    }
}

/// Is the newline at `j` preceded by a backslash (a continued line)?
fn escaped_newline(src: &[u8], j: usize) -> bool {
    let before = &src[..j];
    let before = before.strip_suffix(b"\r").unwrap_or(before);
    before.last() == Some(&b'\\')
}

/// Index just past the literal opened by `q` at `i`. An unterminated
/// literal ends before the newline, so a stray `'` (English text in an
/// `#if 0` block) cannot swallow the rest of the file.
fn skip_quoted(src: &[u8], i: usize, q: u8) -> usize {
    let mut j = i + 1;
    while j < src.len() {
        match src[j] {
            b'\\' => j += 2,
            b'\n' => return j,
            c if c == q => return j + 1,
            _ => j += 1,
        }
    }
    src.len()
}

fn skip_ident(src: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < src.len() && is_ident_byte(src[j]) {
        j += 1;
    }
    j
}

/// A preprocessing number: digits, letters, `_`, `.` and signed exponents.
fn skip_number(src: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < src.len() {
        let c = src[j];
        let exp_sign = (c == b'+' || c == b'-') && matches!(src[j - 1], b'e' | b'E' | b'p' | b'P');
        if is_ident_byte(c) || c == b'.' || exp_sign {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// End of the directive starting at `i`: its logical line (continuations
/// and block comments spanning lines included), before the newline.
fn directive_end(src: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < src.len() {
        match src[j] {
            b'\n' if !escaped_newline(src, j) => return j,
            b'/' if src.get(j + 1) == Some(&b'*') => j = skip_block_comment(src, j),
            b'/' if src.get(j + 1) == Some(&b'/') => return skip_line_comment(src, j),
            q @ (b'"' | b'\'') => j = skip_quoted(src, j, q),
            _ => j += 1,
        }
    }
    src.len()
}

/// Classify a directive's text (starting at `#`).
fn classify(text: &[u8]) -> Dir {
    let rest = skip_blanks(text, 1);
    let name_end = skip_ident(text, rest);
    match &text[rest..name_end] {
        b"if" => Dir::If {
            zero: is_literal_zero(text, name_end),
        },
        b"ifdef" | b"ifndef" => Dir::If { zero: false },
        b"elif" | b"elifdef" | b"elifndef" => Dir::Elif,
        b"else" => Dir::Else,
        b"endif" => Dir::Endif,
        _ => Dir::Other,
    }
}

fn skip_blanks(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && matches!(text[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// tree-sitter-c ends a `#define` body at a `/*`, so a comment followed by
/// more of the directive (`A | /* x */ \` then `B)`) breaks the parse of
/// the code after it. Such comments are blanked; a trailing one is kept.
fn blank_directive_comments(src: &[u8], t: &Tok, out: &mut [u8]) {
    let mut j = t.start + 1;
    while j < t.end {
        match src[j] {
            b'/' if src.get(j + 1) == Some(&b'*') => {
                let end = skip_block_comment(src, j).min(t.end);
                if src[end..t.end].iter().any(|c| !c.is_ascii_whitespace()) {
                    blank(out, j, end);
                }
                j = end;
            }
            q @ (b'"' | b'\'') => j = skip_quoted(src, j, q),
            _ => j += 1,
        }
    }
}

/// tree-sitter-c knows `...` but not GNU's named `args...` in a
/// `#define`'s parameters, and the broken define can derail the parse of
/// code far below it: the name is blanked (`(fmt,     ...)`).
fn blank_named_variadic(src: &[u8], t: &Tok, out: &mut [u8]) {
    let text = &src[t.start..t.end];
    let rest = skip_blanks(text, 1);
    let name_end = skip_ident(text, rest);
    if &text[rest..name_end] != b"define" {
        return;
    }
    let macro_start = skip_blanks(text, name_end);
    let macro_end = skip_ident(text, macro_start);
    if text.get(macro_end) != Some(&b'(') {
        return;
    }
    let Some(close) = text[macro_end..].iter().position(|&c| c == b')') else {
        return;
    };
    let params = &text[macro_end..macro_end + close];
    let Some(dots) = params.windows(3).position(|w| w == b"...") else {
        return;
    };
    let mut j = dots;
    while j > 0 && matches!(params[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    let mut k = j;
    while k > 0 && is_ident_byte(params[k - 1]) {
        k -= 1;
    }
    let base = t.start + macro_end;
    blank(out, base + k, base + j);
}

/// Is the `#if` condition after `i` the literal `0`?
fn is_literal_zero(text: &[u8], i: usize) -> bool {
    let j = skip_blanks(text, i);
    text.get(j) == Some(&b'0') && !text.get(j + 1).is_some_and(|&c| is_ident_byte(c))
}

// ---------------------------------------------------------------------------
// Unbalanced `#if` groups

/// Running nesting of one bracket kind over a stretch of code: net change
/// and lowest point reached, so stretches compose without re-scanning.
#[derive(Clone, Copy, Default, Debug)]
struct Bal {
    delta: i64,
    low: i64,
}

impl Bal {
    fn step(&mut self, by: i64) {
        self.delta += by;
        self.low = self.low.min(self.delta);
    }

    fn then(self, next: Bal) -> Bal {
        Bal {
            delta: self.delta + next.delta,
            low: self.low.min(self.delta + next.low),
        }
    }

    /// Self-contained: closes everything it opens, never closes more.
    fn closed(self) -> bool {
        self.delta == 0 && self.low >= 0
    }
}

/// Brace and parenthesis nesting of a stretch of code.
#[derive(Clone, Copy, Default, Debug)]
struct Shape {
    brace: Bal,
    paren: Bal,
}

impl Shape {
    fn then(self, next: Shape) -> Shape {
        Shape {
            brace: self.brace.then(next.brace),
            paren: self.paren.then(next.paren),
        }
    }

    fn closed(self) -> bool {
        self.brace.closed() && self.paren.closed()
    }

    fn punct(&mut self, b: u8) {
        match b {
            b'{' => self.brace.step(1),
            b'}' => self.brace.step(-1),
            b'(' => self.paren.step(1),
            b')' => self.paren.step(-1),
            _ => {}
        }
    }
}

/// What an open bracket encloses, as far as `#if` groups go: tree-sitter-c
/// accepts conditionals among statements, declarations, struct fields and
/// enumerators, not inside expressions or initializer lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    Block,
    Fields,
    Enum,
    Init,
    Parens,
}

/// One open bracket, in an arena of parent-linked nodes so the whole stack
/// can be saved and restored in O(1) at `#else` and `#endif`.
#[derive(Clone, Copy, Debug)]
struct Frame {
    ctx: Ctx,
    /// Token index of the opening bracket.
    tok: usize,
    parent: Option<usize>,
}

/// The bracket stack as the parser will see it once every group keeps
/// the branch it keeps.
#[derive(Default)]
struct Brackets {
    arena: Vec<Frame>,
    top: Option<usize>,
    /// Token index of the `(` closed last (for `(type){...}` literals).
    last_paren: Option<usize>,
}

impl Brackets {
    fn ctx(&self) -> Option<Ctx> {
        self.top.map(|t| self.arena[t].ctx)
    }

    fn push(&mut self, ctx: Ctx, tok: usize) {
        self.arena.push(Frame {
            ctx,
            tok,
            parent: self.top,
        });
        self.top = Some(self.arena.len() - 1);
    }

    /// Pop the innermost bracket; returns its opening token.
    fn pop(&mut self) -> Option<usize> {
        let t = self.top?;
        self.top = self.arena[t].parent;
        Some(self.arena[t].tok)
    }
}

/// An open `#if` group while scanning.
struct Group {
    /// Token indexes of the `#if` and each `#elif`/`#else`.
    heads: Vec<usize>,
    /// Per branch: nesting shape, first and last token.
    branches: Vec<Branch>,
    zero: bool,
    /// The group starts where tree-sitter accepts a conditional.
    placed_well: bool,
    /// Inside an enum body, where items end with `,`.
    in_enum: bool,
    /// Bracket stack at the `#if`, and at the end of the kept branch.
    start: Option<usize>,
    kept_end: Option<Option<usize>>,
}

#[derive(Clone, Copy, Default)]
struct Branch {
    shape: Shape,
    first: Option<usize>,
    last: Option<usize>,
}

/// Scanner state for `conditional_blanks`.
struct CondScan<'a> {
    toks: &'a [Tok],
    src: &'a [u8],
    stack: Vec<Group>,
    brackets: Brackets,
    blanks: Vec<(usize, usize)>,
}

/// Byte ranges to blank for the `#if` groups that tree-sitter cannot parse
/// as they stand. Groups are resolved innermost first, and a resolved group
/// counts as its kept branch in the shape of the branch around it.
fn conditional_blanks(toks: &[Tok], src: &[u8]) -> Vec<(usize, usize)> {
    let mut scan = CondScan {
        toks,
        src,
        stack: Vec::new(),
        brackets: Brackets::default(),
        blanks: Vec::new(),
    };
    for i in 0..toks.len() {
        scan.token(i);
    }
    while let Some(g) = scan.stack.pop() {
        scan.close(g, None);
    }
    scan.blanks
}

impl CondScan<'_> {
    fn token(&mut self, i: usize) {
        match self.toks[i].kind {
            Kind::Directive(Dir::If { zero }) => {
                self.note(i);
                self.open(i, zero);
            }
            Kind::Directive(Dir::Elif | Dir::Else) if !self.stack.is_empty() => self.branch(i),
            Kind::Directive(Dir::Endif) => match self.stack.pop() {
                Some(g) => {
                    self.close(g, Some(i));
                    self.note(i);
                }
                None => self.note(i),
            },
            Kind::Directive(Dir::Other) => {
                self.note(i);
                self.other_directive(i);
            }
            Kind::Punct(b) => {
                self.note(i);
                if let Some(s) = self.stack.last_mut().and_then(|g| g.branches.last_mut()) {
                    s.shape.punct(b);
                }
                self.bracket(i, b);
            }
            _ => self.note(i),
        }
    }

    /// Record token `i` as part of the innermost group's current branch.
    fn note(&mut self, i: usize) {
        if let Some(b) = self.stack.last_mut().and_then(|g| g.branches.last_mut()) {
            b.first.get_or_insert(i);
            b.last = Some(i);
        }
    }

    fn open(&mut self, i: usize, zero: bool) {
        let ctx = self.brackets.ctx();
        let in_enum = ctx == Some(Ctx::Enum);
        let context_ok = matches!(ctx, None | Some(Ctx::Block | Ctx::Fields | Ctx::Enum));
        let prev_ok = i == 0 || self.ends_item(i - 1, in_enum) || self.ends_case_label(i - 1);
        self.stack.push(Group {
            heads: vec![i],
            branches: vec![Branch::default()],
            zero,
            placed_well: context_ok && prev_ok,
            in_enum,
            start: self.brackets.top,
            kept_end: None,
        });
    }

    fn branch(&mut self, i: usize) {
        let top = self.brackets.top;
        if let Some(g) = self.stack.last_mut() {
            if kept_branch(g) == Some(g.heads.len() - 1) {
                g.kept_end = Some(top);
            }
            g.heads.push(i);
            g.branches.push(Branch::default());
            self.brackets.top = g.start;
        }
    }

    /// Resolve a group at its `#endif` (or the end of the file).
    fn close(&mut self, mut g: Group, endif: Option<usize>) {
        if kept_branch(&g) == Some(g.heads.len() - 1) {
            g.kept_end = Some(self.brackets.top);
        }
        self.brackets.top = g.kept_end.unwrap_or(g.start);
        let effect = resolve(
            &g,
            self.well_formed(&g),
            self.toks,
            endif,
            self.src.len(),
            &mut self.blanks,
        );
        if let Some(s) = self.stack.last_mut().and_then(|p| p.branches.last_mut()) {
            s.shape = s.shape.then(effect);
        }
    }

    /// Can tree-sitter parse the group as it stands?
    fn well_formed(&self, g: &Group) -> bool {
        g.placed_well
            && g.branches.iter().all(|b| {
                b.shape.closed()
                    && b.first.map_or(true, |f| self.starts_item(f))
                    && b.last.map_or(true, |l| self.ends_item(l, g.in_enum))
            })
    }

    /// Does a whole item end at token `i`, so another may start after it?
    /// Not a label: its statement would be outside the group.
    fn ends_item(&self, i: usize, in_enum: bool) -> bool {
        match self.toks[i].kind {
            Kind::Punct(b';' | b'{' | b'}') | Kind::Directive(_) => true,
            Kind::Punct(b',') | Kind::Ident => in_enum,
            _ => false,
        }
    }

    /// Is token `i` the `:` of a `case ...:` or `default:` label? Unlike a
    /// goto label, tree-sitter-c takes a conditional after it. The look back
    /// is bounded: case values are short.
    fn ends_case_label(&self, i: usize) -> bool {
        if self.toks[i].kind != Kind::Punct(b':') {
            return false;
        }
        for k in (i.saturating_sub(64)..i).rev() {
            let t = self.toks[k];
            match t.kind {
                Kind::Ident if matches!(&self.src[t.start..t.end], b"case" | b"default") => {
                    return true
                }
                Kind::Punct(b';' | b'{' | b'}' | b':' | b'?') | Kind::Directive(_) => return false,
                _ => {}
            }
        }
        false
    }

    /// A `#define`, `#include`, ... where tree-sitter-c accepts none (in an
    /// expression, an initializer, an enum, mid-statement) is blanked.
    fn other_directive(&mut self, i: usize) {
        let ctx = self.brackets.ctx();
        let allowed = match ctx {
            None | Some(Ctx::Block | Ctx::Fields) => true,
            Some(Ctx::Enum) => !self.defines(i),
            Some(Ctx::Init | Ctx::Parens) => false,
        };
        let placed = i == 0 || self.ends_item(i - 1, ctx == Some(Ctx::Enum));
        if !(allowed && placed) {
            let t = self.toks[i];
            self.blanks.push((t.start, t.end));
        }
    }

    /// Is the directive at `i` a `#define` or `#include`?
    fn defines(&self, i: usize) -> bool {
        let t = self.toks[i];
        let text = &self.src[t.start..t.end];
        let rest = skip_blanks(text, 1);
        let name = &text[rest..skip_ident(text, rest)];
        matches!(name, b"define" | b"include")
    }

    /// Can an item start at token `i`?
    fn starts_item(&self, i: usize) -> bool {
        let t = self.toks[i];
        match t.kind {
            Kind::Ident => &self.src[t.start..t.end] != b"else",
            Kind::Punct(b'{' | b'}' | b';' | b'*' | b'(') | Kind::Directive(_) => true,
            _ => false,
        }
    }

    /// Track the bracket stack for the group contexts.
    fn bracket(&mut self, i: usize, b: u8) {
        match b {
            b'(' | b'[' => self.brackets.push(Ctx::Parens, i),
            b'{' => {
                let ctx = self.brace_ctx(i);
                self.brackets.push(ctx, i);
            }
            b')' => self.brackets.last_paren = self.brackets.pop(),
            b']' | b'}' => {
                self.brackets.pop();
            }
            _ => {}
        }
    }

    fn brace_ctx(&self, i: usize) -> Ctx {
        brace_ctx(
            self.toks,
            self.src,
            i,
            self.brackets.ctx(),
            self.brackets.last_paren,
        )
    }
}

/// What the `{` at token `i` opens, judging by what precedes it.
/// `enclosing` is the innermost open bracket; `paren` the `(` matching a
/// `)` right before the brace, if that is what precedes it.
fn brace_ctx(
    toks: &[Tok],
    src: &[u8],
    i: usize,
    enclosing: Option<Ctx>,
    paren: Option<usize>,
) -> Ctx {
    let Some(p) = i.checked_sub(1) else {
        return Ctx::Block;
    };
    let word = |k: usize| {
        let t = toks[k];
        (t.kind == Kind::Ident).then(|| &src[t.start..t.end])
    };
    match toks[p].kind {
        Kind::Punct(b'=' | b',' | b']') => Ctx::Init,
        Kind::Punct(b'{') if enclosing == Some(Ctx::Init) => Ctx::Init,
        // A body after `if (...)`/`f(...)`, or a `(type){...}` literal.
        Kind::Punct(b')') => match paren.and_then(|o| o.checked_sub(1)).map(|k| toks[k].kind) {
            Some(Kind::Ident | Kind::Punct(b')')) => Ctx::Block,
            _ => Ctx::Init,
        },
        Kind::Ident => match (word(p), p.checked_sub(1).and_then(word)) {
            (Some(b"enum"), _) | (_, Some(b"enum")) => Ctx::Enum,
            (Some(b"struct" | b"union"), _) | (_, Some(b"struct" | b"union")) => Ctx::Fields,
            _ => Ctx::Block,
        },
        _ => Ctx::Block,
    }
}

/// Decide one closed group; returns its net shape as the parser will see
/// it. A group tree-sitter can parse is left alone.
fn resolve(
    g: &Group,
    well_formed: bool,
    toks: &[Tok],
    endif: Option<usize>,
    len: usize,
    blanks: &mut Vec<(usize, usize)>,
) -> Shape {
    if well_formed {
        return Shape::default();
    }
    let kept = kept_branch(g);
    for (k, &head) in g.heads.iter().enumerate() {
        let start = toks[head].start;
        let end = if Some(k) == kept {
            toks[head].end
        } else {
            g.heads
                .get(k + 1)
                .or(endif.as_ref())
                .map_or(len, |&n| toks[n].start)
        };
        blanks.push((start, end));
    }
    if let Some(e) = endif {
        blanks.push((toks[e].start, toks[e].end));
    }
    kept.and_then(|k| g.branches.get(k))
        .map(|b| b.shape)
        .unwrap_or_default()
}

/// The branch kept when a group must be flattened: the first, except that
/// `#if 0` code is dead by construction, so its `#else` (if any) is kept.
fn kept_branch(g: &Group) -> Option<usize> {
    if !g.zero {
        Some(0)
    } else if g.heads.len() > 1 {
        Some(1)
    } else {
        None
    }
}

/// Sort and merge overlapping ranges so every byte is blanked once.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Tokens not inside a blanked range (both sorted by position).
fn surviving(toks: Vec<Tok>, blanks: &[(usize, usize)]) -> Vec<Tok> {
    let mut r = 0;
    toks.into_iter()
        .filter(|t| {
            while r < blanks.len() && blanks[r].1 <= t.start {
                r += 1;
            }
            !blanks.get(r).is_some_and(|&(s, _)| s <= t.start)
        })
        .collect()
}

/// Replace `out[start..end]` with spaces, keeping newlines.
fn blank(out: &mut [u8], start: usize, end: usize) {
    let end = end.min(out.len());
    if let Some(range) = out.get_mut(start..end) {
        for b in range.iter_mut().filter(|b| **b != b'\n') {
            *b = b' ';
        }
    }
}

// ---------------------------------------------------------------------------
// Token index shared by the rewriting passes

/// Positions derived once per pass: bracket matches, brace depth and where
/// directives fall, so every rule is a constant-time look-up.
struct Index<'a> {
    toks: &'a [Tok],
    src: &'a [u8],
    /// For each `(`, `[` or `{` token, the index of its matching closer.
    close: Vec<Option<usize>>,
    /// For each `)`, `]` or `}` token, the index of its opener.
    open: Vec<Option<usize>>,
    /// Brace depth before each token.
    depth: Vec<u32>,
    /// Is the innermost brace around each token a block of code (not an
    /// initializer, struct or enum body)?
    code: Vec<bool>,
    /// Number of directive tokens before each token (and one past the end).
    dirs: Vec<u32>,
}

impl<'a> Index<'a> {
    fn new(toks: &'a [Tok], src: &'a [u8]) -> Self {
        let mut close = vec![None; toks.len()];
        let mut open = vec![None; toks.len()];
        let mut depth = Vec::with_capacity(toks.len());
        let mut code = Vec::with_capacity(toks.len());
        let mut dirs = Vec::with_capacity(toks.len() + 1);
        let (mut stack, mut d, mut n) = (Vec::new(), 0u32, 0u32);
        let mut braces: Vec<Ctx> = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            depth.push(d);
            code.push(braces.last() == Some(&Ctx::Block));
            dirs.push(n);
            match t.kind {
                Kind::Punct(b'{') => {
                    let paren = i.checked_sub(1).and_then(|p| open[p]);
                    braces.push(brace_ctx(toks, src, i, braces.last().copied(), paren));
                    stack.push(i);
                }
                Kind::Punct(b'}') => {
                    braces.pop();
                }
                _ => {}
            }
            match t.kind {
                Kind::Punct(b'(' | b'[') => stack.push(i),
                Kind::Punct(c @ (b')' | b']' | b'}')) => {
                    if let Some(&o) = stack.last() {
                        if toks[o].kind == Kind::Punct(opener(c)) {
                            stack.pop();
                            close[o] = Some(i);
                            open[i] = Some(o);
                        }
                    }
                }
                Kind::Directive(_) => n += 1,
                _ => {}
            }
            match t.kind {
                Kind::Punct(b'{') => d = d.saturating_add(1),
                Kind::Punct(b'}') => d = d.saturating_sub(1),
                _ => {}
            }
        }
        dirs.push(n);
        Index {
            toks,
            src,
            close,
            open,
            depth,
            code,
            dirs,
        }
    }

    fn len(&self) -> usize {
        self.toks.len()
    }

    fn word(&self, i: usize) -> &'a [u8] {
        let t = self.toks[i];
        &self.src[t.start..t.end]
    }

    fn is_punct(&self, i: usize, b: u8) -> bool {
        self.toks.get(i).is_some_and(|t| t.kind == Kind::Punct(b))
    }

    fn is_ident(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.kind == Kind::Ident)
    }

    /// An identifier that is not a C keyword: a name, possibly a macro.
    fn is_name(&self, i: usize) -> bool {
        self.is_ident(i) && !is_keyword(self.word(i))
    }

    fn is_string(&self, i: usize) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Literal && self.src[t.start] == b'"')
    }

    /// The `)` matching a `(` at `open`, if no directive lies between.
    fn matching(&self, open: usize) -> Option<usize> {
        if !self.is_punct(open, b'(') {
            return None;
        }
        let close = self.close[open]?;
        (self.dirs[open] == self.dirs[close]).then_some(close)
    }

    /// Is there no directive between tokens `a` and `b`?
    fn same_chunk(&self, a: usize, b: usize) -> bool {
        self.dirs.get(a) == self.dirs.get(b)
    }

    /// Can a statement start at token `i`, judging by the token before it?
    fn starts_statement(&self, i: usize) -> bool {
        let Some(p) = i.checked_sub(1) else {
            return true;
        };
        match self.toks[p].kind {
            Kind::Punct(b';' | b'{' | b'}' | b':' | b')') | Kind::Directive(_) => true,
            Kind::Ident => matches!(self.word(p), b"else" | b"do"),
            _ => false,
        }
    }

    /// Is the `(` at `p` the argument list of a call (or macro invocation)
    /// rather than a declarator's parameter list? The callee must be a name
    /// not preceded by a type-like word, nor at file scope by `*`.
    fn is_call(&self, p: usize) -> bool {
        let Some(f) = p.checked_sub(1) else {
            return false;
        };
        if !self.is_name(f) {
            return false;
        }
        let Some(b) = f.checked_sub(1) else {
            return true;
        };
        match self.toks[b].kind {
            Kind::Ident => is_statement_keyword(self.word(b)),
            // `struct x *f(struct y *)` at file scope; a dereference inside.
            Kind::Punct(b'*') => self.depth[f] > 0,
            _ => true,
        }
    }
}

fn opener(close: u8) -> u8 {
    match close {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

/// C and GNU C keywords: never a macro name, never a callee.
fn is_keyword(w: &[u8]) -> bool {
    matches!(
        w,
        b"auto"
            | b"break"
            | b"case"
            | b"char"
            | b"const"
            | b"continue"
            | b"default"
            | b"do"
            | b"double"
            | b"else"
            | b"enum"
            | b"extern"
            | b"float"
            | b"for"
            | b"goto"
            | b"if"
            | b"inline"
            | b"int"
            | b"long"
            | b"register"
            | b"restrict"
            | b"return"
            | b"short"
            | b"signed"
            | b"sizeof"
            | b"static"
            | b"struct"
            | b"switch"
            | b"typedef"
            | b"union"
            | b"unsigned"
            | b"void"
            | b"volatile"
            | b"while"
            | b"_Alignas"
            | b"_Alignof"
            | b"_Atomic"
            | b"_Bool"
            | b"_Generic"
            | b"_Noreturn"
            | b"_Static_assert"
            | b"_Thread_local"
            | b"asm"
            | b"__asm"
            | b"__asm__"
            | b"typeof"
            | b"__typeof"
            | b"__typeof__"
            | b"__volatile"
            | b"__volatile__"
            | b"__restrict"
            | b"__restrict__"
            | b"__extension__"
            | b"__builtin_offsetof"
            | b"offsetof"
            | b"alignof"
            | b"__alignof__"
            | b"static_assert"
            | b"defined"
            | b"__label__"
    )
}

/// Keywords after which an expression (so a call) may start.
fn is_statement_keyword(w: &[u8]) -> bool {
    matches!(
        w,
        b"return" | b"else" | b"do" | b"case" | b"static" | b"extern"
    )
}

// ---------------------------------------------------------------------------
// Pass A: annotations

/// Lookup table built once from `ANNOTATIONS`.
fn annotations() -> &'static HashMap<&'static [u8], Args> {
    static TABLE: OnceLock<HashMap<&'static [u8], Args>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ANNOTATIONS
            .iter()
            .map(|&(n, a)| (n.as_bytes(), a))
            .collect()
    })
}

/// Cheap filter before hashing: every annotation starts with `_`, `a`,
/// `n` or `A`.
fn may_annotate(word: &[u8]) -> bool {
    matches!(word.first(), Some(b'_' | b'a' | b'n' | b'A'))
}

/// Blank the annotations; returns the tokens still visible to the parser.
fn blank_annotations(toks: &[Tok], src: &[u8], out: &mut [u8]) -> Vec<Tok> {
    let close = paren_matches(toks);
    let mut kept = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let word = &src[toks[i].start..toks[i].end];
        let args = match toks[i].kind {
            Kind::Ident if may_annotate(word) => annotations().get(word).copied(),
            _ => None,
        };
        let Some(args) = args else {
            kept.push(toks[i]);
            i += 1;
            continue;
        };
        let last = match args {
            Args::Parens => match toks.get(i + 1) {
                Some(t) if t.kind == Kind::Punct(b'(') => close[i + 1].unwrap_or(i),
                _ => i,
            },
            Args::None => i,
        };
        blank(out, toks[i].start, toks[last].end);
        i = last + 1;
    }
    kept
}

/// For each `(`, its matching `)` in the same stretch between directives
/// (one stack pass, so linear even when nothing closes).
fn paren_matches(toks: &[Tok]) -> Vec<Option<usize>> {
    let mut close = vec![None; toks.len()];
    let mut open = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Punct(b'(') => open.push(i),
            Kind::Punct(b')') => {
                if let Some(o) = open.pop() {
                    close[o] = Some(i);
                }
            }
            Kind::Directive(_) => open.clear(),
            _ => {}
        }
    }
    close
}

// ---------------------------------------------------------------------------
// Pass B: statement macros, macro arguments, string macros, ranges

/// Rewrites on the tokens left after `#if` flattening and annotations.
/// Steps that write non-blank bytes (`while`, `0`) run before the steps
/// that blank whole regions, so a region blanked later is blanked whole.
fn rewrite(toks: &[Tok], src: &[u8], out: &mut [u8]) {
    let ix = Index::new(toks, src);
    pasted_numbers(&ix, out);
    let late_blanks = loop_heads(&ix, out);
    macro_arguments(&ix, out);
    string_macros(&ix, out);
    ranges(&ix, out);
    unterminated_file_scope_macros(&ix, out);
    for (s, e) in late_blanks {
        blank(out, s, e);
    }
}

/// Token-pasting fragments that start with a digit (`tg3_flag(tp,
/// 5705_PLUS)`, `10000baseT_Full`) are not C numbers; their first digit
/// becomes `_` so they parse as the identifiers they are pasted into.
fn pasted_numbers(ix: &Index, out: &mut [u8]) {
    for t in ix.toks {
        let text = &ix.src[t.start..t.end];
        let digit_first = text.first().is_some_and(u8::is_ascii_digit);
        if t.kind == Kind::Literal && digit_first && !is_c_number(text) {
            out[t.start] = b'_';
        }
    }
}

/// Is `t` an integer or floating constant C knows (`0x1fUL`, `1.5e-3f`)?
fn is_c_number(t: &[u8]) -> bool {
    let (digits, exp): (fn(&u8) -> bool, &[u8]) = match t {
        [b'0', b'x' | b'X', ..] => (u8::is_ascii_hexdigit, b"pP"),
        [b'0', b'b' | b'B', ..] => (|c: &u8| matches!(c, b'0' | b'1'), b""),
        _ => (u8::is_ascii_digit, b"eE"),
    };
    let prefix = if t.len() > 1 && t[0] == b'0' && t[1].is_ascii_alphabetic() {
        2
    } else {
        0
    };
    let mut j = prefix;
    while j < t.len() && (digits(&t[j]) || t[j] == b'.') {
        j += 1;
    }
    if j < t.len() && exp.contains(&t[j]) {
        j += 1;
        if j < t.len() && matches!(t[j], b'+' | b'-') {
            j += 1;
        }
        while j < t.len() && t[j].is_ascii_digit() {
            j += 1;
        }
    }
    let suffix = &t[j..];
    suffix.len() <= 3
        && suffix
            .iter()
            .all(|c| matches!(c, b'u' | b'U' | b'l' | b'L' | b'f' | b'F'))
}

/// Names that are loop heads even when followed by a single statement
/// rather than a `{` block.
fn is_loop_name(word: &[u8]) -> bool {
    word.windows(8).any(|w| w == b"for_each")
        || word.windows(7).any(|w| w == b"foreach")
        || LOOP_HEADS.iter().any(|h| h.as_bytes() == word)
}

/// `name(args) {` or `for_each_x(args) stmt` inside a function body:
/// overwrite `name` with `while` (`for` if the head has `;`s) padded to
/// its length. The facts stage reads the original name back at the same
/// offset. Returns the invocations to blank last: statement macros used
/// without their `;` (`DBG(x)` then a statement on the next line: the
/// statement after stays unconditional, as it is) and heads that cannot
/// become loops.
fn loop_heads(ix: &Index, out: &mut [u8]) -> Vec<(usize, usize)> {
    let mut late_blanks = Vec::new();
    for i in 0..ix.len() {
        if !ix.code[i] || !ix.is_punct(i + 1, b'(') || !ix.is_name(i) || !ix.starts_statement(i) {
            continue;
        }
        let Some(close) = ix.matching(i + 1) else {
            continue;
        };
        let invocation = (ix.toks[i].start, ix.toks[close].end);
        match head_kind(ix, i, close) {
            Some(Head::Loop) if !write_loop_keyword(ix, i, close, out) => {
                late_blanks.push(invocation)
            }
            Some(Head::Statement) => late_blanks.push(invocation),
            _ => {}
        }
    }
    late_blanks
}

/// How a statement-position invocation is used.
enum Head {
    /// A loop (or guard) head: `name(args) {`, `for_each(args) stmt`.
    Loop,
    /// A statement macro used without its `;`.
    Statement,
}

/// Classify `name(...)` at `i` (its `)` at `close`) by what follows it.
fn head_kind(ix: &Index, i: usize, close: usize) -> Option<Head> {
    let next = ix.toks.get(close + 1)?;
    let own_line = ix.src[ix.toks[close].end..next.start].contains(&b'\n');
    let looping = is_loop_name(ix.word(i));
    match next.kind {
        Kind::Punct(b'{') => Some(Head::Loop),
        Kind::Ident | Kind::Literal | Kind::Punct(b'*' | b'(') if looping => Some(Head::Loop),
        // `++n;` / `--n;` as the body.
        Kind::Punct(c @ (b'+' | b'-')) if looping && ix.src.get(next.start + 1) == Some(&c) => {
            Some(Head::Loop)
        }
        // A loop macro whose body is indented on the next line
        // (`with_intel_runtime_pm(rpm, wf)`), or a statement macro without
        // its `;` (`DBG(x)`, then a statement at its level).
        Kind::Ident if own_line => {
            if indent(ix.src, next.start) > indent(ix.src, ix.toks[i].start) {
                Some(Head::Loop)
            } else {
                Some(Head::Statement)
            }
        }
        _ => None,
    }
}

/// Width of the indentation of the line holding byte `at` (tabs count 8).
fn indent(src: &[u8], at: usize) -> usize {
    let line = src[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    src[line..at]
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .map(|&c| if c == b'\t' { 8 } else { 1 })
        .sum()
}

/// Overwrite the name at `i` with `while` (or `for`). Returns false when
/// that cannot make a loop: a name shorter than the keyword, or an empty
/// head (`while ()` is no C); the caller blanks the invocation instead.
fn write_loop_keyword(ix: &Index, i: usize, close: usize, out: &mut [u8]) -> bool {
    let keyword: &[u8] = if is_for_head(ix, i + 1, close) {
        b"for"
    } else {
        b"while"
    };
    let t = ix.toks[i];
    if close == i + 2 || t.end - t.start < keyword.len() {
        return false;
    }
    if let Some(dst) = out.get_mut(t.start..t.end) {
        dst.fill(b' ');
        dst[..keyword.len()].copy_from_slice(keyword);
    }
    true
}

/// What a bracket's contents are, for `macro_arguments`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    /// A call's (or macro invocation's) arguments.
    Call,
    /// `offsetof(type, member)`.
    Offsetof,
    Other,
}

/// `loop_unrolled_for(i = 0; i < n; i++)` has a `for` head, not a `while`:
/// exactly two `;` at its top level.
fn is_for_head(ix: &Index, open: usize, close: usize) -> bool {
    let mut nest = 0u32;
    let mut semis = 0u32;
    for k in open + 1..close {
        match ix.toks[k].kind {
            Kind::Punct(b'(' | b'[' | b'{') => nest += 1,
            Kind::Punct(b')' | b']' | b'}') => nest = nest.saturating_sub(1),
            Kind::Punct(b';') if nest == 0 => semis += 1,
            _ => {}
        }
    }
    semis == 2
}

/// One pass over every call's top-level arguments, with a stack of open
/// brackets so each argument is seen once (linear however deep).
fn macro_arguments(ix: &Index, out: &mut [u8]) {
    // (what the bracket holds, start of the current argument, its number)
    let mut stack: Vec<(List, usize, usize)> = Vec::new();
    for i in 0..ix.len() {
        match ix.toks[i].kind {
            Kind::Punct(b'(') => stack.push((list_kind(ix, i), i + 1, 0)),
            Kind::Punct(b'[' | b'{') => stack.push((List::Other, i + 1, 0)),
            Kind::Punct(b',') => {
                if let Some(top) = stack.last_mut() {
                    match top {
                        (List::Call, s, _) => argument(ix, *s, i, out),
                        (List::Offsetof, s, 0) => offsetof_type(ix, *s, i, out),
                        _ => {}
                    }
                    *top = (top.0, i + 1, top.2 + 1);
                }
            }
            Kind::Punct(b')' | b']' | b'}') => match stack.pop() {
                // `f(a, b, )`: a macro's trailing empty argument.
                Some((List::Call, s, n)) if s == i && n > 0 => {
                    blank(out, ix.toks[i - 1].start, ix.toks[i - 1].end)
                }
                Some((List::Call, s, _)) => argument(ix, s, i, out),
                Some((List::Offsetof, s, 1)) => offsetof_member(ix, s, i, out),
                _ => {}
            },
            _ => {}
        }
    }
}

fn list_kind(ix: &Index, open: usize) -> List {
    if ix.is_call(open) {
        List::Call
    } else if open > 0 && ix.is_ident(open - 1) && ix.word(open - 1) == b"offsetof" {
        List::Offsetof
    } else {
        List::Other
    }
}

/// tree-sitter-c takes no `typeof(*p)` as `offsetof`'s type: all but its
/// last name (`p`, parsed as a type name) is blanked.
fn offsetof_type(ix: &Index, s: usize, e: usize, out: &mut [u8]) {
    let typeof_kw = ix.is_ident(s) && matches!(ix.word(s), b"typeof" | b"__typeof__" | b"__typeof");
    if !typeof_kw || !ix.same_chunk(s, e) {
        return;
    }
    if let Some(last) = (s + 1..e).rev().find(|&k| ix.is_ident(k)) {
        blank(out, ix.toks[s].start, ix.toks[last].start);
        blank(out, ix.toks[last].end, ix.toks[e - 1].end);
    }
}

/// tree-sitter-c takes only a field name as `offsetof`'s member; a member
/// path (`a.b[i].c`) is cut to its first field.
fn offsetof_member(ix: &Index, s: usize, e: usize, out: &mut [u8]) {
    if e > s + 1 && ix.is_ident(s) && ix.same_chunk(s, e) {
        blank(out, ix.toks[s + 1].start, ix.toks[e - 1].end);
    }
}

/// Make one macro argument (tokens `s..e`) an expression: a type loses all
/// but its last word, a statement keyword and a trailing `;` are blanked.
fn argument(ix: &Index, s: usize, e: usize, out: &mut [u8]) {
    if s >= e || !ix.same_chunk(s, e) {
        return;
    }
    if ARG_KEYWORDS
        .iter()
        .any(|k| k.as_bytes() == ix.word_or_empty(s))
    {
        let t = ix.toks[s];
        blank(out, t.start, t.end);
        if s + 1 == e {
            out[t.start] = b'0';
        }
    }
    if e - s >= 2 && ix.is_punct(e - 1, b';') {
        let t = ix.toks[e - 1];
        blank(out, t.start, t.end);
    }
    if let Some(last) = type_argument(ix, s, e) {
        blank(out, ix.toks[s].start, ix.toks[last].start);
        blank(out, ix.toks[last].end, ix.toks[e - 1].end);
    }
    if is_brace_list(ix, s, e) {
        blank(out, ix.toks[s].end, ix.toks[e - 1].start);
    }
}

/// Is the argument `s..e` a braced initializer list (`{ 0 }`,
/// `{ DMI_MATCH(a, b), }`)? tree-sitter-c takes a braced argument only as
/// a block of statements, so a list's contents are blanked to `{ }`; a
/// block (it has a `;`) is left alone.
fn is_brace_list(ix: &Index, s: usize, e: usize) -> bool {
    if !ix.is_punct(s, b'{') || ix.close[s] != Some(e - 1) || e - s < 3 {
        return false;
    }
    let mut nest = 0u32;
    for k in s + 1..e - 1 {
        match ix.toks[k].kind {
            Kind::Punct(b'(' | b'[' | b'{') => nest += 1,
            Kind::Punct(b')' | b']' | b'}') => nest = nest.saturating_sub(1),
            Kind::Punct(b';') if nest == 0 => return false,
            Kind::Directive(_) => return false,
            _ => {}
        }
    }
    true
}

impl Index<'_> {
    fn word_or_empty(&self, i: usize) -> &[u8] {
        if self.is_ident(i) {
            self.word(i)
        } else {
            b""
        }
    }
}

/// Is tokens `s..e` a type name (`struct foo *`, `unsigned long`, `u8 *`):
/// words then stars, at least two tokens, which is never an expression?
/// Returns the index of its last word.
fn type_argument(ix: &Index, s: usize, e: usize) -> Option<usize> {
    if e - s < 2
        || ARG_KEYWORDS
            .iter()
            .any(|k| k.as_bytes() == ix.word_or_empty(s))
    {
        return None;
    }
    let words = (s..e).take_while(|&k| ix.is_ident(k)).count();
    let stars = (s + words..e).all(|k| ix.is_punct(k, b'*'));
    (words >= 1 && stars).then_some(s + words - 1)
}

/// Macros pasted to string literals (`KERN_ERR "x"`, `"a" DRV_NAME "b"`,
/// `"at " __stringify(__LINE__)`): the names and invocations beside a
/// string are blanked, as no name may directly touch a string in C.
fn string_macros(ix: &Index, out: &mut [u8]) {
    for i in 0..ix.len() {
        if !ix.is_string(i) {
            continue;
        }
        let mut j = i;
        while let Some(p) = j.checked_sub(1) {
            match string_neighbour_before(ix, p, ix.toks[j].start) {
                Some(first) => {
                    blank(out, ix.toks[first].start, ix.toks[p].end);
                    j = first;
                }
                None => break,
            }
        }
        let mut j = i + 1;
        while let Some(last) = string_neighbour_after(ix, j) {
            blank(out, ix.toks[j].start, ix.toks[last].end);
            j = last + 1;
        }
    }
}

/// The first token of a macro name or invocation ending at token `p`,
/// which comes right before a string starting at `string_start`.
fn string_neighbour_before(ix: &Index, p: usize, string_start: usize) -> Option<usize> {
    if ix.is_name(p) {
        let prefix =
            matches!(ix.word(p), b"L" | b"u" | b"U" | b"u8") && ix.toks[p].end == string_start;
        return (!prefix).then_some(p);
    }
    if ix.is_punct(p, b')') {
        let o = ix.open[p]?;
        let f = o.checked_sub(1)?;
        return (ix.is_name(f) && ix.same_chunk(f, p)).then_some(f);
    }
    None
}

/// The last token of a macro name or invocation starting at token `j`,
/// which comes right after a string.
fn string_neighbour_after(ix: &Index, j: usize) -> Option<usize> {
    if !ix.is_name(j) {
        return None;
    }
    if ix.is_punct(j + 1, b'(') {
        return ix.matching(j + 1);
    }
    Some(j)
}

/// GNU ranges `case A ... B:` and `[A ... B] =`, which tree-sitter-c does
/// not know: blank `... B`, leaving `case A:` and `[A] =`.
fn ranges(ix: &Index, out: &mut [u8]) {
    let mut i = 0;
    while i + 2 < ix.len() {
        if !is_ellipsis(ix, i) || ix.is_punct(i + 3, b')') {
            i += 1;
            continue;
        }
        match range_end(ix, i + 3) {
            Some(end) => {
                blank(out, ix.toks[i].start, ix.toks[end - 1].end);
                i = end;
            }
            None => i += 3,
        }
    }
}

fn is_ellipsis(ix: &Index, i: usize) -> bool {
    (0..3).all(|k| ix.is_punct(i + k, b'.')) && ix.toks[i + 2].start == ix.toks[i].start + 2
}

/// Longest range bound looked at, in tokens: bounds are short, and the
/// bound keeps a file full of stray `...` linear.
const MAX_RANGE_BOUND: usize = 256;

/// The `:` or `]` ending the range bound that starts at token `k`.
fn range_end(ix: &Index, mut k: usize) -> Option<usize> {
    let start = k;
    let mut nest = 0u32;
    while k < ix.len().min(start + MAX_RANGE_BOUND) {
        match ix.toks[k].kind {
            Kind::Punct(b'(' | b'[') => nest += 1,
            Kind::Punct(b']') if nest == 0 => return (k > start).then_some(k),
            Kind::Punct(b':') if nest == 0 => return (k > start).then_some(k),
            Kind::Punct(b')' | b']') => nest = nest.checked_sub(1)?,
            Kind::Punct(b';' | b'{' | b'}') | Kind::Directive(_) => return None,
            _ => {}
        }
        k += 1;
    }
    None
}

/// A file-scope macro invocation without its `;`, followed by the next
/// declaration (`EXPORT_SYMBOL(x)` then `int f(void)`): tree-sitter would
/// read both as one broken declaration, so the invocation is blanked.
fn unterminated_file_scope_macros(ix: &Index, out: &mut [u8]) {
    for i in 0..ix.len() {
        if ix.depth[i] != 0
            || !ix.is_punct(i + 1, b'(')
            || !ix.is_name(i)
            || !ix.starts_statement(i)
            || ix.is_punct(i.wrapping_sub(1), b')')
        {
            continue;
        }
        let Some(close) = ix.matching(i + 1) else {
            continue;
        };
        if ix.is_ident(close + 1) && ix.same_chunk(close, close + 1) {
            blank(out, ix.toks[i].start, ix.toks[close].end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the pre-pass and check the invariants every output must keep.
    fn run(src: &str) -> String {
        let out = prepass(src.as_bytes());
        assert_same_shape(src.as_bytes(), &out);
        String::from_utf8(out).expect("pre-pass keeps UTF-8")
    }

    /// Whitespace runs collapsed, for assertions on what the parser sees.
    fn squash(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn assert_same_shape(src: &[u8], out: &[u8]) {
        assert_eq!(src.len(), out.len(), "length changed");
        for (i, (a, b)) in src.iter().zip(out).enumerate() {
            assert_eq!(*a == b'\n', *b == b'\n', "newline moved at {i}");
        }
    }

    #[test]
    fn blanks_bare_annotations() {
        let src = "static int __init foo(void __iomem *p, char __user *u)\n{ return 0; }\n";
        let out = run(src);
        assert_eq!(
            out,
            "static int        foo(void         *p, char        *u)\n{ return 0; }\n"
        );
    }

    #[test]
    fn blanks_annotations_with_arguments() {
        let src = "void f(void) __acquires(&x->lock) __attribute__((nonnull(1, (2))));\n";
        assert_eq!(squash(&run(src)), "void f(void) ;");
    }

    #[test]
    fn blanks_multiline_attribute_arguments() {
        let src = "struct s {\n\tint a;\n} __attribute__((packed,\n\t\taligned(4)));\n";
        assert_eq!(squash(&run(src)), "struct s { int a; } ;");
    }

    #[test]
    fn annotations_only_as_whole_identifiers() {
        let src = "int my__init = __init_x + x__user; int __initdata_foo;\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn comments_and_strings_untouched() {
        let src = "/* __init list_for_each(a) { */\n// __user scoped_guard(x) {\nconst char *s = \"__iomem for_each(a) {\";\nchar c = '_';\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn define_lines_untouched() {
        let src = "#define list_for_each(pos, head) \\\n\tfor (pos = (head)->next; pos != (head); pos = pos->next)\n#define X __init __attribute__((a))\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn rewrites_for_each_loop_head() {
        let src =
            "void f(void)\n{\n\tlist_for_each_entry(pos, head, member) {\n\t\tg(pos);\n\t}\n}\n";
        let out = run(src);
        assert!(out.contains("\twhile              (pos, head, member) {"));
    }

    #[test]
    fn rewrites_loop_head_with_statement_body() {
        let src = "void f(void)\n{\n\tif (x)\n\t\tfor_each_set_bit(b, &m, 8)\n\t\t\tg(b);\n}\n";
        let out = run(src);
        assert!(out.contains("\t\twhile           (b, &m, 8)\n"), "{out}");
    }

    #[test]
    fn rewrites_scoped_guard() {
        let src = "int f(void)\n{\n\tscoped_guard (mutex, &d->lock) {\n\t\treturn 1;\n\t}\n\treturn 0;\n}\n";
        let out = run(src);
        assert!(out.contains("\twhile        (mutex, &d->lock) {"), "{out}");
    }

    #[test]
    fn scoped_cond_guard_keywords_neutralised() {
        let src = "int f(void)\n{\n\tscoped_cond_guard(mutex_intr, return -EINTR, &l) {\n\t}\n\tscoped_cond_guard(mutex_intr, return, &l)\n\t\tg();\n}\n";
        let out = run(src);
        assert!(
            out.contains("while            (mutex_intr,        -EINTR, &l) {"),
            "{out}"
        );
        assert!(
            out.contains("while            (mutex_intr, 0     , &l)\n"),
            "{out}"
        );
    }

    #[test]
    fn loop_names_left_alone_outside_loop_use() {
        let src = "static void list_for_each_foo(int a)\n{\n\tn = count_for_each(x) + 1;\n\tdo_for_each(a);\n\tfoo(for_each_x(a), 2);\n}\nvoid xa_for_each_bar(int a);\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn balanced_if_groups_untouched() {
        let src = "int f(void)\n{\n#ifdef CONFIG_X\n\tif (a) { b(); }\n#else\n\tc();\n#endif\n\treturn 0;\n}\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn unbalanced_ifdef_around_two_function_headers() {
        let src = "#ifdef CONFIG_PM\nstatic int foo_suspend(struct device *dev) {\n#else\nstatic int foo_suspend(void *p) {\n#endif\n\treturn 0;\n}\n";
        assert_eq!(
            squash(&run(src)),
            "static int foo_suspend(struct device *dev) { return 0; }"
        );
    }

    #[test]
    fn unbalanced_elif_chain_keeps_first() {
        let src = "void f(void)\n{\n#if A\n\tif (a) {\n#elif B\n\tif (b) {\n#else\n\t{\n#endif\n\t\tg();\n\t}\n}\n";
        let out = run(src);
        assert!(out.contains("\tif (a) {"));
        assert!(!out.contains("if (b)"));
        assert!(!out.contains('#'));
    }

    #[test]
    fn closing_brace_inside_ifdef_is_unbalanced() {
        let src = "void f(void)\n{\n\tif (a) {\n\t\tg();\n#ifdef X\n\t} else if (b) {\n\t\th();\n#endif\n\t}\n}\n";
        let out = run(src);
        assert!(out.contains("} else if (b) {"));
        assert!(!out.contains("#ifdef"));
        assert!(!out.contains("#endif"));
    }

    #[test]
    fn nested_unbalanced_group_resolved_before_outer() {
        let src = "#ifdef A\n#ifdef B\nint f(int a) {\n#else\nint f(void) {\n#endif\n\treturn 0;\n}\n#endif\n";
        let out = run(src);
        assert!(
            out.contains("#ifdef A"),
            "outer group is balanced once inner is resolved: {out}"
        );
        assert!(out.contains("int f(int a) {"));
        assert!(!out.contains("int f(void)"));
    }

    #[test]
    fn if_zero_keeps_else_branch() {
        let src = "#if 0\nint f(int a) {\n#else\nint f(void) {\n#endif\n\treturn 0;\n}\n";
        let out = run(src);
        assert!(out.contains("int f(void) {"));
        assert!(!out.contains("int a"));
    }

    #[test]
    fn missing_endif_does_not_panic() {
        let src = "#ifdef X\nint f(void) {\n#else\nint g(void) {\n\treturn 0;\n}\n";
        let out = run(src);
        assert!(out.contains("int f(void) {"));
        assert!(!out.contains("int g"));
    }

    /// Does tree-sitter-c parse the pre-passed `src` without ERROR/MISSING?
    fn parses_clean(src: &str) -> bool {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .expect("C grammar loads");
        let out = run(src);
        let tree = parser.parse(out.as_bytes(), None).expect("a tree");
        !tree.root_node().has_error()
    }

    /// Wrap statements in a function body.
    fn body(stmts: &str) -> String {
        format!("int f(void)\n{{\n{stmts}\n\treturn 0;\n}}\n")
    }

    #[test]
    fn every_annotation_passes_the_cheap_filter() {
        for (name, _) in ANNOTATIONS {
            assert!(may_annotate(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn type_arguments_keep_their_last_word() {
        let src = body("\tp = container_of(w, struct foo_priv, work);\n\tx = va_arg(ap, unsigned long);\n\ty = *ACPI_CAST_PTR(struct acpi_node *, t);");
        let out = run(&src);
        assert!(
            out.contains("container_of(w,        foo_priv, work)"),
            "{out}"
        );
        assert!(out.contains("va_arg(ap,          long)"), "{out}");
        assert!(
            out.contains("*ACPI_CAST_PTR(       acpi_node  , t)"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn prototypes_keep_their_parameter_types() {
        let src = "static int foo(struct bar *, unsigned long);\nstruct x *g(struct y *);\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn string_macros_blanked() {
        let src = body("\tprintk(KERN_ERR PFX \"x %d\\n\", 1);\n\tputs(\"at \" __stringify(__LINE__) \": \" DRV_NAME);\n\tw = L\"wide\";");
        let out = run(&src);
        assert!(out.contains("printk(             \"x %d\\n\", 1)"), "{out}");
        assert!(squash(&out).contains("puts(\"at \" \": \" );"), "{out}");
        assert!(out.contains("L\"wide\""));
        assert!(parses_clean(&src));
    }

    #[test]
    fn gnu_ranges_cut_to_their_start() {
        let src = "static int a[8] = { [0 ... 7] = 1 };\n".to_string()
            + &body("\tswitch (x) {\n\tcase 1 ... 3:\n\tcase A...B:\n\t\tbreak;\n\t}");
        let out = run(&src);
        assert!(out.contains("[0      ] = 1"), "{out}");
        assert!(out.contains("case 1      :"), "{out}");
        assert!(out.contains("case A    :"), "{out}");
        assert!(parses_clean(&src));
        let variadic = "int p(const char *fmt, ...);\n";
        assert_eq!(run(variadic), variadic);
    }

    #[test]
    fn pasted_number_fragments_become_identifiers() {
        let src = body("\tif (tg3_flag(tp, 5705_PLUS) || m == 10000baseT_Full)\n\t\tx = 0x1fUL + 1.5e-3f + 10 + 0b101 + 1ULL;");
        let out = run(&src);
        assert!(
            out.contains("tg3_flag(tp, _705_PLUS) || m == _0000baseT_Full"),
            "{out}"
        );
        assert!(
            out.contains("0x1fUL + 1.5e-3f + 10 + 0b101 + 1ULL"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn macro_arguments_made_expressions() {
        let src = body(concat!(
            "\tPP_ASSERT(c, \"msg\", return -EINVAL);\n",
            "\tIF_EVENT(printk(\"x\");) ;\n",
            "\tseq(ctx, A, B, );\n",
            "\tregister_entry(x, { DMI_MATCH(a, b), }, 0);\n",
            "\tRUN(x, { int y = 1; g(y); });",
        ));
        let out = run(&src);
        assert!(
            out.contains("PP_ASSERT(c, \"msg\",        -EINVAL);"),
            "{out}"
        );
        assert!(out.contains("IF_EVENT(printk(\"x\") ) ;"), "{out}");
        assert!(out.contains("seq(ctx, A, B  );"), "{out}");
        assert!(squash(&out).contains("register_entry(x, { }, 0);"), "{out}");
        assert!(out.contains("RUN(x, { int y = 1; g(y); });"), "{out}");
        assert!(parses_clean(&src));
    }

    #[test]
    fn offsetof_member_paths_and_typeof() {
        let src = body("\tn = offsetof(struct s, a.b[i].c) + offsetof(typeof(*p), d);");
        let out = run(&src);
        assert!(
            squash(&out).contains("offsetof(struct s, a ) + offsetof( p , d)"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn statement_macros_without_semicolon() {
        let src =
            "EXPORT_SYMBOL(g)\nint h(void);\n".to_string() + &body("\tDBG(__func__)\n\tx = 1;");
        let out = run(&src);
        assert!(out.starts_with("                \nint h(void);"), "{out}");
        assert!(out.contains("\n\t             \n\tx = 1;"), "{out}");
        assert!(parses_clean(&src));
    }

    #[test]
    fn loop_macro_with_indented_body_on_next_line() {
        let src = body("\twith_intel_runtime_pm(rpm, wakeref)\n\t\tg();\n\th();");
        let out = run(&src);
        assert!(
            out.contains("\twhile                (rpm, wakeref)\n\t\tg();"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn conditional_after_case_label_is_kept() {
        let src = body("\tswitch (x) {\n\tcase 1:\n#ifdef X\n\t\treturn 1;\n#else\n\t\treturn 2;\n#endif\n\tdefault:\n#ifdef Y\n\t\tbreak;\n#endif\n\t}");
        assert_eq!(run(&src), src);
        assert!(parses_clean(&src));
    }

    #[test]
    fn heads_that_cannot_be_loops_are_blanked() {
        let src = body("\tscoped_with_kernel_creds()\n\t\tg();\n\tDBG(x) {\n\t\th();\n\t}");
        let out = run(&src);
        assert!(
            squash(&out).contains("{ g(); { h(); } return 0; }"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn loop_head_with_for_clauses_becomes_for() {
        let src = body("\tloop_unrolled_for(i = 0; i < n; i++) {\n\t\tg(i);\n\t}");
        let out = run(&src);
        assert!(
            out.contains("\tfor              (i = 0; i < n; i++) {"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn initializer_macros_are_not_loop_heads() {
        let src = "static const struct dev_pm_ops pm = {\n\tSET_SYSTEM_SLEEP_PM_OPS(s, r)\n\tSET_RUNTIME_PM_OPS(a, b, c)\n};\n";
        assert_eq!(run(src), src);
    }

    #[test]
    fn conditional_inside_an_expression_is_flattened() {
        let src = body("\tx = A |\n#ifdef X\n\t    B |\n#endif\n\t    C;\n\tg(a,\n#ifdef Y\n\t  b,\n#else\n\t  c,\n#endif\n\t  d);");
        let out = run(&src);
        assert!(!out.contains('#'), "{out}");
        assert!(
            out.contains("B |") && out.contains("b,") && !out.contains("c,"),
            "{out}"
        );
        assert!(parses_clean(&src));
    }

    #[test]
    fn conditional_after_label_or_before_else_is_flattened() {
        let src = body("out:\n#ifdef X\n\tg();\n#endif\n\tif (a)\n\t\tg();\n#ifdef Y\n\telse\n\t\th();\n#endif");
        let out = run(&src);
        assert!(!out.contains('#'), "{out}");
        assert!(parses_clean(&src));
    }

    #[test]
    fn conditionals_tree_sitter_handles_are_kept() {
        let src = "struct s {\n\tint a;\n#ifdef X\n\tint b;\n#endif\n};\nenum e {\n\tA,\n#ifdef X\n\tB,\n#endif\n};\n"
            .to_string()
            + &body("#ifdef X\n\tg();\n#else\n\th();\n#endif");
        assert_eq!(run(&src), src);
        assert!(parses_clean(&src));
    }

    #[test]
    fn directives_inside_initializers_are_blanked() {
        let src = "static int t[] = {\n#define V 1\n\tV,\n#include \"more.h\"\n};\n#define W 2\n";
        let out = run(src);
        assert!(
            !out.contains("#define V") && !out.contains("#include"),
            "{out}"
        );
        assert!(out.contains("#define W 2"), "{out}");
    }

    #[test]
    fn comments_inside_multiline_defines_are_blanked() {
        let src = "#define IRQS (A |\t/* a */\t\\\n\t\tB)\t/* b */\nint x;\n";
        let out = run(src);
        assert!(out.contains("(A |\t       \t\\"), "{out}");
        assert!(out.contains("B)\t/* b */"), "{out}");
        assert!(parses_clean(src));
    }

    #[test]
    fn named_variadic_define_parameters() {
        let src =
            "#define D(fmt, args...) printk(fmt, ##args)\n#define E(...) g(__VA_ARGS__)\nint x;\n";
        let out = run(src);
        assert!(
            out.starts_with("#define D(fmt,     ...) printk(fmt, ##args)\n#define E(...)"),
            "{out}"
        );
        assert!(parses_clean(src));
    }

    #[test]
    fn loop_macro_with_increment_body() {
        let src = body("\tdma_fence_unwrap_for_each(f, &iter, fence)\n\t\t++n;");
        assert!(run(&src).contains("\twhile                    (f, &iter, fence)"));
        assert!(parses_clean(&src));
    }

    #[test]
    fn big_adversarial_inputs_stay_fast() {
        let pieces = [
            "__attribute__(",
            "... ",
            "f({",
            "for_each(",
            "#if A\n",
            "\"s\" X ",
        ];
        for p in pieces {
            let src = p.repeat(50_000);
            let t = std::time::Instant::now();
            run(&src);
            assert!(t.elapsed().as_secs() < 5, "{p:?} took {:?}", t.elapsed());
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let deep = "(".repeat(10_000) + &")".repeat(10_000);
        let deep_open = "void f(void) {".to_string() + &"(".repeat(10_000);
        let deep_if = "#if A\n{\n".repeat(5_000);
        let inputs = [
            "",
            "#if",
            "#if\n",
            "#",
            "#else\n#endif\n#elif\n",
            "\\",
            "/*",
            "\"",
            "'",
            "__attribute__((",
            "__attribute__",
            "{ list_for_each(",
            "{ scoped_cond_guard(a, return",
            "x __init",
            "1e+",
            &deep,
            &deep_open,
            &deep_if,
        ];
        for src in inputs {
            run(src);
        }
    }

    #[test]
    fn invalid_utf8_bytes_pass_through() {
        let src = b"int \xff\xfe __init x;\n\x80";
        let out = prepass(src);
        assert_same_shape(src, &out);
        assert_eq!(&out[..6], b"int \xff\xfe");
    }

    /// A tiny deterministic generator (xorshift) so the property test needs
    /// no extra dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    const PIECES: &[&str] = &[
        "\n",
        " ",
        "{",
        "}",
        "(",
        ")",
        ";",
        ",",
        "#if X\n",
        "#ifdef Y\n",
        "#else\n",
        "#elif Z\n",
        "#endif\n",
        "#define M(a) a \\\n b\n",
        "__init",
        "__attribute__((x))",
        "__aligned(",
        "list_for_each_entry",
        "scoped_guard",
        "scoped_cond_guard(m, return",
        "/* c\n */",
        "// c\n",
        "\"s\\\"\"",
        "'\\''",
        "'",
        "\"",
        "foo",
        "int",
        "\\\n",
        "\r\n",
        "0x1e+5",
        "else",
        "return",
        "*",
        "__user",
        "#if 0\n",
        "...",
        "case",
        ":",
        "=",
        "{ 0 }",
        "5705_PLUS",
        "offsetof(typeof(*p), a.b)",
        "struct",
        "KERN_ERR \"x\"",
        "static",
        "enum",
        "goto",
    ];

    #[test]
    fn property_length_and_newlines_preserved() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..500 {
            let n = (rng.next() % 200) as usize;
            let src: String = (0..n)
                .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
                .collect();
            let out = prepass(src.as_bytes());
            assert_same_shape(src.as_bytes(), &out);
            assert!(std::str::from_utf8(&out).is_ok());
        }
    }
}
