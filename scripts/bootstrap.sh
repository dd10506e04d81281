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

# Compilers and libbpf for the agent and for BPF programs (clang, bpftool, libbpf-dev, libelf-dev,
# zlib1g-dev and make also build the templates' standalone loaders in bpf-templates/*/Makefile); sshd for the SSH tests; chromium drives
# code-server in the editor tests; clangd sits beside our server; libkrb5-dev builds code-server's kerberos module;
# systemtap-sdt-dev's <sys/sdt.h> builds the USDT probe target of the agent's attach tests;
# libclang-rt-14-dev holds clang 14's libFuzzer runtime (the agent's fuzz target, `make fuzz`).
# g++ builds the templates tests' trigger, a C++ program whose exceptions fire libstdc++'s USDT probe.
# procps' sysctl turns IPv6 off on the test veths of test/integration/templatesNetworkAttach.test.ts.
# Kernel VMs (ebpf-studio vm): QEMU, a static busybox for the initramfs, kmod's depmod for the
# downloaded kernels' modules.dep, xz for their .ko.xz modules.
# fish: a login shell that is not POSIX, for test/integration/loginShells.test.ts.
packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev libjson-c-dev pkg-config make gcc g++ bpftool
          openssh-server openssh-client sudo iputils-ping chromium ripgrep clangd libkrb5-dev iproute2 git ca-certificates
          file binutils systemtap-sdt-dev procps python3 libclang-rt-14-dev qemu-system-x86 busybox-static kmod xz-utils fish)
# The static agents that ship in the .vsix (scripts/build-agent-binaries.sh) are built for amd64 and
# arm64: the other architecture's cross gcc and static libraries come from Debian's multiarch
# packages (the -dev packages of both architectures install side by side); qemu-user runs the
# foreign binary in test/integration/agentBinaries.test.ts. Ubuntu serves foreign architectures
# from another mirror, so there the foreign agent is skipped (npm run build warns; npm run package needs it).
update_needed=false
host_arch=$(dpkg --print-architecture)
case "$host_arch" in
  amd64) foreign_arch=arm64 cross_gcc=gcc-aarch64-linux-gnu ;;
  arm64) foreign_arch=amd64 cross_gcc=gcc-x86-64-linux-gnu ;;
  *) foreign_arch='' ;;
esac
if [ -n "$foreign_arch" ] && grep -qx 'ID=debian' /etc/os-release; then
  if ! dpkg --print-foreign-architectures | grep -qx "$foreign_arch"; then
    say "adding the $foreign_arch architecture to dpkg, for the cross-built static agent"
    dpkg --add-architecture "$foreign_arch"
    update_needed=true
  fi
  packages+=("$cross_gcc" "libc6-dev-$foreign_arch-cross" qemu-user-static
             "libbpf-dev:$foreign_arch" "libelf-dev:$foreign_arch" "zlib1g-dev:$foreign_arch" "libjson-c-dev:$foreign_arch")
else
  say "warning: not Debian on amd64/arm64: only this machine's architecture gets a static agent"
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || $update_needed; then
  say "installing Debian packages: ${missing[*]:-none}"
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
