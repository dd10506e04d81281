/**
 * An agent that dies before answering 'hello' is reported with its own last words: what it wrote
 * on stderr, even when those bytes reach the client after its exit status (over SSH, stderr and
 * the exit arrive on one channel in order, but Node hands them out through separate streams, and
 * the quick start adds a hop; CI run 17 of 11-30 once read "It wrote nothing on stderr" for a sudo
 * that had said "a password is required"). A stderr that never ends does not hold the error back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import type { RunningProcess, Transport } from '../../remote-agent/client/transport';

const root = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'agent-start-failure-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ARCH = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();

/**
 * A shipped "agent" that complains on stderr and exits 1 before reading anything, already
 * installed in a work directory as deployment leaves it, so the quick start execs it at once.
 */
function installedFailingAgent(name: string, stderrLine: string): { agentBinaryDir: string; workDirectory: string } {
  const script = `#!/bin/sh\necho '${stderrLine}' >&2\nexit 1\n`;
  const agentBinaryDir = join(scratch, name, 'agent-bin');
  mkdirSync(join(agentBinaryDir, ARCH), { recursive: true });
  writeFileSync(join(agentBinaryDir, ARCH, 'ebpf-agent'), script, { mode: 0o755 });
  const workDirectory = join(scratch, name, 'work');
  const agentDir = join(workDirectory, `agent-${createHash('sha256').update(script).digest('hex').slice(0, 12)}`);
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  chmodSync(workDirectory, 0o700);
  writeFileSync(join(agentDir, 'ebpf-agent'), script, { mode: 0o755 });
  return { agentBinaryDir, workDirectory };
}

/**
 * This machine, except that every started process's stderr reaches the client `lagMs` after the
 * process wrote it (its end too, unless `neverEnds`), while its exit is known at once.
 */
class LaggingStderrTransport extends LocalTransport {
  constructor(
    private readonly lagMs: number,
    private readonly neverEnds = false,
  ) {
    super();
  }

  override async spawn(command: string): Promise<RunningProcess> {
    const real = await super.spawn(command);
    const stderr = new PassThrough();
    real.stderr.on('data', (chunk: Buffer) => setTimeout(() => stderr.write(chunk), this.lagMs));
    if (!this.neverEnds) real.stderr.on('end', () => setTimeout(() => stderr.end(), this.lagMs));
    return { stdin: real.stdin, stdout: real.stdout, stderr, exited: real.exited, kill: () => real.kill() };
  }
}

async function startFailure(transport: Transport, agent: { agentBinaryDir: string; workDirectory: string }): Promise<AgentSessionError> {
  try {
    await openAgentSession({ target: { kind: 'local' }, transport, ...agent, agentSourceDir: join(root, 'remote-agent/agent'), clientVersion: 'test' });
  } catch (error) {
    assert.ok(error instanceof AgentSessionError, String(error));
    return error;
  }
  assert.fail('the failing agent started');
}

test('stderr that reaches the client after the exit status is still quoted in the start failure', async () => {
  const error = await startFailure(new LaggingStderrTransport(300), installedFailingAgent('late', 'cannot open /sys/fs/bpf: Permission denied'));
  assert.equal(error.kind, 'agent-start');
  assert.match(error.message, /exited with status 1 before answering 'hello'\. Its stderr ended with:\ncannot open \/sys\/fs\/bpf: Permission denied$/);
});

test('a stderr that never ends does not hold the start failure back for more than a moment', async () => {
  const started = Date.now();
  const error = await startFailure(new LaggingStderrTransport(0, true), installedFailingAgent('endless', 'still talking'));
  assert.equal(error.kind, 'agent-start');
  assert.match(error.message, /Its stderr ended with:\nstill talking$/);
  // It waits at most the stop grace (2 s) for the end of stderr.
  assert.ok(Date.now() - started < 5_000);
});
