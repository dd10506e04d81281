/**
 * Editor windows sharing one SSH connection through the per-user session process, over a real
 * sshd on 127.0.0.1: two windows log in once and each runs its own agent; one window closing leaves
 * the other working; a dropped link ends both windows' sessions with the link's reason and the next
 * connect logs in again; a killed session process is a lost link too, never a hang; a target whose
 * key wants a passphrase is handed back for the window to ask.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { connectThroughSessionProcess } from '../../remote-agent/client/sessionProcessTransport';
import type { ConnectionRequest } from '../../remote-agent/client/sessionProcessWire';
import type { Transport } from '../../remote-agent/client/transport';
import { sessionProcessesIn, sourceLauncher, stopSessionProcessesIn } from '../support/sessionProcesses';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const agentSourceDir = path.join(root, 'remote-agent/agent');
const launcher = sourceLauncher;
const unavailable = sshdUnavailableReason();
let sshd: PrivateSshd;
let scratch: string;
const savedSessionDir = process.env['EBPF_STUDIO_SESSION_DIR'];

before(async () => {
  if (unavailable !== null) return;
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-shared-connection-'));
});

after(async () => {
  await sshd?.stop();
  if (savedSessionDir === undefined) delete process.env['EBPF_STUDIO_SESSION_DIR'];
  else process.env['EBPF_STUDIO_SESSION_DIR'] = savedSessionDir;
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** A private session directory for this test (its session process stopped when the test ends). */
function useSessionDir(t: TestContext, name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { mode: 0o700 });
  process.env['EBPF_STUDIO_SESSION_DIR'] = dir;
  t.after(async () => {
    stopSessionProcessesIn(dir);
    await waitFor(`the session process in ${name} is gone`, () => sessionProcessesIn(dir).length === 0);
  });
  return dir;
}

function connection(overrides: Partial<ConnectionRequest> = {}): ConnectionRequest {
  return {
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshClient: 'builtin',
    canPrompt: true,
    ...overrides,
  };
}

async function sharedTransport(request = connection()): Promise<Transport> {
  const shared = await connectThroughSessionProcess(launcher, request);
  if ('direct' in shared) throw new Error(`expected the shared connection, got: ${shared.notice}`);
  return shared;
}

/** A window's agent session over a shared transport, as the editor opens it. */
function openWindow(transport: Transport): Promise<AgentSession> {
  return openAgentSession({ target: connection().target, agentSourceDir, clientVersion: 'test-window', transport, graceSeconds: 0 });
}

async function compiles(session: AgentSession): Promise<void> {
  const result = await session.client.request('compile', { files: [{ path: 'a.bpf.c', content: 'int x;\n' }], main: 'a.bpf.c' });
  assert.equal(typeof result.objectId, 'string');
}

function acceptedLogins(): number {
  return (fs.readFileSync(path.join(sshd.dir, 'sshd.log'), 'utf8').match(/Accepted publickey for root/g) ?? []).length;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two windows log in once and each runs its own agent; one closing leaves the other working', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  useSessionDir(t, 'two-windows');
  const loginsBefore = acceptedLogins();
  const first = await openWindow(await sharedTransport());
  const second = await openWindow(await sharedTransport());
  try {
    assert.equal(first.description, `root@127.0.0.1:${sshd.port}`);
    assert.equal(second.description, first.description);
    await Promise.all([compiles(first), compiles(second)]);
    assert.equal(acceptedLogins() - loginsBefore, 1, 'one SSH login for both windows');
    const agentPids = execFileSync('pgrep', ['-x', 'ebpf-agent'], { encoding: 'utf8' }).trim().split('\n');
    assert.ok(agentPids.length >= 2, `each window has an agent: ${agentPids.join(' ')}`);
    await first.dispose();
    await compiles(second);
  } finally {
    await first.dispose();
    await second.dispose();
  }
});

test('a dropped link ends every window session with the link\'s reason, and the next connect logs in again', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  useSessionDir(t, 'dropped');
  const first = await openWindow(await sharedTransport());
  const second = await openWindow(await sharedTransport());
  try {
    const loginsBefore = acceptedLogins();
    sshd.dropConnections();
    const [firstReason, secondReason] = await Promise.all([first.closed, second.closed]);
    for (const reason of [firstReason, secondReason]) assert.match(reason.message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${sshd.port} lost: `));
    await assert.rejects(first.client.request('compile', { files: [], main: 'a.bpf.c' }), (error: unknown) => error === firstReason);
    const again = await openWindow(await sharedTransport());
    try {
      await compiles(again);
      assert.equal(acceptedLogins() - loginsBefore, 1);
    } finally {
      await again.dispose();
    }
  } finally {
    await first.dispose();
    await second.dispose();
  }
});

test('a killed session process is a lost link for its windows, said as such, never a hang', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  const dir = useSessionDir(t, 'killed');
  const window = await openWindow(await sharedTransport());
  try {
    stopSessionProcessesIn(dir, 'SIGKILL');
    const reason = await window.closed;
    assert.equal(reason.message, `connection to root@127.0.0.1:${sshd.port} lost: the session process stopped`);
    // Until it has exited, its listening socket still takes connections (then resets them).
    await waitFor('the killed session process is gone', () => sessionProcessesIn(dir).length === 0);
    // Its socket is stale now: the next window connects by itself, and a new session process is started for the one after.
    const next = await connectThroughSessionProcess(launcher, connection());
    assert.ok('direct' in next);
    assert.match(next.notice, /the session process had stopped \(its socket .* was stale and is removed\); connecting directly this time/);
    await waitFor('a new session process runs', () => sessionProcessesIn(dir).length === 1);
  } finally {
    await window.dispose();
  }
});

test('a target whose key wants a passphrase is handed back, for the window to ask', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  useSessionDir(t, 'passphrase');
  const key = path.join(scratch, 'id_protected');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', key]);
  sshd.authorizeKey(fs.readFileSync(`${key}.pub`, 'utf8'));
  const shared = await connectThroughSessionProcess(launcher, connection({ identityFile: key }));
  assert.ok('direct' in shared);
  assert.match(shared.notice, /^the passphrase of .*id_protected is needed, and the session process never asks for secrets; connecting directly$/);
});
