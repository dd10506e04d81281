/**
 * A run of one BPF C file on one agent (ProgramRun): its one compiled object, the programs
 * attached into it (so they share its maps), its ring buffer and perf buffer maps streamed with
 * records decoded into named fields, trace_pipe followed when it prints, and on stop all of it
 * undone in reverse order with per-stream counters. openProgramRun.ts verifies and compiles the
 * file and makes the run; the editor and the CLI drive it from there.
 */
import * as path from 'node:path';
import type {
  AgentListener,
  AgentRequester,
  AttachResult,
  AttachTarget,
  EventsNotification,
  StreamCounters,
  StreamEndedNotification,
  StreamStartParams,
  TraceNotification,
  TraceStopResult,
} from '../protocol';
import { parseBtf, type Btf } from './btf';
import type { CheckOptions } from './checkFile';
import type { CheckReport } from './checkReport';
import type { CompiledForRun } from './compileForRun';
import { BpfObject } from './elfObject';
import { compileRecordDecoder, hexRecordDecoder, type DecodedValue, type RecordDecoder } from './eventDecoder';
import { eventTypeIds, objectBtfBytes, type EventTypeHint } from './eventRecordTypes';
import { collectProjectBundle } from './projectFlags';
import type { SourceBundle } from './sourceBundle';
import { followTrace, moveTraceFollower, unfollowTrace } from './traceFollowers';
import { parseTraceLine, type TraceLine } from './traceLine';

interface Disposable {
  dispose(): void;
}

/** What a run needs of an agent connection; the AgentClient satisfies it. */
export type RunningAgent = AgentRequester<
  'compile' | 'load' | 'release' | 'attach' | 'detach' | 'object.maps' | 'stream.start' | 'stream.stop' | 'trace.start' | 'trace.stop'
> &
  AgentListener<'events' | 'trace' | 'stream.ended'>;

/** Per-stream batching and agent-side queue limit (protocol defaults when absent). */
export type StreamOptions = Pick<StreamStartParams, 'maxBatchRecords' | 'maxLatencyMs' | 'queueLimitBytes'>;

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

const PRINTK_CALL = /\b(bpf_printk|bpf_trace_printk|bpf_trace_vprintk|__bpf_printk|__bpf_vprintk)\s*\(/;

const EVENT_MAP_TYPES = new Set(['ringbuf', 'perf_event_array']);

/** What openProgramRun hands a new ProgramRun. */
export interface RunParts {
  file: string;
  report: CheckReport;
  bundle: SourceBundle;
  hints: Map<string, EventTypeHint>;
  targets: Map<string, AttachTarget>;
  compiled: CompiledForRun;
  notes: string[];
  readFile: CheckOptions['readFile'];
  project: CheckOptions['project'];
  presets: CheckOptions['presets'];
  stream: StreamOptions | undefined;
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
  /** Why trace_pipe is not followed although the source prints (another reader holds it, …); also in `notes`. */
  traceUnavailable: string | undefined;

  private readonly bundle: SourceBundle;
  private readonly hints: Map<string, EventTypeHint>;
  private readonly targets: Map<string, AttachTarget>;
  private readonly anchored: boolean;
  /** The compiled ELF (the agent sends it back with the object id). */
  private readonly object: Buffer | undefined;
  private readonly readFile: CheckOptions['readFile'];
  private readonly project: CheckOptions['project'];
  private readonly presets: CheckOptions['presets'];
  private readonly streamOptions: StreamOptions | undefined;
  /** Attaches leave the event maps unread until startStreams(). */
  private streamsDeferred: boolean;
  private objectBtf: { btf: Btf; littleEndian: boolean } | null | undefined;
  private readonly valueDecoders = new Map<number, RecordDecoder>();
  /** Per stream id; `heardSinceResume`: a batch came through the connection of the last resume. */
  private readonly decoders = new Map<string, { stream: EventStream; decoder: RecordDecoder; decoded: number; ended?: StreamEndedNotification; heardSinceResume?: boolean }>();
  private readonly subscriptions: Disposable[] = [];
  private eventHandlers: ((batch: EventBatch) => void)[] = [];
  private traceHandlers: ((records: TraceRecord[], dropped: number) => void)[] = [];
  private endedHandlers: ((stream: EventStream, reason: string) => void)[] = [];
  /** The last attach/detach/stop called: the next one starts after it settles. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopping: Promise<RunSummary> | undefined;

  /** @internal Made by openProgramRun / startProgramRun (openProgramRun.ts). */
  constructor(
    private agent: RunningAgent,
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

  private subscribe(trace: boolean): void {
    this.subscriptions.push(
      this.agent.onNotification('events', (batch) => this.deliverEvents(batch)),
      this.agent.onNotification('stream.ended', (ended) => this.streamEnded(ended)),
    );
    if (trace) this.subscriptions.push(this.agent.onNotification('trace', (batch) => this.deliverTrace(batch)));
  }

  /**
   * For resuming the session after its link dropped (session.resume's `streams`): how many records
   * of each stream this run received, so the agent counts those lost with the link as dropped.
   */
  streamsDecoded(): { streamId: string; decoded: number }[] {
    return [...this.decoders.entries()].filter(([, entry]) => !entry.ended).map(([streamId, entry]) => ({ streamId, decoded: entry.decoded }));
  }

  /**
   * The session is being resumed on `agent`, a new connection to the same agent: requests and
   * notifications go through it from now on. Called before session.resume is sent (openAgentSession's
   * `resume.listen`), so the records the agent sends right after its answer are heard; then
   * `resumed` with that answer.
   */
  resumeOn(agent: RunningAgent): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    for (const entry of this.decoders.values()) entry.heardSinceResume = false;
    moveTraceFollower(this.agent, agent);
    this.agent = agent;
    this.subscribe(this.tracing);
  }

  /**
   * What the resumed agent still holds: false when it no longer holds this run's object (the run
   * is gone: start it again). A stream it no longer runs ended while the link was down. A stream it
   * still runs gets its counters from the answer as a batch without records, unless a batch came
   * first: every record may have been lost on the dead link (counted dropped), so no batch need
   * ever come to say so.
   */
  resumed(held: { objects: string[]; streams: { streamId: string; counters: StreamCounters }[] }): boolean {
    if (!held.objects.includes(this.objectId)) return false;
    for (const [streamId, entry] of this.decoders) {
      if (entry.ended) continue;
      const still = held.streams.find((s) => s.streamId === streamId);
      if (!still) {
        this.streamEnded({ streamId, reason: 'The stream ended while the link to the target was down.', counters: { received: entry.decoded, sent: entry.decoded, dropped: 0 } });
      } else if (!entry.heardSinceResume) {
        const event: EventBatch = { map: entry.stream.map, receivedAt: Date.now(), records: [], counters: still.counters };
        for (const handler of this.eventHandlers) handler(event);
      }
    }
    return true;
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
    this.subscribe(false);
    if (trace ?? this.bundle.files.some((f) => PRINTK_CALL.test(f.content))) {
      // Before any attach, so the first lines the programs print are not missed.
      this.subscriptions.push(this.agent.onNotification('trace', (batch) => this.deliverTrace(batch)));
      try {
        await followTrace(this.agent, signal);
        this.tracing = true;
      } catch (error) {
        // Asked for (`--trace`): its failure is the run's. Only seen in the source (bpf_printk): the
        // programs still attach, without their printk lines — e.g. while a `cat trace_pipe` in a
        // terminal holds the pipe, which the kernel gives to one reader.
        if (trace === true || signal?.aborted) throw error;
        this.traceUnavailable = `bpf_printk lines are not shown: ${messageOf(error)}`;
        this.notes.push(this.traceUnavailable);
      }
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
    entry.heardSinceResume = true;
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

/** Runs `step`; when it fails, stops the run (detach, release) and rethrows. */
export async function undoingOnFailure(run: ProgramRun, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    await run.stop().catch((stopError: unknown) => {
      throw new AggregateError([error, stopError], `${messageOf(error)} (undoing the run failed too: ${messageOf(stopError)})`);
    });
    throw error;
  }
}
