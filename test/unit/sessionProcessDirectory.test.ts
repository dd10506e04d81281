/**
 * The session process's socket directory is the user's alone, or it is not used: a missing one is
 * created 0700; a link, a file, another user's directory or one open to others is refused with the
 * path and the fix. And the socket's name follows the build and the connection environment.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensurePrivateDirectory, sessionSocketPath } from '../../remote-agent/client/sessionProcessDirectory';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-session-dir-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const fix = 'it must be a directory of yours with mode 0700. Remove it (or chmod 700 it if it is yours) and try again.';

test('a missing directory is created with mode 0700', () => {
  const dir = path.join(scratch, 'new');
  ensurePrivateDirectory(dir);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
});

test('a directory group or others can reach is refused with its mode', () => {
  const dir = path.join(scratch, 'group-readable');
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chmodSync(dir, 0o750);
  assert.throws(() => ensurePrivateDirectory(dir), { message: `the session directory ${dir} has mode 0750, so other users can reach it; ${fix}` });
});

test('a symbolic link is refused, even to a private directory', () => {
  const target = path.join(scratch, 'private');
  fs.mkdirSync(target, { mode: 0o700 });
  const link = path.join(scratch, 'link');
  fs.symlinkSync(target, link);
  assert.throws(() => ensurePrivateDirectory(link), { message: `the session directory ${link} is a symbolic link; ${fix}` });
});

test('a file where the directory should be is refused', () => {
  const file = path.join(scratch, 'file');
  fs.writeFileSync(file, '');
  assert.throws(() => ensurePrivateDirectory(file), { message: `the session directory ${file} is not a directory; ${fix}` });
});

test("another user's directory is refused with its owner", { skip: process.getuid?.() === 0 || process.env['CI'] === 'true' ? false : 'only root can give a directory to another user' }, () => {
  const dir = path.join(scratch, 'nobodys');
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chownSync(dir, 65534, 65534);
  assert.throws(() => ensurePrivateDirectory(dir), { message: `the session directory ${dir} belongs to uid 65534, not to you (uid 0); ${fix}` });
});

test('the socket is named by the build and the environment the SSH connection reads', () => {
  const a = sessionSocketPath('/run/x', 'build-a');
  assert.match(a, /^\/run\/x\/s-[0-9a-f]{20}\.sock$/);
  assert.notEqual(sessionSocketPath('/run/x', 'build-b'), a);
  const saved = process.env['SSH_AUTH_SOCK'];
  process.env['SSH_AUTH_SOCK'] = '/tmp/another-agent.sock';
  try {
    assert.notEqual(sessionSocketPath('/run/x', 'build-a'), a);
  } finally {
    if (saved === undefined) delete process.env['SSH_AUTH_SOCK'];
    else process.env['SSH_AUTH_SOCK'] = saved;
  }
  assert.equal(sessionSocketPath('/run/x', 'build-a'), a);
});
