/**
 * Workspace trust in a real VS Code (code-server + headless chromium): a workspace cannot point
 * eBPF Studio at a host until the user trusts it. With trust on and the folder not yet trusted
 * (Restricted Mode), the workspace's `.ebpf-studio/targets.json` is not read and its
 * `ebpfStudio.target` does not count: Select Target offers no name from it, the Output says why,
 * and nothing connects to the destination it names. Once the user trusts the folder (the Workspace
 * Trust editor's Trust button), the names come first in Select Target and the workspace's target
 * is the current one, without a reload.
 *
 * Needs code-server (scripts/install-code-server.sh) and chromium; skipped without them, except
 * on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, openEditorSession, runCommand, type EditorSession } from '../support/codeServer';

const STEP_TIMEOUT = 60_000;
const missing = editorTestSkipReason('editor tests');

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'untrusted-workspace',
    workspace: {
      files: {
        '.ebpf-studio/targets.json': JSON.stringify({ targets: [{ name: 'team-box', destination: 'local' }] }),
      },
    },
    // The workspace asks for its named target; in Restricted Mode the setting must not count.
    settings: { 'ebpfStudio.target': 'team-box' },
    userSettings: { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' },
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test('an untrusted workspace cannot name the target: its targets file and target setting count only once the user trusts it', { skip: missing, timeout: 600_000 }, async () => {
  try {
    const rows = page.locator('.quick-input-widget .monaco-list-row');
    const input = page.locator('.quick-input-widget input');
    await runCommand(page, 'eBPF: Select Target');
    await rows.filter({ hasText: 'This machine' }).waitFor({ timeout: STEP_TIMEOUT });
    const offered = (await rows.locator('.label-name').allInnerTexts()).map((label) => label.trim());
    assert.ok(!offered.includes('team-box'), `no name from the untrusted workspace's targets file: ${offered.join(' | ')}`);
    assert.equal(await input.getAttribute('placeholder'), 'eBPF target (now: automatic)', "the workspace's ebpfStudio.target does not count");
    await session.screenshot('1-restricted-picker');
    await page.keyboard.press('Escape');
    const output = await session.extensionOutput();
    assert.match(output, /\.ebpf-studio\/targets\.json ignored: the workspace is not trusted \(its targets count once you trust it\)\./);
    assert.doesNotMatch(output, /team-box: connect/, 'nothing connected to what the workspace names');

    // Trusting the folder: its names and its target count at once, without a reload.
    await runCommand(page, 'Workspaces: Manage Workspace Trust');
    await page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first().click();
    await page.locator('.workspace-trust-editor', { hasText: 'You trust this folder' }).waitFor({ timeout: STEP_TIMEOUT });
    await runCommand(page, 'eBPF: Select Target');
    await rows.filter({ hasText: 'team-box' }).waitFor({ timeout: STEP_TIMEOUT });
    assert.equal(await input.getAttribute('placeholder'), 'eBPF target (now: team-box)');
    assert.equal((await rows.nth(0).locator('.label-name').first().innerText()).trim(), 'team-box', "the workspace's name comes first once trusted");
    assert.match(await rows.nth(0).innerText(), /local \(current\)/);
    await session.screenshot('2-trusted-picker');
    await page.keyboard.press('Escape');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${(error as Error).message}\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});
