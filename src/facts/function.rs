//! Facts from one function body: its sites in order, each with the locks
//! held there, following if/else, loops, switch, goto and return so that a
//! lock released on every path before a wait is not held at the wait.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::model::{
    FnValue, Function, KeyPath, Param, ParamTest, Root, Site, SiteKind, StateTest, Target,
};
use super::syntax::{
    declarator_name, function_declarator, is_static, named_children, pos, snippet, strip_expr,
    text, type_name,
};
use crate::rules::{BitOp, Effect, Rules};

/// Deeper nesting than this is not walked (its sites are lost, never a crash).
const MAX_DEPTH: usize = 400;
/// Object-state tests and facts kept per path (the innermost ones): a
/// bound on what every site carries.
const MAX_STATES: usize = 4;

/// Held acquisitions and guard facts on one path.
#[derive(Clone, Debug, Default)]
struct State {
    /// (site index of the acquisition, scope depth that releases it if a guard)
    held: Vec<(u32, Option<usize>)>,
    not_in_work: Vec<KeyPath>,
    /// Parameter tests known to hold on this path.
    tests: Vec<ParamTest>,
    /// Caller-held locks released on this path and not taken again.
    released: Vec<KeyPath>,
    /// Object-state tests known to hold on this path (`if (!x->done)`).
    states: Vec<StateTest>,
    /// Object state this function set on this path (`x->done = true`).
    known: Vec<StateTest>,
}

impl State {
    /// Join of two paths: a lock held on either may be held; a guard fact
    /// holds only if it holds on both.
    fn join(&mut self, other: &State) {
        for h in &other.held {
            if !self.held.iter().any(|x| x.0 == h.0) {
                self.held.push(*h);
            }
        }
        self.held.sort_unstable();
        self.not_in_work.retain(|k| other.not_in_work.contains(k));
        self.tests.retain(|t| other.tests.contains(t));
        self.released.retain(|k| other.released.contains(k));
        self.states.retain(|t| other.states.contains(t));
        self.known.retain(|t| other.known.contains(t));
    }

    /// Record that the function set or cleared one bit of a flag word:
    /// it replaces what was known of that bit and of the whole word.
    fn set_bit_known(&mut self, f: StateTest) {
        self.known
            .retain(|k| !(k.same_subject(&f) || k.key == f.key && k.bit.is_none()));
        self.known.push(f);
        if self.known.len() > MAX_STATES {
            self.known.remove(0);
        }
    }

    /// Record that the function set this state: it replaces what was
    /// known of the same field (and bit).
    fn set_known(&mut self, fact: Option<StateTest>, key: &KeyPath) {
        self.known.retain(|k| &k.key != key);
        if let Some(f) = fact {
            self.known.push(f);
            if self.known.len() > MAX_STATES {
                self.known.remove(0);
            }
        }
    }
}

/// What a condition tells each branch.
#[derive(Default)]
struct Delta {
    holds: Vec<u32>,
    not_in_work: Vec<KeyPath>,
    tests: Vec<ParamTest>,
    states: Vec<StateTest>,
}

impl Delta {
    fn extend(&mut self, o: Delta) {
        self.holds.extend(o.holds);
        self.not_in_work.extend(o.not_in_work);
        self.tests.extend(o.tests);
        self.states.extend(o.states);
    }

    /// A state test holds in one branch, its negation in the other.
    fn state(t: StateTest) -> (Delta, Delta) {
        let f = t.negated();
        let with = |t| Delta {
            states: vec![t],
            ..Delta::default()
        };
        (with(t), with(f))
    }
}

pub struct FnWalker<'a> {
    src: &'a [u8],
    orig: &'a [u8],
    rules: &'a Rules,
    params: Vec<Param>,
    scopes: Vec<Vec<(String, String)>>,
    aliases: HashMap<String, KeyPath>,
    /// Locals declared with a `struct`/`union` type: their declared type
    /// names the class better than whatever untyped value (`void *data`,
    /// `dev->driver_data`) they were initialised from.
    typed_locals: HashSet<String>,
    /// The function's name: names its function-scope static objects.
    fn_name: String,
    /// The target of the assignment whose right side is being walked.
    assign_target: Option<KeyPath>,
    sites: Vec<Site>,
    state: State,
    dead: bool,
    labels: HashMap<String, State>,
    exits: Vec<Option<State>>,
    /// Held acquisitions and released caller locks common to every return
    /// seen so far (None before the first).
    returns: Option<(Vec<u32>, Vec<KeyPath>)>,
    depth: usize,
}

/// Extract a `function_definition` node, or None if it has no usable name.
pub fn extract_function(def: Node, src: &[u8], orig: &[u8], rules: &Rules) -> Option<Function> {
    let decl = def.child_by_field_name("declarator")?;
    let fdecl = function_declarator(decl)?;
    let (name, name_node) = declarator_name(fdecl.child_by_field_name("declarator")?, src)?;
    let params = fdecl
        .child_by_field_name("parameters")
        .map(|p| parameters(p, src))
        .unwrap_or_default();
    let mut w = FnWalker {
        src,
        orig,
        rules,
        params: params.clone(),
        scopes: Vec::new(),
        aliases: HashMap::new(),
        typed_locals: HashSet::new(),
        fn_name: name.clone(),
        assign_target: None,
        sites: Vec::new(),
        state: State::default(),
        dead: false,
        labels: HashMap::new(),
        exits: Vec::new(),
        returns: None,
        depth: 0,
    };
    if let Some(body) = def.child_by_field_name("body") {
        w.annotated_holds(fdecl.end_byte(), body.start_byte(), body);
        w.block(body);
    }
    w.note_return();
    let (held, released) = w.returns.take().unwrap_or_default();
    // Only a real acquisition of a lock the caller can name (through a
    // parameter or a global) makes a wrapper; an assertion does not, and
    // neither does a lock the function also releases somewhere (held sets
    // join paths, so "held at return" there can mean "on some path").
    let released_here = |key: &KeyPath| {
        w.sites
            .iter()
            .any(|s| matches!(&s.kind, SiteKind::Release { key: k, .. } if k == key))
    };
    let returns_holding = held
        .into_iter()
        .filter(|i| {
            matches!(
                w.sites.get(*i as usize).map(|s| &s.kind),
                Some(SiteKind::Acquire { is_try: false, key, .. })
                    if matches!(key.root, Root::Param { .. } | Root::Global(_) | Root::Named(_))
                        && !released_here(key)
            )
        })
        .collect();
    Some(Function {
        name,
        is_static: is_static(def, src),
        pos: pos(name_node),
        params,
        sites: w.sites,
        has_errors: def.has_error(),
        returns_holding,
        returns_released: released,
    })
}

fn parameters(list: Node, src: &[u8]) -> Vec<Param> {
    named_children(list)
        .into_iter()
        .filter(|p| p.kind() == "parameter_declaration")
        .map(|p| {
            let ty = p
                .child_by_field_name("type")
                .map(|t| type_name(t, src))
                .unwrap_or_default();
            let name = p
                .child_by_field_name("declarator")
                .and_then(|d| declarator_name(d, src))
                .map(|(n, _)| n)
                .unwrap_or_default();
            Param { name, ty }
        })
        .collect()
}

impl<'a> FnWalker<'a> {
    // ---- statements -------------------------------------------------

    fn stmt(&mut self, n: Node) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        match n.kind() {
            "compound_statement" => self.block(n),
            "declaration" => self.declaration(n),
            "if_statement" => self.if_stmt(n),
            "while_statement" => self.while_stmt(n),
            "for_statement" => self.for_stmt(n),
            "do_statement" => self.do_stmt(n),
            "switch_statement" => self.switch_stmt(n),
            "return_statement" => {
                self.children_exprs(n);
                self.note_return();
                self.dead = true;
            }
            "goto_statement" => {
                if let Some(l) = n.child_by_field_name("label") {
                    let label = text(l, self.src).to_string();
                    self.jump_to(label);
                }
                self.dead = true;
            }
            "break_statement" | "continue_statement" => {
                let st = self.state.clone();
                if let Some(Some(acc)) = self.exits.last_mut() {
                    acc.join(&st);
                } else if let Some(slot) = self.exits.last_mut() {
                    *slot = Some(st);
                }
                self.dead = true;
            }
            "labeled_statement" => self.labeled(n),
            "expression_statement" => self.children_exprs(n),
            "comment" => {}
            _ if n.kind().starts_with("preproc_") || n.kind() == "attributed_statement" => {
                for c in named_children(n) {
                    self.stmt(c);
                }
            }
            "ERROR" => {
                for c in named_children(n) {
                    self.stmt(c);
                }
            }
            _ => self.expr(n),
        }
        self.depth -= 1;
    }

    fn block(&mut self, n: Node) {
        self.scopes.push(Vec::new());
        for c in named_children(n) {
            self.stmt(c);
        }
        let depth = self.scopes.len();
        // Guards taken in this block are dropped when it ends.
        self.state.held.retain(|h| h.1 != Some(depth));
        self.scopes.pop();
    }

    fn jump_to(&mut self, label: String) {
        let st = self.state.clone();
        match self.labels.get_mut(&label) {
            Some(acc) => acc.join(&st),
            None => {
                self.labels.insert(label, st);
            }
        }
    }

    fn labeled(&mut self, n: Node) {
        let label = n
            .child_by_field_name("label")
            .map(|l| text(l, self.src).to_string())
            .unwrap_or_default();
        if let Some(from_goto) = self.labels.remove(&label) {
            if self.dead {
                self.state = from_goto;
            } else {
                self.state.join(&from_goto);
            }
        }
        self.dead = false;
        for c in named_children(n) {
            if c.kind() != "statement_identifier" {
                self.stmt(c);
            }
        }
    }

    fn declaration(&mut self, n: Node) {
        let ty_node = n.child_by_field_name("type");
        let ty = ty_node.map(|t| type_name(t, self.src)).unwrap_or_default();
        let aggregate = ty_node.is_some_and(|t| {
            matches!(t.kind(), "struct_specifier" | "union_specifier") && ty != "<anon>"
        });
        let mut cur = n.walk();
        let decls: Vec<Node> = n.children_by_field_name("declarator", &mut cur).collect();
        for d in decls {
            let Some((name, _)) = declarator_name(d, self.src) else {
                continue;
            };
            if aggregate {
                self.typed_locals.insert(name.clone());
            } else {
                self.typed_locals.remove(&name);
            }
            if is_macro_object(&ty) {
                // `static DEFINE_MUTEX(lock);` inside a function: one object
                // for the whole kernel, named after its function (two
                // functions' `lock`s are two locks).
                let key = KeyPath::global(&format!("{}::{name}", self.fn_name));
                self.aliases.insert(name.clone(), key);
            }
            if let Some(scope) = self.scopes.last_mut() {
                scope.push((name.clone(), ty.clone()));
            }
            if d.kind() == "init_declarator" {
                if let Some(v) = d.child_by_field_name("value") {
                    self.expr(v);
                    self.note_alias(&name, v);
                }
            }
        }
    }

    fn if_stmt(&mut self, n: Node) {
        let (then_d, else_d) = self.branch_deltas(n);
        let entry = self.state.clone();
        let entry_dead = self.dead;
        self.apply(&then_d);
        if let Some(t) = n.child_by_field_name("consequence") {
            self.stmt(t);
        }
        let (then_state, then_dead) = (std::mem::take(&mut self.state), self.dead);
        self.state = entry;
        self.dead = entry_dead;
        self.apply(&else_d);
        if let Some(e) = n.child_by_field_name("alternative") {
            for c in named_children(e) {
                self.stmt(c);
            }
        }
        self.merge_branch(then_state, then_dead);
    }

    /// Join the current path with another branch's end.
    fn merge_branch(&mut self, other: State, other_dead: bool) {
        match (self.dead, other_dead) {
            (true, false) => {
                self.state = other;
                self.dead = false;
            }
            (false, false) => self.state.join(&other),
            _ => {}
        }
    }

    fn apply(&mut self, d: &Delta) {
        for h in &d.holds {
            if !self.state.held.iter().any(|x| x.0 == *h) {
                self.state.held.push((*h, None));
            }
        }
        self.state.not_in_work.extend(d.not_in_work.iter().cloned());
        // A lock taken only when a parameter test held is not held on a
        // branch where it fails (`if (wait) lock; ... if (wait) unlock;`).
        let sites = &self.sites;
        self.state.held.retain(|(h, _)| {
            let guards = sites.get(*h as usize).map(|s| s.guards.as_slice());
            !guards
                .unwrap_or_default()
                .iter()
                .any(|g| d.tests.iter().any(|t| t.contradicts(g)))
        });
        for t in &d.states {
            if !self.state.states.contains(t) {
                self.state.states.push(t.clone());
                if self.state.states.len() > MAX_STATES {
                    self.state.states.remove(0);
                }
            }
        }
        for t in &d.tests {
            // A later test of the same parameter replaces an earlier one
            // only if it says more; contradictions (dead code) keep both.
            if !self.state.tests.contains(t) {
                self.state.tests.push(t.clone());
            }
        }
    }

    fn while_stmt(&mut self, n: Node) {
        let head = self.orig.get(n.start_byte()..).unwrap_or_default();
        if head.starts_with(b"scoped_guard") || head.starts_with(b"scoped_cond_guard") {
            return self.scoped_guard(n, head.starts_with(b"scoped_cond_guard"));
        }
        if let Some(c) = n.child_by_field_name("condition") {
            self.expr(c);
        }
        self.loop_body(n.child_by_field_name("body"));
    }

    fn for_stmt(&mut self, n: Node) {
        self.scopes.push(Vec::new());
        for f in ["initializer", "condition", "update"] {
            if let Some(c) = n.child_by_field_name(f) {
                if c.kind() == "declaration" {
                    self.declaration(c);
                } else {
                    self.expr(c);
                }
            }
        }
        self.loop_body(n.child_by_field_name("body"));
        self.scopes.pop();
    }

    fn do_stmt(&mut self, n: Node) {
        self.loop_body(n.child_by_field_name("body"));
        if let Some(c) = n.child_by_field_name("condition") {
            self.expr(c);
        }
    }

    /// A loop body runs zero or more times; `break` leaves it.
    fn loop_body(&mut self, body: Option<Node>) {
        let entry = self.state.clone();
        let entry_dead = self.dead;
        self.exits.push(None);
        if let Some(b) = body {
            self.stmt(b);
        }
        let breaks = self.exits.pop().flatten();
        let (end, end_dead) = (std::mem::replace(&mut self.state, entry), self.dead);
        self.dead = entry_dead;
        self.merge_branch(end, end_dead);
        if let Some(b) = breaks {
            self.merge_branch(b, false);
        }
    }

    fn switch_stmt(&mut self, n: Node) {
        let mut on_param = None;
        if let Some(c) = n.child_by_field_name("condition") {
            self.expr(c);
            let c = strip_parens(c);
            if c.kind() == "identifier" {
                on_param = self.param_index(text(c, self.src));
            }
        }
        let Some(body) = n.child_by_field_name("body") else {
            return;
        };
        let entry = self.state.clone();
        let entry_dead = self.dead;
        // Nothing falls into the first case: each case is entered from the
        // head (with its own facts) or from the case above it.
        self.dead = true;
        self.exits.push(None);
        self.scopes.push(Vec::new());
        let mut has_default = false;
        for c in named_children(body) {
            if c.kind() == "case_statement" {
                has_default |= c.child_by_field_name("value").is_none();
                // Reached from the switch head (where the parameter switched
                // on equals the case value), or by falling through.
                let mut from_head = entry.clone();
                let value = c.child_by_field_name("value");
                if let (Some(param), Some(v)) = (on_param, value) {
                    if let Some(k) = ParamTest::constant(text(v, self.src)) {
                        from_head.tests.push(ParamTest {
                            param,
                            value: Some(k),
                            equal: true,
                        });
                    }
                }
                self.merge_branch(from_head, entry_dead);
                let value = c.child_by_field_name("value").map(|v| v.id());
                for s in named_children(c) {
                    if Some(s.id()) != value {
                        self.stmt(s);
                    }
                }
            } else {
                self.stmt(c);
            }
        }
        self.scopes.pop();
        let breaks = self.exits.pop().flatten();
        if let Some(b) = breaks {
            self.merge_branch(b, false);
        }
        if !has_default {
            self.merge_branch(entry, entry_dead);
        }
    }

    /// `scoped_guard(class, lock) { body }`, rewritten by the pre-pass into a
    /// `while (class, lock)` whose original head we read back.
    fn scoped_guard(&mut self, n: Node, cond_form: bool) {
        let items = n
            .child_by_field_name("condition")
            .map(comma_items)
            .unwrap_or_default();
        let class = items.first().map(|c| text(*c, self.src).trim().to_string());
        let lock = if cond_form {
            items.last()
        } else {
            items.get(1)
        };
        let mut pushed = None;
        if let (Some(class), Some(lock)) = (class, lock) {
            if let Some(rule) = self.rules.guard(&class).cloned() {
                if let Some(key) = self.path(*lock) {
                    let idx = self.push_site(
                        n,
                        SiteKind::Acquire {
                            res: rule.resource,
                            key,
                            is_try: rule.is_try,
                            shared: rule.shared,
                            api: format!("scoped_guard({class})"),
                        },
                        Some(head_len(self.orig, n)),
                    );
                    self.state.held.push((idx, None));
                    pushed = Some(idx);
                }
            }
        }
        self.loop_body_plain(n.child_by_field_name("body"));
        if let Some(idx) = pushed {
            self.state.held.retain(|h| h.0 != idx);
        }
    }

    /// Body of a scoped guard: runs once; `break` leaves the scope.
    fn loop_body_plain(&mut self, body: Option<Node>) {
        self.exits.push(None);
        if let Some(b) = body {
            self.stmt(b);
        }
        if let Some(b) = self.exits.pop().flatten() {
            self.merge_branch(b, false);
        }
    }

    // ---- expressions ------------------------------------------------

    fn children_exprs(&mut self, n: Node) {
        for c in named_children(n) {
            self.expr(c);
        }
    }

    fn expr(&mut self, n: Node) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        match n.kind() {
            "call_expression" => {
                if let Some(args) = n.child_by_field_name("arguments") {
                    self.children_exprs(args);
                }
                if let Some(f) = n.child_by_field_name("function") {
                    if f.kind() != "identifier" {
                        self.expr(f);
                    }
                }
                self.call(n);
            }
            "assignment_expression" => {
                // `x->task = kthread_run(fn, ..)`: the call binds what it
                // returns to the assignment's target.
                let target = n.child_by_field_name("left").and_then(|l| self.path(l));
                let outer = std::mem::replace(&mut self.assign_target, target);
                if let Some(r) = n.child_by_field_name("right") {
                    self.expr(r);
                }
                self.assign_target = outer;
                if let Some(l) = n.child_by_field_name("left") {
                    self.expr(l);
                }
                self.note_state_write(n);
                self.assignment(n);
            }
            "compound_statement" => self.block(n),
            "conditional_expression" => self.conditional(n),
            "identifier" | "number_literal" | "string_literal" | "field_identifier" | "comment" => {
            }
            _ => self.children_exprs(n),
        }
        self.depth -= 1;
    }

    /// Intersect what this return (or the end of the body) holds and has
    /// released with the other returns.
    fn note_return(&mut self) {
        if self.dead {
            return;
        }
        // Guards are released by the return itself.
        let held: Vec<u32> = self
            .state
            .held
            .iter()
            .filter(|h| h.1.is_none())
            .map(|h| h.0)
            .collect();
        let released = self.state.released.clone();
        match &mut self.returns {
            None => self.returns = Some((held, released)),
            Some((h, r)) => {
                h.retain(|x| held.contains(x));
                r.retain(|x| released.contains(x));
            }
        }
    }

    /// Walk a branching node's condition, then say what it tells each arm.
    fn branch_deltas(&mut self, n: Node) -> (Delta, Delta) {
        match n.child_by_field_name("condition") {
            Some(c) => {
                self.expr(c);
                self.condition(c)
            }
            None => Default::default(),
        }
    }

    /// `c ? a : b`: each arm runs with what the condition tells it, like
    /// the branches of an `if` (`sync ? cancel_work_sync(w) : false`).
    fn conditional(&mut self, n: Node) {
        let (then_d, else_d) = self.branch_deltas(n);
        let entry = self.state.clone();
        self.apply(&then_d);
        if let Some(a) = n.child_by_field_name("consequence") {
            self.expr(a);
        }
        let then_state = std::mem::replace(&mut self.state, entry);
        self.apply(&else_d);
        if let Some(b) = n.child_by_field_name("alternative") {
            self.expr(b);
        }
        self.state.join(&then_state);
    }

    fn assignment(&mut self, n: Node) {
        let (Some(l), Some(r)) = (
            n.child_by_field_name("left"),
            n.child_by_field_name("right"),
        ) else {
            return;
        };
        if l.kind() == "identifier" && self.local_type(text(l, self.src)).is_some() {
            let name = text(l, self.src).to_string();
            self.note_alias(&name, r);
            return;
        }
        let r = strip_expr(r);
        if r.kind() != "identifier" {
            return;
        }
        let value = self.fn_value(r);
        let Some(value) = value else { return };
        if let Some(target) = self.path(l) {
            self.push_site(n, SiteKind::Store { target, value }, None);
        }
    }

    /// A local assigned from a global or a field is that path when called
    /// through (`fn = hmem_deferred_fn; fn(data);`) or locked.
    fn note_alias(&mut self, local: &str, value: Node) {
        let v = strip_expr(value);
        if matches!(v.kind(), "identifier" | "field_expression") {
            if let Some(p) = self.path(value) {
                if !matches!(&p.root, Root::Type(_)) || !p.fields.is_empty() {
                    self.aliases.insert(local.to_string(), p);
                    return;
                }
            }
        }
        self.aliases.remove(local);
    }

    /// A bare identifier used as a value: a parameter or a (possible) function.
    fn fn_value(&self, ident: Node) -> Option<FnValue> {
        let name = text(ident, self.src);
        if let Some(i) = self.param_index(name) {
            return Some(FnValue::Param(i));
        }
        if self.local_type(name).is_some() {
            return None;
        }
        Some(FnValue::Func(name.to_string()))
    }

    fn call(&mut self, n: Node) {
        let Some(f) = n.child_by_field_name("function") else {
            return;
        };
        let args: Vec<Node> = n
            .child_by_field_name("arguments")
            .map(named_children)
            .unwrap_or_default();
        let f = strip_expr(f);
        match f.kind() {
            "identifier" => self.named_call(n, text(f, self.src), &args),
            "field_expression" => {
                if let Some(p) = self.path(f) {
                    let (fn_args, kargs) = self.arg_facts(&args);
                    let kind = SiteKind::Indirect {
                        target: Target::Path(p),
                        fn_args,
                        args: kargs,
                    };
                    self.push_site(n, kind, None);
                }
            }
            "call_expression" => self.guard_call(n, f, &args),
            _ => {}
        }
    }

    fn named_call(&mut self, n: Node, name: &str, args: &[Node]) {
        if let Some(i) = self.param_index(name) {
            let (fn_args, kargs) = self.arg_facts(args);
            let kind = SiteKind::Indirect {
                target: Target::Param(i),
                fn_args,
                args: kargs,
            };
            self.push_site(n, kind, None);
            return;
        }
        if self.local_type(name).is_some() {
            if let Some(p) = self.aliases.get(name).cloned() {
                let (fn_args, kargs) = self.arg_facts(args);
                let kind = SiteKind::Indirect {
                    target: Target::Path(p),
                    fn_args,
                    args: kargs,
                };
                self.push_site(n, kind, None);
            }
            return;
        }
        if self.rules.knows(name) {
            let effects = self.rules.effects(name).to_vec();
            for e in effects {
                self.effect(n, name, &e, args);
            }
            return;
        }
        let (fn_args, kargs) = self.arg_facts(args);
        let kind = SiteKind::Call {
            callee: name.to_string(),
            fn_args,
            args: kargs,
        };
        self.push_site(n, kind, None);
    }

    /// `guard(class)(lock)`: held until the end of the enclosing block.
    fn guard_call(&mut self, n: Node, inner: Node, args: &[Node]) {
        let is_guard = inner
            .child_by_field_name("function")
            .is_some_and(|g| text(g, self.src) == "guard");
        if !is_guard {
            return;
        }
        let class = inner
            .child_by_field_name("arguments")
            .and_then(|a| named_children(a).first().copied())
            .map(|c| text(c, self.src).trim().to_string())
            .unwrap_or_default();
        let Some(rule) = self.rules.guard(&class).cloned() else {
            return;
        };
        let key = match (args.first(), &rule.key) {
            (Some(a), _) => self.path(*a),
            (None, Some(k)) => Some(named(k, Some(k), &[])),
            (None, None) => None,
        };
        let Some(key) = key else {
            return;
        };
        let kind = SiteKind::Acquire {
            res: rule.resource,
            key,
            is_try: rule.is_try,
            shared: rule.shared,
            api: format!("guard({class})"),
        };
        let idx = self.push_site(n, kind, None);
        if !rule.is_try {
            let depth = self.scopes.len();
            self.state.held.push((idx, Some(depth)));
        }
    }

    fn effect(&mut self, n: Node, api: &str, e: &Effect, args: &[Node]) {
        let arg_path = |w: &Self, i: Option<usize>| -> Option<Option<KeyPath>> {
            match i {
                None => Some(None),
                Some(i) => args.get(i).and_then(|a| w.path(*a)).map(Some),
            }
        };
        match e {
            Effect::Acquire(r) => {
                let Some(key) = arg_path(self, r.arg) else {
                    return;
                };
                let mut key = key.unwrap_or_else(|| named(api, r.key.as_deref(), &r.calls));
                key.fields.extend(
                    r.field
                        .iter()
                        .flat_map(|f| f.split('.'))
                        .map(str::to_string),
                );
                // An assertion is recorded like a trylock that succeeded:
                // no wait (no acquire effect), held from here on.
                let kind = SiteKind::Acquire {
                    res: r.resource,
                    key,
                    is_try: r.is_try || r.asserted,
                    shared: r.shared,
                    api: api.to_string(),
                };
                let idx = self.push_site(n, kind, None);
                if !r.is_try || r.asserted {
                    self.state.held.push((idx, None));
                    if let Some(SiteKind::Acquire { key, .. }) = self.sites.last().map(|s| &s.kind)
                    {
                        let key = key.clone();
                        self.state.released.retain(|k| *k != key);
                    }
                }
            }
            Effect::Release(r) => {
                let Some(key) = arg_path(self, r.arg) else {
                    return;
                };
                let mut key = key.unwrap_or_else(|| named(api, r.key.as_deref(), &r.calls));
                key.fields.extend(
                    r.field
                        .iter()
                        .flat_map(|f| f.split('.'))
                        .map(str::to_string),
                );
                self.release(&key);
                self.push_site(
                    n,
                    SiteKind::Release {
                        res: r.resource,
                        key,
                    },
                    None,
                );
            }
            Effect::Wait(r) => {
                let Some(key) = arg_path(self, r.arg) else {
                    return;
                };
                let kind = SiteKind::Wait {
                    res: r.resource,
                    key,
                    mode: r.mode,
                    api: api.to_string(),
                };
                self.push_site(n, kind, None);
            }
            Effect::Bind(r) => {
                let key = if r.returns {
                    self.assign_target.clone()
                } else {
                    args.get(r.arg).and_then(|a| self.path(*a))
                };
                let handler = args
                    .get(r.handler)
                    .map(|h| strip_expr(*h))
                    .filter(|h| h.kind() == "identifier")
                    .and_then(|h| self.fn_value(h));
                if let (Some(key), Some(handler)) = (key, handler) {
                    let kind = SiteKind::Bind {
                        key,
                        handler,
                        api: api.to_string(),
                    };
                    self.push_site(n, kind, None);
                }
            }
            Effect::Queue(r) => {
                let Some(key) = args.get(r.arg).and_then(|a| self.path(*a)) else {
                    return;
                };
                let queue = match (r.queue_arg, &r.queue) {
                    (Some(i), _) => args.get(i).and_then(|a| self.path(*a)),
                    (None, Some(q)) => Some(KeyPath::global(q)),
                    _ => None,
                };
                let kind = SiteKind::Queue {
                    key,
                    queue,
                    api: api.to_string(),
                };
                self.push_site(n, kind, None);
            }
            Effect::Devres(r) => {
                let action = args
                    .get(r.action)
                    .map(|h| strip_expr(*h))
                    .filter(|h| h.kind() == "identifier")
                    .and_then(|h| self.fn_value(h));
                if let Some(action) = action {
                    let kind = SiteKind::Devres {
                        action,
                        api: api.to_string(),
                    };
                    self.push_site(n, kind, None);
                }
            }
            Effect::CurrentWork => {}
            Effect::Bit(_) => {
                if let Some((op, bit, key)) = self.bit_call(n) {
                    if op != BitOp::Test {
                        let f = StateTest {
                            key: key.clone(),
                            bit: Some(bit),
                            value: None,
                            equal: matches!(op, BitOp::Set | BitOp::TestAndSet),
                        };
                        self.state.set_bit_known(f);
                    }
                }
            }
            Effect::Signal(r) => {
                if let Some(key) = args.get(r.arg).and_then(|a| self.path(*a)) {
                    let kind = SiteKind::Signal {
                        res: r.resource,
                        key,
                        api: api.to_string(),
                    };
                    self.push_site(n, kind, None);
                }
            }
        }
    }

    /// `void f(struct foo *p) __must_hold(&p->lock) {`: annotations between
    /// the parameters and the body (blanked by the pre-pass, read from the
    /// original text) that assert a hold are holds from the first line.
    fn annotated_holds(&mut self, from: usize, to: usize, body: Node) {
        let Some(between) = self.orig.get(from..to) else {
            return;
        };
        let between = String::from_utf8_lossy(between).into_owned();
        for (name, arg) in annotations(&between) {
            let rule = self.rules.effects(&name).iter().find_map(|e| match e {
                Effect::Acquire(r) if r.asserted => Some(r.clone()),
                _ => None,
            });
            let (Some(rule), Some(key)) = (rule, self.text_path(&arg)) else {
                continue;
            };
            let kind = SiteKind::Acquire {
                res: rule.resource,
                key,
                is_try: true,
                shared: rule.shared,
                api: name,
            };
            // Anchored at the body's opening brace: a real position in the
            // function, with the annotation's text.
            let idx = self.push_site(body, kind, Some(1));
            if let Some(site) = self.sites.get_mut(idx as usize) {
                site.text = format!("{}({arg})", site_api(&site.kind));
            }
            self.state.held.push((idx, None));
        }
    }

    /// The access path of a simple lvalue written as text (`&p->dev.lock`,
    /// `busdevs_lock`): what an annotation's argument names.
    fn text_path(&self, t: &str) -> Option<KeyPath> {
        let t = t.trim().trim_start_matches('&').trim();
        let t = t.trim_start_matches('(').trim_end_matches(')').trim();
        let mut parts = t.split("->").flat_map(|p| p.split('.')).map(str::trim);
        let root = parts.next()?;
        let ident = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !ident(root) {
            return None;
        }
        let mut p = self.ident_path(root);
        for f in parts {
            if !ident(f) {
                return None;
            }
            p.fields.push(f.to_string());
        }
        Some(p)
    }

    /// Does `api` assert a hold instead of taking it (`lockdep_assert_held`)?
    fn is_assertion(&self, api: &str) -> bool {
        self.rules
            .effects(api)
            .iter()
            .any(|e| matches!(e, Effect::Acquire(r) if r.asserted))
    }

    /// Drop the hold a release matches: the same path, else the newest hold
    /// of a lock with the same last field (`&p->lock` after `&priv->lock`).
    fn release(&mut self, key: &KeyPath) {
        let same = |s: &Site| matches!(&s.kind, SiteKind::Acquire { key: k, .. } if k == key);
        let similar = |s: &Site| {
            matches!(&s.kind, SiteKind::Acquire { key: k, .. }
                if k.fields.last() == key.fields.last() && !key.fields.is_empty())
        };
        let sites = &self.sites;
        // Releasing a lock the function only asserted it holds
        // (`lockdep_assert_held(&p->lock); ..; mutex_unlock(&p->lock)`)
        // lets the caller's lock go: an unlock wrapper.
        let asserted = self.state.held.iter().any(|h| {
            sites.get(h.0 as usize).is_some_and(|s| {
                (same(s) || similar(s))
                    && matches!(&s.kind, SiteKind::Acquire { api, .. } if self.is_assertion(api))
            })
        });
        if asserted && !self.state.released.contains(key) {
            self.state.released.push(key.clone());
        }
        // Two holds of the same path are one lock taken on two joined
        // paths (`lock; while (..) { unlock; ..; lock; }`): one unlock
        // releases both.
        let before = self.state.held.len();
        self.state
            .held
            .retain(|h| !sites.get(h.0 as usize).is_some_and(same));
        if self.state.held.len() != before {
            return;
        }
        let pick = self
            .state
            .held
            .iter()
            .rposition(|h| sites.get(h.0 as usize).is_some_and(same))
            .or_else(|| {
                self.state
                    .held
                    .iter()
                    .rposition(|h| sites.get(h.0 as usize).is_some_and(similar))
            });
        match pick {
            Some(i) => {
                self.state.held.remove(i);
            }
            // Not taken here: the caller's lock, let go for a while.
            None if !self.state.released.contains(key) => self.state.released.push(key.clone()),
            None => {}
        }
    }

    /// What an if-condition tells its branches: a successful trylock holds
    /// the lock; `current_work() != &w` says we are not running in `w`.
    fn condition(&self, c: Node) -> (Delta, Delta) {
        let c = strip_parens(c);
        match c.kind() {
            "unary_expression" if op(c, self.src) == "!" => {
                let (t, e) = c
                    .child_by_field_name("argument")
                    .map(|a| self.condition(a))
                    .unwrap_or_default();
                (e, t)
            }
            "binary_expression" => self.binary_condition(c),
            "call_expression" => match self.bit_test(c) {
                Some(t) => Delta::state(t),
                None => self.try_call(c),
            },
            "identifier" => match self.param_index(text(c, self.src)) {
                Some(param) => Self::test_delta(param, None, true),
                None => self.state_truth(c),
            },
            "field_expression" => self.state_truth(c),
            _ => Default::default(),
        }
    }

    /// An object-state path: a field (`x->done`) or a global
    /// (`timer_expired`), never a local or a parameter's own value.
    fn state_path(&self, n: Node) -> Option<KeyPath> {
        let n = strip_expr(n);
        if !matches!(n.kind(), "identifier" | "field_expression") {
            return None;
        }
        let p = self.path(n)?;
        (matches!(p.root, Root::Global(_)) || !p.fields.is_empty()).then_some(p)
    }

    /// `if (x->done)`: the field is non-zero in one branch, zero in the other.
    fn state_truth(&self, n: Node) -> (Delta, Delta) {
        match self.state_path(n) {
            Some(key) => Delta::state(StateTest {
                key,
                bit: None,
                value: None,
                equal: true,
            }),
            None => Default::default(),
        }
    }

    /// `x->state == X` with `X` a constant.
    fn state_comparison(&self, l: Node, r: Node, equal: bool) -> Option<(Delta, Delta)> {
        let (path, c) = match ParamTest::constant(text(strip_parens(r), self.src)) {
            Some(c) => (self.state_path(l)?, c),
            None => (
                self.state_path(r)?,
                ParamTest::constant(text(strip_parens(l), self.src))?,
            ),
        };
        let (value, equal) = if c == "0" {
            (None, !equal)
        } else {
            (Some(c), equal)
        };
        Some(Delta::state(StateTest {
            key: path,
            bit: None,
            value,
            equal,
        }))
    }

    /// `test_bit(FLAG, &x->flags)` (a `[[bit]]` rule with op "test").
    fn bit_test(&self, c: Node) -> Option<StateTest> {
        let (op, bit, key) = self.bit_call(c)?;
        (op == BitOp::Test).then_some(StateTest {
            key,
            bit: Some(bit),
            value: None,
            equal: true,
        })
    }

    /// A `[[bit]]` call: its op, the bit (a constant) and the flag word.
    fn bit_call(&self, c: Node) -> Option<(BitOp, String, KeyPath)> {
        let f = c.child_by_field_name("function")?;
        let rule = self
            .rules
            .effects(text(f, self.src))
            .iter()
            .find_map(|e| match e {
                Effect::Bit(r) => Some(r.clone()),
                _ => None,
            })?;
        let args = named_children(c.child_by_field_name("arguments")?);
        let bit = ParamTest::constant(text(strip_parens(*args.get(rule.bit)?), self.src))?;
        let key = self.state_path(*args.get(rule.addr)?)?;
        Some((rule.op, bit, key))
    }

    /// Object state an assignment sets: `x->done = true`,
    /// `x->flags |= F`, `x->flags &= ~F`; any other write forgets it.
    fn note_state_write(&mut self, n: Node) {
        let (Some(l), Some(r)) = (
            n.child_by_field_name("left"),
            n.child_by_field_name("right"),
        ) else {
            return;
        };
        let Some(key) = self.state_path(l) else {
            return;
        };
        let r = strip_parens(r);
        let constant = ParamTest::constant(text(r, self.src));
        let fact = match (op(n, self.src), constant) {
            ("=", Some(c)) if c == "0" => Some((None, None, false)),
            ("=", Some(c)) => Some((None, Some(c), true)),
            ("|=", Some(m)) => Some((Some(m), None, true)),
            ("&=", None) if r.kind() == "unary_expression" && op(r, self.src) == "~" => r
                .child_by_field_name("argument")
                .and_then(|a| ParamTest::constant(text(strip_parens(a), self.src)))
                .map(|m| (Some(m), None, false)),
            _ => None,
        };
        let fact = fact.map(|(bit, value, equal)| StateTest {
            key: key.clone(),
            bit,
            value,
            equal,
        });
        match fact {
            // A bit write leaves the other bits of the word as they were.
            Some(f) if f.bit.is_some() => self.state.set_bit_known(f),
            _ => self.state.set_known(fact, &key),
        }
    }

    /// `p == X` / `X != p` with `p` a parameter and `X` a constant.
    fn param_comparison(&self, l: Node, r: Node, equal: bool) -> Option<(Delta, Delta)> {
        let (l, r) = (strip_parens(l), strip_parens(r));
        let (param, other) = match (l.kind(), r.kind()) {
            ("identifier", _) if self.param_index(text(l, self.src)).is_some() => (l, r),
            (_, "identifier") if self.param_index(text(r, self.src)).is_some() => (r, l),
            _ => return None,
        };
        let index = self.param_index(text(param, self.src))?;
        let c = ParamTest::constant(text(other, self.src))?;
        if c == "0" {
            // `p == 0`, `p != NULL`: truthiness.
            return Some(Self::test_delta(index, None, !equal));
        }
        Some(Self::test_delta(index, Some(c), equal))
    }

    /// The branches of a test: it holds in one, its negation in the other.
    fn test_delta(param: u32, value: Option<String>, equal: bool) -> (Delta, Delta) {
        let t = ParamTest {
            param,
            value: value.clone(),
            equal,
        };
        let f = ParamTest {
            param,
            value,
            equal: !equal,
        };
        let with = |t| Delta {
            tests: vec![t],
            ..Delta::default()
        };
        (with(t), with(f))
    }

    fn binary_condition(&self, c: Node) -> (Delta, Delta) {
        let (Some(l), Some(r)) = (
            c.child_by_field_name("left"),
            c.child_by_field_name("right"),
        ) else {
            return Default::default();
        };
        match op(c, self.src) {
            "&&" => {
                let (mut t, _) = self.condition(l);
                let (t2, _) = self.condition(r);
                t.extend(t2);
                (t, Delta::default())
            }
            "||" => {
                let (_, mut e) = self.condition(l);
                let (_, e2) = self.condition(r);
                e.extend(e2);
                (Delta::default(), e)
            }
            "&" => {
                // `x->flags & FLAG`: one bit of a flag word.
                let (w, m) = match ParamTest::constant(text(strip_parens(r), self.src)) {
                    Some(m) => (l, m),
                    None => match ParamTest::constant(text(strip_parens(l), self.src)) {
                        Some(m) => (r, m),
                        None => return Default::default(),
                    },
                };
                match self.state_path(w) {
                    Some(key) => Delta::state(StateTest {
                        key,
                        bit: Some(m),
                        value: None,
                        equal: true,
                    }),
                    None => Default::default(),
                }
            }
            o @ ("!=" | "==") => {
                if let Some(d) = self.param_comparison(l, r, o == "==") {
                    return d;
                }
                if let Some(d) = self.state_comparison(l, r, o == "==") {
                    return d;
                }
                let work = if self.is_current_work(l) {
                    self.path(r)
                } else if self.is_current_work(r) {
                    self.path(l)
                } else {
                    None
                };
                let Some(work) = work else {
                    return Default::default();
                };
                let d = Delta {
                    not_in_work: vec![work],
                    ..Delta::default()
                };
                if o == "!=" {
                    (d, Delta::default())
                } else {
                    (Delta::default(), d)
                }
            }
            _ => Default::default(),
        }
    }

    fn is_current_work(&self, n: Node) -> bool {
        let n = strip_parens(n);
        n.kind() == "call_expression"
            && n.child_by_field_name("function").is_some_and(|f| {
                self.rules
                    .effects(text(f, self.src))
                    .iter()
                    .any(|e| matches!(e, Effect::CurrentWork))
            })
    }

    /// A trylock call as a condition: which branch holds what it took.
    fn try_call(&self, c: Node) -> (Delta, Delta) {
        let start = c.start_byte() as u32;
        let found = self.sites.iter().enumerate().rev().find(|(_, s)| {
            s.pos.start == start && matches!(s.kind, SiteKind::Acquire { is_try: true, .. })
        });
        let Some((idx, site)) = found else {
            return Default::default();
        };
        let api = match &site.kind {
            SiteKind::Acquire { api, .. } => api.as_str(),
            _ => "",
        };
        let zero_is_success = self
            .rules
            .effects(api)
            .iter()
            .any(|e| matches!(e, Effect::Acquire(r) if r.is_try && r.returns_zero_on_success));
        let d = Delta {
            holds: vec![idx as u32],
            ..Delta::default()
        };
        if zero_is_success {
            (Delta::default(), d)
        } else {
            (d, Delta::default())
        }
    }

    // ---- access paths -----------------------------------------------

    /// The access path an expression names, for keys and pointer slots.
    pub fn path(&self, n: Node) -> Option<KeyPath> {
        let n = strip_expr(n);
        match n.kind() {
            "identifier" => Some(self.ident_path(text(n, self.src))),
            "field_expression" => {
                let base = self.path(n.child_by_field_name("argument")?)?;
                let field = text(n.child_by_field_name("field")?, self.src).to_string();
                let mut p = base;
                p.fields.push(field);
                Some(p)
            }
            "subscript_expression" => self.path(n.child_by_field_name("argument")?),
            "cast_expression" => {
                let ty = type_name(n.child_by_field_name("type")?, self.src);
                if ty.is_empty() {
                    return self.path(n.child_by_field_name("value")?);
                }
                Some(KeyPath {
                    root: Root::Type(ty),
                    fields: vec![],
                })
            }
            "call_expression" => self.call_path(n),
            _ => None,
        }
    }

    /// `container_of(ptr, struct foo, member)` names a `struct foo`.
    fn call_path(&self, n: Node) -> Option<KeyPath> {
        let f = text(n.child_by_field_name("function")?, self.src);
        let args = named_children(n.child_by_field_name("arguments")?);
        if self.rules.types.container_of.iter().any(|m| m == f) && args.len() == 3 {
            let ty = container_type(text(args[1], self.src));
            if !ty.is_empty() {
                return Some(KeyPath {
                    root: Root::Type(ty),
                    fields: vec![],
                });
            }
        }
        None
    }

    fn ident_path(&self, name: &str) -> KeyPath {
        if let Some(p) = self.aliases.get(name) {
            return self.typed_alias(name, p);
        }
        if let Some(i) = self.param_index(name) {
            let ty = self.params[i as usize].ty.clone();
            return KeyPath {
                root: Root::Param { index: i, ty },
                fields: vec![],
            };
        }
        if let Some(ty) = self.local_type(name) {
            return KeyPath {
                root: Root::Type(ty.to_string()),
                fields: vec![],
            };
        }
        KeyPath::global(name)
    }

    /// The access path a struct-typed local stands for: a parameter keeps
    /// its index (callers substitute their argument) but takes the local's
    /// type (`struct foo *f = data;` with `void *data`); a field path is
    /// replaced by the declared type, which resolves without knowing the
    /// field's (often `void *`) type.
    fn typed_alias(&self, name: &str, alias: &KeyPath) -> KeyPath {
        let declared = self
            .local_type(name)
            .filter(|_| self.typed_locals.contains(name));
        match (declared, &alias.root) {
            (Some(ty), Root::Param { index, .. }) if alias.fields.is_empty() => KeyPath {
                root: Root::Param {
                    index: *index,
                    ty: ty.to_string(),
                },
                fields: vec![],
            },
            (Some(ty), _) if !alias.fields.is_empty() => KeyPath {
                root: Root::Type(ty.to_string()),
                fields: vec![],
            },
            _ => alias.clone(),
        }
    }

    fn local_type(&self, name: &str) -> Option<&str> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    fn param_index(&self, name: &str) -> Option<u32> {
        if self.local_type(name).is_some() {
            return None;
        }
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|i| i as u32)
    }

    /// Bare-identifier arguments (maybe functions) and arguments' paths.
    #[allow(clippy::type_complexity)]
    fn arg_facts(&self, args: &[Node]) -> (Vec<(u32, FnValue)>, Vec<(u32, KeyPath)>) {
        let mut fns = Vec::new();
        let mut paths = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let s = strip_expr(*a);
            if s.kind() == "identifier" {
                if let Some(v) = self.fn_value(s) {
                    fns.push((i as u32, v));
                }
            }
            if let Some(p) = self.path(*a) {
                paths.push((i as u32, p));
            }
        }
        (fns, paths)
    }

    fn push_site(&mut self, n: Node, kind: SiteKind, len: Option<usize>) -> u32 {
        let mut p = pos(n);
        let text = match len {
            // A direct call's text is never shown (its step reads "calls
            // foo()", and its source line is shown from the file) unless it
            // hands over a function (a registration): not storing it saves
            // an allocation for most sites of a tree.
            _ if matches!(&kind, SiteKind::Call { fn_args, .. } if fn_args.is_empty()) => {
                if let Some(l) = len {
                    p.end = p.start + l as u32;
                }
                String::new()
            }
            Some(l) => {
                p.end = p.start + l as u32;
                snippet_bytes(self.orig, p.start as usize, p.end as usize)
            }
            None => snippet(n, self.orig),
        };
        let held = self.state.held.iter().map(|h| h.0).collect();
        let consts = call_constants(n, self.src);
        // Only what leads to waits needs the object state (memory: most
        // sites of a tree are under some test).
        let (known, states) = match &kind {
            SiteKind::Call { .. } | SiteKind::Indirect { .. } => {
                (self.state.known.clone(), self.state.states.clone())
            }
            SiteKind::Wait { .. } => (Vec::new(), self.state.states.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        self.sites.push(Site {
            pos: p,
            kind,
            held,
            not_in_work: self.state.not_in_work.clone(),
            guards: self.state.tests.clone(),
            consts,
            released: self.state.released.clone(),
            states,
            known,
            text,
        });
        (self.sites.len() - 1) as u32
    }
}

/// The api name of an acquisition site.
fn site_api(k: &SiteKind) -> &str {
    match k {
        SiteKind::Acquire { api, .. } => api,
        _ => "",
    }
}

/// `name(arg)` annotations in a stretch of text, parentheses balanced.
fn annotations(t: &str) -> Vec<(String, String)> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &t[start..i];
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) != Some(&b'(') {
            continue;
        }
        let (mut depth, mut k) = (0usize, j);
        while k < b.len() {
            match b[k] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if k >= b.len() {
            break;
        }
        out.push((name.to_string(), t[j + 1..k].to_string()));
        i = k + 1;
    }
    out
}

/// `DEFINE_MUTEX`, `DECLARE_COMPLETION`, ...: a macro that declares the
/// object named in its parentheses (parsed as that object's "type").
fn is_macro_object(ty: &str) -> bool {
    (ty.starts_with("DEFINE_") || ty.starts_with("DECLARE_"))
        && ty
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Constant arguments of a call expression (`foo(dev, true, EV_KICK)`).
fn call_constants(n: Node, src: &[u8]) -> Vec<(u32, String)> {
    if n.kind() != "call_expression" {
        return Vec::new();
    }
    let Some(args) = n.child_by_field_name("arguments") else {
        return Vec::new();
    };
    named_children(args)
        .into_iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let c = ParamTest::constant(text(strip_parens(a), src))?;
            Some((i as u32, c))
        })
        .collect()
}

/// The instance key of an argument-less API (`rtnl_lock()`): the rule's
/// `key`, else the first name of its rule.
fn named(api: &str, key: Option<&str>, calls: &[String]) -> KeyPath {
    let name = key.or(calls.first().map(String::as_str)).unwrap_or(api);
    KeyPath {
        root: Root::Named(name.to_string()),
        fields: vec![],
    }
}

fn strip_parens(mut n: Node) -> Node {
    while n.kind() == "parenthesized_expression" {
        match named_children(n).first() {
            Some(c) => n = *c,
            None => break,
        }
    }
    n
}

fn op<'s>(n: Node, src: &'s [u8]) -> &'s str {
    n.child_by_field_name("operator")
        .map(|o| text(o, src))
        .unwrap_or("")
}

fn comma_items(n: Node) -> Vec<Node> {
    let n = strip_parens(n);
    if n.kind() != "comma_expression" {
        return vec![n];
    }
    let mut out = Vec::new();
    if let Some(l) = n.child_by_field_name("left") {
        out.extend(comma_items(l));
    }
    if let Some(r) = n.child_by_field_name("right") {
        out.extend(comma_items(r));
    }
    out
}

/// `struct foo` / `typeof(*p)` in container_of's type argument.
fn container_type(t: &str) -> String {
    let t = t.trim();
    let t = t.strip_prefix("const ").unwrap_or(t).trim();
    if let Some(rest) = t.strip_prefix("struct ") {
        return rest.trim().to_string();
    }
    if super::syntax::is_ident(t) {
        return t.to_string();
    }
    String::new()
}

/// The original text of a rewritten loop head (`scoped_guard(...)`).
fn head_len(orig: &[u8], n: Node) -> usize {
    let s = n.start_byte();
    let Some(rest) = orig.get(s..n.end_byte()) else {
        return 0;
    };
    let mut depth = 0usize;
    for (i, b) in rest.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    rest.len().min(40)
}

fn snippet_bytes(src: &[u8], start: usize, end: usize) -> String {
    let t = src
        .get(start..end.min(src.len()))
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}
