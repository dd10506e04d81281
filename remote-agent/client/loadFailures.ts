/**
 * Failures before or around verification, read from libbpf's (and the agent's) lines of a failed
 * load and placed on the source line that causes them: a map that cannot be created (on its
 * definition, its max_entries line when the size is the problem), an unresolved kfunc, ksym or
 * kconfig extern (on its declaration), an unknown LINUX_KERNEL_VERSION, an attach target the kernel
 * lacks (on the program's SEC line), a BTF the kernel refused. Each names the knowledge-base entry
 * that explains it and, where a loader would set something before load, the preset that stands in
 * for it. Pure: takes the log, the sources and the object's BTF facts; does no I/O.
 */
import type { Btf } from './btf';

/** A load preset a quick fix or CLI flag can supply (LoadPresets in protocol.ts). */
export type PresetHint = { kind: 'mapSize'; map: string } | { kind: 'attachTarget'; program: string; current: string } | { kind: 'kconfig'; name: string };

export interface LoadFailure {
  /** What went wrong, in one or two lines: libbpf's words first, then what they mean here. */
  message: string[];
  /** Knowledge-base entry (verifierKnowledge.ts) explaining it. */
  kindId: string;
  /** Where it is caused, as a path of `sources` (1-based line and column); undefined: the program's own line. */
  at?: { path: string; line: number; column: number };
  preset?: PresetHint;
}

export interface SourceText {
  path: string;
  content: string;
}

/** What the object says of a map: its type number and max_entries (0 when the definition sets none). */
export interface MapFacts {
  type?: number;
  maxEntries: number;
}

export interface LoadFailureContext {
  program: string;
  section: string;
  kernelRelease: string;
  sources: readonly SourceText[];
  /** From the object's BTF (`mapFactsOf`); absent for maps it does not describe. */
  maps: ReadonlyMap<string, MapFacts>;
  /** Where the program's function is defined: its SEC line is the nearest one above. */
  definition?: { path: string; line: number };
}

const LINE_PREFIX = /^(libbpf|ebpf-agent): /;

/**
 * The reason a program's load failed before the verifier judged it, from its libbpfLog; undefined
 * when libbpf's lines name none we know (the caller then shows the raw last line).
 */
export function loadFailureOf(libbpfLog: string, ctx: LoadFailureContext): LoadFailure | undefined {
  const lines = libbpfLog.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // A program kind the kernel lacks altogether is the deeper reason; the caller explains that one.
  if (lines.some((l) => /^ebpf-agent: \S+ is an? .+ program, and this kernel/.test(l))) return undefined;
  // The agent's note on a map type the kernel lacks says more than libbpf's bare EINVAL before it.
  const ordered = [...lines.filter((l) => / map, and this kernel cannot create /.test(l)), ...lines];
  for (const raw of ordered) {
    const failure = matchLine(raw.replace(LINE_PREFIX, ''), ctx);
    if (failure) return failure;
  }
  // A refused BTF is often survived ("BTF is optional, ignoring"): the reason only when nothing else is.
  const btf = lines.map((l) => l.replace(LINE_PREFIX, '')).find((l) => /^Error loading (\.BTF into kernel|BTF)/.test(l));
  return btf === undefined ? undefined : { message: [btf], kindId: 'btf-rejected' };
}

function matchLine(line: string, ctx: LoadFailureContext): LoadFailure | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^map '([^']+)' is an? (\S+) map, and this kernel cannot create/.exec(line))) {
    return { message: [line, `the kernel ${ctx.kernelRelease} has no ${m[2]} maps`], kindId: 'map-type-unsupported', at: mapDefinition(ctx.sources, m[1]!, false) };
  }
  if ((m = /^map '([^']+)': failed to create: (.*)$/.exec(line))) {
    const map = m[1]!;
    const facts = ctx.maps.get(map);
    if (facts?.maxEntries === 0) {
      return {
        message: [line, `map '${map}' has max_entries 0: its loader sets the size before load (a map-size preset does that for the check)`],
        kindId: 'map-size-unset',
        at: mapDefinition(ctx.sources, map, true),
        preset: { kind: 'mapSize', map },
      };
    }
    const tooLarge = /too long|E2BIG|Cannot allocate|ENOMEM/.test(m[2]!);
    if (tooLarge && facts) {
      return {
        message: [line, `map '${map}' has max_entries ${facts.maxEntries}: more than the kernel would allocate for it`],
        kindId: 'map-create-failed',
        at: mapDefinition(ctx.sources, map, true),
        preset: { kind: 'mapSize', map },
      };
    }
    return { message: [line], kindId: 'map-create-failed', at: mapDefinition(ctx.sources, map, tooLarge) };
  }
  if ((m = /^extern \((func|var) ksym\) '([^']+)': not found/.exec(line))) {
    const what = m[1] === 'func' ? 'kfunc' : 'kernel variable';
    return { message: [line, `this kernel (${ctx.kernelRelease}) has no ${what} '${m[2]}'`], kindId: 'kfunc-unknown', at: externDeclaration(ctx.sources, m[2]!) };
  }
  if ((m = /^extern '([^']+)' \(strong\): not resolved/.exec(line))) {
    const name = m[1]!;
    const kconfig = name.startsWith('CONFIG_');
    return {
      message: [line, kconfig ? `${name} is not set in the kernel configuration of ${ctx.kernelRelease}` : `this kernel (${ctx.kernelRelease}) has no symbol '${name}'`],
      kindId: kconfig ? 'kconfig-value-missing' : 'kfunc-unknown',
      at: externDeclaration(ctx.sources, name),
      ...(kconfig && { preset: { kind: 'kconfig' as const, name } }),
    };
  }
  if (/^failed to open system Kconfig/.test(line)) {
    const decl = kconfigDeclaration(ctx.sources);
    return {
      message: [line, `the kernel ${ctx.kernelRelease} offers no configuration to read CONFIG_ values from (neither /proc/config.gz nor /boot/config-${ctx.kernelRelease})`],
      kindId: 'kconfig-value-missing',
      ...(decl && { at: decl.at, preset: { kind: 'kconfig' as const, name: decl.name } }),
    };
  }
  if (/failed to get kernel version$/.test(line)) {
    return {
      message: [line, `libbpf could not read a version number of the form major.minor.patch from this kernel's release '${ctx.kernelRelease}'`],
      kindId: 'kernel-version-unknown',
      at: externDeclaration(ctx.sources, 'LINUX_KERNEL_VERSION'),
    };
  }
  if ((m = /^prog '([^']+)': failed to find kernel BTF type ID of '([^']+)'/.exec(line))) {
    return {
      message: [line, `this kernel (${ctx.kernelRelease}) has no function '${m[2]}' in its BTF for ${m[1]} to attach to`],
      kindId: 'attach-target-not-found',
      at: sectionLine(ctx),
      preset: { kind: 'attachTarget', program: m[1]!, current: m[2]! },
    };
  }
  if ((m = /^prog '([^']+)': attach target '([^']+)' \(a preset\) is not a function/.exec(line))) {
    return { message: [line], kindId: 'attach-target-not-found', at: sectionLine(ctx), preset: { kind: 'attachTarget', program: m[1]!, current: m[2]! } };
  }
  return undefined;
}

/**
 * A CO-RE relocation the verifier rejected, in words: "[5] struct task_struct___old.no_such_field"
 * becomes which kernel type lacks which field (a `___suffix` flavour names the kernel's type
 * without it). Undefined when the message is not a CO-RE failure.
 */
export function coreRelocationNote(message: readonly string[]): string | undefined {
  const m = /failed to resolve CO-RE relocation <(\w+)> \[\d+\] (struct|union|enum|typedef) (\w+)((?:\.\w+)*)/.exec(message.join('\n'));
  if (!m) return undefined;
  const [, relo, kind, local, access] = m as unknown as [string, string, string, string, string];
  const kernelName = local.replace(/___\w*$/, '');
  const flavour = kernelName !== local ? ` (the program's ${kind} ${local})` : '';
  const field = access.replace(/^\./, '');
  if (field !== '' && /^(byte_off|byte_sz|field_exists|signed|lshift_u64|rshift_u64)$/.test(relo)) {
    return `this kernel's BTF has no ${kind} ${kernelName} with a field ${field}${flavour}`;
  }
  return `this kernel's BTF has no ${kind} ${kernelName}${flavour}`;
}

/** Map name → its type and max_entries, from the `.maps` section of the object's BTF. */
export function mapFactsOf(btf: Btf): Map<string, MapFacts> {
  const facts = new Map<string, MapFacts>();
  for (const sec of btf.types) {
    if (sec.kind !== 'datasec' || sec.name !== '.maps') continue;
    for (const v of sec.vars ?? []) {
      const variable = btf.types[v.type];
      if (variable?.kind !== 'var' || variable.type === undefined) continue;
      const def = btf.resolve(variable.type);
      const member = (name: string): number | undefined => {
        const m = def.members?.find((x) => x.name === name);
        if (!m) return undefined;
        const ptr = btf.resolve(m.type);
        const array = ptr.kind === 'ptr' && ptr.type !== undefined ? btf.resolve(ptr.type) : undefined;
        return array?.array?.nelems;
      };
      facts.set(variable.name, { type: member('type'), maxEntries: member('max_entries') ?? 0 });
    }
  }
  return facts;
}

/** The line of a map's definition: its `max_entries` line when asked and present, else the line naming it. */
function mapDefinition(sources: readonly SourceText[], map: string, sizeLine: boolean): LoadFailure['at'] {
  const named = new RegExp(`\\b${escape(map)}\\s+SEC\\s*\\(\\s*"\\.?maps"|SEC\\s*\\(\\s*"\\.?maps"\\s*\\)\\s*${escape(map)}\\b`);
  for (const s of sources) {
    const lines = s.content.split('\n');
    const at = lines.findIndex((l) => named.test(l));
    if (at < 0) continue;
    if (sizeLine) {
      // The definition's body: back to the line that opens it.
      for (let i = at; i >= 0 && i >= at - 40; i--) {
        const col = lines[i]!.search(/\bmax_entries\b/);
        if (col >= 0) return { path: s.path, line: i + 1, column: col + 1 };
        if (i < at && /[;}]\s*$/.test(lines[i]!) && !/^\s*__/.test(lines[i]!)) break;
      }
    }
    return { path: s.path, line: at + 1, column: lines[at]!.search(new RegExp(`\\b${escape(map)}\\b`)) + 1 };
  }
  return undefined;
}

/** The `extern` declaration of a kfunc, ksym or kconfig value. */
function externDeclaration(sources: readonly SourceText[], name: string): LoadFailure['at'] {
  const word = new RegExp(`\\b${escape(name)}\\b`);
  for (const s of sources) {
    const lines = s.content.split('\n');
    const at = lines.findIndex((l) => /\bextern\b/.test(l) && word.test(l));
    if (at >= 0) return { path: s.path, line: at + 1, column: lines[at]!.search(word) + 1 };
  }
  return undefined;
}

/** The first `extern … CONFIG_… __kconfig` declaration, and the option it names. */
function kconfigDeclaration(sources: readonly SourceText[]): { at: NonNullable<LoadFailure['at']>; name: string } | undefined {
  for (const s of sources) {
    const lines = s.content.split('\n');
    const at = lines.findIndex((l) => /\bextern\b.*\bCONFIG_\w+.*__kconfig/.test(l));
    if (at >= 0) return { at: { path: s.path, line: at + 1, column: lines[at]!.search(/\bCONFIG_/) + 1 }, name: /\b(CONFIG_\w+)/.exec(lines[at]!)![1]! };
  }
  return undefined;
}

/** The `SEC("…")` line naming the program's section: the nearest above its definition, else the first. */
function sectionLine(ctx: LoadFailureContext): LoadFailure['at'] {
  const sec = new RegExp(`SEC\\s*\\(\\s*"${escape(ctx.section)}"\\s*\\)`);
  const def = ctx.definition;
  const home = def && ctx.sources.find((s) => s.path === def.path);
  if (def && home) {
    const lines = home.content.split('\n');
    for (let i = Math.min(def.line, lines.length) - 1; i >= 0 && i >= def.line - 10; i--) {
      if (sec.test(lines[i]!)) return { path: home.path, line: i + 1, column: lines[i]!.search(sec) + 1 };
    }
  }
  for (const s of ctx.sources) {
    const lines = s.content.split('\n');
    const at = lines.findIndex((l) => sec.test(l));
    if (at >= 0) return { path: s.path, line: at + 1, column: lines[at]!.search(sec) + 1 };
  }
  return undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
