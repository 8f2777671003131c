#!/usr/bin/env bash
# Install Debian's linux-source-<ver> package (if missing) and extract it.
# Usage: ci/kernel-source.sh 6.12 [DEST]   -> prints the extracted tree's path.
# 6.12 comes from bookworm-backports on a bookworm machine; the source entry is
# added when apt cannot find the package.
set -euo pipefail
ver=${1:?usage: kernel-source.sh VERSION [DEST]}
dest=${2:-${WAITCHECK_KERNEL_CACHE:-$HOME/.cache/waitcheck/kernels}}
pkg=linux-source-$ver
sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo

if ! dpkg -s "$pkg" >/dev/null 2>&1; then
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    $sudo_ apt-get update -qq >&2 || true
  fi
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-bookworm}")
    echo "deb http://deb.debian.org/debian ${codename}-backports main" \
      | $sudo_ tee /etc/apt/sources.list.d/waitcheck-backports.list >/dev/null
    $sudo_ apt-get update -qq >&2
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "$pkg" >&2
fi
tarball=$(dpkg -L "$pkg" | grep -E '/linux-source-[0-9.]+\.tar\.(xz|bz2|gz)$' | head -n1)
[ -n "$tarball" ] || { echo "kernel-source.sh: no tarball in $pkg" >&2; exit 2; }
base=$(basename "$tarball"); base=${base%.tar.*}
mkdir -p "$dest"
if [ ! -f "$dest/$base/.waitcheck-extracted" ]; then
  rm -rf "$dest/$base.tmp"; mkdir -p "$dest/$base.tmp"
  tar -xf "$tarball" -C "$dest/$base.tmp" >&2
  rm -rf "$dest/$base"; mv "$dest/$base.tmp/$base" "$dest/$base"; rmdir "$dest/$base.tmp"
  touch "$dest/$base/.waitcheck-extracted"
fi
echo "$dest/$base"
