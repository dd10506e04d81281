/**
 * How `ebpf-studio run` prints what a program produces, one line per record:
 *   text: `12:00:01.123 events pid=4242 comm="bash" filename="/usr/bin/true"`
 *         `12:00:01.124 printk bash-4242 [001] execve by pid 4242: hello`
 *   json: one object per line (NDJSON), `{"type":"event","time":…,"map":…,"fields":{…}}`,
 *         `{"type":"printk",…}`, and at the end `{"type":"stream",…}` counters; when the check
 *         before attaching fails, `{"type":"diagnostic",…}` lines and one `{"type":"rejected",…}`.
 * Pure functions, so the formats are unit-tested without a target.
 */
import type { CheckReport } from '../remote-agent/client/checkReport';
import type { EventBatch, RunSummary, TraceRecord } from '../remote-agent/client/programRun';
import { toJsonDiagnostics } from './formatReport';
import { HexBytes, type DecodedValue } from '../remote-agent/client/eventDecoder';

/** Local wall-clock time as HH:MM:SS.mmm. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  const millis = d.getMilliseconds();
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

/** `name=value` pairs of a record; strings quoted (JSON escapes), nested structs in braces. */
export function formatFields(value: DecodedValue): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof HexBytes)) {
    let out = '';
    for (const key in value) out += `${out === '' ? '' : ' '}${key}=${formatValue(value[key])}`;
    return out;
  }
  return formatValue(value);
}

function formatValue(value: DecodedValue): string {
  switch (typeof value) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'string':
      return JSON.stringify(value);
    default:
      if (value instanceof HexBytes) return value.hex;
      if (Array.isArray(value)) return `[${value.map(formatValue).join(',')}]`;
      return `{${formatFields(value)}}`;
  }
}

export function eventBatchText(batch: EventBatch): string {
  const prefix = `${clockTime(batch.receivedAt)} ${batch.map} `;
  let out = '';
  for (const record of batch.records) out += `${prefix}${formatFields(record)}\n`;
  return out;
}

/** bigints (64-bit values beyond 2^53) become JSON numbers written out exactly. */
function jsonOf(value: unknown): string {
  const marked = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v}` : v));
  return marked.includes('\\u0000big:') ? marked.replace(/"\\u0000big:(-?\d+)"/g, '$1') : marked;
}

export function eventBatchJson(batch: EventBatch): string {
  const head = `{"type":"event","time":"${new Date(batch.receivedAt).toISOString()}","map":${JSON.stringify(batch.map)},"fields":`;
  let out = '';
  for (const record of batch.records) out += `${head}${jsonOf(record)}}\n`;
  return out;
}

export function traceText(records: TraceRecord[]): string {
  let out = '';
  for (const r of records) {
    const p = r.parsed;
    const body = p ? `${p.comm}-${p.pid} [${String(p.cpu).padStart(3, '0')}] ${p.message}` : r.line;
    out += `${clockTime(r.receivedAt)} printk ${body}\n`;
  }
  return out;
}

export function traceJson(records: TraceRecord[]): string {
  let out = '';
  for (const r of records) {
    const time = new Date(r.receivedAt).toISOString();
    const p = r.parsed;
    out += p
      ? `${JSON.stringify({ type: 'printk', time, comm: p.comm, pid: p.pid, cpu: p.cpu, timestamp: p.timestamp, message: p.message })}\n`
      : `${JSON.stringify({ type: 'printk', time, line: r.line })}\n`;
  }
  return out;
}

export function summaryText(summary: RunSummary): string {
  let out = '';
  for (const s of summary.streams) {
    out += `${s.map}: ${s.received} received, ${s.sent} sent, ${s.dropped} dropped, ${s.decoded} decoded${s.endedEarly ? ` (stream ended early: ${s.endedEarly})` : ''}\n`;
  }
  if (summary.trace) out += `printk: ${summary.trace.received} lines received, ${summary.trace.sent} sent, ${summary.trace.dropped} dropped\n`;
  return out;
}

export function summaryJson(summary: RunSummary): string {
  let out = '';
  for (const s of summary.streams) out += `${JSON.stringify({ type: 'stream', ...s })}\n`;
  if (summary.trace) out += `${JSON.stringify({ type: 'trace', ...summary.trace })}\n`;
  return out;
}

/**
 * A check that failed before attaching, as NDJSON like every other run output: one `diagnostic`
 * line per problem (check's diagnostic), then one `rejected` line with each program's verdict, so a
 * reader of the stream always gets a last line saying nothing was attached.
 */
export function rejectedJson(report: CheckReport, cwd: string): string {
  let out = '';
  for (const d of toJsonDiagnostics([report], cwd)) out += `${JSON.stringify({ type: 'diagnostic', ...d })}\n`;
  const programs = report.programs.map((p) => ({ program: p.name, section: p.section, ok: p.ok, ...(p.error !== undefined && { error: p.error }) }));
  return `${out}${JSON.stringify({ type: 'rejected', compiled: report.compiled, programs })}\n`;
}
