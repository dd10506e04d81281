#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (as root) for building, running and testing eBPF Studio:
# Debian packages, the bpffs/tracefs mounts, npm packages, and code-server (the real VS Code the
# editor tests and `npm start` use when no desktop `code` is on PATH). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs Debian packages and mounts bpffs); e.g. sudo $0"
command -v node >/dev/null || die "Node.js 20+ is required (apt-get install nodejs npm, or nodesource)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "Node.js 20+ is required, found $(node --version)"

# Compilers and libbpf for the agent and for BPF programs; sshd for the SSH tests; chromium drives
# code-server in the editor tests; clangd sits beside our server; libkrb5-dev builds code-server's kerberos module.
packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev libjson-c-dev pkg-config make gcc bpftool
          openssh-server openssh-client sudo iputils-ping chromium ripgrep clangd libkrb5-dev iproute2 git ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libbpf attaches through these; containers and minimal VMs often lack the mounts.
mountpoint -q /sys/fs/bpf || { say "mounting bpffs on /sys/fs/bpf"; mount -t bpf bpf /sys/fs/bpf; }
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  say "mounting tracefs on /sys/kernel/tracing"; mount -t tracefs tracefs /sys/kernel/tracing
fi
[ -r /sys/kernel/btf/vmlinux ] || say "warning: this kernel has no BTF (/sys/kernel/btf/vmlinux): programs that include vmlinux.h cannot be compiled here"

say "installing npm packages"
npm ci --no-audit --no-fund --loglevel=error

scripts/install-code-server.sh
say "ready"
