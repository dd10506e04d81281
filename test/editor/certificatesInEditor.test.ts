/**
 * An SSH target reached with OpenSSH certificates, in a real VS Code (code-server + headless
 * chromium): the private sshd has its own CA; ~/.ssh/known_hosts holds only its `@cert-authority`
 * line and the target's key, protected by a passphrase, is in no authorized_keys — it logs in by
 * the certificate beside it (`id_certified-cert.pub`). The extension takes the user's `ssh` for it
 * (ebpfStudio.sshClient "auto"), ssh's passphrase question comes up as the editor's own prompt
 * (typed here, then "Not Now" to remembering it), and the program verifies there: the Attach lens
 * shows. Attached, its Events view shows an exec on the target.
 *
 * Needs code-server (scripts/install-code-server.sh), chromium, root, sshd and ssh; skipped without
 * them, except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 * EBPF_STUDIO_VSIX=path tests an already built .vsix instead of running `npm run package`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, eventsWebview, openEditorSession, repoRoot, runCommand, type EditorSession } from '../support/codeServer';
import { runTrue } from '../support/processTree';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';
import { TEST_SECRETS } from '../support/testSecrets';

const FIRST_VERDICT_TIMEOUT = 180_000; // the first check deploys the agent and builds this kernel's vmlinux.h
const STEP_TIMEOUT = 60_000;
const ALIAS = 'ebpf-certified-target';

const missing = editorTestSkipReason(
  'the certificates editor test',
  process.getuid?.() !== 0 ? 'attaching programs needs root (the agent loads them)' : undefined,
  sshdUnavailableReason() ?? undefined,
);

let session: EditorSession;
let page: Page;
let sshd: PrivateSshd;

before(async () => {
  if (missing) return;
  sshd = await startSshd({ certificates: true });
  session = await openEditorSession({
    name: 'certificates',
    workspace: { copyFrom: join(repoRoot, 'bpf-templates/execsnoop') },
    settings: { 'ebpfStudio.target': ALIAS, 'editor.stickyScroll.enabled': false },
  });
  page = session.page;
  const key = join(session.home, '.ssh/id_certified');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', TEST_SECRETS.keyPassphrase, '-C', 'certified-in-editor', '-f', key]);
  sshd.certificates!.certifyKey(`${key}.pub`, 'root');
  await writeFile(
    join(session.home, '.ssh/config'),
    [`Host ${ALIAS}`, `  HostName ${sshd.host}`, `  Port ${sshd.port}`, '  User root', '  IdentityFile ~/.ssh/id_certified', '  IdentitiesOnly yes', ''].join('\n'),
    { mode: 0o600 },
  );
  await writeFile(join(session.home, '.ssh/known_hosts'), readFileSync(sshd.certificates!.knownHostsFile), { mode: 0o600 });
});

after(async () => {
  await session?.close();
  await sshd?.stop();
});

test("a target known by its CA, logging in by a certificate whose key has a passphrase: ssh's question in the editor's prompt, the program verifies and streams there", { skip: missing, timeout: 600_000 }, async () => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'execsnoop.bpf.c' }).dblclick();
    const prompt = page.locator('.quick-input-widget', { hasText: "Enter passphrase for key '" });
    await prompt.waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
    assert.match(await prompt.innerText(), /id_certified/);
    await session.screenshot('0-passphrase-asked');
    await prompt.locator('input').fill(TEST_SECRETS.keyPassphrase);
    await prompt.locator('input').press('Enter');
    const offer = page.locator('.notifications-toasts .notification-toast', { hasText: 'secret storage?' });
    await offer.getByRole('button', { name: 'Not Now' }).click({ timeout: STEP_TIMEOUT });

    const attachLens = page.locator('.editor-instance .codelens-decoration a', { hasText: '▶ Attach' });
    await attachLens.waitFor({ timeout: FIRST_VERDICT_TIMEOUT });
    const output = await session.extensionOutput();
    assert.match(output, new RegExp(`SSH client for ${ALIAS}: OpenSSH, because it logs in with the certificate \\S+/\\.ssh/id_certified-cert\\.pub\\.`));
    assert.match(output, /with the OpenSSH client/);
    assert.match(readFileSync(join(sshd.dir, 'sshd.log'), 'utf8'), /Accepted publickey for root from 127\.0\.0\.1 .*ED25519-CERT/);
    await session.screenshot('1-verified');

    await attachLens.click();
    const events = eventsWebview(page);
    await events.locator('#stream option').first().waitFor({ state: 'attached', timeout: STEP_TIMEOUT });
    const pid = await runTrue();
    await events.locator('#filter').fill(`filename=/bin/true pid=${pid}`);
    await events.locator('#stats', { hasText: /rows\s*1\s*\// }).waitFor({ timeout: STEP_TIMEOUT });
    await session.screenshot('2-streaming');
    await runCommand(page, 'eBPF: Detach All Programs');
    await page.locator('.statusbar-item', { hasText: /eBPF: \d+ attached/ }).waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});
