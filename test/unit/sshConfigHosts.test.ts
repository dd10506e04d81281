/**
 * ~/.ssh/config as a target picker and the SSH transport see it: concrete Host aliases (no
 * wildcards or negations), Include files followed, and an alias resolved by OpenSSH (`ssh -G`) or,
 * without it or for a config with `Match exec`, by our parser, which never runs a command.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listSshConfigHosts, resolveSshHost, resolveSshHostWithParser } from '../../remote-agent/client/sshConfigHosts';

const dir = mkdtempSync(join(tmpdir(), 'ssh-config-'));
const config = join(dir, 'config');
const vmKey = join(dir, 'id_vm');
mkdirSync(join(dir, 'config.d'));
writeFileSync(vmKey, 'not read here\n');
writeFileSync(
  config,
  [
    'Host vm1 vm2',
    '  HostName 10.0.0.5',
    '  User root',
    '  Port 2222',
    `  IdentityFile ${dir}/id_%h`,
    `  IdentityFile ${dir}/missing_key`,
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

test('our parser resolves HostName, User, Port and IdentityFile (tokens expanded, only existing keys), explicit user and port winning', () => {
  const vm = resolveSshHostWithParser('vm1', { configFile: config });
  assert.deepEqual([vm.hostName, vm.user, vm.port, vm.identityFiles], ['10.0.0.5', 'root', 2222, []]);
  writeFileSync(join(dir, 'id_10.0.0.5'), 'not read here\n');
  assert.deepEqual(resolveSshHostWithParser('vm2', { configFile: config }).identityFiles, [join(dir, 'id_10.0.0.5')]);
  assert.equal(resolveSshHostWithParser('bench', { configFile: config }).hostName, 'bench.example.org');
  const lab = resolveSshHostWithParser('n1.lab', { configFile: config, port: 2022 });
  assert.deepEqual([lab.hostName, lab.user, lab.port], ['n1.lab', 'bob', 2022]);
  const other = resolveSshHostWithParser('elsewhere', { configFile: config, user: 'eve' });
  assert.deepEqual([other.hostName, other.user, other.port], ['elsewhere', 'eve', 22]);
});

const sshInstalled = existsSync('/usr/bin/ssh') ? false : 'no ssh client installed';

test('with an ssh client, an alias resolves as ssh -G resolves it, Match blocks included', { skip: sshInstalled }, async () => {
  const matched = join(dir, 'match-config');
  writeFileSync(matched, ['Match user ops', '  Port 2444', 'Host box', '  HostName 10.1.1.1', '  ProxyJump gate', ''].join('\n'));
  const box = await resolveSshHost('box', { configFile: matched, user: 'ops' });
  assert.deepEqual([box.hostName, box.user, box.port, box.proxyJump], ['10.1.1.1', 'ops', 2444, ['gate']]);
  const plain = await resolveSshHost('box', { configFile: join(dir, 'no-such-config') });
  assert.deepEqual([plain.hostName, plain.user, plain.port], ['box', userInfo().username, 22]);
});

test('resolving never runs a ProxyCommand: it only comes back, tokens substituted, for the connection to run', { skip: sshInstalled }, async () => {
  const marker = join(dir, 'proxy-command-ran');
  const piped = join(dir, 'proxy-config');
  writeFileSync(piped, ['Host box', '  HostName 10.3.3.3', `  ProxyCommand touch ${marker} %h %p`, ''].join('\n'));
  const box = await resolveSshHost('box', { configFile: piped });
  assert.equal(existsSync(marker), false);
  assert.equal(box.proxyCommand, `touch ${marker} 10.3.3.3 22`);
});

test('a config with Match exec is read by our parser: the command never runs', { skip: sshInstalled }, async () => {
  const marker = join(dir, 'match-exec-ran');
  const withExec = join(dir, 'exec-config');
  writeFileSync(withExec, [`Match exec "touch ${marker}"`, '  User hijacked', 'Host box', '  HostName 10.2.2.2', ''].join('\n'));
  const lines: string[] = [];
  const box = await resolveSshHost('box', { configFile: withExec, log: (line) => lines.push(line) });
  assert.equal(existsSync(marker), false);
  assert.deepEqual([box.hostName, box.user], ['10.2.2.2', userInfo().username]);
  assert.match(lines.join('\n'), /has a 'Match exec' block/);
});

test('a config ssh -G rejects is an error naming the alias and what ssh said', { skip: sshInstalled }, async () => {
  const broken = join(dir, 'broken-config');
  writeFileSync(broken, 'Host box\n  NoSuchOption yes\n');
  await assert.rejects(resolveSshHost('box', { configFile: broken }), /Cannot resolve box through your ssh config .*Bad configuration option: nosuchoption/);
});

test('with $HOME pointing away from the password database home, the config and known_hosts under $HOME are the ones used', { skip: sshInstalled }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'ssh-home-'));
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh', 'config'), ['Host sandboxed', '  HostName 10.9.8.7', '  Port 2299', ''].join('\n'));
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    const host = await resolveSshHost('sandboxed');
    assert.deepEqual([host.hostName, host.port], ['10.9.8.7', 2299]);
    // Host keys are checked against, and recorded in, $HOME's known_hosts (ssh -G names the other home's).
    assert.equal(host.knownHostsFiles[0], join(home, '.ssh', 'known_hosts'));
  } finally {
    process.env.HOME = saved;
  }
});
