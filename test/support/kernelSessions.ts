/**
 * What the tests that attach programs on every test kernel and trigger them there share
 * (hooksOnKernels, templatesAttach, templatesNetworkAttach): an agent session on a kernel with the
 * requests to use — for a VM, compiled on this machine against the VM's BTF, as `check` does — and
 * a shell on that kernel; the trigger programs they build; a checked shell command; a line reader.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { compileOnClient } from '../../remote-agent/client/compileOnClient';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import type { RunningProcess, Transport } from '../../remote-agent/client/transport';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import type { AgentMethod, AgentRequester } from '../../remote-agent/protocol';

const root = join(import.meta.dirname, '..', '..');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));

export interface KernelSession {
  session: AgentSession;
  /** Every agent method; `compile` goes to this machine's agent for a VM. */
  agent: AgentRequester<AgentMethod>;
  /** A shell on the kernel's machine: this one, or the VM over SSH. */
  shell: Transport;
}

/**
 * Opens sessions on test kernels (`local`, `vm:NAME`) for one test file. The unprivileged local
 * agent that compiles for the VMs is opened on first use and closed after the file's tests.
 */
export function kernelSessions(clientVersion: string): (target: string) => Promise<KernelSession> {
  let compiler: Promise<AgentSession> | undefined;
  const knowledge = new TargetKnowledgeCache(defaultKnowledgeDir());
  after(async () => {
    await compiler?.then((s) => s.dispose(), () => undefined);
  });
  return async (target) => {
    const spec = parseTarget(target);
    const session = await openAgentSession({ target: spec, agentSourceDir, agentBinaryDir, clientVersion });
    try {
      let agent: AgentRequester<AgentMethod> = session.client;
      if (spec.kind === 'vm') {
        compiler ??= openAgentSession({ target: { kind: 'local' }, agentSourceDir, agentBinaryDir, clientVersion, unprivileged: true });
        agent = compileOnClient<AgentMethod>(session, (await compiler).client, knowledge);
      }
      const shell: Transport = spec.kind === 'vm' ? await connectSsh(vmSshOptions(spec.name)) : new LocalTransport();
      return { session, agent, shell };
    } catch (error) {
      await session.dispose();
      throw error;
    }
  };
}

/**
 * Builds a trigger program once per content, under the repository's test-results (a kernel VM sees
 * this machine's files at the same paths, not its /tmp); new content gets a new directory, so a
 * guest never runs a stale copy from its 9p cache. `inputs` are hashed too (headers it includes).
 */
export function buildTrigger(source: string, opts: { compiler: 'cc' | 'g++'; inputs?: string[] }): string {
  const hash = createHash('sha256');
  for (const file of [source, ...(opts.inputs ?? [])]) hash.update(readFileSync(file));
  const name = basename(source).replace(/\.(c|cc)$/, '');
  const dir = join(root, 'test-results', `${name.replace(/_/g, '-')}-${hash.digest('hex').slice(0, 16)}`);
  const binary = join(dir, name);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  execFileSync(opts.compiler, ['-O1', '-g', '-Wall', '-Werror', '-o', partial, source], { stdio: 'pipe' });
  renameSync(partial, binary);
  return binary;
}

/** Runs a shell script on the kernel's machine; its stdout, or a failed assertion saying all. */
export async function sh(shell: Transport, script: string): Promise<string> {
  const r = await shell.run(script);
  assert.equal(r.exitCode, 0, `on ${shell.description}: ${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Lines of a process's stdout, one at a time. */
export function lineReader(child: RunningProcess): () => Promise<string> {
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async () => {
    const next = await lines.next();
    if (next.done) throw new Error('the trigger closed its stdout');
    return next.value;
  };
}
