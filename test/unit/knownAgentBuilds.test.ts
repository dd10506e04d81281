/**
 * The client-side records of agents built from source (knownAgentBuilds.ts), in a scratch file:
 * looked up by target and sources, listed per sources with the newest record last (re-recording
 * a target moves it there), private to the user, and a damaged file records nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { knownAgentBuildsFile, MAX_RECORDED_BUILDS } from '../../remote-agent/client/knownAgentBuilds';

const scratch = mkdtempSync(join(tmpdir(), 'known-agent-builds-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const SOURCES = 'a'.repeat(64);
const OTHER_SOURCES = 'b'.repeat(64);
const build = (n: number) => ({ dirName: `agent-${'a'.repeat(12)}-0000000${n}`, sha256: String(n).repeat(64) });

test('a build is found by its target and sources, and listed among the builds of its sources, newest last', () => {
  const file = join(scratch, 'records.json');
  const records = knownAgentBuildsFile(file);
  records.record('root@vm1:22', SOURCES, build(1));
  records.record('root@vm2:22', SOURCES, build(2));
  records.record('root@vm3:22', OTHER_SOURCES, build(3));
  assert.deepEqual(records.lookup('root@vm2:22', SOURCES), build(2));
  assert.equal(records.lookup('root@vm2:22', OTHER_SOURCES), undefined);
  assert.deepEqual(records.buildsOf(SOURCES), [build(1), build(2)]);

  records.record('root@vm1:22', SOURCES, build(4));
  assert.deepEqual(records.buildsOf(SOURCES), [build(2), build(4)], 'the target recorded again is the newest');
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('a damaged file records nothing, and the next record rewrites it', () => {
  const file = join(scratch, 'damaged.json');
  writeFileSync(file, '{"root@vm1:22 aaaa": {"dirName": "agent-');
  const records = knownAgentBuildsFile(file);
  assert.deepEqual(records.buildsOf(SOURCES), []);
  records.record('root@vm1:22', SOURCES, build(1));
  assert.deepEqual(records.buildsOf(SOURCES), [build(1)]);
});

test('a record whose directory name could not be a build directory is ignored', () => {
  const file = join(scratch, 'forged.json');
  writeFileSync(file, JSON.stringify({ [`root@vm1:22 ${SOURCES}`]: { dirName: 'agent-x; rm -rf ~', sha256: '1'.repeat(64) } }));
  assert.deepEqual(knownAgentBuildsFile(file).buildsOf(SOURCES), []);
});

test(`only the newest ${MAX_RECORDED_BUILDS} records are kept; the oldest go first`, () => {
  const builds = knownAgentBuildsFile(join(scratch, 'capped.json'));
  for (let n = 0; n < MAX_RECORDED_BUILDS + 2; n++) builds.record(`host-${n}`, SOURCES, build(n % 10));
  assert.equal(builds.lookup('host-0', SOURCES), undefined);
  assert.equal(builds.lookup('host-1', SOURCES), undefined);
  assert.deepEqual(builds.lookup('host-2', SOURCES), build(2));
  assert.deepEqual(builds.lookup(`host-${MAX_RECORDED_BUILDS + 1}`, SOURCES), build((MAX_RECORDED_BUILDS + 1) % 10));
  assert.equal(builds.buildsOf(SOURCES).length, MAX_RECORDED_BUILDS);
});
