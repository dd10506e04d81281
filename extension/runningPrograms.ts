/**
 * The programs eBPF Studio has attached, per file and target: one run per (file, target)
 * (remote-agent/client/openProgramRun.ts and programRun.ts: verified, compiled, ONE object instance). Attach of a
 * program opens the run if there is none and attaches the program into it, so every program of a
 * file shares the object's maps; Detach of a program detaches its link, and of the last one stops
 * the run (streams, trace, release). The views (code lenses, Events, Maps, Explorer, status bar)
 * read the runs from here and subscribe to their events and trace lines. A run dies with its
 * agent session (links belong to the agent). When the link drops, the agent keeps them for the
 * session's grace period: the runs wait, and carry on when AgentSessions resumes the session
 * (ResumeParty); when it cannot, or the grace period passes, they are forgotten and the user is told.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { StreamCounters } from '../remote-agent/protocol';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { AttachSpec } from '../remote-agent/client/attachSpec';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { projectLookupFor } from './projectFlagsLookup';
import { openProgramRun } from '../remote-agent/client/openProgramRun';
import type { AttachedProgram, EventBatch, ProgramRun, RunSummary, TraceRecord } from '../remote-agent/client/programRun';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { NoTargetError } from './fileVerifier';
import { loadPresetsFor } from './loadPresetSetting';
import { errorMessage } from './settings';

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

/** The run of one file on one target, with what the views keep of it. */
export class AttachedRun {
  readonly startedAt = Date.now();
  readonly streams = new Map<string, StreamState>();

  constructor(
    /** Unique for the extension's lifetime. */
    readonly id: string,
    readonly file: vscode.Uri,
    readonly target: string,
    readonly kernelRelease: string,
    /** The file's one compiled object on the target's agent: what of it is attached, its streams, its maps' decoders. */
    readonly bpfObject: ProgramRun,
    /** The session the run's agent is reached through: a new one after a resume. */
    public session: AgentSession,
    /** What AgentSessions knows the target by (its name, or its description). */
    readonly sessionKey: string,
  ) {}

  /** Set while the link is down and the agent keeps the run for its grace period. */
  waitingSince: number | undefined;

  /** While the link is down: since when, and until when the agent keeps the run (its grace period). */
  waiting(): { since: number; keptUntil: number } | undefined {
    if (this.waitingSince === undefined) return undefined;
    return { since: this.waitingSince, keptUntil: this.waitingSince + (this.session.resumeTicket?.graceSeconds ?? 0) * 1000 };
  }

  /** Names of the programs attached now, in the order they were attached. */
  get programs(): string[] {
    return this.bpfObject.attached.map((a) => a.program);
  }

  /** The agent's handle of the running object, for object.maps and map.dump. */
  get objectId(): string {
    return this.bpfObject.objectId;
  }
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
  /** Every run, including one whose first attach is in progress (no program yet). */
  private readonly active = new Map<string, AttachedRun>();
  /** Per (file, target): the last attach/detach asked, so they run one after the other. */
  private readonly queues = new Map<string, Promise<void>>();
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly eventsEmitter = new vscode.EventEmitter<RunEvents>();
  private readonly traceEmitter = new vscode.EventEmitter<RunTrace>();
  /** A program was attached or detached, a run stopped or lost its session. */
  readonly onDidChange = this.changed.event;
  /** Decoded records of any run, batch by batch (a handler must be cheap: up to 100k records/s). */
  readonly onEvents = this.eventsEmitter.event;
  readonly onTrace = this.traceEmitter.event;

  private readonly resumeRegistration: vscode.Disposable;
  /** Per waiting run: when it is given up if its session was not resumed by then. */
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly sessions: AgentSessions,
    private readonly log: ExtensionLog,
  ) {
    this.resumeRegistration = sessions.registerResumeParty({
      streamsDecoded: (target) => this.waiting(target).flatMap((r) => r.bpfObject.streamsDecoded()),
      listen: (target, client) => {
        for (const run of this.waiting(target)) run.bpfObject.resumeOn(client);
      },
      resumed: (target, session) => {
        for (const run of this.waiting(target)) this.carryOn(run, session);
      },
      expired: (target, reason) => {
        for (const run of this.waiting(target)) this.lost(run, new Error(reason));
      },
    });
  }

  /** The runs whose session AgentSessions knows as `target` waiting for it to be resumed. */
  private waiting(target: string): AttachedRun[] {
    return [...this.active.values()].filter((r) => r.sessionKey === target && r.waitingSince !== undefined);
  }

  /** The runs with at least one program attached. */
  runs(): AttachedRun[] {
    return [...this.active.values()].filter((r) => r.bpfObject.attached.length > 0);
  }

  get(id: string): AttachedRun | undefined {
    return this.active.get(id);
  }

  /** The run on `target` that attached `program` of `file`, if any. */
  runOf(file: vscode.Uri, program: string, target: string): AttachedRun | undefined {
    return this.runs().find((r) => r.file.toString() === file.toString() && r.target === target && r.programs.includes(program));
  }

  /**
   * Attaches `programs` of `document` (those not attached yet) on the current target, into the
   * file's run there: opened (verified, compiled) by the first attach, shared by the later ones,
   * so all programs of the file share its maps. `specs` give targets to
   * programs whose sections do not say where. Rejects with NotAttachedError when the verifier
   * refuses, AttachError when the kernel does, NoTargetError / AgentSessionError when there is no
   * target to attach on; what this call attached before a failure stays attached.
   */
  async attach(document: vscode.TextDocument, programs: string[], specs: AttachSpec[], signal: AbortSignal): Promise<{ run: AttachedRun; attached: AttachedProgram[] }> {
    const target = this.sessions.currentTarget();
    if (!target.ok) throw new NoTargetError(target.reason);
    const session = await this.sessions.get(target.spec, target.description);
    return this.serialized(runKey(document.uri, session.description), async () => {
      const name = vscode.workspace.asRelativePath(document.uri);
      const started = Date.now();
      const existing = [...this.active.values()].find((r) => r.session === session && r.file.toString() === document.uri.toString());
      if (existing && (await existing.bpfObject.sourceChanged(signal))) {
        throw new Error(
          `${name} changed since ${existing.programs.join(', ')} ${existing.programs.length === 1 ? 'was' : 'were'} attached, and programs of one file share one loaded object: detach ${existing.programs.join(', ')} first, then attach again to run the edited file.`,
        );
      }
      const run = existing ?? (await this.open(document, session, target.description, signal));
      const attached: AttachedProgram[] = [];
      try {
        for (const program of programs) {
          if (run.programs.includes(program)) continue;
          const target = specs.find((s) => s.program === program)?.target;
          attached.push(await run.bpfObject.attachProgram(program, { ...(target && { target }), signal }));
          for (const stream of run.bpfObject.streams) streamState(run, stream.map);
          this.changed.fire();
        }
      } catch (error) {
        if (run.bpfObject.attached.length === 0) {
          await this.stop(run).catch((stopError: unknown) => this.log.info(`${name}: undoing the run failed: ${errorMessage(stopError)}`));
        }
        throw error;
      }
      const where = attached.map((a) => `${a.program} → ${a.description} (prog id ${a.programId})`).join('; ');
      if (attached.length > 0) this.log.info(`${name}: attached on ${run.target} in ${Date.now() - started} ms: ${where}${existing ? ` (into the running object ${run.objectId}, sharing its maps)` : ''}`);
      return { run, attached };
    });
  }

  /** Detaches `program` of run `id`; the last program's detach stops the run. Undefined when it was not attached. */
  async detachProgram(id: string, program: string): Promise<RunSummary | undefined> {
    const attached = this.active.get(id);
    if (!attached) return undefined;
    return this.serialized(runKey(attached.file, attached.target), async () => {
      if (this.active.get(id) !== attached || !attached.programs.includes(program)) return undefined;
      await attached.bpfObject.detachProgram(program);
      const name = vscode.workspace.asRelativePath(attached.file);
      if (attached.bpfObject.attached.length > 0) {
        this.log.info(`${name}: detached ${program} from ${attached.target}; ${attached.programs.join(', ')} stay${attached.programs.length === 1 ? 's' : ''} attached`);
        this.changed.fire();
        return undefined;
      }
      this.log.info(`${name}: detached ${program} from ${attached.target}`);
      return this.stop(attached);
    });
  }

  /** Stops a run: streams, trace, links and the object, in that order; logs its final counters. */
  async detach(id: string): Promise<RunSummary | undefined> {
    const attached = this.active.get(id);
    if (!attached) return undefined;
    return this.serialized(runKey(attached.file, attached.target), async () => (this.active.get(id) === attached ? this.stop(attached) : undefined));
  }

  /** Detaches every run (of one target when given); failures are logged, the rest still detach. */
  async detachAll(target?: string): Promise<void> {
    const runs = this.runs().filter((r) => target === undefined || r.target === target);
    await Promise.all(runs.map((r) => this.detach(r.id).catch((error: unknown) => this.log.info(`detaching ${r.programs.join(', ')} failed: ${errorMessage(error)}`))));
  }

  dispose(): void {
    // The agents release everything when their sessions close (AgentSessions disposes them);
    // stopping here is the polite path for a session that stays open.
    for (const attached of this.active.values()) void attached.bpfObject.stop().catch(() => undefined);
    this.active.clear();
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    this.resumeRegistration.dispose();
    this.changed.dispose();
    this.eventsEmitter.dispose();
    this.traceEmitter.dispose();
  }

  /** Verifies and compiles `document` into a run with nothing attached yet, its handlers in place before any record is read. */
  private async open(document: vscode.TextDocument, session: AgentSession, sessionKey: string, signal: AbortSignal): Promise<AttachedRun> {
    const name = vscode.workspace.asRelativePath(document.uri);
    const presets = loadPresetsFor(document.uri);
    const { report, run } = await openProgramRun(session.client, document.uri.fsPath, {
      target: session.description,
      kernelRelease: session.hello.kernelRelease,
      readFile: readOpenDocumentOrDisk,
      project: projectLookupFor(document.uri),
      ...(presets && { presets }),
      signal,
    });
    if (!run) throw new NotAttachedError(rejection(report, name), report);
    const attached = new AttachedRun(`run-${this.nextId++}`, document.uri, session.description, session.hello.kernelRelease, run, session, sessionKey);
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
    void session.closed.then((reason) => this.linkLost(attached, session, reason));
    for (const note of run.notes) this.log.info(`${name}: ${note}`);
    if (run.traceUnavailable !== undefined) void vscode.window.showWarningMessage(`${name}: attached, but ${run.traceUnavailable}`);
    return attached;
  }

  /** Forgets `attached` and stops its run; logs the final counters. */
  private async stop(attached: AttachedRun): Promise<RunSummary> {
    const programs = attached.programs;
    this.active.delete(attached.id);
    this.changed.fire();
    const summary = await attached.bpfObject.stop();
    for (const s of summary.streams) {
      const state = attached.streams.get(s.map);
      if (state) state.counters = { received: s.received, sent: s.sent, dropped: s.dropped };
    }
    const counters = summary.streams.map((s) => `${s.map}: ${s.received} received, ${s.sent} sent, ${s.dropped} dropped`).join('; ');
    const name = vscode.workspace.asRelativePath(attached.file);
    this.log.info(`${name}: ${programs.length > 0 ? `detached ${programs.join(', ')} and ` : ''}released object ${attached.objectId} on ${attached.target}${counters ? ` — ${counters}` : ''}`);
    return summary;
  }

  /** Runs `step` after every attach/detach of the same (file, target) asked before it has settled. */
  private serialized<T>(key: string, step: () => Promise<T>): Promise<T> {
    const result = (this.queues.get(key) ?? Promise.resolve()).then(step);
    // The queue only orders the steps; each step's failure goes to its own caller through `result`.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return result;
  }

  /** The run's session closed: with a grace period the agent keeps the run, and it waits for a resume. */
  private linkLost(attached: AttachedRun, session: AgentSession, reason: Error): void {
    if (this.active.get(attached.id) !== attached || attached.session !== session) return;
    const ticket = session.resumeTicket;
    if (ticket === null || attached.programs.length === 0) return this.lost(attached, reason);
    attached.waitingSince = Date.now();
    const name = vscode.workspace.asRelativePath(attached.file);
    this.log.info(`${name}: the link to ${attached.target} dropped (${reason.message}); ${attached.programs.join(', ')} stay attached there for ${ticket.graceSeconds} s while reconnecting`);
    this.graceTimers.set(
      attached.id,
      setTimeout(() => this.lost(attached, new Error(`the link stayed down longer than the ${ticket.graceSeconds} s grace period`)), ticket.graceSeconds * 1000 + 5000),
    );
    this.changed.fire();
  }

  /** The session was resumed: the run carries on through it, or is gone when the agent no longer holds it. */
  private carryOn(attached: AttachedRun, session: AgentSession): void {
    clearTimeout(this.graceTimers.get(attached.id));
    this.graceTimers.delete(attached.id);
    attached.waitingSince = undefined;
    if (!attached.bpfObject.resumed(session.resumed!)) return this.lost(attached, new Error('the agent no longer held its object'));
    attached.session = session;
    void session.closed.then((reason) => this.linkLost(attached, session, reason));
    const name = vscode.workspace.asRelativePath(attached.file);
    this.log.info(`${name}: resumed on ${attached.target}: ${attached.programs.join(', ')} still attached`);
    this.changed.fire();
  }

  private lost(attached: AttachedRun, reason: Error): void {
    clearTimeout(this.graceTimers.get(attached.id));
    this.graceTimers.delete(attached.id);
    if (this.active.get(attached.id) !== attached) return;
    this.active.delete(attached.id);
    const programs = attached.programs;
    this.changed.fire();
    if (programs.length === 0) return;
    const name = vscode.workspace.asRelativePath(attached.file);
    this.log.info(`${name}: ${programs.join(', ')} detached from ${attached.target}: the session ended (${reason.message})`);
    void vscode.window.showWarningMessage(
      `eBPF Studio lost the connection to ${attached.target}: ${programs.join(', ')} of ${name} ${programs.length === 1 ? 'is' : 'are'} no longer attached.`,
    );
  }
}

function runKey(file: vscode.Uri, target: string): string {
  return `${target}\n${file.toString()}`;
}

/** The state of one event map's stream, created on first use (records can arrive while streams still start). */
function streamState(attached: AttachedRun, map: string): StreamState {
  let state = attached.streams.get(map);
  if (!state) {
    const stream = attached.bpfObject.streams.find((s) => s.map === map);
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
