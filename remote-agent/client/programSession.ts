/**
 * Running one BPF C file on a target: verify it exactly as `check` does, compile it for attaching
 * (with the record types of its event maps carried into BTF, see eventRecordTypes.ts), attach its
 * programs (by section, or where the caller's attach specs say) into ONE object instance so they
 * share its maps, stream every ring buffer and perf buffer map with records decoded into named
 * fields, follow trace_pipe when the program prints, and on stop undo all of it in reverse order
 * and report per-stream counters. Editor-independent: the CLI's `run` attaches everything at once
 * (startProgramRun); the extension opens a run and attaches and detaches programs one by one
 * (openProgramRun, ProgramRun.attachProgram / detachProgram).
 */
import * as path from 'node:path';
import type {
  AgentListener,
  AgentRequester,
  AttachResult,
  AttachTarget,
  CompileResult,
  EventsNotification,
  StreamCounters,
  StreamEndedNotification,
  StreamStartParams,
  TraceNotification,
  TraceStopResult,
} from '../protocol';
import { explicitTargetNeeded, programTypesFor, type AttachSpec } from './attachSpec';
import { parseBtf, type Btf } from './btf';
import { checkFile, type CheckOptions } from './checkFile';
import type { CheckReport } from './checkReport';
import { BpfObject } from './elfObject';
import { compileRecordDecoder, hexRecordDecoder, type DecodedValue, type RecordDecoder } from './eventDecoder';
import { eventTypeAnchorSource, eventTypeIds, findEventTypes, objectBtfBytes, type EventTypeHint } from './eventRecordTypes';
import { collectProjectBundle } from './projectFlags';
import type { SourceBundle } from './sourceBundle';
import { parseTraceLine, type TraceLine } from './traceLine';

interface Disposable {
  dispose(): void;
}

/** What a run needs of an agent connection; the AgentClient satisfies it. */
export type RunningAgent = AgentRequester<
  'compile' | 'load' | 'release' | 'attach' | 'detach' | 'object.maps' | 'stream.start' | 'stream.stop' | 'trace.start' | 'trace.stop'
> &
  AgentListener<'events' | 'trace' | 'stream.ended'>;

export interface RunOptions extends CheckOptions {
  /** Explicit targets; programs not named here attach by their section. */
  attach?: AttachSpec[];
  /** Follow trace_pipe; default: when the source calls bpf_printk / bpf_trace_printk. */
  trace?: boolean;
  /** Attach, but start reading the event maps only on `run.startStreams()` (records wait in the kernel's buffers). */
  deferStreams?: boolean;
  /** Per-stream batching and agent-side queue limit (protocol defaults when absent). */
  stream?: Pick<StreamStartParams, 'maxBatchRecords' | 'maxLatencyMs' | 'queueLimitBytes'>;
}

/** A batch of decoded records of one map, in the order the kernel produced them. */
export interface EventBatch {
  map: string;
  /** Client wall-clock time (ms since the epoch) the batch arrived. */
  receivedAt: number;
  records: DecodedValue[];
  counters: StreamCounters;
}

/** A trace_pipe line: its columns, or only its text when it has another shape. */
export interface TraceRecord {
  receivedAt: number;
  line: string;
  parsed: TraceLine | null;
}

export interface AttachedProgram {
  program: string;
  section: string;
  description: string;
  programId: number;
  linkId: string;
}

export interface EventStream {
  map: string;
  streamId: string;
  kind: 'ringbuf' | 'perf';
  /** C type the records decode as, or 'unknown' (hex). */
  recordType: string;
  /** Why records of this map are hex, when they are. */
  note?: string;
}

export interface StreamSummary extends StreamCounters {
  map: string;
  /** Records decoded by this client. */
  decoded: number;
  /** Why the stream stopped before `stop` (agent's words), if it did. */
  endedEarly?: string;
}

export interface RunSummary {
  streams: StreamSummary[];
  trace: TraceStopResult | null;
}

/** The kernel (or the agent) refused to attach one program; `cause` is the agent's error. */
export class AttachError extends Error {
  constructor(
    readonly program: string,
    readonly section: string,
    message: string,
    readonly cause: unknown,
  ) {
    super(message);
    this.name = 'AttachError';
  }
}

const WRAPPER_NAME = '__ebpf_studio_run.c';
const PRINTK_CALL = /\b(bpf_printk|bpf_trace_printk|bpf_trace_vprintk|__bpf_printk|__bpf_vprintk)\s*\(/;

/**
 * The agent follows trace_pipe once (the kernel hands each line to one reader), while several runs
 * on one target may print: they share the follower, started by the first and stopped by the last.
 */
const traceFollowers = new WeakMap<RunningAgent, { users: number; started: Promise<unknown> }>();

async function followTrace(agent: RunningAgent, signal: AbortSignal | undefined): Promise<void> {
  const shared = traceFollowers.get(agent);
  if (shared) {
    shared.users++;
    try {
      await shared.started;
    } catch (error) {
      shared.users--;
      throw error;
    }
    return;
  }
  const started = agent.request('trace.start', {}, signal);
  traceFollowers.set(agent, { users: 1, started });
  try {
    await started;
  } catch (error) {
    traceFollowers.delete(agent);
    throw error;
  }
}

/** The follower's final counters when this was its last user, else null (it keeps running). */
async function unfollowTrace(agent: RunningAgent): Promise<TraceStopResult | null> {
  const shared = traceFollowers.get(agent);
  if (!shared) return null;
  if (--shared.users > 0) return null;
  traceFollowers.delete(agent);
  return agent.request('trace.stop', {});
}
const EVENT_MAP_TYPES = new Set(['ringbuf', 'perf_event_array']);

/**
 * Verifies `file` (the report is exactly `check`'s) and, when every program passes, compiles it
 * for running and loads nothing yet: the run is open with no program attached, its trace_pipe
 * follower (if any) started. Attach programs into it one by one with `attachProgram`; they all go
 * into the one object instance the agent loads on the first attach, so they share its maps.
 * When a program is rejected or the file does not compile, `run` is undefined. `opts.attach`
 * specs are checked here (before anything is compiled) and become the programs' default targets.
 * The caller must `stop()` the run.
 */
export function openProgramRun(agent: RunningAgent, file: string, opts: RunOptions): Promise<{ report: CheckReport; run?: ProgramRun }> {
  return openRun(agent, file, opts, 'some');
}

/**
 * `openProgramRun`, then every program attached (by section, or where `opts.attach` says) and the
 * event maps streaming: the CLI's `run`. Fails before anything is compiled when a program needs
 * an explicit target that the specs do not give; a failure after that undoes the whole run.
 */
export async function startProgramRun(agent: RunningAgent, file: string, opts: RunOptions): Promise<{ report: CheckReport; run?: ProgramRun }> {
  const opened = await openRun(agent, file, opts, 'every');
  if (!opened.run) return opened;
  const run = opened.run;
  await undoingOnFailure(run, async () => {
    for (const program of run.report.programs) await run.attachProgram(program.name, { signal: opts.signal });
  });
  return opened;
}

async function openRun(agent: RunningAgent, file: string, opts: RunOptions, targetsFor: 'some' | 'every'): Promise<{ report: CheckReport; run?: ProgramRun }> {
  const report = await checkFile(agent, file, opts);
  const rejected = !report.compiled || report.programs.some((p) => !p.ok) || report.diagnostics.some((d) => d.severity === 'error');
  if (rejected) return { report };
  if (report.programs.length === 0) throw new Error(`${file} has no BPF programs (no SEC("…") functions): there is nothing to run.`);
  const targets = assignTargets(report, opts.attach ?? [], targetsFor);
  const bundle = await collectProjectBundle(file, opts);
  const hints = new Map<string, EventTypeHint>();
  for (const f of bundle.files) for (const [map, hint] of findEventTypes(f.content)) if (!hints.has(map)) hints.set(map, hint);
  const notes: string[] = [];
  const compiled = await compileForRun(agent, bundle, hints, notes, opts.signal);
  const run = new ProgramRun(agent, { file, report, bundle, hints, targets, compiled, notes, readFile: opts.readFile, project: opts.project, presets: opts.presets, stream: opts.stream, deferStreams: opts.deferStreams ?? false });
  await undoingOnFailure(run, () => run.open(opts.trace, opts.signal));
  return { report, run };
}

/** Runs `step`; when it fails, stops the run (detach, release) and rethrows. */
async function undoingOnFailure(run: ProgramRun, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    await run.stop().catch((stopError: unknown) => {
      throw new AggregateError([error, stopError], `${messageOf(error)} (undoing the run failed too: ${messageOf(stopError)})`);
    });
    throw error;
  }
}

/**
 * The explicit target of each program the specs name (the others attach by their section); with
 * 'every', also that each program whose section does not say where has one. Fails before anything
 * is compiled or loaded.
 */
function assignTargets(report: CheckReport, specs: AttachSpec[], targetsFor: 'some' | 'every'): Map<string, AttachTarget> {
  const targets = new Map<string, AttachTarget>();
  const names = new Set(report.programs.map((p) => p.name));
  for (const spec of specs) {
    let program = spec.program;
    if (program === undefined) {
      const types = programTypesFor(spec.target);
      const fitting = report.programs.filter((p) => types.includes(p.type) && !targets.has(p.name));
      if (fitting.length !== 1) {
        const listed = report.programs.map((p) => `${p.name} (${p.type})`).join(', ');
        throw new Error(
          fitting.length === 0
            ? `No program of this file can attach to ${spec.target.kind} (programs: ${listed}). Check the spec's kind.`
            : `Several programs can attach to ${spec.target.kind} (${fitting.map((p) => p.name).join(', ')}): write --attach PROGRAM=SPEC to choose.`,
        );
      }
      program = fitting[0].name;
    }
    if (!names.has(program)) {
      throw new Error(`--attach names program '${program}', but this file's programs are ${report.programs.map((p) => p.name).join(', ')}.`);
    }
    if (targets.has(program)) throw new Error(`--attach gives program '${program}' twice; a run attaches each program once.`);
    targets.set(program, spec.target);
  }
  if (targetsFor === 'every') {
    for (const p of report.programs) {
      const needed = explicitTargetNeeded(p.section);
      if (needed && !targets.has(p.name)) {
        throw new Error(`Program ${p.name} (SEC("${p.section}")) cannot attach by its section: ${needed.why}. Add --attach ${p.name}=${needed.example}.`);
      }
    }
  }
  return targets;
}

type CompiledForRun = CompileResult & { objectId: string; anchored: boolean };

/**
 * Compiles the wrapper that anchors the record types in BTF; when the hints do not compile at
 * file scope (a type local to a function, a typo in an annotation) the plain file is compiled
 * instead and its records stay hex.
 */
async function compileForRun(agent: RunningAgent, bundle: SourceBundle, hints: Map<string, EventTypeHint>, notes: string[], signal: AbortSignal | undefined): Promise<CompiledForRun> {
  const dir = path.posix.dirname(bundle.main);
  const wrapper = dir === '.' ? WRAPPER_NAME : `${dir}/${WRAPPER_NAME}`;
  if (hints.size > 0) {
    const content = eventTypeAnchorSource(path.posix.basename(bundle.main), hints.values());
    const anchored = await agent.request('compile', bundle.compileParams(wrapper, [{ path: wrapper, content }]), signal);
    if (anchored.ok && anchored.objectId !== null) return { ...anchored, objectId: anchored.objectId, anchored: true };
    const firstError = anchored.stderr.split('\n').find((l) => /error:/.test(l)) ?? anchored.stderr.trim();
    notes.push(`The record types ${[...hints.values()].map((h) => `'${h.type}'`).join(', ')} do not compile at file scope (${firstError}); events are shown as hex.`);
  }
  const plain = await agent.request('compile', bundle.compileParams(), signal);
  if (!plain.ok || plain.objectId === null) throw new Error(`The file compiled for verifying but not for running: ${plain.stderr.trim()}`);
  return { ...plain, objectId: plain.objectId, anchored: false };
}

/** What openRun hands a new ProgramRun. */
interface RunParts {
  file: string;
  report: CheckReport;
  bundle: SourceBundle;
  hints: Map<string, EventTypeHint>;
  targets: Map<string, AttachTarget>;
  compiled: CompiledForRun;
  notes: string[];
  readFile: RunOptions['readFile'];
  project: RunOptions['project'];
  presets: RunOptions['presets'];
  stream: RunOptions['stream'];
  deferStreams: boolean;
}

/**
 * One compiled object of one file on one agent, and what of it is attached. Every program is
 * attached into the same object instance (the agent loads the whole object on the first attach),
 * so they share its maps; the event maps stream once, from the first attach on, whichever
 * program that is. Attach, detach and stop run one at a time, in the order they were called.
 */
export class ProgramRun {
  /** The agent's handle of the object: for object.maps, map.dump, map.update, map.delete. */
  readonly objectId: string;
  /** Local path of the file the run compiled. */
  readonly file: string;
  /** The verification the run started from: every program of the file, all accepted. */
  readonly report: CheckReport;
  /** The programs attached now, in the order they were attached. */
  readonly attached: AttachedProgram[] = [];
  /** The event maps' streams (started by the first attach). */
  readonly streams: EventStream[] = [];
  /** Warnings for people: record types that could not be found, and why. */
  readonly notes: string[];
  tracing = false;

  private readonly bundle: SourceBundle;
  private readonly hints: Map<string, EventTypeHint>;
  private readonly targets: Map<string, AttachTarget>;
  private readonly anchored: boolean;
  /** The compiled ELF (the agent sends it back with the object id). */
  private readonly object: Buffer | undefined;
  private readonly readFile: RunOptions['readFile'];
  private readonly project: RunOptions['project'];
  private readonly presets: RunOptions['presets'];
  private readonly streamOptions: RunOptions['stream'];
  /** Attaches leave the event maps unread until startStreams(). */
  private streamsDeferred: boolean;
  private objectBtf: { btf: Btf; littleEndian: boolean } | null | undefined;
  private readonly valueDecoders = new Map<number, RecordDecoder>();
  private readonly decoders = new Map<string, { stream: EventStream; decoder: RecordDecoder; decoded: number; ended?: StreamEndedNotification }>();
  private readonly subscriptions: Disposable[] = [];
  private eventHandlers: ((batch: EventBatch) => void)[] = [];
  private traceHandlers: ((records: TraceRecord[], dropped: number) => void)[] = [];
  private endedHandlers: ((stream: EventStream, reason: string) => void)[] = [];
  /** The last attach/detach/stop called: the next one starts after it settles. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopping: Promise<RunSummary> | undefined;

  /** @internal Made by openProgramRun / startProgramRun. */
  constructor(
    private readonly agent: RunningAgent,
    parts: RunParts,
  ) {
    this.objectId = parts.compiled.objectId;
    this.file = parts.file;
    this.report = parts.report;
    this.bundle = parts.bundle;
    this.hints = parts.hints;
    this.targets = parts.targets;
    this.anchored = parts.compiled.anchored;
    this.object = parts.compiled.object === null ? undefined : Buffer.from(parts.compiled.object, 'base64');
    this.notes = parts.notes;
    this.readFile = parts.readFile;
    this.project = parts.project;
    this.presets = parts.presets;
    this.streamOptions = parts.stream;
    this.streamsDeferred = parts.deferStreams;
  }

  onEvents(handler: (batch: EventBatch) => void): void {
    this.eventHandlers.push(handler);
  }

  onTrace(handler: (records: TraceRecord[], dropped: number) => void): void {
    this.traceHandlers.push(handler);
  }

  /** A stream the agent stopped on its own (object released, read error). */
  onStreamEnded(handler: (stream: EventStream, reason: string) => void): void {
    this.endedHandlers.push(handler);
  }

  /** @internal Subscribes to the agent's notifications and follows trace_pipe when wanted. */
  async open(trace: boolean | undefined, signal: AbortSignal | undefined): Promise<void> {
    this.subscriptions.push(
      this.agent.onNotification('events', (batch) => this.deliverEvents(batch)),
      this.agent.onNotification('stream.ended', (ended) => this.streamEnded(ended)),
    );
    if (trace ?? this.bundle.files.some((f) => PRINTK_CALL.test(f.content))) {
      // Before any attach, so the first lines the programs print are not missed.
      this.subscriptions.push(this.agent.onNotification('trace', (batch) => this.deliverTrace(batch)));
      await followTrace(this.agent, signal);
      this.tracing = true;
    }
  }

  /**
   * Attaches `program` into this run's object instance, by its section unless a target is given
   * (here, or by the run's `opts.attach`); the first attach loads the object and starts streaming
   * its event maps. On failure nothing of this call stays attached; AttachError when the agent or
   * the kernel refuses.
   */
  attachProgram(program: string, options: { target?: AttachTarget; signal?: AbortSignal } = {}): Promise<AttachedProgram> {
    return this.serialized(async () => {
      if (this.stopping) throw new Error(`The run of ${path.basename(this.file)} is stopped: attach ${program} in a new run.`);
      const report = this.report.programs.find((p) => p.name === program);
      if (!report) throw new Error(`${path.basename(this.file)} has no program named ${program} (its programs: ${this.report.programs.map((p) => p.name).join(', ')}).`);
      const already = this.attached.find((a) => a.program === program);
      if (already) throw new Error(`${program} is already attached (${already.description}); detach it before attaching it again.`);
      const target = options.target ?? this.targets.get(program);
      let result: AttachResult;
      try {
        // The first attach loads the object: with the presets its check was verified with.
        result = await this.agent.request('attach', { objectId: this.objectId, program, ...(target && { target }), ...(this.presets && { presets: this.presets }) }, options.signal);
      } catch (error) {
        throw new AttachError(program, report.section, `Cannot attach ${program} (SEC("${report.section}")): ${messageOf(error)}`, error);
      }
      const attached: AttachedProgram = { program, section: report.section, description: result.description, programId: result.programId, linkId: result.linkId };
      this.attached.push(attached);
      try {
        if (!this.streamsDeferred) await this.startEventStreams(options.signal);
      } catch (error) {
        this.attached.splice(this.attached.indexOf(attached), 1);
        await this.agent.request('detach', { linkId: attached.linkId }).catch((detachError: unknown) => {
          throw new AggregateError([error, detachError], `${messageOf(error)} (detaching ${program} again failed too: ${messageOf(detachError)})`);
        });
        throw error;
      }
      return attached;
    });
  }

  /**
   * Detaches `program`'s link. The object stays loaded with its maps and streams, for the other
   * programs and for attaching again; `stop()` releases it.
   */
  detachProgram(program: string, signal?: AbortSignal): Promise<void> {
    return this.serialized(async () => {
      const index = this.attached.findIndex((a) => a.program === program);
      if (index === -1) {
        throw new Error(`${program} is not attached in this run of ${path.basename(this.file)} (attached: ${this.attached.map((a) => a.program).join(', ') || 'none'}).`);
      }
      await this.agent.request('detach', { linkId: this.attached[index].linkId }, signal);
      this.attached.splice(index, 1);
    });
  }

  /**
   * The decoder of BTF type `typeId` of the running object, for map keys and values (a map's
   * btfKeyTypeId / btfValueTypeId); hex when `typeId` is 0 or the object has no BTF.
   */
  valueDecoder(typeId: number): RecordDecoder {
    const btf = this.btf();
    if (typeId === 0 || !btf) return hexRecordDecoder;
    let decoder = this.valueDecoders.get(typeId);
    if (!decoder) {
      decoder = compileRecordDecoder(btf.btf, typeId, btf.littleEndian);
      this.valueDecoders.set(typeId, decoder);
    }
    return decoder;
  }

  /**
   * Whether the file (or a header it includes, or its project's flags) now reads differently from
   * what this run compiled: a program attached into this run would then not be the code the user sees.
   */
  async sourceChanged(signal?: AbortSignal): Promise<boolean> {
    const now = await collectProjectBundle(this.file, { readFile: this.readFile, project: this.project, signal });
    const then = this.bundle.files;
    const flagsOf = (b: SourceBundle): string => JSON.stringify([b.includeDirs, b.defines]);
    if (flagsOf(now) !== flagsOf(this.bundle)) return true;
    return now.files.length !== then.length || now.files.some((f, i) => f.path !== then[i].path || f.content !== then[i].content);
  }

  /**
   * With `deferStreams`: starts reading the event maps now (once a program is attached), and from
   * then on like a run without it.
   */
  startStreams(signal?: AbortSignal): Promise<void> {
    return this.serialized(async () => {
      this.streamsDeferred = false;
      if (this.attached.length > 0) await this.startEventStreams(signal);
    });
  }

  /** Starts a stream for each ring buffer and perf buffer map not streaming yet (the object is loaded). */
  private async startEventStreams(signal: AbortSignal | undefined): Promise<void> {
    const { maps } = await this.agent.request('object.maps', { objectId: this.objectId }, signal);
    for (const map of maps) {
      if (!EVENT_MAP_TYPES.has(map.type) || this.streams.some((s) => s.map === map.name)) continue;
      const { decoder, note } = this.eventDecoder(map.name);
      const started = await this.agent.request('stream.start', { objectId: this.objectId, map: map.name, ...this.streamOptions }, signal);
      const stream: EventStream = { map: map.name, streamId: started.streamId, kind: started.kind, recordType: decoder.typeName, ...(note && { note }) };
      this.streams.push(stream);
      this.decoders.set(started.streamId, { stream, decoder, decoded: 0 });
      if (note) this.notes.push(note);
    }
  }

  /** The object's BTF, parsed on first use. */
  private btf(): { btf: Btf; littleEndian: boolean } | null {
    if (this.objectBtf === undefined) {
      this.objectBtf = null;
      if (this.object) {
        const elf = BpfObject.parse(this.object);
        const bytes = objectBtfBytes(elf, this.object);
        if (bytes) this.objectBtf = { btf: parseBtf(bytes), littleEndian: elf.littleEndian };
      }
    }
    return this.objectBtf;
  }

  /** How the records of event map `map` decode: with the type the anchor gave it in BTF, else hex with why. */
  private eventDecoder(map: string): { decoder: RecordDecoder; note?: string } {
    const btf = this.anchored ? this.btf() : null;
    const id = btf ? eventTypeIds(btf.btf).get(map) : undefined;
    if (btf && id !== undefined) return { decoder: compileRecordDecoder(btf.btf, id, btf.littleEndian) };
    const hint = this.hints.get(map);
    if (hint) return { decoder: hexRecordDecoder, note: `${map}: the record type '${hint.type}' is not in the object's BTF; events are shown as hex.` };
    return {
      decoder: hexRecordDecoder,
      note: `${map}: no bpf_ringbuf_reserve/bpf_ringbuf_output/bpf_perf_event_output call names its record type; events are shown as hex. Add /* ebpf-studio: event ${map} struct NAME */ to the source.`,
    };
  }

  private deliverEvents(batch: EventsNotification): void {
    const entry = this.decoders.get(batch.streamId);
    if (!entry) return; // a stream of another run on the same agent
    const bytes = Buffer.from(batch.data, 'base64');
    const records = entry.decoder.decodeBatch(bytes, batch.sizes);
    entry.decoded += records.length;
    const event: EventBatch = { map: entry.stream.map, receivedAt: Date.now(), records, counters: batch.counters };
    for (const handler of this.eventHandlers) handler(event);
  }

  private deliverTrace(batch: TraceNotification): void {
    const receivedAt = Date.now();
    const records = batch.lines.map((line) => ({ receivedAt, line, parsed: parseTraceLine(line) }));
    for (const handler of this.traceHandlers) handler(records, batch.dropped);
  }

  private streamEnded(ended: StreamEndedNotification): void {
    const entry = this.decoders.get(ended.streamId);
    if (!entry) return;
    entry.ended = ended;
    for (const handler of this.endedHandlers) handler(entry.stream, ended.reason);
  }

  /** Runs `step` after every attach/detach/stop called before it has settled. */
  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    // The queue only orders the steps; each step's failure goes to its own caller through `result`.
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Stops streams (final counters), trace, detaches every link and releases the object, after
   * any attach or detach in progress; every step is tried even when an earlier one fails, and
   * the first failure is thrown after all of them.
   */
  stop(): Promise<RunSummary> {
    this.stopping ??= this.serialized(() => this.stopAll());
    return this.stopping;
  }

  private async stopAll(): Promise<RunSummary> {
    const failures: unknown[] = [];
    const attempt = async <T>(step: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await step();
      } catch (error) {
        failures.push(error);
        return undefined;
      }
    };
    const summary: RunSummary = { streams: [], trace: null };
    for (const stream of this.streams) {
      const entry = this.decoders.get(stream.streamId)!;
      const counters = entry.ended ? entry.ended.counters : await attempt(() => this.agent.request('stream.stop', { streamId: stream.streamId }));
      summary.streams.push({
        map: stream.map,
        received: counters?.received ?? 0,
        sent: counters?.sent ?? 0,
        dropped: counters?.dropped ?? 0,
        decoded: entry.decoded,
        ...(entry.ended && { endedEarly: entry.ended.reason }),
      });
    }
    if (this.tracing) {
      summary.trace = (await attempt(() => unfollowTrace(this.agent))) ?? null;
      this.tracing = false;
    }
    for (const link of [...this.attached].reverse()) await attempt(() => this.agent.request('detach', { linkId: link.linkId }));
    this.attached.length = 0;
    await attempt(() => this.agent.request('release', { objectId: this.objectId }));
    for (const s of this.subscriptions) s.dispose();
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `Stopping the run failed: ${failures.map(messageOf).join('; ')}`);
    return summary;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
