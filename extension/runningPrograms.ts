/**
 * The programs eBPF Studio has attached, per file and target: each Attach starts one run (verify,
 * compile, attach, stream — remote-agent/client/programSession.ts) and each Detach stops it. The
 * views (code lenses, Events, Maps, Explorer, status bar) read the runs from here and subscribe to
 * their events and trace lines. A run dies with its agent session (links belong to the agent), so
 * when a target disconnects its runs are forgotten and the user is told.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { AttachParams, CompileParams, CompileResult, LoadParams, StreamCounters } from '../remote-agent/protocol';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { AttachSpec } from '../remote-agent/client/attachSpec';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { startProgramRun, type EventBatch, type ProgramRun, type RunningAgent, type RunSummary, type TraceRecord } from '../remote-agent/client/programSession';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { NoTargetError } from './fileVerifier';
import { errorMessage, readSettings, resolveTarget } from './settings';

export interface StreamState {
  map: string;
  recordType: string;
  kind: 'ringbuf' | 'perf';
  /** The agent's cumulative counters at the last batch (or at the end). */
  counters: StreamCounters;
  /** Records decoded by this client. */
  decoded: number;
  ended?: string;
}

export interface AttachedRun {
  /** Unique for the extension's lifetime. */
  id: string;
  file: vscode.Uri;
  target: string;
  kernelRelease: string;
  /** Names of the programs this run attached (the ones asked for; every program for Attach All). */
  programs: string[];
  run: ProgramRun;
  session: AgentSession;
  /** The agent's handle of the running object, for object.maps and map.dump. */
  objectId: string;
  /** The compiled object (ELF) that is running, for decoding map keys and values with its BTF. */
  object: Buffer | undefined;
  startedAt: number;
  streams: Map<string, StreamState>;
}

export interface RunEvents {
  run: AttachedRun;
  batch: EventBatch;
}

export interface RunTrace {
  run: AttachedRun;
  records: TraceRecord[];
  dropped: number;
}

/** The verifier rejected a program (or the file does not compile): nothing was attached. */
export class NotAttachedError extends Error {
  override readonly name = 'NotAttachedError';
  constructor(
    message: string,
    readonly report: CheckReport,
  ) {
    super(message);
  }
}

export class RunningPrograms implements vscode.Disposable {
  private readonly active = new Map<string, AttachedRun>();
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly eventsEmitter = new vscode.EventEmitter<RunEvents>();
  private readonly traceEmitter = new vscode.EventEmitter<RunTrace>();
  /** A run started, stopped or lost its session. */
  readonly onDidChange = this.changed.event;
  /** Decoded records of any run, batch by batch (a handler must be cheap: up to 100k records/s). */
  readonly onEvents = this.eventsEmitter.event;
  readonly onTrace = this.traceEmitter.event;

  constructor(
    private readonly sessions: AgentSessions,
    private readonly log: ExtensionLog,
  ) {}

  runs(): AttachedRun[] {
    return [...this.active.values()];
  }

  get(id: string): AttachedRun | undefined {
    return this.active.get(id);
  }

  /** The run on `target` that attached `program` of `file`, if any. */
  runOf(file: vscode.Uri, program: string, target: string): AttachedRun | undefined {
    const key = file.toString();
    return this.runs().find((r) => r.file.toString() === key && r.target === target && r.programs.includes(program));
  }

  /**
   * Verifies `document` on the current target and attaches `programs` of it (all of them when
   * undefined) in one run, sharing the object's maps. Rejects with NotAttachedError when the
   * verifier refuses, AttachError when the kernel does, NoTargetError / AgentSessionError when
   * there is no target to attach on.
   */
  async attach(document: vscode.TextDocument, programs: string[] | undefined, specs: AttachSpec[], signal: AbortSignal): Promise<AttachedRun> {
    const target = resolveTarget(readSettings().target);
    if (!target.ok) throw new NoTargetError(target.reason);
    const session = await this.sessions.get(target.spec, target.description);
    const recorder = recordingAgent(session, programs);
    const name = vscode.workspace.asRelativePath(document.uri);
    const started = Date.now();
    const { report, run } = await startProgramRun(recorder.agent, document.uri.fsPath, {
      target: session.description,
      kernelRelease: session.hello.kernelRelease,
      readFile: readOpenDocumentOrDisk,
      attach: specs,
      signal,
      deferStreams: true,
    });
    if (!run) throw new NotAttachedError(rejection(report, name), report);
    const objectId = recorder.objectId();
    const attached: AttachedRun = {
      id: `run-${this.nextId++}`,
      file: document.uri,
      target: session.description,
      kernelRelease: session.hello.kernelRelease,
      programs: run.attached.map((a) => a.program),
      run,
      session,
      objectId: objectId ?? '',
      object: objectId === undefined ? undefined : recorder.objectOf(objectId),
      startedAt: Date.now(),
      streams: new Map(),
    };
    run.onEvents((batch) => {
      const stream = streamState(attached, batch.map);
      stream.counters = batch.counters;
      stream.decoded += batch.records.length;
      this.eventsEmitter.fire({ run: attached, batch });
    });
    run.onTrace((records, dropped) => this.traceEmitter.fire({ run: attached, records, dropped }));
    run.onStreamEnded((stream, reason) => {
      streamState(attached, stream.map).ended = reason;
      this.log.info(`${name}: the stream of map ${stream.map} ended: ${reason}`);
      this.changed.fire();
    });
    this.active.set(attached.id, attached);
    // Every handler is in place before the first record is read, so none is missed.
    try {
      await run.startStreams();
    } catch (error) {
      this.active.delete(attached.id);
      await run.stop().catch((stopError: unknown) => this.log.info(`${name}: undoing the run failed: ${errorMessage(stopError)}`));
      throw error;
    }
    for (const stream of run.streams) streamState(attached, stream.map);
    void session.closed.then((reason) => this.lost(attached, reason));
    const where = run.attached.map((a) => `${a.program} → ${a.description} (prog id ${a.programId})`).join('; ');
    this.log.info(`${name}: attached on ${attached.target} in ${Date.now() - started} ms: ${where}`);
    for (const note of run.notes) this.log.info(`${name}: ${note}`);
    this.changed.fire();
    return attached;
  }

  /** Stops a run: streams, trace, links and the object, in that order; logs its final counters. */
  async detach(id: string): Promise<RunSummary | undefined> {
    const attached = this.active.get(id);
    if (!attached) return undefined;
    this.active.delete(id);
    this.changed.fire();
    const name = vscode.workspace.asRelativePath(attached.file);
    const summary = await attached.run.stop();
    for (const s of summary.streams) {
      const state = attached.streams.get(s.map);
      if (state) state.counters = { received: s.received, sent: s.sent, dropped: s.dropped };
    }
    const counters = summary.streams.map((s) => `${s.map}: ${s.received} received, ${s.sent} sent, ${s.dropped} dropped`).join('; ');
    this.log.info(`${name}: detached ${attached.programs.join(', ')} from ${attached.target}${counters ? ` — ${counters}` : ''}`);
    return summary;
  }

  /** Detaches every run (of one target when given); failures are logged, the rest still detach. */
  async detachAll(target?: string): Promise<void> {
    const runs = this.runs().filter((r) => target === undefined || r.target === target);
    await Promise.all(runs.map((r) => this.detach(r.id).catch((error: unknown) => this.log.info(`detaching ${r.programs.join(', ')} failed: ${errorMessage(error)}`))));
  }

  dispose(): void {
    // The agents release everything when their sessions close (AgentSessions disposes them);
    // stopping here is the polite path for a session that stays open.
    for (const attached of this.runs()) void attached.run.stop().catch(() => undefined);
    this.active.clear();
    this.changed.dispose();
    this.eventsEmitter.dispose();
    this.traceEmitter.dispose();
  }

  private lost(attached: AttachedRun, reason: Error): void {
    if (this.active.get(attached.id) !== attached) return;
    this.active.delete(attached.id);
    const name = vscode.workspace.asRelativePath(attached.file);
    this.log.info(`${name}: ${attached.programs.join(', ')} detached from ${attached.target}: the session ended (${reason.message})`);
    void vscode.window.showWarningMessage(
      `eBPF Studio lost the connection to ${attached.target}: ${attached.programs.join(', ')} of ${name} ${attached.programs.length === 1 ? 'is' : 'are'} no longer attached.`,
    );
    this.changed.fire();
  }
}

/**
 * The agent as the run pipeline sees it, plus two things the views need that a ProgramRun keeps to
 * itself: the id of the object it attaches and the compiled ELF of that object (for the BTF of
 * its maps). With `only`, verification (and so attaching) is narrowed to those programs.
 */
function recordingAgent(session: AgentSession, only: string[] | undefined): { agent: RunningAgent; objectId(): string | undefined; objectOf(id: string): Buffer | undefined } {
  const client = session.client;
  const objects = new Map<string, string>();
  let attachedObject: string | undefined;
  const agent: RunningAgent = {
    compile: async (p: CompileParams, signal?: AbortSignal): Promise<CompileResult> => {
      const result = await client.compile(p, signal);
      if (result.objectId !== null && result.object !== null) objects.set(result.objectId, result.object);
      return result;
    },
    load: (p: LoadParams, signal?: AbortSignal) => client.load(only ? { ...p, programs: only } : p, signal),
    release: (p, signal) => {
      objects.delete(p.objectId);
      return client.release(p, signal);
    },
    attach: (p: AttachParams, signal?: AbortSignal) => {
      attachedObject = p.objectId;
      return client.attach(p, signal);
    },
    detach: (p, signal) => client.detach(p, signal),
    objectMaps: (p, signal) => client.objectMaps(p, signal),
    streamStart: (p, signal) => client.streamStart(p, signal),
    streamStop: (p, signal) => client.streamStop(p, signal),
    traceStart: (signal) => client.traceStart(signal),
    traceStop: (signal) => client.traceStop(signal),
    onEvents: (handler) => client.onEvents(handler),
    onTrace: (handler) => client.onTrace(handler),
    onStreamEnded: (handler) => client.onStreamEnded(handler),
  };
  return {
    agent,
    objectId: () => attachedObject,
    objectOf: (id) => {
      const base64 = objects.get(id);
      return base64 === undefined ? undefined : Buffer.from(base64, 'base64');
    },
  };
}

/** The state of one event map's stream, created on first use (records can arrive while streams still start). */
function streamState(attached: AttachedRun, map: string): StreamState {
  let state = attached.streams.get(map);
  if (!state) {
    const stream = attached.run.streams.find((s) => s.map === map);
    state = { map, recordType: stream?.recordType ?? 'unknown', kind: stream?.kind ?? 'ringbuf', counters: { received: 0, sent: 0, dropped: 0 }, decoded: 0 };
    attached.streams.set(map, state);
  }
  return state;
}

function rejection(report: CheckReport, name: string): string {
  if (!report.compiled) {
    const first = report.diagnostics.find((d) => d.severity === 'error');
    return `${name} was not attached: it does not compile${first ? ` (line ${first.line}: ${first.message})` : ''}. See Problems.`;
  }
  const rejected = report.programs.filter((p) => !p.ok);
  if (rejected.length > 0) {
    return `${name} was not attached: the verifier rejects ${rejected.map((p) => `${p.name} (${p.error ?? 'see its log'})`).join(', ')}. Run "eBPF: Show Verifier Log" for the whole log.`;
  }
  const first = report.diagnostics.find((d) => d.severity === 'error');
  return `${name} was not attached: ${first?.message ?? 'the check reported an error'}.`;
}

/** What the editor shows is what gets attached: open documents' text, unsaved edits included. */
async function readOpenDocumentOrDisk(absPath: string): Promise<string> {
  const open = vscode.workspace.textDocuments.find((doc) => doc.uri.scheme === 'file' && doc.uri.fsPath === absPath);
  return open ? open.getText() : readFile(absPath, 'utf8');
}
