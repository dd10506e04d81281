/**
 * Named targets: `staging-6-1` standing for a destination plus how to start the agent there (sudo,
 * work directory). They come from the `ebpfStudio.targets` setting and from a workspace file teams
 * commit (`.ebpf-studio/targets.json`, targets only); the editor, the CLI and the MCP server
 * resolve what the user typed through `resolveTargetText`. Pure: parsing, validation with messages
 * that name the entry and the field, and resolution. Reading the file is workspaceTargetsFile.ts.
 *
 * A name shadows nothing a destination can say: names are words (a letter, then letters, digits,
 * '-' and '_'), never 'local', and a destination is never looked up as a name, so one name stands
 * for exactly one destination and no chain of names exists.
 */
import { describeTarget, parseTarget, type TargetSpec } from './targetSpec';

/** "auto": root, else `sudo -n`, else sudo with a password asked for. "never": the login user, who must be root. */
export type SudoMode = 'auto' | 'never';

export interface NamedTarget {
  name: string;
  /** As written: an ssh destination, a ~/.ssh/config alias, vm:NAME or local. */
  destination: string;
  spec: TargetSpec;
  sudo: SudoMode;
  /** Where the agent's files live on the target ('/abs/dir' or '~/rel/dir', normalized); absent: ~/.cache/ebpf-studio. */
  workDirectory?: string;
  /** Where it was defined: 'ebpfStudio.targets' or the file's path. */
  source: string;
}

/** How a session to a target starts its agent: what `openAgentSession` takes besides the TargetSpec. */
export interface TargetSessionOptions {
  sudo: SudoMode;
  workDirectory?: string;
  /** Names the setting that chose these options, for error messages (e.g. `target "staging" in ebpfStudio.targets`). */
  chosenBy?: string;
}

export interface NamedTargetList {
  targets: NamedTarget[];
  /** One sentence per entry left out, naming the source, the entry and what is wrong. */
  problems: string[];
}

const SETTING_SOURCE = 'ebpfStudio.targets';
export const TARGETS_FILE = '.ebpf-studio/targets.json';

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const FIELDS = ['name', 'destination', 'sudo', 'workDirectory'];
/** Characters of one work-directory segment: no spaces, quotes or shell syntax, so the path is the same in every shell. */
const WORK_DIR_SEGMENT = /^[A-Za-z0-9._+@=,%-]+$/;

/**
 * The targets of the `ebpfStudio.targets` setting's value (an array of entries); `source` names
 * where else the same array came from (the CLI's EBPF_STUDIO_TARGETS, which the editor sets for it).
 */
export function parseTargetsSetting(value: unknown, source: string = SETTING_SOURCE): NamedTargetList {
  if (value === undefined || value === null) return { targets: [], problems: [] };
  if (!Array.isArray(value)) return { targets: [], problems: [`${source} must be an array of { "name", "destination" } entries; it is ignored.`] };
  return parseEntries(value, source);
}

/** The targets of a `.ebpf-studio/targets.json` file's text: `{ "targets": [ … ] }` and nothing else. */
export function parseTargetsFile(text: string, path: string): NamedTargetList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { targets: [], problems: [`${path} is not valid JSON (${(error as Error).message}); its targets are ignored.`] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Array.isArray((value as { targets?: unknown }).targets)) {
    return { targets: [], problems: [`${path} must be an object { "targets": [ … ] }; its targets are ignored.`] };
  }
  const extra = Object.keys(value).filter((key) => key !== 'targets');
  const problems = extra.length > 0 ? [`${path} holds only "targets"; ${extra.map((key) => `"${key}"`).join(', ')} is ignored.`] : [];
  const parsed = parseEntries((value as { targets: unknown[] }).targets, path);
  return { targets: parsed.targets, problems: [...problems, ...parsed.problems] };
}

/**
 * One list out of several sources, earlier ones winning a name defined twice; a destination that
 * is the name of a target is refused (a destination is never a name).
 */
export function mergeNamedTargets(lists: readonly NamedTargetList[]): NamedTargetList {
  const byName = new Map<string, NamedTarget>();
  const problems = lists.flatMap((list) => list.problems);
  for (const target of lists.flatMap((list) => list.targets)) {
    const first = byName.get(target.name);
    if (first !== undefined) {
      problems.push(`${target.source}: target "${target.name}" is also defined in ${first.source}, which is used.`);
      continue;
    }
    byName.set(target.name, target);
  }
  const targets: NamedTarget[] = [];
  for (const target of byName.values()) {
    if (byName.has(target.destination.trim())) {
      problems.push(
        `${target.source}: target "${target.name}" has the destination "${target.destination}", which is the name of a target; ` +
          `a destination is an ssh destination, a ~/.ssh/config alias, vm:NAME or local, never another name.`,
      );
      continue;
    }
    targets.push(target);
  }
  return { targets, problems };
}

export interface ResolvedTargetText {
  spec: TargetSpec;
  /** The name of a named target, else describeTarget(spec): what logs, sessions and pickers call it. */
  description: string;
  session: TargetSessionOptions;
  named?: NamedTarget;
}

/** What the user typed (a target name, or a destination) as a TargetSpec and session options; throws an Error saying what to write. */
export function resolveTargetText(text: string, targets: readonly NamedTarget[]): ResolvedTargetText {
  const named = targets.find((target) => target.name === text.trim());
  if (named !== undefined) {
    return {
      spec: named.spec,
      description: named.name,
      session: { sudo: named.sudo, ...(named.workDirectory !== undefined && { workDirectory: named.workDirectory }), chosenBy: `target "${named.name}" in ${named.source}` },
      named,
    };
  }
  const spec = parseTarget(text);
  return { spec, description: describeTarget(spec), session: { sudo: 'auto' } };
}

/**
 * A work directory as written ('/srv/ebpf', '~/ebpf-studio/'), normalized without trailing slash;
 * throws an Error saying what is wrong.
 */
export function parseWorkDirectory(text: string): string {
  const where = `"${text}"`;
  const fromHome = text.startsWith('~/');
  if (!fromHome && !text.startsWith('/')) throw new Error(`workDirectory ${where} must be an absolute path or start with ~/.`);
  const segments = text.slice(fromHome ? 2 : 1).replace(/\/+$/, '').split('/');
  if (segments.length === 1 && segments[0] === '') throw new Error(`workDirectory ${where} must name a directory below ${fromHome ? 'your home directory' : '/'}, not ${fromHome ? '~' : '/'} itself.`);
  for (const segment of segments) {
    if (segment === '') throw new Error(`workDirectory ${where} has an empty path segment ('//').`);
    if (segment === '.' || segment === '..') throw new Error(`workDirectory ${where} may not contain '.' or '..' segments.`);
    if (!WORK_DIR_SEGMENT.test(segment)) throw new Error(`workDirectory ${where} may hold only letters, digits and . _ + @ = , % - in its names (no spaces or quotes).`);
  }
  return `${fromHome ? '~/' : '/'}${segments.join('/')}`;
}

function parseEntries(entries: readonly unknown[], source: string): NamedTargetList {
  const targets: NamedTarget[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    try {
      targets.push(parseEntry(entry, index, source));
    } catch (error) {
      problems.push((error as Error).message);
    }
  });
  return { targets, problems };
}

function parseEntry(entry: unknown, index: number, source: string): NamedTarget {
  const position = `${source}: entry ${index + 1}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${position} must be an object with "name" and "destination"; it is ignored.`);
  const fields = entry as Record<string, unknown>;
  const { name } = fields;
  if (typeof name !== 'string') throw new Error(`${position} has no "name" (a word like "staging-6-1"); it is ignored.`);
  const named = `${source}: target "${name}"`;
  if (!NAME.test(name) || name.toLowerCase() === 'local') {
    throw new Error(`${named} is not a target name: use a letter, then letters, digits, '-' and '_' (e.g. "staging-6-1"), and not "local"; it is ignored.`);
  }
  const unknown = Object.keys(fields).filter((key) => !FIELDS.includes(key));
  if (unknown.length > 0) throw new Error(`${named} has ${unknown.map((key) => `"${key}"`).join(', ')}, which is not one of ${FIELDS.map((key) => `"${key}"`).join(', ')}; it is ignored.`);
  const { destination, sudo = 'auto', workDirectory } = fields;
  if (typeof destination !== 'string' || destination.trim() === '') throw new Error(`${named} has no "destination" (e.g. "root@10.0.0.5", an ~/.ssh/config alias, "vm:6.1" or "local"); it is ignored.`);
  let spec: TargetSpec;
  try {
    spec = parseTarget(destination);
  } catch (error) {
    throw new Error(`${named}: ${(error as Error).message} It is ignored.`);
  }
  if (sudo !== 'auto' && sudo !== 'never') throw new Error(`${named} has "sudo": ${JSON.stringify(sudo)}; write "auto" (root, else sudo) or "never" (the login user, who must be root). It is ignored.`);
  const target: NamedTarget = { name, destination: destination.trim(), spec, sudo, source };
  if (workDirectory !== undefined) {
    if (typeof workDirectory !== 'string') throw new Error(`${named} has a "workDirectory" that is not a string; it is ignored.`);
    if (spec.kind === 'vm') throw new Error(`${named} is a kernel VM, whose agent lives where eBPF Studio puts it; remove "workDirectory". It is ignored.`);
    try {
      target.workDirectory = parseWorkDirectory(workDirectory);
    } catch (error) {
      throw new Error(`${named}: ${(error as Error).message} It is ignored.`);
    }
  }
  return target;
}
