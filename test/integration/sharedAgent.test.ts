/**
 * Editor windows sharing one agent through the per-user session process, over a real sshd on
 * 127.0.0.1: two windows log in once and start one agent between them, each with its own objects
 * (one window's reset leaves the other's alone, and it cannot use the other's); one window closing
 * leaves the other working; a dropped link closes both windows' sessions with the link's reason,
 * and each comes back to its place with its ticket through one new login; a killed session process
 * is a lost link too, never a hang; a target whose key wants a passphrase is handed back for the
 * window to ask.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentError, type AgentSession } from '../../remote-agent/client/agentSession';
import { agentThroughSessionProcess } from '../../remote-agent/client/sessionProcessAgent';
import type { ConnectDirectly } from '../../remote-agent/client/sessionProcessLink';
import type { ShareRequest } from '../../remote-agent/client/sessionProcessWire';
import { ErrorCode } from '../../remote-agent/protocol';
import { sessionProcessStatus } from '../../cli/sessionClient';
import { buildId } from '../../remote-agent/client/sessionProcessDirectory';
import { startCuttableRelay } from '../support/tcpRelay';
import { commOf, descendantsOf } from '../support/processTree';
import { killSessionProcessesIn, sessionProcessesIn, sourceLauncher, stopSessionProcessesIn } from '../support/sessionProcesses';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

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

function request(overrides: Partial<ShareRequest> = {}): ShareRequest {
  return {
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshClient: 'builtin',
    canPrompt: true,
    clientVersion: 'sharedAgent.test',
    graceSeconds: 30,
    ...overrides,
  };
}

function share(overrides: Partial<ShareRequest> = {}): Promise<AgentSession | ConnectDirectly> {
  return agentThroughSessionProcess(launcher, { share: request(overrides) }, { signal: new AbortController().signal });
}

/** A window's place on the shared agent, as the editor opens it. */
async function openWindow(overrides: Partial<ShareRequest> = {}): Promise<AgentSession> {
  const shared = await share(overrides);
  if ('direct' in shared) throw new Error(`expected the shared agent, got: ${shared.notice}`);
  return shared;
}

/** The agents running under this test's sshd (the login's process execs the agent). */
function agentProcesses(): number {
  const sshdPid = Number(fs.readFileSync(path.join(sshd.dir, 'sshd.pid'), 'utf8'));
  return descendantsOf(sshdPid).filter((pid) => commOf(pid) === 'ebpf-agent').length;
}

async function compiles(session: AgentSession): Promise<string> {
  const result = await session.client.request('compile', { files: [{ path: 'a.bpf.c', content: 'int x;\n' }], main: 'a.bpf.c' });
  assert.equal(typeof result.objectId, 'string');
  return result.objectId!;
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

test('two windows log in once and share one agent, each with its own objects; one closing leaves the other working', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  useSessionDir(t, 'two-windows');
  const loginsBefore = acceptedLogins();
  const first = await openWindow();
  const second = await openWindow();
  try {
    assert.equal(first.description, `root@127.0.0.1:${sshd.port}`);
    assert.equal(second.description, first.description);
    assert.equal(first.hello.kernelRelease, os.release());
    const [mine, theirs] = await Promise.all([compiles(first), compiles(second)]);
    assert.equal(acceptedLogins() - loginsBefore, 1, 'one SSH login for both windows');
    assert.equal(agentProcesses(), 1, 'one agent for both windows');
    assert.deepEqual((await sessionProcessStatus(buildId(launcher.cliEntry)))?.shared, [{ serial: 1, windows: 2 }]);

    await assert.rejects(second.client.request('object.maps', { objectId: mine }), (error: AgentError) => error.code === ErrorCode.UnknownObject);
    assert.deepEqual(await first.client.request('reset', {}), { releasedObjects: 1, traceStopped: false });
    assert.deepEqual((await second.client.request('object.maps', { objectId: theirs })).maps.map((m) => m.name), ['a.bss']);

    await first.dispose();
    await compiles(second);
    // A window that ended its session is released at once, not kept for a resume.
    for (let i = 0; i < 50 && (await sessionProcessStatus(buildId(launcher.cliEntry)))?.shared[0]?.windows !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual((await sessionProcessStatus(buildId(launcher.cliEntry)))?.shared, [{ serial: 1, windows: 1 }]);
  } finally {
    await first.dispose();
    await second.dispose();
  }
});

test("a dropped link closes every window's session with the link's reason; each comes back to its place through one new login", { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  useSessionDir(t, 'dropped');
  const relay = await startCuttableRelay(sshd.port);
  t.after(() => relay.close());
  // The relay's [host]:port carries the sshd's own key.
  const knownHostsFile = path.join(scratch, 'known_hosts_relay');
  fs.writeFileSync(knownHostsFile, fs.readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `));
  const throughRelay = { target: { kind: 'ssh' as const, host: sshd.host, port: relay.port, user: sshd.user }, knownHostsFile };
  const first = await openWindow(throughRelay);
  const second = await openWindow(throughRelay);
  let again: AgentSession[] = [];
  try {
    const kept = await compiles(first);
    const loginsBefore = acceptedLogins();
    relay.cut();
    const [firstReason, secondReason] = await Promise.all([first.closed, second.closed]);
    for (const reason of [firstReason, secondReason]) assert.match(reason.message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${relay.port} lost: `));
    await assert.rejects(first.client.request('compile', { files: [], main: 'a.bpf.c' }), (error: unknown) => error === firstReason);
    again = await Promise.all([first, second].map((w) => openWindow({ ...throughRelay, resume: { ticket: w.resumeTicket!, streams: [] } })));
    assert.deepEqual(again[0]!.resumed, { objects: [kept], streams: [] });
    assert.deepEqual(again[1]!.resumed, { objects: [], streams: [] });
    await compiles(again[1]!);
    await again[0]!.client.request('object.maps', { objectId: kept });
    assert.equal(acceptedLogins() - loginsBefore, 1);
    await assert.rejects(openWindow({ ...throughRelay, resume: { ticket: { ...first.resumeTicket!, token: '0'.repeat(64) }, streams: [] } }), (error: Error & { kind?: string }) => error.kind === 'session-refused');
  } finally {
    for (const w of again) await w.dispose();
    await first.dispose();
    await second.dispose();
  }
});

test('a killed session process is a lost link for its windows, said as such, never a hang', { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
  const dir = useSessionDir(t, 'killed');
  const window = await openWindow();
  try {
    // Until it has exited, its listening socket still takes connections (then resets them).
    await killSessionProcessesIn(dir);
    const reason = await window.closed;
    assert.equal(reason.message, `The session process's link to the agent on root@127.0.0.1:${sshd.port} closed.`);
    // Its socket is stale now: the next window connects by itself, and a new session process is started for the one after.
    const next = await share();
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
  const shared = await share({ identityFile: key });
  assert.ok('direct' in shared);
  assert.match(shared.notice, /^the passphrase of .*id_protected is needed, and the session process never asks for secrets; connecting directly$/);
});
