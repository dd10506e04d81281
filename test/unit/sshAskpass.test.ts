/**
 * OpenSSH's askpass prompts as our prompts understand them. The texts are what OpenSSH 9.2p1 gave
 * its SSH_ASKPASS program against a private sshd (argv[1] and SSH_ASKPASS_PROMPT, captured with a
 * script that wrote them down).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyAskpassPrompt } from '../../remote-agent/client/sshAskpass';

test('the unknown host key question: host and port from [host]:port, the key type by its wire name, the SHA256 fingerprint', () => {
  const prompt = [
    "The authenticity of host '[127.0.0.1]:42047 ([127.0.0.1]:42047)' can't be established.",
    'ED25519 key fingerprint is SHA256:Neyo1Bn55507ltfWh5k7pe7DfBCwwfgrIzmhwVJzlj4.',
    'This key is not known by any other names.',
    'Are you sure you want to continue connecting (yes/no/[fingerprint])? ',
  ].join('\n');
  assert.deepEqual(classifyAskpassPrompt(prompt, ''), {
    kind: 'host-key',
    host: '127.0.0.1',
    port: 42047,
    keyType: 'ssh-ed25519',
    fingerprint: 'SHA256:Neyo1Bn55507ltfWh5k7pe7DfBCwwfgrIzmhwVJzlj4',
  });
});

test('a host on port 22 is named without brackets', () => {
  const prompt =
    "The authenticity of host 'vm1.lab (10.0.0.5)' can't be established.\r\nRSA key fingerprint is SHA256:abc+/def.\r\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ";
  assert.deepEqual(classifyAskpassPrompt(prompt, ''), { kind: 'host-key', host: 'vm1.lab', port: 22, keyType: 'ssh-rsa', fingerprint: 'SHA256:abc+/def' });
});

test("a key's passphrase names the key file; a password prompt is a password", () => {
  assert.deepEqual(classifyAskpassPrompt("Enter passphrase for key '/home/me/.ssh/id_ed25519': ", ''), { kind: 'key-passphrase', keyFile: '/home/me/.ssh/id_ed25519' });
  assert.deepEqual(classifyAskpassPrompt("ebpfstudio-login@127.0.0.1's password: ", ''), { kind: 'password' });
});

test("anything else is the server's own question, shown as asked; a notice needs no answer", () => {
  assert.deepEqual(classifyAskpassPrompt('(me@vm1) Verification code: ', ''), { kind: 'keyboard-interactive', prompt: '(me@vm1) Verification code:', echo: false });
  assert.deepEqual(classifyAskpassPrompt('Allow use of key /k?', 'confirm'), { kind: 'keyboard-interactive', prompt: 'Allow use of key /k?', echo: true });
  assert.deepEqual(classifyAskpassPrompt('Confirm user presence for key ED25519-SK SHA256:x\n', 'none'), { kind: 'notice', text: 'Confirm user presence for key ED25519-SK SHA256:x' });
});
