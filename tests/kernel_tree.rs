//! End-to-end tests over Debian's real Linux trees.
//!
//! `ci/test.sh` installs `linux-source-6.12` (and 6.1), extracts them and
//! points `WAITCHECK_LINUX_6_12` / `WAITCHECK_LINUX_6_1` at them. Without the
//! variables these tests print why they did nothing; under `CI=true` a
//! missing tree is a failure, so CI can never pass them vacuously.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tree(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if Path::new(&p).join("drivers").is_dir() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} must point at an extracted kernel tree under CI (run ci/test.sh)")
        }
        _ => {
            eprintln!("note: {var} not set; run ci/test.sh for the kernel-tree tests");
            None
        }
    }
}

fn waitcheck(args: &[&str], dir: &Path) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_waitcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs waitcheck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().expect("findings array")
}

/// `path:line` of every chain step, and the chain's functions.
fn chain(f: &Value) -> (Vec<String>, Vec<String>) {
    let steps = f["chain"].as_array().expect("chain");
    let at = steps
        .iter()
        .map(|s| format!("{}:{}", s["path"].as_str().unwrap_or(""), s["line"]))
        .collect();
    let fns = steps
        .iter()
        .map(|s| s["function"].as_str().unwrap_or("").to_string())
        .collect();
    (at, fns)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readdir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// A scratch copy of `drivers/dax` of the tree with the given seed patches applied.
fn patched_dax(tree: &Path, patches: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&tree.join("drivers/dax"), &dir.path().join("drivers/dax"));
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/patches");
    for p in patches {
        let patch = std::fs::read_dir(&shared)
            .expect("../shared/seed/patches")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(p))
            })
            .unwrap_or_else(|| panic!("no seed patch {p}"));
        let st = Command::new("git")
            .arg("apply")
            .arg(&patch)
            .current_dir(dir.path())
            .status()
            .expect("git apply");
        assert!(st.success(), "git apply {}", patch.display());
    }
    dir
}

#[test]
fn seed_patches_report_the_reviewed_cycle() {
    let Some(t) = tree("WAITCHECK_LINUX_6_12") else {
        return;
    };
    let dir = patched_dax(&t, &["0001", "0002"]);
    let (code, v) = waitcheck(&["check", "--format", "json", "."], dir.path());
    assert_eq!(code, 1, "{v:#}");
    let fs = findings(&v);
    assert_eq!(fs.len(), 1, "{v:#}");
    let f = &fs[0];
    assert_eq!(f["type"], "PROBE_FLUSH_WAITS_FOR_PROBE");
    assert_eq!(f["location"]["path"], "drivers/dax/bus.c");
    assert_eq!(f["location"]["line"], 84);
    assert_eq!(
        f["cycle"],
        serde_json::json!(["probe", "work:dax_hmem_work", "probe"])
    );
    let (at, _) = chain(f);
    // The lines the seed's README lists for the patched tree, in chain order.
    let want = [
        "drivers/dax/hmem/hmem.c:189", // probe
        "drivers/dax/hmem/hmem.c:197", // devm_add_action_or_reset
        "drivers/dax/hmem/hmem.c:201", // walk_hmem_resources
        "drivers/dax/hmem/hmem.c:77",  // dax_hmem_queue_work()
        "drivers/dax/bus.c:78",        // queue_work
        "drivers/dax/hmem/hmem.c:181", // kill_defer_work
        "drivers/dax/bus.c:84",        // flush_work
        "drivers/dax/bus.c:48",        // DECLARE_WORK
        "drivers/dax/bus.c:34",        // handler
        "drivers/dax/bus.c:45",        // fn(data)
        "drivers/dax/hmem/hmem.c:193", // where fn was registered
        "drivers/dax/hmem/hmem.c:159", // process_defer_work
        "drivers/dax/hmem/hmem.c:165", // wait_for_device_probe
    ];
    let mut pos = 0;
    for w in want {
        match at[pos..].iter().position(|a| a == w) {
            Some(i) => pos += i + 1,
            None => panic!("{w} missing or out of order in {at:#?}"),
        }
    }
    assert!(f["condition"]
        .as_str()
        .unwrap_or("")
        .contains("fails after dax_hmem_work was queued"));
}

#[test]
fn merged_fix_v8_has_no_finding() {
    let Some(t) = tree("WAITCHECK_LINUX_6_12") else {
        return;
    };
    let dir = patched_dax(&t, &["fixed-v8"]);
    let (code, v) = waitcheck(&["check", "--format", "json", "."], dir.path());
    assert_eq!(findings(&v).len(), 0, "{v:#}");
    assert_eq!(code, 0);
}

#[test]
fn unpatched_dax_is_clean() {
    let Some(t) = tree("WAITCHECK_LINUX_6_12") else {
        return;
    };
    let (code, v) = waitcheck(&["check", "--format", "json", "drivers/dax"], &t);
    assert_eq!((code, findings(&v).len()), (0, 0), "{v:#}");
}

#[test]
fn alx_stop_cancels_works_under_the_mutex_their_handlers_take() {
    for var in ["WAITCHECK_LINUX_6_12", "WAITCHECK_LINUX_6_1"] {
        let Some(t) = tree(var) else { continue };
        let (code, v) = waitcheck(
            &[
                "check",
                "--format",
                "json",
                "drivers/net/ethernet/atheros/alx",
            ],
            &t,
        );
        assert_eq!(code, 1, "{v:#}");
        let fs = findings(&v);
        let works: Vec<&str> = fs
            .iter()
            .filter(|f| f["type"] == "WORK_WAIT_UNDER_LOCK")
            .filter(|f| f["location"]["function"] == "__alx_stop")
            .filter_map(|f| f["cycle"][1].as_str())
            .collect();
        assert_eq!(
            works,
            ["work:alx_priv::link_check_wk", "work:alx_priv::reset_wk"],
            "{var}: {v:#}"
        );
        for f in fs {
            let (_, fns) = chain(f);
            assert!(fns.contains(&"alx_stop".to_string()), "{fns:?}");
        }
    }
}

#[test]
fn mlx5_cache_cleanup_is_reported_in_6_1_only() {
    let expect = [("WAITCHECK_LINUX_6_1", 1usize), ("WAITCHECK_LINUX_6_12", 0)];
    for (var, n) in expect {
        let Some(t) = tree(var) else { continue };
        let (_, v) = waitcheck(
            &["check", "--format", "json", "drivers/infiniband/hw/mlx5"],
            &t,
        );
        let hits = findings(&v)
            .iter()
            .filter(|f| f["location"]["function"] == "mlx5_mkey_cache_cleanup")
            .count();
        assert_eq!(hits, n, "{var}: {v:#}");
    }
}

/// cases.md 4 and 5: a guarded self-cancel (gfs2 delete work) and a
/// `current_work()` guard (avs d0ix work) are not reported as self-waits.
#[test]
fn guarded_self_cancels_are_not_reported() {
    for var in ["WAITCHECK_LINUX_6_12", "WAITCHECK_LINUX_6_1"] {
        let Some(t) = tree(var) else { continue };
        for dir in ["fs/gfs2", "sound/soc/intel/avs"] {
            let (code, v) = waitcheck(&["check", "--format", "json", dir], &t);
            assert!(code == 0 || code == 1, "{var} {dir}: exit {code}");
            let selfwaits: Vec<&Value> = findings(&v)
                .iter()
                .filter(|f| f["type"] == "WORK_WAITS_FOR_ITSELF")
                .collect();
            assert!(selfwaits.is_empty(), "{var} {dir}: {selfwaits:#?}");
            let d0ix: Vec<&Value> = findings(&v)
                .iter()
                .filter(|f| f["cycle"].to_string().contains("d0ix_work"))
                .collect();
            assert!(d0ix.is_empty(), "{var} {dir}: {d0ix:#?}");
        }
    }
}

/// cases.md 6: NFIT teardown releases `init_mutex` before cancelling the
/// scrub work (no finding); moving the cancel back under the mutex, the
/// historical bug, is reported.
#[test]
fn nfit_shutdown_is_reported_only_with_the_cancel_under_the_mutex() {
    const FIXED: &str =
        "\tmutex_unlock(&acpi_desc->init_mutex);\n\tcancel_delayed_work_sync(&acpi_desc->dwork);\n";
    const BUGGY: &str =
        "\tcancel_delayed_work_sync(&acpi_desc->dwork);\n\tmutex_unlock(&acpi_desc->init_mutex);\n";
    for var in ["WAITCHECK_LINUX_6_12", "WAITCHECK_LINUX_6_1"] {
        let Some(t) = tree(var) else { continue };
        let in_shutdown = |v: &Value| -> usize {
            findings(v)
                .iter()
                .filter(|f| f["location"]["function"] == "acpi_nfit_shutdown")
                .count()
        };
        let (_, v) = waitcheck(&["check", "--format", "json", "drivers/acpi/nfit"], &t);
        assert_eq!(in_shutdown(&v), 0, "{var}: {v:#}");

        let dir = tempfile::tempdir().expect("tempdir");
        let nfit = dir.path().join("drivers/acpi/nfit");
        copy_dir(&t.join("drivers/acpi/nfit"), &nfit);
        let core = nfit.join("core.c");
        let text = std::fs::read_to_string(&core).expect("core.c");
        assert_eq!(
            text.matches(FIXED).count(),
            1,
            "{var}: the fixed order moved"
        );
        std::fs::write(&core, text.replace(FIXED, BUGGY)).expect("write");
        let (code, v) = waitcheck(
            &["check", "--format", "json", "drivers/acpi/nfit"],
            dir.path(),
        );
        assert_eq!(code, 1, "{var}: {v:#}");
        let hit = findings(&v)
            .iter()
            .find(|f| f["location"]["function"] == "acpi_nfit_shutdown")
            .unwrap_or_else(|| panic!("{var}: not reported: {v:#}"));
        assert_eq!(hit["type"], "WORK_WAIT_UNDER_LOCK");
        assert_eq!(
            hit["cycle"],
            serde_json::json!([
                "lock:acpi_nfit_desc::init_mutex",
                "work:acpi_nfit_desc::dwork",
                "lock:acpi_nfit_desc::init_mutex"
            ])
        );
    }
}

/// `--tree` cross-reference (the default inside a kernel tree): a driver
/// directory is read with the headers it includes, and findings are
/// reported only for the directory.
#[test]
fn directory_runs_read_included_headers_and_report_only_the_directory() {
    let Some(t) = tree("WAITCHECK_LINUX_6_12") else {
        return;
    };
    let dir = "drivers/infiniband/hw/mlx5";
    let (_, with) = waitcheck(&["check", "--format", "json", dir], &t);
    let (_, without) = waitcheck(&["check", "--format", "json", "--no-tree", dir], &t);
    let files = |v: &Value| v["stats"]["files"].as_u64().unwrap_or(0);
    assert!(
        files(&with) > files(&without) + 100,
        "headers were not read: {} vs {} files",
        files(&with),
        files(&without)
    );
    for f in findings(&with) {
        let path = f["location"]["path"].as_str().unwrap_or("");
        assert!(path.starts_with(dir), "reported outside {dir}: {f:#}");
    }
    let explicit = t.to_string_lossy().into_owned();
    let (_, same) = waitcheck(&["check", "--format", "json", "--tree", &explicit, dir], &t);
    assert_eq!(findings(&same), findings(&with));
}
