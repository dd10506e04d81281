/**
 * Kernel VMs for real, through the project's own vm code: Debian's 6.1 (bookworm) and 7.3
 * (experimental, split packages, merged /usr, .ko.xz modules) are downloaded (or taken from the
 * cache), booted in QEMU, and reached as `vm:NAME` targets by openAgentSession; the agent's hello
 * must come from that kernel and probe the hooks these kernels have (kprobe events, fentry).
 * Needs qemu-system-x86, busybox-static, openssh-server, kmod and the Debian mirror (first run).
 * Without QEMU it is skipped here, and fails with the reason under CI=true.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { vmCachePaths } from '../../remote-agent/client/vm/cachePaths';
import { listVms, startVm, stopVm, type StartedVm } from '../../remote-agent/client/vm/vmManager';
import { TEST_VMS, kernelVmsUnavailable } from '../support/testKernels';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import { vmFiles } from '../../remote-agent/client/vm/vmState';

const root = join(import.meta.dirname, '../..');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
/** The VMs every integration test shares (test/support/testKernels.ts), so the suite boots two, not four. */
const KERNELS = [
  { kernel: '6.1', name: TEST_VMS[0].name, release: /^6\.1\./ },
  { kernel: '7.3', name: TEST_VMS[1].name, release: /^7\.3/ },
] as const;

const missing = kernelVmsUnavailable();
if (missing && process.env.CI === 'true') {
  test('kernel VM prerequisites', () => assert.fail(`kernel VM tests cannot run: ${missing}`));
}
const skip = missing ?? false;
const started = new Map<string, StartedVm>();
const timings: string[] = [];

before(
  async () => {
    if (missing) return;
    // Both at once (a no-op when scripts/test.sh already booted them): under emulation each is CPU-bound.
    const results = await Promise.all(
      KERNELS.map(async (k) => {
        const t = Date.now();
        const vm = await startVm({ kernel: k.kernel, name: k.name, bootTimeoutMs: 300_000 });
        timings.push(vm.alreadyRunning ? `${k.kernel}: already running` : `${k.kernel}: kernel ${vm.timings?.kernelMs ?? 0} ms (0 = cached), QEMU start → first SSH answer ${vm.timings?.bootMs} ms, one SSH command ${vm.timings?.commandMs} ms, total ${Date.now() - t} ms`);
        return [k.name, vm] as const;
      }),
    );
    for (const [name, vm] of results) started.set(name, vm);
  },
  { timeout: 900_000 },
);

after(() => {
  if (timings.length > 0) process.stderr.write(`kernel VM timings:\n  ${timings.join('\n  ')}\n`);
});

for (const k of KERNELS) {
  test(`vm:${k.name} (Debian ${k.kernel}): openAgentSession reaches the guest's own kernel, which has kprobe events and fentry`, { skip, timeout: 300_000 }, async () => {
    const vm = started.get(k.name)!;
    assert.equal(vm.target, `vm:${k.name}`);
    assert.match(vm.kernelRelease, k.release);
    const lines: string[] = [];
    const session = await openAgentSession({
      target: parseTarget(vm.target),
      agentSourceDir,
      ...(agentBinaryDir !== undefined && { agentBinaryDir }),
      clientVersion: 'test',
      log: (line) => lines.push(line),
    });
    try {
      assert.match(session.hello.kernelRelease, k.release, lines.join('\n'));
      assert.equal(session.hello.kernelRelease, vm.kernelRelease);
      assert.equal(session.hello.euid, 0);
      assert.equal(session.description, `vm:${k.name}`);
      // Decided by the agent's probe of this kernel: Debian's configs have both.
      assert.equal(session.hello.features.kprobeEvents, true);
      assert.equal(session.hello.features.tracingPrograms, true);
    } finally {
      await session.dispose();
    }
  });
}

test('a kernel VM has no route out, answers SSH commands quickly, and starting it again is a no-op', { skip, timeout: 120_000 }, async () => {
  const k = KERNELS[0];
  const vm = started.get(k.name)!;
  const again = await startVm({ kernel: k.kernel, name: k.name });
  assert.deepEqual({ ...again }, { name: k.name, target: `vm:${k.name}`, port: vm.port, kernelRelease: vm.kernelRelease, alreadyRunning: true });
  const transport = await connectSsh(vmSshOptions(k.name));
  try {
    const routes = await transport.run('ip -4 route show; ip -6 route show');
    assert.equal(routes.exitCode, 0, routes.stderr);
    assert.doesNotMatch(routes.stdout, /default/, routes.stdout);
    assert.match(routes.stdout, /10\.0\.2\.0\/24 dev eth0/);
    // This machine's files are the guest's, at the same paths, /tmp included: a binary built under a
    // temp dir after the VM booted (a uprobe target, a test trigger) runs there as it is.
    const scratch = mkdtempSync(join(tmpdir(), 'kernel-vm-'));
    writeFileSync(join(scratch, 'seen.txt'), 'from the host\n');
    try {
      const seen = await transport.run(`cat ${join(scratch, 'seen.txt')}`);
      assert.equal(seen.stdout, 'from the host\n', seen.stderr);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    const mounts = await transport.run('cat /proc/mounts');
    for (const fs of ['bpf /sys/fs/bpf', 'tracefs /sys/kernel/tracing', 'overlay / overlay']) assert.ok(mounts.stdout.includes(fs), `${fs} in\n${mounts.stdout}`);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      assert.equal((await transport.run('true')).exitCode, 0);
      latencies.push(Date.now() - t);
    }
    latencies.sort((a, b) => a - b);
    timings.push(`SSH command latency in the ${k.kernel} guest (5 × 'true' on one connection): median ${latencies[2]} ms, max ${latencies[4]} ms`);
    // Root's shell there does not run this machine's ~/.bashrc (pyenv and the like cost seconds under emulation).
    const bashrc = await transport.run('cat "$HOME/.bashrc"');
    assert.equal(bashrc.stdout, "# eBPF Studio kernel VM: the host's ~/.bashrc is not run here.\n");
  } finally {
    await transport.dispose();
  }
});

test('a stopped VM is gone from the list, vm:NAME then says how to start it, and it boots again from the cache', { skip, timeout: 600_000 }, async () => {
  const k = KERNELS[1];
  assert.equal(await stopVm(k.name), true);
  assert.equal(existsSync(vmFiles(vmCachePaths(), k.name).dir), false);
  assert.ok(!listVms().some((v) => v.name === k.name));
  await assert.rejects(openAgentSession({ target: parseTarget(`vm:${k.name}`), agentSourceDir, clientVersion: 'test' }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'connect');
    assert.match(error.message, new RegExp(`no kernel VM named '${k.name.replace(/\./g, '\\.')}': start it with 'ebpf-studio vm start ${k.name.replace(/\./g, '\\.')}'`));
    return true;
  });
  // The shared VM comes back for the tests after this one, from the kernel cache (no download).
  const progress: string[] = [];
  const again = await startVm({ kernel: k.kernel, name: k.name, bootTimeoutMs: 300_000, log: (line) => progress.push(line) });
  assert.equal(again.alreadyRunning, false);
  assert.ok(progress.some((line) => /^Kernel \S+ \(.*\) is in the cache\.$/.test(line)), progress.join('\n'));
  assert.match(again.kernelRelease, k.release);
});
