//! Per-function summaries: everything a call of the function may wait on,
//! acquire or queue, transitively, each with a link to its witness, computed
//! over the call graph (direct calls, calls through stored pointers and
//! parameters, devres actions) to a fixpoint, so recursion terminates.

use std::collections::{HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;

use super::fresh::Fresh;
use super::index::{FnId, Index, Resource};
use super::timing::Stages;
use crate::facts::model::{FnValue, KeyPath, ParamTest, Root, Site, SiteKind, StateTest, Target};
use crate::rules::{ResourceKind, WaitMode};

/// Summaries are capped per function: a function reaching more distinct
/// waits than this is summarised by the first ones found (keeps memory and
/// time bounded on kernel-wide call graphs).
const MAX_EFFECTS: usize = 96;
/// Fixpoint rounds inside one strongly connected component.
const MAX_ROUNDS: usize = 24;
/// An indirect call whose slot holds more functions than this (a generic
/// ops table: `file_operations::release`) is resolved only to the targets
/// in the caller's own directory: the driver's own implementation.
const MAX_FANOUT: usize = 16;
/// Object-state guards an effect carries (the innermost ones).
const MAX_STATE_GUARDS: usize = 4;

/// An object-state test resolved to its class: `ionic_lif::state` bit
/// `IONIC_LIF_F_FW_RESET` clear, `ima_queue_keys.c`'s `timer_expired` zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateGuard {
    /// The class key of the field or global.
    pub key: &'static str,
    /// For a file-static global, its file.
    pub file: Option<u32>,
    pub bit: Option<String>,
    pub value: Option<String>,
    pub equal: bool,
}

/// Every object-state guard of the tree, numbered once: effects carry
/// the numbers (millions of effects, a few thousand distinct guards).
#[derive(Default)]
pub struct StateTable {
    pub guards: Vec<StateGuard>,
    ids: HashMap<StateGuard, u32>,
}

impl StateTable {
    fn build(idx: &Index) -> StateTable {
        let mut t = StateTable::default();
        for f in 0..idx.fns.len() as FnId {
            let file = idx.file_of(f);
            for site in &idx.func(f).sites {
                for st in site.states.iter().chain(&site.known) {
                    if let Some(g) = StateGuard::resolve(idx, file, st) {
                        if !t.ids.contains_key(&g) {
                            t.ids.insert(g.clone(), t.guards.len() as u32);
                            t.guards.push(g);
                        }
                    }
                }
            }
        }
        t
    }

    fn id(&self, idx: &Index, file: u32, t: &StateTest) -> Option<u32> {
        self.ids.get(&StateGuard::resolve(idx, file, t)?).copied()
    }

    fn contradicts(&self, a: u32, b: u32) -> bool {
        match (self.guards.get(a as usize), self.guards.get(b as usize)) {
            (Some(x), Some(y)) => a != b && x.contradicts(y),
            _ => false,
        }
    }
}

impl StateGuard {
    fn resolve(idx: &Index, file: u32, t: &StateTest) -> Option<StateGuard> {
        let (key, scope) = idx.slot(file, &t.key)?;
        Some(StateGuard {
            key,
            file: scope,
            bit: t.bit.clone(),
            value: t.value.clone(),
            equal: t.equal,
        })
    }

    /// Can this test and `other` not both hold?
    pub fn contradicts(&self, other: &StateGuard) -> bool {
        let test = |g: &StateGuard| ParamTest {
            param: 0,
            value: g.value.clone(),
            equal: g.equal,
        };
        self.key == other.key
            && self.file == other.file
            && self.bit == other.bit
            && test(self).contradicts(&test(other))
    }
}

/// The resource an effect is on: resolved, or still a parameter of the
/// function (a wrapper: `foo_flush(struct work_struct *w)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EKey {
    /// Interned (`intern::resource`).
    Res(&'static Resource),
    /// Boxed: rare next to resolved keys, and large.
    Param(Box<ParamKey>),
}

/// A key still rooted at a parameter of the function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParamKey {
    pub index: u32,
    pub fields: Vec<String>,
    pub ty: String,
    pub kind: ResourceKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EffKind {
    /// Blocks until the resource is released/finished (`flush_work`).
    Wait(WaitMode),
    /// Blocks until the lock is free, then holds it.
    Acquire,
    /// Makes the work item runnable (trigger, never an edge).
    Queue,
    /// Calls through its parameter `i` (a callback).
    CallsParam(u32),
}

/// How the effect is reached from the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// At this site of the function itself.
    Site(u32),
    /// Through the call at `site` into `callee`'s effect `eff`.
    Call { site: u32, callee: FnId, eff: u32 },
    /// `site` calls `callee`, passing `target`; `callee` calls it back
    /// (`callee`'s effect `param_eff` is the call through the parameter),
    /// and `target`'s effect `eff` is this one.
    Callback {
        site: u32,
        callee: FnId,
        param_eff: u32,
        target: FnId,
        eff: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eff {
    pub kind: EffKind,
    pub key: EKey,
    /// Reached through a devres action: runs at devres release, not at the
    /// registration site.
    pub devres: bool,
    /// `unless_in`, guards, released locks and object states, when any
    /// (most effects have none: a whole tree has millions of effects).
    extra: Option<Box<EffExtra>>,
    pub via: Via,
}

/// The rarely set parts of an effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct EffExtra {
    /// Does not happen when running in this work (`current_work() != &w`).
    unless_in: Option<Resource>,
    /// What this function's parameters must be for the effect to happen
    /// (callers passing a contradicting constant do not reach it).
    guards: Vec<ParamTest>,
    /// Locks a caller may hold that are released on the way to the effect
    /// (the callee lets its caller's lock go before waiting): a caller
    /// holding one of them does not hold it across this effect.
    released: Vec<Resource>,
    /// What object state must be for the effect to happen (a caller that
    /// set a contradicting state before the call does not reach it).
    /// (Numbers in `Summaries::states`; only waits carry them.)
    states: Vec<u32>,
}

impl Eff {
    fn new(kind: EffKind, key: EKey, unless_in: Option<Resource>, devres: bool, via: Via) -> Eff {
        Eff {
            kind,
            key,
            devres,
            extra: unless_in.map(|w| {
                Box::new(EffExtra {
                    unless_in: Some(w),
                    ..EffExtra::default()
                })
            }),
            via,
        }
    }

    /// Does not happen when running in this work (`current_work() != &w`).
    pub fn unless_in(&self) -> Option<&Resource> {
        self.extra.as_ref().and_then(|x| x.unless_in.as_ref())
    }

    /// What this function's parameters must be for the effect to happen
    /// (callers passing a contradicting constant do not reach it).
    pub fn guards(&self) -> &[ParamTest] {
        self.extra.as_ref().map_or(&[], |x| &x.guards)
    }

    /// Locks a caller may hold that are released on the way to the effect
    /// (the callee lets its caller's lock go before waiting): a caller
    /// holding one of them does not hold it across this effect.
    pub fn released(&self) -> &[Resource] {
        self.extra.as_ref().map_or(&[], |x| &x.released)
    }

    /// What object state must be for the effect to happen (numbers in
    /// `Summaries::states`; only waits carry them).
    pub fn states(&self) -> &[u32] {
        self.extra.as_ref().map_or(&[], |x| &x.states)
    }

    fn extra_mut(&mut self) -> &mut EffExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Drop the side data when nothing is left in it.
    fn trim(&mut self) {
        if self
            .extra
            .as_ref()
            .is_some_and(|x| **x == EffExtra::default())
        {
            self.extra = None;
        }
    }

    fn with_extra(
        mut self,
        guards: Vec<ParamTest>,
        released: Vec<Resource>,
        states: Vec<u32>,
    ) -> Eff {
        if !(guards.is_empty() && released.is_empty() && states.is_empty()) {
            let x = self.extra_mut();
            x.guards = guards;
            x.released = released;
            x.states = states;
        }
        self
    }
}

type DedupKey = (
    EffKind,
    EKey,
    Option<Resource>,
    bool,
    Vec<ParamTest>,
    Vec<Resource>,
);

impl Eff {
    fn dedup_key(&self) -> DedupKey {
        (
            self.kind,
            self.key.clone(),
            self.unless_in().cloned(),
            self.devres,
            self.guards().to_vec(),
            self.released().to_vec(),
        )
    }
}

/// A callee effect's guards in the caller's terms, given the call's
/// constant arguments and argument paths: `None` when a constant
/// contradicts a guard (the caller never reaches the effect); guards on
/// parameters the caller passes its own parameter for are carried up;
/// guards the caller's arguments do not decide are dropped (the effect may
/// happen).
fn rebase_guards(
    guards: &[ParamTest],
    consts: &[(u32, String)],
    args: &[(u32, KeyPath)],
) -> Option<Vec<ParamTest>> {
    let mut out = Vec::new();
    for t in guards {
        if let Some((_, c)) = consts.iter().find(|(i, _)| *i == t.param) {
            if t.holds_for(c) == Some(false) {
                return None;
            }
            continue;
        }
        let passed = args.iter().find(|(i, _)| *i == t.param).map(|(_, p)| p);
        if let Some(KeyPath {
            root: Root::Param { index, .. },
            fields,
        }) = passed
        {
            if fields.is_empty() {
                out.push(ParamTest {
                    param: *index,
                    ..t.clone()
                });
            }
        }
    }
    Some(out)
}

pub struct Summaries {
    pub effs: Vec<Vec<Eff>>,
    /// Functions reachable from an entry context: only their summaries keep
    /// lock acquisitions (elsewhere a lock taken under another lock is a
    /// lock-order question, lockdep's domain), which bounds summary size on
    /// whole trees.
    pub in_context: Vec<bool>,
    /// Pointer slot (`foo_ops::reset`, `hmem_deferred_fn`) -> functions stored.
    pub slots: Slots,
    /// Completions some function signals (`complete()`): the only ones a
    /// wait on can be part of a cycle.
    pub signalled: HashSet<Resource>,
    /// The object-state guards effects refer to.
    pub states: StateTable,
    /// Work items a call just set up and nothing queued yet.
    pub fresh: Fresh,
}

/// Pointer slot (`foo_ops::reset`, with the file of a static global) ->
/// the functions stored in it, in the order they were found.
pub type Slots = HashMap<(&'static str, Option<u32>), Vec<FnId>>;

/// Every completion class with a `complete()` site in the tree.
fn signalled(idx: &Index) -> HashSet<Resource> {
    let mut out = HashSet::new();
    for f in 0..idx.fns.len() as FnId {
        let file = idx.file_of(f);
        for site in &idx.func(f).sites {
            if let SiteKind::Signal { res, key, .. } = &site.kind {
                if let Some(r) = idx.resolve(file, *res, key) {
                    out.insert(r);
                }
            }
        }
    }
    out
}

impl Summaries {
    pub fn of(&self, f: FnId) -> &[Eff] {
        &self.effs[f as usize]
    }
}

/// Compute every function's summary; `entries` are the context entry
/// functions (probe, remove, handlers).
pub fn compute(idx: &Index, entries: &[FnId], stages: &mut Stages) -> Summaries {
    let slots = pointer_slots(idx);
    stages.mark("pointer-slots");
    let graph = call_graph(idx, &slots);
    stages.mark("call-graph");
    let mut s = Summaries {
        effs: vec![Vec::new(); idx.fns.len()],
        in_context: reachable(&graph, entries),
        signalled: signalled(idx),
        slots,
        states: StateTable::build(idx),
        fresh: Fresh::new(idx.fns.len()),
    };
    stages.mark("summary-setup");
    // Components in levels: a component's callees are all in lower levels,
    // so the functions of one level (outside call cycles) are summarised in
    // parallel, each from finished summaries only: the same result as one
    // component after the other, whatever the number of threads.
    let sccs = tarjan_scc(&graph);
    // Fresh-object lists first: they need only the callees' lists, and
    // tarjan_scc gives callees first.
    for scc in &sccs {
        let members: Vec<FnId> = scc.iter().map(|n| graph[*n]).collect();
        let recursive = members.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        for _ in 0..if recursive { MAX_ROUNDS } else { 1 } {
            let mut changed = false;
            for &f in &members {
                changed |= s.fresh.update(idx, &s.slots, f);
            }
            if !changed {
                break;
            }
        }
    }
    for level in scc_levels(&graph, &sccs) {
        let (cyclic, single): (Vec<usize>, Vec<usize>) = level.into_iter().partition(|&i| {
            let scc = &sccs[i];
            scc.len() > 1 || graph.contains_edge(scc[0], scc[0])
        });
        let single: Vec<FnId> = single.into_iter().map(|i| graph[sccs[i][0]]).collect();
        let done: Vec<Vec<Eff>> = single
            .par_iter()
            .map(|&f| fresh_summary(idx, &s, f))
            .collect();
        for (f, effs) in single.into_iter().zip(done) {
            s.effs[f as usize] = effs;
        }
        for i in cyclic {
            let members: Vec<FnId> = sccs[i].iter().map(|n| graph[*n]).collect();
            for _ in 0..MAX_ROUNDS {
                let mut changed = false;
                for &f in &members {
                    changed |= extend_summary(idx, &mut s, f);
                }
                if !changed {
                    break;
                }
            }
            for &f in &members {
                s.effs[f as usize].shrink_to_fit();
            }
        }
    }
    stages.mark("summaries");
    s
}

/// Append the function's effects not yet in its summary. Append-only, so
/// every `Via` keeps pointing at the entry it was built from. An effect
/// reached again under other object-state guards keeps only the guards
/// both paths share (it happens if either path is taken).
fn extend_summary(idx: &Index, s: &mut Summaries, f: FnId) -> bool {
    let fu = f as usize;
    let mut seen: HashMap<DedupKey, usize> = s.effs[fu]
        .iter()
        .enumerate()
        .map(|(i, e)| (e.dedup_key(), i))
        .collect();
    let existing = s.effs[fu].len();
    let mut changed = false;
    let keep_acquires = s.in_context[fu];
    for (si, site) in idx.func(f).sites.iter().enumerate() {
        // Later sites of a recursive function see what earlier ones added.
        let mut new = site_effects(idx, s, f, si as u32, site);
        new.retain(|e| !waits_for_fresh(s, f, si as u32, e));
        let into = Merge {
            seen: &mut seen,
            existing,
            keep_acquires,
            signalled: &s.signalled,
        };
        changed |= into.merge(&mut s.effs[fu], new);
    }
    changed
}

/// The summary of a function outside any call cycle, from its callees'
/// finished summaries alone (what `extend_summary` computes from an empty
/// summary): reads `s` only, so functions whose callees are all done run
/// in parallel.
fn fresh_summary(idx: &Index, s: &Summaries, f: FnId) -> Vec<Eff> {
    let mut effs = Vec::new();
    let mut seen = HashMap::new();
    for (si, site) in idx.func(f).sites.iter().enumerate() {
        let mut new = site_effects(idx, s, f, si as u32, site);
        new.retain(|e| !waits_for_fresh(s, f, si as u32, e));
        let into = Merge {
            seen: &mut seen,
            existing: 0,
            keep_acquires: s.in_context[f as usize],
            signalled: &s.signalled,
        };
        into.merge(&mut effs, new);
    }
    effs.shrink_to_fit();
    effs
}

/// Adding one site's effects to a summary.
struct Merge<'a> {
    seen: &'a mut HashMap<DedupKey, usize>,
    /// Entries before this round (a state change on one is a change).
    existing: usize,
    keep_acquires: bool,
    signalled: &'a HashSet<Resource>,
}

impl Merge<'_> {
    fn merge(self, effs: &mut Vec<Eff>, new: Vec<Eff>) -> bool {
        let mut changed = false;
        for e in new {
            if !self.keep_acquires && matches!(e.kind, EffKind::Acquire | EffKind::Queue) {
                continue;
            }
            if !has_holder_model(&e.key, self.signalled) {
                continue;
            }
            let key = e.dedup_key();
            if let Some(&i) = self.seen.get(&key) {
                let old = &mut effs[i];
                if !old.states().is_empty() {
                    let before = old.states().len();
                    let keep = e.states();
                    old.extra_mut().states.retain(|g| keep.contains(g));
                    changed |= i < self.existing && old.states().len() != before;
                    old.trim();
                }
                continue;
            }
            if self.seen.len() >= MAX_EFFECTS {
                break;
            }
            self.seen.insert(key, effs.len());
            effs.push(e);
            changed = true;
        }
        changed
    }
}

/// A wait (not a devres one, which runs later) for a work item a call of
/// `f` just set up and nothing queued: it does not wait.
pub fn waits_for_fresh(s: &Summaries, f: FnId, si: u32, e: &Eff) -> bool {
    matches!(e.kind, EffKind::Wait(_))
        && !e.devres
        && matches!(&e.key, EKey::Res(w) if s.fresh.is_fresh(f, si, w))
}

/// Waits on resources whose holder the model cannot name (a completion no
/// `complete()` site signals, a kthread whose function is not bound) can
/// never close a cycle; not carrying them keeps whole-tree summaries small.
fn has_holder_model(k: &EKey, signalled: &HashSet<Resource>) -> bool {
    match k {
        EKey::Res(r) if r.kind == ResourceKind::Completion => signalled.contains(r),
        EKey::Res(_) | EKey::Param(_) => true,
    }
}

/// What happens, transitively, when the function executes this site.
pub fn site_effects(idx: &Index, s: &Summaries, f: FnId, si: u32, site: &Site) -> Vec<Eff> {
    let file = idx.file_of(f);
    let mut out = Vec::new();
    let direct = |kind, key, unless_in| Eff::new(kind, key, unless_in, false, Via::Site(si));
    match &site.kind {
        SiteKind::Acquire {
            res, key, is_try, ..
        } if !is_try => {
            if let Some(k) = ekey(idx, file, *res, key) {
                out.push(direct(EffKind::Acquire, k, None));
            }
        }
        SiteKind::Wait { res, key, mode, .. } => {
            let k = match key {
                None => Some(EKey::Res(super::intern::resource(Resource {
                    kind: *res,
                    key: "",
                    file: None,
                    dir: None,
                    bound: false,
                }))),
                Some(p) => ekey(idx, file, *res, p),
            };
            if let Some(k) = k {
                let unless = unless_in(idx, file, site, &k);
                let (mode, devres) = match mode {
                    // Runs later, in the devres release of the probe.
                    WaitMode::DevresCancel => (WaitMode::Cancel, true),
                    m => (*m, false),
                };
                out.push(Eff {
                    devres,
                    ..direct(EffKind::Wait(mode), k, unless)
                });
            }
        }
        SiteKind::Queue { key, .. } => {
            if let Some(k) = ekey(idx, file, ResourceKind::Work, key) {
                out.push(direct(EffKind::Queue, k, None));
            }
        }
        SiteKind::Indirect {
            target: Target::Param(i),
            ..
        } => out.push(direct(EffKind::CallsParam(*i), param_marker(*i), None)),
        SiteKind::Call {
            callee,
            fn_args,
            args,
        } => {
            let known = known_states(idx, s, file, site);
            for g in idx.resolve_call(file, callee) {
                through_call(
                    idx,
                    s,
                    f,
                    si,
                    g,
                    (fn_args, args, &site.consts, &known),
                    false,
                    &mut out,
                );
            }
        }
        SiteKind::Indirect {
            target: Target::Path(p),
            fn_args,
            args,
        } => {
            let known = known_states(idx, s, file, site);
            for g in slot_targets(idx, &s.slots, file, p) {
                through_call(
                    idx,
                    s,
                    f,
                    si,
                    g,
                    (fn_args, args, &site.consts, &known),
                    false,
                    &mut out,
                );
            }
        }
        SiteKind::Devres {
            action: FnValue::Func(name),
            ..
        } => {
            for g in idx.resolve_call(file, name) {
                through_call(idx, s, f, si, g, (&[], &[], &[], &[]), true, &mut out);
            }
        }
        _ => {}
    }
    // The site's own guards hold for everything it leads to, and the
    // caller's locks released before it stay released.
    if !site.guards.is_empty() {
        for e in &mut out {
            let guards = &mut e.extra_mut().guards;
            for t in &site.guards {
                if !guards.contains(t) {
                    guards.push(t.clone());
                }
            }
            guards.sort();
        }
    }
    if !site.states.is_empty() {
        let states: Vec<u32> = site
            .states
            .iter()
            .filter_map(|t| s.states.id(idx, file, t))
            .collect();
        for e in out
            .iter_mut()
            .filter(|e| matches!(e.kind, EffKind::Wait(_)))
        {
            let own = &mut e.extra_mut().states;
            for t in &states {
                if !own.contains(t) {
                    own.push(*t);
                }
            }
            if own.len() > MAX_STATE_GUARDS {
                let extra = own.len() - MAX_STATE_GUARDS;
                own.drain(..extra);
            }
            own.sort();
            e.trim();
        }
    }
    if !site.released.is_empty() {
        let released: Vec<Resource> = site
            .released
            .iter()
            .filter_map(|k| idx.resolve(file, ResourceKind::Lock, k))
            .collect();
        for e in &mut out {
            let own = &mut e.extra_mut().released;
            for r in &released {
                if !own.contains(r) {
                    own.push(r.clone());
                }
            }
            own.sort();
            e.trim();
        }
    }
    out
}

/// What a call passes: function-valued arguments, argument access paths,
/// constant arguments, and the object state the caller set before it.
type CallArgs<'a> = (
    &'a [(u32, FnValue)],
    &'a [(u32, KeyPath)],
    &'a [(u32, String)],
    &'a [u32],
);

/// The object state a call site's function set before it, resolved.
/// What the caller tested on the path to it counts too
/// (`if (!test_bit(FW_RESET, ..)) return; restart(lif);`).
fn known_states(idx: &Index, s: &Summaries, file: u32, site: &Site) -> Vec<u32> {
    site.known
        .iter()
        .chain(&site.states)
        .filter_map(|t| s.states.id(idx, file, t))
        .collect()
}

fn param_marker(i: u32) -> EKey {
    EKey::Param(Box::new(ParamKey {
        index: i,
        fields: vec![],
        ty: String::new(),
        kind: ResourceKind::Work,
    }))
}

/// The callee's effects as seen from the call site: parameters substituted
/// with the caller's arguments, callbacks passed in expanded.
#[allow(clippy::too_many_arguments)]
fn through_call(
    idx: &Index,
    s: &Summaries,
    f: FnId,
    si: u32,
    g: FnId,
    (fn_args, args, consts, known): CallArgs,
    devres: bool,
    out: &mut Vec<Eff>,
) {
    let file = idx.file_of(f);
    for (ei, e) in s.of(g).iter().enumerate() {
        let via = Via::Call {
            site: si,
            callee: g,
            eff: ei as u32,
        };
        if let EffKind::CallsParam(p) = e.kind {
            match fn_args.iter().find(|(i, _)| *i == p).map(|(_, v)| v) {
                Some(FnValue::Func(h)) => {
                    for t in idx.resolve_call(file, h) {
                        for (ti, te) in s.of(t).iter().enumerate() {
                            if matches!(te.kind, EffKind::CallsParam(_)) {
                                continue;
                            }
                            let Some(key) = substitute(idx, file, &te.key, &[]) else {
                                continue;
                            };
                            out.push(Eff::new(
                                te.kind,
                                key,
                                te.unless_in().cloned(),
                                devres || te.devres || e.devres,
                                Via::Callback {
                                    site: si,
                                    callee: g,
                                    param_eff: ei as u32,
                                    target: t,
                                    eff: ti as u32,
                                },
                            ));
                        }
                    }
                }
                Some(FnValue::Param(j)) => out.push(Eff::new(
                    EffKind::CallsParam(*j),
                    param_marker(*j),
                    None,
                    devres || e.devres,
                    via,
                )),
                None => {}
            }
            continue;
        }
        let Some(key) = substitute(idx, file, &e.key, args) else {
            continue;
        };
        let Some(guards) = rebase_guards(e.guards(), consts, args) else {
            continue;
        };
        // The caller set the state the effect needs otherwise
        // (`set_bit(FW_RESET, ..); deinit()` past `if (!test_bit(FW_RESET, ..))`).
        if e.states()
            .iter()
            .any(|g| known.iter().any(|k| s.states.contradicts(*k, *g)))
        {
            continue;
        }
        out.push(
            Eff::new(e.kind, key, e.unless_in().cloned(), devres || e.devres, via).with_extra(
                guards,
                e.released().to_vec(),
                e.states().to_vec(),
            ),
        );
    }
}

/// A callee's parameter-rooted key in the caller's terms.
pub fn substitute(idx: &Index, file: u32, key: &EKey, args: &[(u32, KeyPath)]) -> Option<EKey> {
    let EKey::Param(pk) = key else {
        return Some(key.clone());
    };
    let ParamKey {
        index,
        fields,
        ty,
        kind,
    } = &**pk;
    let path = match args.iter().find(|(i, _)| i == index) {
        Some((_, p)) => {
            let mut p = p.clone();
            p.fields.extend(fields.iter().cloned());
            p
        }
        None => KeyPath {
            root: Root::Type(ty.clone()),
            fields: fields.clone(),
        },
    };
    ekey(idx, file, *kind, &path)
}

/// Resolve a path to a resource, or keep it as a parameter of the function.
pub fn ekey(idx: &Index, file: u32, kind: ResourceKind, p: &KeyPath) -> Option<EKey> {
    if let Some(r) = idx.resolve(file, kind, p) {
        // A parameter whose own type names a class is that class; only
        // generic ones (`struct work_struct *w`) wait for substitution.
        return Some(EKey::Res(super::intern::resource(r)));
    }
    match &p.root {
        Root::Param { index, ty } => Some(EKey::Param(Box::new(ParamKey {
            index: *index,
            fields: p.fields.clone(),
            ty: ty.clone(),
            kind,
        }))),
        _ => None,
    }
}

/// `if (current_work() != &w) cancel_work_sync(&w)`: the wait never runs in w.
fn unless_in(idx: &Index, file: u32, site: &Site, k: &EKey) -> Option<Resource> {
    let EKey::Res(r) = k else { return None };
    if r.kind != ResourceKind::Work {
        return None;
    }
    site.not_in_work
        .iter()
        .filter_map(|p| idx.resolve(file, ResourceKind::Work, p))
        .find(|w| w == *r)
}

/// Function-pointer slots: file-scope initializers (`.reset = foo_reset`),
/// assignments of functions, and parameters stored by register helpers
/// (`hmem_deferred_fn = fn` in `register(fn, data)`: every caller's argument).
fn pointer_slots(idx: &Index) -> Slots {
    let mut slots: Slots = HashMap::new();
    let add = |slots: &mut HashMap<_, Vec<FnId>>, key, ids: Vec<FnId>| {
        let v: &mut Vec<FnId> = slots.entry(key).or_default();
        for id in ids {
            if !v.contains(&id) {
                v.push(id);
            }
        }
    };
    for (fi, file) in idx.files.iter().enumerate() {
        let fi = fi as u32;
        for st in &file.stores {
            let path = KeyPath {
                root: Root::Type(st.ty.clone()),
                fields: st.fields.clone(),
            };
            if let Some(k) = idx.slot(fi, &path) {
                add(&mut slots, k, idx.resolve_call(fi, &st.func));
            }
        }
    }
    // Stores inside functions; parameter values resolve through callers.
    // (Found in parallel, added in function order.)
    let callers = callers_by_name(idx);
    let stored: Vec<Vec<_>> = (0..idx.fns.len() as FnId)
        .into_par_iter()
        .map(|f| {
            let file = idx.file_of(f);
            let mut found = Vec::new();
            for site in &idx.func(f).sites {
                let SiteKind::Store { target, value } = &site.kind else {
                    continue;
                };
                let Some(k) = idx.slot(file, target) else {
                    continue;
                };
                let ids = match value {
                    FnValue::Func(name) => idx.resolve_call(file, name),
                    FnValue::Param(i) => param_values(idx, &callers, f, *i, 3),
                };
                found.push((k, ids));
            }
            found
        })
        .collect();
    for (k, ids) in stored.into_iter().flatten() {
        add(&mut slots, k, ids);
    }
    slots
}

/// Every function a parameter of `f` may receive, through up to `depth`
/// levels of callers handing their own parameter on.
fn param_values(
    idx: &Index,
    callers: &HashMap<&str, Vec<(FnId, usize)>>,
    f: FnId,
    i: u32,
    depth: u32,
) -> Vec<FnId> {
    let mut out = Vec::new();
    let name = idx.func(f).name.as_str();
    for &(caller, si) in callers.get(name).map(Vec::as_slice).unwrap_or(&[]) {
        let cfile = idx.file_of(caller);
        let SiteKind::Call { fn_args, .. } = &idx.func(caller).sites[si].kind else {
            continue;
        };
        match fn_args.iter().find(|(j, _)| *j == i).map(|(_, v)| v) {
            Some(FnValue::Func(h)) => out.extend(idx.resolve_call(cfile, h)),
            Some(FnValue::Param(j)) if depth > 0 => {
                out.extend(param_values(idx, callers, caller, *j, depth - 1))
            }
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn callers_by_name(idx: &Index) -> HashMap<&str, Vec<(FnId, usize)>> {
    let mut m: HashMap<&str, Vec<(FnId, usize)>> = HashMap::new();
    for f in 0..idx.fns.len() as FnId {
        for (si, site) in idx.func(f).sites.iter().enumerate() {
            if let SiteKind::Call {
                callee, fn_args, ..
            } = &site.kind
            {
                if !fn_args.is_empty() {
                    m.entry(callee.as_str()).or_default().push((f, si));
                }
            }
        }
    }
    m
}

pub fn slot_targets(idx: &Index, slots: &Slots, file: u32, p: &KeyPath) -> Vec<FnId> {
    let Some(all) = idx.slot(file, p).and_then(|k| slots.get(&k)) else {
        return Vec::new();
    };
    closest_targets(idx, &idx.files[file as usize].path, all)
}

/// The targets of an indirect call that the caller most plausibly reaches:
/// those whose directory shares the longest prefix with the caller's. A
/// driver calling `sched->ops->free_job()` reaches its own implementation,
/// not every other driver's; core code (sharing no more with one
/// implementation than with another) reaches them all, up to `MAX_FANOUT`
/// (beyond that, only its own directory's).
fn closest_targets(idx: &Index, caller: &str, all: &[FnId]) -> Vec<FnId> {
    let caller_dir = parent_dir(caller);
    let depth = |t: FnId| common_dirs(caller_dir, parent_dir(idx.path_of(t)));
    let best = all.iter().map(|t| depth(*t)).max().unwrap_or(0);
    let shared = all.iter().map(|t| depth(*t)).min().unwrap_or(0);
    let closest: Vec<FnId> = if best > shared {
        all.iter().copied().filter(|t| depth(*t) == best).collect()
    } else {
        all.to_vec()
    };
    if closest.len() <= MAX_FANOUT {
        return closest;
    }
    closest
        .into_iter()
        .filter(|t| parent_dir(idx.path_of(*t)) == caller_dir)
        .take(MAX_FANOUT)
        .collect()
}

/// How many leading directory components two directories share.
fn common_dirs(a: &str, b: &str) -> usize {
    a.split('/')
        .zip(b.split('/'))
        .take_while(|(x, y)| x == y && !x.is_empty())
        .count()
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The strongly connected components (given callees first, as
/// `tarjan_scc` returns them) grouped by level: a component's level is one
/// more than its callees' highest.
fn scc_levels(g: &DiGraph<FnId, ()>, sccs: &[Vec<NodeIndex>]) -> Vec<Vec<usize>> {
    let mut comp = vec![0usize; g.node_count()];
    for (i, scc) in sccs.iter().enumerate() {
        for n in scc {
            comp[n.index()] = i;
        }
    }
    let mut level = vec![0usize; sccs.len()];
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, scc) in sccs.iter().enumerate() {
        let mut l = 0;
        for n in scc {
            for m in g.neighbors(*n) {
                let j = comp[m.index()];
                if j != i {
                    l = l.max(level[j] + 1);
                }
            }
        }
        level[i] = l;
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(i);
    }
    out
}

/// Which functions are reachable from the entry functions.
fn reachable(g: &DiGraph<FnId, ()>, entries: &[FnId]) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    let mut stack: Vec<NodeIndex> = entries
        .iter()
        .map(|e| NodeIndex::new(*e as usize))
        .collect();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        stack.extend(g.neighbors(n));
    }
    seen
}

/// The call graph used to order the fixpoint (callees before callers).
fn call_graph(idx: &Index, slots: &Slots) -> DiGraph<FnId, ()> {
    let mut g = DiGraph::with_capacity(idx.fns.len(), idx.fns.len() * 4);
    let nodes: Vec<NodeIndex> = (0..idx.fns.len() as FnId).map(|f| g.add_node(f)).collect();
    // Each function's callees in parallel, the edges added in order.
    let all: Vec<Vec<FnId>> = (0..idx.fns.len() as FnId)
        .into_par_iter()
        .map(|f| callees(idx, slots, f))
        .collect();
    for (f, targets) in all.into_iter().enumerate() {
        for t in targets {
            g.add_edge(nodes[f], nodes[t as usize], ());
        }
    }
    g
}

/// The functions `f` may call, sorted: direct calls, functions passed as
/// arguments, calls through pointer slots, devres actions.
fn callees(idx: &Index, slots: &Slots, f: FnId) -> Vec<FnId> {
    {
        let file = idx.file_of(f);
        let mut targets = Vec::new();
        for site in &idx.func(f).sites {
            match &site.kind {
                SiteKind::Call {
                    callee, fn_args, ..
                } => {
                    targets.extend(idx.resolve_call(file, callee));
                    for (_, v) in fn_args {
                        if let FnValue::Func(h) = v {
                            targets.extend(idx.resolve_call(file, h));
                        }
                    }
                }
                SiteKind::Indirect {
                    target: Target::Path(p),
                    ..
                } => targets.extend(slot_targets(idx, slots, file, p)),
                SiteKind::Devres {
                    action: FnValue::Func(h),
                    ..
                } => targets.extend(idx.resolve_call(file, h)),
                _ => {}
            }
        }
        targets.sort_unstable();
        targets.dedup();
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole tree holds tens of millions of effects: keep one small.
    #[test]
    fn an_effect_stays_small() {
        assert!(std::mem::size_of::<Resource>() <= 40);
        assert!(std::mem::size_of::<EKey>() <= 16);
        assert!(
            std::mem::size_of::<Eff>() <= 64,
            "{}",
            std::mem::size_of::<Eff>()
        );
    }
}
