/**
 * Reaching a target through the user's ssh config, for real: the private sshd on 127.0.0.1 serves
 * as its own jump host (a forwarded channel from it to 127.0.0.1:PORT reaches it again), aliases
 * in a temporary config resolved by ssh -G. ProxyJump (one and two hops) opens an agent session
 * that verifies a program; a jump host whose key is unknown, or which is down, is refused naming
 * that hop, as is a target a jump host cannot reach; a ProxyCommand (`ssh -W`) carries the connection too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { freePort } from '../support/freePort';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const agentSourceDir = join(import.meta.dirname, '../../remote-agent/agent');
const template = join(import.meta.dirname, '../../bpf-templates/execsnoop/execsnoop.bpf.c');
const kernelRelease = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'ssh-jump-test-'));
const sshConfigFile = join(scratch, 'config');
const unavailable = sshdUnavailableReason() ?? (existsSync('/usr/bin/ssh') ? null : 'no ssh client (apt-get install openssh-client)');
let sshd: PrivateSshd;
let deadPort: number;

before(async () => {
  if (unavailable !== null) return;
  sshd = await startSshd();
  deadPort = await freePort();
  const emptyKnownHosts = join(scratch, 'empty_known_hosts');
  writeFileSync(emptyKnownHosts, '');
  const host = (alias: string, knownHosts: string, extra: string[] = [], port = sshd.port) => [
    `Host ${alias}`,
    '  HostName 127.0.0.1',
    `  Port ${port}`,
    '  User root',
    `  IdentityFile ${sshd.identityFile}`,
    `  UserKnownHostsFile ${knownHosts}`,
    '  StrictHostKeyChecking yes',
    ...extra.map((line) => `  ${line}`),
  ];
  const proxyCommand = `ssh -F /dev/null -i ${sshd.identityFile} -o BatchMode=yes -o UserKnownHostsFile=${sshd.knownHostsFile} -o StrictHostKeyChecking=yes -p %p -W %h:%p %r@%h`;
  writeFileSync(
    sshConfigFile,
    [
      ...host('jump', sshd.knownHostsFile),
      ...host('behind-jump', sshd.knownHostsFile, ['ProxyJump jump']),
      ...host('behind-two-jumps', sshd.knownHostsFile, ['ProxyJump jump,jump']),
      ...host('jump-unknown-key', emptyKnownHosts),
      ...host('behind-unknown-jump', sshd.knownHostsFile, ['ProxyJump jump-unknown-key']),
      ...host('jump-down', sshd.knownHostsFile, [], deadPort),
      ...host('behind-down-jump', sshd.knownHostsFile, ['ProxyJump jump-down']),
      ...host('down-behind-jump', sshd.knownHostsFile, ['ProxyJump jump'], deadPort),
      ...host('piped', sshd.knownHostsFile, [`ProxyCommand ${proxyCommand}`]),
      '',
    ].join('\n'),
  );
});
/** This process's established TCP connections to the private sshd (ss lists each end; ours has the sshd as its peer). */
function connectionsToSshd(): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', 'dst', `127.0.0.1:${sshd.port}`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

after(async () => {
  await sshd?.stop();
});

test('a target behind a ProxyJump alias opens an agent session that verifies a program', { skip: unavailable ?? false }, async () => {
  const lines: string[] = [];
  const session = await openAgentSession({ target: { kind: 'ssh', host: 'behind-jump' }, agentSourceDir, sshConfigFile, clientVersion: 'test', log: (line) => lines.push(line) });
  try {
    assert.ok(lines.includes(`Connected to jump host jump (root@127.0.0.1:${sshd.port}).`), lines.join('\n'));
    assert.equal(session.description, `root@127.0.0.1:${sshd.port}`);
    assert.equal(session.hello.kernelRelease, kernelRelease);
    const report = await checkFile(session.client, template, { target: session.description, kernelRelease: session.hello.kernelRelease });
    assert.equal(report.compiled, true);
    assert.ok(report.programs.length >= 1);
    for (const program of report.programs) assert.equal(program.ok, true, `${program.name}: ${program.error}`);
  } finally {
    await session.dispose();
  }
});

test('a two-hop ProxyJump chain reaches the target, and closing it closes every hop', { skip: unavailable ?? false }, async () => {
  const lines: string[] = [];
  const transport = await connectSsh({ host: 'behind-two-jumps', sshConfigFile, log: (line) => lines.push(line) });
  assert.equal(lines.filter((line) => line === `Connected to jump host jump (root@127.0.0.1:${sshd.port}).`).length, 2, lines.join('\n'));
  const result = await transport.run('echo reached');
  assert.equal(result.stdout, 'reached\n');
  // Only the first hop is a TCP connection of ours; the others run inside it as forwarded channels.
  assert.equal(connectionsToSshd(), 1);
  await transport.dispose();
  assert.match((await transport.lost).message, /the session was closed/);
  assert.equal(connectionsToSshd(), 0);
});

test('when the hops drop, the target connection is lost and nothing of it stays open', { skip: unavailable ?? false }, async () => {
  const transport = await connectSsh({ host: 'behind-jump', sshConfigFile });
  try {
    sshd.dropConnections();
    assert.match((await transport.lost).message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${sshd.port} lost: `));
    assert.equal(connectionsToSshd(), 0);
  } finally {
    await transport.dispose();
  }
});

test('a jump host whose key is unknown is refused, naming that hop and its fingerprint', { skip: unavailable ?? false }, async () => {
  await assert.rejects(connectSsh({ host: 'behind-unknown-jump', sshConfigFile }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'unknown-host-key');
    assert.ok(error.message.startsWith(`The host key of jump host jump-unknown-key (root@127.0.0.1:${sshd.port}) is not known: ssh-ed25519 ${sshd.hostKeyFingerprint}`), error.message);
    return true;
  });
});

test('a jump host that is down is named with why', { skip: unavailable ?? false }, async () => {
  await assert.rejects(connectSsh({ host: 'behind-down-jump', sshConfigFile }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'connect');
    assert.match(error.message, new RegExp(`^Cannot connect to jump host jump-down \\(root@127\\.0\\.0\\.1:${deadPort}\\): connect ECONNREFUSED`));
    return true;
  });
});

test('a target the jump host cannot reach is named with the hop that tried', { skip: unavailable ?? false }, async () => {
  await assert.rejects(connectSsh({ host: 'down-behind-jump', sshConfigFile }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'connect');
    assert.match(error.message, new RegExp(`^jump host jump \\(root@127\\.0\\.0\\.1:${sshd.port}\\) could not connect onward to down-behind-jump \\(127\\.0\\.0\\.1:${deadPort}\\): `));
    return true;
  });
  assert.equal(connectionsToSshd(), 0);
});

test('a ProxyCommand alias carries the connection through the command', { skip: unavailable ?? false }, async () => {
  const lines: string[] = [];
  const transport = await connectSsh({ host: 'piped', sshConfigFile, log: (line) => lines.push(line) });
  try {
    assert.ok(lines.some((line) => line.startsWith(`Reaching root@127.0.0.1:${sshd.port} through ProxyCommand ssh -F /dev/null`)), lines.join('\n'));
    assert.ok(lines.some((line) => line.includes(`-p ${sshd.port} -W 127.0.0.1:${sshd.port} root@127.0.0.1`)), lines.join('\n'));
    const result = await transport.run('echo piped');
    assert.equal(result.stdout, 'piped\n');
  } finally {
    await transport.dispose();
  }
});
