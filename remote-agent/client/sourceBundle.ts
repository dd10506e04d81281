/**
 * Collects what the agent needs to compile a BPF C file on the target: the main file and every
 * workspace header it includes with `#include "…"`, as protocol SourceFiles with paths relative to
 * the main file's directory (or to the bundle's root, below). Keeps the way back from those
 * relative paths (and from the absolute paths the compiler records in the object, and the
 * basenames the verifier prints) to local files.
 *
 * `<…>` includes come from the target's system (libbpf headers, kernel UAPI) — unless the project's
 * flags (projectFlags.ts) name workspace include directories: then the bundle is rooted where
 * the main file and those directories meet, headers (`"…"` and `<…>`) are looked up in them in
 * clang's order and sent, and the directories go to the agent as `includeDirs`, ahead of the
 * target's system headers. vmlinux.h is never sent: the agent generates it from the target
 * kernel's own BTF, which is the one that matters.
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AgentLimits, type CompileParams, type SourceFile } from '../protocol';
import type { IncludeDir } from './compileFlags';
import type { ProjectFlags } from './projectFlags';

/** The agent's compile limits (protocol.ts), checked here so the user hears which file tipped it over. */
export const MAX_BUNDLE_FILES = AgentLimits.compileMaxFiles;
const MAX_BUNDLE_BYTES = AgentLimits.compileMaxBytes;

export type ReadSource = (absPath: string) => Promise<string>;

const QUOTED_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm;
const ANY_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>)/gm;
const TARGET_PROVIDED = new Set(['vmlinux.h']);

export class SourceBundle {
  /** The files to send; files[0] is the main file. */
  readonly files: SourceFile[];
  /** Relative path of the main file, as in `files`. */
  readonly main: string;
  /** Local absolute directory every relative path starts from: the main file's, or where it meets the project's include dirs. */
  readonly root: string;
  /** The project's include directories relative to `root`, in search order; undefined without project flags. */
  readonly includeDirs: string[] | undefined;
  /** The project's -D definitions. */
  readonly defines: string[];
  /** The project flags the bundle was made with, when there were any. */
  readonly projectFlags: ProjectFlags | undefined;
  private readonly localByRelative: Map<string, string>;

  constructor(root: string, files: SourceFile[], flags: { includeDirs?: string[]; project?: ProjectFlags } = {}) {
    if (files.length === 0) throw new Error('A source bundle needs at least its main file.');
    this.root = root;
    this.files = files;
    this.main = files[0].path;
    this.includeDirs = flags.includeDirs;
    this.defines = flags.project?.defines ?? [];
    this.projectFlags = flags.project;
    this.localByRelative = new Map(files.map((f) => [f.path, path.join(root, ...f.path.split('/'))]));
  }

  /** The agent's compile params for this bundle; `extra` files (and another `main`) for wrappers. */
  compileParams(main: string = this.main, extra: SourceFile[] = []): CompileParams {
    return {
      files: [...this.files, ...extra],
      main,
      ...(this.defines.length > 0 && { defines: this.defines }),
      ...(this.includeDirs !== undefined && { includeDirs: this.includeDirs }),
    };
  }

  /** Local absolute path of a bundle file given by its relative path. */
  localPathOf(relative: string): string | undefined {
    return this.localByRelative.get(relative);
  }

  /**
   * Local absolute path of a file named the way the target named it: a relative path as clang
   * prints it ("lib/x.h", "./lib/x.h"), an absolute path inside the agent's work directory (as
   * recorded in BTF line info), or a bare basename (as the verifier prints it; the main file wins
   * a tie, otherwise an ambiguous basename resolves to nothing). Undefined when no bundle file fits.
   */
  resolve(remoteName: string): string | undefined {
    const normalized = path.posix.normalize(remoteName.replace(/\\/g, '/'));
    const direct = this.localByRelative.get(normalized.replace(/^\.\//, ''));
    if (direct) return direct;
    let best: string | undefined;
    for (const rel of this.localByRelative.keys()) {
      if (normalized.endsWith('/' + rel) && (best === undefined || rel.length > best.length)) best = rel;
    }
    if (best !== undefined) return this.localByRelative.get(best);
    if (normalized.includes('/')) return undefined;
    const sameBase = [...this.localByRelative.keys()].filter((rel) => path.posix.basename(rel) === normalized);
    if (sameBase.includes(this.main)) return this.localPathOf(this.main);
    return sameBase.length === 1 ? this.localPathOf(sameBase[0]) : undefined;
  }

  /** Text of a bundle file by local absolute path. */
  contentOf(localPath: string): string | undefined {
    for (const f of this.files) if (this.localByRelative.get(f.path) === localPath) return f.content;
    return undefined;
  }
}

/**
 * Reads `mainFile` and, recursively, every `#include "…"` that resolves to an existing file in the
 * main file's directory tree (tried relative to the including file, then to the main file's
 * directory, as clang's `-I.` does on the target). `readFile` lets an editor supply unsaved text.
 * With `flags`, includes are looked up as clang does with the project's include directories
 * instead (`"…"`: the including file's directory, then every directory; `<…>`: the `-I` and
 * `-isystem` ones), and `<…>` includes found there are sent too.
 */
export async function collectSourceBundle(
  mainFile: string,
  opts: { readFile?: ReadSource; signal?: AbortSignal; flags?: ProjectFlags } = {},
): Promise<SourceBundle> {
  const read = opts.readFile ?? ((p: string) => fsReadFile(p, 'utf8'));
  const main = path.resolve(mainFile);
  const dirs: IncludeDir[] | undefined = opts.flags?.includeDirs.length ? opts.flags.includeDirs : undefined;
  const root = dirs ? commonAncestor([path.dirname(main), ...dirs.map((d) => d.dir)]) : path.dirname(main);
  const files: SourceFile[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;

  const add = async (absPath: string, content: string): Promise<void> => {
    if (files.length >= MAX_BUNDLE_FILES) {
      throw new Error(
        `${mainFile} and the workspace headers it includes are more than ${MAX_BUNDLE_FILES} files, the most ` +
          'the agent accepts per compile. Merge headers or include fewer.',
      );
    }
    totalBytes += Buffer.byteLength(content, 'utf8');
    if (totalBytes > MAX_BUNDLE_BYTES) {
      throw new Error(`${mainFile} and the headers it includes exceed ${MAX_BUNDLE_BYTES / (1024 * 1024)} MiB, more than the agent accepts per compile.`);
    }
    files.push({ path: relativeTo(root, absPath), content });
    for (const m of content.matchAll(dirs ? ANY_INCLUDE : QUOTED_INCLUDE)) {
      opts.signal?.throwIfAborted();
      const quoted = m[1] !== undefined;
      const found = await findInclude(m[1] ?? m[2], searchPath(path.dirname(absPath), quoted));
      if (found) await add(found.path, found.content);
    }
  };

  /** Where clang looks for an include of a file in `includingDir`. */
  const searchPath = (includingDir: string, quoted: boolean): string[] => {
    if (!dirs) return [includingDir, root];
    return [...(quoted ? [includingDir] : []), ...dirs.filter((d) => quoted || d.kind !== 'quote').map((d) => d.dir)];
  };

  const findInclude = async (name: string, searched: string[]): Promise<{ path: string; content: string } | undefined> => {
    if (path.isAbsolute(name) || TARGET_PROVIDED.has(path.basename(name))) return undefined;
    for (const dir of searched) {
      const candidate = path.resolve(dir, name);
      if (!isInside(root, candidate)) continue;
      if (seen.has(candidate)) return undefined;
      const content = await readIfExists(read, candidate);
      if (content === undefined) continue;
      seen.add(candidate);
      return { path: candidate, content };
    }
    return undefined;
  };

  seen.add(main);
  await add(main, await read(main));
  return new SourceBundle(root, files, {
    ...(dirs && { includeDirs: dirs.map((d) => relativeTo(root, d.dir) || '.') }),
    ...(opts.flags && { project: opts.flags }),
  });
}

function relativeTo(root: string, absPath: string): string {
  return path.relative(root, absPath).split(path.sep).join('/');
}

/** The deepest directory containing every one of `dirs` (absolute). */
function commonAncestor(dirs: string[]): string {
  let common = dirs[0];
  for (const dir of dirs.slice(1)) {
    while (!isInside(common, dir) && common !== dir) common = path.dirname(common);
  }
  return common;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

/** A quoted include that is not in the workspace may still be found by clang on the target. */
async function readIfExists(read: ReadSource, absPath: string): Promise<string | undefined> {
  try {
    return await read(absPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw e;
  }
}
