/**
 * known_hosts as OpenSSH reads it: plain and hashed names, [host]:port, wildcards and negation,
 * @revoked, a changed key, fingerprints. The keys and hashed lines below were made with ssh-keygen
 * (`ssh-keygen -t ed25519`, `ssh-keygen -H`, `ssh-keygen -lf`), so they are OpenSSH's own output.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  appendKnownHost,
  checkHostKey,
  decideHostKey,
  hasCertAuthorityFor,
  hostKeyType,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHostsFile,
  sha256Fingerprint,
} from '../../remote-agent/client/knownHosts';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIHlHn/4fnaJgWpXhya30rBEfuocIorLqXpe9/BohxEyB';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAILOEwoTb3uPp40RGdlhKbkZ5OQC6BcT4cklPRchJiXEt';
const KEY_C_ECDSA =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNWofrfI55gjcyVhze17dzrTB1XP78yHYzTLlaIr4HsWY7esX8Ueg6uY31mOYX930+7rZzdBuPCtOV6TVNixzqA=';
const keyA = Buffer.from(KEY_A, 'base64');
const keyB = Buffer.from(KEY_B, 'base64');
const keyC = Buffer.from(KEY_C_ECDSA, 'base64');

test('the SHA256 fingerprint is the one `ssh-keygen -lf` prints', () => {
  assert.equal(sha256Fingerprint(keyA), 'SHA256:xwA7NGJuyRyozPIXSDL5J6ELc9EbY8eeoSVwHa0jepg');
  assert.equal(hostKeyType(keyA), 'ssh-ed25519');
  assert.equal(hostKeyType(keyC), 'ecdsa-sha2-nistp256');
});

test('a plain entry on port 22 matches by name, case-insensitively, in a comma list', () => {
  const file = parseKnownHosts(`# my hosts\n\nvm1.example,192.0.2.7 ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(checkHostKey(file, 'vm1.example', 22, keyA), { status: 'known', line: 3 });
  assert.deepEqual(checkHostKey(file, '192.0.2.7', 22, keyA), { status: 'known', line: 3 });
  assert.deepEqual(checkHostKey(file, 'VM1.Example', 22, keyA), { status: 'known', line: 3 });
  assert.deepEqual(checkHostKey(file, 'vm2.example', 22, keyA), { status: 'unknown' });
});

test('a non-22 port is looked up only as [host]:port', () => {
  const file = parseKnownHosts(`[127.0.0.1]:2222 ssh-ed25519 ${KEY_A}\nvm1 ssh-ed25519 ${KEY_B}\n`);
  assert.deepEqual(checkHostKey(file, '127.0.0.1', 2222, keyA), { status: 'known', line: 1 });
  assert.deepEqual(checkHostKey(file, '127.0.0.1', 22, keyA), { status: 'unknown' });
  assert.deepEqual(checkHostKey(file, 'vm1', 2200, keyB), { status: 'unknown' });
});

test('hashed names written by `ssh-keygen -H` match their host and port and nothing else', () => {
  const file = parseKnownHosts(
    `|1|yA3HIlCBSzEfdlPHjU6vZXLWseE=|AbXXjap+CgSV5JOMjhy6tb/s9EY= ssh-ed25519 ${KEY_A}\n` +
      `|1|LS6iq46Y6d1yZKZMdZTn3ksYSMQ=|lSPmr+Za7Druz4OzwxQBhKKTMaw= ssh-ed25519 ${KEY_A}\n`,
  );
  assert.deepEqual(checkHostKey(file, 'vm1.example', 2222, keyA), { status: 'known', line: 1 });
  assert.deepEqual(checkHostKey(file, 'vm2.example', 22, keyA), { status: 'known', line: 2 });
  assert.deepEqual(checkHostKey(file, 'vm1.example', 22, keyA), { status: 'unknown' });
  assert.deepEqual(checkHostKey(file, 'vm2.example', 22, keyB), { status: 'changed', line: 2, knownKeyType: 'ssh-ed25519' });
});

test('wildcards match and a negated pattern excludes a host', () => {
  const file = parseKnownHosts(`*.lab.example,!bad.lab.example ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(checkHostKey(file, 'n1.lab.example', 22, keyA), { status: 'known', line: 1 });
  assert.deepEqual(checkHostKey(file, 'bad.lab.example', 22, keyA), { status: 'unknown' });
  assert.deepEqual(checkHostKey(parseKnownHosts(`vm? ssh-ed25519 ${KEY_A}\n`), 'vm7', 22, keyA), { status: 'known', line: 1 });
});

test('a known host presenting another key is changed, naming the line of the key it should have', () => {
  const file = parseKnownHosts(`other ssh-ed25519 ${KEY_B}\nvm1 ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(checkHostKey(file, 'vm1', 22, keyB), { status: 'changed', line: 2, knownKeyType: 'ssh-ed25519' });
  // Known only with an ed25519 key, now presenting ECDSA: still not the host we know.
  assert.deepEqual(checkHostKey(file, 'vm1', 22, keyC), { status: 'changed', line: 2, knownKeyType: 'ssh-ed25519' });
});

test('a key listed as @revoked is refused even where another line trusts it', () => {
  const file = parseKnownHosts(`vm1 ssh-ed25519 ${KEY_A}\n@revoked * ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(checkHostKey(file, 'vm1', 22, keyA), { status: 'revoked', line: 2 });
});

test('@cert-authority lines never trust a key themselves, and malformed lines are reported, not trusted', () => {
  const file = parseKnownHosts(
    `@cert-authority *.example ssh-ed25519 ${KEY_A}\nvm1 ssh-ed25519\nvm2 ssh-rsa ${KEY_A}\n@weird vm3 ssh-ed25519 ${KEY_A}\n`,
  );
  assert.deepEqual(
    file.entries.map((entry) => [entry.line, entry.marker, entry.hosts]),
    [[1, 'cert-authority', '*.example']],
  );
  assert.deepEqual(file.invalid, [
    { line: 2, reason: 'expected: hosts key-type base64-key' },
    { line: 3, reason: "key type ssh-rsa does not match the key's own type ssh-ed25519" },
    { line: 4, reason: 'unknown marker @weird' },
  ]);
  assert.deepEqual(checkHostKey(file, 'a.example', 22, keyA), { status: 'unknown' });
  assert.deepEqual(knownKeyTypes(file, 'a.example', 22), []);
});

test('hasCertAuthorityFor tells which hosts a @cert-authority line covers, port included', () => {
  const file = parseKnownHosts(`@cert-authority *.example,[10.0.0.*]:2222 ssh-ed25519 ${KEY_A}\nvm1 ssh-ed25519 ${KEY_B}\n`);
  assert.equal(hasCertAuthorityFor(file, 'a.example', 22), true);
  assert.equal(hasCertAuthorityFor(file, '10.0.0.7', 2222), true);
  assert.equal(hasCertAuthorityFor(file, '10.0.0.7', 22), false);
  assert.equal(hasCertAuthorityFor(file, 'vm1', 22), false);
});

test('knownKeyTypes lists the types recorded for a host, for host key negotiation', () => {
  const file = parseKnownHosts(`[vm1]:2222 ecdsa-sha2-nistp256 ${KEY_C_ECDSA}\n[vm1]:2222 ssh-ed25519 ${KEY_A}\nvm1 ssh-ed25519 ${KEY_B}\n`);
  assert.deepEqual(knownKeyTypes(file, 'vm1', 2222), ['ecdsa-sha2-nistp256', 'ssh-ed25519']);
  assert.deepEqual(knownKeyTypes(file, 'vm9', 22), []);
});

test('appendKnownHost adds an OpenSSH line that the next check finds, fixing a missing final newline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'known-hosts-'));
  const path = join(dir, 'ssh', 'known_hosts');
  appendKnownHost(path, '127.0.0.1', 2222, keyA);
  assert.equal(readFileSync(path, 'utf8'), `[127.0.0.1]:2222 ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(checkHostKey(readKnownHostsFile(path), '127.0.0.1', 2222, keyA), { status: 'known', line: 1 });

  const unterminated = join(dir, 'kh2');
  writeFileSync(unterminated, `vm1 ssh-ed25519 ${KEY_B}`);
  appendKnownHost(unterminated, 'vm2', 22, keyA);
  assert.equal(readFileSync(unterminated, 'utf8'), `vm1 ssh-ed25519 ${KEY_B}\nvm2 ssh-ed25519 ${KEY_A}\n`);
  assert.deepEqual(readKnownHostsFile(join(dir, 'missing')), { entries: [], invalid: [] });
});

/** A known_hosts file in a fresh directory, holding `text`. */
function knownHostsWith(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'known-hosts-')), 'known_hosts');
  writeFileSync(file, text);
  return file;
}

const vm1 = { host: 'vm1.example', port: 2222, user: 'root', description: 'root@vm1.example:2222' };

test('a known key lets the connection go on without asking anyone', async () => {
  const knownHostsFile = knownHostsWith(`[vm1.example]:2222 ssh-ed25519 ${KEY_A}\n`);
  let asked = false;
  const decision = await decideHostKey({ ...vm1, key: keyA, knownHostsFile, confirmUnknownHostKey: async () => ((asked = true), true) });
  assert.equal(decision, null);
  assert.equal(asked, false);
});

test('later UserKnownHostsFile files are checked too: a key known there is trusted, one revoked there refused, naming that file', async () => {
  const knownHostsFile = knownHostsWith('');
  const second = knownHostsWith(`[vm1.example]:2222 ssh-ed25519 ${KEY_A}\n`);
  assert.equal(await decideHostKey({ ...vm1, key: keyA, knownHostsFile, otherKnownHostsFiles: [second] }), null);
  const revoking = knownHostsWith(`@revoked * ssh-ed25519 ${KEY_A}\n`);
  const decision = await decideHostKey({ ...vm1, key: keyA, knownHostsFile: second, otherKnownHostsFiles: [revoking] });
  assert.equal(decision?.kind, 'changed-host-key');
  assert.match(decision!.message, new RegExp(`is marked @revoked in ${revoking} line 1`));
  const changed = await decideHostKey({ ...vm1, key: keyB, knownHostsFile, otherKnownHostsFiles: [second] });
  assert.match(changed!.message, new RegExp(`but ${second} line 1 holds a different ssh-ed25519 key`));
});

test('a changed key is refused with the line that holds the old key and the ssh-keygen -R way out, never asked', async () => {
  const knownHostsFile = knownHostsWith(`[vm1.example]:2222 ssh-ed25519 ${KEY_A}\n`);
  const decision = await decideHostKey({ ...vm1, key: keyB, knownHostsFile, confirmUnknownHostKey: async () => true });
  assert.equal(decision?.kind, 'changed-host-key');
  assert.equal(
    decision?.message,
    `The host key of root@vm1.example:2222 has changed: it now presents ssh-ed25519 ${sha256Fingerprint(keyB)}, but ${knownHostsFile} line 1 ` +
      `holds a different ssh-ed25519 key for [vm1.example]:2222. Someone may be intercepting the connection, or the host was reinstalled. ` +
      `If you know the key changed legitimately, remove the old entry (ssh-keygen -R '[vm1.example]:2222' -f ${knownHostsFile}) and connect again.`,
  );
});

test('an unknown key without anyone to ask is refused with its fingerprint and the ssh-keyscan line', async () => {
  const knownHostsFile = knownHostsWith('');
  const decision = await decideHostKey({ ...vm1, key: keyA, knownHostsFile });
  assert.equal(decision?.kind, 'unknown-host-key');
  assert.ok(decision?.message.includes('ssh-ed25519 SHA256:xwA7NGJuyRyozPIXSDL5J6ELc9EbY8eeoSVwHa0jepg'), decision?.message);
  assert.ok(decision?.message.includes(`'ssh-keyscan -p 2222 vm1.example >> ${knownHostsFile}'`), decision?.message);
  assert.equal(readFileSync(knownHostsFile, 'utf8'), '');
});

test('an unknown key the person trusts is recorded, so the next connection knows it', async () => {
  const knownHostsFile = knownHostsWith('');
  const asked: string[] = [];
  const logged: string[] = [];
  const decision = await decideHostKey({
    ...vm1,
    key: keyA,
    knownHostsFile,
    confirmUnknownHostKey: async (info) => (asked.push(info.fingerprint), true),
    log: (line) => logged.push(line),
  });
  assert.equal(decision, null);
  assert.deepEqual(asked, ['SHA256:xwA7NGJuyRyozPIXSDL5J6ELc9EbY8eeoSVwHa0jepg']);
  assert.deepEqual(checkHostKey(readKnownHostsFile(knownHostsFile), 'vm1.example', 2222, keyA), { status: 'known', line: 1 });
  assert.deepEqual(logged, [`Added [vm1.example]:2222 ssh-ed25519 SHA256:xwA7NGJuyRyozPIXSDL5J6ELc9EbY8eeoSVwHa0jepg to ${knownHostsFile}.`]);
});

test('an unknown key the person declines is refused and nothing is recorded', async () => {
  const knownHostsFile = knownHostsWith('');
  const decision = await decideHostKey({ ...vm1, key: keyA, knownHostsFile, confirmUnknownHostKey: async () => false });
  assert.equal(decision?.kind, 'unknown-host-key');
  assert.equal(readFileSync(knownHostsFile, 'utf8'), '');
});
