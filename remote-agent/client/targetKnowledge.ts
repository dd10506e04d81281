/**
 * What a target's kernel knows, fetched once per kernel and kept on disk by its btfId: its raw BTF
 * (kernel types, kfuncs and attach points for the language server; vmlinux.h for compiling on the
 * client) and its helper probe (which helpers each program type may call). The editor, `ebpf-studio
 * lsp --target` and compile-on-client share it, so a reconnect, a restart or another client
 * transfers nothing twice. Only the answers of an agent are cached, never anything it points at.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TargetInfoParams } from '../../language-server/lspExtensions';
import { agentOffers, type AgentRequester, type HelloResult, type ProbeHelpersResult } from '../protocol';
import type { TargetSpec } from './targetSpec';

/** BTF copies kept (a few MiB each): the kernels someone switches between. */
const KEPT_BTF_COPIES = 8;
const LOCAL_BTF = '/sys/kernel/btf/vmlinux';
/** The agent's btfId is a content hash; it names a file here, so nothing else is accepted. */
const BTF_ID = /^[0-9a-f]{8,128}$/;
/** BTF header magic 0xeB9F, little-endian: what a raw vmlinux BTF starts with. */
const BTF_MAGIC_LE = Buffer.from([0x9f, 0xeb]);

/** What the cache needs of a session to a target. */
export interface KnowledgeSource {
  readonly target: TargetSpec;
  readonly hello: HelloResult;
  readonly client: AgentRequester<'btf.vmlinux' | 'probe.helpers'>;
}

export interface TargetBtf {
  /** A file holding the kernel's raw BTF; null when the target has none (or its agent cannot send it). */
  path: string | null;
  /** How it was had, for a log line: "cached at …", "fetched (6.1 MiB in 320 ms)", "none on the target". */
  how: string;
}

/** ${XDG_CACHE_HOME:-~/.cache}/ebpf-studio/kernel-btf: where the CLI and benches keep kernels' knowledge. */
export function defaultKnowledgeDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ebpf-studio', 'kernel-btf');
}

export class TargetKnowledgeCache {
  constructor(private readonly dir: string) {}

  /** Where the target's raw BTF can be read on this machine, fetched once per btfId. */
  async btf(source: KnowledgeSource, signal?: AbortSignal): Promise<TargetBtf> {
    const { hello } = source;
    if (!hello.btf || hello.btfId === null) return { path: null, how: 'none on the target' };
    // Clients run on this machine: the local target's BTF is readable where it is.
    if (source.target.kind === 'local') return { path: LOCAL_BTF, how: LOCAL_BTF };
    const file = join(this.dir, `${checkedBtfId(hello)}.btf`);
    if (existsSync(file)) {
      const now = new Date();
      await utimes(file, now, now); // most recently used: kept when the cache is trimmed
      return { path: file, how: `cached at ${file}` };
    }
    if (!agentOffers(hello, 'btf.vmlinux')) return { path: null, how: 'not offered by this agent version' };
    const started = Date.now();
    const answer = await source.client.request('btf.vmlinux', {}, signal);
    const data = Buffer.from(answer.data, 'base64');
    if (answer.btfId !== hello.btfId) throw new Error(`the target's BTF changed while it was fetched (${hello.btfId} → ${answer.btfId}); reconnect to it`);
    if (data.length < 24 || !data.subarray(0, 2).equals(BTF_MAGIC_LE)) throw new Error('the agent sent data that is not raw BTF for btf.vmlinux');
    await this.writeAtomically(file, data);
    await this.trim();
    return { path: file, how: `fetched (${(data.length / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms)` };
  }

  /**
   * The target's helper availability, probed once per btfId (it costs the agent ~1 s of probe
   * loads); null when its agent cannot probe. A failed probe rejects: the caller says what is less exact.
   */
  async helperProbe(source: KnowledgeSource, signal?: AbortSignal): Promise<ProbeHelpersResult | null> {
    const { hello } = source;
    if (!agentOffers(hello, 'probe.helpers')) return null;
    const file = hello.btfId !== null && BTF_ID.test(hello.btfId) ? join(this.dir, `${hello.btfId}.helpers.json`) : undefined;
    if (file !== undefined && existsSync(file)) {
      const cached = parseProbe(await readFile(file, 'utf8'));
      if (cached !== undefined) return cached;
      // A truncated or foreign file: probing again replaces it.
    }
    const probe = await source.client.request('probe.helpers', {}, signal);
    if (file !== undefined) await this.writeAtomically(file, Buffer.from(JSON.stringify(probe)));
    return probe;
  }

  /** Written aside and renamed: a reader never sees half a file, even if the process dies mid-write. */
  private async writeAtomically(file: string, data: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, data);
    await rename(partial, file);
  }

  /** Keeps the most recently used BTF copies (and their probes); older kernels' are deleted. */
  private async trim(): Promise<void> {
    const names = (await readdir(this.dir)).filter((name) => name.endsWith('.btf'));
    const used = await Promise.all(names.map(async (name) => ({ name, mtime: (await stat(join(this.dir, name))).mtimeMs })));
    used.sort((a, b) => b.mtime - a.mtime);
    for (const { name } of used.slice(KEPT_BTF_COPIES)) {
      const id = name.slice(0, -'.btf'.length);
      await rm(join(this.dir, name), { force: true });
      await rm(join(this.dir, `${id}.helpers.json`), { force: true });
    }
  }
}

function checkedBtfId(hello: HelloResult): string {
  if (hello.btfId === null || !BTF_ID.test(hello.btfId)) {
    throw new Error(`the agent sent a malformed btfId "${String(hello.btfId).slice(0, 80)}"; reconnect to redeploy the agent`);
  }
  return hello.btfId;
}

/** A cached probe answer, or undefined when the file is not one (then the target is probed again). */
function parseProbe(text: string): ProbeHelpersResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const probe = value as Partial<ProbeHelpersResult> | null;
  if (typeof probe !== 'object' || probe === null || !Array.isArray(probe.gplOnly) || typeof probe.helpersByProgramType !== 'object' || probe.helpersByProgramType === null) return undefined;
  const lists = Object.values(probe.helpersByProgramType);
  if (!lists.every((list) => Array.isArray(list) && list.every((name) => typeof name === 'string'))) return undefined;
  if (!probe.gplOnly.every((name) => typeof name === 'string')) return undefined;
  return probe as ProbeHelpersResult;
}

/**
 * The `ebpfStudio/targetInfo` notification that makes the language server describe this target's
 * kernel. A failed helper probe leaves `helpers` null (completion then uses the built-in tables)
 * and is told through `log`, since the rest still makes the server exact.
 */
export async function targetInfoFor(
  source: KnowledgeSource & { readonly description: string },
  cache: TargetKnowledgeCache,
  signal?: AbortSignal,
  log?: (line: string) => void,
): Promise<TargetInfoParams> {
  const { hello } = source;
  const started = Date.now();
  const btf = await cache.btf(source, signal);
  let helpers: ProbeHelpersResult | null = null;
  try {
    helpers = await cache.helperProbe(source, signal);
  } catch (error) {
    signal?.throwIfAborted();
    log?.(`the helper probe on ${source.description} failed (${error instanceof Error ? error.message : String(error)}); helper availability per program type is not checked`);
  }
  log?.(`now describes ${source.description} (kernel ${hello.kernelRelease}, ${hello.arch}; BTF ${btf.how}; helper probe ${helpers ? 'known' : 'not available'}) after ${Date.now() - started} ms`);
  return {
    description: source.description,
    kernelRelease: hello.kernelRelease,
    arch: hello.arch,
    btfPath: btf.path,
    btfId: hello.btfId,
    features: hello.features,
    helpers,
  };
}
