/**
 * Named targets end to end over the private sshd: a `.ebpf-studio/targets.json` entry resolved by
 * name starts the agent as it says. Its workDirectory holds the agent's files instead of
 * ~/.cache/ebpf-studio, created private to the user, and the private-directory checks hold there
 * (made writable by others, it is refused, nothing runs). "sudo": "never" as a user who is not
 * root is a 'privilege' error naming the entry; as root it just runs. `ebpf-studio check --target
 * NAME` (the built CLI, out/cli.js, as installed) run in a folder below the targets file checks
 * on the named host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { parseTargetsFile, resolveTargetText } from '../../remote-agent/client/namedTargets';
import { ensureLoginUser, startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const programs = path.join(root, 'test/fixtures/programs');
/** A user who is not root, with passwordless sudo (its own sudoers file, so other tests' users are left alone). */
const USER = 'ebpfstudio-named';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-named-targets';
const agentBinaryDir = path.join(root, 'out', 'agent-bin');
let sshd: PrivateSshd;
let home: string;
let scratch: string;

before(async () => {
  if (!fs.existsSync('/usr/bin/sudo')) throw new Error('sudo is not installed (scripts/bootstrap.sh installs it)');
  home = ensureLoginUser(USER);
  fs.writeFileSync(SUDOERS, `${USER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  fs.rmSync(path.join(home, 'ebpf-work'), { recursive: true, force: true });
  fs.rmSync(path.join(home, '.cache', 'ebpf-studio'), { recursive: true, force: true });
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-named-targets-'));
});

after(async () => {
  fs.rmSync(SUDOERS, { force: true });
  await sshd?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** The workspace file these tests commit, as a team would. */
function targetsFile(): { path: string; text: string } {
  const text = JSON.stringify({
    targets: [
      { name: 'staging', destination: `ssh://${USER}@127.0.0.1:${sshd.port}`, workDirectory: '~/ebpf-work/agent-files' },
      { name: 'no-sudo', destination: `${USER}@127.0.0.1:${sshd.port}`, sudo: 'never' },
      { name: 'lab', destination: `root@127.0.0.1:${sshd.port}`, sudo: 'never' },
    ],
  });
  return { path: path.join(scratch, '.ebpf-studio', 'targets.json'), text };
}

function openNamed(name: string) {
  const file = targetsFile();
  const { targets, problems } = parseTargetsFile(file.text, file.path);
  assert.deepEqual(problems, []);
  const resolved = resolveTargetText(name, targets);
  return openAgentSession({
    ...resolved.session,
    target: resolved.spec,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: path.join(root, 'remote-agent/agent'),
    ...(fs.existsSync(agentBinaryDir) && { agentBinaryDir }),
    clientVersion: 'test',
  });
}

test("a named target's workDirectory holds the agent, private to the user; the agent runs as root through sudo", async () => {
  const session = await openNamed('staging');
  try {
    assert.equal(session.hello.euid, 0);
  } finally {
    await session.dispose();
  }
  const dir = path.join(home, 'ebpf-work', 'agent-files');
  const stat = fs.statSync(dir);
  assert.equal(stat.mode & 0o777, 0o700);
  assert.equal(stat.uid, Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })));
  const agents = fs.readdirSync(dir).filter((name) => /^agent-[0-9a-f]{12}$/.test(name));
  assert.equal(agents.length, 1, fs.readdirSync(dir).join(', '));
  assert.ok(fs.existsSync(path.join(dir, agents[0]!, 'ebpf-agent')));
});

test('a workDirectory another user could write to is refused, and nothing is run from it', async () => {
  const dir = path.join(home, 'ebpf-work', 'agent-files');
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o777);
  try {
    await assert.rejects(openNamed('staging'), (error: unknown) => {
      assert.ok(error instanceof AgentSessionError);
      assert.equal(error.kind, 'agent-integrity');
      assert.equal(
        error.message,
        `eBPF Studio refuses to use ${dir} on ${USER}@127.0.0.1:${sshd.port}: it is writable by other users (drwxrwxrwx). ` +
          'The agent kept there runs as root, so anyone who can change that directory could run their own program as root. ' +
          `Check that nobody changed what is in it, then make it private (chmod 700 ${dir}) or remove it (rm -rf ${dir}), and connect again; ` +
          `eBPF Studio then creates it private to ${USER} (mode 700).`,
      );
      return true;
    });
  } finally {
    fs.chmodSync(dir, 0o700);
  }
});

test('"sudo": "never" as a user who is not root is a privilege error naming the entry that said so, before any agent is uploaded', async () => {
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
  await assert.rejects(openNamed('no-sudo'), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'privilege');
    assert.equal(
      error.message,
      `The agent on ${USER}@127.0.0.1:${sshd.port} must run as root, but target "no-sudo" in ${targetsFile().path} says "sudo": "never" and ${USER} is not root (uid ${uid}). ` +
        'Connect as root (e.g. "destination": "root@…"), or set "sudo": "auto" to start the agent through sudo.',
    );
    return true;
  });
  const cache = path.join(home, '.cache', 'ebpf-studio');
  assert.deepEqual(fs.existsSync(cache) ? fs.readdirSync(cache).filter((name) => name.startsWith('agent-')) : [], []);
});

test('"sudo": "never" as root starts the agent as that root login', async () => {
  const session = await openNamed('lab');
  try {
    assert.equal(session.hello.euid, 0);
    assert.equal(session.description, `root@127.0.0.1:${sshd.port}`);
  } finally {
    await session.dispose();
  }
});

test('ebpf-studio check --target NAME, run in a folder below .ebpf-studio/targets.json, checks on the named host', () => {
  const file = targetsFile();
  fs.mkdirSync(path.dirname(file.path), { recursive: true });
  fs.writeFileSync(file.path, file.text);
  const project = path.join(scratch, 'project', 'probes');
  fs.mkdirSync(project, { recursive: true });
  fs.copyFileSync(path.join(programs, 'passes.bpf.c'), path.join(project, 'passes.bpf.c'));
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'out', 'cli.js'), 'check', 'passes.bpf.c', '--target', 'lab', '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile],
    { cwd: project, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0);
  assert.match(run.stdout, /^passes\.bpf\.c: program \w+ \(tracepoint\/syscalls\/sys_enter_execve\): ok, [1-9]\d* insns processed \(on root@127\.0\.0\.1:(\d+), kernel .+\)$/m);
  assert.equal(/\(on root@127\.0\.0\.1:(\d+),/.exec(run.stdout)?.[1], String(sshd.port), 'the name resolved to its destination');
});
