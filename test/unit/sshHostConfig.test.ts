/**
 * The effective ssh config mapped to our connection options, from real `ssh -G` output captured in
 * test/fixtures/ssh-config/ (how it was made is in the config file there) and from directives as
 * our parser computes them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expandSshTokens, parseSshGOutput, sshHostConfigFromDirectives, type SshConfigContext } from '../../remote-agent/client/sshHostConfig';

const fixtures = join(import.meta.dirname, '../fixtures/ssh-config');
const captured = (name: string) => parseSshGOutput(readFileSync(join(fixtures, `${name}.ssh-G.txt`), 'utf8'));
const existing = new Set(['/root/.ssh/id_10.20.30.40_admin', '/root/.ssh/id_ed25519']);
const context = (alias: string): SshConfigContext => ({ alias, homeDir: '/root', localUser: 'root', fileExists: (path) => existing.has(path) });

test('ssh -G of a jump-host target: hops, tokens in IdentityFile, only existing keys, known_hosts, timeouts', () => {
  assert.deepEqual(sshHostConfigFromDirectives(captured('target'), context('target')), {
    alias: 'target',
    hostName: '10.20.30.40',
    user: 'admin',
    port: 2202,
    identityFiles: ['/root/.ssh/id_10.20.30.40_admin'],
    identitiesOnly: true,
    certificateFiles: [],
    proxyJump: ['ops@bastion.example.org:2222', 'inner'],
    knownHostsFiles: ['/root/.ssh/known_hosts_lab'],
    strictHostKeyChecking: 'accept-new',
    connectTimeoutMs: 7000,
    serverAliveIntervalMs: 10_000,
    serverAliveCountMax: 4,
  });
});

test('ssh -G of a ProxyCommand host: %h %p %r substituted, OpenSSH defaults for the rest', () => {
  assert.deepEqual(sshHostConfigFromDirectives(captured('piped'), context('piped')), {
    alias: 'piped',
    hostName: '192.168.7.7',
    user: 'deploy',
    port: 22,
    identityFiles: ['/root/.ssh/id_ed25519'],
    identitiesOnly: false,
    certificateFiles: [],
    proxyCommand: 'ssh -W 192.168.7.7:22 -l deploy gateway',
    knownHostsFiles: ['/root/.ssh/known_hosts', '/root/.ssh/known_hosts2'],
    strictHostKeyChecking: 'ask',
    serverAliveIntervalMs: 0,
    serverAliveCountMax: 3,
  });
});

test('ssh -G of a host the config does not name: itself, port 22, no proxy', () => {
  const plain = sshHostConfigFromDirectives(captured('plain'), context('plain'));
  assert.deepEqual([plain.hostName, plain.port, plain.proxyJump, plain.proxyCommand, plain.connectTimeoutMs], ['plain', 22, undefined, undefined, undefined]);
});

test('certificates: CertificateFile entries and the KEY-cert.pub beside an identity file, those that exist', () => {
  const files = new Set(['/root/.ssh/id_ed25519', '/root/.ssh/id_ed25519-cert.pub', '/root/.ssh/team-cert.pub']);
  const directives = new Map([
    ['identityfile', ['~/.ssh/id_ed25519', '~/.ssh/id_rsa']],
    ['certificatefile', ['~/.ssh/team-cert.pub', '~/.ssh/missing-cert.pub']],
  ]);
  const config = sshHostConfigFromDirectives(directives, { ...context('ca'), fileExists: (path) => files.has(path) });
  assert.deepEqual(config.certificateFiles, ['/root/.ssh/team-cert.pub', '/root/.ssh/id_ed25519-cert.pub']);
});

test('directives as our parser computes them: defaults filled in, HostName %h, ProxyJump none', () => {
  const directives = new Map([
    ['hostname', ['%h.lab']],
    ['proxyjump', ['none']],
    ['proxycommand', ['nc %h %p']],
  ]);
  const config = sshHostConfigFromDirectives(directives, context('n1'));
  assert.deepEqual([config.hostName, config.user, config.port, config.proxyJump, config.proxyCommand], ['n1.lab', 'root', 22, undefined, 'nc n1.lab 22']);
  assert.deepEqual(config.knownHostsFiles, ['/root/.ssh/known_hosts', '/root/.ssh/known_hosts2']);
});

test('bad values are errors naming the host and the directive', () => {
  assert.throws(() => sshHostConfigFromDirectives(new Map([['port', ['70000']]]), context('h')), /ssh config for h: Port '70000' is not a number from 1 to 65535/);
  assert.throws(() => sshHostConfigFromDirectives(new Map([['stricthostkeychecking', ['maybe']]]), context('h')), /StrictHostKeyChecking 'maybe'/);
  assert.throws(() => sshHostConfigFromDirectives(new Map([['proxyjump', ['a,,b']]]), context('h')), /ProxyJump 'a,,b' has an empty hop/);
});

test('tokens: %% is a percent sign, unknown tokens stay as written', () => {
  assert.equal(expandSshTokens('%h:%p %% %Z', { h: 'x', p: '22' }), 'x:22 % %Z');
});
