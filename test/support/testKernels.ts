/**
 * The kernels the integration tests run on: this machine's, and Debian's 6.1 and 7.3 booted in
 * QEMU by the project's own vm code. scripts/test.sh starts the VMs once before the integration
 * tests and stops them after; a test file run on its own starts them on first use (startVm is a
 * no-op for a running VM and serialises concurrent starts) and leaves them for the next file.
 * Where QEMU is missing the VM kernels are skipped, except under CI=true, where that fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { startVm } from '../../remote-agent/client/vm/vmManager';

export interface TestKernel {
  /** How a test names it in its title: 'this machine', 'Debian 6.1', 'Debian 7.3'. */
  label: string;
  /** The target for openAgentSession / --target: 'local', 'vm:test-6.1', 'vm:test-7.3'. */
  target: string;
}

/** The VMs every integration test run shares (names fixed so that scripts/test.sh can stop them). */
export const TEST_VMS = [
  { name: 'test-6.1', kernel: '6.1', label: 'Debian 6.1' },
  { name: 'test-7.3', kernel: '7.3', label: 'Debian 7.3' },
] as const;

/** Why kernel VMs cannot run here, or null when they can. */
export function kernelVmsUnavailable(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'kernel VMs are x86_64 Linux only';
  const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, tool)));
  if (!onPath('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86; scripts/bootstrap.sh does it)';
  if (!existsSync('/usr/sbin/sshd')) return '/usr/sbin/sshd is not installed (apt-get install openssh-server)';
  return null;
}

const started = new Map<string, Promise<void>>();

/** Boots (or finds running) the VM of a test kernel; resolves once it answers SSH. */
export function ensureTestVm(vm: (typeof TEST_VMS)[number]): Promise<void> {
  let boot = started.get(vm.name);
  if (boot === undefined) {
    boot = startVm({ kernel: vm.kernel, name: vm.name, bootTimeoutMs: 300_000 }).then(() => undefined);
    started.set(vm.name, boot);
  }
  return boot;
}

/**
 * This machine and, where QEMU runs, the test VMs (booted on first use). Under CI=true a missing
 * QEMU is a failing test that says why, never a silent skip.
 */
export function testKernels(): TestKernel[] {
  const kernels: TestKernel[] = [{ label: 'this machine', target: 'local' }];
  const missing = kernelVmsUnavailable();
  if (missing !== null) {
    if (process.env.CI === 'true') test('kernel VM prerequisites', () => assert.fail(`the tests on Debian's kernels cannot run: ${missing}`));
    return kernels;
  }
  for (const vm of TEST_VMS) kernels.push({ label: vm.label, target: `vm:${vm.name}` });
  return kernels;
}

/** For a test kernel's target: boots its VM first when it is one. */
export async function readyTarget(kernel: TestKernel): Promise<string> {
  const vm = TEST_VMS.find((v) => `vm:${v.name}` === kernel.target);
  if (vm !== undefined) await ensureTestVm(vm);
  return kernel.target;
}
