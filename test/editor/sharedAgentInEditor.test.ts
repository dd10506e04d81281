/**
 * Two VS Code windows (two tabs of one code-server, each with its own extension host) on the same
 * SSH target, reached through a TCP relay the test cuts, share one agent, and so one SSH login,
 * through the per-user session process: both verify a file, the private sshd accepts one login for
 * both, and each window's Output says it used the shared agent. The first window attaches
 * execsnoop and its Events view shows an exec; the link is cut and stays dead for a few seconds:
 * the windows say they are reconnecting, the session process resumes the agent through one new
 * login, and the first window comes back to its place — the same program, attached once, the exec
 * made while the link was down and one made after it in the same Events view, no reload. Then the
 * sshd's session processes are killed (a second drop; the agent, parted from its first login at
 * the cut, lives on): both windows reconnect and the run is resumed again, through one new login.
 *
 * Needs code-server (scripts/install-code-server.sh), chromium, root, sshd and bpftool; skipped
 * without them, except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, eventsWebview, openEditorSession, repoRoot, type EditorSession } from '../support/codeServer';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';
import { startCuttableRelay, type CuttableRelay } from '../support/tcpRelay';
import { runTrue } from '../support/processTree';
import { attachPrerequisitesMissing, linksOf } from '../support/kernelLinks';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check deploys the agent and builds this kernel's vmlinux.h
const ATTACH_TIMEOUT = 60_000;
const EVENT_TIMEOUT = 20_000;
const RESUME_TIMEOUT = 60_000;
/** How long the cut path stays dead: the session process's first resume tries fail meanwhile. */
const LINK_DOWN_MS = 6_000;
const ALIAS = 'shared-box';

const missing = editorTestSkipReason(
  'the shared agent editor test',
  ...attachPrerequisitesMissing(),
  sshdUnavailableReason() ?? undefined,
);

let session: EditorSession;
let sshd: PrivateSshd;
let relay: CuttableRelay;

before(async () => {
  if (missing) return;
  sshd = await startSshd();
  relay = await startCuttableRelay(sshd.port);
  session = await openEditorSession({
    name: 'shared-agent',
    workspace: { copyFrom: join(repoRoot, 'bpf-templates/execsnoop'), files: { 'passes.bpf.c': await readFile(join(repoRoot, 'test/fixtures/programs/passes.bpf.c'), 'utf8') } },
    settings: { 'ebpfStudio.target': ALIAS, 'ebpfStudio.reconnectAttempts': 8, 'editor.stickyScroll.enabled': false },
    shareConnections: true,
  });
  copyFileSync(sshd.identityFile, join(session.home, '.ssh/id_shared'));
  // The relay's [host]:port carries the sshd's own key.
  await writeFile(join(session.home, '.ssh/known_hosts'), readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `));
  await writeFile(
    join(session.home, '.ssh/config'),
    [`Host ${ALIAS}`, `  HostName ${sshd.host}`, `  Port ${relay.port}`, '  User root', '  IdentityFile ~/.ssh/id_shared', '  IdentitiesOnly yes', ''].join('\n'),
  );
});

after(async () => {
  await session?.close();
  relay?.close();
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
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^passes\.bpf\.c$/ }).dblclick();
  await page.locator('.editor-instance .monaco-editor .codelens-decoration', { hasText: /✓/ }).first().waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Every window's Output, joined. */
async function allOutput(): Promise<string> {
  return (await everyWindowsOutput()).join('\n');
}


test('two windows share one agent and one login; a program attached in one survives a cut link into the same Events view, and a second drop', { skip: missing, timeout: 600_000 }, async (t) => {
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

    // The first window attaches execsnoop and sees an exec.
    await first.locator('.explorer-folders-view .monaco-list-row', { hasText: 'execsnoop.bpf.c' }).dblclick();
    const attachLens = first.locator('.editor-instance .codelens-decoration a', { hasText: '▶ Attach' });
    await attachLens.waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
    await attachLens.click();
    const attachedLine = /execsnoop\.bpf\.c: attached on .* \(prog id (\d+)\)$/m;
    await waitFor('an Output says handle_execve was attached', async () => attachedLine.test(await allOutput()), ATTACH_TIMEOUT);
    const progId = Number(attachedLine.exec(await allOutput())![1]);
    assert.equal(linksOf(progId), 1);
    const events = eventsWebview(first);
    await events.locator('#stream option').first().waitFor({ state: 'attached', timeout: EVENT_TIMEOUT });
    const beforeCut = await runTrue();
    await events.locator('#filter').fill(`filename=/bin/true pid=${beforeCut}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });

    // The path stays dead for a while; the session process resumes the agent when it is back.
    const loginsBeforeCut = acceptedLogins();
    const cut = Date.now();
    relay.cut(LINK_DOWN_MS);
    await waitFor('the windows say the target is being reconnected', async () => (await everyWindowsOutput()).filter((log) => /: reconnecting in 1 s \(try 1 of 8\)$/m.test(log)).length === 2, EVENT_TIMEOUT);
    assert.equal(linksOf(progId), 1, 'still attached on the target while the link is down');
    const during = await runTrue();
    await waitFor('the Output says the run was resumed', async () => /: resumed on .*: handle_execve still attached$/m.test(await allOutput()), RESUME_TIMEOUT);
    t.diagnostic(`cut → resumed: ${Date.now() - cut} ms`);
    assert.equal(linksOf(progId), 1, 'the same program, attached once');
    assert.equal(acceptedLogins() - loginsBeforeCut, 1, "one login: the session process's resume");
    await events.locator('#filter').fill(`filename=/bin/true pid=${during}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    const afterResume = await runTrue();
    await events.locator('#filter').fill(`filename=/bin/true pid=${afterResume}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    await session.screenshot('2-resumed');

    // The link dropped again, the sshd's session processes killed this time (the agent, parted from
    // its first login at the cut, lives on): resumed again, through one login for both windows.
    const connects = async (): Promise<number[]> => (await everyWindowsOutput()).map((log) => (log.match(new RegExp(`${ALIAS}: connected in`, 'g')) ?? []).length);
    const connectsBefore = await connects();
    const loginsBeforeDrop = acceptedLogins();
    sshd.dropConnections();
    await waitFor('both windows reconnected', async () => (await connects()).every((n, i) => n > connectsBefore[i]!), 90_000);
    assert.equal(acceptedLogins() - loginsBeforeDrop, 1, 'one more login, shared by both reconnects');
    await waitFor('the Output says the run was resumed again', async () => (await allOutput()).match(/: resumed on .*: handle_execve still attached$/gm)?.length === 2, RESUME_TIMEOUT);
    assert.equal(linksOf(progId), 1, 'the same program, still attached once');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${(error as Error).message}\n--- eBPF Studio output of each window ---\n${(await everyWindowsOutput()).join('\n---\n')}`, { cause: error });
  } finally {
    await second?.close();
  }
});
