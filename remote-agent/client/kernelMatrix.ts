/**
 * Checking files on several targets at once (the kernel matrix), shared by `ebpf-studio check` and
 * the editor: where clang runs for a target, the unprivileged local agent that compiles for
 * targets that only load, and one outcome per target — its reports, or why it could not be checked
 * — with every target checked concurrently so that N kernels cost about one verify.
 */
import type { LoadPresets } from '../protocol';
import type { AgentSession } from './agentSession';
import { checkFile, type VerifyingAgent } from './checkFile';
import type { FlagsLookup } from './projectFlags';
import type { CheckReport } from './checkReport';
import { compileOnClient } from './compileOnClient';
import type { ReadSource } from './sourceBundle';
import { TargetKnowledgeCache, defaultKnowledgeDir } from './targetKnowledge';

/** `auto`: on the target when it has clang and is not a kernel VM (emulated compiles are ~20× slower), else here. */
export type CompilePlace = 'auto' | 'target' | 'client';

/** What checking the files on one target gave: reports, or why the target could not be checked. */
export interface TargetOutcome {
  /** The target as the user named it: 'local', 'vm:6.1', 'ssh://root@host'. */
  target: string;
  reports?: CheckReport[];
  /** Set when the target could not be reached or checked at all. */
  error?: string;
}

/** `what` names the option in the error: '--compile-on', 'ebpfStudio.compileOn'. */
export function parseCompilePlace(value: string | undefined, what: string): CompilePlace {
  if (value !== 'auto' && value !== 'target' && value !== 'client') throw new Error(`${what} must be auto, target or client, not '${value}'`);
  return value;
}

/** Whether `session`'s files are compiled on this machine rather than on the target. */
export function compilesOnClient(session: Pick<AgentSession, 'hello' | 'target'>, place: CompilePlace): boolean {
  if (place !== 'auto') return place === 'client';
  return session.hello.clang === null || session.target.kind === 'vm';
}

/**
 * The unprivileged agent on this machine that compiles for targets without clang: opened on first
 * use, opened again after it closed, and shared by every target and every check.
 */
export class LocalCompiler {
  readonly knowledge: TargetKnowledgeCache;
  private opened: Promise<AgentSession> | undefined;

  constructor(
    private readonly open: () => Promise<AgentSession>,
    knowledgeDir: string = defaultKnowledgeDir(),
  ) {
    this.knowledge = new TargetKnowledgeCache(knowledgeDir);
  }

  session(): Promise<AgentSession> {
    if (this.opened === undefined) {
      const opened = this.open();
      this.opened = opened;
      const forget = (): void => {
        if (this.opened === opened) this.opened = undefined;
      };
      opened.then((s) => s.closed.then(forget), forget);
    }
    return this.opened;
  }

  async dispose(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened !== undefined) await opened.then((s) => s.dispose(), () => undefined);
  }
}

export interface CheckOnSessionOptions {
  compileOn: CompilePlace;
  compiler: LocalCompiler;
  /** The target's name in the reports; default the session's description. */
  target?: string;
  readFile?: ReadSource;
  /** Where a file's project compile flags are looked for (checkFile's project); default its repository. */
  project?: (file: string) => FlagsLookup;
  /** What the files' loader sets before load (checkFile's presets). */
  presets?: LoadPresets;
  /** Every program's walk, not only failures' (checkFile's walk). */
  walk?: boolean;
  signal?: AbortSignal;
}

/** Checks each file on `session`, compiling where `compileOn` says. */
export async function checkFilesOnSession(session: AgentSession, files: string[], o: CheckOnSessionOptions): Promise<CheckReport[]> {
  const here = compilesOnClient(session, o.compileOn);
  const agent: VerifyingAgent = here ? compileOnClient(session, (await o.compiler.session()).client, o.compiler.knowledge) : session.client;
  const reports: CheckReport[] = [];
  for (const file of files) {
    reports.push(
      await checkFile(agent, file, {
        target: o.target ?? session.description,
        kernelRelease: session.hello.kernelRelease,
        compiledOn: here ? 'client' : 'target',
        ...(o.readFile && { readFile: o.readFile }),
        ...(o.project && { project: o.project(file) }),
        ...(o.presets && { presets: o.presets }),
        ...(o.walk && { walk: true }),
        ...(o.signal && { signal: o.signal }),
      }),
    );
  }
  return reports;
}

/**
 * Runs `checkOne` on every target concurrently. A target that fails becomes an outcome with its
 * reason, so the others still report; a cancellation (the signal aborted) rejects the whole matrix.
 */
export async function checkOnTargets(targets: string[], checkOne: (target: string) => Promise<CheckReport[]>, signal?: AbortSignal): Promise<TargetOutcome[]> {
  return Promise.all(
    targets.map(async (target): Promise<TargetOutcome> => {
      try {
        return { target, reports: await checkOne(target) };
      } catch (error) {
        if (signal?.aborted) throw error;
        return { target, error: error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error) };
      }
    }),
  );
}
