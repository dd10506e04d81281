/**
 * Finds the compile flags a BPF C file is built with in its project, as clangd would: the nearest
 * `compile_commands.json` (in the file's directory or an ancestor, or their `build/`), else the
 * nearest `.clangd`'s `CompileFlags: Add`, else flags the user gave (`--cflags`,
 * `ebpfStudio.compileFlags`). Include directories outside the workspace are the target system's
 * business (`/usr/include` is the target's, not this machine's) and are left out; the others are
 * what sourceBundle.ts ships. Parsing is compileFlags.ts's; this module only looks for files.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { AgentLimits } from '../protocol';
import { clangdAddedFlags, extractFlags, parseCompileDatabase, pickCompileCommand, splitCommandLine, type CompileCommand, type ExtractedFlags } from './compileFlags';
import { collectSourceBundle, type ReadSource, type SourceBundle } from './sourceBundle';

export interface FlagsLookup {
  /** Where the search for compile_commands.json and .clangd stops (inclusive), and the boundary of shipped headers. */
  workspaceRoot: string;
  /** The user's flags, used when the project has neither file. */
  fallbackFlags?: string;
  /** What to call the fallback in messages: "--cflags" or "ebpfStudio.compileFlags". */
  fallbackName?: string;
  /** Directory the fallback's relative paths are relative to; default workspaceRoot. */
  fallbackDir?: string;
}

export interface ProjectFlags extends ExtractedFlags {
  /** Where the flags came from: the compile_commands.json or .clangd path, or the fallback's name. */
  source: string;
  /** Include directories must be inside it to be shipped. */
  workspaceRoot: string;
}

/** The flags for `file`, or undefined when the project gives none. Throws on a malformed file, naming it. */
export async function findProjectFlags(file: string, lookup: FlagsLookup): Promise<ProjectFlags | undefined> {
  const main = path.resolve(file);
  const root = path.resolve(lookup.workspaceRoot);
  const found = (await fromCompileDatabase(main, root)) ?? (await fromClangd(main, root)) ?? fromFallback(lookup, root);
  if (!found) return undefined;
  const inside = found.flags.includeDirs.filter((d) => isWithin(root, d.dir));
  const outside = found.flags.includeDirs.filter((d) => !isWithin(root, d.dir));
  const tooMany = inside.splice(AgentLimits.compileMaxIncludeDirs);
  return {
    source: found.source,
    workspaceRoot: root,
    includeDirs: inside,
    defines: found.flags.defines,
    ignored: [
      ...found.flags.ignored,
      ...outside.map((d) => ({ flag: `${flagOf(d.kind)}${d.dir}`, why: "it is outside the workspace: the target's own headers are used there" })),
      ...tooMany.map((d) => ({ flag: `${flagOf(d.kind)}${d.dir}`, why: `the agent takes at most ${AgentLimits.compileMaxIncludeDirs} include directories` })),
    ],
  };
}

/**
 * The workspace of a file when no editor says: the nearest directory holding `.git` (the
 * repository, vendored submodules included); else `cwd` when the file is inside it; else the
 * file's own directory.
 */
export function defaultWorkspaceRoot(file: string, cwd?: string): string {
  const dir = path.dirname(path.resolve(file));
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return d;
    if (path.dirname(d) === d) break;
  }
  return cwd !== undefined && isWithin(path.resolve(cwd), dir) ? path.resolve(cwd) : dir;
}

/** How the CLI looks: the file's repository (else `cwd`), and `--cflags` relative to `cwd`. */
export function commandLineLookup(file: string, cflags: string | undefined, cwd: string): FlagsLookup {
  return { workspaceRoot: defaultWorkspaceRoot(file, cwd), ...(cflags !== undefined && { fallbackFlags: cflags, fallbackName: '--cflags', fallbackDir: cwd }) };
}

/** `file`'s source bundle with its project's flags (`lookup`, else the default workspace's files). */
export async function collectProjectBundle(
  file: string,
  opts: { readFile?: ReadSource; signal?: AbortSignal; project?: FlagsLookup },
): Promise<SourceBundle> {
  const flags = await findProjectFlags(file, opts.project ?? { workspaceRoot: defaultWorkspaceRoot(file) });
  return collectSourceBundle(file, { readFile: opts.readFile, signal: opts.signal, flags });
}

type Found = { source: string; flags: ExtractedFlags } | undefined;

/** Parsed databases by path, kept while their size and mtime stay the same (a big one is parsed once, not per save). */
const databases = new Map<string, { stamp: string; commands: CompileCommand[] }>();

async function fromCompileDatabase(main: string, root: string): Promise<Found> {
  for (const dir of ancestors(path.dirname(main), root)) {
    for (const candidate of [path.join(dir, 'compile_commands.json'), path.join(dir, 'build', 'compile_commands.json')]) {
      const commands = await readDatabase(candidate);
      const picked = commands && pickCompileCommand(commands, main);
      if (picked) return { source: candidate, flags: extractFlags(picked.command.arguments, picked.command.directory) };
    }
  }
  return undefined;
}

async function readDatabase(file: string): Promise<CompileCommand[] | undefined> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e;
  });
  if (!info?.isFile()) return undefined;
  const stamp = `${info.size}:${info.mtimeMs}`;
  const cached = databases.get(file);
  if (cached?.stamp === stamp) return cached.commands;
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  let commands: CompileCommand[];
  try {
    commands = parseCompileDatabase(text, path.dirname(file));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  databases.set(file, { stamp, commands });
  return commands;
}

async function fromClangd(main: string, root: string): Promise<Found> {
  for (const dir of ancestors(path.dirname(main), root)) {
    const candidate = path.join(dir, '.clangd');
    const text = await readIfExists(candidate);
    if (text === undefined) continue;
    let added: string[];
    try {
      added = clangdAddedFlags(text, path.relative(dir, main).split(path.sep).join('/'));
    } catch (error) {
      throw new Error(`${candidate}: ${(error as Error).message}`);
    }
    // clangd resolves relative paths of added flags against the compile's directory: the file's own.
    const flags = extractFlags(added, path.dirname(main));
    if (flags.includeDirs.length > 0 || flags.defines.length > 0) return { source: candidate, flags };
  }
  return undefined;
}

function fromFallback(lookup: FlagsLookup, root: string): Found {
  if (lookup.fallbackFlags === undefined || lookup.fallbackFlags.trim() === '') return undefined;
  const name = lookup.fallbackName ?? '--cflags';
  let args: string[];
  try {
    args = splitCommandLine(lookup.fallbackFlags);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
  return { source: name, flags: extractFlags(args, lookup.fallbackDir ?? root) };
}

/** `from` and its ancestors up to `root` (inclusive); only `from` when it is not inside `root`. */
function ancestors(from: string, root: string): string[] {
  const dirs = [from];
  if (!isWithin(root, from)) return dirs;
  for (let dir = from; dir !== root; ) {
    dir = path.dirname(dir);
    dirs.push(dir);
  }
  return dirs;
}

function isWithin(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

function flagOf(kind: 'quote' | 'angle' | 'system'): string {
  return kind === 'quote' ? '-iquote' : kind === 'system' ? '-isystem' : '-I';
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw e;
  }
}
