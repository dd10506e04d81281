/**
 * The sha256 of each agent this client built from source on a target, recorded right after the
 * build, so later sessions run that agent only if it still has those bytes (agentIntegrity.ts). A
 * build is not reproducible across machines, so its hash can only come from the build itself, and
 * it is kept on the client side, where the target cannot change it. One JSON file,
 * `${XDG_CACHE_HOME:-~/.cache}/ebpf-studio/known-agent-builds.json` unless told otherwise, keyed by
 * the target and the agent's path there; an agent with no record is rebuilt, never trusted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AgentSessionError } from './sessionError';

export interface KnownAgentBuilds {
  /** The recorded sha256 (hex) of the agent at `agentPath` on `target`, if this client built it. */
  lookup(target: string, agentPath: string): string | undefined;
  record(target: string, agentPath: string, sha256: string): void;
}

export function defaultKnownAgentBuildsFile(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ebpf-studio', 'known-agent-builds.json');
}

/** The records in `file` (created on the first record, private to the user). */
export function knownAgentBuildsFile(file: string = defaultKnownAgentBuildsFile()): KnownAgentBuilds {
  const key = (target: string, agentPath: string): string => `${target} ${agentPath}`;
  const read = (): Record<string, string> => {
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
        return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
      }
    } catch {
      // A damaged file records nothing we can trust: every agent it named is rebuilt, and the file rewritten.
    }
    return {};
  };
  return {
    lookup: (target, agentPath) => read()[key(target, agentPath)],
    record: (target, agentPath, sha256) => {
      const records = { ...read(), [key(target, agentPath)]: sha256 };
      // Through a temporary file and rename, so a concurrent reader never sees half a file.
      const temporary = `${file}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(temporary, `${JSON.stringify(records, null, 2)}\n`, { mode: 0o600 });
        renameSync(temporary, file);
      } catch (error) {
        throw new AgentSessionError('agent-build', `Cannot record the agent built on ${target} in ${file}: ${(error as Error).message}.`, { cause: error });
      }
    },
  };
}
