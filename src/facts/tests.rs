//! Unit tests of fact extraction on small, freshly written kernel-style C.

use super::model::{FileFacts, FnValue, Function, KeyPath, Root, Site, SiteKind, Target};
use crate::rules::Rules;

fn facts(src: &str) -> FileFacts {
    let rules = Rules::embedded();
    crate::parse::parse_file("t.c", src.as_bytes(), &rules).expect("parses")
}

fn func<'a>(f: &'a FileFacts, name: &str) -> &'a Function {
    f.functions
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// The site whose text starts with `prefix` (a direct call, which keeps
/// no text, by `callee(`).
fn site<'a>(f: &'a Function, prefix: &str) -> &'a Site {
    f.sites
        .iter()
        .find(|s| match &s.kind {
            SiteKind::Call { callee, .. } if s.text.is_empty() => {
                format!("{callee}(").starts_with(prefix)
            }
            _ => s.text.starts_with(prefix),
        })
        .unwrap_or_else(|| panic!("no site {prefix} in {:#?}", f.sites))
}

fn held_texts(f: &Function, s: &Site) -> Vec<String> {
    s.held
        .iter()
        .map(|h| f.sites[*h as usize].text.clone())
        .collect()
}

#[test]
fn lock_released_on_early_return_is_not_held_after() {
    let f = facts(
        "static void stop(struct foo *p, int err)\n{\n\tmutex_lock(&p->lock);\n\tif (err) {\n\t\tmutex_unlock(&p->lock);\n\t\treturn;\n\t}\n\tflush_work(&p->w);\n\tmutex_unlock(&p->lock);\n\tcancel_work_sync(&p->w);\n}\n",
    );
    let stop = func(&f, "stop");
    assert_eq!(
        held_texts(stop, site(stop, "flush_work")),
        ["mutex_lock(&p->lock)"]
    );
    assert!(site(stop, "cancel_work_sync").held.is_empty());
}

#[test]
fn goto_to_unlock_label_keeps_lock_until_the_label() {
    let f = facts(
        "int f(struct foo *p)\n{\n\tint ret;\n\tmutex_lock(&p->lock);\n\tret = prep(p);\n\tif (ret)\n\t\tgoto out;\n\tcancel_work_sync(&p->w);\nout:\n\tmutex_unlock(&p->lock);\n\tflush_work(&p->w);\n\treturn ret;\n}\n",
    );
    let fun = func(&f, "f");
    assert_eq!(site(fun, "cancel_work_sync").held.len(), 1);
    assert!(site(fun, "flush_work").held.is_empty());
}

#[test]
fn trylock_holds_only_where_it_succeeded() {
    let f = facts(
        "void h(struct foo *p)\n{\n\tif (!mutex_trylock(&p->lock))\n\t\treturn;\n\tflush_work(&p->w);\n\tmutex_unlock(&p->lock);\n}\nvoid g(struct foo *p)\n{\n\tif (mutex_trylock(&p->lock)) {\n\t\tflush_work(&p->a);\n\t\tmutex_unlock(&p->lock);\n\t}\n\tflush_work(&p->b);\n}\n",
    );
    let h = func(&f, "h");
    assert_eq!(site(h, "flush_work").held.len(), 1);
    let g = func(&f, "g");
    assert_eq!(site(g, "flush_work(&p->a)").held.len(), 1);
    assert!(site(g, "flush_work(&p->b)").held.is_empty());
    // The trylock itself is recorded as a non-blocking acquisition.
    assert!(matches!(
        site(g, "mutex_trylock").kind,
        SiteKind::Acquire { is_try: true, .. }
    ));
}

#[test]
fn current_work_guard_is_recorded() {
    let f = facts(
        "void t(struct foo *p)\n{\n\tif (current_work() != &p->w)\n\t\tcancel_work_sync(&p->w);\n\tflush_work(&p->x);\n}\n",
    );
    let t = func(&f, "t");
    assert_eq!(site(t, "cancel_work_sync").not_in_work.len(), 1);
    assert!(site(t, "flush_work").not_in_work.is_empty());
}

#[test]
fn guard_is_held_to_the_end_of_its_block() {
    let f = facts(
        "void g(struct foo *p)\n{\n\t{\n\t\tguard(mutex)(&p->lock);\n\t\tflush_work(&p->w);\n\t}\n\tcancel_work_sync(&p->w);\n}\n",
    );
    let g = func(&f, "g");
    assert_eq!(
        held_texts(g, site(g, "flush_work")),
        ["guard(mutex)(&p->lock)"]
    );
    assert!(site(g, "cancel_work_sync").held.is_empty());
}

#[test]
fn scoped_guard_holds_inside_its_body_only() {
    let f = facts(
        "static DEFINE_MUTEX(big_lock);\nvoid g(void)\n{\n\tscoped_guard(mutex, &big_lock) {\n\t\tflush_work(&a_work);\n\t}\n\tflush_work(&b_work);\n}\n",
    );
    let g = func(&f, "g");
    assert_eq!(site(g, "flush_work(&a_work)").held.len(), 1);
    assert!(site(g, "flush_work(&b_work)").held.is_empty());
    let acq = &g.sites[site(g, "flush_work(&a_work)").held[0] as usize];
    assert_eq!(acq.text, "scoped_guard(mutex, &big_lock)");
}

#[test]
fn declare_work_is_recovered_at_file_scope() {
    let f = facts(
        "static void handler(struct work_struct *w)\n{\n}\nstatic DECLARE_WORK(my_work, handler);\n/* DECLARE_WORK(not_this, handler); */\n",
    );
    assert_eq!(f.binds.len(), 1);
    let b = &f.binds[0];
    assert_eq!(b.handler, "handler");
    assert_eq!(b.key.root, Root::Global("my_work".into()));
    assert_eq!(b.pos.line, 4);
    assert!(f.globals.iter().any(|g| g.name == "my_work" && g.is_static));
}

#[test]
fn work_initializer_in_a_struct_initializer_binds_the_field() {
    let f = facts(
        "static void run(struct work_struct *w);\nstatic struct holder h = {\n\t.work = __WORK_INITIALIZER(h.work, run),\n};\n",
    );
    assert_eq!(f.binds.len(), 1);
    assert_eq!(f.binds[0].key.fields, ["work"]);
}

#[test]
fn driver_initializer_fields_are_stores() {
    let f = facts(
        "static int foo_probe(struct platform_device *pdev) { return 0; }\nstatic struct platform_driver foo_driver = {\n\t.probe = foo_probe,\n\t.driver = {\n\t\t.name = \"foo\",\n\t},\n};\n",
    );
    assert_eq!(f.stores.len(), 1);
    let s = &f.stores[0];
    assert_eq!(
        (s.ty.as_str(), s.fields.as_slice(), s.func.as_str()),
        ("platform_driver", &["probe".to_string()][..], "foo_probe")
    );
    assert_eq!(s.var, "foo_driver");
}

#[test]
fn calls_through_params_and_copied_globals_are_indirect() {
    let f = facts(
        "typedef void (*cb_t)(void *);\nstatic cb_t saved;\nvoid reg(cb_t fn) { saved = fn; }\nvoid walk(struct device *d, int (*fn)(struct device *)) { fn(d); }\nvoid run(void *data)\n{\n\tcb_t fn;\n\tfn = saved;\n\tif (fn)\n\t\tfn(data);\n}\n",
    );
    let reg = func(&f, "reg");
    assert!(matches!(
        &reg.sites[0].kind,
        SiteKind::Store {
            value: FnValue::Param(0),
            ..
        }
    ));
    let walk = func(&f, "walk");
    assert!(matches!(
        &walk.sites[0].kind,
        SiteKind::Indirect {
            target: Target::Param(1),
            ..
        }
    ));
    let run = func(&f, "run");
    let SiteKind::Indirect {
        target: Target::Path(p),
        ..
    } = &site(run, "fn(data)").kind
    else {
        panic!("not indirect: {:?}", run.sites);
    };
    assert_eq!(p.root, Root::Global("saved".into()));
}

#[test]
fn container_of_names_the_container_type() {
    let f = facts(
        "static void h(struct work_struct *work)\n{\n\tstruct foo_priv *priv = container_of(work, struct foo_priv, reset_wk);\n\tmutex_lock(&priv->mtx);\n\tmutex_unlock(&container_of(work, struct foo_priv, reset_wk)->mtx);\n}\n",
    );
    let h = func(&f, "h");
    for s in &h.sites {
        match &s.kind {
            SiteKind::Acquire { key, .. } | SiteKind::Release { key, .. } => {
                assert_eq!(key.root, Root::Type("foo_priv".into()));
                assert_eq!(key.fields, ["mtx"]);
            }
            _ => {}
        }
    }
}

#[test]
fn struct_fields_and_typedefs_are_recorded() {
    let f = facts(
        "struct cache { struct mutex rb_lock; };\nstruct dev { int id; struct cache cache; union { int a; struct mutex other; }; struct { int x; } anon; };\ntypedef struct dev dev_t2;\n",
    );
    let dev = f.structs.iter().find(|s| s.name == "dev").expect("dev");
    let names: Vec<&str> = dev.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["id", "cache", "a", "other", "anon"]);
    assert!(dev.fields.contains(&("cache".into(), "cache".into())));
    assert!(f.typedefs.contains(&("dev_t2".into(), "dev".into())));
}

#[test]
fn garbage_does_not_panic() {
    for src in [
        "",
        "}}}{{{",
        "int f( {",
        "#if\n#else\n",
        "static DECLARE_WORK(",
        "void f(void) { guard(mutex)(; }",
    ] {
        let _ = facts(src);
    }
    let deep = format!(
        "int f(void) {{ return {}1{}; }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let _ = facts(&deep);
}

#[test]
fn argument_less_global_locks_pair_by_rule_key() {
    let f = facts(
        "void g(void)\n{\n\trtnl_lock();\n\tflush_work(&a_work);\n\trtnl_unlock();\n\tcancel_work_sync(&a_work);\n\tguard(rtnl)();\n\tflush_work(&b_work);\n}\n",
    );
    let g = func(&f, "g");
    assert_eq!(site(g, "flush_work(&a_work)").held.len(), 1);
    assert!(site(g, "cancel_work_sync").held.is_empty());
    assert_eq!(
        held_texts(g, site(g, "flush_work(&b_work)")),
        ["guard(rtnl)()"]
    );
}

#[test]
fn parameter_constants_are_normalised() {
    use crate::facts::model::ParamTest;
    assert_eq!(ParamTest::constant("true").as_deref(), Some("1"));
    assert_eq!(ParamTest::constant("NULL").as_deref(), Some("0"));
    assert_eq!(ParamTest::constant("0x10UL").as_deref(), Some("16"));
    assert_eq!(
        ParamTest::constant("EV_KICKOFF").as_deref(),
        Some("EV_KICKOFF")
    );
    assert_eq!(ParamTest::constant("dev"), None);
    assert_eq!(ParamTest::constant("a + 1"), None);
}

#[test]
fn parameter_tests_decide_only_what_they_can() {
    use crate::facts::model::ParamTest;
    let truthy = ParamTest {
        param: 1,
        value: None,
        equal: true,
    };
    assert_eq!(truthy.holds_for("1"), Some(true));
    assert_eq!(truthy.holds_for("0"), Some(false));
    assert_eq!(truthy.holds_for("EV_IDLE"), None);
    let kick = ParamTest {
        param: 1,
        value: Some("EV_KICKOFF".into()),
        equal: true,
    };
    assert_eq!(kick.holds_for("EV_KICKOFF"), Some(true));
    assert_eq!(kick.holds_for("EV_IDLE"), Some(false));
    assert_eq!(kick.holds_for("3"), None);
    let not_three = ParamTest {
        param: 0,
        value: Some("3".into()),
        equal: false,
    };
    assert_eq!(not_three.holds_for("3"), Some(false));
    assert_eq!(not_three.holds_for("4"), Some(true));
}

#[test]
fn sites_carry_the_parameter_tests_of_their_branch() {
    let src = "void f(struct c *c, bool sync, int ev)\n{\n\tif (!sync)\n\t\treturn;\n\tswitch (ev) {\n\tcase EV_A:\n\t\tcancel_work_sync(&c->w);\n\t\tbreak;\n\tdefault:\n\t\tflush_work(&c->w);\n\t}\n\tg(c, true, EV_B);\n}\n";
    let ff = facts(src);
    let f = &ff.functions[0];
    let cancel = site(f, "cancel_work_sync");
    assert!(cancel
        .guards
        .iter()
        .any(|t| t.param == 1 && t.value.is_none() && t.equal));
    assert!(cancel
        .guards
        .iter()
        .any(|t| t.param == 2 && t.value.as_deref() == Some("EV_A")));
    let flush = site(f, "flush_work");
    assert!(
        !flush.guards.iter().any(|t| t.param == 2),
        "{:?}",
        flush.guards
    );
    let call = site(f, "g(");
    assert_eq!(
        call.consts,
        vec![(1, "1".to_string()), (2, "EV_B".to_string())]
    );
}

#[test]
fn function_scope_static_locks_are_named_after_their_function() {
    let src =
        "int f(void)\n{\n\tstatic DEFINE_MUTEX(lock);\n\tmutex_lock(&lock);\n\treturn 0;\n}\n";
    let ff = facts(src);
    let SiteKind::Acquire { key, .. } = &site(func(&ff, "f"), "mutex_lock").kind else {
        panic!("not an acquire");
    };
    assert_eq!(key, &KeyPath::global("f::lock"));
}

#[test]
fn struct_locals_take_their_declared_type_over_an_untyped_source() {
    let src = "void shut(void *data)\n{\n\tstruct foo *f = data;\n\tmutex_lock(&f->lock);\n}\n";
    let ff = facts(src);
    let SiteKind::Acquire { key, .. } = &site(func(&ff, "shut"), "mutex_lock").kind else {
        panic!("not an acquire");
    };
    assert_eq!(
        key.root,
        Root::Param {
            index: 0,
            ty: "foo".into()
        }
    );
    assert_eq!(key.fields, vec!["lock".to_string()]);
}

#[test]
fn one_unlock_releases_a_lock_taken_on_two_joined_paths() {
    let src = "void w(struct io *io, int n)\n{\n\tspin_lock_irq(&io->lock);\n\twhile (n--) {\n\t\tspin_unlock_irq(&io->lock);\n\t\tsubmit(io);\n\t\tspin_lock_irq(&io->lock);\n\t}\n\tspin_unlock_irq(&io->lock);\n\twait_for_completion(&io->done);\n}\n";
    let ff = facts(src);
    let f = func(&ff, "w");
    assert!(held_texts(f, site(f, "wait_for_completion")).is_empty());
}

#[test]
fn conditional_expressions_guard_their_arms() {
    let src = "void put(struct f *f, bool wait)\n{\n\tbool c = wait ? cancel_work_sync(&f->w) : false;\n}\n";
    let ff = facts(src);
    let f = func(&ff, "put");
    let cancel = site(f, "cancel_work_sync");
    assert!(
        cancel.guards.iter().any(|t| t.param == 1 && t.equal),
        "{:?}",
        cancel.guards
    );
}

#[test]
fn lock_wrappers_return_holding_only_locks_they_never_release() {
    let src = "void foo_lock(struct foo *f)\n{\n\tmutex_lock(&f->lock);\n}\nint foo_wr(struct foo *f, int v)\n{\n\twrite_lock_irqsave(&f->hw_lock, fl);\n\tif (v)\n\t\twrite_unlock_irqrestore(&f->hw_lock, fl);\n\treturn v;\n}\nvoid foo_guarded(struct foo *f)\n{\n\tguard(mutex)(&f->lock);\n\tf->x = 1;\n}\n";
    let ff = facts(src);
    assert_eq!(func(&ff, "foo_lock").returns_holding.len(), 1);
    assert!(func(&ff, "foo_wr").returns_holding.is_empty());
    assert!(func(&ff, "foo_guarded").returns_holding.is_empty());
}

#[test]
fn macro_lock_rules_name_the_member_they_lock() {
    let src =
        "void r(struct hci_dev *hdev)\n{\n\thci_req_sync_lock(hdev);\n\thci_dev_lock(hdev);\n}\n";
    let ff = facts(src);
    let f = func(&ff, "r");
    let fields = |prefix: &str| match &site(f, prefix).kind {
        SiteKind::Acquire { key, .. } => key.fields.clone(),
        k => panic!("not an acquire: {k:?}"),
    };
    assert_eq!(fields("hci_req_sync_lock"), vec!["req_lock".to_string()]);
    assert_eq!(fields("hci_dev_lock"), vec!["lock".to_string()]);
}

#[test]
fn lock_taken_under_a_parameter_test_is_not_held_where_the_test_fails() {
    let src = "int send(struct fib *f, int wait)\n{\n\tif (wait)\n\t\tspin_lock_irqsave(&f->event_lock, fl);\n\tif (f->sync) {\n\t\tif (wait)\n\t\t\tspin_unlock_irqrestore(&f->event_lock, fl);\n\t\twait_for_completion(&f->done);\n\t}\n\treturn 0;\n}\n";
    let ff = facts(src);
    let f = func(&ff, "send");
    assert!(held_texts(f, site(f, "wait_for_completion")).is_empty());
}

#[test]
fn contradicting_parameter_tests() {
    use super::model::ParamTest;
    let t = |value: Option<&str>, equal| ParamTest {
        param: 0,
        value: value.map(str::to_string),
        equal,
    };
    assert!(t(None, true).contradicts(&t(None, false)));
    assert!(t(Some("EV_A"), true).contradicts(&t(Some("EV_B"), true)));
    assert!(t(Some("2"), true).contradicts(&t(None, false)));
    assert!(!t(Some("2"), false).contradicts(&t(None, false)));
    assert!(!t(None, true).contradicts(&t(Some("3"), true)));
}

#[test]
fn unlocking_an_asserted_lock_releases_the_callers_lock() {
    let src = "static void destroy_unlock(struct idp *p)\n{\n\tlockdep_assert_held(&p->handler_mutex);\n\tp->state = 0;\n\tmutex_unlock(&p->handler_mutex);\n\tdestroy_id(p);\n}\n";
    let ff = facts(src);
    let f = func(&ff, "destroy_unlock");
    let call = site(f, "destroy_id(");
    assert!(held_texts(f, call).is_empty());
    assert_eq!(call.released.len(), 1, "{:?}", call.released);
    assert_eq!(f.returns_released.len(), 1);
}

#[test]
fn state_tests_guard_sites_and_writes_are_known_at_calls() {
    let src = "void down(struct lif *lif)\n{\n\tif (test_and_set_bit(LIF_F_FW_RESET, lif->state))\n\t\treturn;\n\tlif->ops_done = true;\n\tlif->flags |= LIF_F_QUIET;\n\tdeinit(lif);\n}\nvoid deinit(struct lif *lif)\n{\n\tif (!test_bit(LIF_F_FW_RESET, lif->state) && !(lif->flags & LIF_F_QUIET))\n\t\tcancel_work_sync(&lif->w);\n}\n";
    let ff = facts(src);
    let down = func(&ff, "down");
    let known = &site(down, "deinit(").known;
    let has = |bit: Option<&str>, value: Option<&str>, equal: bool| {
        known
            .iter()
            .any(|k| k.bit.as_deref() == bit && k.value.as_deref() == value && k.equal == equal)
    };
    assert!(has(Some("LIF_F_FW_RESET"), None, true), "{known:?}");
    assert!(has(None, Some("1"), true), "{known:?}");
    assert!(has(Some("LIF_F_QUIET"), None, true), "{known:?}");
    let deinit = func(&ff, "deinit");
    let states = &site(deinit, "cancel_work_sync").states;
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.iter().all(|t| !t.equal && t.bit.is_some()));
}

#[test]
fn must_hold_annotation_is_a_hold_from_the_first_line() {
    let src = "static void stop_locked(struct cap *cap)\n\t__must_hold(&cap->lock)\n{\n\tcancel_work_sync(&cap->w);\n}\n";
    let ff = facts(src);
    let f = func(&ff, "stop_locked");
    assert_eq!(
        held_texts(f, site(f, "cancel_work_sync")),
        vec!["__must_hold(&cap->lock)".to_string()]
    );
}

#[test]
fn bh_lock_sock_is_the_spinlock_not_the_owner_lock() {
    let src = "void r(struct foo *f)\n{\n\tlock_sock(&f->sk);\n\trelease_sock(&f->sk);\n\tbh_lock_sock(&f->sk);\n\tbh_unlock_sock(&f->sk);\n}\n";
    let ff = facts(src);
    let f = func(&ff, "r");
    let fields = |prefix: &str| match &site(f, prefix).kind {
        SiteKind::Acquire { key, .. } | SiteKind::Release { key, .. } => key.fields.clone(),
        k => panic!("not a lock site: {k:?}"),
    };
    assert_eq!(fields("lock_sock"), vec!["sk".to_string()]);
    assert_eq!(fields("bh_lock_sock"), vec!["sk", "sk_lock", "slock"]);
    assert_eq!(fields("bh_unlock_sock"), fields("bh_lock_sock"));
}
