/**
 * The Events table's pure parts: how decoded records become columns, what the filter typed above
 * the table means, the bounded ring of rows, CSV/JSON export, and the validation of the messages
 * that cross the webview boundary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HexBytes } from '../../remote-agent/client/eventDecoder';
import { csvField, flattenRecord, parseFilter, RowRing, RowTable, rowMatcher, rowsToCsv, rowsToJson, unknownFields, type EventRow } from '../../extension/eventRows';
import { DRAWN_TIMEOUT_MS, parseFromWebview, parseToWebview, RowsPacing } from '../../extension/eventsMessages';

test('nested struct members become a.b columns, short scalar arrays one cell, hex as 0x…', () => {
  const flat = flattenRecord({ pid: 4242, comm: 'bash', key: { saddr: 16777343, dport: 8080 }, args: [1, 2, 3], ptr: new HexBytes('0xffff8880'), big: 18446744073709551615n, ok: true });
  assert.deepEqual([...flat], [
    ['pid', '4242'],
    ['comm', 'bash'],
    ['key.saddr', '16777343'],
    ['key.dport', '8080'],
    ['args', '[1, 2, 3]'],
    ['ptr', '0xffff8880'],
    ['big', '18446744073709551615'],
    ['ok', 'true'],
  ]);
});

test('arrays of structs get a column per element and field; a record of unknown type is one value column', () => {
  assert.deepEqual([...flattenRecord({ frames: [{ ip: 1 }, { ip: 2 }] })], [
    ['frames[0].ip', '1'],
    ['frames[1].ip', '2'],
  ]);
  assert.deepEqual([...flattenRecord(new HexBytes('0x0102'))], [['value', '0x0102']]);
});

const columns = ['pid', 'comm', 'key.dport'];
const rows: EventRow[] = [
  { seq: 1, time: 0, cells: ['4242', 'bash', '80'] },
  { seq: 2, time: 0, cells: ['1', 'systemd', '443'] },
  { seq: 3, time: 0, cells: ['4258', 'kworker/0:1 x', '8080'] },
];
const matching = (filter: string): number[] => {
  const parsed = parseFilter(filter);
  assert.ok(parsed.ok, `${filter} parses`);
  return rows.filter(rowMatcher(parsed.terms, columns)).map((r) => r.seq);
};

test('filter terms: = equals (numbers as numbers, hex too), != differs, ~ contains case-insensitively, all terms must hold', () => {
  assert.deepEqual(matching('pid=4242'), [1]);
  assert.deepEqual(matching('pid=0x10a2'), [3]);
  assert.deepEqual(matching('comm~BASH'), [1]);
  assert.deepEqual(matching('pid!=1'), [1, 3]);
  assert.deepEqual(matching('comm~k pid!=1'), [3]);
  assert.deepEqual(matching(''), [1, 2, 3]);
});

test('filter: numeric comparisons, nested field names, bare words match any field, quoted values keep their spaces', () => {
  assert.deepEqual(matching('key.dport>=443'), [2, 3]);
  assert.deepEqual(matching('pid<100'), [2]);
  assert.deepEqual(matching('systemd'), [2]);
  assert.deepEqual(matching('comm="kworker/0:1 x"'), [3]);
});

test('filter errors say what is wrong; unknown fields are reported as such', () => {
  assert.deepEqual(parseFilter('pid>abc'), { ok: false, error: "pid>abc: > compares numbers, and 'abc' is not a number." });
  assert.deepEqual(parseFilter('comm="bash'), { ok: false, error: 'comm="bash: the closing quote is missing.' });
  const parsed = parseFilter('pdi=1 comm~x seq>2');
  assert.ok(parsed.ok);
  assert.deepEqual(unknownFields(parsed.terms, columns), ['pdi']);
});

test('the ring keeps the newest rows in arrival order', () => {
  const ring = new RowRing(3);
  for (let seq = 1; seq <= 5; seq++) ring.push({ seq, time: 0, cells: [] });
  assert.deepEqual(ring.toArray().map((r) => r.seq), [3, 4, 5]);
  assert.equal(ring.length, 3);
  ring.clear();
  assert.deepEqual(ring.toArray(), []);
});

test('CSV fields with commas, quotes, line breaks or edge spaces are quoted (RFC 4180); others are not', () => {
  assert.equal(csvField('bash'), 'bash');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(' padded'), '" padded"');
  assert.equal(csvField(''), '');
});

test('CSV and JSON exports carry seq, an ISO time and every column', () => {
  const exported: EventRow[] = [{ seq: 7, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), cells: ['4242', 'a,b'] }];
  assert.equal(rowsToCsv(['pid', 'comm'], exported), 'seq,time,pid,comm\r\n7,2026-01-02T03:04:05.006Z,4242,"a,b"\r\n');
  assert.deepEqual(JSON.parse(rowsToJson(['pid', 'comm'], exported)), [{ seq: 7, time: '2026-01-02T03:04:05.006Z', pid: '4242', comm: 'a,b' }]);
});

test('messages from the webview are accepted only in their exact shapes', () => {
  assert.deepEqual(parseFromWebview({ type: 'export', format: 'csv', filter: 'pid=1' }), { type: 'export', format: 'csv', filter: 'pid=1' });
  assert.deepEqual(parseFromWebview({ type: 'pause', paused: true }), { type: 'pause', paused: true });
  assert.deepEqual(parseFromWebview({ type: 'drawn', seq: 12 }), { type: 'drawn', seq: 12 });
  assert.equal(parseFromWebview({ type: 'drawn', seq: -1 }), undefined);
  assert.equal(parseFromWebview({ type: 'drawn' }), undefined);
  assert.equal(parseFromWebview({ type: 'export', format: 'html', filter: '' }), undefined);
  assert.equal(parseFromWebview({ type: 'pause', paused: 'yes' }), undefined);
  assert.equal(parseFromWebview({ type: 'select', key: 'x'.repeat(5000) }), undefined);
  assert.equal(parseFromWebview({ type: 'run', command: 'rm -rf /' }), undefined);
  assert.equal(parseFromWebview('ready'), undefined);
});

test('messages to the webview are checked too: rows must hold strings only, and come with the counters of their own stream', () => {
  const stream = { key: 'run-1/events', label: 'events · trace_execve (probe.bpf.c) on local', recordType: 'struct exec_event', received: 1, sent: 1, dropped: 0, rate: 0, held: 1 };
  const rowsMessage = { type: 'rows', seq: 3, key: 'run-1/events', reset: true, columns: ['pid'], rows: [{ seq: 1, time: 5, cells: ['1'] }], stream };
  assert.deepEqual(parseToWebview(rowsMessage), rowsMessage);
  assert.equal(parseToWebview({ ...rowsMessage, rows: [{ seq: 1, time: 5, cells: [{ html: '<img>' }] }] }), undefined);
  assert.equal(parseToWebview({ ...rowsMessage, stream: undefined }), undefined, 'rows without their counters');
  assert.equal(parseToWebview({ ...rowsMessage, seq: undefined }), undefined, 'rows without their number');
  assert.equal(parseToWebview({ ...rowsMessage, stream: { ...stream, key: 'run-2/events' } }), undefined, "another stream's counters");
  assert.equal(parseToWebview({ type: 'streams', streams: [], selected: null, paused: false }), undefined);
});

test('rows go to the webview one message at a time: the next only once the last is drawn, or when it was lost', () => {
  let now = 1_000;
  const pacing = new RowsPacing(() => now);
  assert.equal(pacing.mayPost(), true);
  const first = pacing.posting();
  assert.equal(pacing.mayPost(), false, 'the first rows are not drawn yet');
  pacing.drawn(first - 1);
  assert.equal(pacing.mayPost(), false, 'an older message drawn says nothing of this one');
  pacing.drawn(first);
  assert.equal(pacing.mayPost(), true);
  const second = pacing.posting();
  assert.equal(second, first + 1);
  now += DRAWN_TIMEOUT_MS - 1;
  assert.equal(pacing.mayPost(), false);
  now += 1;
  assert.equal(pacing.mayPost(), true, 'a drawn that never came is taken as lost');
  pacing.posting();
  pacing.forget();
  assert.equal(pacing.mayPost(), true, 'a webview started again answers nothing sent before');
});

test('a row table numbers every record, flattens only the newest of a batch it keeps, adds columns as records bring them, and cuts long values saying their length', () => {
  const table = new RowTable(3, 10);
  const first = table.add([{ pid: 1 }, { pid: 2 }], 1000);
  assert.deepEqual(first, {
    rows: [
      { seq: 1, time: 1000, cells: ['1'] },
      { seq: 2, time: 1000, cells: ['2'] },
    ],
    newColumns: true,
  });
  assert.equal(table.add([{ pid: 3 }], 1001).newColumns, false);
  table.skip(10); // paused: counted, not shown
  const big = table.add([{ pid: 4 }, { pid: 5 }, { pid: 6, comm: 'bash' }, { pid: 7 }, { pid: 8, comm: 'x'.repeat(20) }], 1002);
  assert.equal(big.newColumns, true);
  assert.deepEqual(
    big.rows.map((r) => r.seq),
    [16, 17, 18],
    'the two oldest of the five are counted, not flattened',
  );
  assert.deepEqual(table.columns, ['pid', 'comm']);
  assert.deepEqual(
    table.ring.toArray().map((r) => r.cells),
    [['6', 'bash'], ['7', ''], ['8', `${'x'.repeat(10)}… (cut: 20 characters in all)`]],
  );
  assert.equal(table.seq, 18);
});
