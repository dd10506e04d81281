// The template catalogue: reads each bpf-templates/<id>/template.json, says whether a target's
// kernel can run a template (from the features its agent probed, never from its version), and
// writes a template into a folder with its parameters substituted. Plain functions over files and
// data: the CLI, the MCP server, the extension and the tests all use it.
//
// A template folder holds the program (`<name>.bpf.c`), its event layout (`<name>.h`), a
// standalone loader (`<name>.c` on a bpftool skeleton, and a Makefile), a README.md and
// template.json. Every file but template.json is written on instantiation, with each `{{param}}`
// replaced by the parameter's value.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KernelFeatures } from '../remote-agent/protocol';

/** Hook kinds, in the order a picker groups them. */
export const HOOK_KINDS = ['tracepoint', 'kprobe', 'fentry', 'uprobe', 'usdt', 'perf_event', 'lsm', 'iter', 'xdp', 'tc', 'cgroup', 'socket'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

/**
 * What a parameter names: decides how its value is checked before it is written into C, and where
 * the editor's suggestions come from (tracefs, the kernel's BTF, the target's interfaces or files).
 */
export const PARAMETER_KINDS = {
  /** "category/name" under tracefs events, e.g. "syscalls/sys_enter_openat". */
  tracepoint: /^[A-Za-z0-9_]+\/[A-Za-z0-9_]+$/,
  /** A kernel function in the target's BTF, e.g. "do_unlinkat". */
  kernelFunction: /^[A-Za-z_][A-Za-z0-9_.]*$/,
  /** A syscall name without prefix, e.g. "openat" (ksyscall). */
  syscall: /^[a-z_][a-z0-9_]*$/,
  /** An LSM hook name without the bpf_lsm_ prefix, e.g. "file_open". */
  lsmHook: /^[a-z_][a-z0-9_]*$/,
  /** A network interface name (IFNAMSIZ - 1 bytes at most), e.g. "eth0". */
  interface: /^[A-Za-z0-9_.:-]{1,15}$/,
  /** An absolute path of a user-space binary or library, e.g. "/bin/bash". */
  binary: /^\/[A-Za-z0-9_.+@\/-]*$/,
  /** A symbol in a user-space binary, e.g. "readline". */
  symbol: /^[A-Za-z_][A-Za-z0-9_.@]*$/,
  /** A USDT "provider:name", e.g. "libc:setjmp". */
  usdt: /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/,
  /** A TCP/UDP port, 1–65535. */
  port: /^(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/,
  /** A C identifier. */
  identifier: /^[A-Za-z_][A-Za-z0-9_]*$/,
} as const;
export type ParameterKind = keyof typeof PARAMETER_KINDS;

export interface TemplateParameter {
  /** Written as `{{name}}` in the template's files. */
  name: string;
  description: string;
  kind: ParameterKind;
  /** The value used when none is given; a value every test kernel has. */
  default: string;
}

/** KernelFeatures a template can require: the boolean ones, and tracefs/bpffs being mounted. */
export const REQUIREMENTS = {
  kprobeEvents: 'kprobe events (CONFIG_KPROBE_EVENTS)',
  uprobeEvents: 'uprobe events (CONFIG_UPROBE_EVENTS)',
  tracingPrograms: 'BPF trampolines (fentry/fexit)',
  lsm: 'BPF LSM (CONFIG_BPF_LSM and "bpf" in the lsm= boot list)',
  ringbuf: 'BPF ring buffers (Linux 5.8+)',
  tcx: 'tcx links (Linux 6.6+)',
  bpfCookie: 'BPF cookies (Linux 5.15+)',
  tracefs: 'tracefs mounted',
  bpffs: 'bpffs mounted',
} as const satisfies Record<string, string>;
export type Requirement = keyof typeof REQUIREMENTS;

/** template.json. */
export interface TemplateManifest {
  /** The folder's name: lower-case words joined by '-'. */
  id: string;
  title: string;
  /** One line: what the program shows. */
  description: string;
  hook: HookKind;
  /** libbpf program type names the program loads as (as in KernelFeatures.programTypes). */
  programTypes: string[];
  /** The oldest kernel it is written for, "major.minor" (informative; runnability is probed). */
  minKernel: string;
  /** Kernel features it needs beyond its program types. */
  requires: Requirement[];
  parameters: TemplateParameter[];
  /** The BPF C file, e.g. "execsnoop.bpf.c". */
  program: string;
}

export interface BpfTemplate extends TemplateManifest {
  /** Absolute path of the template's folder. */
  dir: string;
  /** Files written on instantiation, relative to `dir`, sorted. */
  files: string[];
}

export class TemplateError extends Error {}

/** Where the templates are: this folder in the sources, the package's bpf-templates beside out/ when bundled. */
export function defaultTemplatesDir(): string {
  return join(__dirname, '..', 'bpf-templates');
}

/** Every template under `dir`, grouped by hook kind in HOOK_KINDS order, then by id. A malformed template.json throws naming the file. */
export function loadTemplates(dir: string = defaultTemplatesDir()): BpfTemplate[] {
  const templates: BpfTemplate[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const manifestPath = join(dir, entry, 'template.json');
    if (!existsSync(manifestPath)) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch (e) {
      throw new TemplateError(`${manifestPath}: not valid JSON (${(e as Error).message})`);
    }
    const manifest = checkManifest(raw, manifestPath);
    if (manifest.id !== entry) throw new TemplateError(`${manifestPath}: id "${manifest.id}" differs from its folder "${entry}"`);
    const templateDir = join(dir, entry);
    const files = listFiles(templateDir).filter((f) => f !== 'template.json');
    if (!files.includes(manifest.program)) throw new TemplateError(`${manifestPath}: program "${manifest.program}" is not in the folder`);
    templates.push({ ...manifest, dir: templateDir, files });
  }
  return templates.sort((a, b) => HOOK_KINDS.indexOf(a.hook) - HOOK_KINDS.indexOf(b.hook) || a.id.localeCompare(b.id));
}

/** The template with this id; throws listing the ids there are. */
export function findTemplate(id: string, dir?: string): BpfTemplate {
  const templates = loadTemplates(dir);
  const found = templates.find((t) => t.id === id);
  if (found === undefined) throw new TemplateError(`no template "${id}"; there are: ${templates.map((t) => t.id).join(', ')}`);
  return found;
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix === '' ? entry : `${prefix}/${entry}`;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

function checkManifest(raw: unknown, where: string): TemplateManifest {
  const fail = (what: string): never => {
    throw new TemplateError(`${where}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not a JSON object');
  const m = raw as Record<string, unknown>;
  const str = (key: string): string => (typeof m[key] === 'string' && m[key] !== '' ? (m[key] as string) : fail(`"${key}" must be a non-empty string`));
  const strings = (key: string): string[] =>
    Array.isArray(m[key]) && (m[key] as unknown[]).every((s) => typeof s === 'string') ? (m[key] as string[]) : fail(`"${key}" must be an array of strings`);
  const id = str('id');
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(id)) fail(`id "${id}" must be lower-case words joined by '-'`);
  const hook = str('hook');
  if (!(HOOK_KINDS as readonly string[]).includes(hook)) fail(`hook "${hook}" is not one of ${HOOK_KINDS.join(', ')}`);
  const minKernel = str('minKernel');
  if (!/^\d+\.\d+$/.test(minKernel)) fail(`minKernel "${minKernel}" must be "major.minor"`);
  const requires = strings('requires');
  for (const r of requires) if (!(r in REQUIREMENTS)) fail(`requires "${r}" is not one of ${Object.keys(REQUIREMENTS).join(', ')}`);
  const program = str('program');
  if (!program.endsWith('.bpf.c') || program.includes('/')) fail(`program "${program}" must be a *.bpf.c file in the template's folder`);
  if (!Array.isArray(m.parameters)) fail('"parameters" must be an array');
  const parameters = (m.parameters as unknown[]).map((p, i): TemplateParameter => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return fail(`parameters[${i}] must be an object`);
    const q = p as Record<string, unknown>;
    const field = (key: string): string => (typeof q[key] === 'string' ? (q[key] as string) : fail(`parameters[${i}].${key} must be a string`));
    const name = field('name');
    if (!PARAMETER_KINDS.identifier.test(name)) fail(`parameters[${i}].name "${name}" must be a C identifier`);
    if ((m.parameters as { name?: unknown }[]).slice(0, i).some((earlier) => earlier?.name === name)) fail(`parameters[${i}].name "${name}" is declared twice`);
    const kind = field('kind');
    if (!(kind in PARAMETER_KINDS)) fail(`parameters[${i}].kind "${kind}" is not one of ${Object.keys(PARAMETER_KINDS).join(', ')}`);
    const value = field('default');
    const bad = parameterValueError(kind as ParameterKind, value);
    if (bad !== undefined) fail(`parameters[${i}].default: ${bad}`);
    return { name, description: field('description'), kind: kind as ParameterKind, default: value };
  });
  return {
    id,
    title: str('title'),
    description: str('description'),
    hook: hook as HookKind,
    programTypes: strings('programTypes'),
    minKernel,
    requires: requires as Requirement[],
    parameters,
    program,
  };
}

/** Why `value` cannot be a parameter of this kind, or undefined when it can. */
export function parameterValueError(kind: ParameterKind, value: string): string | undefined {
  if (PARAMETER_KINDS[kind].test(value)) return undefined;
  const examples: Record<ParameterKind, string> = {
    tracepoint: 'category/name, e.g. syscalls/sys_enter_openat',
    kernelFunction: 'a kernel function name, e.g. do_unlinkat',
    syscall: 'a syscall name, e.g. openat',
    lsmHook: 'an LSM hook name, e.g. file_open',
    interface: 'an interface name of at most 15 characters, e.g. eth0',
    binary: 'an absolute path, e.g. /bin/bash',
    symbol: 'a symbol name, e.g. readline',
    usdt: 'provider:name, e.g. libc:setjmp',
    port: 'a port number from 1 to 65535',
    identifier: 'a C identifier',
  };
  return `"${value}" is not ${examples[kind]}`;
}

/** What a kernel lacks to run the template, in words ([] when it can run it). */
export function missingFeatures(template: TemplateManifest, features: KernelFeatures): string[] {
  const missing: string[] = [];
  for (const type of template.programTypes) if (!features.programTypes.includes(type)) missing.push(`${type} programs`);
  for (const r of template.requires) {
    const has = r === 'tracefs' || r === 'bpffs' ? features[r] !== null : features[r];
    if (!has) missing.push(REQUIREMENTS[r]);
  }
  return missing;
}

/** "this kernel lacks X and Y", or undefined when the kernel can run the template. */
export function notRunnableReason(template: TemplateManifest, features: KernelFeatures): string | undefined {
  const missing = missingFeatures(template, features);
  if (missing.length === 0) return undefined;
  const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  return `this kernel lacks ${list}`;
}

/** Each parameter's value: the given one, else its default. Throws on an unknown name or a bad value. */
export function resolveParameters(template: TemplateManifest, given: Record<string, string> = {}): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!template.parameters.some((p) => p.name === name)) {
      const known = template.parameters.map((p) => p.name);
      throw new TemplateError(`template "${template.id}" has no parameter "${name}"${known.length > 0 ? `; it has: ${known.join(', ')}` : ''}`);
    }
  }
  const values: Record<string, string> = {};
  for (const p of template.parameters) {
    const value = given[p.name] ?? p.default;
    const bad = parameterValueError(p.kind, value);
    if (bad !== undefined) throw new TemplateError(`${p.name}: ${bad}`);
    values[p.name] = value;
  }
  return values;
}

/** A template file's text with every `{{name}}` replaced; a placeholder without a value throws. */
export function substitute(text: string, values: Record<string, string>, where: string): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new TemplateError(`${where}: {{${name}}} is not a parameter of the template`);
    return value;
  });
}

/**
 * Writes the template's files into `destDir` (created if needed) with the parameters substituted;
 * returns the written paths. Refuses, writing nothing, when any of the files already exists there:
 * a user's work is never overwritten.
 */
export function instantiateTemplate(template: BpfTemplate, destDir: string, given: Record<string, string> = {}): string[] {
  const values = resolveParameters(template, given);
  const outputs = template.files.map((rel) => ({ rel, text: substitute(readFileSync(join(template.dir, rel), 'utf8'), values, `${template.id}/${rel}`) }));
  const existing = outputs.filter((o) => existsSync(join(destDir, o.rel))).map((o) => o.rel);
  if (existing.length > 0) throw new TemplateError(`${destDir} already has ${existing.join(', ')}: choose an empty folder, nothing was written`);
  const written: string[] = [];
  for (const o of outputs) {
    const path = join(destDir, o.rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, o.text, { flag: 'wx' });
    written.push(path);
  }
  return written;
}
