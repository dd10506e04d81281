/**
 * Kernel VMs as the user sees them: start (fetch the kernel, make keys and initramfs, launch QEMU
 * daemonized, wait for SSH), stop, list, console log. Each VM is a name with a state directory;
 * QEMU outlives the process that started it, and everything else finds it through that directory.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { abortReason } from '../abortReason';
import { chooseAccelerator, readHostVirtualization, type AcceleratorChoice } from './accelerator';
import { vmCachePaths, type VmCachePaths } from './cachePaths';
import { runTool, HostToolError } from './hostTools';
import { writeInitramfs } from './initramfs';
import { fetchKernel, type CachedKernel } from './kernelCache';
import { kernelRequest, type KernelRequest } from './kernelCatalog';
import { freeLoopbackPort } from './loopbackPort';
import { QEMU_BINARY, qemuArguments } from './qemuCommand';
import { ensureVmKeys, knownHostsLine } from './sshKeys';
import { withStartLock } from './startLock';
import { checkVmName, readVmRecord, runningVmPid, vmFiles, vmNames, writeVmRecord, type VmFiles, type VmRecord } from './vmState';
import { consoleTail, waitForGuestSsh } from './waitForSsh';

export interface StartVmOptions {
  /** `6.1`, `6.12`, `7.2`, `7.3` or a Debian kernel package name. */
  kernel: string;
  /** Default: the kernel as given. */
  name?: string;
  paths?: VmCachePaths;
  memoryMiB?: number;
  cpus?: number;
  /** Look for a newer build of the kernel in Debian's archive instead of booting the cached one. */
  refresh?: boolean;
  /** How long boot may take until SSH answers; default 180 s (emulation on a busy machine is slow). */
  bootTimeoutMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface StartedVm {
  name: string;
  /** `vm:NAME`, what check/run take as --target. */
  target: string;
  port: number;
  kernelRelease: string;
  alreadyRunning: boolean;
  accelerator?: AcceleratorChoice;
  /** Milliseconds, for a fresh start: fetching the kernel (0 when cached), QEMU launch to first SSH answer, one SSH command. */
  timings?: { kernelMs: number; bootMs: number; commandMs: number };
}

export interface VmStatus {
  name: string;
  kernelRelease: string;
  kernelPackage: string;
  state: 'running' | 'stopped';
  port: number;
  pid?: number;
}

const DEFAULT_BOOT_TIMEOUT_MS = 180_000;
const SSHD = '/usr/sbin/sshd';

export function vmTargetName(name: string): string {
  return `vm:${name}`;
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, program)));
}

/** Root's home directory on this machine (the guest shares it), from /etc/passwd. */
function rootHome(): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('root:'));
    return line?.split(':')[5] || '/root';
  } catch {
    return '/root';
  }
}

export async function startVm(o: StartVmOptions): Promise<StartedVm> {
  const paths = o.paths ?? vmCachePaths();
  const request = kernelRequest(o.kernel);
  const name = checkVmName(o.name ?? o.kernel);
  return withStartLock(join(paths.vms, `.${name}.lock`), () => startLocked(o, paths, request, name), o.signal, () =>
    o.log?.(`Another process is starting VM ${name}; waiting for it.`),
  );
}

async function startLocked(o: StartVmOptions, paths: VmCachePaths, request: KernelRequest, name: string): Promise<StartedVm> {
  const log = o.log ?? (() => {});
  const { signal } = o;
  const files = vmFiles(paths, name);

  const running = runningVmPid(files, name);
  const existing = readVmRecord(files);
  if (running !== undefined && existing) {
    if (existing.requested !== o.kernel && existing.kernelPackage !== o.kernel) {
      throw new Error(`A VM named '${name}' already runs kernel ${existing.kernelRelease}; stop it first ('ebpf-studio vm stop ${name}') or pick another --name.`);
    }
    return { name, target: vmTargetName(name), port: existing.port, kernelRelease: existing.kernelRelease, alreadyRunning: true };
  }

  if (!onPath(QEMU_BINARY)) throw new HostToolError(`Kernel VMs need QEMU: '${QEMU_BINARY}' is not installed; install it with 'apt-get install qemu-system-x86'.`);
  if (!existsSync(SSHD)) throw new HostToolError(`Kernel VMs run this machine's sshd in the guest, but ${SSHD} is missing: install it with 'apt-get install openssh-server'.`);

  const kernelStarted = Date.now();
  const kernel = await fetchKernel(request, { paths, ...(signal && { signal }), ...(o.refresh && { refresh: true }), log });
  const kernelMs = Date.now() - kernelStarted;

  // A previous run's leftovers (a crashed VM, or a QEMU whose start was cut short before its
  // record was written) go; keys are made fresh for each boot.
  if (running !== undefined) await killVm(files, name);
  rmSync(files.dir, { recursive: true, force: true });
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.sshConfig, '# Empty on purpose: ~/.ssh/config must not apply to this VM.\n');
  const keys = await ensureVmKeys(files.dir, name, signal);
  const modules = await writeInitramfs(files.initramfs, {
    kernel,
    hostname: `ebpf-vm-${name.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 63),
    hostKeyFile: keys.hostKey,
    clientPublicKey: keys.clientPublicKey,
    rootHome: rootHome(),
    sshdPath: SSHD,
    ...(signal && { signal }),
  });
  log(`Initramfs for ${kernel.kernelRelease} with ${modules.length} modules: ${modules.join(' ')}`);

  const accelerator = chooseAccelerator(readHostVirtualization());
  log(`Accelerator: ${accelerator.reason}.`);
  // The record is written before QEMU starts, so a QEMU whose start is cut short is still listed and stoppable.
  const { port } = await launchQemu(files, name, kernel, accelerator, o, log, signal, (port) => {
    writeFileSync(files.knownHosts, knownHostsLine(port, keys.hostPublicKey));
    const record: VmRecord = {
      name,
      requested: o.kernel,
      kernelPackage: kernel.package,
      kernelVersion: kernel.version,
      kernelRelease: kernel.kernelRelease,
      port,
      accel: accelerator.accel,
      startedAt: new Date().toISOString(),
    };
    writeVmRecord(files, record);
  });

  const bootStarted = Date.now();
  log(`Booting ${kernel.kernelRelease} as VM ${name}; waiting for its SSH on 127.0.0.1:${port}…`);
  try {
    signal?.throwIfAborted();
    const ready = await waitForGuestSsh({
      port,
      identityFile: files.identity,
      knownHostsFile: files.knownHosts,
      sshConfigFile: files.sshConfig,
      consoleLog: files.consoleLog,
      isAlive: () => runningVmPid(files, name) !== undefined,
      timeoutMs: o.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
      ...(signal && { signal }),
      log,
    });
    if (ready.kernelRelease !== kernel.kernelRelease) {
      throw new Error(`The guest runs kernel ${ready.kernelRelease}, not ${kernel.kernelRelease} as booted: something else answers on port ${port}.`);
    }
    log(`VM ${name} answers SSH on 127.0.0.1:${port}, ${((Date.now() - bootStarted) / 1000).toFixed(1)} s after QEMU started; one command takes ${ready.commandMs} ms.`);
    return { name, target: vmTargetName(name), port, kernelRelease: kernel.kernelRelease, alreadyRunning: false, accelerator, timings: { kernelMs, bootMs: Date.now() - bootStarted, commandMs: ready.commandMs } };
  } catch (error) {
    // A VM that did not come up is stopped, but its console log stays for `vm logs`.
    await killVm(files, name);
    rmSync(files.pid, { force: true });
    throw signal?.aborted ? abortReason(signal) : error;
  }
}

/** Starts QEMU daemonized on a free port; a port taken in between is retried with another. */
async function launchQemu(
  files: VmFiles,
  name: string,
  kernel: CachedKernel,
  accelerator: AcceleratorChoice,
  o: StartVmOptions,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
  beforeLaunch: (port: number) => void,
): Promise<{ port: number }> {
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    const port = await freeLoopbackPort();
    rmSync(files.consoleLog, { force: true });
    const args = qemuArguments({
      name,
      kernel: kernel.vmlinuz,
      initramfs: files.initramfs,
      accelerator,
      sshPort: port,
      consoleLog: files.consoleLog,
      pidFile: files.pid,
      ...(o.memoryMiB !== undefined && { memoryMiB: o.memoryMiB }),
      ...(o.cpus !== undefined && { cpus: o.cpus }),
    });
    log(`${QEMU_BINARY} ${args.join(' ')}`);
    beforeLaunch(port);
    try {
      // With -daemonize, QEMU returns once the VM is set up (a bad option or a taken port fail here).
      // Not cut short by the signal: a launcher killed mid-way leaves its daemonized child running
      // with no pid file yet; the caller stops the VM once it is fully started instead.
      await runTool(QEMU_BINARY, args, `Starting QEMU for VM ${name}`);
      return { port };
    } catch (error) {
      const clash = error instanceof HostToolError && /host forwarding rule|Address already in use/i.test(error.message);
      if (!clash || attempt >= 3) throw error;
      log(`Port ${port} was taken meanwhile; trying another.`);
    }
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
async function killVm(files: VmFiles, name: string): Promise<boolean> {
  const pid = runningVmPid(files, name);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (runningVmPid(files, name) === undefined) return true;
  }
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (runningVmPid(files, name) === undefined) return true;
  }
  throw new Error(`QEMU (pid ${pid}) of VM ${name} survived SIGKILL.`);
}

/** Stops the VM and removes its state directory. Returns false when there was no such VM. */
export async function stopVm(name: string, paths: VmCachePaths = vmCachePaths()): Promise<boolean> {
  const files = vmFiles(paths, name);
  if (!existsSync(files.dir)) return false;
  await killVm(files, name);
  rmSync(files.dir, { recursive: true, force: true });
  return true;
}

export async function stopAllVms(paths: VmCachePaths = vmCachePaths()): Promise<string[]> {
  const names = vmNames(paths);
  for (const name of names) await stopVm(name, paths);
  return names;
}

export function listVms(paths: VmCachePaths = vmCachePaths()): VmStatus[] {
  return vmNames(paths).flatMap((name) => {
    const files = vmFiles(paths, name);
    const record = readVmRecord(files);
    if (!record) return [];
    const pid = runningVmPid(files, name);
    return [{ name, kernelRelease: record.kernelRelease, kernelPackage: record.kernelPackage, state: pid === undefined ? 'stopped' : 'running', port: record.port, ...(pid !== undefined && { pid }) }];
  });
}

export function vmConsoleLog(name: string, paths: VmCachePaths = vmCachePaths()): string {
  const files = vmFiles(paths, name);
  if (!existsSync(files.dir)) throw new Error(`There is no VM named '${name}' (see 'ebpf-studio vm list').`);
  if (!existsSync(files.consoleLog)) return '';
  return readFileSync(files.consoleLog, 'utf8').replace(/\r/g, '');
}

export interface VmConnection {
  port: number;
  identityFile: string;
  knownHostsFile: string;
  sshConfigFile: string;
  kernelRelease: string;
}

/** How to reach a running VM over SSH; a VM that is not running is an error saying how to start it. */
export function vmConnection(name: string, paths: VmCachePaths = vmCachePaths()): VmConnection {
  const files = vmFiles(paths, name);
  const record = readVmRecord(files);
  if (!record) throw new Error(`There is no kernel VM named '${name}': start it with 'ebpf-studio vm start ${name}'.`);
  if (runningVmPid(files, name) === undefined) {
    throw new Error(`The kernel VM '${name}' is not running: start it with 'ebpf-studio vm start ${record.requested === name ? name : `${record.requested} --name ${name}`}'.`);
  }
  return { port: record.port, identityFile: files.identity, knownHostsFile: files.knownHosts, sshConfigFile: files.sshConfig, kernelRelease: record.kernelRelease };
}

/** The console log's last lines, for error messages. */
export function vmConsoleTail(name: string, paths: VmCachePaths = vmCachePaths()): string {
  return consoleTail(vmFiles(paths, name).consoleLog);
}
