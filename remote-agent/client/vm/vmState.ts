/**
 * One kernel VM's state on disk (`vms/<name>/`): its record (`vm.json`: kernel, port, accelerator),
 * QEMU's pid file, keys, known_hosts, console log, initramfs. Whether it runs is decided from the
 * pid file and that process's command line, so a stale pid reused by another program is never
 * mistaken for the VM.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmCachePaths } from './cachePaths';

export interface VmRecord {
  name: string;
  /** What the user asked for: an alias (`6.1`) or a package name. */
  requested: string;
  kernelPackage: string;
  kernelVersion: string;
  kernelRelease: string;
  port: number;
  accel: 'kvm' | 'tcg';
  startedAt: string;
}

export interface VmFiles {
  dir: string;
  record: string;
  pid: string;
  consoleLog: string;
  knownHosts: string;
  identity: string;
  /** An empty ssh config, so ~/.ssh/config's `Host *` rules never reroute the VM's connection. */
  sshConfig: string;
  initramfs: string;
}

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkVmName(name: string): string {
  if (!VM_NAME.test(name)) throw new Error(`'${name}' is not a valid VM name: use letters, digits, '.', '_' and '-' (at most 64, not starting with '.', '_' or '-').`);
  return name;
}

export function vmFiles(paths: VmCachePaths, name: string): VmFiles {
  const dir = join(paths.vms, checkVmName(name));
  return {
    dir,
    record: join(dir, 'vm.json'),
    pid: join(dir, 'qemu.pid'),
    consoleLog: join(dir, 'console.log'),
    knownHosts: join(dir, 'known_hosts'),
    identity: join(dir, 'id_ed25519'),
    sshConfig: join(dir, 'ssh_config'),
    initramfs: join(dir, 'initramfs.cpio.gz'),
  };
}

export function readVmRecord(files: VmFiles): VmRecord | undefined {
  if (!existsSync(files.record)) return undefined;
  return JSON.parse(readFileSync(files.record, 'utf8')) as VmRecord;
}

export function writeVmRecord(files: VmFiles, record: VmRecord): void {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.record, `${JSON.stringify(record, null, 2)}\n`);
}

/** The QEMU process of this VM, when it is alive; undefined otherwise. */
export function runningVmPid(files: VmFiles, name: string): number | undefined {
  if (!existsSync(files.pid)) return undefined;
  const pid = Number(readFileSync(files.pid, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return isVmProcess(pid, name) ? pid : undefined;
}

/** True when `pid` is alive and is QEMU started for this VM name (its `-name ebpf-studio-NAME`). */
export function isVmProcess(pid: number, name: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (state === 'Z') return false;
    const at = argv.indexOf('-name');
    return at !== -1 && argv[at + 1] === `ebpf-studio-${name}`;
  } catch {
    // No such process (or /proc gone with it): not running.
    return false;
  }
}

export function vmNames(paths: VmCachePaths): string[] {
  if (!existsSync(paths.vms)) return [];
  return readdirSync(paths.vms).filter((n) => VM_NAME.test(n) && existsSync(join(paths.vms, n, 'vm.json'))).sort();
}
