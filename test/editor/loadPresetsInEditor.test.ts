/**
 * Load presets in a real VS Code (code-server + headless chromium), on this machine's kernel: a
 * program whose stack map has no size (its loader sets one, as libbpf-tools' capable does) shows
 * the map's failure on its definition with the explanation; the quick fix asks for a size, writes
 * it into `ebpfStudio.loadPresets` under the file's path, verifies again, and the program passes.
 *
 * Needs code-server (scripts/install-code-server.sh) and chromium; skipped without them, except
 * on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, openEditorSession, repoRoot, type EditorSession } from '../support/codeServer';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check builds the agent and this kernel's vmlinux.h
const VERDICT_TIMEOUT = 60_000;

const missing = editorTestSkipReason('editor tests');
const source = join(repoRoot, 'test/fixtures/programs/loader/stack_capable.bpf.c');

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'load-presets',
    workspace: { files: { 'stack_capable.bpf.c': await readFile(source, 'utf8') } },
    settings: { 'ebpfStudio.target': 'local' },
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test('a map the loader sizes: its failure on the definition, and the quick fix that sets the size makes it pass', { skip: missing, timeout: 600_000 }, async () => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'stack_capable.bpf.c' }).dblclick();
    await page.keyboard.press('Control+Shift+M');
    await shown('.markers-panel .monaco-list-row', /map 'stackmap': failed to create: Invalid argument\(-22\).*\[Ln 14, Col \d+\]/, FIRST_VERDICT_TIMEOUT);
    await shown('.markers-panel .monaco-list-row', /Map has no size until its loader sets one/, VERDICT_TIMEOUT);
    await session.screenshot('1-map-size-unset');

    await page.locator('.editor-instance .monaco-editor .view-line', { hasText: 'stackmap SEC(".maps")' }).click();
    await page.keyboard.press('Control+.');
    // The preferred fix is the focused entry; Enter applies it.
    await page.locator('.action-widget .monaco-list-row.focused', { hasText: "Set a size for map 'stackmap' for the check" }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await session.screenshot('2-asks-for-size');
    await input.fill('1024');
    await page.keyboard.press('Enter');

    await shown('.editor-instance .monaco-editor .codelens-decoration', /✓/, VERDICT_TIMEOUT);
    assert.doesNotMatch(await page.locator('.markers-panel').innerText(), /stackmap/);
    await session.screenshot('3-passes-with-preset');
    const settings = JSON.parse(await readFile(join(session.workspace, '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(settings['ebpfStudio.loadPresets'], { 'stack_capable.bpf.c': { mapSizes: { stackmap: 1024 } } });
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- eBPF Studio output ---\n${await session.extensionOutput()}`);
  }
});

/** Waits until an element matching `selector` has text matching `pattern`. */
async function shown(selector: string, pattern: RegExp, timeout: number): Promise<void> {
  // Runs in the page. A string, not a function: tsx would add helpers the page does not have.
  const predicate = `(() => {
    const wanted = new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags)});
    return [...document.querySelectorAll(${JSON.stringify(selector)})].some((e) => wanted.test((e.textContent || '').replace(/\\s+/g, ' ')));
  })()`;
  await page.waitForFunction(predicate, undefined, { timeout });
}
