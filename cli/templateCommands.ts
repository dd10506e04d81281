/**
 * `ebpf-studio templates [--format text|json] [--target T]` lists the program templates of
 * bpf-templates/ (with --target, whether that target's kernel can run each, from the features its
 * agent probed), and `ebpf-studio new TEMPLATE DIR [--param key=value]...` writes one into DIR with
 * its parameters substituted, plus the .clangd flags that make clangd understand *.bpf.c, as the
 * editor's wizard does. Both are plain views over bpf-templates/templateCatalog.ts; the MCP server
 * uses the same functions.
 */
import { arch, release } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { KernelFeatures } from '../remote-agent/protocol';
import { findTemplate, instantiateTemplate, loadTemplates, notRunnableReason, type BpfTemplate, type HookKind, type TemplateParameter } from '../bpf-templates/templateCatalog';
import { clangdFlags, ensureVmlinuxHeader, readExistingConfig, updatedClangdConfig } from '../language-server/clangdConfig';
import { CONNECTION_OPTIONS, openCliSession, parseFormat } from './cliSession';

/** One entry of `templates --format json` (schemas/templates.schema.json). */
export interface JsonTemplate {
  id: string;
  title: string;
  description: string;
  hook: HookKind;
  programTypes: string[];
  parameters: TemplateParameter[];
  minKernel: string;
  /** With a target: whether its kernel can run the template. */
  runnable?: boolean;
  /** With a target, when it cannot: what its kernel lacks, e.g. "this kernel lacks BPF trampolines (fentry/fexit)". */
  notRunnableReason?: string;
}

/** The templates as JSON; with the target kernel's probed features, each with whether it can run there. */
export function toJsonTemplates(templates: readonly BpfTemplate[], features?: KernelFeatures): JsonTemplate[] {
  return templates.map((t) => {
    const reason = features === undefined ? undefined : notRunnableReason(t, features);
    return {
      id: t.id,
      title: t.title,
      description: t.description,
      hook: t.hook,
      programTypes: [...t.programTypes],
      parameters: t.parameters.map((p) => ({ ...p })),
      minKernel: t.minKernel,
      ...(features !== undefined && { runnable: reason === undefined }),
      ...(reason !== undefined && { notRunnableReason: reason }),
    };
  });
}

/** Grouped by hook kind, one line per template and one per parameter; `target` names the kernel the marks are about. */
export function formatTemplatesText(templates: readonly JsonTemplate[], target?: string): string {
  const out: string[] = [];
  const width = Math.max(0, ...templates.map((t) => t.id.length));
  let hook: string | undefined;
  for (const t of templates) {
    if (t.hook !== hook) {
      if (hook !== undefined) out.push('');
      out.push(`${t.hook}:`);
      hook = t.hook;
    }
    out.push(`  ${t.id.padEnd(width)}  ${t.title} — ${t.description}`);
    if (t.notRunnableReason !== undefined) out.push(`  ${' '.repeat(width)}  not runnable on ${target}: ${t.notRunnableReason}`);
    for (const p of t.parameters) out.push(`  ${' '.repeat(width)}  --param ${p.name}=${p.default}  (${p.kind}) ${p.description}`);
  }
  return `${out.join('\n')}\n`;
}

export async function templatesCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...CONNECTION_OPTIONS, target: { type: 'string' }, format: { type: 'string', default: 'text' } } });
  if (positionals.length > 0) throw new Error(`templates takes no arguments, not '${positionals[0]}' (see ebpf-studio templates --help)`);
  const format = parseFormat(values.format, ['text', 'json']);
  const templates = loadTemplates();
  let features: KernelFeatures | undefined;
  if (values.target !== undefined) {
    const session = await openCliSession(values, signal);
    try {
      features = session.hello.features;
    } finally {
      await session.dispose();
    }
  }
  const listed = toJsonTemplates(templates, features);
  process.stdout.write(format === 'json' ? `${JSON.stringify(listed, null, 2)}\n` : formatTemplatesText(listed, values.target));
  return 0;
}

/** `--param key=value` flags as a record; a malformed or repeated one is a usage error. */
export function parseParams(flags: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new Error(`--param must be NAME=VALUE, not '${flag}'`);
    const name = flag.slice(0, eq);
    if (Object.hasOwn(params, name)) throw new Error(`--param ${name} is given twice`);
    params[name] = flag.slice(eq + 1);
  }
  return params;
}

export interface ClangdWritten {
  path: string;
  flags: string[];
}

/**
 * Puts the flags for *.bpf.c into DIR/.clangd (our block replaced or appended; the rest of the file
 * kept), with a vmlinux.h generated from this machine's BTF into the user's cache, as the editor's
 * "Write clangd Configuration" does for a local target.
 */
export async function writeClangdConfigFile(dir: string, signal?: AbortSignal): Promise<ClangdWritten> {
  const vmlinuxDir = await ensureVmlinuxHeader('/sys/kernel/btf/vmlinux', `local-${release()}`, signal);
  const flags = clangdFlags({ arch: arch(), vmlinuxDir });
  const existing = readExistingConfig(dir);
  const file = path.join(dir, '.clangd');
  fs.writeFileSync(file, updatedClangdConfig(existing, flags));
  return { path: file, flags };
}

export interface NewProgram {
  template: BpfTemplate;
  /** The template's files as written, absolute. */
  written: string[];
  /** The .clangd written, or why it was not (the program's files are there either way). */
  clangd: ClangdWritten | { error: string };
}

/** Writes template @id into @dir (refusing to overwrite anything), then its .clangd. */
export async function newProgram(id: string, dir: string, params: Record<string, string>, signal?: AbortSignal): Promise<NewProgram> {
  const template = findTemplate(id);
  const written = instantiateTemplate(template, dir, params);
  let clangd: NewProgram['clangd'];
  try {
    clangd = await writeClangdConfigFile(dir, signal);
  } catch (e) {
    clangd = { error: e instanceof Error ? e.message : String(e) };
  }
  return { template, written, clangd };
}

export async function newCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { param: { type: 'string', multiple: true, default: [] } } });
  if (positionals.length !== 2) throw new Error('new needs a TEMPLATE and a DIR (see ebpf-studio templates for the templates)');
  const [id, dir] = positionals as [string, string];
  const params = parseParams(values.param);
  // A TemplateError (unknown template or parameter, bad value, files already there) is a usage error: main prints it, status 2.
  const created = await newProgram(id, path.resolve(dir), params, signal);
  const shown = (file: string): string => path.join(dir, path.relative(path.resolve(dir), file));
  const out = created.written.map((f) => `wrote ${shown(f)}`);
  if ('error' in created.clangd) out.push(`did not write ${path.join(dir, '.clangd')}: ${created.clangd.error}`);
  else out.push(`wrote ${shown(created.clangd.path)} (clangd flags for *.bpf.c: ${created.clangd.flags.join(' ')})`);
  out.push('', 'next:', `  ebpf-studio check ${shellWord(path.join(dir, created.template.program))}`, `  make -C ${shellWord(dir)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

/** @word as one shell word, quoted only when it needs to be. */
function shellWord(word: string): string {
  return /^[\w./+@:=-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
