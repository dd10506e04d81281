/**
 * Running one BPF C file on a target: verify it exactly as `check` does, compile it for attaching
 * (with the record types of its event maps carried into BTF, see eventRecordTypes.ts), attach
 * every program (by section, or where the caller's attach specs say), stream every ring buffer and
 * perf buffer map with records decoded into named fields, follow trace_pipe when the program
 * prints, and on stop undo all of it in reverse order and report per-stream counters.
 * Editor-independent: the CLI's `run` and the extension's live view share it.
 */
import * as path from 'node:path';
import type {
  AttachParams,
  AttachResult,
  AttachTarget,
  CompileParams,
  CompileResult,
  DetachParams,
  DetachResult,
  EventsNotification,
  LoadParams,
  LoadResult,
  ObjectMapsParams,
  ObjectMapsResult,
  ReleaseParams,
  ReleaseResult,
  StreamCounters,
  StreamEndedNotification,
  StreamStartParams,
  StreamStartResult,
  StreamStopParams,
  StreamStopResult,
  TraceNotification,
  TraceStopResult,
} from '../protocol';
import { explicitTargetNeeded, programTypesFor, type AttachSpec } from './attachSpec';
import { parseBtf } from './btf';
import { checkFile, type CheckOptions } from './checkFile';
import type { CheckReport } from './checkReport';
import { BpfObject } from './elfObject';
import { compileRecordDecoder, hexRecordDecoder, type DecodedValue, type RecordDecoder } from './eventDecoder';
import { eventTypeAnchorSource, eventTypeIds, findEventTypes, objectBtfBytes, type EventTypeHint } from './eventRecordTypes';
import { collectSourceBundle, type SourceBundle } from './sourceBundle';
import { parseTraceLine, type TraceLine } from './traceLine';

interface Disposable {
  dispose(): void;
}

/** What a run needs of an agent connection; the AgentClient satisfies it. */
export interface RunningAgent {
  compile(p: CompileParams, signal?: AbortSignal): Promise<CompileResult>;
  load(p: LoadParams, signal?: AbortSignal): Promise<LoadResult>;
  release(p: ReleaseParams, signal?: AbortSignal): Promise<ReleaseResult>;
  attach(p: AttachParams, signal?: AbortSignal): Promise<AttachResult>;
  detach(p: DetachParams, signal?: AbortSignal): Promise<DetachResult>;
  objectMaps(p: ObjectMapsParams, signal?: AbortSignal): Promise<ObjectMapsResult>;
  streamStart(p: StreamStartParams, signal?: AbortSignal): Promise<StreamStartResult>;
  streamStop(p: StreamStopParams, signal?: AbortSignal): Promise<StreamStopResult>;
  traceStart(signal?: AbortSignal): Promise<Record<string, never>>;
  traceStop(signal?: AbortSignal): Promise<TraceStopResult>;
  onEvents(handler: (batch: EventsNotification) => void): Disposable;
  onTrace(handler: (batch: TraceNotification) => void): Disposable;
  onStreamEnded(handler: (ended: StreamEndedNotification) => void): Disposable;
}

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
const EVENT_MAP_TYPES = new Set(['ringbuf', 'perf_event_array']);

/**
 * Verifies `file` (the report is exactly `check`'s). When a program is rejected or the file does
 * not compile, nothing is attached and `run` is undefined; else the programs are attached and
 * streaming, and the caller must `stop()` the run.
 */
export async function startProgramRun(agent: RunningAgent, file: string, opts: RunOptions): Promise<{ report: CheckReport; run?: ProgramRun }> {
  const report = await checkFile(agent, file, opts);
  const rejected = !report.compiled || report.programs.some((p) => !p.ok) || report.diagnostics.some((d) => d.severity === 'error');
  if (rejected) return { report };
  if (report.programs.length === 0) throw new Error(`${file} has no BPF programs (no SEC("…") functions): there is nothing to run.`);
  const targets = assignTargets(report, opts.attach ?? []);
  const bundle = await collectSourceBundle(file, { readFile: opts.readFile, signal: opts.signal });
  const run = new ProgramRun(agent, opts);
  try {
    await run.start(bundle, report, targets);
  } catch (error) {
    await run.stop().catch((stopError: unknown) => {
      throw new AggregateError([error, stopError], `${messageOf(error)} (undoing the run failed too: ${messageOf(stopError)})`);
    });
    throw error;
  }
  return { report, run };
}

/** Which target each program attaches to (undefined: by its section); fails before anything is loaded. */
function assignTargets(report: CheckReport, specs: AttachSpec[]): Map<string, AttachTarget | undefined> {
  const targets = new Map<string, AttachTarget | undefined>(report.programs.map((p) => [p.name, undefined]));
  const explicit = new Set<string>();
  for (const spec of specs) {
    let program = spec.program;
    if (program === undefined) {
      const types = programTypesFor(spec.target);
      const fitting = report.programs.filter((p) => types.includes(p.type) && !explicit.has(p.name));
      if (fitting.length !== 1) {
        const names = report.programs.map((p) => `${p.name} (${p.type})`).join(', ');
        throw new Error(
          fitting.length === 0
            ? `No program of this file can attach to ${spec.target.kind} (programs: ${names}). Check the spec's kind.`
            : `Several programs can attach to ${spec.target.kind} (${fitting.map((p) => p.name).join(', ')}): write --attach PROGRAM=SPEC to choose.`,
        );
      }
      program = fitting[0].name;
    }
    if (!targets.has(program)) {
      throw new Error(`--attach names program '${program}', but this file's programs are ${report.programs.map((p) => p.name).join(', ')}.`);
    }
    if (explicit.has(program)) throw new Error(`--attach gives program '${program}' twice; a run attaches each program once.`);
    explicit.add(program);
    targets.set(program, spec.target);
  }
  for (const p of report.programs) {
    const needed = explicitTargetNeeded(p.section);
    if (needed && !explicit.has(p.name)) {
      throw new Error(`Program ${p.name} (SEC("${p.section}")) cannot attach by its section: ${needed.why}. Add --attach ${p.name}=${needed.example}.`);
    }
  }
  return targets;
}

export class ProgramRun {
  readonly attached: AttachedProgram[] = [];
  readonly streams: EventStream[] = [];
  /** Warnings for people: record types that could not be found, and why. */
  readonly notes: string[] = [];
  tracing = false;

  private objectId: string | undefined;
  private readonly decoders = new Map<string, { stream: EventStream; decoder: RecordDecoder; decoded: number; ended?: StreamEndedNotification }>();
  private readonly subscriptions: Disposable[] = [];
  private eventHandlers: ((batch: EventBatch) => void)[] = [];
  private traceHandlers: ((records: TraceRecord[], dropped: number) => void)[] = [];
  private endedHandlers: ((stream: EventStream, reason: string) => void)[] = [];
  private stopping: Promise<RunSummary> | undefined;
  private pendingStreams: (() => Promise<void>) | undefined;

  constructor(
    private readonly agent: RunningAgent,
    private readonly opts: RunOptions,
  ) {}

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

  /** @internal Called by startProgramRun. */
  async start(bundle: SourceBundle, report: CheckReport, targets: Map<string, AttachTarget | undefined>): Promise<void> {
    const { signal } = this.opts;
    const hints = new Map<string, EventTypeHint>();
    for (const f of bundle.files) for (const [map, hint] of findEventTypes(f.content)) if (!hints.has(map)) hints.set(map, hint);

    const compiled = await this.compileForRun(bundle, hints);
    this.objectId = compiled.objectId;
    const decoderFor = this.decoderFactory(compiled, hints);

    this.subscriptions.push(
      this.agent.onEvents((batch) => this.deliverEvents(batch)),
      this.agent.onStreamEnded((ended) => this.streamEnded(ended)),
    );
    const wantTrace = this.opts.trace ?? bundle.files.some((f) => PRINTK_CALL.test(f.content));
    if (wantTrace) {
      // Before attaching, so the first lines the programs print are not missed.
      this.subscriptions.push(this.agent.onTrace((batch) => this.deliverTrace(batch)));
      await this.agent.traceStart(signal);
      this.tracing = true;
    }

    for (const program of report.programs) {
      const target = targets.get(program.name);
      let result: AttachResult;
      try {
        result = await this.agent.attach({ objectId: compiled.objectId, program: program.name, ...(target && { target }) }, signal);
      } catch (error) {
        throw new AttachError(program.name, program.section, `Cannot attach ${program.name} (SEC("${program.section}")): ${messageOf(error)}`, error);
      }
      this.attached.push({ program: program.name, section: program.section, description: result.description, programId: result.programId, linkId: result.linkId });
    }

    const { maps } = await this.agent.objectMaps({ objectId: compiled.objectId }, signal);
    const eventMaps = maps.filter((m) => EVENT_MAP_TYPES.has(m.type));
    this.pendingStreams = async () => {
      for (const map of eventMaps) {
        const { decoder, note } = decoderFor(map.name);
        const started = await this.agent.streamStart({ objectId: compiled.objectId, map: map.name, ...this.opts.stream }, this.opts.signal);
        const stream: EventStream = { map: map.name, streamId: started.streamId, kind: started.kind, recordType: decoder.typeName, ...(note && { note }) };
        this.streams.push(stream);
        this.decoders.set(started.streamId, { stream, decoder, decoded: 0 });
        if (note) this.notes.push(note);
      }
    };
    if (!this.opts.deferStreams) await this.startStreams();
  }

  /** Starts reading every ring buffer and perf buffer map (once; start() does it unless deferStreams). */
  async startStreams(): Promise<void> {
    const start = this.pendingStreams;
    this.pendingStreams = undefined;
    await start?.();
  }

  /**
   * Compiles the wrapper that anchors the record types in BTF; when the hints do not compile at
   * file scope (a type local to a function, a typo in an annotation) the plain file is compiled
   * instead and its records stay hex.
   */
  private async compileForRun(bundle: SourceBundle, hints: Map<string, EventTypeHint>): Promise<CompileResult & { objectId: string; anchored: boolean }> {
    const { signal } = this.opts;
    const dir = path.posix.dirname(bundle.main);
    const wrapper = dir === '.' ? WRAPPER_NAME : `${dir}/${WRAPPER_NAME}`;
    if (hints.size > 0) {
      const content = eventTypeAnchorSource(path.posix.basename(bundle.main), hints.values());
      const anchored = await this.agent.compile({ files: [...bundle.files, { path: wrapper, content }], main: wrapper }, signal);
      if (anchored.ok && anchored.objectId !== null) return { ...anchored, objectId: anchored.objectId, anchored: true };
      const firstError = anchored.stderr.split('\n').find((l) => /error:/.test(l)) ?? anchored.stderr.trim();
      this.notes.push(`The record types ${[...hints.values()].map((h) => `'${h.type}'`).join(', ')} do not compile at file scope (${firstError}); events are shown as hex.`);
    }
    const plain = await this.agent.compile({ files: bundle.files, main: bundle.main }, signal);
    if (!plain.ok || plain.objectId === null) throw new Error(`The file compiled for verifying but not for running: ${plain.stderr.trim()}`);
    return { ...plain, objectId: plain.objectId, anchored: false };
  }

  private decoderFactory(compiled: CompileResult & { anchored: boolean }, hints: Map<string, EventTypeHint>): (map: string) => { decoder: RecordDecoder; note?: string } {
    let ids = new Map<string, number>();
    let btf: ReturnType<typeof parseBtf> | undefined;
    let littleEndian = true;
    if (compiled.anchored && compiled.object !== null) {
      const bytes = Buffer.from(compiled.object, 'base64');
      const object = BpfObject.parse(bytes);
      littleEndian = object.littleEndian;
      const btfBytes = objectBtfBytes(object, bytes);
      if (btfBytes) {
        btf = parseBtf(btfBytes);
        ids = eventTypeIds(btf);
      }
    }
    return (map) => {
      const id = ids.get(map);
      if (btf && id !== undefined) return { decoder: compileRecordDecoder(btf, id, littleEndian) };
      if (hints.has(map)) return { decoder: hexRecordDecoder, note: `${map}: the record type '${hints.get(map)!.type}' is not in the object's BTF; events are shown as hex.` };
      return {
        decoder: hexRecordDecoder,
        note: `${map}: no bpf_ringbuf_reserve/bpf_ringbuf_output/bpf_perf_event_output call names its record type; events are shown as hex. Add /* ebpf-studio: event ${map} struct NAME */ to the source.`,
      };
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

  /**
   * Stops streams (final counters), trace, detaches every link and releases the object; every step
   * is tried even when an earlier one fails, and the first failure is thrown after all of them.
   */
  stop(): Promise<RunSummary> {
    this.stopping ??= this.stopAll();
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
      const counters = entry.ended ? entry.ended.counters : await attempt(() => this.agent.streamStop({ streamId: stream.streamId }));
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
      summary.trace = (await attempt(() => this.agent.traceStop())) ?? null;
      this.tracing = false;
    }
    for (const link of [...this.attached].reverse()) await attempt(() => this.agent.detach({ linkId: link.linkId }));
    if (this.objectId !== undefined) {
      const objectId = this.objectId;
      await attempt(() => this.agent.release({ objectId }));
    }
    for (const s of this.subscriptions) s.dispose();
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `Stopping the run failed: ${failures.map(messageOf).join('; ')}`);
    return summary;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
