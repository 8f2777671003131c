//! Stage 4: graph. All files' facts in, the wait-for graph and its cycles out.
//!
//! In: `Vec<FileFacts>` for every analysed file, and the rules. Out:
//! `WaitGraph`: the index (call resolution, struct types), per-function
//! summaries, the entry contexts the driver core and the workqueue create
//! (probe, remove, shutdown, work handlers) with their implicit holds, every
//! wait-for edge `A -> B` with one witness, and the elementary cycles.

pub mod fresh;
pub mod index;
pub mod intern;
pub mod summary;
pub mod timing;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;

use crate::facts::model::{FileFacts, FnValue, KeyPath, Pos, Root, SiteKind};
use crate::rules::{EntryKind, ResourceKind, Rules};
pub use index::{FnId, Index, Resource};
use summary::{EKey, Eff, EffKind, Summaries, Via};

/// Longest cycle reported; longer ones are rarely a single bug and their
/// enumeration grows quickly on kernel-wide graphs.
const MAX_CYCLE: usize = 4;
/// Cycles enumerated per strongly connected component.
const MAX_CYCLES_PER_SCC: usize = 4096;
/// Functions whose edges are found in parallel before they are added.
const EDGE_CHUNK: usize = 4096;

/// Who calls an entry function, and what it holds while doing so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtxKind {
    Probe,
    Remove,
    Shutdown,
    /// A work item's handler: holds `work:K` while it runs.
    Handler,
}

/// Calls between a hold and the wait it is held across, at most. Every
/// real case in ../shared/cases.md and the triaged kernel findings is
/// within 6; witness chains deeper than this on whole trees were all
/// infeasible joins through generic code (refcount release callbacks,
/// ops tables of other drivers).
pub const MAX_WITNESS_DEPTH: usize = 12;

/// An entry point with the resources it implicitly holds.
#[derive(Clone, Debug)]
pub struct Context {
    pub kind: CtxKind,
    pub entry: FnId,
    pub holds: Vec<Resource>,
    /// Where the link was made: the `.probe = fn` initializer, the
    /// `INIT_WORK`/`DECLARE_WORK` site.
    pub origin_file: u32,
    pub origin: Pos,
    pub origin_text: String,
    /// The driver variable (`foo_driver`) or the work (`dax_hmem_work`).
    pub owner: String,
    /// For handlers: the work's path, substituted for the handler's parameter.
    pub work_path: Option<KeyPath>,
    /// For handlers whose bind rule names them: what the handler is
    /// (`timer callback`) and the call that waits for it.
    pub role: Option<(String, String)>,
}

/// What holds the edge's source resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// A context's implicit hold (probe, device lock, running handler).
    Context(usize),
    /// An acquisition at this site of this function.
    Site { f: FnId, site: u32 },
    /// The driver core takes the device lock before a probe is counted.
    DriverCore(usize),
    /// The work was queued on the queue at this site: flushing, draining
    /// or destroying the queue waits for it.
    Queued { f: FnId, site: u32 },
    /// The function signals the completion at this site (`complete()`),
    /// only after getting past the witness's effect, earlier in it.
    Signal { f: FnId, site: u32 },
}

/// One witness for an edge `A -> B`: who holds A, and the chain from the
/// function `at` down to the site that waits on B.
#[derive(Clone, Debug)]
pub struct Witness {
    pub hold: Hold,
    pub at: FnId,
    pub eff: Option<Eff>,
    pub devres: bool,
}

pub struct WaitGraph {
    pub idx: Index,
    /// Calls that assert a hold instead of taking it (from the rules).
    asserts: HashSet<String>,
    /// Acquisitions whose holder may not sleep (spinlocks).
    atomics: HashSet<String>,
    pub sums: Summaries,
    pub contexts: Vec<Context>,
    pub edges: BTreeMap<(Resource, Resource), Witness>,
    /// Each cycle as its resources in order (first not repeated).
    pub cycles: Vec<Vec<Resource>>,
    /// Time and memory per stage of the build (`--stats`).
    pub stages: timing::Stages,
}

impl WaitGraph {
    pub fn build(files: Vec<FileFacts>, rules: &Rules) -> WaitGraph {
        let mut stages = timing::Stages::default();
        let idx = Index::new(files, &rules.types);
        stages.mark("index");
        let contexts = contexts(&idx, rules);
        stages.mark("contexts");
        let entries: Vec<FnId> = contexts.iter().map(|c| c.entry).collect();
        let sums = summary::compute(&idx, &entries, &mut stages);
        let mut g = WaitGraph {
            idx,
            asserts: rules.asserting_calls(),
            atomics: rules.atomic_apis(),
            sums,
            contexts,
            edges: BTreeMap::new(),
            cycles: Vec::new(),
            stages,
        };
        g.context_edges();
        g.stages.mark("context-edges");
        g.site_edges();
        g.stages.mark("site-edges");
        g.queue_edges();
        g.stages.mark("queue-edges");
        g.signal_edges();
        g.stages.mark("signal-edges");
        g.wrapper_edges();
        g.stages.mark("wrapper-edges");
        if std::env::var_os("WAITCHECK_DUMP_EDGES").is_some() {
            // A developer's view of the graph: every edge and where it was
            // seen, on stderr (see ARCHITECTURE.md, "Debugging a miss").
            for ((a, b), w) in &g.edges {
                eprintln!(
                    "edge {} -> {}  in {}",
                    a.name(),
                    b.name(),
                    g.idx.func(w.at).name
                );
            }
        }
        let mut found = cycles(&g.edges);
        found.retain(|c| !g.completer_holds(c));
        g.cycles = found;
        g.stages.mark("cycles");
        g
    }

    /// A cycle where a completer "waits" for a lock it took itself and
    /// still holds across the next wait of the cycle: the completer and
    /// that holder are one thread that already got the lock
    /// (`suspend_tests()` takes `cpuidle_lock`, completes `started`, then
    /// waits for `done` under it): nobody else holds the lock it needs.
    fn completer_holds(&self, cycle: &[Resource]) -> bool {
        let n = cycle.len();
        (0..n).any(|i| {
            let (c, r, next) = (&cycle[i], &cycle[(i + 1) % n], &cycle[(i + 2) % n]);
            let (Some(sig), Some(held)) = (
                self.edges.get(&(c.clone(), r.clone())),
                self.edges.get(&(r.clone(), next.clone())),
            ) else {
                return false;
            };
            match (&sig.hold, sig.eff.as_ref().map(|e| e.via), &held.hold) {
                (
                    Hold::Signal { f, .. },
                    Some(Via::Site(acquired)),
                    Hold::Site { f: holder, site },
                ) => f == holder && acquired == *site,
                _ => false,
            }
        })
    }

    /// Number of distinct resources on edges.
    pub fn resource_count(&self) -> usize {
        let mut set = BTreeSet::new();
        for (a, b) in self.edges.keys() {
            set.insert(a);
            set.insert(b);
        }
        set.len()
    }

    fn add_edge(&mut self, from: Resource, to: Resource, w: Witness) {
        if to.kind == ResourceKind::DeviceLock
            && !to.bound
            && !matches!(w.hold, Hold::DriverCore(_))
        {
            // Whoever waits for a device lock class may wait for the one a
            // remove or probe holds for its bound device; only a pending
            // probe (the driver-core edge) never does.
            let bound = Resource {
                bound: true,
                ..to.clone()
            };
            self.add_edge_once(from.clone(), bound, w.clone());
        }
        self.add_edge_once(from, to, w);
    }

    fn add_edge_once(&mut self, from: Resource, to: Resource, w: Witness) {
        if is_lock(&from) && is_lock(&to) {
            // Lock-order cycles among locks alone are lockdep's domain (and
            // type-level keys cannot tell nested instances apart); a cycle
            // we report always goes through a work, queue, probe or thread.
            return;
        }
        if from == to && from.kind != ResourceKind::Work {
            return;
        }
        if self.witness_len(&w) > MAX_WITNESS_DEPTH {
            // The shortest way we found from the hold to the wait is longer
            // than any real deadlock report we know; on whole trees such
            // chains are joins of unrelated paths through generic code.
            return;
        }
        // Prefer a witness without devres indirection, then one whose hold
        // is a real acquisition (a reviewer wants to see who takes the lock,
        // not a `lockdep_assert_held()`), then the shortest.
        let better = |old: &Witness, new: &Witness, g: &WaitGraph| {
            let rank = |w: &Witness| (w.devres, g.is_assertion(w), g.witness_len(w));
            rank(new) < rank(old)
        };
        let key = (from, to);
        match self.edges.get(&key) {
            Some(old) if !better(old, &w, self) => {}
            _ => {
                self.edges.insert(key, w);
            }
        }
    }

    /// Is the witness's hold an assertion (`lockdep_assert_held()`) rather
    /// than an acquisition?
    fn is_assertion(&self, w: &Witness) -> bool {
        let Hold::Site { f, site } = w.hold else {
            return false;
        };
        match self.idx.func(f).sites.get(site as usize).map(|s| &s.kind) {
            Some(SiteKind::Acquire { api, .. }) => self.asserts.contains(api),
            _ => false,
        }
    }

    fn witness_len(&self, w: &Witness) -> usize {
        w.eff.as_ref().map_or(0, |e| self.via_len(w.at, e.via))
    }

    fn via_len(&self, f: FnId, via: Via) -> usize {
        let mut n = 1;
        let mut cur = (f, via);
        while n < 64 {
            match cur.1 {
                Via::Site(_) => break,
                Via::Call { callee, eff, .. }
                | Via::Callback {
                    target: callee,
                    eff,
                    ..
                } => {
                    let Some(e) = self.sums.of(callee).get(eff as usize) else {
                        break;
                    };
                    cur = (callee, e.via);
                    n += 1;
                }
            }
        }
        n
    }

    /// Each context holds its implicit resources across everything its
    /// entry function may wait on.
    fn context_edges(&mut self) {
        for ci in 0..self.contexts.len() {
            let ctx = self.contexts[ci].clone();
            if ctx.kind == CtxKind::Probe {
                if let Some(dl) = ctx
                    .holds
                    .iter()
                    .find(|r| r.kind == ResourceKind::DeviceLock)
                {
                    let w = Witness {
                        hold: Hold::DriverCore(ci),
                        at: ctx.entry,
                        eff: None,
                        devres: false,
                    };
                    self.add_edge(Resource::probe(), dl.clone(), w);
                }
            }
            let effs: Vec<Eff> = self.sums.of(ctx.entry).to_vec();
            for e in effs {
                if matches!(e.kind, EffKind::Queue | EffKind::CallsParam(_)) {
                    continue;
                }
                let target = match (&e.key, &ctx.work_path) {
                    (EKey::Res(r), _) => Some(Resource::clone(r)),
                    // The handler's parameter is its own work item.
                    (EKey::Param(pk), Some(wp)) if pk.index == 0 => {
                        let mut p = wp.clone();
                        p.fields.extend(pk.fields.iter().cloned());
                        self.idx.resolve(ctx.origin_file, pk.kind, &p)
                    }
                    _ => None,
                };
                let Some(target) = target else { continue };
                for h in &ctx.holds {
                    if e.unless_in() == Some(h) {
                        continue;
                    }
                    if *h == target && h.kind != ResourceKind::Work {
                        continue;
                    }
                    let w = Witness {
                        hold: Hold::Context(ci),
                        at: ctx.entry,
                        eff: Some(e.clone()),
                        devres: e.devres,
                    };
                    let mut from = h.clone();
                    from.bound = h.kind == ResourceKind::DeviceLock;
                    self.add_edge(from, target.clone(), w);
                }
            }
        }
    }

    /// `queue_work(wq, &w)`: waiting for the queue (`flush_workqueue(wq)`,
    /// `flush_scheduled_work()` for `schedule_work()`) waits for `w`.
    fn queue_edges(&mut self) {
        let mut found = Vec::new();
        for f in 0..self.idx.fns.len() as FnId {
            let file = self.idx.file_of(f);
            for (si, site) in self.idx.func(f).sites.iter().enumerate() {
                let SiteKind::Queue {
                    key,
                    queue: Some(q),
                    ..
                } = &site.kind
                else {
                    continue;
                };
                let wq = self.idx.resolve(file, ResourceKind::Workqueue, q);
                let work = self.idx.resolve(file, ResourceKind::Work, key);
                if let (Some(wq), Some(work)) = (wq, work) {
                    found.push((wq, work, f, si as u32));
                }
            }
        }
        for (wq, work, f, site) in found {
            let w = Witness {
                hold: Hold::Queued { f, site },
                at: f,
                eff: None,
                devres: false,
            };
            self.add_edge(wq, work, w);
        }
    }

    /// `complete(&c)` after `mutex_lock(&l)` (or any wait) in the same
    /// function: a waiter on `c` waits for `l` too.
    fn signal_edges(&mut self) {
        let mut found = Vec::new();
        for f in 0..self.idx.fns.len() as FnId {
            let file = self.idx.file_of(f);
            let func = self.idx.func(f);
            // A function that completes what it also waits for is the
            // waiter itself (`rcu_barrier()`: count down, complete the last
            // one, wait): what it did before completing, it did as waiter.
            let waits_for: Vec<Resource> = func
                .sites
                .iter()
                .filter_map(|s| match &s.kind {
                    SiteKind::Wait {
                        res: ResourceKind::Completion,
                        key: Some(k),
                        ..
                    } => self.idx.resolve(file, ResourceKind::Completion, k),
                    _ => None,
                })
                .collect();
            for (si, site) in func.sites.iter().enumerate() {
                let SiteKind::Signal { res, key, .. } = &site.kind else {
                    continue;
                };
                let Some(c) = self.idx.resolve(file, *res, key) else {
                    continue;
                };
                if waits_for.contains(&c) {
                    continue;
                }
                for (sj, before) in func.sites[..si].iter().enumerate() {
                    for e in summary::site_effects(&self.idx, &self.sums, f, sj as u32, before) {
                        if !matches!(e.kind, EffKind::Wait(_) | EffKind::Acquire) || e.devres {
                            continue;
                        }
                        if summary::waits_for_fresh(&self.sums, f, sj as u32, &e) {
                            continue;
                        }
                        if let EKey::Res(target) = &e.key {
                            found.push((
                                c.clone(),
                                Resource::clone(target),
                                f,
                                si as u32,
                                e.clone(),
                            ));
                        }
                    }
                }
            }
        }
        for (c, target, f, site, e) in found {
            let w = Witness {
                hold: Hold::Signal { f, site },
                at: f,
                eff: Some(e),
                devres: false,
            };
            self.add_edge(c, target, w);
        }
    }

    /// Lock wrappers learned from the functions themselves: after a call of
    /// a function that returns holding a lock (`foo_lock(dev)`), the caller
    /// holds that lock across its later sites, until it unlocks it itself
    /// or calls a function that releases it (`foo_unlock(dev)`).
    fn wrapper_edges(&mut self) {
        let handled = self.handled_works();
        // Functions in parallel, collected in order.
        let found: Vec<_> = (0..self.idx.fns.len() as FnId)
            .into_par_iter()
            .flat_map_iter(|f| {
                let mut found = Vec::new();
                let in_work = handled.get(&f).map(Vec::as_slice).unwrap_or_default();
                let file = self.idx.file_of(f);
                let func = self.idx.func(f);
                // (call site, lock, a spinning lock: only waits written in
                // this function count under it, as for a direct spin_lock())
                let mut active: Vec<(u32, Resource, bool)> = Vec::new();
                for (si, site) in func.sites.iter().enumerate() {
                    if !active.is_empty() {
                        for (target, e) in self.spanned(f, si as u32, site, in_work) {
                            for (h, r, atomic) in &active {
                                if *atomic && !matches!(e.via, Via::Site(_)) {
                                    continue;
                                }
                                if !e.released().contains(r) {
                                    found.push((r.clone(), target.clone(), f, *h, e.clone()));
                                }
                            }
                        }
                    }
                    match &site.kind {
                        SiteKind::Call { callee, args, .. } => {
                            for (r, takes, atomic) in self.wrapper_locks(file, callee, args) {
                                active.retain(|(_, a, _)| *a != r);
                                if takes {
                                    active.push((si as u32, r, atomic));
                                }
                            }
                        }
                        SiteKind::Release { res, key } => {
                            if let Some(r) = self.idx.resolve(file, *res, key) {
                                active.retain(|(_, a, _)| *a != r);
                            }
                        }
                        _ => {}
                    }
                }
                found
            })
            .collect();
        for (from, to, f, h, e) in found {
            self.add_site_edge(from, to, f, h, e);
        }
    }

    /// What a lock held at site `si` of `f` is held across: the site's
    /// resolved waits and acquisitions (not queueing, not devres actions,
    /// not waits for a fresh work or guarded off in the work `f` handles).
    fn spanned(
        &self,
        f: FnId,
        si: u32,
        site: &crate::facts::model::Site,
        in_work: &[Resource],
    ) -> Vec<(Resource, Eff)> {
        summary::site_effects(&self.idx, &self.sums, f, si, site)
            .into_iter()
            .filter(|e| {
                !matches!(e.kind, EffKind::Queue | EffKind::CallsParam(_))
                    && !e.devres
                    && !summary::waits_for_fresh(&self.sums, f, si, e)
                    && !e.unless_in().is_some_and(|w| in_work.contains(w))
            })
            .filter_map(|e| match &e.key {
                EKey::Res(target) => Some((Resource::clone(target), e.clone())),
                _ => None,
            })
            .collect()
    }

    /// An edge whose source is held by the acquisition at site `h` of `f`.
    fn add_site_edge(&mut self, from: Resource, to: Resource, f: FnId, h: u32, e: Eff) {
        let w = Witness {
            hold: Hold::Site { f, site: h },
            at: f,
            eff: Some(e),
            devres: false,
        };
        self.add_edge(from, to, w);
    }

    /// The locks a call of `callee` leaves held (`true`) or releases
    /// (`false`) in the caller's terms, and whether each spins (taken with
    /// an `atomic` API: `tg3_full_lock()` is `spin_lock_bh()`).
    fn wrapper_locks(
        &self,
        file: u32,
        callee: &str,
        args: &[(u32, KeyPath)],
    ) -> Vec<(Resource, bool, bool)> {
        let mut out = Vec::new();
        for g in self.idx.resolve_call(file, callee) {
            let gfile = self.idx.file_of(g);
            let gf = self.idx.func(g);
            for hi in &gf.returns_holding {
                let Some(SiteKind::Acquire { res, key, api, .. }) =
                    gf.sites.get(*hi as usize).map(|s| &s.kind)
                else {
                    continue;
                };
                let k = summary::ekey(&self.idx, gfile, *res, key)
                    .and_then(|k| summary::substitute(&self.idx, file, &k, args));
                if let Some(EKey::Res(r)) = k {
                    out.push((r.clone(), true, self.atomics.contains(api)));
                }
            }
            for key in &gf.returns_released {
                let k = summary::ekey(&self.idx, gfile, ResourceKind::Lock, key)
                    .and_then(|k| summary::substitute(&self.idx, file, &k, args));
                if let Some(EKey::Res(r)) = k {
                    out.push((r.clone(), false, false));
                }
            }
        }
        out
    }

    /// The work items each function is the handler of: an effect guarded
    /// by `current_work() != &w` never happens in `w`'s handler, whatever
    /// the handler holds (`smc_listen_work()` locking the socket, then
    /// `smc_clcsock_release()` skipping its own cancel).
    fn handled_works(&self) -> HashMap<FnId, Vec<Resource>> {
        let mut out: HashMap<FnId, Vec<Resource>> = HashMap::new();
        for c in &self.contexts {
            if c.kind == CtxKind::Handler {
                out.entry(c.entry)
                    .or_default()
                    .extend(c.holds.iter().cloned());
            }
        }
        out
    }

    /// A lock held at a site is held across everything the site may wait on.
    fn site_edges(&mut self) {
        let handled = self.handled_works();
        let all: Vec<FnId> = (0..self.idx.fns.len() as FnId).collect();
        // Functions in parallel, a chunk at a time; edges added in order.
        for chunk in all.chunks(EDGE_CHUNK) {
            let found: Vec<_> = chunk
                .par_iter()
                .map(|&f| self.site_edges_of(f, &handled))
                .collect();
            for (&f, found) in chunk.iter().zip(found) {
                for (from, to, h, e) in found {
                    self.add_site_edge(from, to, f, h, e);
                }
            }
        }
    }

    /// The edges of one function's held locks: (held, waited for, the
    /// acquiring site, the effect).
    fn site_edges_of(
        &self,
        f: FnId,
        handled: &HashMap<FnId, Vec<Resource>>,
    ) -> Vec<(Resource, Resource, u32, Eff)> {
        let mut found = Vec::new();
        {
            let in_work = handled.get(&f).map(Vec::as_slice).unwrap_or_default();
            let file = self.idx.file_of(f);
            let func = self.idx.func(f);
            if func.sites.iter().all(|s| s.held.is_empty()) {
                return found;
            }
            // Calls of unlock wrappers (`foo_unlock(dev)`): a lock they
            // release is not held at later sites, whatever the facts say.
            let unlocks: Vec<(usize, Resource)> = func
                .sites
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match &s.kind {
                    SiteKind::Call { callee, args, .. } => Some((i, callee, args)),
                    _ => None,
                })
                .flat_map(|(i, callee, args)| {
                    self.wrapper_locks(file, callee, args)
                        .into_iter()
                        .filter(|(_, takes, _)| !takes)
                        .map(move |(r, _, _)| (i, r))
                })
                .collect();
            for (si, site) in func.sites.iter().enumerate() {
                if site.held.is_empty() {
                    continue;
                }
                let held: Vec<(u32, Resource, bool)> = site
                    .held
                    .iter()
                    .filter_map(|h| {
                        let s = func.sites.get(*h as usize)?;
                        let SiteKind::Acquire { res, key, .. } = &s.kind else {
                            return None;
                        };
                        let r = self.idx.resolve(file, *res, key)?;
                        let atomic = matches!(&s.kind, SiteKind::Acquire { api, .. } if self.atomics.contains(api));
                        let dropped = unlocks
                            .iter()
                            .any(|(u, ur)| *ur == r && (*h as usize) < *u && *u < si);
                        (!dropped).then_some((*h, r, atomic))
                    })
                    .collect();
                if held.is_empty() {
                    continue;
                }
                for (target, e) in self.spanned(f, si as u32, site, in_work) {
                    for (h, r, atomic) in &held {
                        if e.released().contains(r) {
                            // The callee lets this lock go before the wait.
                            continue;
                        }
                        if *atomic && !matches!(e.via, Via::Site(_)) {
                            // Under a spinlock, only a wait written right
                            // there is believed (see `atomic` in the rules).
                            continue;
                        }
                        found.push((r.clone(), target.clone(), *h, e.clone()));
                    }
                }
            }
        }
        found
    }
}

fn is_lock(r: &Resource) -> bool {
    matches!(r.kind, ResourceKind::Lock | ResourceKind::DeviceLock)
}

/// Entry contexts: driver struct fields (`.probe`, `.remove`, ...) found in
/// file-scope initializers, and work handlers bound anywhere.
fn contexts(idx: &Index, rules: &Rules) -> Vec<Context> {
    let mut out = Vec::new();
    for (fi, file) in idx.files.iter().enumerate() {
        let fi = fi as u32;
        for st in &file.stores {
            let field = st.fields.join(".");
            let Some((kind, rule)) = rules.driver_entry(&st.ty, &field) else {
                continue;
            };
            for entry in idx.resolve_call(fi, &st.func) {
                let dev = bound_device(idx, entry, rule.device_arg, &rule.device_field);
                let (ck, holds) = match kind {
                    EntryKind::Probe => {
                        let mut h = vec![Resource::probe()];
                        h.extend(dev);
                        (CtxKind::Probe, h)
                    }
                    EntryKind::Remove => (CtxKind::Remove, dev.into_iter().collect()),
                    EntryKind::Shutdown => (CtxKind::Shutdown, dev.into_iter().collect()),
                };
                out.push(Context {
                    kind: ck,
                    entry,
                    holds,
                    origin_file: fi,
                    origin: st.pos,
                    origin_text: format!(".{field} = {}", st.func),
                    owner: st.var.clone(),
                    work_path: None,
                    role: None,
                });
            }
        }
        for b in &file.binds {
            let kind = rules.bind_resource(&b.api).unwrap_or(ResourceKind::Work);
            let role = rules.bind_role(&b.api);
            handler_contexts(
                idx,
                fi,
                (kind, role),
                &b.key,
                &b.handler,
                b.pos,
                &b.text,
                &mut out,
            );
        }
    }
    for f in 0..idx.fns.len() as FnId {
        let fi = idx.file_of(f);
        for site in &idx.func(f).sites {
            if let SiteKind::Bind {
                key,
                handler: FnValue::Func(h),
                api,
            } = &site.kind
            {
                let kind = rules.bind_resource(api).unwrap_or(ResourceKind::Work);
                let role = rules.bind_role(api);
                handler_contexts(
                    idx,
                    fi,
                    (kind, role),
                    key,
                    h,
                    site.pos,
                    &site.text,
                    &mut out,
                );
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn handler_contexts(
    idx: &Index,
    fi: u32,
    (kind, role): (ResourceKind, Option<(String, String)>),
    key: &KeyPath,
    handler: &str,
    pos: Pos,
    text: &str,
    out: &mut Vec<Context>,
) {
    let Some(work) = idx.resolve(fi, kind, key) else {
        return;
    };
    // A work handler's parameter is its work item; a thread function's is
    // its data pointer.
    let work_path = (kind == ResourceKind::Work).then(|| key.clone());
    for entry in idx.resolve_call(fi, handler) {
        let dup = out
            .iter()
            .any(|c| c.kind == CtxKind::Handler && c.entry == entry && c.holds[0] == work);
        if dup {
            continue;
        }
        out.push(Context {
            kind: CtxKind::Handler,
            entry,
            holds: vec![work.clone()],
            origin_file: fi,
            origin: pos,
            origin_text: text.to_string(),
            owner: work.key.to_string(),
            work_path: work_path.clone(),
            role: role.clone(),
        });
    }
}

/// `device_lock:<type>::<field>` for the callback's bound-device argument.
fn bound_device(idx: &Index, entry: FnId, arg: usize, field: &str) -> Option<Resource> {
    let p = idx.func(entry).params.get(arg)?;
    let fields: Vec<String> = field
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let path = KeyPath {
        root: Root::Type(p.ty.clone()),
        fields,
    };
    idx.resolve(idx.file_of(entry), ResourceKind::DeviceLock, &path)
}

/// Elementary cycles of the wait-for graph, shortest first per edge, with
/// cycles that merely extend a shorter one dropped.
fn cycles(edges: &BTreeMap<(Resource, Resource), Witness>) -> Vec<Vec<Resource>> {
    let mut g: DiGraph<Resource, ()> = DiGraph::new();
    let mut ids: HashMap<&Resource, NodeIndex> = HashMap::new();
    for (a, b) in edges.keys() {
        for r in [a, b] {
            if !ids.contains_key(r) {
                ids.insert(r, g.add_node(r.clone()));
            }
        }
        g.add_edge(ids[a], ids[b], ());
    }
    // Which component each node is in; only components with a cycle matter.
    let mut comp = vec![usize::MAX; g.node_count()];
    let sccs = tarjan_scc(&g);
    for (ci, scc) in sccs.iter().enumerate() {
        let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
        if cyclic {
            for n in scc {
                comp[n.index()] = ci;
            }
        }
    }
    let mut found: Vec<Vec<Resource>> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut per_comp: HashMap<usize, usize> = HashMap::new();
    for (a, b) in edges.keys() {
        let (ia, ib) = (ids[a], ids[b]);
        let c = comp[ia.index()];
        if c == usize::MAX || comp[ib.index()] != c {
            continue;
        }
        let n = per_comp.entry(c).or_default();
        if *n >= MAX_CYCLES_PER_SCC {
            continue;
        }
        let Some(path) = shortest_path(&g, &comp, c, ib, ia) else {
            continue;
        };
        // path runs b .. a; the cycle is a, b, .., (back to a)
        let mut cyc: Vec<Resource> = vec![a.clone()];
        if ia != ib {
            cyc.extend(path[..path.len() - 1].iter().map(|i| g[*i].clone()));
        }
        if cyc.len() > MAX_CYCLE {
            continue;
        }
        if cyc.iter().all(|r| r.kind == ResourceKind::Completion) {
            // Completions alone (A completes C1 and waits for C2, B the
            // reverse) are a handshake whose counts decide whether it
            // hangs; waitcheck does not count `complete()` calls.
            continue;
        }
        let canon = canonical(&cyc);
        if seen.insert(canon.clone()) {
            found.push(canon);
            *n += 1;
        }
    }
    // Drop a cycle whose resources strictly include another cycle's.
    let sets: Vec<BTreeSet<&Resource>> = found.iter().map(|c| c.iter().collect()).collect();
    let keep: Vec<bool> = sets
        .iter()
        .map(|s| !sets.iter().any(|o| o.len() < s.len() && o.is_subset(s)))
        .collect();
    let mut out: Vec<Vec<Resource>> = found
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect();
    out.sort();
    out
}

fn shortest_path(
    g: &DiGraph<Resource, ()>,
    comp: &[usize],
    c: usize,
    from: NodeIndex,
    to: NodeIndex,
) -> Option<Vec<NodeIndex>> {
    // Breadth-first, at most MAX_CYCLE levels: longer cycles are not reported.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut q = VecDeque::from([(from, 0usize)]);
    let mut visited = BTreeSet::from([from]);
    while let Some((n, depth)) = q.pop_front() {
        if n == to {
            let mut path = vec![to];
            let mut cur = to;
            while cur != from {
                cur = prev[&cur];
                path.push(cur);
            }
            path.reverse();
            return Some(path);
        }
        if depth >= MAX_CYCLE {
            continue;
        }
        let mut next: Vec<NodeIndex> = g.neighbors(n).filter(|m| comp[m.index()] == c).collect();
        next.sort();
        for m in next {
            if visited.insert(m) {
                prev.insert(m, n);
                q.push_back((m, depth + 1));
            }
        }
    }
    None
}

/// Rotate so the smallest resource comes first.
fn canonical(c: &[Resource]) -> Vec<Resource> {
    let Some(start) = (0..c.len()).min_by(|&i, &j| c[i].cmp(&c[j])) else {
        return Vec::new();
    };
    c[start..]
        .iter()
        .chain(c[..start].iter())
        .cloned()
        .collect()
}
