//! Interned class keys: every `Resource` of a run names its key by a
//! shared `&'static str`, so the millions of summary effects that name a
//! resource carry a pointer, not their own copy of the string. Comparison
//! and hashing stay by content, so every ordering is what it was.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use super::index::Resource;

static KEYS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
static RESOURCES: OnceLock<Mutex<HashSet<&'static Resource>>> = OnceLock::new();

/// The one shared copy of `s`. Keys are few (class names, a few hundred
/// thousand on a whole tree) and live for the process.
pub fn intern(s: &str) -> &'static str {
    let table = KEYS.get_or_init(|| Mutex::new(HashSet::new()));
    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = t.get(s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_string().into_boxed_str());
    t.insert(k);
    k
}

/// The one shared copy of a resource class: summary effects name their
/// resource by this pointer (8 bytes) instead of a copy (40).
pub fn resource(r: Resource) -> &'static Resource {
    let table = RESOURCES.get_or_init(|| Mutex::new(HashSet::new()));
    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = t.get(&r) {
        return k;
    }
    let k: &'static Resource = Box::leak(Box::new(r));
    t.insert(k);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_pointer() {
        let a = intern("foo_priv::mtx");
        let b = intern(&String::from("foo_priv::mtx"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern(""), "");
    }
}
