/**
 * Agent sessions for real: a private sshd on 127.0.0.1, the real agent deployed and built from
 * remote-agent/agent, this machine's kernel. Host key trust (unknown, confirmed, changed), hello,
 * a dropped connection failing a pending request at once, a link gone silent noticed by keepalives,
 * and the local transport.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentSessionError, connectToTarget, openAgentSession, type HostKeyInfo } from '../../remote-agent/client/agentSession';
import { ensureLoginUser, startSshd, sshdUnavailableReason, writeKnownHostsWithWrongKey, type PrivateSshd } from '../support/sshd';
import { startCoalescingRelay } from '../support/tcpRelay';
import { AGENT_PROTOCOL_VERSION } from '../../remote-agent/protocol';

const agentSourceDir = join(import.meta.dirname, '../../remote-agent/agent');
const kernelRelease = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'ssh-session-test-'));
const unavailable = sshdUnavailableReason();
let sshd: PrivateSshd;

before(async () => {
  if (unavailable === null) sshd = await startSshd();
});
after(async () => {
  await sshd?.stop();
});

function sshOptions(overrides: { knownHostsFile?: string; confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean> } = {}) {
  return {
    target: { kind: 'ssh' as const, host: sshd.host, port: sshd.port, user: sshd.user },
    agentSourceDir,
    identityFile: sshd.identityFile,
    knownHostsFile: overrides.knownHostsFile ?? sshd.knownHostsFile,
    sshConfigFile: join(scratch, 'no-ssh-config'),
    clientVersion: 'test',
    ...(overrides.confirmUnknownHostKey && { confirmUnknownHostKey: overrides.confirmUnknownHostKey }),
  };
}

test('an SSH session to root@127.0.0.1 deploys the agent, which says hello with this kernel', { skip: unavailable ?? false }, async () => {
  const lines: string[] = [];
  const session = await openAgentSession({ ...sshOptions(), log: (line) => lines.push(line) });
  try {
    assert.equal(session.description, `root@127.0.0.1:${sshd.port}`);
    assert.equal(session.hello.kernelRelease, kernelRelease);
    assert.equal(session.hello.euid, 0);
    assert.equal(session.hello.protocolVersion, AGENT_PROTOCOL_VERSION);
    assert.ok(lines.some((line) => line.startsWith(`Connected to root@127.0.0.1:${sshd.port}`)), lines.join('\n'));
  } finally {
    await session.dispose();
  }
  assert.equal((await session.closed).message, `The session to root@127.0.0.1:${sshd.port} was closed.`);
  await assert.rejects(session.client.request('hello', { clientVersion: 'test' }), /was closed/);
});

test('a server without SFTP gets the shipped agent written with cat, and the session works', { skip: unavailable ?? false }, async () => {
  const noSftp = await startSshd({ noSftp: true });
  try {
    // The server really has no SFTP: OpenSSH's own sftp client is refused.
    const sftp = spawnSync('sftp', ['-i', noSftp.identityFile, '-o', `UserKnownHostsFile=${noSftp.knownHostsFile}`, '-o', 'BatchMode=yes', '-P', String(noSftp.port), '-b', '/dev/null', `root@${noSftp.host}`], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(sftp.status, 0);
    assert.match(sftp.stderr, /subsystem request failed/);
    const lines: string[] = [];
    const session = await openAgentSession({
      ...sshOptions(),
      target: { kind: 'ssh', host: noSftp.host, port: noSftp.port, user: noSftp.user },
      identityFile: noSftp.identityFile,
      knownHostsFile: noSftp.knownHostsFile,
      agentBinaryDir: join(import.meta.dirname, '../../out/agent-bin'),
      workDirectory: mkdtempSync(join(scratch, 'no-sftp-')),
      log: (line) => lines.push(line),
    });
    try {
      assert.equal(session.hello.euid, 0);
      assert.ok(lines.some((line) => /^Installed the shipped \S+ agent .* without building it\.$/.test(line)), lines.join('\n'));
    } finally {
      await session.dispose();
    }
  } finally {
    await noSftp.stop();
  }
});

test('an unknown host key is refused without a confirm callback, naming its SHA256 fingerprint', { skip: unavailable ?? false }, async () => {
  const empty = join(scratch, 'empty_known_hosts');
  writeFileSync(empty, '');
  await assert.rejects(openAgentSession(sshOptions({ knownHostsFile: empty })), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'unknown-host-key');
    assert.ok(error.message.includes(sshd.hostKeyFingerprint), error.message);
    assert.ok(error.message.includes(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${empty}`), error.message);
    assert.equal(error.hostKey?.fingerprint, sshd.hostKeyFingerprint);
    return true;
  });
  assert.equal(readFileSync(empty, 'utf8'), '');
});

test('a confirmed unknown host key is appended to known_hosts and the session works', { skip: unavailable ?? false }, async () => {
  const file = join(scratch, 'trust_known_hosts');
  const asked: HostKeyInfo[] = [];
  const session = await openAgentSession(
    sshOptions({
      knownHostsFile: file,
      confirmUnknownHostKey: async (info) => {
        asked.push(info);
        return true;
      },
    }),
  );
  try {
    assert.deepEqual(asked, [{ host: '127.0.0.1', port: sshd.port, keyType: 'ssh-ed25519', fingerprint: sshd.hostKeyFingerprint, knownHostsFile: file }]);
    assert.equal(readFileSync(file, 'utf8'), readFileSync(sshd.knownHostsFile, 'utf8'));
    assert.equal(session.hello.kernelRelease, kernelRelease);
  } finally {
    await session.dispose();
  }
});

test('a changed host key is refused, naming the known_hosts file and line, without asking', { skip: unavailable ?? false }, async () => {
  const wrong = join(scratch, 'wrong_known_hosts');
  writeKnownHostsWithWrongKey(sshd, wrong);
  let asked = false;
  await assert.rejects(
    openAgentSession(
      sshOptions({
        knownHostsFile: wrong,
        confirmUnknownHostKey: async () => {
          asked = true;
          return true;
        },
      }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof AgentSessionError);
      assert.equal(error.kind, 'changed-host-key');
      assert.ok(error.message.includes(`${wrong} line 1`), error.message);
      assert.ok(error.message.includes(sshd.hostKeyFingerprint), error.message);
      return true;
    },
  );
  assert.equal(asked, false);
});

test('dropping the SSH connection rejects a pending request at once with the one reason', { skip: unavailable ?? false }, async () => {
  const session = await openAgentSession(sshOptions());
  try {
    const started = Date.now();
    const pending = session.client.request('compile', { files: [{ path: 'a.bpf.c', content: 'int x;\n' }], main: 'a.bpf.c' });
    sshd.dropConnections(); // before the request's bytes leave this process
    const reason = await session.closed;
    await assert.rejects(pending, (error: unknown) => error === reason);
    assert.match(reason.message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${sshd.port} lost: `));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    await assert.rejects(session.client.request('load', { objectId: 'x' }), (error: unknown) => error === reason);
  } finally {
    await session.dispose();
  }
});

test('a link that goes silent (no FIN, no RST: a pulled cable, a paused VM) fails the session and its pending request with one reason, noticed by keepalives', { skip: unavailable ?? false, timeout: 90_000 }, async (t) => {
  const relay = await startFreezableRelay(sshd.port);
  const knownHosts = join(scratch, 'relay_known_hosts');
  // The relay's [host]:port carries the sshd's own key.
  writeFileSync(knownHosts, readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `));
  const session = await openAgentSession({ ...sshOptions({ knownHostsFile: knownHosts }), target: { kind: 'ssh', host: sshd.host, port: relay.port, user: sshd.user } });
  try {
    relay.freeze();
    const silentSince = Date.now();
    const pending = session.client.request('compile', { files: [{ path: 'a.bpf.c', content: 'int x;\n' }], main: 'a.bpf.c' });
    const reason = await session.closed;
    t.diagnostic(`silent link noticed after ${Date.now() - silentSince} ms`);
    assert.equal(reason.message, `connection to root@127.0.0.1:${relay.port} lost: no answer from the host for 15 s (its keepalives went unanswered): the network or the host is down`);
    await assert.rejects(pending, (error: unknown) => error === reason);
    await assert.rejects(session.client.request('load', { objectId: 'x' }), (error: unknown) => error === reason);
  } finally {
    await session.dispose();
    relay.close();
  }
});

/** A TCP relay to 127.0.0.1:`port` whose freeze() stops it forwarding anything, without closing either side. */
async function startFreezableRelay(port: number): Promise<{ port: number; freeze(): void; close(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    sockets.push(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => {
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test('a command that ends at once keeps its exit status when its replies reach us in one chunk with the channel\'s opening', { skip: unavailable ?? false }, async () => {
  // A user whose login shell is /bin/sh (no rc files): its commands end within a millisecond.
  const user = 'ebpfstudio-quick';
  ensureLoginUser(user);
  const relay = await startCoalescingRelay(sshd.port, 100);
  const knownHosts = join(scratch, 'coalescing_known_hosts');
  writeFileSync(knownHosts, readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relay.port} `));
  const transport = await connectToTarget({ ...sshOptions({ knownHostsFile: knownHosts }), target: { kind: 'ssh', host: sshd.host, port: relay.port, user } });
  try {
    for (const code of [0, 3, 0]) {
      const result = await transport.run(`echo ${code}; exit ${code}`);
      assert.deepEqual(result, { exitCode: code, signal: null, stdout: `${code}\n`, stderr: '' });
    }
  } finally {
    await transport.dispose();
    relay.close();
  }
});

test('a local session (target local) starts the agent on this machine and says hello', async () => {
  const session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir, clientVersion: 'test' });
  try {
    assert.equal(session.description, 'local');
    assert.equal(session.hello.kernelRelease, kernelRelease);
  } finally {
    await session.dispose();
  }
});

test('the same sources are built once per target: the next session reuses the binary', async () => {
  const lines: string[] = [];
  const session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir, clientVersion: 'test', log: (line) => lines.push(line) });
  await session.dispose();
  assert.ok(lines.some((line) => /^Agent agent-[0-9a-f]{12}-[0-9a-f]{8} is already built on local\.$/.test(line)), lines.join('\n'));
});

test('a build failure names the packages the agent needs and quotes make', async () => {
  const broken = mkdtempSync(join(tmpdir(), 'broken-agent-'));
  writeFileSync(join(broken, 'Makefile'), `build/ebpf-agent: main.c\n\t$(CC) -o $@ main.c\n`);
  writeFileSync(join(broken, 'main.c'), `#include "no-such-header-${Date.now()}.h"\nint main(void) { return 0; }\n`);
  await assert.rejects(openAgentSession({ target: { kind: 'local' }, agentSourceDir: broken, clientVersion: 'test' }), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'agent-build');
    assert.match(error.message, /^Building the eBPF Studio agent on local failed \(make exited with status 2\)\./);
    assert.ok(error.message.includes('The agent needs: make gcc clang pkg-config libbpf-dev libelf-dev zlib1g-dev libjson-c-dev.'), error.message);
    assert.match(error.message, /no-such-header-\d+\.h/);
    return true;
  });
});
