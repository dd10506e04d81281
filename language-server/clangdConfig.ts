// The `ebpfStudio.writeClangdConfig` command: makes clangd (which knows C far better than we do)
// understand *.bpf.c files, by giving it the flags the BPF build uses — `-target bpf`, the target
// architecture for bpf_tracing.h, a vmlinux.h generated from the target's BTF, and Debian's
// multiarch include directory that `-target bpf` does not search. The block lives between markers
// in the workspace's .clangd; everything else in that file is left alone.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkspaceEdit } from 'vscode-languageserver/node';

const BEGIN = '# >>> ebpf-studio: flags for *.bpf.c (written by ebpfStudio.writeClangdConfig; edits between these markers are replaced)';
const END = '# <<< ebpf-studio';

/** uname -m / Node's process.arch → the __TARGET_ARCH_ name bpf_tracing.h expects. */
const TARGET_ARCH: Readonly<Record<string, string>> = {
  x86_64: 'x86', x64: 'x86', aarch64: 'arm64', arm64: 'arm64', arm: 'arm', armv7l: 'arm', s390x: 's390',
  ppc64le: 'powerpc', ppc64: 'powerpc', riscv64: 'riscv', loongarch64: 'loongarch', mips: 'mips', mips64: 'mips',
};

/** Node's process.arch → Debian's multiarch triplet, where asm/types.h lives. */
const MULTIARCH: Readonly<Record<string, string>> = {
  x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', s390x: 's390x-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu', riscv64: 'riscv64-linux-gnu', loong64: 'loongarch64-linux-gnu',
};

export function targetArchMacro(arch: string): string {
  const name = TARGET_ARCH[arch];
  if (name === undefined) throw new Error(`unknown target architecture '${arch}': bpf_tracing.h supports x86, arm64, arm, s390, powerpc, riscv, loongarch and mips`);
  return `-D__TARGET_ARCH_${name}`;
}

export interface ClangdFlagsOptions {
  /** Target architecture as uname -m prints it (or Node's process.arch). */
  arch: string;
  /** Directory holding vmlinux.h. */
  vmlinuxDir: string;
  /** Where the local system headers are (tests point it elsewhere). */
  systemInclude?: string;
}

export function clangdFlags(options: ClangdFlagsOptions): string[] {
  const flags = ['-target', 'bpf', targetArchMacro(options.arch), `-I${options.vmlinuxDir}`];
  const multiarch = join(options.systemInclude ?? '/usr/include', MULTIARCH[process.arch] ?? '');
  if (MULTIARCH[process.arch] !== undefined && existsSync(multiarch)) flags.push('-idirafter', multiarch);
  return flags;
}

function yamlScalar(text: string): string {
  return /^[\w./+=-]+$/.test(text) && !text.startsWith('-') ? text : JSON.stringify(text);
}

export function clangdBlock(flags: string[]): string {
  return [BEGIN, 'If:', '  PathMatch: .*\\.bpf\\.c', 'CompileFlags:', '  Add:', ...flags.map((f) => `    - ${yamlScalar(f)}`), END].join('\n');
}

/** The new .clangd content: our block replaced in place, or appended as its own YAML document. */
export function updatedClangdConfig(existing: string | null, flags: string[]): string {
  const block = clangdBlock(flags);
  if (existing === null || existing.trim() === '') return `${block}\n`;
  const begin = existing.indexOf(BEGIN);
  const end = existing.indexOf(END, begin);
  if (begin !== -1 && end !== -1) return existing.slice(0, begin) + block + existing.slice(end + END.length);
  return `${existing}${existing.endsWith('\n') ? '' : '\n'}---\n${block}\n`;
}

/** A workspace edit that writes `content` as the workspace's .clangd (created when missing). */
export function clangdConfigEdit(workspaceRoot: string, existing: string | null, content: string): WorkspaceEdit {
  const uri = pathToFileURL(join(workspaceRoot, '.clangd')).href;
  const lines = (existing ?? '').split('\n');
  const end = { line: lines.length - 1, character: lines.at(-1)!.length };
  return {
    documentChanges: [
      ...(existing === null ? [{ kind: 'create' as const, uri, options: { ignoreIfExists: true } }] : []),
      { textDocument: { uri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end }, newText: content }] },
    ],
  };
}

/**
 * vmlinux.h for a BTF file, generated once per kernel build into the user's cache
 * ($XDG_CACHE_HOME/ebpf-studio/vmlinux/KEY/vmlinux.h) with bpftool.
 */
export async function ensureVmlinuxHeader(btfPath: string, key: string, signal?: AbortSignal): Promise<string> {
  const safeKey = key.replace(/[^\w.-]/g, '_');
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ebpf-studio', 'vmlinux', safeKey);
  const header = join(dir, 'vmlinux.h');
  if (existsSync(header)) return dir;
  if (!existsSync(btfPath)) throw new Error(`no BTF at ${btfPath}: the kernel needs CONFIG_DEBUG_INFO_BTF=y, or select a target whose BTF was fetched`);
  const text = await new Promise<string>((resolve, reject) => {
    execFile('bpftool', ['btf', 'dump', 'file', btfPath, 'format', 'c'], { maxBuffer: 512 * 1024 * 1024, signal }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? 'bpftool is not installed (Debian/Ubuntu: apt-get install bpftool); it generates vmlinux.h from BTF' : `bpftool btf dump failed: ${stderr.trim() || error.message}`));
      } else resolve(stdout);
    });
  });
  mkdirSync(dir, { recursive: true });
  // Written under another name first, so a concurrent reader never sees half a header.
  writeFileSync(`${header}.${process.pid}.tmp`, text);
  renameSync(`${header}.${process.pid}.tmp`, header);
  return dir;
}

export function readExistingConfig(workspaceRoot: string): string | null {
  const path = join(workspaceRoot, '.clangd');
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}
