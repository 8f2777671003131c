#!/usr/bin/env bash
# The test command: unit, fixture and snapshot tests, plus the end-to-end
# tests over Debian's real Linux 6.12 and 6.1 trees (installed with apt and
# extracted on first use, reused after).
set -euo pipefail
cd "$(dirname "$0")/.."
WAITCHECK_LINUX_6_12="$(ci/kernel-source.sh 6.12)"
WAITCHECK_LINUX_6_1="$(ci/kernel-source.sh 6.1)"
export WAITCHECK_LINUX_6_12 WAITCHECK_LINUX_6_1
cargo test --release --locked "$@"
