#!/usr/bin/env bash
# Builds the statically linked agents that ship in the .vsix, so a target of these architectures
# needs no compiler, make or -dev packages to run the agent (deployAgent.ts uploads the one that
# matches `uname -m`, and builds from out/agent-src on any other architecture).
#   remote-agent/agent/build/static/<arch>/ebpf-agent   (with debug info, for crash analysis)
#   out/agent-bin/<arch>/ebpf-agent                     (stripped: what ships)
# The build machine's own architecture must build. A foreign one is skipped with a warning when its
# cross compiler or static libraries are missing (scripts/bootstrap.sh installs them on Debian),
# unless --require-all is given, as `npm run package` does through `build.mjs --production`.
# Usage: scripts/build-agent-binaries.sh [--require-all]
set -euo pipefail
cd "$(dirname "$0")/.."

require_all=false
case "${1:-}" in
  --require-all) require_all=true ;;
  '') ;;
  *) echo "usage: $0 [--require-all]" >&2; exit 2 ;;
esac

host_arch=$(uname -m)
out=out/agent-bin

for arch in x86_64 aarch64; do
  cross=''
  [ "$arch" = "$host_arch" ] || cross="$arch-linux-gnu-"
  missing=()
  if command -v "${cross}gcc" >/dev/null; then
    for lib in libbpf.a libelf.a libz.a libjson-c.a libc.a; do
      # -print-file-name echoes the bare name back when the library is not on the search path.
      [ "$("${cross}gcc" -print-file-name="$lib")" != "$lib" ] || missing+=("$lib")
    done
  else
    missing+=("${cross}gcc")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    what="cannot build the static $arch agent: missing ${missing[*]} (Debian: run scripts/bootstrap.sh)"
    if [ "$arch" = "$host_arch" ] || $require_all; then
      echo "build-agent-binaries: error: $what" >&2
      exit 1
    fi
    echo "build-agent-binaries: warning: $what; targets of that architecture will build the agent from source" >&2
    rm -rf "${out:?}/$arch"
    continue
  fi
  started=$(date +%s%N)
  make -s -C remote-agent/agent static ARCH="$arch" CROSS_COMPILE="$cross" -j"$(nproc)"
  mkdir -p "$out/$arch"
  # Replaced by a rename, so a session reading the old binary meanwhile never sees half a file.
  "${cross}strip" -o "$out/$arch/ebpf-agent.tmp" "remote-agent/agent/build/static/$arch/ebpf-agent"
  chmod 0755 "$out/$arch/ebpf-agent.tmp"
  mv -f "$out/$arch/ebpf-agent.tmp" "$out/$arch/ebpf-agent"
  echo "build-agent-binaries: $arch agent: $(stat -c %s "$out/$arch/ebpf-agent") bytes, built in $(( ($(date +%s%N) - started) / 1000000 )) ms"
done
