/**
 * Kernel matrix and compile-on-client, measured side by side in one run on warm sessions:
 *  1. one file verified on this machine and two kernel VMs (Debian 6.1 and 7.3), all three at once
 *     (what `check --target … --target …` does) against the same three verifies one after the other;
 *  2. on one VM, compiling here against its BTF and loading in the guest (compile-on-client) against
 *     compiling inside the emulated guest with its clang.
 * Reports medians and ratios. The VMs are the test VMs (test-6.1, test-7.3), started if needed.
 *
 *   node --import tsx bench/kernelMatrix.ts [--runs N]
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession } from '../remote-agent/client/agentSession';
import { checkFile, type VerifyingAgent } from '../remote-agent/client/checkFile';
import { compileOnClient } from '../remote-agent/client/compileOnClient';
import { compilesOnClient, LocalCompiler } from '../remote-agent/client/kernelMatrix';
import { parseTarget } from '../remote-agent/client/targetSpec';
import { startVm } from '../remote-agent/client/vm/vmManager';
import { percentile, timeRuns } from './samples';

const root = path.join(__dirname, '..');
const program = path.join(root, 'bpf-templates/execsnoop/execsnoop.bpf.c');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);

async function verify(agent: VerifyingAgent, session: AgentSession): Promise<void> {
  const report = await checkFile(agent, program, { target: session.description, kernelRelease: session.hello.kernelRelease });
  if (!report.compiled || report.programs.some((p) => !p.ok)) throw new Error(`${program} did not pass on ${session.description}: ${JSON.stringify(report.diagnostics)}`);
}

async function main(): Promise<void> {
  const agentSourceDir = path.join(root, 'remote-agent/agent');
  const agentBinaryDir = path.join(root, 'out/agent-bin');
  const open = (target: string, unprivileged = false) => openAgentSession({ target: parseTarget(target), agentSourceDir, agentBinaryDir, clientVersion: 'bench', unprivileged });
  await Promise.all([startVm({ kernel: '6.1', name: 'test-6.1' }), startVm({ kernel: '7.3', name: 'test-7.3' })]);
  const sessions = await Promise.all(['local', 'vm:test-6.1', 'vm:test-7.3'].map((t) => open(t)));
  const compiler = new LocalCompiler(() => open('local', true));
  const compiling = (await compiler.session()).client;
  // As `check` does: this machine compiles for itself, the VMs are compiled for here.
  const agents = sessions.map((s) => (compilesOnClient(s, 'auto') ? compileOnClient(s, compiling, compiler.knowledge) : s.client));
  try {
    const sequential = await timeRuns(runs, async () => {
      for (const [i, s] of sessions.entries()) await verify(agents[i]!, s);
    });
    const concurrent = await timeRuns(runs, async () => {
      await Promise.all(sessions.map((s, i) => verify(agents[i]!, s)));
    });
    const vm = sessions[1]!;
    const inGuest = await timeRuns(runs, () => verify(vm.client, vm));
    const onClient = await timeRuns(runs, () => verify(agents[1]!, vm));

    console.log(`${path.relative(root, program)} (includes vmlinux.h), medians of ${runs} runs after one warm-up; ${os.cpus().length} CPUs, VMs under ${sessions[1]!.hello.arch} emulation`);
    console.log(`kernels: ${sessions.map((s) => `${s.description} ${s.hello.kernelRelease}`).join(' | ')}`);
    const s = percentile(sequential, 50);
    const c = percentile(concurrent, 50);
    console.log(`3-kernel matrix, one after the other        ${s.toFixed(0).padStart(7)} ms`);
    console.log(`3-kernel matrix, concurrently (check)       ${c.toFixed(0).padStart(7)} ms   ${(s / c).toFixed(2)}x faster`);
    const g = percentile(inGuest, 50);
    const h = percentile(onClient, 50);
    console.log(`vm:test-6.1, compiled in the guest          ${g.toFixed(0).padStart(7)} ms`);
    console.log(`vm:test-6.1, compiled here, loaded there    ${h.toFixed(0).padStart(7)} ms   ${(g / h).toFixed(2)}x faster`);
  } finally {
    await Promise.all(sessions.map((session) => session.dispose()));
    await compiler.dispose();
  }
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
