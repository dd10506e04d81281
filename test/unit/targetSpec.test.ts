/**
 * What users type as a target, and what it means: local, ssh URLs, user@host:port, ssh config
 * aliases, bracketed IPv6; bad input fails with a message that says what to write instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTarget, parseTarget } from '../../remote-agent/client/targetSpec';

test("'local' (any case, surrounding spaces) is this machine", () => {
  assert.deepEqual(parseTarget('local'), { kind: 'local' });
  assert.deepEqual(parseTarget('  LOCAL '), { kind: 'local' });
});

test('ssh:// URLs with and without user and port', () => {
  assert.deepEqual(parseTarget('ssh://root@vm1:2222'), { kind: 'ssh', host: 'vm1', user: 'root', port: 2222 });
  assert.deepEqual(parseTarget('ssh://vm1'), { kind: 'ssh', host: 'vm1' });
  assert.deepEqual(parseTarget('ssh://dev@10.0.0.5/'), { kind: 'ssh', host: '10.0.0.5', user: 'dev' });
});

test('plain user@host:port forms', () => {
  assert.deepEqual(parseTarget('root@127.0.0.1:2222'), { kind: 'ssh', host: '127.0.0.1', user: 'root', port: 2222 });
  assert.deepEqual(parseTarget('build-box.example.com:22'), { kind: 'ssh', host: 'build-box.example.com', port: 22 });
  assert.deepEqual(parseTarget('alice@bench'), { kind: 'ssh', host: 'bench', user: 'alice' });
});

test('an ssh config alias is a host with no user or port, resolved later from ~/.ssh/config', () => {
  assert.deepEqual(parseTarget('vm1'), { kind: 'ssh', host: 'vm1' });
});

test('IPv6 addresses in brackets, with an optional port; bare IPv6 without a port', () => {
  assert.deepEqual(parseTarget('[::1]:2222'), { kind: 'ssh', host: '::1', port: 2222 });
  assert.deepEqual(parseTarget('ssh://root@[fe80::1]'), { kind: 'ssh', host: 'fe80::1', user: 'root' });
  assert.deepEqual(parseTarget('fe80::1'), { kind: 'ssh', host: 'fe80::1' });
});

test('bad input throws a message naming the problem', () => {
  assert.throws(() => parseTarget(''), /The target is empty: give 'local'/);
  assert.throws(() => parseTarget('vm1:0'), /port 0, outside 1–65535/);
  assert.throws(() => parseTarget('vm1:70000'), /port 70000, outside 1–65535/);
  assert.throws(() => parseTarget('vm1:ssh'), /invalid port 'ssh'/);
  assert.throws(() => parseTarget('http://vm1'), /scheme 'http', but only ssh:\/\/ is supported/);
  assert.throws(() => parseTarget('ssh://vm1/home'), /has a path after the host/);
  assert.throws(() => parseTarget('[::1'), /never closes it/);
  assert.throws(() => parseTarget('[vm1]:22'), /'vm1' in brackets is not an IPv6 address/);
  assert.throws(() => parseTarget('fe80::zz:1'), /write IPv6 addresses in brackets/);
  assert.throws(() => parseTarget('-oProxyCommand=x'), /invalid host name '-oProxyCommand=x'/);
  assert.throws(() => parseTarget('-x@vm1'), /invalid user name '-x'/);
  assert.throws(() => parseTarget('root@'), /has no host name/);
  assert.throws(() => parseTarget('my host'), /invalid host name 'my host'/);
});

test('describeTarget prints what the spec holds, in the form parseTarget reads back', () => {
  assert.equal(describeTarget({ kind: 'local' }), 'local');
  assert.equal(describeTarget({ kind: 'ssh', host: 'vm1', user: 'root', port: 2222 }), 'root@vm1:2222');
  assert.equal(describeTarget({ kind: 'ssh', host: 'vm1' }), 'vm1');
  assert.equal(describeTarget({ kind: 'ssh', host: '::1', user: 'root', port: 22 }), 'root@[::1]:22');
  for (const text of ['root@vm1:2222', 'vm1', 'root@[::1]:22']) assert.equal(describeTarget(parseTarget(text)), text);
});

test('vm:NAME is a kernel VM started with ebpf-studio vm start; describeTarget gives it back', () => {
  assert.deepEqual(parseTarget('vm:6.1'), { kind: 'vm', name: '6.1' });
  assert.deepEqual(parseTarget(' vm:my-7.3 '), { kind: 'vm', name: 'my-7.3' });
  assert.equal(describeTarget(parseTarget('vm:6.12')), 'vm:6.12');
  assert.throws(() => parseTarget('vm:'), /does not name a kernel VM: write vm:NAME/);
  assert.throws(() => parseTarget('vm:../etc'), /does not name a kernel VM/);
});
