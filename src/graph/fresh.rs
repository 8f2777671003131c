//! Fresh objects: a work item (or timer, tasklet) that a callee has just
//! initialised and nothing has queued since cannot be pending or running,
//! so waiting for it does not wait.
//!
//! In: the index and the pointer slots. Out: per function, the first site
//! where a call leads to the binding (`INIT_WORK`, `timer_setup`) of each
//! work class, and the first site where one leads to queueing it. The
//! summaries and edge passes ask `is_fresh()` before they count a wait:
//! the error path of an allocation (`ctx = alloc_ctx(); ...; err:
//! destroy_ctx(ctx)`, which cancel-syncs the work `alloc_ctx()` set up)
//! waits for nothing.
//!
//! Only initialisations through a call count: a probe that `INIT_WORK`s
//! its work itself has usually published it (an IRQ handler, a devres
//! action) before its error path cancels it.

use super::index::{FnId, Index, Resource};
use crate::facts::model::{SiteKind, Target};
use crate::rules::ResourceKind;
use std::collections::HashMap;

/// Entries kept per function and list (the first ones, by site).
const MAX_ENTRIES: usize = 32;

#[derive(Default)]
pub struct Fresh {
    /// (work number, first site, the binding is written at that site itself)
    inits: Vec<Vec<(u32, u32, bool)>>,
    /// (work number, first site that may queue it, queued at that site
    /// itself)
    queues: Vec<Vec<(u32, u32, bool)>>,
    /// Work classes, numbered.
    ids: HashMap<Resource, u32>,
    /// By number: the struct the work is a member of (None for a global).
    containers: Vec<Option<String>>,
    /// (handed class, container) -> does the first embed the second.
    embeds: HashMap<(String, String), bool>,
    /// Per function: the first site after which its queue list was full
    /// (anything may have been queued from there on).
    full_at: Vec<Option<u32>>,
}

impl Fresh {
    pub fn new(n: usize) -> Fresh {
        Fresh {
            inits: vec![Vec::new(); n],
            queues: vec![Vec::new(); n],
            ids: HashMap::new(),
            containers: Vec::new(),
            embeds: HashMap::new(),
            full_at: vec![None; n],
        }
    }

    /// Recompute `f`'s lists from its sites and its callees' lists; true
    /// if they changed (for recursive components).
    pub fn update(
        &mut self,
        idx: &Index,
        slots: &HashMap<(&'static str, Option<u32>), Vec<FnId>>,
        f: FnId,
    ) -> bool {
        let file = idx.file_of(f);
        let mut inits: Vec<(u32, u32, bool)> = Vec::new();
        let mut queues: Vec<(u32, u32, bool)> = Vec::new();
        let add_init = |v: &mut Vec<(u32, u32, bool)>, r: u32, si: u32, direct: bool| {
            if v.len() < MAX_ENTRIES && !v.iter().any(|(x, _, _)| *x == r) {
                v.push((r, si, direct));
            }
        };
        let mut full_at: Option<u32> = None;
        let add_queue = |(v, full): (&mut Vec<(u32, u32, bool)>, &mut Option<u32>),
                         r: u32,
                         si: u32,
                         direct: bool| {
            if v.iter().any(|(x, _, _)| *x == r) {
                return;
            }
            if v.len() < MAX_ENTRIES {
                v.push((r, si, direct));
            } else if full.is_none() {
                *full = Some(si);
            }
        };
        for (si, site) in idx.func(f).sites.iter().enumerate() {
            let si = si as u32;
            let (callees, args) = match &site.kind {
                // Global works (`DECLARE_WORK`) are never an allocator's
                // fresh object; leaving them out keeps the lists short.
                SiteKind::Bind { key, .. } => {
                    if let Some(r) = idx.resolve(file, ResourceKind::Work, key) {
                        if r.key.contains("::") {
                            add_init(&mut inits, self.id(r), si, true);
                        }
                    }
                    continue;
                }
                SiteKind::Queue { key, .. } => {
                    if let Some(r) = idx.resolve(file, ResourceKind::Work, key) {
                        if r.key.contains("::") {
                            add_queue((&mut queues, &mut full_at), self.id(r), si, true);
                        }
                    }
                    continue;
                }
                SiteKind::Call { callee, args, .. } => (idx.resolve_call(file, callee), args),
                SiteKind::Indirect {
                    target: Target::Path(p),
                    args,
                    ..
                } => (super::summary::slot_targets(idx, slots, file, p), args),
                _ => continue,
            };
            // The classes of what the call is handed: a callee can only
            // queue the work of an object it can reach (or a global work).
            let mut handed: Vec<String> = Vec::new();
            for (_, p) in args {
                if let Some((k, _)) = idx.slot(file, p) {
                    // `&rnp->rew` hands the rcu_node too.
                    if let Some((root, _)) = k.split_once("::") {
                        handed.push(root.to_string());
                    }
                    handed.push(k.to_string());
                }
            }
            for g in callees {
                if self.full_at[g as usize].is_some() && full_at.is_none() {
                    full_at = Some(si);
                }
                // The allocator's own bindings only: what it calls in turn
                // (the page allocator, reclaim) sets up other objects.
                for (r, _, direct) in &self.inits[g as usize] {
                    if *direct {
                        add_init(&mut inits, *r, si, false);
                    }
                }
                // A queue written in the callee itself always counts; one
                // deeper only if the call hands over what reaches the work.
                let callee_queues = self.queues[g as usize].clone();
                for (r, _, direct) in callee_queues {
                    if direct || self.reachable(idx, r, &handed) {
                        add_queue((&mut queues, &mut full_at), r, si, false);
                    }
                }
            }
        }
        let fu = f as usize;
        if std::env::var_os("WAITCHECK_DEBUG_FRESH")
            .is_some_and(|n| n.to_str() == Some(idx.func(f).name.as_str()))
        {
            let name = |i: &u32| {
                self.ids
                    .iter()
                    .find(|(_, v)| *v == i)
                    .map(|(r, _)| r.name())
                    .unwrap_or_default()
            };
            let i: Vec<_> = inits.iter().map(|(r, s, d)| (name(r), *s, *d)).collect();
            let q: Vec<_> = queues.iter().map(|(r, s, _)| (name(r), *s)).collect();
            eprintln!("fresh {}: inits {i:?} queues {q:?}", idx.func(f).name);
        }
        let changed =
            inits != self.inits[fu] || queues != self.queues[fu] || full_at != self.full_at[fu];
        self.inits[fu] = inits;
        self.queues[fu] = queues;
        self.full_at[fu] = full_at;
        changed
    }

    /// Can a call handed objects of these classes queue work `r`: is the
    /// work's struct one of them, or embedded in (or pointed to by) one?
    fn reachable(&mut self, idx: &Index, r: u32, handed: &[String]) -> bool {
        let Some(Some(container)) = self.containers.get(r as usize).cloned() else {
            return true;
        };
        handed.iter().any(|h| {
            let k = (h.clone(), container.clone());
            if let Some(v) = self.embeds.get(&k) {
                return *v;
            }
            let v = idx.contains_struct(h, &container, 3);
            self.embeds.insert(k, v);
            v
        })
    }

    fn id(&mut self, r: Resource) -> u32 {
        if let Some(i) = self.ids.get(&r) {
            return *i;
        }
        let n = self.ids.len() as u32;
        let container = r.key.split_once("::").map(|(c, _)| c.to_string());
        self.containers.push(container);
        self.ids.insert(r, n);
        n
    }

    /// Is `w` fresh at site `si` of `f`: set up by a call at an earlier
    /// site, and not queued anywhere in `f` before `si`?
    pub fn is_fresh(&self, f: FnId, si: u32, w: &Resource) -> bool {
        if w.kind != ResourceKind::Work {
            return false;
        }
        let Some(w) = self.ids.get(w) else {
            return false;
        };
        let fu = f as usize;
        let inited = self.inits[fu]
            .iter()
            .any(|(r, at, direct)| r == w && !*direct && *at < si);
        inited
            && !self.queues[fu].iter().any(|(r, at, _)| r == w && *at < si)
            && !self.full_at[fu].is_some_and(|at| at < si)
    }
}
