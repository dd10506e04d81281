/**
 * A dropped link in a real VS Code (code-server + headless chromium): an SSH target reached through
 * a TCP relay the test cuts. The execsnoop template is attached over it and its Events view shows
 * an exec; the link is cut; the editor says it is reconnecting, resumes the session within the
 * grace period (no reload: the same page, the same Events view), the program the kernel runs is
 * the same one, attached once, and an exec made after the cut shows up in the same view.
 *
 * Needs code-server (scripts/install-code-server.sh), chromium, root, sshd and bpftool; skipped
 * without them, except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 * EBPF_STUDIO_VSIX=path tests an already built .vsix instead of running `npm run package`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, eventsWebview, openEditorSession, repoRoot, runCommand, type EditorSession } from '../support/codeServer';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';
import { startCuttableRelay, type CuttableRelay } from '../support/tcpRelay';
import { runTrue } from '../support/processTree';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check deploys the agent and builds this kernel's vmlinux.h
const ATTACH_TIMEOUT = 60_000;
const EVENT_TIMEOUT = 20_000;
const RESUME_TIMEOUT = 60_000;
const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool'].find((p) => existsSync(p));
const ALIAS = 'ebpf-resume-target';

const missing = editorTestSkipReason(
  'the resume editor test',
  process.getuid?.() !== 0 ? 'attaching programs needs root (the agent loads them)' : undefined,
  BPFTOOL ? undefined : 'bpftool is not installed (apt-get install bpftool): the test checks the kernel with it',
  sshdUnavailableReason() ?? undefined,
);

let session: EditorSession;
let page: Page;
let sshd: PrivateSshd;
let relay: CuttableRelay;

before(async () => {
  if (missing) return;
  sshd = await startSshd();
  relay = await startCuttableRelay(sshd.port);
  session = await openEditorSession({
    name: 'resume',
    workspace: { copyFrom: join(repoRoot, 'bpf-templates/execsnoop') },
    settings: { 'ebpfStudio.target': ALIAS, 'editor.stickyScroll.enabled': false },
  });
  page = session.page;
  await writeFile(
    join(session.home, '.ssh/config'),
    `Host ${ALIAS}\n  HostName ${sshd.host}\n  Port ${relay.port}\n  User root\n  IdentityFile ${sshd.identityFile}\n`,
    { mode: 0o600 },
  );
  // The relay's [host]:port carries the sshd's own key.
  await writeFile(join(session.home, '.ssh/known_hosts'), readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `), { mode: 0o600 });
});

after(async () => {
  await session?.close();
  relay?.close();
  await sshd?.stop();
});

test('the link cut while streaming: "reconnecting", then the same program, still attached once, streams into the same Events view', { skip: missing, timeout: 600_000 }, async (t) => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'execsnoop.bpf.c' }).dblclick();
    const attachLens = page.locator('.editor-instance .codelens-decoration a', { hasText: '▶ Attach' });
    await attachLens.waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
    await attachLens.click();
    // (The Events view opens and takes the focus, so the lenses refresh later: the Output says it first.)
    const attachedLine = /execsnoop\.bpf\.c: attached on .* \(prog id (\d+)\)$/m;
    await until(async () => attachedLine.test(await session.extensionOutput()), ATTACH_TIMEOUT, 'the Output says handle_execve was attached');
    const progId = Number(attachedLine.exec(await session.extensionOutput())![1]);
    assert.equal(linksOf(progId), 1);

    const events = eventsWebview(page);
    await events.locator('#stream option').first().waitFor({ state: 'attached', timeout: EVENT_TIMEOUT });
    const before = await runTrue();
    await events.locator('#filter').fill(`filename=/bin/true pid=${before}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    await session.screenshot('1-streaming');

    const cut = Date.now();
    relay.cut();
    await until(async () => /: reconnecting in 1 s \(try 1 of 8\)$/m.test(await session.extensionOutput()), EVENT_TIMEOUT, 'the Output says the target is being reconnected');
    assert.equal(linksOf(progId), 1, 'still attached on the target while the link is down');
    const during = await runTrue(); // an exec while the editor has no link: the agent keeps it
    await until(async () => /: resumed on .*: handle_execve still attached$/m.test(await session.extensionOutput()), RESUME_TIMEOUT, 'the Output says the run was resumed');
    t.diagnostic(`cut → resumed: ${Date.now() - cut} ms`);
    assert.equal(linksOf(progId), 1, 'the same program, attached once');

    // The same Events view (no reload) shows the exec made while the link was down, and a new one.
    await events.locator('#filter').fill(`filename=/bin/true pid=${during}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    const afterResume = await runTrue();
    await events.locator('#filter').fill(`filename=/bin/true pid=${afterResume}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    await events.locator('#filter').fill(`filename=/bin/true pid=${before}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: EVENT_TIMEOUT });
    await session.screenshot('2-resumed');

    // Detaching goes through the resumed connection too.
    await runCommand(page, 'eBPF: Detach All Programs');
    await until(async () => linksOf(progId) === 0, ATTACH_TIMEOUT, 'the program detached');
    await page.locator('.statusbar-item', { hasText: 'attached' }).waitFor({ state: 'detached', timeout: EVENT_TIMEOUT });
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});

/** How many links the kernel holds for program `progId` (bpftool link show). */
function linksOf(progId: number): number {
  const links = JSON.parse(execFileSync(BPFTOOL!, ['-j', 'link', 'show'], { encoding: 'utf8' })) as { prog_id: number }[];
  return links.filter((l) => l.prog_id === progId).length;
}

/** Polls `condition` every 250 ms; fails with `what` after `timeout` ms. */
async function until(condition: () => Promise<boolean>, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not seen within ${timeout} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
