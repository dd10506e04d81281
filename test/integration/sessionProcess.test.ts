/**
 * The CLI's session process over a real sshd on 127.0.0.1: successive `check` runs share one SSH
 * connection and one agent, and so do concurrent runs, --no-session and a dead session process mean
 * a direct connection (said once), the socket directory must be private, the process exits when
 * idle, and the next run on the agent finds nothing of the previous one.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildId, sessionSocketPath } from '../../remote-agent/client/sessionProcessDirectory';
import { killSessionProcessesIn, sessionProcessesIn, stopSessionProcessesIn } from '../support/sessionProcesses';
import { startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const programs = path.join(root, 'test/fixtures/programs');
const cli = path.join(root, 'cli/main.ts');
let sshd: PrivateSshd;
let scratch: string;

before(async () => {
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-session-test-'));
});

after(async () => {
  await sshd?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/**
 * A fresh private session directory: each test gets its own session process, stopped when the test
 * ends, which waits until no agent of it is left (so the next test counts only its own).
 */
function newSessionDir(t: TestContext, name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { mode: 0o700 });
  t.after(async () => {
    stopSessionProcessesIn(dir);
    await waitFor(`the session process in ${name} is gone`, () => sessionProcessesIn(dir).length === 0);
    await waitFor('no agent is left on the target', () => agentsOfThisSshd().length === 0);
  });
  return dir;
}

function cliEnv(sessionDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, EBPF_STUDIO_SESSION_DIR: sessionDir };
  delete env['EBPF_STUDIO_SESSION'];
  return { ...env, ...extra };
}

function checkArgs(file: string, extra: string[] = []): string[] {
  return ['--import', 'tsx', cli, 'check', file, '--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile, ...extra];
}

function check(sessionDir: string, file = 'passes.bpf.c', extra: string[] = [], env: Record<string, string> = {}, identity = sshd.identityFile) {
  const args = checkArgs(file, extra).map((a) => (a === sshd.identityFile ? identity : a));
  const run = spawnSync(process.execPath, args, { cwd: programs, encoding: 'utf8', timeout: 120_000, env: cliEnv(sessionDir, env) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function checkAsync(sessionDir: string, file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, checkArgs(file), { cwd: programs, env: cliEnv(sessionDir) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** SSH logins the private sshd accepted so far. */
function acceptedLogins(): number {
  return (fs.readFileSync(path.join(sshd.dir, 'sshd.log'), 'utf8').match(/^.*Accepted publickey for root/gm) ?? []).length;
}

/** Pids of processes whose command line contains `needle`. */
function pidsRunning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids.sort((a, b) => a - b);
}

/** Agents started over our sshd: the agent's command names its cache under the root's home, so tell them by their parent sshd. */
function agentsOfThisSshd(): number[] {
  const sshdPid = Number(fs.readFileSync(path.join(sshd.dir, 'sshd.pid'), 'utf8').trim());
  return pidsRunning('ebpf-agent').filter((pid) => {
    if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('ebpf-agent')) return false;
    for (let p = pid; p > 1; ) {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (p === sshdPid) return true;
    }
    return false;
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two check runs in a row share one SSH connection and one agent', async (t) => {
  const dir = newSessionDir(t, 'in-a-row');
  const loginsBefore = acceptedLogins();
  const first = check(dir);
  assert.equal(first.stderr, '');
  assert.equal(first.status, 0, first.stdout);
  assert.match(first.stdout, /passes\.bpf\.c: program \w+ .*: ok/);
  const agentsAfterFirst = agentsOfThisSshd();
  assert.equal(agentsAfterFirst.length, 1);
  const second = check(dir);
  assert.equal(second.stderr, '');
  assert.equal(second.status, 0, second.stdout);
  assert.deepEqual(agentsOfThisSshd(), agentsAfterFirst);
  assert.equal(acceptedLogins() - loginsBefore, 1);
  assert.equal(sessionProcessesIn(dir).length, 1);
});

test('a check run while another run holds a place on the agent shares that agent, over the one connection', async (t) => {
  const dir = newSessionDir(t, 'concurrent');
  assert.equal(check(dir).status, 0);
  const [firstAgent] = agentsOfThisSshd();
  const loginsBefore = acceptedLogins();
  const holder = await rawRun(sessionSocket(dir), cliBuildId());
  assert.equal(holder.reused, true);
  const second = await checkAsync(dir, 'passes.bpf.c');
  assert.deepEqual([second.status, second.stderr], [0, '']);
  assert.equal(acceptedLogins(), loginsBefore);
  assert.deepEqual(agentsOfThisSshd(), [firstAgent]);
  holder.socket.destroy();
});

test('--no-session and EBPF_STUDIO_SESSION=off connect directly and start no session process', (t) => {
  const dir = newSessionDir(t, 'no-session');
  const loginsBefore = acceptedLogins();
  const flag = check(dir, 'passes.bpf.c', ['--no-session']);
  const env = check(dir, 'passes.bpf.c', [], { EBPF_STUDIO_SESSION: 'off' });
  assert.deepEqual([flag.status, flag.stderr, env.status, env.stderr], [0, '', 0, '']);
  assert.equal(acceptedLogins() - loginsBefore, 2);
  assert.deepEqual(sessionProcessesIn(dir), []);
  assert.deepEqual(fs.readdirSync(dir), []);
  assert.deepEqual(agentsOfThisSshd(), []);
});

test('a killed session process costs one direct run with a notice, then a new one serves', async (t) => {
  const dir = newSessionDir(t, 'killed');
  assert.equal(check(dir).status, 0);
  await killSessionProcessesIn(dir);
  const socket = fs.readdirSync(dir).find((f) => f.endsWith('.sock'))!;
  const direct = check(dir);
  assert.equal(direct.status, 0, direct.stdout);
  assert.equal(
    direct.stderr,
    `ebpf-studio: the session process had stopped (its socket ${path.join(dir, socket)} was stale and is removed); connecting directly this time\n`,
  );
  await waitFor('a new session process listens', () => sessionProcessesIn(dir).length === 1 && fs.existsSync(path.join(dir, socket)));
  const next = check(dir);
  assert.deepEqual([next.status, next.stderr], [0, '']);
});

test('a key with a passphrase: the session process never asks for it, the run connects directly, asks and says why', async (t) => {
  const dir = newSessionDir(t, 'passphrase');
  const key = path.join(scratch, 'encrypted_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'session test passphrase', '-C', 'session-test', '-f', key]);
  sshd.authorizeKey(fs.readFileSync(`${key}.pub`, 'utf8').trim());
  const askpass = path.join(scratch, 'askpass');
  const asked = path.join(scratch, 'askpass-asked');
  fs.writeFileSync(askpass, `#!/bin/sh\necho "$1" >> '${asked}'\necho 'session test passphrase'\n`, { mode: 0o700 });
  const notice = `ebpf-studio: the passphrase of key ${key} is needed, and the session process never asks for secrets; connecting directly\n`;
  for (const round of [1, 2]) {
    const run = check(dir, 'passes.bpf.c', [], { SSH_ASKPASS: askpass, SSH_AUTH_SOCK: '' }, key);
    assert.deepEqual([run.status, run.stderr], [0, notice], `round ${round}: ${run.stdout}`);
    assert.equal(fs.readFileSync(asked, 'utf8').split('\n').filter((l) => l !== '').length, round);
  }
  // The secret never reached the session process's log.
  const logText = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
  assert.equal(logText.includes('session test passphrase'), false);
});

test('a session directory other users could reach is refused: the run connects directly and says why', (t) => {
  const dir = newSessionDir(t, 'open-to-others');
  fs.chmodSync(dir, 0o755);
  const run = check(dir);
  assert.equal(run.status, 0, run.stdout);
  assert.equal(
    run.stderr,
    `ebpf-studio: not using the session process: the session directory ${dir} has mode 0755, so other users can reach it; it must be a directory of yours with mode 0700. Remove it (or chmod 700 it if it is yours) and try again.\n`,
  );
  assert.deepEqual(fs.readdirSync(dir), []);
  const link = path.join(scratch, 'a-link');
  fs.symlinkSync(newSessionDir(t, 'link-target'), link);
  const viaLink = check(link);
  assert.match(viaLink.stderr, /^ebpf-studio: not using the session process: the session directory .*a-link is a symbolic link;/);
});

test('the session process exits after its idle time, and its agent with it', async (t) => {
  const dir = newSessionDir(t, 'idle');
  const run = check(dir, 'passes.bpf.c', [], { EBPF_STUDIO_SESSION_IDLE_SECONDS: '2' });
  assert.deepEqual([run.status, run.stderr], [0, '']);
  assert.equal(sessionProcessesIn(dir).length, 1);
  await waitFor('the idle session process exits', () => sessionProcessesIn(dir).length === 0, 15_000);
  await waitFor('its agent exits', () => agentsOfThisSshd().length === 0, 10_000);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.sock')), []);
});

test('a session process refuses a run of another build, and another build of the CLI listens on another socket', async (t) => {
  const dir = newSessionDir(t, 'other-build');
  assert.equal(check(dir).status, 0);
  const socketPath = sessionSocket(dir);
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`${JSON.stringify({ build: 'f'.repeat(64), status: true })}\n`);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
  });
  assert.equal(answer, `${JSON.stringify({ refused: 'the session process belongs to another build of ebpf-studio' })}\n`);
  assert.notEqual(sessionSocketPath(dir, 'f'.repeat(64)), socketPath);
});

test('nothing a run left loaded is visible to the next run on the same agent', async (t) => {
  const dir = newSessionDir(t, 'clean');
  assert.equal(check(dir).status, 0);
  const [agentPid] = agentsOfThisSshd();
  const socketPath = sessionSocket(dir);
  const build = cliBuildId();
  // A run that attaches a program and leaves without releasing it (as a crashed CLI would).
  const first = await rawRun(socketPath, build);
  const compiled = await first.request('compile', { files: [{ path: 'passes.bpf.c', content: fs.readFileSync(path.join(programs, 'passes.bpf.c'), 'utf8') }], main: 'passes.bpf.c' });
  const attached = await first.request('attach', { objectId: compiled.objectId, program: 'trace_execve' });
  assert.ok(hostProgramIds().includes(attached.programId));
  first.socket.destroy();
  await waitFor('the left program is unloaded', () => !hostProgramIds().includes(attached.programId));
  const second = await rawRun(socketPath, build);
  assert.equal(second.reused, true);
  assert.deepEqual(agentsOfThisSshd(), [agentPid]);
  const gone = await second.requestError('load', { objectId: compiled.objectId });
  assert.match(gone, /is not held for this client/);
  const listed = await second.request('host.programs', {});
  assert.equal(listed.programs.some((p: { id: number }) => p.id === attached.programId), false);
  second.socket.destroy();
  stopSessionProcessesIn(dir);
});

function sessionSocket(dir: string): string {
  return path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.sock'))!);
}

/** The build id the spawned CLI computes: its entry file is cli/main.ts. */
function cliBuildId(): string {
  const saved = process.argv[1];
  process.argv[1] = cli;
  try {
    return buildId();
  } finally {
    process.argv[1] = saved!;
  }
}

function hostProgramIds(): number[] {
  const out = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  return (JSON.parse(out.stdout) as { id: number }[]).map((p) => p.id);
}

/** A run spoken by hand on the session socket: the request line, then JSON-RPC lines. */
async function rawRun(socketPath: string, build: string) {
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `${JSON.stringify({
      build,
      open: { target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user }, knownHostsFile: sshd.knownHostsFile, identityFile: sshd.identityFile, sudo: 'auto', canPrompt: false, clientVersion: 'test' },
    })}\n`,
  );
  let buffered = '';
  const waiting = new Map<number, (message: { result?: any; error?: { message: string } }) => void>();
  let first: ((line: string) => void) | undefined;
  const firstLine = new Promise<string>((resolve) => (first = resolve));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (first) {
        first(line);
        first = undefined;
        continue;
      }
      const message = JSON.parse(line);
      waiting.get(message.id)?.(message);
    }
  });
  const reply = JSON.parse(await firstLine);
  assert.ok(reply.ok, JSON.stringify(reply));
  let nextId = 1;
  const send = (method: string, params: unknown) =>
    new Promise<{ result?: any; error?: { message: string } }>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  return {
    socket,
    reused: reply.ok.reused as boolean,
    request: async (method: string, params: unknown) => {
      const message = await send(method, params);
      if (message.error) throw new Error(message.error.message);
      return message.result;
    },
    requestError: async (method: string, params: unknown) => {
      const message = await send(method, params);
      assert.ok(message.error, `${method} succeeded`);
      return message.error.message;
    },
  };
}
