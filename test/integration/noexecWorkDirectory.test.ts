/**
 * A work directory on a filesystem mounted noexec (a hardened /home, /tmp or /var/tmp) can hold the
 * agent but never run it. The session fails at once with the mount and the setting that fixes it —
 * not after a build from source that could not run either, and not with "make wrote no binary" —
 * whether the agent is the shipped one or built there. A tmpfs mounted noexec on this machine
 * stands in for the target's filesystem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { LocalTransport } from '../../remote-agent/client/localTransport';

const root = path.join(__dirname, '..', '..');
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'noexec-work-'));

before(() => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'noexec,mode=0700,size=64m', 'tmpfs', mountPoint]);
});

after(() => {
  execFileSync('umount', [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

async function startFailure(workDirectory: string, shipped: boolean): Promise<{ error: AgentSessionError; logged: string[] }> {
  const logged: string[] = [];
  try {
    const session = await openAgentSession({
      target: { kind: 'local' },
      transport: new LocalTransport(),
      workDirectory,
      agentSourceDir: path.join(root, 'remote-agent/agent'),
      ...(shipped && { agentBinaryDir: path.join(root, 'out/agent-bin') }),
      clientVersion: 'test',
      log: (line) => logged.push(line),
    });
    await session.dispose();
  } catch (error) {
    assert.ok(error instanceof AgentSessionError, String(error));
    return { error, logged };
  }
  assert.fail('the agent started from a noexec filesystem');
}

const fix =
  'Give this target a "workDirectory" on a filesystem that allows running programs (a named target in ebpfStudio.targets or .ebpf-studio/targets.json), ' +
  'e.g. a directory of yours under /var/lib or /opt.';

test('the shipped agent in a noexec work directory: the mount and the fix are named, and nothing is built from source', async () => {
  const workDirectory = path.join(mountPoint, 'shipped');
  const { error, logged } = await startFailure(workDirectory, true);
  assert.equal(error.kind, 'agent-start');
  assert.equal(error.message, `The agent cannot run from ${workDirectory} on local: ${mountPoint} is mounted noexec. ${fix}`);
  assert.deepEqual(logged.filter((line) => line.includes('from source')), []);
  // The upload's staging directory went with the failure.
  assert.deepEqual(fs.readdirSync(workDirectory), []);
});

test('an agent built from source in a noexec work directory: the same error, not "make wrote no binary"', async () => {
  const workDirectory = path.join(mountPoint, 'built');
  const { error } = await startFailure(workDirectory, false);
  assert.equal(error.kind, 'agent-start');
  assert.equal(error.message, `The agent cannot run from ${workDirectory} on local: ${mountPoint} is mounted noexec. ${fix}`);
});
