/// <reference lib="dom" />
/**
 * The Events webview's script (bundled to out/webview/events.js): a virtualised table of the rows
 * the extension sends, a filter over them, and the toolbar. Only the rows in view are in the DOM,
 * so 5,000 rows cost what 40 do; every value goes in with textContent, never as HTML, its
 * reordering and invisible characters shown as escapes (targetText.ts); a cell shows the start of
 * a long value, its tooltip all the view holds.
 */
import { formatTime, parseFilter, rowMatcher, unknownFields, type EventRow } from '../eventRows';
import { parseToWebview, type FromWebview, type StreamInfo } from '../eventsMessages';
import { showHiddenCharacters, targetTextForDisplay } from '../targetText';
import { element, vsCodeApi } from './webviewHost';


const ROW_HEIGHT = 22;
/** Rows drawn above and below the visible ones, so fast scrolling does not show gaps. */
const OVERSCAN = 10;
/** Characters of a value drawn in its cell (wider than any column): laying out 8,192 per cell on every frame would not be. */
const CELL_CHARS = 400;

const vscode = vsCodeApi<FromWebview>();
const streamSelect = element<HTMLSelectElement>('stream');
const filterInput = element<HTMLInputElement>('filter');
const pauseButton = element<HTMLButtonElement>('pause');
const stats = element<HTMLDivElement>('stats');
const messageBox = element<HTMLDivElement>('message');
const scroller = element<HTMLDivElement>('scroller');
const header = element<HTMLTableRowElement>('header');
const body = element<HTMLTableSectionElement>('body');

let streamKey: string | null = null;
let columns: string[] = [];
let rows: EventRow[] = [];
let maxRows = 5000;
let shown: EventRow[] = [];
let paused = false;
let matcher: (row: EventRow) => boolean = () => true;
/** Keep the newest row in view while the user has not scrolled up. */
let following = true;
let drawPending = false;
/** The last `rows` message taken, to say it is drawn once the next frame has drawn it. */
let drawnSeq: number | undefined;
/** The streams listed above the table; the shown stream's counters come with its rows. */
let streams: StreamInfo[] = [];
let selected: string | null = null;

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = parseToWebview(event.data);
  if (!message) return;
  if (message.type === 'streams') {
    paused = message.paused;
    maxRows = message.maxRows;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    pauseButton.classList.toggle('active', paused);
    streams = message.streams;
    selected = message.selected;
    showStreamOptions();
    // The counters are drawn with the rows, in the next frame, so the two always agree.
    scheduleDraw();
    return;
  }
  drawnSeq = message.seq;
  const listed = streams.findIndex((s) => s.key === message.key);
  if (listed >= 0) streams[listed] = message.stream;
  else streams.push(message.stream);
  if (message.reset || message.key !== streamKey || message.columns.length !== columns.length) {
    streamKey = message.key;
    columns = message.columns;
    rows = message.reset ? message.rows : rows.concat(message.rows);
    drawHeader();
    refilter();
  } else {
    rows = rows.concat(message.rows);
    const added = message.rows.filter(matcher);
    shown = shown.concat(added);
  }
  if (rows.length > maxRows) {
    const drop = rows.length - maxRows;
    const firstKept = rows[drop].seq;
    rows = rows.slice(drop);
    let cut = 0;
    while (cut < shown.length && shown[cut].seq < firstKept) cut++;
    if (cut > 0) shown = shown.slice(cut);
  }
  scheduleDraw();
});

function showStreamOptions(): void {
  const current = new Map([...streamSelect.options].map((o) => [o.value, o]));
  const wanted = new Set(streams.map((s) => s.key));
  for (const [key, option] of current) if (!wanted.has(key)) option.remove();
  for (const stream of streams) {
    let option = current.get(stream.key);
    if (!option) {
      option = document.createElement('option');
      option.value = stream.key;
      streamSelect.append(option);
    }
    option.textContent = showHiddenCharacters(`${stream.label}${stream.ended ? ` (${stream.ended})` : ''}`);
  }
  if (selected !== null) streamSelect.value = selected;
}

/** The counters of the stream whose rows are shown and how many rows the filter lets through. */
function drawStats(): void {
  const stream = streams.find((s) => s.key === streamKey);
  stats.replaceChildren();
  if (!stream) {
    stats.textContent = 'No events yet. Attach a program that writes to a ring buffer or perf buffer (▶ Attach above it).';
    return;
  }
  const add = (label: string, value: string, title: string, warn = false): void => {
    const span = document.createElement('span');
    span.className = warn ? 'stat warn' : 'stat';
    span.title = showHiddenCharacters(title);
    const name = document.createElement('span');
    name.className = 'stat-name';
    name.textContent = label;
    const number = document.createElement('span');
    number.className = 'stat-value';
    number.textContent = showHiddenCharacters(value);
    span.append(name, number);
    stats.append(span);
  };
  add('type', stream.recordType, 'C type the records are decoded as (from the object’s BTF)');
  add('events/s', stream.rate.toLocaleString('en-US'), 'Records the kernel produced per second (agent count), over the last second');
  add('received', stream.received.toLocaleString('en-US'), 'Records the agent read from the kernel');
  add('sent', stream.sent.toLocaleString('en-US'), 'Records the agent sent to the editor');
  add('dropped', stream.dropped.toLocaleString('en-US'), 'Records dropped by the agent (editor too slow) plus those the kernel reported lost', stream.dropped > 0);
  add('rows', `${shown.length.toLocaleString('en-US')} / ${stream.held.toLocaleString('en-US')}`, `Rows matching the filter / rows held (the newest ${maxRows.toLocaleString('en-US')})`);
  if (paused) add('paused', '', 'The table is frozen; counters keep counting. Resume to see new events.');
  if (stream.ended) add('ended', stream.ended, 'The stream no longer receives events', true);
  if (stream.note) add('note', stream.note, stream.note, true);
}

function drawHeader(): void {
  header.replaceChildren(
    ...['#', 'time', ...columns].map((c) => {
      const th = document.createElement('th');
      th.textContent = showHiddenCharacters(c);
      return th;
    }),
  );
}

function refilter(): void {
  const parsed = parseFilter(filterInput.value);
  messageBox.hidden = true;
  filterInput.classList.remove('invalid');
  if (!parsed.ok) {
    showMessage(parsed.error);
    return; // keep the last valid filter's rows
  }
  const unknown = unknownFields(parsed.terms, columns);
  if (unknown.length > 0 && columns.length > 0) showMessage(`No column named ${unknown.join(', ')}; the columns are ${['seq', 'time', ...columns].join(', ')}.`);
  matcher = rowMatcher(parsed.terms, columns);
  shown = rows.filter(matcher);
  scheduleDraw();
}

function showMessage(text: string): void {
  filterInput.classList.add('invalid');
  messageBox.textContent = text;
  messageBox.hidden = false;
}

function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
    // The extension sends more rows only after this (see RowsPacing in eventsMessages.ts).
    if (drawnSeq !== undefined) vscode.postMessage({ type: 'drawn', seq: drawnSeq });
    drawnSeq = undefined;
  });
}

/** Draws the rows in view between two spacer rows that give the table its full height. */
function draw(): void {
  drawStats();
  const total = shown.length;
  if (following) scroller.scrollTop = total * ROW_HEIGHT;
  const headerHeight = header.offsetHeight || ROW_HEIGHT;
  const top = Math.max(0, scroller.scrollTop - headerHeight);
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(scroller.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
  const last = Math.min(total, first + count);
  const fragment = document.createDocumentFragment();
  fragment.append(spacer(first * ROW_HEIGHT));
  for (let i = first; i < last; i++) {
    const row = shown[i];
    const tr = document.createElement('tr');
    tr.dataset.seq = String(row.seq);
    const cells = [String(row.seq), formatTime(row.time), ...columns.map((_, c) => row.cells[c] ?? '')];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = targetTextForDisplay(text, CELL_CHARS);
      td.title = showHiddenCharacters(text);
      tr.append(td);
    }
    fragment.append(tr);
  }
  fragment.append(spacer((total - last) * ROW_HEIGHT));
  body.replaceChildren(fragment);
  if (following) scroller.scrollTop = scroller.scrollHeight;
}

function spacer(height: number): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.className = 'spacer';
  tr.style.height = `${height}px`;
  return tr;
}

scroller.addEventListener('scroll', () => {
  following = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - ROW_HEIGHT;
  scheduleDraw();
});
window.addEventListener('resize', scheduleDraw);
streamSelect.addEventListener('change', () => vscode.postMessage({ type: 'select', key: streamSelect.value }));
filterInput.addEventListener('input', refilter);
pauseButton.addEventListener('click', () => vscode.postMessage({ type: 'pause', paused: !paused }));
element<HTMLButtonElement>('clear').addEventListener('click', () => vscode.postMessage({ type: 'clear' }));
element<HTMLButtonElement>('export-json').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'json', filter: filterInput.value }));
element<HTMLButtonElement>('export-csv').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'csv', filter: filterInput.value }));

vscode.postMessage({ type: 'ready' });
