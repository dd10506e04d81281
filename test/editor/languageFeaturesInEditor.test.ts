/**
 * The eBPF language server in a real VS Code (code-server + headless chromium), used the way a
 * person does: opening a *.bpf.c in a workspace set up for clangd offers to write its .clangd
 * flags; typing `t->` after `struct task_struct *t = …` lists the kernel's fields with their
 * offsets from this machine's BTF; hovering a helper shows its signature and documentation; a map
 * value used before its NULL check is an error in Problems, and its quick fix (Ctrl+.) inserts the
 * check. The extension tells the server about the target (`ebpfStudio/targetInfo`): this machine,
then an SSH host (a private sshd on 127.0.0.1) whose BTF is fetched once and reused.
 *
 * Needs code-server (scripts/install-code-server.sh) and chromium; skipped without them, except
 * on CI (CI=true) where that is a failure. Screenshots of each step go to test-results/.
 * EBPF_STUDIO_VSIX=path tests an already built .vsix instead of running `npm run package`.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { parseBtf } from '../../remote-agent/client/btf';
import { sshdUnavailableReason, startSshd } from '../support/sshd';
import { editorTestSkipReason, openEditorSession, type EditorSession } from '../support/codeServer';

const LOCAL_BTF = '/sys/kernel/btf/vmlinux';
const STEP_TIMEOUT = 30_000;
/** The first targetInfo waits for the local agent, which the first session builds in the fresh HOME. */
const TARGET_INFO_TIMEOUT = 180_000;

const missing = editorTestSkipReason(
  'the language features editor test',
  existsSync(LOCAL_BTF) ? undefined : `this kernel has no BTF at ${LOCAL_BTF}: kernel struct fields cannot be completed`,
);
const sshdMissing = sshdUnavailableReason();

const source = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} exec_count SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int count_exec(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *count = bpf_map_lookup_elem(&exec_count, &pid);
	struct task_struct *t = (void *)bpf_get_current_task();

	*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'language',
    workspace: {
      files: {
        'count.bpf.c': source,
        // A compile_commands.json says this workspace uses clangd. Verification stays off: this test is about the language server.
        'compile_commands.json': '[]\n',
      },
    },
    settings: languageServerOnly({ 'ebpfStudio.target': 'local' }),
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test('kernel fields after ->, helper hover, the NULL-check quick fix and the clangd offer work in VS Code', { skip: missing, timeout: 600_000 }, async (t) => {
  const task = parseBtf(readFileSync(LOCAL_BTF)).byName('task_struct', 'struct');
  const offsetOf = (name: string): number => task!.members!.find((m) => m.name === name)!.bitOffset / 8;
  try {
    const opened = Date.now();
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'count.bpf.c' }).dblclick();
    await editorLine('struct task_struct *t').waitFor({ timeout: STEP_TIMEOUT });

    // The clangd offer comes with the first *.bpf.c; accepting it writes our block into .clangd.
    const offer = page.locator('.notification-toast', { hasText: 'clangd does not know' });
    await offer.waitFor({ timeout: STEP_TIMEOUT });
    t.diagnostic(`open → clangd offer: ${Date.now() - opened} ms`);
    await session.screenshot('1-clangd-offer');
    await offer.getByRole('button', { name: 'Write .clangd' }).click();
    await page.locator('.notification-toast', { hasText: 'clangd now compiles *.bpf.c with -target bpf' }).waitFor({ timeout: STEP_TIMEOUT });
    const clangd = await readFile(join(session.workspace, '.clangd'), 'utf8');
    assert.match(clangd, /^# >>> ebpf-studio:.*\nIf:\n {2}PathMatch: .*\\\.bpf\\\.c\nCompileFlags:\n {2}Add:\n {4}- "-target"\n {4}- bpf\n {4}- "-D__TARGET_ARCH_\w+"\n {4}- "-I.*\/vmlinux\/[^"]+"\n/);
    await session.screenshot('2-clangd-written');
    await page.keyboard.press('Escape'); // the toasts

    // Kernel struct fields, with the byte offsets the verifier and CO-RE use.
    await insertLineAfter('struct task_struct *t', 'const char *name = t->');
    const typed = Date.now();
    await suggestWidget().locator('.monaco-list-row .label-name').first().waitFor({ timeout: STEP_TIMEOUT });
    t.diagnostic(`typed -> → field list shown: ${Date.now() - typed} ms (open → fields: ${Date.now() - opened} ms, including the clangd step)`);
    await session.screenshot('3-fields-after-arrow');
    await page.keyboard.type('pi');
    await focusedSuggestion(/^pid\b/, `pid_t · offset ${offsetOf('pid')}, size 4`);
    await session.screenshot('4-field-pid');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('com');
    await focusedSuggestion(/^comm\b/, `char[16] · offset ${offsetOf('comm')}, size 16`);
    await session.screenshot('5-field-comm');
    await page.keyboard.press('Enter'); // accepts `comm`
    await page.keyboard.type(';'); // without it, `t->comm *count` below would be a multiplication
    await page.keyboard.press('Escape');
    await editorLine('const char *name = t->comm;').waitFor({ timeout: STEP_TIMEOUT });

    // Hover on a helper: its signature and libbpf's documentation.
    await page.locator('.editor-instance .view-line span', { hasText: /^bpf_map_lookup_elem$/ }).hover();
    const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'bpf_map_lookup_elem' });
    await hover.waitFor({ timeout: STEP_TIMEOUT });
    const hoverText = (await hover.innerText()).replace(/\s+/g, ' ');
    assert.ok(hoverText.includes('void *bpf_map_lookup_elem(void *map, const void *key)'), `hover shows the signature: ${hoverText}`);
    assert.match(hoverText, /Perform a lookup in map for an entry associated to key/);
    await session.screenshot('6-helper-hover');
    await page.mouse.move(10, 10);

    // The map value dereferenced before its NULL check: an error in Problems, fixed by the quick fix.
    await page.keyboard.press('Control+Shift+M');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: "'count' may be NULL here" });
    await problem.waitFor({ timeout: STEP_TIMEOUT });
    assert.match(await problem.innerText(), /\[Ln 20, Col 3\]/); // line 19 before `const char *name = …` was added
    await session.screenshot('7-unchecked-lookup-problem');
    await page.locator('.editor-instance .view-line', { hasText: '*count += 1;' }).getByText('count', { exact: true }).click();
    await page.keyboard.press('Control+.');
    // The only fix, so it has the focus; the menu takes keys, and a click would hit its pointer guard.
    await page.locator('.action-widget .monaco-list-row.focused', { hasText: 'Return 0 when count is NULL' }).waitFor({ timeout: STEP_TIMEOUT });
    await session.screenshot('8-quick-fix');
    await page.keyboard.press('Enter');
    await editorLine(/^\s*if\s\(!count\)\s*$/).waitFor({ timeout: STEP_TIMEOUT });
    await problem.waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
    await page.keyboard.press('Control+S');
    await waitFor('the saved file to have the NULL check', async () =>
      (await readFile(join(session.workspace, 'count.bpf.c'), 'utf8')).includes('__u64 *count = bpf_map_lookup_elem(&exec_count, &pid);\n\tif (!count)\n\t\treturn 0;\n\tstruct task_struct *t'),
    );
    await session.screenshot('9-null-check-inserted');

    // The extension described the target to the server once its session opened.
    const log = await waitForLog(/language server: now describes local \(kernel [^;]+; BTF \/sys\/kernel\/btf\/vmlinux; helper probe (known|not available)\) after \d+ ms/);
    t.diagnostic(log);
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  }
});

test('an SSH target: its BTF is fetched once into the extension\'s storage and reused when the target is selected again', { skip: missing ?? sshdMissing ?? false, timeout: 600_000 }, async (t) => {
  const sshd = await startSshd();
  const description = `root@${sshd.host}:${sshd.port}`;
  const btfDir = join(session.userDataDir, 'User/globalStorage/ebpf-studio.ebpf-studio/btf');
  try {
    const alias = 'ebpf-language-target';
    await writeFile(join(session.home, '.ssh/config'), `Host ${alias}\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.identityFile}\n`, { mode: 0o600 });
    // count.bpf.c is still open: selecting the target opens its session even with verification off.
    const selected = Date.now();
    await writeWorkspaceSettings({ 'ebpfStudio.target': alias });
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: STEP_TIMEOUT });
    await dialog.getByRole('button', { name: 'Trust and Connect' }).click();
    const fetched = await waitForLog(new RegExp(`now describes ${literal(description)} \\(kernel [^;]+; BTF fetched \\([\\d.]+ MiB in \\d+ ms\\); helper probe known\\) after \\d+ ms`));
    t.diagnostic(`target selected → server told (trust click included): ${Date.now() - selected} ms; ${fetched}`);
    const copies = (await readdir(btfDir)).filter((f) => f.endsWith('.btf'));
    assert.equal(copies.length, 1, `one BTF copy in ${btfDir}: ${copies.join(', ')}`);
    assert.deepEqual(await readFile(join(btfDir, copies[0])), readFileSync(LOCAL_BTF), 'the copy is the target kernel\'s BTF, byte for byte');
    assert.ok(existsSync(join(btfDir, copies[0].replace(/\.btf$/, '.helpers.json'))), 'the helper probe is cached beside it');

    // Fields still come from BTF — now the copy's.
    await insertLineAfter('const char *name = t->comm;', 'int prio = t->');
    await page.keyboard.type('prio');
    await focusedSuggestion(/^prio\b/, `int · offset ${parseBtf(readFileSync(LOCAL_BTF)).byName('task_struct', 'struct')!.members!.find((m) => m.name === 'prio')!.bitOffset / 8}, size 4`);
    await session.screenshot('10-fields-over-ssh');
    await page.keyboard.press('Escape');

    // Back to local and to the host again: its session is reused and the BTF copy with it.
    await writeWorkspaceSettings({ 'ebpfStudio.target': 'local' });
    await waitForLog(/now describes local \(/, 2);
    await writeWorkspaceSettings({ 'ebpfStudio.target': alias });
    const cached = await waitForLog(new RegExp(`now describes ${literal(description)} \\(kernel [^;]+; BTF cached at ${literal(join(btfDir, copies[0]))}; helper probe known\\)`));
    t.diagnostic(cached);
  } catch (error) {
    await session.screenshot('failure-ssh');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n--- eBPF Studio output ---\n${await session.extensionOutput()}`, { cause: error });
  } finally {
    await sshd.stop();
  }
});

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Workspace settings with verification on save off, so that only the language server is at work. */
function languageServerOnly(settings: Record<string, unknown>): Record<string, unknown> {
  return { ...settings, 'ebpfStudio.verifyOnSave': false };
}

async function writeWorkspaceSettings(settings: Record<string, unknown>): Promise<void> {
  await session.writeWorkspaceSettings(languageServerOnly(settings));
}

function editorLine(text: string | RegExp) {
  return page.locator('.editor-instance .monaco-editor .view-line', { hasText: text });
}

function suggestWidget() {
  return page.locator('.editor-widget.suggest-widget.visible');
}

/** Waits until the suggestion in focus has this label and, shown beside it, this detail. */
async function focusedSuggestion(label: RegExp, detail: string): Promise<void> {
  const row = suggestWidget().locator('.monaco-list-row.focused');
  await row.locator('.label-name', { hasText: label }).waitFor({ timeout: STEP_TIMEOUT });
  const shown = (await row.locator('.details-label').innerText()).trim();
  assert.equal(shown, detail);
}

/** Puts the cursor at the end of the editor line containing `anchor`, and types a new line after it. */
async function insertLineAfter(anchor: string, text: string): Promise<void> {
  await editorLine(anchor).click();
  await page.keyboard.press('End');
  await page.keyboard.press('Escape'); // an open completion list would take the Enter
  await page.keyboard.press('Enter');
  await page.keyboard.type(text);
}

/** The `occurrence`-th line of the eBPF Studio output matching `pattern`, once it is there. */
async function waitForLog(pattern: RegExp, occurrence = 1): Promise<string> {
  let lines: string[] = [];
  await waitFor(`${occurrence} line(s) matching ${pattern} in the eBPF Studio output`, async () => {
    lines = (await session.extensionOutput()).split('\n').filter((l) => pattern.test(l));
    return lines.length >= occurrence;
  }, TARGET_INFO_TIMEOUT);
  return lines[occurrence - 1];
}

/** Polls a file on disk (code-server writes it; no event reaches the test) until `done` says so. */
async function waitFor(what: string, done: () => Promise<boolean>, timeout = STEP_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeout} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
