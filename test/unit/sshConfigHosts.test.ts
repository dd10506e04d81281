/**
 * ~/.ssh/config as a target picker and the SSH transport see it: concrete Host aliases (no
 * wildcards or negations), Include files followed, and an alias resolved to HostName/User/Port/IdentityFile.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listSshConfigHosts, resolveSshHost } from '../../remote-agent/client/sshConfigHosts';

const dir = mkdtempSync(join(tmpdir(), 'ssh-config-'));
const config = join(dir, 'config');
mkdirSync(join(dir, 'config.d'));
writeFileSync(
  config,
  [
    'Host vm1 vm2',
    '  HostName 10.0.0.5',
    '  User root',
    '  Port 2222',
    '  IdentityFile ~/.ssh/id_vm',
    'Host *.lab !gateway.lab',
    '  User bob',
    `Include ${join(dir, 'config.d')}/*.conf`,
    '',
  ].join('\n'),
);
writeFileSync(join(dir, 'config.d', 'bench.conf'), 'Host bench\n  HostName %h.example.org\n');

test('lists the concrete aliases, including those of Include files, and no patterns', () => {
  assert.deepEqual(listSshConfigHosts(config), ['vm1', 'vm2', 'bench']);
});

test('a missing config file has no aliases', () => {
  assert.deepEqual(listSshConfigHosts(join(dir, 'missing')), []);
});

test('an alias resolves to its HostName, User, Port and IdentityFile (with ~ and %h expanded)', () => {
  assert.deepEqual(resolveSshHost('vm2', config), { hostName: '10.0.0.5', user: 'root', port: 2222, identityFiles: [join(homedir(), '.ssh/id_vm')] });
  assert.deepEqual(resolveSshHost('bench', config), { hostName: 'bench.example.org', identityFiles: [] });
  assert.deepEqual(resolveSshHost('n1.lab', config), { hostName: 'n1.lab', user: 'bob', identityFiles: [] });
  assert.deepEqual(resolveSshHost('elsewhere', config), { hostName: 'elsewhere', identityFiles: [] });
});
