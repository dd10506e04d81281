/**
 * A deploy (the path taken when the quick start finds no agent of this version, as after an
 * update) clears the agents of other versions nobody started for UNUSED_AGENT_DAYS from the work
 * directory, run by this machine's /bin/sh: the one it uses, recently used ones, staging
 * directories (their own rule), tampered ones moved aside for the user, and anything not named
 * like an agent stay.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { deployAgent, UNUSED_AGENT_DAYS, type AgentBinaries } from '../../remote-agent/client/deployAgent';
import { knownAgentBuildsFile } from '../../remote-agent/client/knownAgentBuilds';
import { LocalTransport } from '../../remote-agent/client/localTransport';

const scratch = mkdtempSync(join(tmpdir(), 'agent-pruning-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ARCH = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
const AGENT = '#!/bin/sh\necho "ebpf-agent 9.9.9 (protocol 9)"\n';
const HASH = createHash('sha256').update(AGENT).digest('hex');
const BINARIES: AgentBinaries = new Map([[ARCH, { hash: HASH, content: Buffer.from(AGENT) }]]);
const DAY_MS = 24 * 60 * 60 * 1000;

/** An agent binary at `relative` under `cache`, last read `daysAgo` days ago, in private directories. */
function agentAt(cache: string, relative: string, daysAgo: number): void {
  const path = join(cache, relative);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, AGENT, { mode: 0o755 });
  const read = new Date(Date.now() - daysAgo * DAY_MS);
  utimesSync(path, read, new Date(Date.now() - 60 * DAY_MS));
}

test(`a deploy removes the agents of other versions unused for ${UNUSED_AGENT_DAYS} days and keeps its own, recent ones, staging and moved-aside directories`, async () => {
  const cache = join(scratch, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  chmodSync(cache, 0o700);
  const current = `agent-${HASH.slice(0, 12)}`;
  agentAt(cache, `${current}/ebpf-agent`, 90); // this version's: used now, however old its last use
  agentAt(cache, 'agent-aaaaaaaaaaaa/ebpf-agent', UNUSED_AGENT_DAYS + 10); // an old shipped version
  agentAt(cache, 'agent-bbbbbbbbbbbb/ebpf-agent', 2); // another client's version, in use
  agentAt(cache, 'agent-d5a886d0551a-0896f066/build/ebpf-agent', UNUSED_AGENT_DAYS + 1); // an old build from source
  agentAt(cache, 'agent-cccccccccccc.tmp-12345678/ebpf-agent', UNUSED_AGENT_DAYS + 10); // a staging directory, fresh
  agentAt(cache, 'agent-eeeeeeeeeeee.tampered-20261001T101010/ebpf-agent', UNUSED_AGENT_DAYS + 10); // kept for the user to inspect
  mkdirSync(join(cache, 'agent-dddddddddddd'), { mode: 0o700 }); // an agent directory whose binary is gone
  writeFileSync(join(cache, 'agent-notes'), 'not a directory');

  const logged: string[] = [];
  const deployed = await deployAgent(new LocalTransport(), { hash: 'f'.repeat(64), files: [] }, {
    binaries: BINARIES,
    workDirectory: cache,
    knownBuilds: knownAgentBuildsFile(join(scratch, 'known-agent-builds.json')),
    log: (line) => logged.push(line),
  });

  assert.equal(deployed.agentPath, join(cache, current, 'ebpf-agent'));
  assert.equal(deployed.built, false);
  assert.deepEqual(readdirSync(cache).sort(), [current, 'agent-bbbbbbbbbbbb', 'agent-cccccccccccc.tmp-12345678', 'agent-eeeeeeeeeeee.tampered-20261001T101010', 'agent-notes']);
  const removed = logged.filter((line) => line.startsWith('Removed '));
  assert.equal(removed.length, 1, logged.join('\n'));
  assert.match(removed[0]!, new RegExp(`^Removed 3 agent\\(s\\) of other versions unused for ${UNUSED_AGENT_DAYS} days from ${cache} on local: `));
  assert.deepEqual(removed[0]!.replace(/^.*: /, '').replace(/\.$/, '').split(', ').sort(), ['agent-aaaaaaaaaaaa', 'agent-d5a886d0551a-0896f066', 'agent-dddddddddddd']);
});

test('a deploy with nothing to remove says nothing about removing', async () => {
  const cache = join(scratch, 'clean');
  mkdirSync(cache, { mode: 0o700 });
  agentAt(cache, 'agent-bbbbbbbbbbbb/ebpf-agent', 0);
  const logged: string[] = [];
  await deployAgent(new LocalTransport(), { hash: 'f'.repeat(64), files: [] }, {
    binaries: BINARIES,
    workDirectory: cache,
    knownBuilds: knownAgentBuildsFile(join(scratch, 'known-agent-builds-clean.json')),
    log: (line) => logged.push(line),
  });
  assert.deepEqual(readdirSync(cache).sort(), [`agent-${HASH.slice(0, 12)}`, 'agent-bbbbbbbbbbbb']);
  assert.deepEqual(logged.filter((line) => line.startsWith('Removed ')), []);
});
