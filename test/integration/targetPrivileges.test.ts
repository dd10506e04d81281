/**
 * A target that cannot load programs at all says so when the session opens, with what is missing:
 * the local agent started with CAP_BPF, CAP_SYS_ADMIN and CAP_PERFMON dropped from its bounding set
 * (util-linux setpriv, as a container without --privileged leaves it) is refused with a 'privilege'
 * error, not a verifier or EPERM error at the first load; one that keeps CAP_BPF only opens, with a
 * warning about what will not work. The agent's `hello.privileges` is what capget(2) and the
 * sysctl say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentSessionError, openAgentSession } from '../../remote-agent/client/agentSession';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import { shellQuote, type RunningProcess } from '../../remote-agent/client/transport';

const root = path.join(__dirname, '..', '..');
const agentBinaryDir = path.join(root, 'out', 'agent-bin');

/** This machine, every command run under setpriv with `dropped` capabilities out of its bounding set. */
class CapabilityDroppingTransport extends LocalTransport {
  constructor(private readonly dropped: string[]) {
    super();
  }

  override spawn(command: string): Promise<RunningProcess> {
    const bounding = this.dropped.map((cap) => `-${cap}`).join(',');
    return super.spawn(`exec setpriv --bounding-set ${bounding} --inh-caps=-all -- /bin/sh -c ${shellQuote(command)}`);
  }
}

function requirements(): void {
  if (process.getuid?.() !== 0) throw new Error('these tests start the agent as root with fewer capabilities: run them as root');
  if (!fs.existsSync('/usr/bin/setpriv')) throw new Error('setpriv (util-linux) is not installed');
}

function sysctlUnprivilegedBpf(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim());
}

function open(dropped: string[] | undefined, log: string[] = []) {
  return openAgentSession({
    target: { kind: 'local' },
    agentSourceDir: path.join(root, 'remote-agent/agent'),
    ...(fs.existsSync(agentBinaryDir) && { agentBinaryDir }),
    clientVersion: 'test',
    ...(dropped !== undefined && { transport: new CapabilityDroppingTransport(dropped) }),
    log: (line) => log.push(line),
  });
}

test('a root agent reports the capabilities it holds and the unprivileged_bpf_disabled sysctl', async () => {
  requirements();
  const session = await open(undefined);
  try {
    assert.equal(session.hello.euid, 0);
    assert.deepEqual(session.hello.privileges, { effectiveCapabilities: ['bpf', 'perfmon', 'sys_admin', 'net_admin'], unprivilegedBpfDisabled: sysctlUnprivilegedBpf() });
  } finally {
    await session.dispose();
  }
});

test('an agent without CAP_BPF and CAP_SYS_ADMIN is refused when the session opens, saying what is missing and what to do', async () => {
  requirements();
  const sysctl = sysctlUnprivilegedBpf();
  await assert.rejects(open(['bpf', 'sys_admin', 'perfmon']), (error: unknown) => {
    assert.ok(error instanceof AgentSessionError);
    assert.equal(error.kind, 'privilege');
    assert.equal(
      error.message,
      'The agent on local runs as root but without CAP_BPF or CAP_SYS_ADMIN (a container without --privileged, or a capability bounding set that drops them), ' +
        `so it cannot load eBPF programs${sysctl === 0 ? ' (kernel.unprivileged_bpf_disabled is 0, which allows socket filters only)' : ` (kernel.unprivileged_bpf_disabled is ${sysctl})`}. ` +
        'Give the target those capabilities (docker run --privileged, or --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN; systemd: AmbientCapabilities=/CapabilityBoundingSet=) or choose another target.',
    );
    return true;
  });
});

test('an agent with CAP_BPF but neither CAP_PERFMON nor CAP_SYS_ADMIN opens, with a warning that tracing programs will not load', async () => {
  requirements();
  const log: string[] = [];
  const session = await open(['sys_admin', 'perfmon'], log);
  try {
    assert.deepEqual(session.hello.privileges.effectiveCapabilities, ['bpf', 'net_admin']);
    assert.ok(
      log.includes('Warning: the agent on local has CAP_BPF but not CAP_PERFMON (nor CAP_SYS_ADMIN): kprobe, tracepoint and perf_event programs will not load; add CAP_PERFMON.'),
      log.join('\n'),
    );
  } finally {
    await session.dispose();
  }
});
