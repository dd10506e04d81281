/**
 * The sha256 of each agent this client built from source on a target, recorded right after the
 * build, so later sessions run that agent only if it still has those bytes (agentIntegrity.ts). A
 * build is not reproducible across machines, so its hash can only come from the build itself, and
 * it is kept on the client side, where the target cannot change it. Each build goes into a directory
 * of its own (`agent-<sources hash12>-<random8>`), so two clients building the same sources on one
 * target never replace each other's build and make the other's record look like tampering. One JSON
 * file, `${XDG_CACHE_HOME:-~/.cache}/ebpf-studio/known-agent-builds.json` unless told otherwise,
 * keyed by the target and the sources' hash. A target with no record of its own runs a build this
 * client recorded for another name only when that build's directory is there and, as always, its
 * binary has the recorded sha256; otherwise the sources are built afresh, never trusted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AgentSessionError } from './sessionError';

/** One build this client made: its directory in the target's agent cache, and its binary's sha256 (hex). */
export interface AgentBuild {
  dirName: string;
  sha256: string;
}

export interface KnownAgentBuilds {
  /** The build of the sources hashed `sourcesHash` this client made on `target`, if any. */
  lookup(target: string, sourcesHash: string): AgentBuild | undefined;
  /**
   * Every build of the sources hashed `sourcesHash` this client recorded, on any target, the most
   * recent last: one of them may be on a target this client reaches under another name (an alias,
   * another address or port, a home shared over NFS).
   */
  buildsOf(sourcesHash: string): AgentBuild[];
  record(target: string, sourcesHash: string, build: AgentBuild): void;
}

/** What a build directory's name must look like: it becomes part of shell commands on the target. */
export const BUILD_DIR_NAME = /^agent-[0-9a-f]{12}-[0-9a-f]{8}$/;

/**
 * Records kept, the newest: one per target and agent version, so the file stays small (~50 KB)
 * however many versions and targets a client sees. A build whose record went is built again.
 */
export const MAX_RECORDED_BUILDS = 256;

export function defaultKnownAgentBuildsFile(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ebpf-studio', 'known-agent-builds.json');
}

/** The records in `file` (created on the first record, private to the user). */
export function knownAgentBuildsFile(file: string = defaultKnownAgentBuildsFile()): KnownAgentBuilds {
  const key = (target: string, sourcesHash: string): string => `${target} ${sourcesHash}`;
  const read = (): Record<string, AgentBuild> => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new AgentSessionError('agent-build', `Cannot read ${file}, where eBPF Studio records the agents it built: ${(error as Error).message}.`, { cause: error });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, AgentBuild] => isAgentBuild(entry[1])));
      }
    } catch {
      // A damaged file records nothing we can trust: every agent it named is rebuilt, and the file rewritten.
    }
    return {};
  };
  return {
    lookup: (target, sourcesHash) => read()[key(target, sourcesHash)],
    buildsOf: (sourcesHash) => Object.entries(read()).filter(([name]) => name.endsWith(` ${sourcesHash}`)).map(([, build]) => build),
    record: (target, sourcesHash, build) => {
      // Deleted and added again: the newest record is the last (buildsOf's order).
      const records = read();
      delete records[key(target, sourcesHash)];
      records[key(target, sourcesHash)] = build;
      const kept = Object.fromEntries(Object.entries(records).slice(-MAX_RECORDED_BUILDS));
      // Through a temporary file and rename, so a concurrent reader never sees half a file.
      const temporary = `${file}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(temporary, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
        renameSync(temporary, file);
      } catch (error) {
        throw new AgentSessionError('agent-build', `Cannot record the agent built on ${target} in ${file}: ${(error as Error).message}.`, { cause: error });
      }
    },
  };
}

function isAgentBuild(value: unknown): value is AgentBuild {
  if (value === null || typeof value !== 'object') return false;
  const { dirName, sha256 } = value as Record<string, unknown>;
  return typeof dirName === 'string' && BUILD_DIR_NAME.test(dirName) && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256);
}
