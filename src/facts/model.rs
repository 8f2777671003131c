//! Per-file facts: plain serde data, everything later stages need from one
//! file, so a file's facts can be cached by content hash and merged across
//! the tree without keeping syntax trees.

use serde::{Deserialize, Serialize};

use crate::rules::{ResourceKind, WaitMode};

/// A byte range and its 1-based line and byte column in the original file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pos {
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub col: u32,
}

/// The root of an access path: where `a` in `a->b.c` comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Root {
    /// A file-scope variable (or one the file only declares `extern`).
    Global(String),
    /// A value of this type (a local, a cast, `container_of(.., T, ..)`).
    /// Names are normalised: `struct foo` -> `foo`; typedef names as written.
    Type(String),
    /// The enclosing function's parameter `index`, declared with type `ty`.
    /// Callers substitute their argument for it.
    Param { index: u32, ty: String },
    /// An API whose instance is implicit (`rtnl_lock()`): the call name.
    Named(String),
}

/// An access path naming a resource instance or a function pointer slot:
/// `&priv->dev.mutex` = `Type("foo_priv")` + `["dev", "mutex"]`.
/// Resolved to a class key by `graph` with the tree's struct definitions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyPath {
    pub root: Root,
    pub fields: Vec<String>,
}

impl KeyPath {
    pub fn global(name: &str) -> KeyPath {
        KeyPath {
            root: Root::Global(name.to_string()),
            fields: Vec::new(),
        }
    }

    /// Source-like text for messages: `foo_priv->dev.mutex`, `dax_hmem_work`.
    pub fn display(&self) -> String {
        let mut s = match &self.root {
            Root::Global(n) | Root::Named(n) => n.clone(),
            Root::Type(t) => t.clone(),
            Root::Param { ty, .. } => ty.clone(),
        };
        for f in &self.fields {
            s.push('.');
            s.push_str(f);
        }
        s
    }
}

/// Where an indirect call's function pointer comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A parameter of the enclosing function (`fn(x)` where `fn` is a param).
    Param(u32),
    /// A global or a struct field (`ops->reset(..)`, `hmem_deferred_fn`).
    Path(KeyPath),
}

/// A value stored into a function-pointer slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FnValue {
    /// A function named directly.
    Func(String),
    /// Whatever the caller passed as this parameter.
    Param(u32),
}

/// What happens at one site of a function body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteKind {
    /// A direct call of a function the model does not know.
    Call {
        callee: String,
        /// Arguments that are bare identifiers: possible function references,
        /// or parameters passed on (a callback handed down).
        fn_args: Vec<(u32, FnValue)>,
        /// Access paths of the arguments, by index (for parameter substitution).
        args: Vec<(u32, KeyPath)>,
    },
    /// A call through a function pointer.
    Indirect {
        target: Target,
        fn_args: Vec<(u32, FnValue)>,
        args: Vec<(u32, KeyPath)>,
    },
    Acquire {
        res: ResourceKind,
        key: KeyPath,
        is_try: bool,
        shared: bool,
        api: String,
    },
    Release {
        res: ResourceKind,
        key: KeyPath,
    },
    Wait {
        res: ResourceKind,
        key: Option<KeyPath>,
        mode: WaitMode,
        api: String,
    },
    Bind {
        key: KeyPath,
        handler: FnValue,
        api: String,
    },
    Queue {
        key: KeyPath,
        queue: Option<KeyPath>,
        api: String,
    },
    Devres {
        action: FnValue,
        api: String,
    },
    /// `target = value` where value is a function or a parameter.
    Store {
        target: KeyPath,
        value: FnValue,
    },
    /// Ends a wait for the resource's waiters (`complete(&x->done)`).
    Signal {
        res: ResourceKind,
        key: KeyPath,
        api: String,
    },
}

/// One site, with what is held there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub pos: Pos,
    pub kind: SiteKind,
    /// Indexes (into the function's `sites`) of the acquisitions still held here.
    pub held: Vec<u32>,
    /// Work items this site provably does not run in (`current_work() != &w`).
    pub not_in_work: Vec<KeyPath>,
    /// What the enclosing function's parameters must be for the site to
    /// run (`if (!from_reconnect)`, `case EVENT_KICKOFF:` of a `switch` on
    /// a parameter). Callers passing a constant that contradicts a test
    /// never reach the site.
    pub guards: Vec<ParamTest>,
    /// Constant arguments of a call (`foo(dev, true)` -> `(1, "1")`),
    /// normalised by `ParamTest::constant`.
    pub consts: Vec<(u32, String)>,
    /// Locks the function's caller holds that this function released on
    /// every path to the site, without taking them again
    /// (`spin_unlock_irq(&dev->power.lock); cancel_work_sync(..)` in a
    /// function "called under dev->power.lock"): the caller's hold does not
    /// reach the site.
    pub released: Vec<KeyPath>,
    /// What object state must be for the site to run
    /// (`if (!test_bit(FW_RESET, &lif->state))`, `if (!x->done)`).
    pub states: Vec<StateTest>,
    /// Object state this function set on every path to the site, for a
    /// call (`set_bit(FW_RESET, &lif->state); ..; deinit(lif)`): callee
    /// effects guarded by a contradicting test are not reached.
    pub known: Vec<StateTest>,
    /// The source text of the call, one line, shortened.
    pub text: String,
}

/// A test of object state: a field or global (`x->done`,
/// `timer_expired`), or one bit of a flag word (`bit` = `FW_RESET` for
/// `test_bit(FW_RESET, &x->flags)` or `x->flags & FW_RESET`). `value` and
/// `equal` read as in `ParamTest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateTest {
    pub key: KeyPath,
    pub bit: Option<String>,
    pub value: Option<String>,
    pub equal: bool,
}

impl StateTest {
    /// The test of the value alone, to compare two tests of one subject.
    pub fn value_test(&self) -> ParamTest {
        ParamTest {
            param: 0,
            value: self.value.clone(),
            equal: self.equal,
        }
    }

    /// The same field (and bit) as `other`.
    pub fn same_subject(&self, other: &StateTest) -> bool {
        self.key == other.key && self.bit == other.bit
    }

    /// The test that holds when this one fails.
    pub fn negated(&self) -> StateTest {
        StateTest {
            equal: !self.equal,
            ..self.clone()
        }
    }
}

/// A test of a parameter's value: `p` / `!p` (`value` None, `equal` true /
/// false), `p == X` / `p != X` (`value` Some(X)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ParamTest {
    pub param: u32,
    pub value: Option<String>,
    pub equal: bool,
}

impl ParamTest {
    /// The constant an argument or comparison operand stands for: integer
    /// literals in decimal, `true`/`false`/`NULL` as `1`/`0`, and
    /// upper-case identifiers (enum constants, macros) as written.
    pub fn constant(text: &str) -> Option<String> {
        let t = text.trim();
        match t {
            "true" => return Some("1".into()),
            "false" | "NULL" => return Some("0".into()),
            _ => {}
        }
        let digits = t.trim_end_matches(['u', 'U', 'l', 'L']);
        let n = if let Some(h) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            u64::from_str_radix(h, 16).ok()
        } else {
            digits.parse::<u64>().ok()
        };
        if let Some(n) = n {
            return Some(n.to_string());
        }
        let ident = t
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && t.chars().any(|c| c.is_ascii_uppercase());
        ident.then(|| t.to_string())
    }

    /// Can this test and `other` not both hold (`p` and `!p`, `p == A`
    /// and `p == B`)? False when that cannot be told.
    pub fn contradicts(&self, other: &ParamTest) -> bool {
        if self.param != other.param {
            return false;
        }
        let one_way = |a: &ParamTest, b: &ParamTest| match (&a.value, a.equal) {
            // `p == v`: the other test fails for v.
            (Some(v), true) => b.holds_for(v) == Some(false),
            // `!p`: the other test fails for 0.
            (None, false) => b.holds_for("0") == Some(false),
            _ => false,
        };
        one_way(self, other) || one_way(other, self)
    }

    /// Does the test hold when the parameter is the constant `c`? `None`
    /// when that cannot be told (an enum constant against a number).
    pub fn holds_for(&self, c: &str) -> Option<bool> {
        let numeric = |s: &str| s.parse::<u64>().is_ok();
        let is = match &self.value {
            None if numeric(c) => c != "0",
            None => return None,
            Some(v) if v == c => true,
            // Two different numbers, or two different enum constants
            // (distinct names of one enum are distinct values).
            Some(v) if numeric(v) == numeric(c) => false,
            Some(_) => return None,
        };
        Some(is == self.equal)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub ty: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub is_static: bool,
    /// The function's name in its definition.
    pub pos: Pos,
    pub params: Vec<Param>,
    pub sites: Vec<Site>,
    /// The definition contains a tree-sitter ERROR node.
    pub has_errors: bool,
    /// Acquisitions (site indexes) still held on every return: a lock
    /// wrapper (`foo_lock(dev)` -> `mutex_lock(&dev->lock)`); its callers
    /// hold the lock after the call.
    pub returns_holding: Vec<u32>,
    /// Caller-held locks released on every return: an unlock wrapper.
    pub returns_released: Vec<KeyPath>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Global {
    pub name: String,
    pub ty: String,
    pub is_static: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructDef {
    pub name: String,
    /// (field, type) in declaration order; anonymous members flattened.
    pub fields: Vec<(String, String)>,
}

/// A binding made at file scope (`DECLARE_WORK`, `__WORK_INITIALIZER`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileBind {
    pub pos: Pos,
    pub key: KeyPath,
    pub handler: String,
    pub api: String,
    pub text: String,
}

/// `.field = fn` in a file-scope initializer of a struct variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStore {
    pub pos: Pos,
    /// The struct type being initialised (normalised name).
    pub ty: String,
    /// The designator path inside it (`["probe"]`, `["driver", "pm"]`).
    pub fields: Vec<String>,
    pub func: String,
    /// The variable being initialised.
    pub var: String,
}

/// Everything extracted from one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    pub functions: Vec<Function>,
    pub globals: Vec<Global>,
    pub structs: Vec<StructDef>,
    pub typedefs: Vec<(String, String)>,
    pub binds: Vec<FileBind>,
    pub stores: Vec<FileStore>,
    /// Function definitions that contain an ERROR node.
    pub functions_with_errors: u32,
    /// The file's text was not valid UTF-8 (bytes were replaced).
    pub lossy: bool,
}
