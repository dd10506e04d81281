/**
 * The askpass bridge as ssh uses it: the script it writes is run with a prompt (as ssh runs
 * SSH_ASKPASS) and prints what the answerer said, exits 1 when it declined, and the bridge answers
 * nothing to a caller without its token. The script and socket are the owner's alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AskpassBridge } from '../../remote-agent/client/sshAskpass';

const dir = mkdtempSync(join(tmpdir(), 'askpass-bridge-test-'));
const asked: Array<{ prompt: string; hint: string }> = [];
let bridge: AskpassBridge;

before(async () => {
  bridge = await AskpassBridge.start(dir, async (prompt, hint) => {
    asked.push({ prompt, hint });
    return prompt.startsWith('Enter passphrase') ? 'the answer' : undefined;
  });
});
after(() => bridge.close());

/** Runs the askpass program as ssh does: the prompt as its argument, the bridge's environment (not spawnSync: the bridge answers from this process). */
function askAsSsh(prompt: string, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(bridge.env['SSH_ASKPASS']!, [prompt], { env: { ...process.env, ...bridge.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout })));
}

test('the program prints the answer for ssh to read, and passes the prompt and SSH_ASKPASS_PROMPT on', async () => {
  const run = await askAsSsh("Enter passphrase for key '/k': ", { SSH_ASKPASS_PROMPT: 'confirm' });
  assert.deepEqual([run.status, run.stdout], [0, 'the answer\n']);
  assert.deepEqual(asked.at(-1), { prompt: "Enter passphrase for key '/k': ", hint: 'confirm' });
});

test('a declined question exits 1 with nothing printed, as a cancelled askpass does', async () => {
  const run = await askAsSsh("root@vm1's password: ");
  assert.deepEqual([run.status, run.stdout], [1, '']);
});

test('a caller without the token is not answered and not asked about', async () => {
  const before = asked.length;
  const run = await askAsSsh("Enter passphrase for key '/k': ", { EBPF_STUDIO_ASKPASS_TOKEN: 'not-the-token' });
  assert.deepEqual([run.status, run.stdout], [1, '']);
  assert.equal(asked.length, before);
});

test('the program and the socket are private to their owner', () => {
  assert.equal(statSync(bridge.env['SSH_ASKPASS']!).mode & 0o777, 0o700);
  assert.equal(statSync(bridge.env['EBPF_STUDIO_ASKPASS_SOCKET']!).mode & 0o077, 0);
});
