#!/usr/bin/env bash
# Benchmark on Debian's Linux 6.12 tree, all measured in one run so the
# ratios compare like with like on a noisy machine:
#   floor   - parse every file with tree-sitter-c, nothing else (--parse-only)
#   cold    - full analysis, empty facts cache
#   warm    - again, same cache, unchanged tree
#   touched - again after one driver file changed (in a hard-linked copy of
#             the tree, so the extracted tree is never modified)
#   dir     - one driver directory (with --tree cross-reference), warm cache
# Prints wall seconds, ratio to the floor and peak RSS (GNU time).
# With WAITCHECK_BENCH_KEEP=DIR, each run's stdout and stderr are copied
# there (to compare reports across builds).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command -v /usr/bin/time >/dev/null || { apt-get install -y time >/dev/null; }
cargo build --release --locked
bin="$root/target/release/waitcheck"
tree=$(ci/kernel-source.sh 6.12)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache="$work/cache"
dir=drivers/net/ethernet/atheros/alx
touched=drivers/net/ethernet/atheros/alx/main.c

measure() { # NAME DIR ARGS...: one timed run
    local name=$1 at=$2
    shift 2
    (cd "$at" && /usr/bin/time -f "%e %M" -o "$work/$name.time" "$bin" "$@" >"$work/$name.out" 2>"$work/$name.err") || true
    # GNU time puts "Command exited with non-zero status 1" first when
    # waitcheck reports findings: the figures are on the last line.
    read -r secs kb < <(tail -n 1 "$work/$name.time")
    echo "$name $secs $kb" >>"$work/results"
}

measure floor "$tree" check --parse-only --no-cache .
measure cold "$tree" check --format json --stats --cache "$cache" .
measure warm "$tree" check --format json --cache "$cache" .
cp -al "$tree" "$work/tree"
rm "$work/tree/$touched"
{ cat "$tree/$touched"; echo "/* touched by ci/bench.sh */"; } >"$work/tree/$touched"
measure touched "$work/tree" check --format json --stats --cache "$cache" .
measure dir "$tree" check --format json --cache "$cache" "$dir"

if [ -n "${WAITCHECK_BENCH_KEEP:-}" ]; then
    mkdir -p "$WAITCHECK_BENCH_KEEP"
    cp "$work"/*.out "$work"/*.err "$WAITCHECK_BENCH_KEEP"/
fi
floor=$(awk '$1 == "floor" { print $2 }' "$work/results")
printf '%-8s %9s %9s %10s\n' run wall_s vs_floor peak_MB
awk -v f="$floor" '{ printf "%-8s %9.1f %9.2f %10.0f\n", $1, $2, $2 / f, $3 / 1024 }' "$work/results"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); tree: $tree"
for r in cold warm touched; do
    tail -c 300 "$work/$r.out" | tr -d '\n' | grep -o '"findings": *[0-9]*' | sed "s/^/$r: /" || true
done
