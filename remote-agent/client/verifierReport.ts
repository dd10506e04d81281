/**
 * Reads the structured report Linux 7.3+ prints after the classic last line of a rejected
 * program's log, so its cause, causal path and suggestion reach the diagnostic as fields rather
 * than as text glued onto the message. A pure function of the log text. The shape, as printed:
 *
 *   Verification failed: <Category>: <Title>
 *   Reason:
 *     <paragraph>
 *   At:
 *     <prog> @ <file>:<line>:<col>
 *     Source context:
 *     >>> 20 |         *count += 1;
 *            |         ^-- error: <what is wrong here>
 *     Instruction context:
 *     >>>  8 | (79) r1 = *(u64 *)(r0 +0)
 *   Causal path:
 *     <prog> @ <file>:<line>:<col>        (one block per event, oldest first)
 *     >>> 19 |         count = bpf_map_lookup_elem(&exec_count, &pid);
 *            |         ^-- update: <how a register or resource changed>
 *   Suggestion:
 *     <paragraph>
 *
 * Caret notes say what happened at a line: `error:`, `update:`, `acquired:`, `branch:`, …
 */

export interface ReportLocation {
  /** Program or subprogram name before " @ ", when printed. */
  functionName: string | null;
  /** File name as the kernel printed it (a basename, as in the log's annotations). */
  file: string;
  line: number;
  column: number;
}

/** A `NN | text` line of a source or instruction context; `marked` is the `>>>` line. */
export interface ContextLine {
  number: number;
  text: string;
  marked: boolean;
}

/** A `^-- kind: text` line: where on the line above it points (1-based column) and what it says. */
export interface CaretNote {
  column: number;
  kind: string | null;
  text: string;
}

/** One location block of the At or Causal path section. */
export interface ReportEvent {
  location: ReportLocation | null;
  /** `insn N` when the kernel had no source line for the event. */
  insn: number | null;
  source: ContextLine[];
  instructions: ContextLine[];
  notes: CaretNote[];
}

export interface VerifierReport {
  category: string;
  title: string;
  reason: string | null;
  at: ReportEvent | null;
  /** Oldest first, as printed. */
  causalPath: ReportEvent[];
  /** "N intermediate causal-history events omitted" and similar lines, verbatim. */
  causalPathNotes: string[];
  suggestion: string | null;
  /** 0-based log lines of the heading and of the first line after the report (more of the classic message, or the statistics). */
  firstLogLine: number;
  endLogLine: number;
}

const HEADING = /^Verification failed: (.+?): (.+)$/;
const SECTION = /^(Reason|At|Causal path|Suggestion):\s*(.*)$/;
const LOCATION = /^(?:(\S+) @ )?(\S+?):(\d+):(\d+)$/;
const INSN_LOCATION = /^insn (\d+)$/;
const CONTEXT_LINE = /^(>>>|   )?\s*(\d+) \| ?(.*)$/;
const CARET_LINE = /^\s*\| ?( *)\^--\s?(.*)$/;
/** A wrapped caret note goes on below its `^--` line, indented under its text: `   |     more text`. */
const CARET_CONTINUATION = /^\s*\| +(\S.*)$/;

/** Index of the report's heading line in `lines`, or -1 when the log has no report. */
function reportHeadingLine(lines: readonly string[]): number {
  return lines.findIndex((l) => HEADING.test(l));
}

export function parseVerifierReport(text: string): VerifierReport | null {
  return parseVerifierReportLines(text.split('\n').map((l) => l.replace(/\r$/, '')));
}

/**
 * The report in a log already split into lines. It ends at the first line that is neither a
 * section heading, indented, nor blank: the kernel goes on with the rest of the classic message
 * ("BPF_EXIT instruction in main prog would lead to reference leak") or the statistics.
 */
export function parseVerifierReportLines(lines: readonly string[]): VerifierReport | null {
  const first = reportHeadingLine(lines);
  if (first < 0) return null;
  const heading = HEADING.exec(lines[first])!;
  let end = first + 1;
  while (end < lines.length && (SECTION.test(lines[end]) || /^(\s|$)/.test(lines[end]))) end++;

  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (let i = first + 1; i < end; i++) {
    const line = lines[i];
    const section = SECTION.exec(line);
    if (section) {
      current = [];
      sections.set(section[1], current);
      if (section[2] !== '') current.push(section[2]);
    } else if (current && line.trim() !== '') {
      current.push(line);
    }
  }

  const at = sections.has('At') ? parseEvents(sections.get('At')!).events[0] ?? null : null;
  const causal = sections.has('Causal path') ? parseEvents(sections.get('Causal path')!) : { events: [], notes: [] };
  return {
    category: heading[1],
    title: heading[2],
    reason: paragraph(sections.get('Reason')),
    at,
    causalPath: causal.events,
    causalPathNotes: causal.notes,
    suggestion: paragraph(sections.get('Suggestion')),
    firstLogLine: first,
    endLogLine: end,
  };
}

/** A section's indented lines as one paragraph; the kernel wraps long sentences. */
function paragraph(lines: string[] | undefined): string | null {
  if (!lines) return null;
  const text = lines.map((l) => l.trim()).filter((l) => l !== '').join(' ');
  return text === '' ? null : text;
}

function parseEvents(lines: string[]): { events: ReportEvent[]; notes: string[] } {
  const events: ReportEvent[] = [];
  const notes: string[] = [];
  let event: ReportEvent | null = null;
  let context: 'source' | 'instructions' = 'source';
  const startEvent = (location: ReportLocation | null, insn: number | null): ReportEvent => {
    const e: ReportEvent = { location, insn, source: [], instructions: [], notes: [] };
    events.push(e);
    context = 'source';
    return e;
  };

  for (const raw of lines) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if (line === 'Source context:') {
      context = 'source';
    } else if (line === 'Instruction context:') {
      context = 'instructions';
    } else if ((m = LOCATION.exec(line))) {
      event = startEvent({ functionName: m[1] ?? null, file: m[2], line: Number(m[3]), column: Number(m[4]) }, null);
    } else if ((m = INSN_LOCATION.exec(line))) {
      event = startEvent(null, Number(m[1]));
    } else if ((m = CARET_LINE.exec(raw.replace(/^ {2}/, '')))) {
      const target = event ?? startEvent(null, null);
      const note = /^(\w+): (.*)$/.exec(m[2]);
      target.notes.push({ column: m[1].length + 1, kind: note ? note[1] : null, text: note ? note[2] : m[2] });
    } else if ((m = CARET_CONTINUATION.exec(raw)) && event && event.notes.length > 0) {
      const note = event.notes[event.notes.length - 1];
      note.text = `${note.text} ${m[1].trim()}`;
    } else if ((m = CONTEXT_LINE.exec(raw.replace(/^ {2}/, '')))) {
      const target = event ?? startEvent(null, null);
      const entry: ContextLine = { number: Number(m[2]), text: m[3], marked: m[1] === '>>>' };
      (context === 'source' ? target.source : target.instructions).push(entry);
    } else if (line !== '' && line !== '...') {
      notes.push(line);
    }
  }
  return { events, notes };
}
