/**
 * The project's own compile flags, as its build gives them: the include directories and macro
 * definitions of a `compile_commands.json` entry, a `.clangd`'s `CompileFlags: Add`, or a flags
 * string the user typed (`--cflags`, `ebpfStudio.compileFlags`). Pure functions of their input
 * (paths are resolved, never read); projectFlags.ts finds and reads the files.
 *
 * Only what decides which headers and macros a BPF compile sees is kept: `-I`, `-iquote`,
 * `-isystem` (in clang's search order: quote dirs, then -I, then -isystem) and `-D`/`-U` (applied
 * in order, so a later `-U` cancels an earlier `-D`). `-D__TARGET_ARCH_*` is dropped: the agent
 * sets it for the target. Everything else (`-target`, `-O2`, `-o`, …) is the agent's business.
 */
import * as path from 'node:path';
import { AgentLimits } from '../protocol';

export type IncludeKind = 'quote' | 'angle' | 'system';

export interface IncludeDir {
  /** Absolute local path. */
  dir: string;
  /** `-iquote` (only `#include "…"` searches it), `-I`, or `-isystem`. */
  kind: IncludeKind;
}

export interface ExtractedFlags {
  /** In clang's search order, duplicates removed. */
  includeDirs: IncludeDir[];
  /** "NAME" or "NAME=VALUE", as the agent takes them. */
  defines: string[];
  /** Flags that matter but cannot be passed on, each with why. */
  ignored: { flag: string; why: string }[];
}

export interface CompileCommand {
  /** Absolute working directory of the compile. */
  directory: string;
  /** Absolute path of the compiled file. */
  file: string;
  /** The command line, one argument per element (the compiler first). */
  arguments: string[];
}

/** Splits a command line as a POSIX shell would (quotes, backslashes); no expansion. */
export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let current: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else current += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) current += line[++i];
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      current ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      current = (current ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (current !== undefined) args.push(current);
      current = undefined;
    } else {
      current = (current ?? '') + c;
    }
  }
  if (quote !== undefined) throw new Error(`unterminated ${quote} quote in: ${line}`);
  if (current !== undefined) args.push(current);
  return args;
}

const INCLUDE_FLAGS: ReadonlyArray<[string, IncludeKind]> = [
  ['-iquote', 'quote'],
  ['-isystem', 'system'],
  ['--include-directory=', 'angle'],
  ['-I', 'angle'],
];
const KIND_ORDER: Readonly<Record<IncludeKind, number>> = { quote: 0, angle: 1, system: 2 };
const DEFINE = /^[A-Za-z_][A-Za-z0-9_]*(=[^\s]*)?$/;

/**
 * The include directories and defines of a command line (`args` without the compiler is fine too);
 * relative directories are resolved against `directory`.
 */
export function extractFlags(args: readonly string[], directory: string): ExtractedFlags {
  const dirs: IncludeDir[] = [];
  const defines = new Map<string, string>();
  const ignored: ExtractedFlags['ignored'] = [];
  const undefine = (name: string, flag: string): void => {
    if (!defines.delete(name)) ignored.push({ flag, why: 'it undefines a macro the compiler itself defines; the agent cannot pass -U' });
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const include = INCLUDE_FLAGS.find(([flag]) => arg.startsWith(flag));
    if (include) {
      const [flag, kind] = include;
      const value = arg.length > flag.length ? arg.slice(flag.length) : args[++i];
      if (value === undefined) break;
      if (value.startsWith('=')) {
        ignored.push({ flag: `${flag}${value}`, why: 'a sysroot-relative directory is the target system\'s own' });
        continue;
      }
      dirs.push({ dir: path.resolve(directory, value), kind });
      continue;
    }
    if (arg.startsWith('-D') || arg.startsWith('-U')) {
      const value = arg.length > 2 ? arg.slice(2) : args[++i];
      if (value === undefined) break;
      const flag = `${arg.slice(0, 2)}${value}`;
      const name = value.split('=')[0];
      if (arg.startsWith('-U')) {
        undefine(name, flag);
      } else if (!DEFINE.test(value) || Buffer.byteLength(value) > AgentLimits.compileMaxDefineBytes) {
        ignored.push({ flag, why: 'the agent takes NAME or NAME=VALUE with no whitespace in VALUE' });
      } else if (name.startsWith('__TARGET_ARCH_')) {
        ignored.push({ flag, why: "the agent defines __TARGET_ARCH_* for the target's architecture" });
      } else {
        defines.delete(name); // the last definition wins, and keeps its place after the others
        defines.set(name, value);
      }
    }
  }
  const seen = new Set<string>();
  const includeDirs = dirs
    .map((d, order) => ({ ...d, order }))
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.order - b.order)
    .filter((d) => !seen.has(d.dir) && seen.add(d.dir))
    .map(({ dir, kind }) => ({ dir, kind }));
  const kept = [...defines.values()];
  for (const extra of kept.splice(AgentLimits.compileMaxDefines)) {
    ignored.push({ flag: `-D${extra}`, why: `the agent takes at most ${AgentLimits.compileMaxDefines} defines` });
  }
  return { includeDirs, defines: kept, ignored };
}

/**
 * The entries of a JSON compilation database (`compile_commands.json` in `databaseDir`). A relative
 * `directory` is taken relative to the database's own directory. Throws on a malformed database.
 */
export function parseCompileDatabase(text: string, databaseDir: string): CompileCommand[] {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(entries)) throw new Error('not a JSON array of compile commands');
  return entries.map((entry: unknown, i): CompileCommand => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof e.directory !== 'string' || typeof e.file !== 'string') throw new Error(`entry ${i} lacks "directory" or "file"`);
    const directory = path.resolve(databaseDir, e.directory);
    let args: string[];
    if (Array.isArray(e.arguments) && e.arguments.every((a) => typeof a === 'string')) args = e.arguments as string[];
    else if (typeof e.command === 'string') args = splitCommandLine(e.command);
    else throw new Error(`entry ${i} has neither "arguments" (strings) nor "command"`);
    return { directory, file: path.resolve(directory, e.file), arguments: args };
  });
}

/**
 * The compile command for `file`: its own entry; else (a header, a file the build does not list
 * yet) the nearest one — a BPF program's (`*.bpf.c`) before others when `file` is one too, then the
 * one sharing the longest directory prefix with it, the first of equals.
 */
export function pickCompileCommand(commands: readonly CompileCommand[], file: string): { command: CompileCommand; exact: boolean } | undefined {
  const exact = commands.find((c) => c.file === file);
  if (exact) return { command: exact, exact: true };
  const isBpf = (f: string): boolean => f.endsWith('.bpf.c');
  const dirSegments = path.dirname(file).split(path.sep);
  const shared = (c: CompileCommand): number => {
    const other = path.dirname(c.file).split(path.sep);
    let n = 0;
    while (n < dirSegments.length && n < other.length && dirSegments[n] === other[n]) n++;
    return n;
  };
  let best: { command: CompileCommand; score: [number, number] } | undefined;
  for (const command of commands) {
    const score: [number, number] = [isBpf(file) && isBpf(command.file) ? 1 : 0, shared(command)];
    if (!best || score[0] > best.score[0] || (score[0] === best.score[0] && score[1] > best.score[1])) best = { command, score };
  }
  return best && { command: best.command, exact: false };
}

/**
 * The flags a `.clangd` adds for `relativePath` (the file's path relative to the `.clangd`'s
 * directory, '/'-separated): `CompileFlags: Add` of every YAML document whose `If:` block's
 * `PathMatch` matches it and whose `PathExclude` does not (clangd's anchored regexes). Reads the
 * subset of YAML `.clangd` files use: block mappings, flow `[a, b]` and block `- a` lists, quoted
 * and plain scalars.
 */
export function clangdAddedFlags(text: string, relativePath: string): string[] {
  const added: string[] = [];
  for (const document of text.split(/^---[ \t]*$/m)) {
    const doc = parseClangdDocument(document);
    const matches = (patterns: string[]): boolean => patterns.some((p) => new RegExp(`^(?:${p})$`).test(relativePath));
    if (doc.pathMatch.length > 0 && !matches(doc.pathMatch)) continue;
    if (doc.pathExclude.length > 0 && matches(doc.pathExclude)) continue;
    added.push(...doc.add);
  }
  return added;
}

interface ClangdDocument {
  pathMatch: string[];
  pathExclude: string[];
  add: string[];
}

/** The keys we need of one document: If.PathMatch, If.PathExclude, CompileFlags.Add. */
function parseClangdDocument(text: string): ClangdDocument {
  const doc: ClangdDocument = { pathMatch: [], pathExclude: [], add: [] };
  const lines = text.split('\n').map((l) => stripComment(l)).filter((l) => l.trim() !== '');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const key = /^\s*([A-Za-z]+)\s*:\s*(.*)$/.exec(line);
    if (!key) continue;
    if (indent === 0) {
      section = key[1];
      continue;
    }
    const target = section === 'If' && key[1] === 'PathMatch' ? doc.pathMatch
      : section === 'If' && key[1] === 'PathExclude' ? doc.pathExclude
      : section === 'CompileFlags' && key[1] === 'Add' ? doc.add
      : undefined;
    if (!target) continue;
    const inline = key[2].trim();
    if (inline.startsWith('[')) target.push(...splitFlowList(inline));
    else if (inline !== '') target.push(yamlScalar(inline));
    else {
      while (i + 1 < lines.length && /^\s*-(\s|$)/.test(lines[i + 1]) && lines[i + 1].length - lines[i + 1].trimStart().length >= indent) {
        target.push(yamlScalar(lines[++i].trimStart().slice(1).trim()));
      }
    }
  }
  return doc;
}

/** A line without its `# comment` (a '#' outside quotes, at the start or after a blank). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function splitFlowList(text: string): string[] {
  const inner = text.replace(/^\[/, '').replace(/\]\s*$/, '');
  const items: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const c of inner) {
    if (quote) {
      current += c;
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      items.push(current);
      current = '';
    } else current += c;
  }
  items.push(current);
  return items.map((s) => s.trim()).filter((s) => s !== '').map(yamlScalar);
}

function yamlScalar(text: string): string {
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) return JSON.parse(text) as string;
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1).replace(/''/g, "'");
  return text;
}
