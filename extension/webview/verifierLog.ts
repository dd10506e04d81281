/// <reference lib="dom" />
/**
 * The verifier log view's script (bundled to out/webview/verifierLog.js): a virtualised list of the
 * log's rows. The extension holds the log; this asks it for the rows about to come into view and
 * keeps a bounded cache of them, so the DOM holds one screen of rows (a pool of elements reused as
 * the list scrolls) whether the log has 20 lines or a million. Rows have a fixed height; a list too
 * tall for the browser to lay out scrolls scaled. Every text goes in with textContent, never as HTML;
 * the log's text is the kernel's (source lines included), so its reordering and invisible
 * characters are shown as escapes (targetText.ts).
 */
import { MAX_WINDOW, parseToWebview, type FromWebview, type RegisterName, type StatItem, type ToWebview } from '../verifierLogMessages';
import type { LogRow, SearchState } from '../verifierLogRows';
import { showHiddenCharacters } from '../targetText';
import { element, vsCodeApi } from './webviewHost';


/** Must match .row's height in verifierLog.css. */
const ROW_HEIGHT = 20;
/** Taller than this, a scrolled element stops being laid out reliably: longer logs scroll scaled. */
const MAX_SCROLL_HEIGHT = 8_000_000;
/** Rows kept beyond those in view; past it, the ones far from view are dropped. */
const CACHE_LIMIT = 6000;
const SEARCH_DELAY_MS = 150;

const vscode = vsCodeApi<FromWebview>();
const searchInput = element<HTMLInputElement>('search');
const countLabel = element<HTMLSpanElement>('count');
const registerSelect = element<HTMLSelectElement>('register');
const failingButton = element<HTMLButtonElement>('failing');
const titleLabel = element<HTMLSpanElement>('title');
const subtitleLabel = element<HTMLSpanElement>('subtitle');
const stats = element<HTMLDivElement>('stats');
const notice = element<HTMLDivElement>('notice');
const scroller = element<HTMLDivElement>('scroller');
const viewport = element<HTMLDivElement>('viewport');
const rowsBox = element<HTMLDivElement>('rows');
const spacer = element<HTMLDivElement>('spacer');
const detail = element<HTMLDivElement>('detail');

let generation = -1;
let total = 0;
let failing: number | null = null;
let selected: number | null = null;
let search: SearchState = { query: '', count: 0, current: -1, position: null };
/** Rows by position, for the current generation (or, while `stale`, the one before it). */
const cache = new Map<number, LogRow>();
/** The cached rows are of the generation before a new search: drawn until their successors come. */
let stale = false;
let inFlight = false;
/** Rows were missing while a request was in flight: ask again when it is answered. */
let askAgain = false;
let drawPending = false;
let searchTimer: ReturnType<typeof setTimeout> | undefined;
/** Row elements, one per row that fits in view, reused for whatever rows are in view. */
const pool: HTMLDivElement[] = [];

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = parseToWebview(event.data);
  if (message) receive(message);
});

function receive(message: ToWebview): void {
  switch (message.type) {
    case 'log':
      showLog(message);
      return;
    case 'rows':
      if (message.generation !== generation) return;
      inFlight = false;
      if (stale) {
        cache.clear();
        stale = false;
      }
      message.rows.forEach((row, i) => cache.set(message.from + i, row));
      trimCache();
      scheduleDraw();
      if (askAgain) {
        askAgain = false;
        requestMissing();
      }
      return;
    case 'search':
      if (message.generation < generation) return;
      if (message.generation > generation) {
        // Another query: the rows drawn keep their old match marks until the new ones come.
        generation = message.generation;
        stale = true;
        inFlight = false;
        askAgain = false;
      }
      showSearch(message.search);
      return;
    case 'notice':
      showNotice(message.text);
      return;
  }
}

function showLog(message: Extract<ToWebview, { type: 'log' }>): void {
  generation = message.generation;
  total = message.total;
  failing = message.failing;
  cache.clear();
  stale = false;
  inFlight = false;
  askAgain = false;
  titleLabel.textContent = showHiddenCharacters(message.title);
  subtitleLabel.textContent = showHiddenCharacters(message.subtitle);
  showStats(message.stats, message.total, message.lineCount);
  showNotice(message.notice);
  registerSelect.value = message.filter ?? '';
  failingButton.disabled = failing === null;
  search = message.search;
  showCount();
  layout();
  selected = message.focus;
  if (message.focus !== null) scrollToCenter(message.focus);
  else scroller.scrollTop = 0;
  scheduleDraw();
  if (document.activeElement !== searchInput) scroller.focus();
}

function showStats(items: StatItem[], shown: number, lineCount: number): void {
  stats.replaceChildren(
    ...items.map((item) => {
      const span = document.createElement('span');
      span.className = item.warn ? 'stat warn' : 'stat';
      span.title = showHiddenCharacters(item.title);
      const name = document.createElement('span');
      name.className = 'stat-name';
      name.textContent = item.label;
      const value = document.createElement('span');
      value.className = 'stat-value';
      value.textContent = showHiddenCharacters(item.value);
      span.append(name, value);
      return span;
    }),
  );
  if (shown !== lineCount) {
    const filtered = document.createElement('span');
    filtered.className = 'stat';
    filtered.textContent = `showing ${shown.toLocaleString('en-US')} lines`;
    stats.append(filtered);
  }
}

function showNotice(text: string | null): void {
  notice.textContent = showHiddenCharacters(text ?? '');
  notice.hidden = text === null;
}

function showSearch(state: SearchState): void {
  search = state;
  showCount();
  if (state.position !== null) {
    selected = state.position;
    if (!inView(state.position)) scrollToCenter(state.position);
  }
  scheduleDraw();
}

function showCount(): void {
  countLabel.textContent = search.count === 0 ? (search.query === '' ? '' : 'No results') : `${(search.current + 1).toLocaleString('en-US')} of ${search.count.toLocaleString('en-US')}`;
}

// ---------------------------------------------------------------------------------------------
// Scrolling: position p's top is at p × pixelsPerRow() of scroll.

function layout(): void {
  const height = scroller.clientHeight;
  viewport.style.height = `${height}px`;
  spacer.style.height = `${Math.max(0, Math.min(total * ROW_HEIGHT, MAX_SCROLL_HEIGHT) - height)}px`;
}

function pixelsPerRow(): number {
  const height = scroller.clientHeight;
  if (total * ROW_HEIGHT <= MAX_SCROLL_HEIGHT) return ROW_HEIGHT;
  return (MAX_SCROLL_HEIGHT - height) / Math.max(1, total - height / ROW_HEIGHT);
}

/** The (fractional) position at the top of the view. */
function topPosition(): number {
  return scroller.scrollTop / pixelsPerRow();
}

function rowsInView(): number {
  return Math.max(1, Math.floor(scroller.clientHeight / ROW_HEIGHT));
}

function inView(position: number): boolean {
  const top = topPosition();
  return position >= Math.ceil(top) && position < top + rowsInView() - 0.5;
}

function scrollToCenter(position: number): void {
  scroller.scrollTop = Math.max(0, position - rowsInView() / 2 + 0.5) * pixelsPerRow();
}

/** Scrolls just enough to show `position`. */
function scrollIntoView(position: number): void {
  const top = topPosition();
  if (position < top) scroller.scrollTop = position * pixelsPerRow();
  else if (position >= top + rowsInView()) scroller.scrollTop = (position - rowsInView() + 1) * pixelsPerRow();
}

function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

function draw(): void {
  const top = topPosition();
  const first = Math.floor(top);
  const count = Math.ceil(scroller.clientHeight / ROW_HEIGHT) + 1;
  while (pool.length < count) {
    const row = newRowElement();
    pool.push(row);
    rowsBox.append(row);
  }
  pool.forEach((row, i) => {
    const position = first + i;
    row.hidden = i >= count || position >= total;
    if (!row.hidden) fill(row, position, cache.get(position));
  });
  rowsBox.style.transform = `translateY(${-(top - first) * ROW_HEIGHT}px)`;
  showDetail();
  requestMissing();
}

/** Asks for the rows in view that are not cached yet (all of them when stale), with a screen more on either side. */
function requestMissing(): void {
  const first = Math.floor(topPosition());
  const count = Math.ceil(scroller.clientHeight / ROW_HEIGHT) + 1;
  let missing = stale ? first : -1;
  for (let p = first; missing < 0 && p < Math.min(total, first + count); p++) if (!cache.has(p)) missing = p;
  if (missing < 0 || missing >= total) return;
  if (inFlight) {
    askAgain = true;
    return;
  }
  // From a screen before the first missing row (at most a third of a window, so each answer gets further).
  const from = Math.max(0, missing - Math.min(count, Math.floor(MAX_WINDOW / 3)));
  inFlight = true;
  vscode.postMessage({ type: 'rows', generation, from, count: Math.min(MAX_WINDOW, 3 * count, total - from) });
}

function trimCache(): void {
  if (cache.size <= CACHE_LIMIT) return;
  const center = topPosition();
  for (const position of cache.keys()) if (Math.abs(position - center) > CACHE_LIMIT / 4) cache.delete(position);
}

// ---------------------------------------------------------------------------------------------
// Rows: line number | instruction index or an annotation's file:line | instruction or source text | state or note.

function newRowElement(): HTMLDivElement {
  const row = document.createElement('div');
  row.setAttribute('role', 'option');
  for (const part of ['ln', 'insn', 'code', 'state']) {
    const cell = document.createElement('span');
    cell.className = part;
    row.append(cell);
  }
  return row;
}

function fill(element: HTMLDivElement, position: number, row: LogRow | undefined): void {
  element.dataset.position = String(position);
  const [ln, insn, code, state] = element.children as unknown as HTMLSpanElement[];
  const isSelected = position === selected;
  element.setAttribute('aria-selected', String(isSelected));
  if (!row) {
    element.className = 'row pending';
    ln.textContent = '';
    insn.textContent = '';
    code.textContent = '…';
    state.textContent = '';
    element.title = '';
    return;
  }
  const classes = ['row', `kind-${row.kind}`];
  if (row.mark) classes.push(`mark-${row.mark}`);
  if (row.note) classes.push('has-note');
  if (row.match) classes.push('match');
  if (position === search.position) classes.push('current-match');
  if (isSelected) classes.push('selected');
  element.className = classes.join(' ');
  ln.textContent = String(row.line + 1);
  const highlight = row.match ? search.query : '';
  if (row.kind === 'annotation') {
    insn.textContent = showHiddenCharacters(row.where ?? '');
    setText(code, showHiddenCharacters(row.text), highlight);
    state.textContent = row.note ? showHiddenCharacters(`← ${row.note}`) : '';
  } else {
    insn.textContent = row.insn ?? '';
    setText(code, showHiddenCharacters(row.text), highlight);
    setText(state, showHiddenCharacters(row.state ?? ''), highlight);
  }
  element.title = showHiddenCharacters(rowTitle(row));
}

/** Sets a cell's text, the search's occurrences in <mark> elements (text nodes only). */
function setText(cell: HTMLElement, text: string, query: string): void {
  if (query === '') {
    cell.textContent = text;
    return;
  }
  const lower = text.toLowerCase();
  const wanted = query.toLowerCase();
  const parts: Node[] = [];
  let from = 0;
  for (let at = lower.indexOf(wanted); at >= 0; at = lower.indexOf(wanted, at + wanted.length)) {
    if (at > from) parts.push(document.createTextNode(text.slice(from, at)));
    const mark = document.createElement('mark');
    mark.textContent = text.slice(at, at + wanted.length);
    parts.push(mark);
    from = at + wanted.length;
  }
  if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
  cell.replaceChildren(...parts);
}

function rowTitle(row: LogRow): string {
  const what =
    row.mark === 'failing' ? 'The instruction the verifier rejected. ' : row.mark === 'error' ? 'The verifier’s error. ' : row.mark === 'causal' ? 'On a line of the causal chain. ' : '';
  return `${what}${row.note ? `${row.note}. ` : ''}Log line ${row.line + 1}${row.where ? ` · ${row.where}` : ''} — click to show its source line`;
}

/** The selected row in full under the list: cells are cut to the column, states can be long. */
function showDetail(): void {
  const row = selected === null ? undefined : cache.get(selected);
  if (!row) {
    detail.textContent = '';
    return;
  }
  const head = `line ${row.line + 1}${row.insn ? ` · insn ${row.insn}` : ''}${row.where ? ` · ${row.where}` : ''}${row.note ? ` · ${row.note}` : ''}`;
  // Escaped part by part: the newline between them is ours.
  const text = [row.text, row.state].filter((t) => t !== undefined && t !== '').map((t) => showHiddenCharacters(t!)).join('\n');
  const label = document.createElement('div');
  label.className = 'detail-head';
  label.textContent = showHiddenCharacters(head);
  const body = document.createElement('div');
  body.className = 'detail-text';
  body.textContent = text;
  detail.replaceChildren(label, body);
}

// ---------------------------------------------------------------------------------------------
// Input.

function select(position: number, reveal: boolean): void {
  if (total === 0) return;
  selected = Math.min(Math.max(position, 0), total - 1);
  scrollIntoView(selected);
  scheduleDraw();
  const row = cache.get(selected);
  if (reveal && row) vscode.postMessage({ type: 'reveal', line: row.line });
}

rowsBox.addEventListener('click', (event) => {
  const row = (event.target as HTMLElement).closest<HTMLDivElement>('.row');
  if (!row || row.dataset.position === undefined || row.classList.contains('pending')) return;
  select(Number(row.dataset.position), true);
});

scroller.addEventListener('keydown', (event) => {
  const page = rowsInView() - 1;
  const at = selected ?? Math.floor(topPosition());
  const moves = new Map([
    ['ArrowDown', at + 1],
    ['ArrowUp', at - 1],
    ['PageDown', at + page],
    ['PageUp', at - page],
    ['Home', 0],
    ['End', total - 1],
  ]);
  const to = moves.get(event.key);
  if (to !== undefined) {
    event.preventDefault();
    select(to, false);
  } else if (event.key === 'Enter' && selected !== null) {
    event.preventDefault();
    select(selected, true);
  }
});

scroller.addEventListener('scroll', scheduleDraw);
new ResizeObserver(() => {
  layout();
  scheduleDraw();
}).observe(scroller);

function sendSearch(): void {
  clearTimeout(searchTimer);
  searchTimer = undefined;
  vscode.postMessage({ type: 'search', query: searchInput.value, from: selected ?? Math.floor(topPosition()) });
}

searchInput.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(sendSearch, SEARCH_DELAY_MS);
});
searchInput.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter') return;
  event.preventDefault();
  if (searchTimer !== undefined || searchInput.value !== search.query) sendSearch();
  else vscode.postMessage({ type: 'step', direction: event.shiftKey ? -1 : 1 });
});
element<HTMLButtonElement>('next').addEventListener('click', () => vscode.postMessage({ type: 'step', direction: 1 }));
element<HTMLButtonElement>('previous').addEventListener('click', () => vscode.postMessage({ type: 'step', direction: -1 }));
registerSelect.addEventListener('change', () => {
  const at = selected ?? Math.floor(topPosition());
  const line = cache.get(at)?.line ?? 0;
  vscode.postMessage({ type: 'filter', register: registerSelect.value === '' ? null : (registerSelect.value as RegisterName), line });
});
failingButton.addEventListener('click', () => {
  if (failing === null) return;
  selected = failing;
  scrollToCenter(failing);
  scheduleDraw();
  scroller.focus();
});
element<HTMLButtonElement>('open-text').addEventListener('click', () => vscode.postMessage({ type: 'openText' }));

vscode.postMessage({ type: 'ready' });
