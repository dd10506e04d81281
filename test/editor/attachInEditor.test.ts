/**
 * Attaching a program from the editor and watching its events, in a real VS Code (code-server +
 * headless chromium) on this machine's kernel: open the execsnoop template, click "▶ Attach" above
 * its program, run /bin/true from the test, and find that very exec (its pid, its filename) as a
 * row of the Events webview, filtered with the filter box. Then "■ Detach", and bpftool confirms
 * the program is gone from the kernel. And the eBPF side bar: attach one program of a file with a
 * hash map, see the map's entries decoded (pid → count) in the Maps view, and the program in the
 * Explorer, both under what eBPF Studio attached and among all the host's programs. And both
 * programs of that file attached one after the other: one object (bpftool: the same BTF on both
 * programs and their maps), one run in the Maps view, events still flowing; detaching one keeps
 * the other and the object, detaching the last releases the maps.
 *
 * Needs code-server (scripts/install-code-server.sh), chromium, root and bpftool; skipped without
 * them, except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 * EBPF_STUDIO_VSIX=path tests an already built .vsix instead of running `npm run package`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Locator, Page } from 'playwright-core';
import { editorTestSkipReason, eventsWebview, openEditorSession, repoRoot, type EditorSession } from '../support/codeServer';
import { runTrue } from '../support/processTree';
import { attachPrerequisitesMissing, BPFTOOL } from '../support/kernelLinks';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check builds the agent and this kernel's vmlinux.h
const ATTACH_TIMEOUT = 60_000;
const EVENT_TIMEOUT = 20_000;
/** Finding one pid among a busy host's entries may take a few pages of scrolling. */
const MAP_ENTRY_TIMEOUT = 60_000;
/** The height of a row of VS Code's trees. */
const ROW_HEIGHT = 22;

const missing = editorTestSkipReason(
  'the attach editor test',
  ...attachPrerequisitesMissing(),
);

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'attach',
    workspace: {
      copyFrom: join(repoRoot, 'bpf-templates/execsnoop'),
      files: { 'probe.bpf.c': readFileSync(join(repoRoot, 'examples/workspace/probe.bpf.c'), 'utf8') },
    },
    // Sticky scroll would lay function headers over the code lenses of the lines at the top of the view.
    // probe.bpf.c counts the openat calls of this process only: on a busy machine the map of every
    // process has hundreds of rows, more than a test can reliably scroll through while it refreshes.
    settings: { 'ebpfStudio.target': 'local', 'editor.stickyScroll.enabled': false, 'ebpfStudio.loadPresets': { 'probe.bpf.c': { globals: { targ_pid: process.pid } } } },
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test('▶ Attach streams each exec into the Events view (pid and filename decoded with BTF); ■ Detach removes the program from the kernel', { skip: missing, timeout: 600_000 }, async (t) => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'execsnoop.bpf.c' }).dblclick();
    const attachLens = page.locator('.editor-instance .codelens-decoration a', { hasText: '▶ Attach' });
    await attachLens.waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
    await session.screenshot('1-attach-lens');

    const clicked = Date.now();
    await attachLens.click();
    const detachLens = page.locator('.editor-instance .codelens-decoration a', { hasText: '■ Detach' });
    await detachLens.waitFor({ timeout: ATTACH_TIMEOUT });
    t.diagnostic(`▶ Attach → attached: ${Date.now() - clicked} ms`);
    const tooltip = (await detachLens.getAttribute('title')) ?? '';
    const progId = Number(/prog id (\d+)/.exec(tooltip)?.[1]);
    assert.ok(progId > 0, `the Detach lens names the kernel's program id: "${tooltip}"`);
    await prog(progId); // loaded and attached, as the kernel sees it
    await page.locator('.statusbar-item', { hasText: 'eBPF: 1 attached' }).waitFor({ timeout: EVENT_TIMEOUT });

    // Attach opened the Events view; its table is in a webview (two iframes deep).
    const events = eventsWebview(page);
    await events.locator('#stream option').first().waitFor({ state: 'attached', timeout: EVENT_TIMEOUT });

    const pids = await Promise.all([runTrue(), runTrue(), runTrue()]);
    const pid = pids[1];
    await events.locator('#filter').fill(`filename=/bin/true pid=${pid}`);
    // The view draws a new filter's rows in its next frame, with the counters: until they say one
    // row matches, the table may still show the previous rows.
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    const row = events.locator('#body tr:not(.spacer)', { hasText: '/bin/true' });
    assert.equal(await row.count(), 1, `exactly one exec of /bin/true by pid ${pid}`);
    // The columns come with the first record: the fields of the record type.
    const header = await events.locator('#header th').allInnerTexts();
    assert.deepEqual(header, ['#', 'time', 'pid', 'ppid', 'uid', 'comm', 'filename'], 'columns are the fields of struct exec_event');
    const cells = await row.locator('td').allInnerTexts();
    assert.equal(cells[2], String(pid), 'pid column');
    assert.equal(cells[3], String(process.pid), 'ppid: the test process spawned it');
    assert.equal(cells[4], '0', 'uid: root');
    assert.equal(cells[6], '/bin/true', 'filename read from user memory');
    t.diagnostic(`row for pid ${pid}: ${cells.join(' | ')} (comm is the caller's name at sys_enter_execve, before the exec: ${cells[5]})`);

    // The three execs of this process; the counters arrive with the rows they count, so once the
    // stats say three rows match, the table shows those three and every row held was sent.
    await events.locator('#filter').fill(`ppid=${process.pid} filename=/bin/true`);
    await events.locator('#stats', { hasText: /rows\s*3\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    // One read of the painted view (stats and table together), as other processes keep exec'ing.
    const view = await events.locator('body').evaluate((body) => ({
      stats: body.querySelector('#stats')?.textContent ?? '',
      pids: [...body.querySelectorAll('#body tr:not(.spacer)')].map((tr) => tr.children[2]?.textContent ?? ''),
    }));
    const counter = (name: string): number => Number(new RegExp(`${name}\\s*([\\d,]+)`).exec(view.stats)?.[1]?.replaceAll(',', '') ?? NaN);
    const held = Number(/rows\s*3\s*\/\s*([\d,]+)/.exec(view.stats)?.[1]?.replaceAll(',', '') ?? NaN);
    assert.deepEqual(view.pids.map(Number).sort((a, b) => a - b), [...pids].sort((a, b) => a - b), `the rows are the three execs: ${view.stats}`);
    assert.equal(held, counter('sent'), `every record the agent sent is a row held: ${view.stats}`);
    assert.ok(counter('received') >= held, `received counts at least the rows: ${view.stats}`);
    assert.equal(counter('dropped'), 0, `nothing dropped: ${view.stats}`);
    t.diagnostic(`counters with the rows: ${view.stats}`);
    await session.screenshot('2-events');

    // Back in the editor (code lenses refresh only while it has the focus), detach.
    await page.locator('.editor-instance .monaco-editor .view-line', { hasText: 'int handle_execve' }).click();
    await detachLens.click();
    await attachLens.waitFor({ timeout: ATTACH_TIMEOUT });
    await waitUntilGone(progId);
    await page.locator('.statusbar-item', { hasText: 'attached' }).waitFor({ state: 'detached', timeout: EVENT_TIMEOUT });
    await session.screenshot('3-detached');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});

test('the Maps view shows a hash map filling up (pid → openat count, live); the Explorer lists the attached program and marks it among the host\'s programs', { skip: missing, timeout: 600_000 }, async (t) => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'probe.bpf.c' }).dblclick();
    await page.locator('.editor-instance .codelens-decoration a', { hasText: '✓' }).first().waitFor({ state: 'attached', timeout: FIRST_VERDICT_TIMEOUT });
    // count_openat is near the end of the file, below the fold while the Events panel is open.
    await page.locator('.editor-instance .monaco-editor .view-line', { hasText: 'SPDX' }).click();
    await page.keyboard.press('Control+End');
    const attach = page.locator('.editor-instance .codelens-decoration a[title*="Attach count_openat"]');
    await attach.waitFor({ timeout: ATTACH_TIMEOUT });
    await attach.click();
    const detach = page.locator('.editor-instance .codelens-decoration a', { hasText: '■ Detach' });
    await detach.waitFor({ timeout: ATTACH_TIMEOUT });
    const progId = Number(/prog id (\d+)/.exec((await detach.getAttribute('title')) ?? '')?.[1]);
    assert.equal((await prog(progId)).name, 'count_openat');
    assert.equal(await page.locator('.editor-instance .codelens-decoration a[title*="Attach trace_execve"]', { hasText: '▶ Attach' }).count(), 1, 'trace_execve stays detached: Attach is per program');

    await page.locator('.activitybar .action-item a[aria-label^="eBPF"]').click();
    const maps = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Maps' }) });
    const mapRow = maps.locator('.monaco-list-row', { hasText: 'openat_calls' });
    await mapRow.waitFor({ timeout: EVENT_TIMEOUT });
    assert.match(await mapRow.innerText(), /hash · key 4 B · value 8 B · max 10,240/);
    await mapRow.click(); // expand: the first page of entries, then a refresh every second
    // This process opens files: its pid becomes a key, its count grows.
    for (let i = 0; i < 5; i++) await readFile(join(repoRoot, 'package.json'));
    const first = await openatCount(maps, 1);
    for (let i = 0; i < 50; i++) await readFile(join(repoRoot, 'package.json'));
    await openatCount(maps, first + 50);
    t.diagnostic(`openat_calls[${process.pid}]: ${first} → ≥ ${first + 50} after 50 more opens, refreshed without a click`);

    const explorer = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Explorer' }) }).last();
    await explorer.locator('.monaco-list-row', { hasText: 'Attached by eBPF Studio' }).waitFor({ timeout: EVENT_TIMEOUT });
    await explorer.locator('.monaco-list-row', { hasText: `count_openat` }).first().waitFor({ timeout: EVENT_TIMEOUT });
    await explorer.locator('.monaco-list-row', { hasText: 'All programs on host' }).click();
    await explorer.locator('.monaco-list-row', { hasText: new RegExp(`${progId}: count_openat.*eBPF Studio`) }).waitFor({ timeout: EVENT_TIMEOUT });
    await session.screenshot('4-maps-and-explorer');

    await page.locator('.editor-instance .monaco-editor .view-line', { hasText: 'int count_openat' }).click();
    await detach.click();
    await waitUntilGone(progId);
  } catch (error) {
    await session.screenshot('failure-maps');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});

test('the two programs of one file, attached one after the other, run in ONE object: the same maps (bpftool agrees), one run in the Maps view, events flowing; detaching one keeps the other', { skip: missing, timeout: 600_000 }, async (t) => {
  try {
    const lens = (title: string) => page.locator(`.editor-instance .codelens-decoration a[title*="${title}"]`);
    await page.locator('.tabs-container .tab', { hasText: 'probe.bpf.c' }).click();
    await page.locator('.editor-instance .codelens-decoration a', { hasText: '✓' }).first().waitFor({ state: 'attached', timeout: FIRST_VERDICT_TIMEOUT });
    // Lenses drawn while the editor had no focus are stale (their commands are gone): focus it and
    // wait until they are drawn again, with nothing attached.
    await focusProbeEditor();
    await page.locator('.editor-instance .codelens-decoration a', { hasText: '■ Detach' }).waitFor({ state: 'detached', timeout: EVENT_TIMEOUT });

    await revealLens('Attach trace_execve', 'top');
    const execDetach = page.locator('.editor-instance .codelens-decoration a[title*="prog id"]', { hasText: '■ Detach' });
    await clickLens('Attach trace_execve', execDetach);
    const execProg = Number(/prog id (\d+)/.exec((await execDetach.getAttribute('title')) ?? '')?.[1]);
    assert.equal((await prog(execProg)).name, 'trace_execve');
    await expectExecRow('after attaching trace_execve');

    // The second program joins the loaded object: its lens says so, and Attach goes into the same run.
    await revealLens('Attach count_openat', 'bottom');
    const joining = 'on local, into the object trace_execve already runs in (sharing its maps)'; // count_openat's Attach lens, once refreshed
    await lens(joining).waitFor({ timeout: EVENT_TIMEOUT });
    const openatDetach = lens('shares its maps with trace_execve');
    await clickLens(joining, openatDetach);
    const openatProg = Number(/prog id (\d+)/.exec((await openatDetach.getAttribute('title')) ?? '')?.[1]);

    // The kernel's view: both programs carry the object's one BTF, and the maps they use are that object's.
    const exec = await prog(execProg);
    const openat = await prog(openatProg);
    assert.equal(openat.name, 'count_openat');
    assert.equal(openat.btf_id, exec.btf_id, `one loaded object: both programs carry its BTF (btf_id ${exec.btf_id})`);
    // Besides the object's .rodata (targ_pid), each program uses its one map.
    const execMaps = await Promise.all(exec.map_ids.map((id) => mapShow(id)));
    const openatMaps = await Promise.all(openat.map_ids.map((id) => mapShow(id)));
    const own = (maps: Array<{ name: string }>) => maps.filter((m) => !m.name.endsWith('.rodata')).map((m) => m.name);
    assert.deepEqual(own(execMaps), ['events'], 'trace_execve uses one map: events');
    assert.deepEqual(own(openatMaps), ['openat_calls'], 'count_openat uses one map: openat_calls');
    const events = execMaps.find((m) => m.name === 'events')!;
    const counts = openatMaps.find((m) => m.name === 'openat_calls')!;
    // (A ring buffer without __type fields carries no BTF; the hash map does.)
    assert.equal(counts.btf_id, exec.btf_id, 'openat_calls was created with the BTF of the object trace_execve was loaded from');
    t.diagnostic(`trace_execve (prog ${execProg}) → events map ${events.id}; count_openat (prog ${openatProg}) → openat_calls map ${counts.id}; one object, btf_id ${exec.btf_id}`);

    // The Maps view: one run of probe.bpf.c with both programs, its hash map filling up.
    const maps = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Maps' }) });
    if (!(await maps.isVisible())) await page.locator('.activitybar .action-item a[aria-label^="eBPF"]').click();
    const runRow = maps.locator('.monaco-list-row', { hasText: 'probe.bpf.c' });
    await runRow.filter({ hasText: 'trace_execve, count_openat' }).waitFor({ timeout: EVENT_TIMEOUT });
    assert.equal(await runRow.count(), 1, 'one run (one object) for the file, not one per program');
    await maps.locator('.monaco-list-row', { hasText: 'openat_calls' }).click();
    for (let i = 0; i < 5; i++) await readFile(join(repoRoot, 'package.json'));
    await openatCount(maps, 5);
    await expectExecRow('with both attached');
    await session.screenshot('5-two-programs-one-object');

    // Detaching trace_execve destroys its link only: count_openat stays attached, and the object
    // (its programs and both maps) stays loaded until its last program is detached.
    assert.equal((await linksOf(execProg)).length, 1, `trace_execve has its link (bpftool link show)`);
    await revealLens(`(prog id ${execProg})`, 'top');
    await clickLens(`(prog id ${execProg})`, lens('Attach trace_execve'));
    await waitFor(async () => (await linksOf(execProg)).length === 0, `trace_execve (prog ${execProg}) is still linked after Detach`);
    assert.equal((await linksOf(openatProg)).length, 1, 'count_openat stays attached');
    assert.equal((await mapShow(events.id)).name, 'events', 'the object stays loaded while one of its programs is attached');
    await maps.locator('.monaco-list-row', { hasText: 'probe.bpf.c' }).filter({ hasText: /count_openat on/ }).waitFor({ timeout: EVENT_TIMEOUT });

    // Detaching the last program releases the object: programs and maps leave the kernel.
    await revealLens(`prog id ${openatProg})`, 'bottom');
    await clickLens(`prog id ${openatProg})`, lens('Attach count_openat'));
    await waitUntilGone(openatProg);
    await waitUntilGone(counts.id, 'map');
    await waitUntilGone(events.id, 'map');
  } catch (error) {
    await session.screenshot('failure-one-object');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});

/**
 * Puts probe.bpf.c's cursor at the top or bottom of the file and moves it line by line until the
 * code lens whose tooltip contains `title` is in view, a few lines away from the edge (lenses
 * refresh only while the editor has the focus, and exist only for the lines in view).
 */
async function revealLens(title: string, from: 'top' | 'bottom'): Promise<void> {
  const lens = page.locator(`.editor-instance .codelens-decoration a[title*="${title}"]`);
  const key = from === 'top' ? 'ArrowDown' : 'ArrowUp';
  await focusProbeEditor();
  await page.keyboard.press(from === 'top' ? 'Control+Home' : 'Control+End');
  for (let moved = 0; moved < 80; moved++) {
    if (await lens.isVisible()) {
      if (moved > 0) for (let i = 0; i < 4; i++) await page.keyboard.press(key);
      break;
    }
    await page.keyboard.press(key);
  }
  await lens.waitFor({ timeout: ATTACH_TIMEOUT });
}

/**
 * This process's count in the Maps view's openat_calls entries once it is at least `atLeast`. A
 * busy host has hundreds of pids in the map and a tree renders only the rows in view, so the list
 * is scrolled a screen at a time to its end, further pages of 256 entries are loaded there, and at
 * the very end it starts again from the top.
 */
async function openatCount(maps: Locator, atLeast: number): Promise<number> {
  const row = maps.locator('.monaco-list-row', { hasText: new RegExp(`^\\s*${process.pid} → \\d+`) });
  const more = maps.locator('.monaco-list-row', { hasText: 'Load more…' }).first();
  const rendered = maps.locator('.monaco-list-row');
  const deadline = Date.now() + MAP_ENTRY_TIMEOUT;
  let seen: number | undefined;
  while (Date.now() < deadline) {
    if ((await row.count()) > 0) {
      seen = Number(/→ (\d+)/.exec(await row.first().innerText())?.[1]);
      if (seen >= atLeast) return seen;
    } else if (await more.isVisible()) {
      await more.click();
    } else {
      const lastBefore = await rendered.last().innerText();
      const list = maps.locator('.monaco-list').first();
      // Less than the list's height (other views share the side bar), so no row is scrolled past unseen.
      const screen = await list.evaluate((element) => element.clientHeight);
      await list.hover();
      await page.mouse.wheel(0, Math.max(ROW_HEIGHT, screen - 2 * ROW_HEIGHT));
      await new Promise((resolve) => setTimeout(resolve, 100));
      if ((await rendered.last().innerText()) === lastBefore) await page.mouse.wheel(0, -100_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`openat_calls[${process.pid}] did not reach ${atLeast} in the Maps view within ${MAP_ENTRY_TIMEOUT} ms (last seen: ${seen ?? 'no row'})`);
}

/**
 * Clicks the code lens whose tooltip contains `title` until `until` shows: focusing the editor
 * makes VS Code fetch the lenses again, and a click on the lens drawn before the new ones arrive
 * finds its command gone ("Actual command not found"), so such a click is repeated.
 */
async function clickLens(title: string, until: Locator): Promise<void> {
  const lens = page.locator(`.editor-instance .codelens-decoration a[title*="${title}"]`);
  for (let attempt = 1; ; attempt++) {
    await lens.click();
    const shown = await until.waitFor({ timeout: attempt < 3 ? 5_000 : ATTACH_TIMEOUT }).then(
      () => true,
      (error: unknown) => {
        if (attempt >= 3) throw error;
        return false;
      },
    );
    if (shown) return;
  }
}

/** Focuses probe.bpf.c's editor by clicking a line number in the middle of the view (changes nothing). */
async function focusProbeEditor(): Promise<void> {
  await page.locator('.tabs-container .tab', { hasText: 'probe.bpf.c' }).click();
  const numbers = page.locator('.editor-instance .margin-view-overlays .line-numbers');
  await numbers.nth(Math.floor((await numbers.count()) / 2)).click();
}

/** Runs /bin/true and waits for its exec (by pid) as a row of the Events view's selected stream. */
async function expectExecRow(when: string): Promise<void> {
  const events = eventsWebview(page);
  const pid = await runTrue();
  await events.locator('#filter').fill(`pid=${pid}`);
  const row = events.locator('#body tr:not(.spacer)', { hasText: String(pid) });
  await row.first().waitFor({ timeout: EVENT_TIMEOUT }).catch((error: unknown) => {
    throw new Error(`no event of pid ${pid} in the Events view ${when}: ${error instanceof Error ? error.message : String(error)}`);
  });
  const header = await events.locator('#header th').allInnerTexts();
  assert.deepEqual(header, ['#', 'time', 'pid', 'comm'], "columns are the fields of probe.bpf.c's struct exec_event");
}

/** `bpftool prog show id N` as JSON; rejects when there is no such program. */
async function prog(id: number): Promise<{ id: number; name: string; map_ids: number[]; btf_id: number }> {
  const { stdout } = await promisify(execFile)(BPFTOOL!, ['-j', 'prog', 'show', 'id', String(id)]);
  const shown = JSON.parse(stdout) as { id: number; name: string; map_ids?: number[]; btf_id: number };
  return { ...shown, map_ids: shown.map_ids ?? [] };
}

/** `bpftool map show id N` as JSON; rejects when there is no such map. */
async function mapShow(id: number): Promise<{ id: number; name: string; btf_id?: number }> {
  const { stdout } = await promisify(execFile)(BPFTOOL!, ['-j', 'map', 'show', 'id', String(id)]);
  return JSON.parse(stdout) as { id: number; name: string; btf_id?: number };
}

/** The links (`bpftool link show`) of program `progId`. */
async function linksOf(progId: number): Promise<{ id: number; prog_id: number }[]> {
  const { stdout } = await promisify(execFile)(BPFTOOL!, ['-j', 'link', 'show']);
  return (JSON.parse(stdout) as { id: number; prog_id: number }[]).filter((l) => l.prog_id === progId);
}

async function waitFor(condition: () => Promise<boolean>, failure: string): Promise<void> {
  const deadline = Date.now() + EVENT_TIMEOUT;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${failure} (waited ${EVENT_TIMEOUT} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitUntilGone(id: number, kind: 'prog' | 'map' = 'prog'): Promise<void> {
  const deadline = Date.now() + EVENT_TIMEOUT;
  for (;;) {
    const present = await (kind === 'prog' ? prog(id) : mapShow(id)).then(
      () => true,
      () => false,
    );
    if (!present) return;
    if (Date.now() > deadline) throw new Error(`${kind} ${id} is still loaded ${EVENT_TIMEOUT} ms after Detach (bpftool ${kind} show id ${id})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
