/**
 * OpenSSH certificates, against a real sshd on 127.0.0.1 with its own CA: the server presents a
 * host certificate (known_hosts has only `@cert-authority`) and trusts user certificates
 * (TrustedUserCAKeys) for a key that is in no authorized_keys. ssh2 can do neither, so 'auto'
 * reaches such a target through the user's OpenSSH client (one master connection, commands as
 * multiplexed sessions), with ssh's questions asked through our prompts (SSH_ASKPASS): a key's
 * passphrase, an unknown host key. The session is the same session: the agent runs, a program
 * verifies, and a link cut under an attached program resumes within the grace period as it does
 * with the built-in client. A changed host key and a revoked CA are refused in ssh's words, as
 * refusals (never an offer to trust). A dropped link is noticed; no ssh process outlives the
 * connection or its owner.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, openAgentSession, type HostKeyInfo } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';
import { openProgramRun } from '../../remote-agent/client/openProgramRun';
import { connectSshTarget, type ConnectSshTargetOptions } from '../../remote-agent/client/sshClientChoice';
import { answersByAttempt } from '../support/credentials';
import { runTrue } from '../support/processTree';
import { programFixtures } from '../support/rawAgent';
import { startSshd, sshdUnavailableReason, writeKnownHostsWithWrongKey, type PrivateSshd } from '../support/sshd';
import { startCuttableRelay } from '../support/tcpRelay';
import { TEST_SECRETS } from '../support/testSecrets';

const root = join(import.meta.dirname, '..', '..');
const agentBinaryDir = join(root, 'out', 'agent-bin');
const PASSPHRASE = TEST_SECRETS.keyPassphrase;
const unavailable = sshdUnavailableReason();
const scratch = mkdtempSync(join(tmpdir(), 'ssh-certificates-test-'));
const noConfig = join(scratch, 'no-ssh-config');
let sshd: PrivateSshd;

before(async () => {
  if (unavailable === null) sshd = await startSshd({ certificates: true });
});
after(async () => {
  await sshd?.stop();
});

/** The CA's known_hosts and the certified key: what a user of an SSH CA has. */
function certifiedOptions(overrides: Partial<ConnectSshTargetOptions> = {}): ConnectSshTargetOptions {
  return {
    host: sshd.host,
    port: sshd.port,
    user: 'root',
    identityFile: sshd.certificates!.certifiedIdentityFile,
    knownHostsFile: sshd.certificates!.knownHostsFile,
    sshConfigFile: noConfig,
    ...overrides,
  };
}

/** ssh processes (not the test's own node) whose command line names `text`: the key file every ssh run of a connection is given. */
function sshProcessesNaming(text: string): string[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-a', '-f', text], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.split('\n').filter((line) => line.split(' ')[1] === 'ssh');
}

test('a host known only by @cert-authority, a user with only a certificate: auto takes OpenSSH, the agent runs and a program verifies', { skip: unavailable ?? false }, async () => {
  const lines: string[] = [];
  const session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: 'root' },
    agentSourceDir: join(root, 'remote-agent', 'agent'),
    ...(existsSync(agentBinaryDir) && { agentBinaryDir }),
    identityFile: sshd.certificates!.certifiedIdentityFile,
    knownHostsFile: sshd.certificates!.knownHostsFile,
    sshConfigFile: noConfig,
    clientVersion: 'test',
    log: (line) => lines.push(line),
  });
  try {
    assert.equal(session.description, `root@127.0.0.1:${sshd.port}`);
    assert.equal(session.hello.euid, 0);
    assert.ok(
      lines.includes(`SSH client for 127.0.0.1: OpenSSH, because it logs in with the certificate ${sshd.certificates!.certifiedIdentityFile}-cert.pub.`),
      lines.join('\n'),
    );
    const report = await checkFile(session.client, join(programFixtures, 'passes.bpf.c'), { target: session.description, kernelRelease: session.hello.kernelRelease });
    assert.equal(report.compiled, true);
    assert.ok(report.programs.length > 0 && report.programs.every((program) => program.ok), JSON.stringify(report.programs));
  } finally {
    await session.dispose();
  }
  // sshd logged the certificate, not a key, as what let us in.
  assert.match(readFileSync(join(sshd.dir, 'sshd.log'), 'utf8'), /Accepted publickey for root from 127\.0\.0\.1 .*ED25519-CERT/);
});

test('the built-in client cannot use the certificate: with the CA line alone the host key is unknown, and it says so', { skip: unavailable ?? false }, async () => {
  await assert.rejects(connectSshTarget(certifiedOptions({ sshClient: 'builtin' })), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError, String(error));
    assert.equal(error.kind, 'unknown-host-key');
    return true;
  });
});

test("a certified key with a passphrase: ssh's question reaches our prompter, a wrong answer is asked again, the right one is accepted", { skip: unavailable ?? false }, async () => {
  const key = join(scratch, 'encrypted_certified');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'encrypted-certified', '-f', key]);
  sshd.certificates!.certifyKey(`${key}.pub`, 'root');
  const prompter = answersByAttempt('key-passphrase', ['not the passphrase', PASSPHRASE]);
  const lines: string[] = [];
  const transport = await connectSshTarget(certifiedOptions({ identityFile: key, credentials: prompter, log: (line) => lines.push(line) }));
  try {
    assert.equal((await transport.run('id -un')).stdout, 'root\n');
  } finally {
    await transport.dispose();
  }
  assert.deepEqual(
    prompter.asked.map((request) => [request.kind, request.keyFile, request.attempt, request.target]),
    [
      ['key-passphrase', key, 1, `root@127.0.0.1:${sshd.port}`],
      ['key-passphrase', key, 2, `root@127.0.0.1:${sshd.port}`],
    ],
  );
  assert.deepEqual(prompter.outcomes, ['refused key-passphrase #1', 'accepted key-passphrase #2']);
  assert.ok(!lines.join('\n').includes(PASSPHRASE));
});

test('a host key ssh does not know: the question shows its type and SHA256 fingerprint; declined it is refused, trusted ssh records it', { skip: unavailable ?? false }, async () => {
  const knownHostsFile = join(scratch, 'known_hosts_empty');
  writeFileSync(knownHostsFile, '');
  const asked: HostKeyInfo[] = [];
  const options = (answer: boolean) =>
    certifiedOptions({
      sshClient: 'openssh',
      identityFile: sshd.identityFile,
      knownHostsFile,
      confirmUnknownHostKey: async (info) => {
        asked.push(info);
        return answer;
      },
    });
  await assert.rejects(connectSshTarget(options(false)), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError, String(error));
    assert.equal(error.kind, 'unknown-host-key');
    assert.match(error.message, new RegExp(`ssh-ed25519 ${sshd.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}`));
    return true;
  });
  assert.deepEqual(asked, [{ host: '127.0.0.1', port: sshd.port, keyType: 'ssh-ed25519', fingerprint: sshd.hostKeyFingerprint, knownHostsFile }]);
  assert.equal(readFileSync(knownHostsFile, 'utf8'), '');

  const transport = await connectSshTarget(options(true));
  await transport.dispose();
  assert.equal(asked.length, 2);
  assert.match(readFileSync(knownHostsFile, 'utf8'), /ssh-ed25519 /);
});

test('a dropped link: lost says why, later commands are refused, and no ssh process is left behind', { skip: unavailable ?? false }, async () => {
  const transport = await connectSshTarget(certifiedOptions());
  assert.equal((await transport.run('echo up')).stdout, 'up\n');
  const masters = sshProcessesNaming(sshd.certificates!.certifiedIdentityFile);
  assert.equal(masters.length, 1, masters.join('\n'));
  sshd.dropConnections();
  const reason = await transport.lost;
  assert.match(reason.message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${sshd.port} lost: `));
  await assert.rejects(transport.run('true'), /cannot run a command on .* lost/);
  await transport.dispose();
  assert.deepEqual(sshProcessesNaming(sshd.certificates!.certifiedIdentityFile), []);
});

test('a client killed while connected leaves no ssh master behind', { skip: unavailable ?? false }, async () => {
  const program = [
    `const { connectSshTarget } = require(${JSON.stringify(join(root, 'remote-agent/client/sshClientChoice.ts'))});`,
    `connectSshTarget(${JSON.stringify(certifiedOptions())}).then((t) => t.run('true')).then(() => console.log('connected'));`,
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', program], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('connected') && resolve());
    child.once('exit', (code) => reject(new Error(`the client exited (${code}) before connecting`)));
  });
  assert.equal(sshProcessesNaming(sshd.certificates!.certifiedIdentityFile).length, 1);
  child.kill('SIGKILL');
  const deadline = Date.now() + 5000;
  while (sshProcessesNaming(sshd.certificates!.certifiedIdentityFile).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sshProcessesNaming(sshd.certificates!.certifiedIdentityFile), []);
});

test('ebpf-studio check reaches a certificate-only target through the session process, which keeps its one OpenSSH login for the next run', { skip: unavailable ?? false }, async () => {
  const sessionDir = mkdtempSync(join(scratch, 'session-'));
  const env: NodeJS.ProcessEnv = { ...process.env, EBPF_STUDIO_SESSION_DIR: sessionDir, EBPF_STUDIO_SESSION_IDLE_SECONDS: '2' };
  delete env['EBPF_STUDIO_SESSION'];
  const certificateLogins = () => (readFileSync(join(sshd.dir, 'sshd.log'), 'utf8').match(/Accepted publickey for root .*ED25519-CERT/g) ?? []).length;
  const before = certificateLogins();
  const check = () =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'cli/main.ts'), 'check', join(programFixtures, 'passes.bpf.c'), '--target', `ssh://root@127.0.0.1:${sshd.port}`,
        '--identity', sshd.certificates!.certifiedIdentityFile, '--known-hosts', sshd.certificates!.knownHostsFile],
      { cwd: root, encoding: 'utf8', timeout: 120_000, env },
    );
  for (const run of [check(), check()]) assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.equal(certificateLogins() - before, 1);
  // Idle for 2 s, the session process exits and closes its connection: no ssh is left.
  const deadline = Date.now() + 15_000;
  while (sshProcessesNaming(sshd.certificates!.certifiedIdentityFile).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(sshProcessesNaming(sshd.certificates!.certifiedIdentityFile), []);
});

test('the link cut under an attached program: the OpenSSH connection is made again, the session resumes, the lines printed meanwhile arrive', { skip: unavailable ?? false, timeout: 120_000 }, async () => {
  const relay = await startCuttableRelay(sshd.port);
  const knownHostsFile = join(scratch, `known_hosts_relay_${relay.port}`);
  writeFileSync(knownHostsFile, readFileSync(sshd.certificates!.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `));
  const lines: string[] = [];
  const options = {
    target: { kind: 'ssh' as const, host: sshd.host, port: relay.port, user: 'root' },
    agentSourceDir: join(root, 'remote-agent', 'agent'),
    ...(existsSync(agentBinaryDir) && { agentBinaryDir }),
    identityFile: sshd.certificates!.certifiedIdentityFile,
    knownHostsFile,
    sshConfigFile: noConfig,
    clientVersion: 'test',
    graceSeconds: 30,
    log: (line: string) => lines.push(line),
  };
  const first = await openAgentSession(options);
  let second: Awaited<ReturnType<typeof openAgentSession>> | undefined;
  try {
    assert.ok(lines.some((line) => line.startsWith('SSH client for 127.0.0.1: OpenSSH')), lines.join('\n'));
    const { report, run } = await openProgramRun(first.client, join(root, 'test/fixtures/programs/printk.bpf.c'), { target: first.description, kernelRelease: first.hello.kernelRelease, trace: true });
    assert.ok(run, JSON.stringify(report.diagnostics));
    const printedLines: string[] = [];
    run.onTrace((records) => printedLines.push(...records.map((r) => r.line)));
    await run.attachProgram('say_execve');
    const printed = (pid: number) => printedLines.some((line) => line.includes(`ebpf-studio saw execve from pid ${pid}`));
    const waitPrinted = async (pids: number[]) => {
      const deadline = Date.now() + 30_000;
      while (!pids.every(printed)) {
        if (Date.now() > deadline) throw new Error(`the lines of pids ${pids.join(', ')} did not arrive:\n${printedLines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitPrinted([await runTrue()]);

    relay.cut();
    assert.match((await first.closed).message, /lost|exited|closed/);
    const during = await runTrue();
    second = await openAgentSession({ ...options, resume: { ticket: first.resumeTicket!, streams: run.streamsDecoded(), listen: (client) => run.resumeOn(client) } });
    assert.equal(run.resumed(second.resumed!), true);
    await waitPrinted([during, await runTrue()]);
    const summary = await run.stop();
    assert.notEqual(summary.trace, null, JSON.stringify(summary));
  } finally {
    await second?.dispose();
    await first.dispose();
    relay.close();
  }
  assert.equal(lines.filter((line) => line.startsWith('SSH client for 127.0.0.1: OpenSSH')).length, 2, 'both connections went through OpenSSH');
});

test("a changed host key and a revoked CA are refused in ssh's own words: which known_hosts line to check, what was revoked", { skip: unavailable ?? false }, async () => {
  const changed = join(scratch, 'known_hosts_changed');
  writeKnownHostsWithWrongKey(sshd, changed);
  await assert.rejects(connectSshTarget(certifiedOptions({ sshClient: 'openssh', identityFile: sshd.identityFile, knownHostsFile: changed })), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError, String(error));
    assert.equal(error.kind, 'changed-host-key');
    assert.match(error.message, new RegExp(`^The host key of root@127\\.0\\.0\\.1:${sshd.port} changed; ssh refused to connect\\.`));
    assert.ok(error.message.includes(`Offending ED25519 key in ${changed}:1`), error.message);
    return true;
  });

  const revoked = join(scratch, 'known_hosts_revoked_ca');
  const caLine = readFileSync(sshd.certificates!.knownHostsFile, 'utf8');
  writeFileSync(revoked, caLine + caLine.replace('@cert-authority', '@revoked'));
  await assert.rejects(connectSshTarget(certifiedOptions({ knownHostsFile: revoked })), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError, String(error));
    assert.equal(error.kind, 'changed-host-key');
    assert.match(error.message, new RegExp(`^The host key of root@127\\.0\\.0\\.1:${sshd.port} is revoked in known_hosts; ssh refused to connect:\\n`));
    assert.match(error.message, /ED25519-CERT host key for \[127\.0\.0\.1\]:\d+ is marked as revoked/);
    return true;
  });
});
