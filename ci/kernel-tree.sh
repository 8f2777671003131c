#!/usr/bin/env bash
# End-to-end run over Debian's real kernel trees, as CI runs it after the
# test suite (.ci/run). Whole Linux 6.12 tree: must finish (exit 0 or 1,
# never 2, no panic) and report exactly the findings in
# ci/baselines/linux-6.12.json (the triaged set, docs/triage-linux-6.12.md);
# any difference is printed as a diff of the two baselines. Whole Linux 6.1
# tree: must finish without a panic. Each tree runs cold (a fresh facts
# cache) with --stats, whose block must be there, then warm (same cache):
# the warm report must equal the cold one. Trees are installed and extracted by
# ci/kernel-source.sh (reused when present).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cargo build --release --locked
bin="$root/target/release/waitcheck"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_tree() { # VERSION: whole-tree run, JSON to $tmp/VERSION.json
    local ver=$1 tree status=0
    tree=$(ci/kernel-source.sh "$ver")
    echo "kernel-tree: linux-$ver at $tree"
    (cd "$tree" && "$bin" check --format json --cache "$tmp/cache" --stats \
        --write-baseline "$tmp/$ver.baseline.json" . \
        >"$tmp/$ver.json" 2>"$tmp/$ver.err") || status=$?
    if [ "$status" -gt 1 ] || grep -q "panicked" "$tmp/$ver.err"; then
        echo "kernel-tree: linux-$ver: exit $status" >&2
        cat "$tmp/$ver.err" >&2
        exit 1
    fi
    if ! grep -qx "waitcheck: stats" "$tmp/$ver.err"; then
        echo "kernel-tree: linux-$ver: no --stats block on stderr" >&2
        cat "$tmp/$ver.err" >&2
        exit 1
    fi
    grep -E "^(time  (files|graph|total)|count (files|parsed|no-definitions)) " "$tmp/$ver.err" || true
    # Warm: the same report from the cache.
    local warm=0
    (cd "$tree" && "$bin" check --format json --cache "$tmp/cache" --stats . \
        >"$tmp/$ver.warm.json" 2>"$tmp/$ver.warm.err") || warm=$?
    if [ "$warm" != "$status" ] ||
        ! diff <(grep -v '"elapsed_ms"' "$tmp/$ver.json") <(grep -v '"elapsed_ms"' "$tmp/$ver.warm.json") >/dev/null; then
        echo "kernel-tree: linux-$ver: the warm run (exit $warm) differs from the cold one (exit $status)" >&2
        diff <(grep -v '"elapsed_ms"' "$tmp/$ver.json") <(grep -v '"elapsed_ms"' "$tmp/$ver.warm.json") | head -50 >&2 || true
        cat "$tmp/$ver.warm.err" >&2
        exit 1
    fi
    grep -E "^(time  total|count result-hit) " "$tmp/$ver.warm.err" | sed 's/^/warm: /' || true
    # The stats line: files, functions, parse coverage.
    grep -o '"files": *[0-9]*\|"functions": *[0-9]*\|"parse_coverage": *[0-9.]*\|"findings": *[0-9]*' \
        "$tmp/$ver.json" | tr '\n' ' '
    echo
}

run_tree 6.12
if ! diff -u ci/baselines/linux-6.12.json "$tmp/6.12.baseline.json"; then
    echo "kernel-tree: findings on linux-6.12 differ from ci/baselines/linux-6.12.json" >&2
    echo "(triage the new ones in docs/triage-linux-6.12.md, then copy the new baseline)" >&2
    exit 1
fi
echo "kernel-tree: linux-6.12 findings match the baseline"

run_tree 6.1
echo "kernel-tree: linux-6.1 finished without a panic"
