// The kernel types of the target the user verifies against, read from its BTF: the raw vmlinux BTF
// the client copied from the target (`ebpfStudio/targetInfo`), or this machine's
// /sys/kernel/btf/vmlinux when the server runs on Linux and no target said otherwise.
// Loading starts as soon as the target is known and runs off the request path; a request that
// arrives before it finished waits for it (~100 ms). Parsed BTF is kept per btfId, so switching
// back to a target costs nothing.
import { readFile } from 'node:fs/promises';
import { parseBtf, type Btf, type BtfType } from '../remote-agent/client/btf';
import type { KernelFeatures } from '../remote-agent/protocol';
import type { TargetInfoParams } from './lspExtensions';

export const LOCAL_VMLINUX = '/sys/kernel/btf/vmlinux';

/** A target's BTF with the derived lists editor features ask for, each built on first use. */
export class KernelTypeIndex {
  private kfuncList: BtfType[] | undefined;
  private functionNames: string[] | undefined;

  constructor(
    readonly btf: Btf,
    /** Where the BTF came from, for messages. */
    readonly source: string,
  ) {}

  /**
   * Kernel functions tagged `bpf_kfunc` in BTF (pahole ≥ 1.25 emits the tag), sorted by name.
   * Which program types may call each one is decided by the kernel's kfunc id sets, which are not
   * in /sys/kernel/btf: that needs the verifier's answer.
   */
  kfuncs(): BtfType[] {
    if (this.kfuncList === undefined) {
      const tagged = new Set<number>();
      for (const t of this.btf.types) if (t.kind === 'decl_tag' && t.name === 'bpf_kfunc' && t.componentIdx === -1) tagged.add(t.type!);
      this.kfuncList = [...tagged]
        .map((id) => this.btf.types[id])
        .filter((t) => t.kind === 'func')
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.kfuncList;
  }

  kfunc(name: string): BtfType | undefined {
    const func = this.btf.byName(name, 'func');
    return func !== undefined && this.kfuncs().includes(func) ? func : undefined;
  }

  /** Every function in BTF (the ones fentry/fexit can attach to), sorted by name. */
  functions(): string[] {
    if (this.functionNames === undefined) {
      this.functionNames = this.btf.types
        .filter((t) => t.kind === 'func')
        .map((t) => t.name)
        .sort();
    }
    return this.functionNames;
  }
}

export interface KernelTypesLog {
  info(message: string): void;
  warn(message: string): void;
}

export class KernelTypes {
  private readonly cache = new Map<string, Promise<KernelTypeIndex | undefined>>();
  private current: Promise<KernelTypeIndex | undefined> = Promise.resolve(undefined);
  /** What the target's probe found (null until known, and for this machine without a target). */
  features: KernelFeatures | null = null;

  constructor(private readonly log: KernelTypesLog) {}

  /** Without a target: this machine's kernel, when it is Linux with BTF. */
  useLocalKernel(): void {
    if (process.platform === 'linux') this.current = this.load(LOCAL_VMLINUX, LOCAL_VMLINUX);
  }

  setTarget(target: TargetInfoParams): void {
    this.features = target.features;
    if (target.btfPath !== null) this.current = this.load(target.btfId ?? target.btfPath, target.btfPath);
    else if (target.description === 'local') this.useLocalKernel();
    else {
      this.log.info(`Kernel types: ${target.description} sent no BTF, so kernel structs, kfuncs and attach points are not offered`);
      this.current = Promise.resolve(undefined);
    }
  }

  /** The current target's types; undefined when it has no BTF (or it could not be read). */
  get(): Promise<KernelTypeIndex | undefined> {
    return this.current;
  }

  private load(key: string, path: string): Promise<KernelTypeIndex | undefined> {
    let loading = this.cache.get(key);
    if (loading === undefined) {
      loading = this.read(path);
      this.cache.set(key, loading);
    }
    return loading;
  }

  private async read(path: string): Promise<KernelTypeIndex | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.warn(`Kernel types: cannot read BTF at ${path} (${reason}); kernel structs, kfuncs and attach points are not offered. A kernel built with CONFIG_DEBUG_INFO_BTF=y provides it.`);
      return undefined;
    }
    // Yield once so that a request already queued is not held up by the parse.
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    try {
      const index = new KernelTypeIndex(parseBtf(bytes), path);
      const parsedMs = performance.now() - started;
      // The name index is what the first completion needs: build it now rather than then.
      index.btf.byName('task_struct');
      this.log.info(
        `Kernel types: ${index.btf.types.length - 1} types from ${path} (parsed in ${parsedMs.toFixed(0)} ms, indexed in ${(performance.now() - started - parsedMs).toFixed(0)} ms)`,
      );
      return index;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.warn(`Kernel types: ${path} could not be used: ${reason}`);
      return undefined;
    }
  }
}
