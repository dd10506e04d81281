/**
 * Two VS Code windows (two tabs of one code-server, each with its own extension host) on the same
 * SSH target share one agent, and so one SSH login, through the per-user session process: both
 * verify a file, the private sshd accepts one login for both, and each window's Output says it used
 * the shared agent. When the link drops (the sshd's session processes killed, the agent with them),
 * both windows reconnect on their own, through one new login.
 *
 * Needs code-server (scripts/install-code-server.sh), chromium and sshd; skipped without them,
 * except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, openEditorSession, repoRoot, type EditorSession } from '../support/codeServer';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check deploys the agent and builds this kernel's vmlinux.h
const ALIAS = 'shared-box';

const missing = editorTestSkipReason('the shared agent editor test', sshdUnavailableReason() ?? undefined);

let session: EditorSession;
let sshd: PrivateSshd;

before(async () => {
  if (missing) return;
  sshd = await startSshd();
  session = await openEditorSession({
    name: 'shared-agent',
    workspace: { files: { 'passes.bpf.c': await readFile(join(repoRoot, 'test/fixtures/programs/passes.bpf.c'), 'utf8') } },
    settings: { 'ebpfStudio.target': ALIAS, 'ebpfStudio.reconnectAttempts': 8 },
    shareConnections: true,
  });
  copyFileSync(sshd.identityFile, join(session.home, '.ssh/id_shared'));
  copyFileSync(sshd.knownHostsFile, join(session.home, '.ssh/known_hosts'));
  await writeFile(
    join(session.home, '.ssh/config'),
    [`Host ${ALIAS}`, `  HostName ${sshd.host}`, `  Port ${sshd.port}`, '  User root', '  IdentityFile ~/.ssh/id_shared', '  IdentitiesOnly yes', ''].join('\n'),
  );
});

after(async () => {
  await session?.close();
  await sshd?.stop();
});

function acceptedLogins(): number {
  return (readFileSync(join(sshd.dir, 'sshd.log'), 'utf8').match(/Accepted publickey for root/g) ?? []).length;
}

/** The eBPF Studio Output of every window so far. */
async function everyWindowsOutput(): Promise<string[]> {
  const logs = join(session.userDataDir, 'logs');
  const files = (await readdir(logs, { recursive: true })).filter((f) => f.endsWith('eBPF Studio.log'));
  return Promise.all(files.map((f) => readFile(join(logs, f), 'utf8')));
}

async function verifiedIn(page: Page): Promise<void> {
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'passes.bpf.c' }).dblclick();
  await page.locator('.editor-instance .monaco-editor .codelens-decoration', { hasText: /✓/ }).first().waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('two windows on one SSH target share one agent and log in once, and reconnect through one login after the link drops', { skip: missing, timeout: 600_000 }, async () => {
  const first = session.page;
  let second: Page | undefined;
  try {
    const loginsBefore = acceptedLogins();
    await verifiedIn(first);
    second = await first.context().browser()!.newPage({ viewport: { width: 1400, height: 900 } });
    await second.goto(first.url(), { timeout: 60_000 });
    await second.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
    await verifiedIn(second);
    await session.screenshot('1-second-window-verified');
    assert.equal(acceptedLogins() - loginsBefore, 1, 'one SSH login for both windows');
    const shared = (await everyWindowsOutput()).filter((log) => log.includes(`${ALIAS}: using the agent the session process shares with this user's other windows`));
    assert.equal(shared.length, 2, 'each window says it used the shared agent');

    sshd.dropConnections();
    await waitFor('the windows reconnected', async () => (await everyWindowsOutput()).filter((log) => (log.match(new RegExp(`${ALIAS}: connected in`, 'g')) ?? []).length >= 2).length === 2, 90_000);
    assert.equal(acceptedLogins() - loginsBefore, 2, 'one more login, shared by both reconnects');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${(error as Error).message}\n--- eBPF Studio output of each window ---\n${(await everyWindowsOutput()).join('\n---\n')}`, { cause: error });
  } finally {
    await second?.close();
  }
});
