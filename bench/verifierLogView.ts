/**
 * The verifier log view's open path on a 1,000,000-line log, side by side in one run with the least
 * any viewer pays: reading the file and splitting it into lines (`readFileSync` + `split('\n')`).
 * The log is a real level-1 log (the ringbuf-leak fixture, Linux 6.18) with its walked part — from
 * the first annotation to the last instruction — repeated until it has --lines lines, so it
 * classifies, places and marks as a real one does.
 *
 * On the extension host (what runs before the webview can draw): the log read and indexed and the
 * first visible window of rows answered (open; and without the read, as the editor already holds
 * the log in its report), the register filter R1, and a search for "R1", each
 * with the window it brings into view; medians of --runs runs after a warm-up. Then in Chromium
 * (when installed), the view's own page and script under its CSP, answered by the same
 * LogViewSession over a page binding: from indexing to the failing instruction drawn, then jumps
 * through the whole log, each timed until the rows in view are drawn, and the longest main-thread
 * task the browser saw (what a user would feel as a freeze).
 *
 *   node --import tsx bench/verifierLogView.ts [--lines 1000000] [--runs 5]
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { RelatedLocation } from '../remote-agent/client/checkReport';
import { walkVerifierLog } from '../remote-agent/client/verifierWalk';
import { parseFromWebview, type ToWebview } from '../extension/verifierLogMessages';
import { verifierLogPage } from '../extension/verifierLogPage';
import { IndexedLog, LogView, LogViewSession, programStats, type LogInput } from '../extension/verifierLogRows';
import { percentile, timeRuns } from './samples';

const root = path.join(__dirname, '..');
const fixture = path.join(root, 'test/fixtures/verifier-logs/ringbuf-leak');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const { values } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '5' } } });
const targetLines = Number(values.lines);
const runs = Number(values.runs);
/** Rows of a first window: what a panel about 30 rows high asks for (a screen on each side of it). */
const WINDOW = 90;
const JUMPS = 100;

/** The fixture's log with its walked part repeated to `lines` lines. */
function longLog(lines: number): string {
  const all = readFileSync(path.join(fixture, 'verifier.log'), 'utf8').split('\n');
  const first = all.findIndex((l) => l.startsWith(';'));
  let last = all.length - 1;
  while (last > first && !/^\d+: \([0-9a-f]{2}\) /.test(all[last])) last--;
  const head = all.slice(0, first);
  const walked = all.slice(first, last + 1);
  const tail = all.slice(last + 1);
  const out = [...head];
  while (out.length + walked.length + tail.length <= lines) out.push(...walked);
  out.push(...tail);
  return out.join('\n');
}

function millis(samples: number[]): string {
  return `${percentile(samples, 50).toFixed(0).padStart(6)} ms`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ebpf-studio-log-bench-'));
  try {
    const file = path.join(dir, 'verifier.log');
    writeFileSync(file, longLog(targetLines));
    const text = readFileSync(file, 'utf8');
    const source = path.join(fixture, 'prog.bpf.c');
    const expected = JSON.parse(readFileSync(path.join(fixture, 'expected.json'), 'utf8')) as { diagnostics: { related?: RelatedLocation[] }[] };
    const related = (expected.diagnostics[0].related ?? []).map((r) => ({ ...r, file: path.join(fixture, r.file) }));
    // The check walks the log once when it reports (checkFile.ts); the view reads that walk.
    let started = performance.now();
    const walk = walkVerifierLog(text, (_insn, annotation) => (annotation?.file && annotation.line ? { file: source, line: annotation.line } : undefined));
    const walkMs = performance.now() - started;
    const input = (log: string): LogInput => ({ log, logSources: walk.logSources, rejected: true, related, resolveFile: () => source });
    const heading = { title: 'count_ringbuf (tracepoint)', subtitle: 'prog.bpf.c on local', stats: [], notice: null };
    const open = (logText = readFileSync(file, 'utf8')): LogViewSession => {
      const session = new LogViewSession(new LogView(new IndexedLog(input(logText))), heading);
      const log = session.answer({ type: 'ready' });
      if (log?.type !== 'log' || log.focus === null) throw new Error('the log did not open on its failing instruction');
      session.answer({ type: 'rows', generation: log.generation, from: Math.max(0, log.focus - WINDOW / 2), count: WINDOW });
      return session;
    };
    const lineCount = open().log.lineCount;

    const baseline = await timeRuns(runs, () => void readFileSync(file, 'utf8').split('\n'));
    const opened = await timeRuns(runs, () => void open());
    const openedInMemory = await timeRuns(runs, () => void open(text));
    const session = open();
    const filter = await timeRuns(runs, () => {
      const log = session.answer({ type: 'filter', register: 'R1', line: 0 });
      if (log?.type === 'log') session.answer({ type: 'rows', generation: log.generation, from: 0, count: WINDOW });
      session.answer({ type: 'filter', register: null, line: 0 });
    });
    const filtered = session.answer({ type: 'filter', register: 'R1', line: 0 });
    const shownWithR1 = filtered?.type === 'log' ? filtered.total : 0;
    const log = session.answer({ type: 'filter', register: null, line: 0 });
    const search = await timeRuns(runs, () => {
      const found = session.answer({ type: 'search', query: 'R1', from: 0 });
      if (found?.type === 'search' && found.search.position !== null && log?.type === 'log') {
        session.answer({ type: 'rows', generation: log.generation, from: found.search.position, count: WINDOW });
      }
    });
    const found = session.answer({ type: 'search', query: 'R1', from: 0 });
    const matches = found?.type === 'search' ? found.search.count : 0;
    const windowBytes = JSON.stringify(session.answer({ type: 'rows', generation: log?.type === 'log' ? log.generation : 0, from: 0, count: WINDOW })).length;
    started = performance.now();
    const wholeBytes = JSON.stringify({ type: 'text', text }).length;
    const wholeMs = performance.now() - started;

    const base = percentile(baseline, 50);
    console.log(`verifier log view, ${lineCount.toLocaleString('en-US')} lines (${(text.length / 1e6).toFixed(1)} MB, ringbuf-leak's walk repeated), medians of ${runs} runs after one warm-up; ${os.cpus().length} CPUs`);
    console.log(`baseline: readFileSync + split('\\n')              ${millis(baseline)}`);
    console.log(`open: read + index + first window of ${WINDOW} rows     ${millis(opened)}   ${(percentile(opened, 50) / base).toFixed(2)}× the baseline`);
    console.log(`  of which index + window (the editor holds the log already)  ${millis(openedInMemory)}`);
    console.log(`register filter R1 + its first window            ${millis(filter)}   ${(percentile(filter, 50) / base).toFixed(2)}×   (${shownWithR1.toLocaleString('en-US')} rows shown)`);
    console.log(`search "R1" + the window at the first match      ${millis(search)}   ${(percentile(search, 50) / base).toFixed(2)}×   (${matches.toLocaleString('en-US')} matching rows)`);
    console.log(`(the check's own walk of this log, paid when it reports: ${walkMs.toFixed(0)} ms)`);
    console.log(`a window message: ${(windowBytes / 1024).toFixed(1)} KiB; the whole log as one message: ${(wholeBytes / 1e6).toFixed(1)} MB, ${wholeMs.toFixed(0)} ms to serialise alone`);
    if (existsSync(chromiumPath)) await inBrowser(input(text), lineCount);
    else console.log(`(no Chromium at ${chromiumPath}: the webview part is skipped; set CHROMIUM_PATH)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The webview in Chromium, answered by a LogViewSession in this process: open, then jumps through the log. */
async function inBrowser(input: LogInput, lineCount: number): Promise<void> {
  const origin = 'https://verifier-log.invalid';
  const assets = path.join(root, 'out/webview');
  if (!existsSync(path.join(assets, 'verifierLog.js'))) throw new Error('out/webview/verifierLog.js is missing: run npm run build first');
  const nonce = randomBytes(16).toString('base64');
  const page = verifierLogPage({ nonce, cspSource: origin, script: `${origin}/verifierLog.js`, styles: [`${origin}/controls.css`, `${origin}/verifierLog.css`] });
  // VS Code's webview API, as the page's script expects it: messages go to this process and back.
  const api = `<script nonce="${nonce}">window.acquireVsCodeApi = () => ({ postMessage: (m) => window.toExtension(m) });</script>`;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const violations: string[] = [];
    tab.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await tab.route(`${origin}/**`, (route) => {
      const name = new URL(route.request().url()).pathname.slice(1);
      if (name === '') return route.fulfill({ contentType: 'text/html', body: page.replace('<body>', `<body>${api}`) });
      return route.fulfill({ contentType: name.endsWith('.css') ? 'text/css' : 'text/javascript', body: readFileSync(path.join(assets, name), 'utf8') });
    });
    let session: LogViewSession | undefined;
    await tab.exposeFunction('toExtension', (raw: unknown) => {
      const message = parseFromWebview(raw);
      const answer: ToWebview | undefined = message && session?.answer(message);
      if (answer) void tab.evaluate(`window.postMessage(${JSON.stringify(answer)}, '*')`);
    });
    // Page code as strings: tsx would add helpers to a function that the page does not have.
    await tab.addInitScript(`window.longestTask = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.longestTask = Math.max(window.longestTask, e.duration); })
        .observe({ type: 'longtask', buffered: true });`);

    const started = performance.now();
    const indexed = new IndexedLog(input);
    session = new LogViewSession(new LogView(indexed), { title: 'count_ringbuf (tracepoint)', subtitle: 'prog.bpf.c on local', stats: programStats({ ok: false, insnsProcessed: null, totalStates: null, peakStates: null, verificationTimeUs: null, stackDepth: null }, lineCount), notice: null });
    await tab.goto(`${origin}/`);
    await tab.locator('.row.mark-failing').waitFor({ timeout: 30_000 });
    const openMs = performance.now() - started;

    const longestWhileOpening = (await tab.evaluate('window.longestTask')) as number;
    await tab.evaluate('window.longestTask = 0');
    const jumps = (await tab.evaluate(`(async () => {
      const scroller = document.getElementById('scroller');
      const drawn = () => document.querySelectorAll('.row.pending:not([hidden])').length === 0;
      const times = [];
      for (let i = 0; i <= ${JUMPS}; i++) {
        const start = performance.now();
        scroller.scrollTop = ((scroller.scrollHeight - scroller.clientHeight) * i) / ${JUMPS};
        do await new Promise((resolve) => requestAnimationFrame(resolve));
        while (!drawn() && performance.now() - start < 5000);
        times.push(performance.now() - start);
      }
      return times;
    })()`)) as number[];
    const longestWhileScrolling = (await tab.evaluate('window.longestTask')) as number;
    const rowsInDom = await tab.locator('.row').count();
    console.log(`webview (Chromium ${browser.version()}): index + page + failing instruction drawn   ${openMs.toFixed(0).padStart(6)} ms`);
    console.log(`${JUMPS + 1} jumps top to bottom, each until its rows are drawn: p50 ${percentile(jumps, 50).toFixed(0)} ms, p95 ${percentile(jumps, 95).toFixed(0)} ms, max ${Math.max(...jumps).toFixed(0)} ms`);
    console.log(`longest main-thread task (0: none over 50 ms): ${longestWhileOpening.toFixed(0)} ms while opening, ${longestWhileScrolling.toFixed(0)} ms while jumping; row elements in the DOM: ${rowsInDom}; CSP violations: ${violations.length}`);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
