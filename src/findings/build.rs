//! Cycles of the wait-for graph -> `Finding`s: orientation, classification,
//! the chain of each half, the trigger condition, severity, fingerprint.

use rayon::prelude::*;

use crate::facts::model::{FnValue, Pos, SiteKind};
use crate::graph::summary::{EKey, Eff, EffKind, Via};
use crate::graph::{CtxKind, FnId, Hold, Resource, WaitGraph, Witness};
use crate::rules::{ResourceKind, WaitMode};

use super::model::{Finding, Location, Role, Severity, Step};

/// Every cycle of the graph as a finding, sorted by path, line, type.
pub fn findings(g: &WaitGraph) -> Vec<Finding> {
    // One cycle's finding reads the graph only; collected in cycle order.
    let mut out: Vec<Finding> = g.cycles.par_iter().filter_map(|c| finding(g, c)).collect();
    out.sort_by(|a, b| {
        (&a.location.path, a.location.line, &a.kind, &a.fingerprint).cmp(&(
            &b.location.path,
            b.location.line,
            &b.kind,
            &b.fingerprint,
        ))
    });
    out.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    out
}

/// What a handler context's entry step says: its role from the bind rule
/// (`timer callback`, `thread function`), else a work handler's.
fn role_text(name: &str, ctx: &crate::graph::Context) -> String {
    match &ctx.role {
        Some((role, waited_by)) => format!(
            "{name}() runs as the {role} of {}: {waited_by} waits for it to return",
            ctx.owner
        ),
        None => format!(
            "{name}() runs as the work handler of {}: waiting for that work waits for it",
            ctx.owner
        ),
    }
}

/// Priority of an edge's target as the cycle's first, reported wait: the
/// explicit wait the developer wrote comes first.
fn priority(r: &Resource) -> u8 {
    match r.kind {
        ResourceKind::Work => 0,
        ResourceKind::Workqueue => 1,
        ResourceKind::Completion | ResourceKind::Kthread => 2,
        ResourceKind::Probe => 3,
        ResourceKind::Lock => 4,
        ResourceKind::DeviceLock => 5,
    }
}

fn orient(cycle: &[Resource]) -> Vec<Resource> {
    let n = cycle.len();
    // An edge out of a queue is "this work was queued on it", not a wait a
    // developer wrote: never the first, reported edge.
    let start = (0..n)
        .filter(|&i| cycle[i].kind != ResourceKind::Workqueue)
        .min_by_key(|&i| (priority(&cycle[(i + 1) % n]), i))
        .unwrap_or(0);
    (0..n).map(|i| cycle[(start + i) % n].clone()).collect()
}

fn finding(g: &WaitGraph, cycle: &[Resource]) -> Option<Finding> {
    let cyc = orient(cycle);
    let n = cyc.len();
    let mut steps = Vec::new();
    let mut witnesses = Vec::new();
    for i in 0..n {
        let (a, b) = (&cyc[i], &cyc[(i + 1) % n]);
        let w = g.edges.get(&(a.clone(), b.clone()))?;
        witnesses.push(w);
        edge_steps(g, i, w, b, &mut steps);
    }
    let kind = classify(&cyc);
    let primary = steps
        .iter()
        .find(|s| s.edge == 0 && s.role == Role::Wait)
        .map(|s| s.at.clone())?;
    let mut names: Vec<String> = cyc.iter().map(Resource::name).collect();
    names.push(names[0].clone());
    let condition = condition(g, &witnesses, &cyc, &mut steps);
    // Object state is tested everywhere (`if (w->stopping)`): saying which
    // state the wait needs helps the reader, but it does not make the
    // cycle a corner case the way an error path or a parameter does.
    let severity = if condition.is_some() {
        Severity::Warning
    } else {
        Severity::Error
    };
    let condition = condition.or_else(|| witnesses.iter().find_map(|w| state_condition(g, w)));
    let message = message(g, kind, &cyc, &steps);
    let fingerprint = fingerprint(kind, &names, &steps);
    Some(Finding {
        kind: kind.to_string(),
        severity,
        message,
        location: primary,
        cycle: names,
        condition,
        chain: steps,
        fingerprint,
    })
}

fn classify(cycle: &[Resource]) -> &'static str {
    // A queue followed by a work queued on it is a wait for that work
    // (`flush_workqueue(wq)` with the work on `wq`): classify as the work.
    let n = cycle.len();
    let c: Vec<&Resource> = (0..n)
        .filter(|&i| {
            !(cycle[i].kind == ResourceKind::Workqueue
                && cycle[(i + 1) % n].kind == ResourceKind::Work
                && n > 1)
        })
        .map(|i| &cycle[i])
        .collect();
    let has = |k: ResourceKind| c.iter().any(|r| r.kind == k);
    let only = |a: ResourceKind, b: ResourceKind| c.iter().all(|r| r.kind == a || r.kind == b);
    if c.len() == 1 && c[0].kind == ResourceKind::Work {
        return "WORK_WAITS_FOR_ITSELF";
    }
    if c.len() == 2 {
        if has(ResourceKind::Probe) && has(ResourceKind::Work) {
            return "PROBE_FLUSH_WAITS_FOR_PROBE";
        }
        if has(ResourceKind::Probe) && has(ResourceKind::DeviceLock) {
            return "DEVICE_LOCK_WAITS_FOR_PROBE";
        }
        if only(ResourceKind::Lock, ResourceKind::Work)
            && has(ResourceKind::Lock)
            && has(ResourceKind::Work)
        {
            return "WORK_WAIT_UNDER_LOCK";
        }
        if only(ResourceKind::DeviceLock, ResourceKind::Work)
            && has(ResourceKind::DeviceLock)
            && has(ResourceKind::Work)
        {
            return "WORK_WAIT_UNDER_DEVICE_LOCK";
        }
    }
    "CIRCULAR_WAIT"
}

fn loc(g: &WaitGraph, f: FnId, pos: Pos) -> Location {
    Location {
        path: g.idx.path_of(f).to_string(),
        line: pos.line,
        column: pos.col,
        function: g.idx.func(f).name.clone(),
        start: pos.start as usize,
        end: pos.end as usize,
    }
}

fn file_loc(g: &WaitGraph, file: u32, pos: Pos, function: &str) -> Location {
    Location {
        path: g.idx.files[file as usize].path.clone(),
        line: pos.line,
        column: pos.col,
        function: function.to_string(),
        start: pos.start as usize,
        end: pos.end as usize,
    }
}

fn step(at: Location, role: Role, text: String, edge: usize, depth: u32) -> Step {
    Step {
        at,
        role,
        text,
        edge,
        depth,
    }
}

/// The steps witnessing `A -> B`: who holds A, then the chain to the wait.
fn edge_steps(g: &WaitGraph, edge: usize, w: &Witness, target: &Resource, out: &mut Vec<Step>) {
    let entry_fn = |f: FnId| g.idx.func(f).name.clone();
    match &w.hold {
        Hold::Context(ci) => {
            let ctx = &g.contexts[*ci];
            let name = entry_fn(ctx.entry);
            let pos = g.idx.func(ctx.entry).pos;
            let text = match ctx.kind {
                CtxKind::Probe => format!(
                    "{name}() is the probe of {}: runs counted in probe_count, holding the device lock",
                    ctx.owner
                ),
                CtxKind::Remove => format!(
                    "{name}() is the remove of {}: runs holding the device lock",
                    ctx.owner
                ),
                CtxKind::Shutdown => format!(
                    "{name}() is the shutdown of {}: runs holding the device lock",
                    ctx.owner
                ),
                CtxKind::Handler => {
                    let thread = ctx.holds.first().is_some_and(|r| r.kind == ResourceKind::Kthread);
                    let bind = if thread {
                        format!("{} starts {name}() as the thread {}", ctx.origin_text, ctx.owner)
                    } else {
                        format!("{} makes {name}() the handler of {}", ctx.origin_text, ctx.owner)
                    };
                    out.push(step(
                        file_loc(g, ctx.origin_file, ctx.origin, &origin_fn(g, ctx.origin_file, ctx.origin)),
                        Role::Bind,
                        bind,
                        edge,
                        0,
                    ));
                    role_text(&name, ctx)
                }
            };
            out.push(step(loc(g, ctx.entry, pos), Role::Entry, text, edge, 0));
        }
        Hold::DriverCore(ci) => {
            let ctx = &g.contexts[*ci];
            let name = entry_fn(ctx.entry);
            out.push(step(
                loc(g, ctx.entry, g.idx.func(ctx.entry).pos),
                Role::Entry,
                format!(
                    "the driver core takes the device lock before calling {name}(): a pending \
                     (async or deferred) probe of {} waits for {} while it is counted as in flight",
                    ctx.owner,
                    target.name()
                ),
                edge,
                0,
            ));
            if let Some(s) = out.last_mut() {
                s.role = Role::Wait;
            }
            return;
        }
        Hold::Site { f, site } => {
            let s = &g.idx.func(*f).sites[*site as usize];
            out.push(step(
                loc(g, *f, s.pos),
                Role::Hold,
                match &s.kind {
                    SiteKind::Acquire { is_try: true, .. } => {
                        format!("{}: held from here on", s.text)
                    }
                    // A lock wrapper: the function returns holding it.
                    SiteKind::Call { callee, .. } => {
                        let call = if s.text.is_empty() {
                            format!("{callee}()")
                        } else {
                            s.text.clone()
                        };
                        format!("{call} returns holding it; still held below")
                    }
                    _ => format!("{} takes it; still held below", s.text),
                },
                edge,
                0,
            ));
        }
        Hold::Signal { f, site } => {
            let s = &g.idx.func(*f).sites[*site as usize];
            let name = g.idx.func(*f).name.clone();
            out.push(step(
                loc(g, *f, s.pos),
                Role::Entry,
                format!(
                    "{} wakes the waiters only after {name}() gets past the wait below",
                    s.text
                ),
                edge,
                0,
            ));
        }
        Hold::Queued { f, site } => {
            let s = &g.idx.func(*f).sites[*site as usize];
            out.push(step(
                loc(g, *f, s.pos),
                Role::Queue,
                format!(
                    "{} puts {} on this queue: waiting for the queue waits for it",
                    s.text,
                    target.name()
                ),
                edge,
                0,
            ));
            return;
        }
    }
    if let Some(e) = &w.eff {
        chain(g, w.at, e.via, edge, 0, e, out);
    }
}

/// The function around a file-scope position, or `<file scope>`.
fn origin_fn(g: &WaitGraph, file: u32, pos: Pos) -> String {
    g.idx.files[file as usize]
        .functions
        .iter()
        .filter(|f| f.pos.start <= pos.start)
        .filter(|f| f.sites.iter().any(|s| s.pos.start == pos.start))
        .map(|f| f.name.clone())
        .next()
        .unwrap_or_else(|| "<file scope>".to_string())
}

/// Walk an effect's `Via` links from `f` down to its site, one step each.
fn chain(
    g: &WaitGraph,
    mut f: FnId,
    mut via: Via,
    edge: usize,
    mut depth: u32,
    top: &Eff,
    out: &mut Vec<Step>,
) {
    for _ in 0..64 {
        let func = g.idx.func(f);
        match via {
            Via::Site(si) => {
                let Some(s) = func.sites.get(si as usize) else {
                    return;
                };
                let (role, text) = final_text(g, &s.kind, &s.text, top);
                out.push(step(loc(g, f, s.pos), role, text, edge, depth));
                return;
            }
            Via::Call { site, callee, eff } => {
                let Some(s) = func.sites.get(site as usize) else {
                    return;
                };
                let cname = g.idx.func(callee).name.clone();
                let (role, text, entry_text) = call_text(&s.kind, &s.text, &cname);
                out.push(step(loc(g, f, s.pos), role, text, edge, depth));
                if matches!(s.kind, SiteKind::Indirect { .. }) {
                    if let Some(r) = registration(g, callee) {
                        out.push(Step { edge, depth, ..r });
                    }
                }
                depth += 1;
                if let Some(t) = entry_text {
                    let cpos = g.idx.func(callee).pos;
                    out.push(step(loc(g, callee, cpos), Role::Entry, t, edge, depth));
                }
                let Some(next) = g.sums.of(callee).get(eff as usize) else {
                    return;
                };
                f = callee;
                via = next.via;
            }
            Via::Callback {
                site,
                callee,
                param_eff,
                target,
                eff,
            } => {
                let Some(s) = func.sites.get(site as usize) else {
                    return;
                };
                let cname = g.idx.func(callee).name.clone();
                let tname = g.idx.func(target).name.clone();
                out.push(step(
                    loc(g, f, s.pos),
                    Role::Call,
                    format!("calls {cname}() with callback {tname}()"),
                    edge,
                    depth,
                ));
                depth += 1;
                if let Some(pe) = g.sums.of(callee).get(param_eff as usize) {
                    param_chain(g, callee, pe.via, &tname, edge, depth, out);
                }
                depth += 1;
                let tpos = g.idx.func(target).pos;
                out.push(step(
                    loc(g, target, tpos),
                    Role::Entry,
                    format!("{tname}() runs as that callback"),
                    edge,
                    depth,
                ));
                let Some(next) = g.sums.of(target).get(eff as usize) else {
                    return;
                };
                f = target;
                via = next.via;
            }
        }
    }
}

/// The calls from a callee down to where it calls through its parameter.
fn param_chain(
    g: &WaitGraph,
    mut f: FnId,
    mut via: Via,
    tname: &str,
    edge: usize,
    depth: u32,
    out: &mut Vec<Step>,
) {
    for _ in 0..16 {
        let func = g.idx.func(f);
        match via {
            Via::Site(si) => {
                if let Some(s) = func.sites.get(si as usize) {
                    out.push(step(
                        loc(g, f, s.pos),
                        Role::Indirect,
                        format!("{} calls {tname}() through its parameter", s.text),
                        edge,
                        depth,
                    ));
                }
                return;
            }
            Via::Call { site, callee, eff } => {
                if let Some(s) = func.sites.get(site as usize) {
                    let cname = g.idx.func(callee).name.clone();
                    out.push(step(
                        loc(g, f, s.pos),
                        Role::Call,
                        format!("passes it on to {cname}()"),
                        edge,
                        depth,
                    ));
                }
                let Some(next) = g.sums.of(callee).get(eff as usize) else {
                    return;
                };
                f = callee;
                via = next.via;
            }
            Via::Callback { .. } => return,
        }
    }
}

/// Where `target` was handed over to be called through a pointer: a call
/// passing it to a register helper, an assignment, or a file-scope
/// initializer (the first in file order).
fn registration(g: &WaitGraph, target: FnId) -> Option<Step> {
    let name = g.idx.func(target).name.as_str();
    for f in 0..g.idx.fns.len() as FnId {
        for s in &g.idx.func(f).sites {
            let passes = match &s.kind {
                SiteKind::Call {
                    callee, fn_args, ..
                } => fn_args.iter().any(|(i, v)| {
                    matches!(v, FnValue::Func(n) if n == name)
                        && stores_param(g, g.idx.file_of(f), callee, *i)
                }),
                SiteKind::Store {
                    value: FnValue::Func(n),
                    ..
                } => n == name,
                _ => false,
            };
            if passes {
                let text = format!("{} hands over {name}() to be called later", s.text);
                return Some(step(loc(g, f, s.pos), Role::Register, text, 0, 0));
            }
        }
    }
    None
}

/// Does `callee` store its parameter `i` into a function-pointer slot?
fn stores_param(g: &WaitGraph, file: u32, callee: &str, i: u32) -> bool {
    g.idx.resolve_call(file, callee).into_iter().any(|c| {
        g.idx
            .func(c)
            .sites
            .iter()
            .any(|s| matches!(&s.kind, SiteKind::Store { value: FnValue::Param(p), .. } if *p == i))
    })
}

/// Text of an intermediate call step, and of the callee's entry step when
/// the callee is not entered by a plain call (devres action, pointer).
fn call_text(kind: &SiteKind, text: &str, callee: &str) -> (Role, String, Option<String>) {
    match kind {
        SiteKind::Devres { api, .. } => (
            Role::Devres,
            format!("{api}() registers {callee}(): it runs at devres release, and on probe failure inside really_probe()"),
            Some(format!("{callee}() runs as a devres action")),
        ),
        SiteKind::Indirect { .. } => (
            Role::Indirect,
            format!("{text} calls {callee}() through a function pointer"),
            Some(format!("{callee}() runs through that pointer")),
        ),
        _ => (Role::Call, format!("calls {callee}()"), None),
    }
}

/// Text of the final, waiting (or queueing) site.
fn final_text(g: &WaitGraph, kind: &SiteKind, text: &str, top: &Eff) -> (Role, String) {
    let what = match &top.key {
        EKey::Res(r) => Resource::clone(r),
        EKey::Param { .. } => return (Role::Wait, format!("{text} waits")),
    };
    match (kind, top.kind) {
        (_, EffKind::Queue) => (Role::Queue, format!("{text} queues {}", what.name())),
        (SiteKind::Acquire { .. }, _) => (Role::Wait, format!("{text} waits for {}", what.name())),
        (
            SiteKind::Wait {
                mode: WaitMode::DevresCancel,
                ..
            },
            _,
        ) => {
            let who = handlers(g, &what).unwrap_or_else(|| what.name());
            (
                Role::Wait,
                format!("{text} adds a devres action that cancel-syncs {}: it waits for {who} to return when devres runs", what.name()),
            )
        }
        (_, EffKind::Wait(_)) => {
            let who = match what.kind {
                ResourceKind::Work | ResourceKind::Kthread => handlers(g, &what)
                    .map(|h| format!("{h} to return"))
                    .unwrap_or_else(|| format!("{} to finish", what.name())),
                ResourceKind::Probe => {
                    "every probe in flight to finish (probe_count == 0)".to_string()
                }
                _ => what.name(),
            };
            (Role::Wait, format!("{text} waits for {who}"))
        }
        _ => (Role::Wait, text.to_string()),
    }
}

/// `hmem_deferred_work()` (or several, joined) for a work resource.
fn handlers(g: &WaitGraph, work: &Resource) -> Option<String> {
    let mut names: Vec<String> = g
        .contexts
        .iter()
        .filter(|c| c.kind == CtxKind::Handler && c.holds.first() == Some(work))
        .map(|c| format!("{}()", g.idx.func(c.entry).name))
        .collect();
    names.dedup();
    (!names.is_empty()).then(|| names.join(" / "))
}

/// One line saying which path the cycle needs, when it needs one, with the
/// trigger steps (where the work gets queued) added to the chain.
fn condition(
    g: &WaitGraph,
    ws: &[&Witness],
    cyc: &[Resource],
    steps: &mut Vec<Step>,
) -> Option<String> {
    for (i, w) in ws.iter().enumerate() {
        if w.devres {
            return Some(devres_condition(g, w, &cyc[(i + 1) % cyc.len()], i, steps));
        }
        if let Hold::DriverCore(ci) = w.hold {
            let ctx = &g.contexts[ci];
            return Some(format!(
                "a probe of {} must be pending (async or deferred) while the device lock is held",
                ctx.owner
            ));
        }
    }
    ws.iter().find_map(|w| guard_condition(g, w))
}

/// `needs from_reconnect == false in cifs_put_tcp_session()`: the wait runs
/// only for some values of the holding function's parameters, and no
/// caller we saw decides them.
fn guard_condition(g: &WaitGraph, w: &Witness) -> Option<String> {
    let e = w.eff.as_ref()?;
    if e.guards().is_empty() {
        return None;
    }
    let func = g.idx.func(w.at);
    let tests: Vec<String> = e
        .guards()
        .iter()
        .map(|t| {
            let name = func
                .params
                .get(t.param as usize)
                .map_or_else(|| format!("argument {}", t.param + 1), |p| p.name.clone());
            match (&t.value, t.equal) {
                (None, true) => format!("{name} is set"),
                (None, false) => format!("{name} is not set"),
                (Some(v), true) => format!("{name} == {v}"),
                (Some(v), false) => format!("{name} != {v}"),
            }
        })
        .collect();
    Some(format!(
        "only when {} in {}(): the wait is under that test",
        tests.join(" and "),
        func.name
    ))
}

/// `only when IONIC_LIF_F_FW_RESET is clear in ionic_lif::state`: the
/// wait is under tests of object state that no caller on the way decides.
fn state_condition(g: &WaitGraph, w: &Witness) -> Option<String> {
    let e = w.eff.as_ref()?;
    let tests: Vec<String> = e
        .states()
        .iter()
        .filter_map(|id| g.sums.states.guards.get(*id as usize))
        .map(|t| match (&t.bit, &t.value, t.equal) {
            (Some(b), _, true) => format!("{b} is set in {}", t.key),
            (Some(b), _, false) => format!("{b} is clear in {}", t.key),
            (None, None, true) => format!("{} is set", t.key),
            (None, None, false) => format!("{} is not set", t.key),
            (None, Some(v), true) => format!("{} == {v}", t.key),
            (None, Some(v), false) => format!("{} != {v}", t.key),
        })
        .collect();
    if tests.is_empty() {
        return None;
    }
    Some(format!(
        "only when {}: the wait is under {}",
        tests.join(" and "),
        if tests.len() == 1 {
            "that test"
        } else {
            "those tests"
        }
    ))
}

fn devres_condition(
    g: &WaitGraph,
    w: &Witness,
    target: &Resource,
    edge: usize,
    steps: &mut Vec<Step>,
) -> String {
    let probe = g.idx.func(w.at).name.clone();
    let queued = g
        .sums
        .of(w.at)
        .iter()
        .find(|e| e.kind == EffKind::Queue && matches!(&e.key, EKey::Res(r) if *r == target));
    let Some(q) = queued else {
        return format!("{probe}() fails after its devres action was registered: really_probe() then runs it while the probe is still counted");
    };
    let mut trig = Vec::new();
    chain(g, w.at, q.via, edge, 0, q, &mut trig);
    let first = trig.first().map(|s| format!("{}:{}", s.at.path, s.at.line));
    let qname = target.key.to_string();
    // Show the trigger before the devres action runs: after the probe's entry
    // step and the registration, ahead of the action's entry.
    let insert_at = steps
        .iter()
        .position(|s| s.edge == edge && s.role == Role::Entry && s.depth > 0)
        .unwrap_or(steps.len());
    for (k, s) in trig.into_iter().enumerate() {
        steps.insert(insert_at + k, s);
    }
    format!(
        "{probe}() fails after {qname} was queued{}: devres then flushes it inside really_probe(), while the probe is still counted",
        first.map(|f| format!(" (at {f})")).unwrap_or_default()
    )
}

fn message(g: &WaitGraph, kind: &str, cyc: &[Resource], steps: &[Step]) -> String {
    let wait = steps.iter().find(|s| s.edge == 0 && s.role == Role::Wait);
    let wait_fn = wait.map(|s| s.at.function.clone()).unwrap_or_default();
    let work = cyc.iter().find(|r| r.kind == ResourceKind::Work);
    let handler = work
        .and_then(|w| handlers(g, w))
        .unwrap_or_else(|| "its handler".into());
    let work_name = work.map(|w| w.key.to_string()).unwrap_or_default();
    let lock = cyc
        .iter()
        .find(|r| matches!(r.kind, ResourceKind::Lock | ResourceKind::DeviceLock))
        .map(|r| r.name())
        .unwrap_or_default();
    match kind {
        "PROBE_FLUSH_WAITS_FOR_PROBE" => format!(
            "{wait_fn}() waits for {work_name} from a probe path, but its handler {handler} waits for probes to finish"
        ),
        "DEVICE_LOCK_WAITS_FOR_PROBE" => format!(
            "{wait_fn}() waits for probes to finish while holding {lock}, which a pending probe needs"
        ),
        "WORK_WAIT_UNDER_LOCK" => format!(
            "{wait_fn}() waits for {work_name} while holding {lock}, which its handler {handler} takes"
        ),
        "WORK_WAIT_UNDER_DEVICE_LOCK" => format!(
            "{wait_fn}() waits for {work_name} while holding the device lock, which its handler {handler} takes"
        ),
        "WORK_WAITS_FOR_ITSELF" => format!(
            "{handler} waits for its own work {work_name}: the wait in {wait_fn}() never returns when called from the handler"
        ),
        _ => {
            let names: Vec<String> = cyc.iter().map(Resource::name).collect();
            format!("circular wait: {} -> {}", names.join(" -> "), names[0])
        }
    }
}

/// Type + cycle + the functions of the chain: stable across line moves.
fn fingerprint(kind: &str, cycle: &[String], steps: &[Step]) -> String {
    let mut fns: Vec<&str> = steps.iter().map(|s| s.at.function.as_str()).collect();
    fns.sort_unstable();
    fns.dedup();
    let text = format!("{kind}|{}|{}", cycle.join(">"), fns.join(","));
    format!("{:016x}", crate::rules::fnv(0, text.as_bytes()))
}
