/**
 * The check that ends `npm test` (scripts/check-test-secrets.ts over test/support/secretScan.ts)
 * can fail: secrets planted in files under a directory are each found by file and line — in a
 * nested log, twice in one file, inside binary data — while symbolic links and FIFOs are not
 * followed and the messages never hold a secret's value.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { scanForSecrets } from '../support/secretScan';
import { TEST_SECRETS } from '../support/testSecrets';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'secret-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A run's leftovers: clean files, and secrets in three places. */
function plant(): string {
  const run = join(dir, `run-${Math.random().toString(16).slice(2)}`);
  mkdirSync(join(run, 'test-tmp', 'user-data', 'logs'), { recursive: true });
  writeFileSync(join(run, 'clean.log'), 'Connecting to root@127.0.0.1:2222…\nConnected.\n');
  writeFileSync(join(run, 'test-tmp', 'user-data', 'logs', 'exthost.log'), `line one\nline two\nsudo: answering with ${TEST_SECRETS.sudoPassword}\nline four ${TEST_SECRETS.sudoPassword}\n`);
  writeFileSync(join(run, 'test-tmp', 'state.vscdb'), Buffer.concat([Buffer.from([0, 1, 2, 10, 255]), Buffer.from(TEST_SECRETS.keyPassphrase), Buffer.from([0])]));
  // Not followed: a link to a file holding a secret, and a FIFO no one writes (reading it would hang).
  writeFileSync(join(dir, 'outside'), TEST_SECRETS.loginPassword);
  symlinkSync(join(dir, 'outside'), join(run, 'link-to-outside'));
  spawnSync('mkfifo', [join(run, 'test-tmp', 'fifo')]);
  return run;
}

test('every planted secret is found by file and line, by name; links and FIFOs are not followed', () => {
  const run = plant();
  const scan = scanForSecrets([run, join(run, 'missing')], TEST_SECRETS);
  assert.deepEqual(scan.findings, [
    { file: join(run, 'test-tmp', 'state.vscdb'), line: 2, secret: 'keyPassphrase' },
    { file: join(run, 'test-tmp', 'user-data', 'logs', 'exthost.log'), line: 3, secret: 'sudoPassword' },
    { file: join(run, 'test-tmp', 'user-data', 'logs', 'exthost.log'), line: 4, secret: 'sudoPassword' },
  ]);
  assert.equal(scan.filesRead, 3);
});

test('a directory without secrets passes', () => {
  const clean = join(dir, 'clean');
  mkdirSync(join(clean, 'nested'), { recursive: true });
  writeFileSync(join(clean, 'nested', 'log'), 'ebpfstudio-TEST-SECRET alone is a marker, not a secret\n');
  assert.deepEqual(scanForSecrets([clean], TEST_SECRETS), { findings: [], filesRead: 1, bytesRead: 55 });
});

test('scripts/check-test-secrets.ts exits 1 naming file, line and secret, and never prints a secret; 0 on a clean directory', () => {
  const run = plant();
  const check = (dirs: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/check-test-secrets.ts'), ...dirs], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const found = check([run]);
  // The check names files under the repository by their path in it.
  const shown = (path: string) => (path.startsWith(`${root}/`) ? relative(root, path) : path);
  assert.equal(found.status, 1, found.stderr);
  assert.deepEqual(found.stderr.trimEnd().split('\n'), [
    `check-test-secrets: ${shown(join(run, 'test-tmp', 'state.vscdb'))}:2: holds the test secret keyPassphrase (test/support/testSecrets.ts)`,
    `check-test-secrets: ${shown(join(run, 'test-tmp', 'user-data', 'logs', 'exthost.log'))}:3: holds the test secret sudoPassword (test/support/testSecrets.ts)`,
    `check-test-secrets: ${shown(join(run, 'test-tmp', 'user-data', 'logs', 'exthost.log'))}:4: holds the test secret sudoPassword (test/support/testSecrets.ts)`,
    `check-test-secrets: 3 test secret(s) found in 3 files (0.0 MB) under ${shown(run)}: a secret reached a log or file.`,
  ]);
  for (const value of Object.values(TEST_SECRETS)) assert.ok(!found.stderr.includes(value) && !found.stdout.includes(value));
  const cleanRun = join(dir, 'clean-run');
  mkdirSync(cleanRun);
  writeFileSync(join(cleanRun, 'log'), 'nothing to see\n');
  const clean = check([cleanRun]);
  assert.equal(clean.status, 0, clean.stderr);
  assert.match(clean.stdout, /^check-test-secrets: no test secret in 1 files \(0\.0 MB\) under /);
});
