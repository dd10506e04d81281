#!/usr/bin/env bash
# The project's test command (`npm test`, also run by CI): build and package, type-check, then
# unit tests, a bounded fuzz run of the agent, integration (private sshd on 127.0.0.1, this real
# kernel, and Debian's 6.1 and 7.3 kernels in QEMU) and editor (real VS Code) tests; last, a check
# that no test secret reached any file the run produced.
set -euo pipefail
cd "$(dirname "$0")/.."
# The CLI's session process keeps agents warm on targets between runs; the suite's tests count what a
# run leaves on a target and how it connects, so they run the CLI without it. Its own test
# (test/integration/sessionProcess.test.ts) turns it back on.
export EBPF_STUDIO_SESSION=off
# The bundles and the .vsix the editor tests install, built once for all of them.
npm run --silent package

# Everything the tests write goes under directories this run owns, kept until its end so the last
# step can search them for the test secrets: temp files (sessions, agents' work dirs, code-server's
# user-data dirs, which EBPF_STUDIO_KEEP_TEST_DIR keeps) in a TMPDIR of the run's own, each stage's
# output in out/test-logs. The TMPDIR is outside the repository (tests make files that must not be
# in a git work tree), sticky and world-writable like /tmp (some tests run programs as other local
# users), and removed once the run passed.
rm -rf out/test-logs
mkdir -p out/test-logs
test_tmp=$(mktemp -d "${TMPDIR:-/tmp}/ebpf-studio-test-run.XXXXXX")
chmod 1777 "$test_tmp"
export TMPDIR="$test_tmp"
# Each stage's output on the terminal and in out/test-logs/STAGE.log.
logged() {
  local stage=$1
  shift
  "$@" 2>&1 | tee "out/test-logs/$stage.log"
}

# The kernel VMs the integration tests share (test/support/testKernels.ts), booted with the
# project's own `vm` command while the type check and unit tests run, stopped however the run ends.
# Without QEMU they are not started: the tests then say why (and fail under CI=true).
vm_pids=()
if command -v qemu-system-x86_64 >/dev/null; then
  trap 'node out/cli.js vm stop test-6.1 test-7.3 >/dev/null 2>&1 || true' EXIT
  for kernel in 6.1 7.3; do
    node out/cli.js vm start "$kernel" --name "test-$kernel" --timeout 600 >"out/vm-test-$kernel.log" 2>&1 &
    vm_pids+=($!)
  done
fi

npm run --silent typecheck
logged unit npm run --silent test:unit
# The agent's request path under libFuzzer: every kept crash replayed, then 30 s of fuzzing.
logged fuzz scripts/fuzz.sh --bounded
for i in "${!vm_pids[@]}"; do
  wait "${vm_pids[$i]}" || { echo "test: a kernel VM did not start:" >&2; cat out/vm-test-*.log >&2; exit 1; }
done
logged integration npm run --silent test:integration
EBPF_STUDIO_KEEP_TEST_DIR=1 EBPF_STUDIO_VSIX="$PWD/out/ebpf-studio.vsix" logged editor npm run --silent test:editor
# Last: no test passphrase or password in anything the run produced.
node --import tsx scripts/check-test-secrets.ts "$test_tmp" out test-results
rm -rf "$test_tmp"
