/**
 * Named targets in a real VS Code (code-server + headless chromium): a workspace that commits
 * `.ebpf-studio/targets.json` (trusted: the test profile turns workspace trust off, so every
 * workspace is) gets its names first in "eBPF: Select Target", each with its destination beside
 * it; picking one stores the name as `ebpfStudio.target`, the session is known by the name, and a
 * file verifies on the destination it stands for (this machine), the verdict in its code lens.
 *
 * Needs code-server (scripts/install-code-server.sh) and chromium; skipped without them, except
 * on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, eventually, openEditorSession, repoRoot, runCommand, type EditorSession } from '../support/codeServer';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check deploys the agent and builds this kernel's vmlinux.h

const missing = editorTestSkipReason('editor tests');

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'named-targets',
    workspace: {
      files: {
        'passes.bpf.c': await readFile(join(repoRoot, 'test/fixtures/programs/passes.bpf.c'), 'utf8'),
        '.ebpf-studio/targets.json': JSON.stringify({ targets: [{ name: 'this-box', destination: 'local' }, { name: 'staging', destination: 'deploy@10.0.0.5', sudo: 'never' }] }),
      },
    },
    settings: {},
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test('the workspace file\'s named targets come first in Select Target with their destinations; picking one verifies there', { skip: missing, timeout: 600_000 }, async () => {
  try {
    await runCommand(page, 'eBPF: Select Target');
    const rows = page.locator('.quick-input-widget .monaco-list-row');
    await rows.filter({ hasText: 'this-box' }).waitFor({ timeout: 60_000 });
    await session.screenshot('1-picker');
    const row = async (index: number) => ({
      label: (await rows.nth(index).locator('.label-name').first().innerText()).trim(),
      description: (await rows.nth(index).locator('.label-description').first().innerText()).trim(),
    });
    assert.deepEqual(await row(0), { label: 'this-box', description: 'local' });
    assert.deepEqual(await row(1), { label: 'staging', description: 'deploy@10.0.0.5' });
    assert.match(await rows.nth(1).innerText(), /no sudo/, 'how the agent starts there, as the detail');
    assert.equal((await rows.nth(2).locator('.label-name').first().innerText()).trim(), 'This machine');
    await rows.filter({ hasText: 'this-box' }).click();

    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'passes.bpf.c' }).dblclick();
    // The file may show a verdict from the target before this one: the one that counts follows
    // the named session's connection in the Output.
    const verifiedThere = async (): Promise<boolean> => {
      const output = await session.extensionOutput();
      const connected = output.search(/^.*this-box: connected in \d+ ms/m);
      return connected >= 0 && /passes\.bpf\.c \([^)]*\): trace_execve ✓/.test(output.slice(connected));
    };
    await eventually(verifiedThere, FIRST_VERDICT_TIMEOUT);
    await page.locator('.editor-instance .monaco-editor .codelens-decoration', { hasText: /✓/ }).first().waitFor({ timeout: 10_000 });
    await session.screenshot('2-verified');
    const settings = JSON.parse(await readFile(join(session.workspace, '.vscode/settings.json'), 'utf8'));
    assert.equal(settings['ebpfStudio.target'], 'this-box');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${(error as Error).message}\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});
