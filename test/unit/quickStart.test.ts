/**
 * The one-round-trip start (quickStart.ts), run by this machine's /bin/sh on scratch work
 * directories: an installed agent with the expected sha256 is exec'd after the preamble and its
 * own output reaches the caller byte for byte; a target without it answers with the preamble only,
 * so the caller deploys; a changed agent is refused, moved aside and never run; what a shell rc
 * file prints before the preamble does not confuse it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import type { AgentBinaries } from '../../remote-agent/client/deployAgent';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import { quickStart } from '../../remote-agent/client/quickStart';
import { AgentSessionError } from '../../remote-agent/client/sessionError';
import type { Transport } from '../../remote-agent/client/transport';

const scratch = mkdtempSync(join(tmpdir(), 'quick-start-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ARCH = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
/** A stand-in agent: one protocol-like line on stdout (split over two writes), one on stderr, and its stdin echoed. */
const AGENT_SCRIPT = '#!/bin/sh\nprintf \'{"first":\'\nprintf \'1}\\n\'\necho "agent stderr" >&2\nread line\necho "got $line"\n';
const HASH = createHash('sha256').update(AGENT_SCRIPT).digest('hex');
const BINARIES: AgentBinaries = new Map([[ARCH, { hash: HASH, content: Buffer.from(AGENT_SCRIPT) }]]);

/** A work directory with the agent installed as deployment leaves it (0700 directories). */
function installed(name: string, script = AGENT_SCRIPT): string {
  const cache = join(scratch, name);
  const agentDir = join(cache, `agent-${HASH.slice(0, 12)}`);
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  chmodSync(cache, 0o700);
  writeFileSync(join(agentDir, 'ebpf-agent'), script, { mode: 0o755 });
  return cache;
}

const options = (workDirectory: string) => ({ workDirectory, notRoot: 'sudo -n' as const, where: 'local', timeoutMs: 10_000 });

function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

test('an installed agent is verified and exec’d in the same command; the caller gets its stdout and stderr from their first byte', async () => {
  const cache = installed('good');
  const quick = await quickStart(new LocalTransport(), BINARIES, options(cache));
  assert.ok(quick, 'the agent was started');
  assert.deepEqual(
    { ...quick.deployed, privilege: quick.privilege, arch: quick.arch },
    {
      uid: process.getuid!(),
      userName: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
      cacheDir: cache,
      agentDir: join(cache, `agent-${HASH.slice(0, 12)}`),
      agentPath: join(cache, `agent-${HASH.slice(0, 12)}`, 'ebpf-agent'),
      sha256: HASH,
      origin: 'shipped',
      built: false,
      privilege: process.getuid!() === 0 ? 'root' : 'sudo -n',
      arch: ARCH,
    },
  );
  const stdout = readAll(quick.process.stdout);
  const stderr = readAll(quick.process.stderr);
  quick.process.stdin.end('hello\n');
  assert.equal(await stdout, '{"first":1}\ngot hello\n');
  assert.equal(await stderr, 'agent stderr\n');
  assert.equal((await quick.process.exited).exitCode, 0);
});

test('a target without the agent answers with the preamble only: the caller deploys, and nothing was created', async () => {
  const cache = join(scratch, 'empty', 'ebpf-studio');
  assert.equal(await quickStart(new LocalTransport(), BINARIES, options(cache)), undefined);
  assert.equal(existsSync(cache), false);
});

test('an architecture this client ships no agent for makes the caller deploy (and build from source)', async () => {
  const cache = installed('other-arch');
  const foreign: AgentBinaries = new Map([['riscv64', { hash: HASH, content: Buffer.from(AGENT_SCRIPT) }]]);
  assert.equal(await quickStart(new LocalTransport(), foreign, options(cache)), undefined);
});

test('a changed agent is not run: the start is refused as an integrity failure and its directory moved aside', async () => {
  const cache = installed('changed', '#!/bin/sh\necho "the tampered agent ran"\n');
  await assert.rejects(quickStart(new LocalTransport(), BINARIES, options(cache)), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'agent-integrity');
    assert.match(error.message, /was changed since it was installed .*so it was not run/);
    return true;
  });
  const left = readdirSync(cache);
  assert.equal(left.length, 1);
  assert.match(left[0]!, new RegExp(`^agent-${HASH.slice(0, 12)}\\.tampered-\\d{8}-\\d{6}$`));
});

test('what a shell rc file prints before the preamble is skipped', async () => {
  const cache = installed('chatty');
  const local = new LocalTransport();
  const chatty: Transport = { ...local, description: 'local', lost: local.lost, run: local.run.bind(local), writeFile: local.writeFile.bind(local), dispose: local.dispose.bind(local), spawn: (command) => local.spawn(`echo 'Welcome to the lab machine'; echo '(conda) base'; ${command}`) };
  const quick = await quickStart(chatty, BINARIES, options(cache));
  assert.ok(quick);
  assert.equal(quick.deployed.cacheDir, cache);
  const stdout = readAll(quick.process.stdout);
  quick.process.stdin.end('x\n');
  assert.equal(await stdout, '{"first":1}\ngot x\n');
});
