/**
 * `ebpf-studio lsp --target ssh://…` for editors other than VS Code: the server process connects to
 * the target as `check` does, fetches that kernel's BTF once (cached by btfId), and completes kernel
 * struct fields from it. A target it cannot reach is said in the client's log, and the server keeps
 * answering from this machine's kernel.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompletionRequest } from 'vscode-languageserver-protocol/node';
import { startSshd, type PrivateSshd } from '../support/sshd';
import { itemsOf, positionAfter, root, startLanguageServer, type LanguageServerSession } from '../unit/languageServerSession';

let sshd: PrivateSshd;
let scratch: string;
const servers: LanguageServerSession[] = [];

before(async () => {
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-lsp-target-'));
});

after(async () => {
  for (const server of servers) server.kill();
  await sshd?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tp_btf/sched_switch")
int on_switch(u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return task->;
}
char LICENSE[] SEC("license") = "GPL";
`;

function lspOverSsh(knownHosts: string, cacheHome: string): Promise<LanguageServerSession> {
  return startLanguageServer({
    nodeArguments: [
      '--import', 'tsx', path.join(root, 'cli/main.ts'), 'lsp', '--stdio',
      '--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, '--identity', sshd.identityFile, '--known-hosts', knownHosts,
    ],
    env: { ...process.env, XDG_CACHE_HOME: cacheHome },
  }).then((server) => (servers.push(server), server));
}

test('lsp --target fetches the target kernel\'s BTF once, caches it by btfId, and completes its struct fields', async () => {
  const cacheHome = path.join(scratch, 'cache');
  const server = await lspOverSsh(sshd.knownHostsFile, cacheHome);
  const described = await server.logged(/^eBPF Studio: now describes root@127\.0\.0\.1:\d+ /);
  assert.match(described, new RegExp(`^eBPF Studio: now describes root@127\\.0\\.0\\.1:${sshd.port} \\(kernel ${os.release().replace(/\./g, '\\.')}, x86_64; BTF fetched \\(\\d+\\.\\d MiB in \\d+ ms\\); helper probe known\\) after \\d+ ms$`));
  const cached = fs.readdirSync(path.join(cacheHome, 'ebpf-studio', 'kernel-btf')).filter((f) => f.endsWith('.btf'));
  assert.equal(cached.length, 1);
  assert.deepEqual(fs.readFileSync(path.join(cacheHome, 'ebpf-studio', 'kernel-btf', cached[0])), fs.readFileSync('/sys/kernel/btf/vmlinux'));

  const uri = 'file:///work/probe.bpf.c';
  await server.open(uri, PROGRAM);
  const items = itemsOf(await server.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: positionAfter(PROGRAM, 'task->') }));
  for (const field of ['pid', 'tgid', 'comm', 'real_parent']) assert.ok(items.some((i) => i.label === field), `task_struct.${field} completed`);
  assert.equal(await server.close(), 0);

  // A second server on the same kernel reads the cached copy: nothing is transferred again.
  const again = await lspOverSsh(sshd.knownHostsFile, cacheHome);
  assert.match(await again.logged(/^eBPF Studio: now describes root@127\.0\.0\.1:\d+ /), /; BTF cached at .*\.btf; helper probe known\) after \d+ ms$/);
  assert.equal(await again.close(), 0);
});

test('lsp --target with an unknown host key says so in the client\'s log and keeps completing from this machine', async () => {
  const emptyKnownHosts = path.join(scratch, 'known_hosts_empty');
  fs.writeFileSync(emptyKnownHosts, '');
  const server = await lspOverSsh(emptyKnownHosts, path.join(scratch, 'cache-unknown'));
  const refused = await server.logged(/^eBPF Studio: cannot describe target /);
  assert.ok(refused.includes(`The host key of root@127.0.0.1:${sshd.port} is not known: ssh-ed25519 ${sshd.hostKeyFingerprint}.`), refused);
  assert.ok(refused.endsWith("Completion describes this machine's kernel meanwhile."), refused);
  const uri = 'file:///work/probe.bpf.c';
  await server.open(uri, PROGRAM);
  const items = itemsOf(await server.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: positionAfter(PROGRAM, 'task->') }));
  assert.ok(items.some((i) => i.label === 'pid'));
  assert.equal(await server.close(), 0);
});
