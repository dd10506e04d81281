/**
 * The verifier log view's pure parts on real logs from test/fixtures/verifier-logs: how lines are
 * classified and split into columns, the failing instruction, the error and the causal chain marked,
 * the source line of a log line (from the walk, else the annotations), the register filter, search,
 * windows of rows, and the validation of the messages that cross the webview boundary. Each case's
 * walk and diagnostic are the ones checkFile.test.ts proves checkFile gives (its expected.json).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { IndexedLog, LogView, LogViewSession, programStats, type LogInput, type LogRow } from '../../extension/verifierLogRows';
import { MAX_CELL, parseFromWebview, parseToWebview } from '../../extension/verifierLogMessages';
import { splitLogLines } from '../../remote-agent/client/verifierLog';
import type { RelatedLocation } from '../../remote-agent/client/checkReport';

const CASES = path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs');

interface ExpectedCase {
  diagnostics: { program?: string; source: string; related?: RelatedLocation[] }[];
  programs: { name: string; ok: boolean; walk?: { logSources: string[] } }[];
}

/** A fixture's first program as the view gets it: its log, its walk's log runs and its diagnostic's related locations, on the case's files. */
function fixture(name: string, { walk = true } = {}): LogInput & { dir: string } {
  const dir = path.join(CASES, name);
  const { programs } = JSON.parse(readFileSync(path.join(dir, 'verdicts.json'), 'utf8')) as { programs: { name: string; log: string }[] };
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as ExpectedCase;
  const program = expected.programs.find((p) => p.name === programs[0].name)!;
  const diagnostic = expected.diagnostics.find((d) => d.source === 'verifier' && d.program === program.name);
  const logSources = program.walk?.logSources.map((run) => {
    const [, from, file, line] = /^(\d+) → (.*):(\d+)$/.exec(run)!;
    return { fromLogLine: Number(from), file: path.join(dir, file), line: Number(line) };
  });
  return {
    dir,
    log: readFileSync(path.join(dir, programs[0].log), 'utf8'),
    ...(walk && logSources ? { logSources } : {}),
    rejected: !program.ok,
    ...(diagnostic?.related ? { related: diagnostic.related.map((r) => ({ ...r, file: path.join(dir, r.file) })) } : {}),
    resolveFile: (file) => (existsSync(path.join(dir, file)) ? path.join(dir, file) : undefined),
  };
}

/** Rows as one line each, to compare whole logs at a glance. */
function brief(row: LogRow): string {
  const cells = [row.kind, row.insn ?? '', row.where ?? '', row.text, row.state ?? ''].join(' | ');
  return `${row.line}: ${cells}${row.mark ? ` [${row.mark}]` : ''}${row.note ? ` «${row.note}»` : ''}${row.match ? ' *' : ''}`;
}

function allRows(view: LogView): string[] {
  return view.rows(0, view.total).map(brief);
}

test('a rejected program (6.18): instruction and state apart, annotations as headers with file:line, the failing instruction, error and causal chain marked', () => {
  const view = new LogView(new IndexedLog(fixture('null-map-value')));
  assert.deepEqual(allRows(view), [
    "0: text |  |  | arg#0 reference type('UNKNOWN ') size cannot be determined: -22 | ",
    '1: state | 0 |  |  | R1=ctx() R10=fp0',
    '2: annotation |  | prog.bpf.c:17 | __u32 key = bpf_get_current_pid_tgid() >> 32; | ',
    '3: insn | 0 |  | (85) call bpf_get_current_pid_tgid#14 | R0=scalar()',
    '4: insn | 1 |  | (77) r0 >>= 32 | R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))',
    '5: insn | 2 |  | (63) *(u32 *)(r10 -4) = r0 | R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0 fp-8=mmmm????',
    '6: insn | 3 |  | (bf) r2 = r10 | R2=fp0 R10=fp0',
    // `;  @ prog.bpf.c:0` (code of no line): the walk places its instruction on line 17 still.
    '7: annotation |  | prog.bpf.c:17 |  | ',
    '8: insn | 4 |  | (07) r2 += -4 | R2=fp-4',
    '9: annotation |  | prog.bpf.c:20 | count = bpf_map_lookup_elem(&counters, &key); |  [causal] «R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)»',
    '10: insn | 5 |  | (18) r1 = 0xffff8881043ad000 | R1=map_ptr(map=counters,ks=4,vs=8) [causal]',
    '11: insn | 7 |  | (85) call bpf_map_lookup_elem#1 | R0=map_value_or_null(id=1,map=counters,ks=4,vs=8) [causal]',
    '12: annotation |  | prog.bpf.c:21 | *count += 1; | ',
    '13: insn | 8 |  | (79) r1 = *(u64 *)(r0 +0) |  [failing]',
    "14: text |  |  | R0 invalid mem access 'map_value_or_null' |  [error]",
    '15: stats |  |  | verification time 44 usec | ',
    '16: stats |  |  | stack depth 8 | ',
    '17: stats |  |  | processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0 | ',
    '18: blank |  |  |  | ',
  ]);
});

test('a click on a row finds its source line: the walk’s run, the failing line for the message and stats, nothing before the first instruction', () => {
  const input = fixture('null-map-value');
  const log = new IndexedLog(input);
  const at = (line: number) => {
    const source = log.sourceOf(line);
    return source && `${path.relative(input.dir, source.file)}:${source.line}`;
  };
  assert.equal(at(0), undefined);
  assert.equal(at(2), 'prog.bpf.c:17');
  assert.equal(at(11), 'prog.bpf.c:20');
  assert.equal(at(13), 'prog.bpf.c:21');
  assert.equal(at(17), 'prog.bpf.c:21');
});

test('without a walk, the annotations’ own @ file:line place the log; a `:0` annotation places nothing', () => {
  const input = fixture('null-map-value', { walk: false });
  const log = new IndexedLog(input);
  assert.deepEqual(
    log.sources.map((r) => `${r.fromLogLine} → ${path.relative(input.dir, r.file)}:${r.line}`),
    ['2 → prog.bpf.c:17', '9 → prog.bpf.c:20', '12 → prog.bpf.c:21'],
  );
  assert.equal(log.row(9).note, 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)');
  // A file the annotation names that is not here places nothing.
  assert.deepEqual(new IndexedLog({ ...input, resolveFile: () => undefined }).sources, []);
});

test('Linux 6.1 prints annotations without @ file:line: the headers get theirs from the walk, and none without it', () => {
  const input = fixture('null-map-value-6.1');
  const view = new LogView(new IndexedLog(input));
  const headers = view.rows(0, view.total).filter((r) => r.kind === 'annotation');
  assert.deepEqual(
    headers.map((r) => `${r.line} ${r.where} ${r.text}${r.note ? ` «${r.note}»` : ''}`),
    [
      '2 prog.bpf.c:17 __u32 key = bpf_get_current_pid_tgid() >> 32;',
      '4 prog.bpf.c:17 __u32 key = bpf_get_current_pid_tgid() >> 32;',
      '6 prog.bpf.c:17 __u32 key = bpf_get_current_pid_tgid() >> 32;',
      '9 prog.bpf.c:17 ',
      '11 prog.bpf.c:20 count = bpf_map_lookup_elem(&counters, &key); «R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)»',
      '14 prog.bpf.c:21 *count += 1;',
    ],
  );
  assert.equal(view.rows(15, 1)[0].mark, 'failing');
  const unplaced = new IndexedLog(fixture('null-map-value-6.1', { walk: false }));
  assert.equal(unplaced.row(14).where, undefined);
  assert.equal(unplaced.sourceOf(15), undefined);
});

test('a message naming another instruction ("infinite loop detected at insn 3") marks the last walk of that one, not the last instruction', () => {
  const log = new IndexedLog(fixture('infinite-loop'));
  assert.equal(log.failingLine, 15);
  assert.equal(log.row(15).text, '(85) call bpf_get_prandom_u32#7');
  assert.deepEqual([...log.errorLines], [19]);
});

test("7.3's structured report stays text; its first line is the error; the causal line is the report's", () => {
  const input = fixture('null-map-value-7.3');
  const log = new IndexedLog(input);
  assert.equal(log.row(log.failingLine!).text, '(79) r1 = *(u64 *)(r0 +0)');
  assert.deepEqual([...log.errorLines].map((l) => log.lineText(l)), ["R0 invalid mem access 'map_value_or_null'"]);
  assert.equal(log.row(16).kind, 'text');
  assert.equal(log.row(16).text, 'Verification failed: Register Type Safety: Invalid dereference');
  assert.match(log.row(9).note ?? '', /nullable map value/);
  assert.deepEqual(
    [...Array(log.lineCount).keys()].filter((l) => log.kindOf(l) === 'stats').map((l) => log.lineText(l)),
    ['verification time 5632 usec', 'stack depth max 0', 'subprog 0 (count_execve) main insns_self 8 insns_total 8 stack 8', 'processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0'],
  );
});

test('a passing program has no failing row, error or causal marks', () => {
  const input = fixture('two-programs');
  const log = new IndexedLog({ ...input, rejected: false, related: [] });
  assert.equal(log.failingLine, null);
  assert.equal(log.errorLines.size, 0);
  assert.ok([...Array(log.lineCount).keys()].every((l) => log.row(l).mark === undefined));
});

test('every fixture log: the same lines as verifierLog.ts splits (a message glued to the stats split off too), and one instruction row per instruction the walk counts', () => {
  let glued = 0;
  for (const name of readdirSync(CASES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)) {
    const dir = path.join(CASES, name);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      const log = new IndexedLog({ log: text, rejected: true, resolveFile: () => undefined });
      const lines = splitLogLines(text);
      assert.equal(log.lineCount, lines.length, `${name}/${file}`);
      lines.forEach((line, i) => assert.equal(log.lineText(i), line, `${name}/${file}:${i + 1}`));
      const insns = lines.filter((l) => /^\d+: \([0-9a-f]{2}\) /.test(l)).length;
      assert.equal([...Array(log.lineCount).keys()].filter((l) => log.kindOf(l) === 'insn').length, insns, `${name}/${file}`);
      if (text.split('\n').length !== lines.length) glued++;
    }
  }
  assert.ok(glued > 0, 'a fixture has a message glued to the stats');
  const crlf = new IndexedLog({ log: '0: R1=ctx() R10=fp0\r\n1: (b7) r0 = 0    ; R0=0\r\n', rejected: false, resolveFile: () => undefined });
  assert.deepEqual([crlf.row(0).state, crlf.row(1).text, crlf.row(1).state], ['R1=ctx() R10=fp0', '(b7) r0 = 0', 'R0=0']);
});

test('the register filter: lines whose instruction or state mentions it, under their headers; r10 is not R1, a source text mentioning it is no reason', () => {
  const view = new LogView(new IndexedLog(fixture('null-map-value')));
  view.setFilter('R2');
  assert.deepEqual(allRows(view).map((r) => r.split(':')[0]), ['2', '6', '7', '8']);
  assert.equal(view.lineAt(3), 8);
  view.setFilter('R1');
  assert.deepEqual(allRows(view).map((r) => r.split(':')[0]), ['1', '9', '10', '12', '13']);
  view.setFilter('R10');
  assert.deepEqual(allRows(view).map((r) => r.split(':')[0]), ['1', '2', '5', '6']);
  view.setFilter(null);
  assert.equal(view.total, 19);
  // 32-bit subregisters count: w3 is R3.
  const sub = new LogView(new IndexedLog({ log: '; int x = r3; @ a.c:1\n0: (bc) w3 = w1\n1: (b7) r13 = 0\n2: (bf) r1 = r3 ; R1_w=scalar()\n', rejected: false, resolveFile: () => undefined }));
  sub.setFilter('R3');
  assert.deepEqual(allRows(sub).map((r) => r.split(':')[0]), ['0', '1', '3']);
  sub.setFilter('R1');
  assert.deepEqual(allRows(sub).map((r) => r.split(':')[0]), ['0', '1', '3']);
  assert.equal(sub.positionOf(2), 2, 'a hidden line maps to the next shown one');
});

test('search: case-insensitive text, counted, stepped round the end, only over the shown rows, marked on the rows', () => {
  const view = new LogView(new IndexedLog(fixture('null-map-value')));
  assert.deepEqual(view.search('MAP_VALUE_OR_NULL', 0), { query: 'MAP_VALUE_OR_NULL', count: 2, current: 0, position: 11 });
  assert.deepEqual(view.step(1), { query: 'MAP_VALUE_OR_NULL', count: 2, current: 1, position: 14 });
  assert.deepEqual(view.step(1).position, 11);
  assert.deepEqual(view.step(-1).position, 14);
  assert.deepEqual(view.search('(r0 +0)', 0), { query: '(r0 +0)', count: 1, current: 0, position: 13 }, 'the query is text, not a regular expression');
  assert.equal(view.search('r1', 12).position, 13, 'the current match is the first at or after where the user is');
  assert.equal(view.search('r1', 18).position, 1, 'and round the end');
  assert.deepEqual(view.rows(12, 3).map((r) => r.match === true), [false, true, false]);
  view.setFilter('R2');
  // Shown: the headers on lines 2 and 7 and the instructions on 6 and 8; only 6 has "R10".
  assert.deepEqual(view.searchState(), { query: 'r1', count: 1, current: 0, position: 1 }, 'the filter keeps the search, on what it shows');
  assert.deepEqual(view.search('', 0), { query: '', count: 0, current: -1, position: null });
  assert.deepEqual(view.search('no such text', 0), { query: 'no such text', count: 0, current: -1, position: null });
});

test('windows of rows: clipped at the end, long cells cut to what the webview accepts', () => {
  const view = new LogView(new IndexedLog(fixture('null-map-value')));
  assert.deepEqual(view.rows(17, 10).map((r) => r.line), [17, 18]);
  assert.deepEqual(view.rows(40, 10), []);
  const long = new LogView(new IndexedLog({ log: `0: (b7) r0 = 0    ; R0=${'x'.repeat(3 * MAX_CELL)}`, rejected: false, resolveFile: () => undefined }));
  const [row] = long.rows(0, 1);
  assert.equal(row.state!.length, MAX_CELL + 1);
  assert.ok(parseToWebview({ type: 'rows', generation: 1, from: 0, rows: [row] }));
});

test("the extension's answers: the log opens on the failing instruction, rows only for the current generation, a filter keeps the row in view, a new check keeps filter and search", () => {
  const heading = { title: 'count_execve', subtitle: 'prog.bpf.c on local', stats: [], notice: null };
  const session = new LogViewSession(new LogView(new IndexedLog(fixture('null-map-value'))), heading);
  const opened = session.answer({ type: 'ready' });
  assert.deepEqual(opened, { type: 'log', generation: 1, ...heading, total: 19, lineCount: 19, filter: null, failing: 13, focus: 13, search: { query: '', count: 0, current: -1, position: null } });
  assert.deepEqual(session.answer({ type: 'rows', generation: 1, from: 13, count: 2 }), { type: 'rows', generation: 1, from: 13, rows: [session.log.row(13), session.log.row(14)] });
  const filtered = session.answer({ type: 'filter', register: 'R2', line: 7 });
  assert.deepEqual(filtered && filtered.type === 'log' && [filtered.generation, filtered.total, filtered.focus, filtered.failing], [2, 4, 2, null], 'line 7 is shown at position 2; the failing line is not shown');
  assert.equal(session.answer({ type: 'rows', generation: 1, from: 0, count: 5 }), undefined, 'rows of the unfiltered log are not answered any more');
  assert.deepEqual(session.answer({ type: 'search', query: 'fp', from: 0 }), { type: 'search', generation: 3, search: { query: 'fp', count: 2, current: 0, position: 1 } });
  assert.equal(session.answer({ type: 'rows', generation: 2, from: 0, count: 5 }), undefined, 'rows marked for no search or another are not answered either');
  assert.deepEqual(session.answer({ type: 'step', direction: 1 }), { type: 'search', generation: 3, search: { query: 'fp', count: 2, current: 1, position: 3 } }, 'stepping keeps the generation');
  const empty = session.answer({ type: 'filter', register: 'R9', line: 0 });
  assert.deepEqual(empty && empty.type === 'log' && [empty.total, empty.focus, empty.notice], [0, null, 'No line mentions R9.']);
  session.answer({ type: 'filter', register: 'R2', line: 0 });
  const again = session.replace(new IndexedLog(fixture('null-map-value')), { ...heading, subtitle: 'a newer check' });
  assert.deepEqual(again.type === 'log' && [again.generation, again.subtitle, again.filter, again.total, again.search.query, again.search.count], [6, 'a newer check', 'R2', 4, 'fp', 2]);
  assert.equal(session.answer({ type: 'reveal', line: 3 }), undefined, 'the panel reveals lines itself');
});

test('the figures above the log', () => {
  assert.deepEqual(
    programStats({ ok: false, error: "R0 invalid mem access 'map_value_or_null'", insnsProcessed: 1234, totalStates: 12, peakStates: 4, verificationTimeUs: 44, stackDepth: 8 }, 1_000_006).map((s) => `${s.label} ${s.value}${s.warn ? ' !' : ''}`),
    ['verdict rejected !', 'insns processed 1,234', 'states 12 / 4', 'time 44 µs', 'stack 8 B', 'log lines 1,000,006'],
  );
  assert.equal(programStats({ ok: true, insnsProcessed: null, totalStates: null, peakStates: null, verificationTimeUs: null, stackDepth: null }, 3)[1].value, '?');
});

test('messages across the webview boundary are checked on both sides', () => {
  assert.deepEqual(parseFromWebview({ type: 'rows', generation: 3, from: 100, count: 90 }), { type: 'rows', generation: 3, from: 100, count: 90 });
  assert.deepEqual(parseFromWebview({ type: 'filter', register: 'R10', line: 7 }), { type: 'filter', register: 'R10', line: 7 });
  assert.deepEqual(parseFromWebview({ type: 'filter', register: null, line: 0 }), { type: 'filter', register: null, line: 0 });
  assert.deepEqual(parseFromWebview({ type: 'step', direction: -1 }), { type: 'step', direction: -1 });
  assert.deepEqual(parseFromWebview({ type: 'reveal', line: 13 }), { type: 'reveal', line: 13 });
  assert.equal(parseFromWebview({ type: 'rows', generation: 3, from: 0, count: 1_000_000 }), undefined, 'a window too large');
  assert.equal(parseFromWebview({ type: 'filter', register: 'R11', line: 0 }), undefined);
  assert.equal(parseFromWebview({ type: 'reveal', line: -1 }), undefined);
  assert.equal(parseFromWebview({ type: 'reveal', line: 1.5 }), undefined);
  assert.equal(parseFromWebview({ type: 'search', query: 'x'.repeat(5000), from: 0 }), undefined);
  assert.equal(parseFromWebview({ type: 'step', direction: 2 }), undefined);
  assert.equal(parseFromWebview({ type: 'run', command: 'rm -rf /' }), undefined);
  const row: LogRow = { line: 13, kind: 'insn', insn: '8', text: '(79) r1 = *(u64 *)(r0 +0)', mark: 'failing' };
  assert.ok(parseToWebview({ type: 'rows', generation: 1, from: 13, rows: [row] }));
  assert.equal(parseToWebview({ type: 'rows', generation: 1, from: 13, rows: [{ ...row, text: { html: '<img src=x>' } }] }), undefined);
  assert.equal(parseToWebview({ type: 'rows', generation: 1, from: 13, rows: [{ ...row, kind: 'html' }] }), undefined);
  assert.equal(parseToWebview({ type: 'rows', generation: 1, from: 13, rows: [{ ...row, mark: 'bold' }] }), undefined);
  const search = { query: '', count: 0, current: -1, position: null };
  const log = { type: 'log', generation: 1, title: 't', subtitle: 's', stats: [], total: 19, lineCount: 19, filter: null, failing: 13, focus: 13, search, notice: null };
  assert.deepEqual(parseToWebview(log), log);
  assert.equal(parseToWebview({ ...log, filter: 'R99' }), undefined);
  assert.equal(parseToWebview({ ...log, search: { ...search, current: -2 } }), undefined);
  assert.equal(parseToWebview({ type: 'notice', text: 42 }), undefined);
});
