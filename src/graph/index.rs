//! The tree-wide index over every file's facts: functions by name (static
//! ones file-local), struct field types, typedefs, globals; and key
//! resolution, which turns an access path into a resource class.

use std::collections::{HashMap, HashSet};

use crate::facts::model::{FileFacts, Function, KeyPath, Root};
use crate::rules::{ResourceKind, TypesRule};

pub type FnId = u32;

/// A resource class: `work:foo_priv::reset_wk`, `lock:dax_hmem_lock`, `probe`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    pub kind: ResourceKind,
    /// The class key (`foo_priv::mtx`, `dax_hmem_work`); empty for `probe`.
    /// Interned (`super::intern`): one copy per distinct key.
    pub key: &'static str,
    /// For a file-static global, the file that owns it (same name in two
    /// files is two objects).
    pub file: Option<u32>,
    /// For a device lock, the directory of the code that names it. A
    /// device-lock class is per driver: `platform_device::dev` held by one
    /// driver and needed by another driver's pending probe are two
    /// devices' locks, so they must not meet in one cycle.
    pub dir: Option<u32>,
    /// The device lock a probe, remove or shutdown callback holds for its
    /// own bound device. A pending probe never needs it: the device is
    /// being probed, or is bound, by the holder itself. Waiting for the
    /// device lock class waits for this one too.
    pub bound: bool,
}

impl Resource {
    pub fn probe() -> Resource {
        Resource {
            kind: ResourceKind::Probe,
            key: "",
            file: None,
            dir: None,
            bound: false,
        }
    }

    /// `work:dax_hmem_work`, `probe`.
    pub fn name(&self) -> String {
        if self.key.is_empty() {
            self.kind.prefix().to_string()
        } else {
            format!("{}:{}", self.kind.prefix(), self.key)
        }
    }
}

pub struct Index {
    pub files: Vec<FileFacts>,
    /// Flat list of every function: (file, index in that file's functions).
    pub fns: Vec<(u32, u32)>,
    by_name: HashMap<String, Vec<FnId>>,
    structs: HashMap<String, Vec<(String, String)>>,
    typedefs: HashMap<String, String>,
    /// Non-static globals: name -> type.
    globals: HashMap<String, String>,
    /// Static globals: (file, name) -> type.
    statics: HashMap<(u32, String), String>,
    /// From rules' `[types]`: `work` members that are the whole item, and
    /// types too generic to name a class alone.
    work_wrappers: HashSet<String>,
    generic: HashSet<String>,
    /// Per file, the id of its directory (scopes device-lock classes).
    file_dirs: Vec<u32>,
}

impl Index {
    pub fn new(mut files: Vec<FileFacts>, types: &TypesRule) -> Index {
        let mut idx = Index {
            work_wrappers: types.work_wrappers.iter().cloned().collect(),
            generic: types.generic.iter().cloned().collect(),
            fns: Vec::new(),
            by_name: HashMap::new(),
            structs: HashMap::new(),
            typedefs: HashMap::new(),
            globals: HashMap::new(),
            statics: HashMap::new(),
            files: Vec::new(),
            file_dirs: Vec::new(),
        };
        let mut dirs: HashMap<String, u32> = HashMap::new();
        for (fi, f) in files.iter_mut().enumerate() {
            idx.add_file(fi as u32, f);
            let dir = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            let next = dirs.len() as u32;
            let id = *dirs.entry(dir.to_string()).or_insert(next);
            idx.file_dirs.push(id);
        }
        idx.files = files;
        idx
    }

    /// Index one file's functions, and move its struct definitions,
    /// typedefs and globals into the tree-wide tables (the graph reads them
    /// only from there; a definition seen before is dropped, not kept twice).
    fn add_file(&mut self, fi: u32, f: &mut FileFacts) {
        for (i, func) in f.functions.iter().enumerate() {
            let id = self.fns.len() as FnId;
            self.fns.push((fi, i as u32));
            self.by_name.entry(func.name.clone()).or_default().push(id);
        }
        for s in std::mem::take(&mut f.structs) {
            // The first complete definition wins (headers and .c files rarely
            // disagree; when they do, config alternatives share field names).
            self.structs.entry(s.name).or_insert(s.fields);
        }
        for (alias, target) in std::mem::take(&mut f.typedefs) {
            self.typedefs.entry(alias).or_insert(target);
        }
        for g in std::mem::take(&mut f.globals) {
            if g.is_static {
                self.statics.insert((fi, g.name), g.ty);
            } else {
                self.globals.entry(g.name).or_insert(g.ty);
            }
        }
    }

    pub fn func(&self, id: FnId) -> &Function {
        let (f, i) = self.fns[id as usize];
        &self.files[f as usize].functions[i as usize]
    }

    pub fn file_of(&self, id: FnId) -> u32 {
        self.fns[id as usize].0
    }

    pub fn path_of(&self, id: FnId) -> &str {
        &self.files[self.file_of(id) as usize].path
    }

    /// The definitions a call of `name` from `file` may reach: a static
    /// function of the same file; else every non-static definition and the
    /// static inline ones of headers.
    pub fn resolve_call(&self, file: u32, name: &str) -> Vec<FnId> {
        let Some(cands) = self.by_name.get(name) else {
            return Vec::new();
        };
        let local: Vec<FnId> = cands
            .iter()
            .copied()
            .filter(|id| self.file_of(*id) == file)
            .collect();
        if !local.is_empty() {
            return local;
        }
        cands
            .iter()
            .copied()
            .filter(|id| {
                !self.func(*id).is_static
                    || self.files[self.file_of(*id) as usize].path.ends_with(".h")
            })
            .collect()
    }

    fn canonical<'a>(&'a self, mut ty: &'a str) -> &'a str {
        for _ in 0..8 {
            match self.typedefs.get(ty) {
                Some(t) if t != ty => ty = t,
                _ => break,
            }
        }
        ty
    }

    fn field_type(&self, ty: &str, field: &str) -> Option<&str> {
        let fields = self.structs.get(self.canonical(ty))?;
        fields
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, t)| self.canonical(t))
    }

    /// Does a `struct outer` embed a `struct inner` (directly, or in a
    /// member of a member, up to `depth` levels)? Pointers count as
    /// embedding: through them the object is reachable too.
    pub fn contains_struct(&self, outer: &str, inner: &str, depth: usize) -> bool {
        let (outer, inner) = (self.canonical(outer), self.canonical(inner));
        if outer == inner {
            return true;
        }
        if depth == 0 {
            return false;
        }
        self.structs.get(outer).is_some_and(|fields| {
            fields
                .iter()
                .any(|(_, t)| self.contains_struct(t, inner, depth - 1))
        })
    }

    fn global_type(&self, file: u32, name: &str) -> Option<(&str, bool)> {
        if let Some(t) = self.statics.get(&(file, name.to_string())) {
            return Some((t, true));
        }
        self.globals.get(name).map(|t| (t.as_str(), false))
    }

    /// Resolve an access path (seen in `file`) to a resource class of `kind`.
    /// None when the path names no specific class (a bare `struct mutex *`,
    /// or a parameter: callers substitute those).
    pub fn resolve(&self, file: u32, kind: ResourceKind, path: &KeyPath) -> Option<Resource> {
        let (key, scope) = match &path.root {
            Root::Named(n) => (n.clone(), None),
            Root::Global(name) => self.resolve_global(file, name, &path.fields)?,
            Root::Type(t) => (self.walk_fields(t, &path.fields)?, None),
            Root::Param { ty, .. } => (self.walk_fields(ty, &path.fields)?, None),
        };
        let dir = (kind == ResourceKind::DeviceLock)
            .then(|| self.file_dirs.get(file as usize).copied())
            .flatten();
        Some(Resource {
            kind,
            key: super::intern::intern(&key),
            file: scope,
            dir,
            bound: false,
        })
    }

    /// The class key of a function-pointer slot (`foo_ops::reset`, or a
    /// global pointer variable).
    pub fn slot(&self, file: u32, path: &KeyPath) -> Option<(&'static str, Option<u32>)> {
        self.resolve(file, ResourceKind::Lock, path)
            .map(|r| (r.key, r.file))
    }

    fn resolve_global(
        &self,
        file: u32,
        name: &str,
        fields: &[String],
    ) -> Option<(String, Option<u32>)> {
        let known = self.global_type(file, name);
        let scope = match known {
            Some((_, true)) => Some(file),
            _ => None,
        };
        if fields.is_empty() {
            return Some((name.to_string(), scope));
        }
        // A field of a global struct is the class `type::field`, the same
        // class as when reached through a pointer to that type.
        if let Some((ty, _)) = known {
            if let Some(k) = self.walk_fields(ty, fields) {
                return Some((k, None));
            }
        }
        let mut key = name.to_string();
        for f in fields {
            key.push('.');
            key.push_str(f);
        }
        Some((key, scope))
    }

    /// An empty type name (unknown) is as generic as `struct mutex`.
    fn is_generic(&self, ty: &str) -> bool {
        ty.is_empty() || self.generic.contains(ty)
    }

    /// `foo_dev` + `[cache, rb_lock]` -> `foo_cache::rb_lock` when the struct
    /// definitions say `foo_dev.cache` is a `struct foo_cache`.
    fn walk_fields(&self, ty: &str, fields: &[String]) -> Option<String> {
        let mut cur = self.canonical(ty).to_string();
        let Some((last, inner)) = fields.split_last() else {
            return (!self.is_generic(&cur)).then_some(cur);
        };
        let mut prefix: Vec<&str> = Vec::new();
        let mut key_before = None;
        for f in inner {
            if !prefix.is_empty() {
                prefix.push(f);
                continue;
            }
            match self.field_type(&cur, f) {
                // Through an untyped pointer (`priv->data->lock` with a
                // `void *data`) the rest of the path names no class.
                Some("void") => return None,
                Some(t) if !t.is_empty() && t != "<anon>" => {
                    key_before = Some(format!("{cur}::{f}"));
                    cur = t.to_string();
                }
                _ => prefix.push(f),
            }
        }
        if prefix.is_empty() && last == "work" && self.work_wrappers.contains(&cur) {
            return key_before;
        }
        if self.is_generic(&cur) && prefix.is_empty() {
            // `struct work_struct` reached without a container: no class.
            key_before.as_ref()?;
        }
        let mut key = cur;
        key.push_str("::");
        for p in prefix {
            key.push_str(p);
            key.push('.');
        }
        key.push_str(last);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::model::{FileFacts, Global, StructDef};

    fn kp(root: Root, fields: &[&str]) -> KeyPath {
        KeyPath {
            root,
            fields: fields.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn index() -> Index {
        let f = FileFacts {
            path: "drivers/x/x.c".into(),
            structs: vec![
                StructDef {
                    name: "mlx_dev".into(),
                    fields: vec![("cache".into(), "mlx_cache".into())],
                },
                StructDef {
                    name: "mlx_cache".into(),
                    fields: vec![("rb_lock".into(), "mutex".into())],
                },
                StructDef {
                    name: "ent".into(),
                    fields: vec![("dwork".into(), "delayed_work".into())],
                },
            ],
            typedefs: vec![("mlx_dev_t".into(), "mlx_dev".into())],
            globals: vec![Global {
                name: "the_work".into(),
                ty: "work_struct".into(),
                is_static: true,
            }],
            ..Default::default()
        };
        Index::new(vec![f], &crate::rules::Rules::embedded().types)
    }

    #[test]
    fn nested_field_resolves_to_inner_struct_class() {
        let idx = index();
        let a = idx.resolve(
            0,
            ResourceKind::Lock,
            &kp(Root::Type("mlx_dev".into()), &["cache", "rb_lock"]),
        );
        let b = idx.resolve(
            0,
            ResourceKind::Lock,
            &kp(Root::Type("mlx_cache".into()), &["rb_lock"]),
        );
        assert_eq!(a, b);
        assert_eq!(
            a.map(|r| r.name()),
            Some("lock:mlx_cache::rb_lock".to_string())
        );
    }

    #[test]
    fn typedef_is_followed() {
        let idx = index();
        let a = idx.resolve(
            0,
            ResourceKind::Lock,
            &kp(Root::Type("mlx_dev_t".into()), &["cache", "rb_lock"]),
        );
        assert_eq!(a.map(|r| r.key), Some("mlx_cache::rb_lock"));
    }

    #[test]
    fn delayed_work_member_is_the_same_item() {
        let idx = index();
        let a = idx.resolve(
            0,
            ResourceKind::Work,
            &kp(Root::Type("ent".into()), &["dwork"]),
        );
        let b = idx.resolve(
            0,
            ResourceKind::Work,
            &kp(Root::Type("ent".into()), &["dwork", "work"]),
        );
        assert_eq!(a, b);
        assert_eq!(a.map(|r| r.key), Some("ent::dwork"));
    }

    #[test]
    fn generic_type_alone_is_no_class() {
        let idx = index();
        let p = kp(
            Root::Param {
                index: 0,
                ty: "mutex".into(),
            },
            &[],
        );
        assert_eq!(idx.resolve(0, ResourceKind::Lock, &p), None);
    }

    #[test]
    fn static_global_is_scoped_to_its_file() {
        let idx = index();
        let r = idx.resolve(0, ResourceKind::Work, &KeyPath::global("the_work"));
        assert_eq!(r.as_ref().and_then(|r| r.file), Some(0));
        assert_eq!(r.map(|r| r.name()), Some("work:the_work".to_string()));
    }

    #[test]
    fn unknown_struct_keeps_the_written_path() {
        let idx = index();
        let r = idx.resolve(
            0,
            ResourceKind::Lock,
            &kp(Root::Type("other".into()), &["a", "lock"]),
        );
        assert_eq!(r.map(|r| r.key), Some("other::a.lock"));
    }
}
