/**
 * What a second VS Code window pays to reach an SSH target, side by side in one run: opening its
 * own agent session over its own connection (SSH login, the login shell's rc files on the agent's
 * exec, hello) against taking its place on the agent the session process already shares with
 * another window (no login, no exec, no hello: one exchange on a local socket); then what a save
 * costs through each (a compile and load of a small program, the requests relayed through the
 * session process or not). The target is a private sshd on 127.0.0.1 logging in as root with
 * root's login shell. Uses the shipped agent in out/ (run `npm run build` first). Reports p50/p95
 * and shared / own (p50).
 *
 *   node --import tsx bench/windowConnect.ts [--runs N]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession, type OpenSessionOptions } from '../remote-agent/client/agentSession';
import { agentThroughSessionProcess } from '../remote-agent/client/sessionProcessAgent';
import { startSshd } from '../test/support/sshd';
import { stopSessionProcessesIn } from '../test/support/sessionProcesses';
import { percentile, timeRuns } from './samples';

const root = path.join(__dirname, '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-bench-window-'));
const sessionDir = path.join(scratch, 'session');

const PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx)
{
\treturn 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

function row(name: string, samples: number[], baseP50?: number): string {
  const p50 = percentile(samples, 50);
  const ratio = baseP50 === undefined ? '' : `   ${(p50 / baseP50).toFixed(2)} of its own agent's`;
  return `  ${name.padEnd(58)} ${p50.toFixed(0).padStart(6)} ms ${percentile(samples, 95).toFixed(0).padStart(6)} ms${ratio}`;
}

/** One save's work: compile on the target, load what it made, release it. */
async function save(session: AgentSession): Promise<void> {
  const { objectId, stderr } = await session.client.request('compile', { files: [{ path: 'bench.bpf.c', content: PROGRAM }], main: 'bench.bpf.c' });
  if (objectId === null) throw new Error(`the bench program did not compile: ${stderr}`);
  await session.client.request('load', { objectId });
  await session.client.request('release', { objectId });
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'out/agent-bin'))) throw new Error('out/agent-bin is missing: run npm run build first');
  const sshd = await startSshd();
  fs.mkdirSync(sessionDir, { mode: 0o700 });
  process.env['EBPF_STUDIO_SESSION_DIR'] = sessionDir;
  const launcher = { cliEntry: path.join(root, 'out/cli.js'), execPath: process.execPath, execArgv: [] };
  const connection = { target: { kind: 'ssh' as const, host: sshd.host, port: sshd.port, user: sshd.user }, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile, sshClient: 'builtin' as const, canPrompt: false };
  const options: OpenSessionOptions = {
    ...connection,
    agentSourceDir: path.join(root, 'out/agent-src'),
    agentBinaryDir: path.join(root, 'out/agent-bin'),
    clientVersion: 'bench-window',
    sshConfigFile: path.join(scratch, 'no-ssh-config'),
  };
  const shared = async (): Promise<AgentSession> => {
    const place = await agentThroughSessionProcess(launcher, { share: { ...connection, clientVersion: 'bench-window', graceSeconds: 120 } }, { signal: new AbortController().signal });
    if ('direct' in place) throw new Error(`the session process did not share its agent: ${place.notice}`);
    return place;
  };
  // The first window: it holds the shared agent for the whole bench.
  const firstWindow = await shared();
  try {
    console.log(`a second window reaching an SSH target (127.0.0.1), ${runs} runs after one warm-up, kernel ${os.release()}, ${os.cpus().length} CPUs; p50, p95`);
    const own = await timeRuns(runs, async () => (await openAgentSession(options)).dispose());
    console.log(row('open its own agent session over its own connection', own));
    console.log(row('take a place on the shared agent', await timeRuns(runs, async () => (await shared()).dispose()), percentile(own, 50)));
    const ownSession = await openAgentSession(options);
    const sharedSession = await shared();
    try {
      const ownSave = await timeRuns(runs, () => save(ownSession));
      console.log(row('a save (compile, load, release), its own agent', ownSave));
      console.log(row('a save (compile, load, release), shared agent', await timeRuns(runs, () => save(sharedSession)), percentile(ownSave, 50)));
    } finally {
      await ownSession.dispose();
      await sharedSession.dispose();
    }
  } finally {
    await firstWindow.dispose();
    stopSessionProcessesIn(sessionDir);
    await sshd.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
