/**
 * The VM's initramfs, assembled in memory and gzip-compressed: a static busybox (Debian's
 * busybox-static, as this machine has it), the kernel's virtio/9p/overlay modules decompressed
 * for busybox's insmod and numbered in load order, the generated /init, and the VM's sshd config
 * and keys. Built per VM start into its state directory; nothing is installed anywhere.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { abortReason } from '../abortReason';
import { cpioArchive, type CpioEntry } from './cpioArchive';
import { guestInitScript, guestSshdConfig } from './guestInit';
import { runTool } from './hostTools';
import type { CachedKernel } from './kernelCache';
import { moduleLoadPlan, moduleName, parseModulesDep } from './moduleDeps';

/** What the guest needs from its kernel: PCI virtio devices, the NIC, 9p over virtio, overlayfs. */
export const REQUIRED_MODULES = ['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'overlay'] as const;
/** Entropy for sshd early on; fine to lack. */
export const OPTIONAL_MODULES = ['virtio_rng'] as const;

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** True when the ELF file has no program interpreter (PT_INTERP): it runs without a libc in the guest. */
export function isStaticElf(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const u16 = (o: number): number => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? elf.readBigUInt64LE(32) : elf.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > elf.length) return false;
    if (u32(at) === 3) return false;
  }
  return true;
}

export function staticBusybox(): Buffer {
  for (const path of BUSYBOX_CANDIDATES) {
    if (!existsSync(path)) continue;
    const elf = readFileSync(path);
    if (isStaticElf(elf)) return elf;
    throw new Error(`${path} is dynamically linked; kernel VMs need a static busybox: install it with 'apt-get install busybox-static'.`);
  }
  throw new Error(`No busybox on this machine; kernel VMs need a static one: install it with 'apt-get install busybox-static'.`);
}

async function readModule(file: string, signal?: AbortSignal): Promise<Buffer> {
  if (file.endsWith('.ko')) return readFileSync(file);
  if (file.endsWith('.ko.gz')) return gunzipSync(readFileSync(file));
  if (file.endsWith('.ko.xz')) return (await runTool('xz', ['-dc', file], `Decompressing ${file}`, { ...(signal && { signal }) })).stdout;
  if (file.endsWith('.ko.zst')) return (await runTool('zstd', ['-dcq', file], `Decompressing ${file}`, { ...(signal && { signal }) })).stdout;
  throw new Error(`Unknown kernel module format: ${file}`);
}

export interface InitramfsOptions {
  kernel: CachedKernel;
  hostname: string;
  sshdConfig?: string;
  hostKeyFile: string;
  clientPublicKey: string;
  rootHome: string;
  sshdPath: string;
  signal?: AbortSignal;
}

/** Builds the initramfs and writes it to `outFile`; returns the modules it loads, in order. */
export async function writeInitramfs(outFile: string, o: InitramfsOptions): Promise<string[]> {
  const { kernel, signal } = o;
  const modulesDir = kernel.modulesDir;
  const builtinFile = join(modulesDir, 'modules.builtin');
  const index = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'), existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '');
  const plan = moduleLoadPlan(index, REQUIRED_MODULES, OPTIONAL_MODULES);

  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' },
    { kind: 'dir', path: 'dev' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { kind: 'dir', path: 'modules' },
    { kind: 'dir', path: 'vm', mode: 0o700 },
    { kind: 'file', path: 'bin/busybox', data: staticBusybox(), mode: 0o755 },
  ];
  const moduleFiles: string[] = [];
  for (const [i, rel] of plan.order.entries()) {
    if (signal?.aborted) throw abortReason(signal);
    const name = `${String(i).padStart(2, '0')}-${moduleName(rel)}.ko`;
    entries.push({ kind: 'file', path: `modules/${name}`, data: await readModule(join(modulesDir, rel), signal) });
    moduleFiles.push(name);
  }
  const init = guestInitScript({
    moduleFiles,
    hostname: o.hostname,
    kernelRelease: kernel.kernelRelease,
    hostModulesDir: modulesDir,
    rootHome: o.rootHome,
    sshdPath: o.sshdPath,
  });
  entries.push(
    { kind: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
    { kind: 'file', path: 'vm/sshd_config', data: Buffer.from(o.sshdConfig ?? guestSshdConfig()) },
    { kind: 'file', path: 'vm/authorized_keys', data: Buffer.from(`${o.clientPublicKey}\n`) },
    { kind: 'file', path: 'vm/ssh_host_ed25519_key', data: readFileSync(o.hostKeyFile), mode: 0o600 },
  );
  writeFileSync(outFile, gzipSync(cpioArchive(entries), { level: 1 }), { mode: 0o600 });
  return moduleFiles;
}
