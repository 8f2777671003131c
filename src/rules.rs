//! The kernel API model: which calls acquire, release, wait, bind, queue,
//! register devres callbacks, and which driver struct fields the driver core
//! calls in which context.
//!
//! In: the TOML files under `rules/` (embedded at build time) plus any
//! `--rules DIR`. Out: `Rules`, an index from call name to its effects, used
//! by `facts` (to classify call sites) and `graph` (entry contexts).
//! A malformed file is an error naming the file, line and reason.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The rules shipped with waitcheck, embedded at build time.
const EMBEDDED: &[(&str, &str)] = &[
    ("rules/locks.toml", include_str!("../rules/locks.toml")),
    (
        "rules/workqueue.toml",
        include_str!("../rules/workqueue.toml"),
    ),
    (
        "rules/driver-core.toml",
        include_str!("../rules/driver-core.toml"),
    ),
    ("rules/drivers.toml", include_str!("../rules/drivers.toml")),
    ("rules/state.toml", include_str!("../rules/state.toml")),
    ("rules/timers.toml", include_str!("../rules/timers.toml")),
    ("rules/types.toml", include_str!("../rules/types.toml")),
];

/// A rules file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{file}:{line}: {reason}")]
    Malformed {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Unreadable { file: String, reason: String },
}

/// What a resource is. `Lock` and `DeviceLock` are held; the others are
/// waited on (their "holder" is a running handler, a probe, a thread).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Lock,
    DeviceLock,
    Work,
    Workqueue,
    Probe,
    Completion,
    Kthread,
}

impl ResourceKind {
    /// The prefix of a resource name in findings (`work:foo`).
    pub fn prefix(self) -> &'static str {
        match self {
            ResourceKind::Lock => "lock",
            ResourceKind::DeviceLock => "device_lock",
            ResourceKind::Work => "work",
            ResourceKind::Workqueue => "wq",
            ResourceKind::Probe => "probe",
            ResourceKind::Completion => "completion",
            ResourceKind::Kthread => "kthread",
        }
    }
}

/// How a wait behaves.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WaitMode {
    /// Waits for the holder to finish (`flush_work`).
    #[default]
    Flush,
    /// Waits only if the handler is already running (`cancel_work_sync`):
    /// still a deadlock when it is.
    Cancel,
    /// Registers a devres action that cancel-syncs the item when the
    /// device's resources are released: at unbind, or at once when the
    /// probe that registered it fails (`devm_delayed_work_autocancel()`).
    DevresCancel,
}

/// One parsed rules file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    acquire: Vec<AcquireRule>,
    #[serde(default)]
    release: Vec<ReleaseRule>,
    #[serde(default)]
    guard: Vec<GuardRule>,
    #[serde(default)]
    wait: Vec<WaitRule>,
    #[serde(default)]
    bind: Vec<BindRule>,
    #[serde(default)]
    queue: Vec<QueueRule>,
    #[serde(default)]
    devres: Vec<DevresRule>,
    #[serde(default)]
    current_work: Vec<CurrentWorkRule>,
    #[serde(default)]
    signal: Vec<SignalRule>,
    #[serde(default)]
    bit: Vec<BitRule>,
    #[serde(default)]
    driver: Vec<DriverRule>,
    #[serde(default)]
    types: Option<TypesRule>,
}

/// `[types]`: facts about kernel types that key resolution needs.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TypesRule {
    /// Types whose `work` member is the same item as the whole.
    #[serde(default)]
    pub work_wrappers: Vec<String>,
    /// Types too generic to name a class without a containing field.
    #[serde(default)]
    pub generic: Vec<String>,
    /// `M(ptr, type, member)` macros naming the container type.
    #[serde(default)]
    pub container_of: Vec<String>,
}

/// `[[acquire]]`: blocks until the resource is free, then holds it.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AcquireRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    #[serde(default)]
    pub arg: Option<usize>,
    #[serde(default, rename = "try")]
    pub is_try: bool,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub returns_zero_on_success: bool,
    /// Not an acquisition but an assertion that the caller already holds
    /// the lock (`lockdep_assert_held()`): held from here on, never waited
    /// for here.
    #[serde(default)]
    pub asserted: bool,
    /// A spinning lock: its holder may not sleep (see `atomic` in
    /// rules/locks.toml).
    #[serde(default)]
    pub atomic: bool,
    /// The member of the argument the call really locks, for macros that
    /// take the object (`hci_dev_lock(d)` is `mutex_lock(&d->lock)`); a
    /// dotted path names a nested member (`sk_lock.slock`).
    #[serde(default)]
    pub field: Option<String>,
    /// The instance key of an API without an argument (`rtnl_lock()`):
    /// lock and unlock entries name the same key so they pair up.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[release]]`: lets go of a held resource.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    #[serde(default)]
    pub arg: Option<usize>,
    /// The instance key of an API without an argument (`rtnl_lock()`):
    /// lock and unlock entries name the same key so they pair up.
    #[serde(default)]
    pub key: Option<String>,
    /// The member of the argument the call really locks, for macros that
    /// take the object (`hci_dev_unlock(d)` is `mutex_unlock(&d->lock)`).
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[guard]]`: `guard(CLASS)(arg)` and `scoped_guard(CLASS, arg)`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardRule {
    pub classes: Vec<String>,
    pub resource: ResourceKind,
    #[serde(default, rename = "try")]
    pub is_try: bool,
    #[serde(default)]
    pub shared: bool,
    /// The instance key of an API without an argument (`rtnl_lock()`):
    /// lock and unlock entries name the same key so they pair up.
    #[serde(default)]
    pub key: Option<String>,
    /// A spinning lock's guard class.
    #[serde(default)]
    pub atomic: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[wait]]`: blocks until whoever holds the resource lets go.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaitRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    #[serde(default)]
    pub arg: Option<usize>,
    #[serde(default)]
    pub mode: WaitMode,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[bind]]`: binds a work item to its handler.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BindRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    /// The argument naming the bound item (ignored with `returns`).
    #[serde(default)]
    pub arg: usize,
    pub handler: usize,
    /// The bound item is the call's return value, named by the assignment
    /// it is stored with (`priv->task = kthread_run(fn, ...)`).
    #[serde(default)]
    pub returns: bool,
    #[serde(default)]
    pub declares: bool,
    #[serde(default)]
    pub initializer: bool,
    /// What findings call the handler (`timer callback`); default `work
    /// handler`.
    #[serde(default)]
    pub role: Option<String>,
    /// The call findings name as waiting for it (`del_timer_sync()`);
    /// default: waiting for the work.
    #[serde(default)]
    pub waited_by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[queue]]`: makes a work item runnable.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    pub arg: usize,
    #[serde(default)]
    pub queue_arg: Option<usize>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[devres]]`: registers a callback run at devres release.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevresRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub device_arg: usize,
    pub action: usize,
    #[serde(default)]
    pub data: Option<usize>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[signal]]`: ends a wait on a resource for its waiters (`complete()`
/// on a completion). Whatever the signalling function must get past before
/// it signals, the waiters wait for too.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub resource: ResourceKind,
    pub arg: usize,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[bit]]`: an operation on one bit of an object's flag word
/// (`set_bit(NR, addr)`): object state a path condition can test.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BitRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    pub op: BitOp,
    /// The argument naming the bit.
    #[serde(default)]
    pub bit: usize,
    /// The argument pointing to the flag word.
    #[serde(default = "one")]
    pub addr: usize,
    #[serde(default)]
    pub note: Option<String>,
}

fn one() -> usize {
    1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BitOp {
    /// Returns whether the bit is set (`test_bit`).
    Test,
    /// Sets the bit (`set_bit`).
    Set,
    /// Clears the bit (`clear_bit`).
    Clear,
    /// Sets the bit, returning its old value (`test_and_set_bit`): set
    /// after the call on both branches of a test of it.
    TestAndSet,
    /// Clears the bit, returning its old value (`test_and_clear_bit`).
    TestAndClear,
}

/// `[[current_work]]`: returns the work item the caller runs in.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CurrentWorkRule {
    #[serde(default, skip_serializing)]
    call: Option<String>,
    #[serde(default)]
    pub calls: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `[[driver]]`: a driver struct type and the fields the core calls.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriverRule {
    pub types: Vec<String>,
    #[serde(default)]
    pub probe: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub shutdown: Vec<String>,
    #[serde(default)]
    pub device_arg: usize,
    #[serde(default)]
    pub device_field: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// In which context the driver core calls a driver struct field.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Probe,
    Remove,
    Shutdown,
}

/// What a call does, as far as the model is concerned.
#[derive(Clone, Debug)]
pub enum Effect {
    Acquire(AcquireRule),
    Release(ReleaseRule),
    Wait(WaitRule),
    Bind(BindRule),
    Queue(QueueRule),
    Devres(DevresRule),
    CurrentWork,
    Signal(SignalRule),
    Bit(BitRule),
}

/// The loaded model, indexed for lookups by call name.
#[derive(Debug, Default)]
pub struct Rules {
    by_call: HashMap<String, Vec<Effect>>,
    guards: HashMap<String, GuardRule>,
    /// struct type name (without `struct `) -> driver rule
    drivers: HashMap<String, DriverRule>,
    /// Merged `[types]` of every file.
    pub types: TypesRule,
    /// Where each loaded file came from, for `waitcheck rules`.
    pub sources: Vec<String>,
    /// Hash of every loaded file's text, for cache keys.
    pub hash: u64,
    counts: BTreeMap<&'static str, usize>,
}

impl Rules {
    /// The embedded rules plus every `*.toml` in each of `extra_dirs`.
    pub fn load(extra_dirs: &[PathBuf]) -> Result<Rules, RulesError> {
        let mut rules = Rules::default();
        for (name, text) in EMBEDDED {
            rules.add_file(name, text)?;
        }
        for dir in extra_dirs {
            for path in toml_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|e| RulesError::Unreadable {
                    file: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                rules.add_file(&path.display().to_string(), &text)?;
            }
        }
        Ok(rules)
    }

    /// Only the embedded rules (tests, and callers that take no `--rules`).
    pub fn embedded() -> Rules {
        match Rules::load(&[]) {
            Ok(r) => r,
            // The embedded files are checked by a unit test; reaching this is a
            // build defect, not an input error.
            Err(e) => panic!("embedded rules are malformed: {e}"),
        }
    }

    /// Parse one file's text and merge it in.
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| malformed(name, text, &e))?;
        self.hash = fnv(self.hash ^ fnv(0, name.as_bytes()), text.as_bytes());
        self.sources.push(name.to_string());
        self.merge(name, file)
    }

    fn merge(&mut self, name: &str, f: RulesFile) -> Result<(), RulesError> {
        let mut add = |kind: &'static str, call: Option<String>, calls: Vec<String>, e: Effect| {
            let names: Vec<String> = call.into_iter().chain(calls).collect();
            if names.is_empty() {
                return Err(RulesError::Malformed {
                    file: name.to_string(),
                    line: 0,
                    reason: format!("a [[{kind}]] entry lists no `calls`"),
                });
            }
            *self.counts.entry(kind).or_default() += names.len();
            for n in names {
                self.by_call.entry(n).or_default().push(e.clone());
            }
            Ok(())
        };
        for r in f.acquire {
            add(
                "acquire",
                r.call.clone(),
                r.calls.clone(),
                Effect::Acquire(r),
            )?;
        }
        for r in f.release {
            add(
                "release",
                r.call.clone(),
                r.calls.clone(),
                Effect::Release(r),
            )?;
        }
        for r in f.wait {
            add("wait", r.call.clone(), r.calls.clone(), Effect::Wait(r))?;
        }
        for r in f.bind {
            add("bind", r.call.clone(), r.calls.clone(), Effect::Bind(r))?;
        }
        for r in f.queue {
            add("queue", r.call.clone(), r.calls.clone(), Effect::Queue(r))?;
        }
        for r in f.devres {
            add("devres", r.call.clone(), r.calls.clone(), Effect::Devres(r))?;
        }
        for r in f.signal {
            add("signal", r.call.clone(), r.calls.clone(), Effect::Signal(r))?;
        }
        for r in f.bit {
            add("bit", r.call.clone(), r.calls.clone(), Effect::Bit(r))?;
        }
        for r in f.current_work {
            add(
                "current_work",
                r.call.clone(),
                r.calls.clone(),
                Effect::CurrentWork,
            )?;
        }
        for g in f.guard {
            *self.counts.entry("guard").or_default() += g.classes.len();
            for c in &g.classes {
                self.guards.insert(c.clone(), g.clone());
            }
        }
        if let Some(t) = f.types {
            self.types.work_wrappers.extend(t.work_wrappers);
            self.types.generic.extend(t.generic);
            self.types.container_of.extend(t.container_of);
        }
        for d in f.driver {
            *self.counts.entry("driver").or_default() += d.types.len();
            for t in &d.types {
                let t = t.trim_start_matches("struct ").trim().to_string();
                self.drivers.insert(t, d.clone());
            }
        }
        Ok(())
    }

    /// The effects of calling `name` (empty when the model knows nothing).
    pub fn effects(&self, name: &str) -> &[Effect] {
        self.by_call.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The `api` names of acquisitions whose holder may not sleep: atomic
    /// acquire calls, and `guard(CLASS)` for atomic guard classes.
    pub fn atomic_apis(&self) -> std::collections::HashSet<String> {
        let calls = self.by_call.iter().filter(|(_, effs)| {
            effs.iter()
                .any(|e| matches!(e, Effect::Acquire(r) if r.atomic))
        });
        let guards = self
            .guards
            .iter()
            .filter(|(_, g)| g.atomic)
            .map(|(class, _)| format!("guard({class})"));
        calls.map(|(name, _)| name.clone()).chain(guards).collect()
    }

    /// The resource a `[[bind]]` call binds (`work`, `kthread`), if it is one.
    pub fn bind_resource(&self, api: &str) -> Option<ResourceKind> {
        self.effects(api).iter().find_map(|e| match e {
            Effect::Bind(b) => Some(b.resource),
            _ => None,
        })
    }

    /// What findings call the handler a bind call installs, and the call
    /// that waits for it (`("timer callback", "del_timer_sync()")`), when
    /// its rule says.
    pub fn bind_role(&self, api: &str) -> Option<(String, String)> {
        self.effects(api).iter().find_map(|e| match e {
            Effect::Bind(b) => Some((b.role.clone()?, b.waited_by.clone()?)),
            _ => None,
        })
    }

    /// Calls that assert a hold rather than take it (`asserted = true`).
    pub fn asserting_calls(&self) -> std::collections::HashSet<String> {
        self.by_call
            .iter()
            .filter(|(_, effs)| {
                effs.iter()
                    .any(|e| matches!(e, Effect::Acquire(r) if r.asserted))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Is `name` anything the model knows (fast pre-check on the hot path)?
    pub fn knows(&self, name: &str) -> bool {
        self.by_call.contains_key(name)
    }

    /// The guard class `guard(CLASS)` / `scoped_guard(CLASS, ...)`.
    pub fn guard(&self, class: &str) -> Option<&GuardRule> {
        self.guards.get(class)
    }

    /// The driver rule for a struct type name (`platform_driver`).
    pub fn driver(&self, struct_name: &str) -> Option<&DriverRule> {
        self.drivers.get(struct_name)
    }

    /// In which context the core calls `field` of a `struct_name` initializer.
    pub fn driver_entry(&self, struct_name: &str, field: &str) -> Option<(EntryKind, &DriverRule)> {
        let d = self.drivers.get(struct_name)?;
        let has = |v: &Vec<String>| v.iter().any(|f| f == field);
        if has(&d.probe) {
            Some((EntryKind::Probe, d))
        } else if has(&d.remove) {
            Some((EntryKind::Remove, d))
        } else if has(&d.shutdown) {
            Some((EntryKind::Shutdown, d))
        } else {
            None
        }
    }

    /// A human summary for `waitcheck rules`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "rules loaded from {} file(s):", self.sources.len());
        for src in &self.sources {
            let _ = writeln!(s, "  {src}");
        }
        for (kind, n) in &self.counts {
            let _ = writeln!(s, "  {kind:<13} {n}");
        }
        s
    }

    /// Every call name with its effects, sorted, for `waitcheck rules --list`.
    pub fn listing(&self) -> String {
        let mut names: Vec<&String> = self.by_call.keys().collect();
        names.sort();
        let mut s = String::new();
        for n in names {
            let effs: Vec<String> = self.effects(n).iter().map(effect_label).collect();
            let _ = writeln!(s, "{n:<40} {}", effs.join(", "));
        }
        let mut guards: Vec<&String> = self.guards.keys().collect();
        guards.sort();
        for g in guards {
            let r = &self.guards[g];
            let _ = writeln!(
                s,
                "guard({g}){:<w$} holds {}",
                "",
                r.resource.prefix(),
                w = 33usize.saturating_sub(g.len())
            );
        }
        let mut drivers: Vec<&String> = self.drivers.keys().collect();
        drivers.sort();
        for d in drivers {
            let r = &self.drivers[d];
            let _ = writeln!(
                s,
                "struct {d:<33} probe={:?} remove={:?} shutdown={:?}",
                r.probe, r.remove, r.shutdown
            );
        }
        s
    }
}

fn effect_label(e: &Effect) -> String {
    match e {
        Effect::Acquire(r) if r.is_try => format!("try-acquire {}", r.resource.prefix()),
        Effect::Acquire(r) => format!("acquire {}", r.resource.prefix()),
        Effect::Release(r) => format!("release {}", r.resource.prefix()),
        Effect::Wait(r) => format!("wait {} ({:?})", r.resource.prefix(), r.mode).to_lowercase(),
        Effect::Bind(r) => format!("bind {}", r.resource.prefix()),
        Effect::Queue(r) => format!("queue {}", r.resource.prefix()),
        Effect::Devres(_) => "devres".to_string(),
        Effect::CurrentWork => "current_work".to_string(),
        Effect::Signal(r) => format!("signal {}", r.resource.prefix()),
        Effect::Bit(r) => format!("bit {:?}", r.op).to_lowercase(),
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let rd = std::fs::read_dir(dir).map_err(|e| RulesError::Unreadable {
        file: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    out.sort();
    Ok(out)
}

fn malformed(file: &str, text: &str, e: &toml::de::Error) -> RulesError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        .unwrap_or(0);
    RulesError::Malformed {
        file: file.to_string(),
        line,
        reason: e.message().to_string(),
    }
}

/// FNV-1a, for a stable content hash of the rules (cache keys).
pub fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rules_load() {
        let r = Rules::load(&[]).expect("embedded rules parse");
        assert!(r.knows("flush_work"));
        assert!(r.knows("mutex_lock"));
        assert!(r.guard("mutex").is_some());
        assert!(r.driver_entry("platform_driver", "probe").is_some());
        assert!(r.types.work_wrappers.iter().any(|t| t == "delayed_work"));
        assert!(r.types.container_of.iter().any(|t| t == "container_of"));
    }

    #[test]
    fn malformed_file_names_file_and_line() {
        let mut r = Rules::default();
        let text = "[[wait]]\ncalls = [\"x\"]\nresource = \"work\"\nbogus = 1\n";
        let err = r.add_file("extra/bad.toml", text).unwrap_err().to_string();
        assert!(err.starts_with("extra/bad.toml:4:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn unknown_resource_is_rejected() {
        let mut r = Rules::default();
        let text = "[[acquire]]\ncalls = [\"x\"]\nresource = \"spin\"\n";
        let err = r.add_file("bad.toml", text).unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:3:"), "{err}");
    }

    #[test]
    fn entry_without_calls_is_rejected() {
        let mut r = Rules::default();
        let err = r
            .add_file("e.toml", "[[release]]\nresource = \"lock\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("lists no `calls`"));
    }
}
