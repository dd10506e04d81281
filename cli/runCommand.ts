/**
 * `ebpf-studio run FILE`: verify the file exactly as `check` does (same output, exit 1 when
 * rejected), attach every program (by section, or per --attach), print each decoded ring/perf
 * buffer record and each bpf_printk line as it arrives, and on Ctrl-C (SIGINT/SIGTERM) or after
 * --duration detach everything and print per-stream counters. Kernel VMs and targets without clang
 * get the file compiled here against their BTF, as `check` does (compileOnClient.ts).
 * stdout carries only records and the final counters (NDJSON with --format json, a rejected check
 * too); progress goes
 * to stderr. Exit: 0 ran and stopped, 1 rejected or could not attach, 2 usage or connection
 * problems, including losing the connection while running.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseAttachSpec, type AttachSpec } from '../remote-agent/client/attachSpec';
import type { AgentSession } from '../remote-agent/client/agentSession';
import { compileOnClient } from '../remote-agent/client/compileOnClient';
import { AttachSpecError } from '../remote-agent/client/attachTargets';
import { startProgramRun } from '../remote-agent/client/openProgramRun';
import { AttachError, type RunningAgent } from '../remote-agent/client/programRun';
import { commandLineLookup, type FlagsLookup } from '../remote-agent/client/projectFlags';
import type { LoadPresets } from '../remote-agent/protocol';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../remote-agent/client/targetKnowledge';
import { attachSpecMessage } from './attachSpecMessages';
import { CONNECTION_OPTIONS, joinCflagsValue, openCliSession, parseFormat } from './cliSession';
import { eventBatchJson, eventBatchText, rejectedJson, summaryJson, summaryText, traceJson, traceText } from './formatEvents';
import { exitStatusOf, formatText } from './formatReport';
import { PRESET_OPTIONS, presetsOf } from './presetOptions';

export async function runCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinCflagsValue(argv),
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      format: { type: 'string', default: 'text' },
      attach: { type: 'string', multiple: true, default: [] },
      duration: { type: 'string' },
      cflags: { type: 'string' },
      ...PRESET_OPTIONS,
    },
  });
  const presets = presetsOf(values);
  const format = parseFormat(values.format, ['text', 'json']);
  if (positionals.length !== 1) throw new Error('run needs exactly one FILE');
  const file = path.resolve(positionals[0]);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const specs: AttachSpec[] = values.attach.map(parseAttachSpec);
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    const seconds = Number(values.duration);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--duration must be a number of seconds above 0, not '${values.duration}'`);
    durationMs = seconds * 1000;
  }
  const out = (text: string) => {
    if (text !== '') process.stdout.write(text);
  };
  const status = (text: string) => process.stderr.write(`${text}\n`);

  const session = await openCliSession(values, signal);
  try {
    let started;
    try {
      started = await startRunOn(session, file, { attach: specs, project: commandLineLookup(file, values.cflags, process.cwd()), ...(presets && { presets }), signal });
    } catch (error) {
      // A usage problem (status 2, as an unparsable --attach is), in the flag's own words.
      if (error instanceof AttachSpecError) throw new Error(attachSpecMessage(error));
      if (!(error instanceof AttachError)) throw error;
      status(`ebpf-studio: ${error.message.replace(/\s*\n\s*/g, ' ')}`);
      return 1;
    }
    const { report, run } = started;
    const cwd = process.cwd();
    if (!run) {
      out(format === 'json' ? rejectedJson(report, cwd) : formatText([report], cwd));
      return exitStatusOf([report]);
    }
    status(formatText([report], cwd).trimEnd());
    if (started.compiledHere) status(`compiled on this machine against the BTF of ${session.description} (kernel ${session.hello.kernelRelease})`);
    for (const a of run.attached) status(`attached ${a.program}: ${a.description} (prog id ${a.programId})`);
    for (const s of run.streams) status(`streaming ${s.map} (${s.kind}) as ${s.recordType}`);
    if (run.tracing) status('following trace_pipe for bpf_printk lines');
    for (const note of run.notes) status(`note: ${note}`);

    const dropped = new Map<string, number>();
    run.onEvents((batch) => {
      out(format === 'json' ? eventBatchJson(batch) : eventBatchText(batch));
      if (batch.counters.dropped > (dropped.get(batch.map) ?? 0)) {
        dropped.set(batch.map, batch.counters.dropped);
        status(`${batch.map}: ${batch.counters.dropped} records dropped so far (the reader is behind the kernel)`);
      }
    });
    run.onTrace((records) => out(format === 'json' ? traceJson(records) : traceText(records)));
    run.onStreamEnded((stream, reason) => status(`${stream.map}: the stream ended: ${reason}`));

    const stopped = await untilStopped(signal, durationMs, session.closed);
    if (stopped instanceof Error) throw stopped; // the link or the agent went away: nothing to detach
    const summary = await run.stop();
    out(format === 'json' ? summaryJson(summary) : summaryText(summary));
    return 0;
  } finally {
    await session.dispose();
  }
}

/**
 * Verifies @file on @session and attaches its programs (startProgramRun), compiling here against
 * the target's BTF for kernel VMs and targets without clang, as check's `--compile-on auto` does:
 * an emulated guest compiles ~20x slower than this machine. Shared by `run` and the MCP server.
 */
export async function startRunOn(
  session: AgentSession,
  file: string,
  o: { attach: AttachSpec[]; project?: FlagsLookup; presets?: LoadPresets; signal: AbortSignal },
): Promise<Awaited<ReturnType<typeof startProgramRun>> & { compiledHere: boolean }> {
  const compiledHere = session.target.kind === 'vm' || session.hello.clang === null;
  let compiler: AgentSession | undefined;
  try {
    let agent: RunningAgent = session.client;
    if (compiledHere) {
      compiler = await openCliSession({ target: 'local' }, o.signal, { unprivileged: true });
      const requests = compileOnClient(session, compiler.client, new TargetKnowledgeCache(defaultKnowledgeDir()));
      agent = { request: requests.request, onNotification: session.client.onNotification.bind(session.client) };
    }
    const started = await startProgramRun(agent, file, {
      target: session.description,
      kernelRelease: session.hello.kernelRelease,
      attach: o.attach,
      ...(o.project && { project: o.project }),
      ...(o.presets && { presets: o.presets }),
      compiledOn: compiledHere ? 'client' : 'target',
      signal: o.signal,
    });
    return { ...started, compiledHere };
  } finally {
    // Only compiling needed it: the object now lives on the target.
    await compiler?.dispose();
  }
}

/** Resolves when the user stops (Ctrl-C) or the duration passes; with the reason when the session dies first. */
function untilStopped(signal: AbortSignal, durationMs: number | undefined, closed: Promise<Error>): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: Error | undefined) => {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => finish(undefined);
    if (signal.aborted) return finish(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    if (durationMs !== undefined) timer = setTimeout(() => finish(undefined), durationMs);
    void closed.then((reason) => finish(reason));
  });
}
