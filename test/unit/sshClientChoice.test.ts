/**
 * Which SSH client a target gets: the built-in one unless it uses certificates (ssh2 cannot), then
 * the user's OpenSSH, when there is one and 'auto' would not make it run a config's command.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKnownHosts } from '../../remote-agent/client/knownHosts';
import { chooseSshClient, type SshClientFacts } from '../../remote-agent/client/sshClientChoice';
import type { SshHostConfig } from '../../remote-agent/client/sshHostConfig';

const CA_KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdRt2lFt9j8yeslHWjsfg+dYvBV0D';
const config = (overrides: Partial<SshHostConfig> = {}): SshHostConfig => ({
  alias: 'vm1',
  hostName: 'vm1.lab',
  user: 'me',
  port: 22,
  identityFiles: ['/home/me/.ssh/id_ed25519'],
  identitiesOnly: false,
  certificateFiles: [],
  knownHostsFiles: ['/home/me/.ssh/known_hosts'],
  strictHostKeyChecking: 'ask',
  serverAliveIntervalMs: 0,
  serverAliveCountMax: 3,
  ...overrides,
});
const facts = (overrides: Partial<SshClientFacts> = {}): SshClientFacts => ({
  knownHosts: [{ path: '/home/me/.ssh/known_hosts', file: parseKnownHosts(`@cert-authority *.corp ssh-ed25519 ${CA_KEY}\n`) }],
  sshInstalled: true,
  sshCanMultiplex: true,
  configRunsCommands: false,
  ...overrides,
});

test('auto: no certificate and no CA for the host keeps the built-in client, silently', () => {
  assert.deepEqual(chooseSshClient('auto', config(), facts()), { client: 'builtin' });
});

test('auto: a certificate to log in with, or a @cert-authority line for the host, takes OpenSSH and says why', () => {
  assert.deepEqual(chooseSshClient('auto', config({ certificateFiles: ['/home/me/.ssh/id_ed25519-cert.pub'] }), facts()), {
    client: 'openssh',
    why: 'it logs in with the certificate /home/me/.ssh/id_ed25519-cert.pub',
  });
  assert.deepEqual(chooseSshClient('auto', config({ hostName: 'build.corp' }), facts()), {
    client: 'openssh',
    why: 'its host key is vouched for by a @cert-authority line in /home/me/.ssh/known_hosts',
  });
});

test('auto: without an ssh program, on Windows, or with a Match exec config, the built-in client stays and the log says the certificate is unused', () => {
  const certified = config({ certificateFiles: ['/c-cert.pub'] });
  const noSsh = chooseSshClient('auto', certified, facts({ sshInstalled: false }));
  assert.equal(noSsh.client, 'builtin');
  assert.match(noSsh.why!, /no ssh program is installed \(apt-get install openssh-client\): certificates are not used$/);
  const windows = chooseSshClient('auto', certified, facts({ sshCanMultiplex: false }));
  assert.equal(windows.client, 'builtin');
  assert.match(windows.why!, /the ssh of Windows cannot share one connection \(no ControlMaster\)/);
  const execConfig = chooseSshClient('auto', certified, facts({ configRunsCommands: true }));
  assert.equal(execConfig.client, 'builtin');
  assert.match(execConfig.why!, /'Match exec' block, which the OpenSSH client would run/);
});

test('the setting wins over the rule', () => {
  assert.deepEqual(chooseSshClient('builtin', config({ certificateFiles: ['/c-cert.pub'] }), facts()), { client: 'builtin' });
  assert.deepEqual(chooseSshClient('openssh', config(), facts({ configRunsCommands: true })), { client: 'openssh', why: 'ebpfStudio.sshClient is "openssh"' });
});
