/**
 * Faults injected at each stage of a session, on real kernels: the agent's upload cut off by killing
 * the sshd serving it mid-transfer, the agent SIGKILLed while a compile, a load, an attach, a stream
 * or a map dump is under way (with XDP, tc and a streaming tracepoint attached),
 * the compiling clang and the waiting warm clang killed, the sshd process serving the session
 * killed, and the agent of `ebpf-studio run` / `check` killed. Each must end in one clear reason
 * (the pending request rejects at once, later ones are refused, the CLI exits 2 with one line),
 * and nothing of ours may remain on the target: no program or map, no XDP, no tc filter or clsact qdisc
 * on the test's veth, no link on it — on kernels without tcx (legacy clsact filters outlive a
 * killed process) once the next agent has started and swept the dead agent's attach journal.
 * Runs on this machine and on Debian 6.1 in QEMU (no tcx: the legacy tc path).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { AgentError, AgentSessionError, openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { compileOnClient } from '../../remote-agent/client/compileOnClient';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import type { Transport } from '../../remote-agent/client/transport';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import { ErrorCode, type AgentRequester, type CompileParams } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { sshdUnavailableReason, startSshd, type PrivateSshd } from '../support/sshd';
import { commOf, childrenOf, descendantsOf } from '../support/processTree';
import { readyTarget, testKernels } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test/fixtures/programs');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
const scratch = mkdtempSync(join(tmpdir(), 'fault-injection-'));

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  for (const tool of ['ip', 'tc', 'bpftool']) if (!['/usr/sbin', '/usr/bin', '/sbin'].some((d) => existsSync(join(d, tool)))) return `${tool} is not installed`;
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('fault injection: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

// ---- The test's own veth on a kernel, and what of ours is on it ----

const tag = `${process.pid % 100000}`;
const NETNS = `ebpffault${tag}`;
const HOST_IF = `eft${tag}a`;
const PEER_IF = `eft${tag}b`;

async function sh(shell: Transport, script: string): Promise<string> {
  const r = await shell.run(script);
  assert.equal(r.exitCode, 0, `on ${shell.description}: ${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function addVeth(shell: Transport): Promise<void> {
  await sh(shell, [
    'set -e',
    `ip netns add ${NETNS}`,
    `ip link add ${HOST_IF} type veth peer name ${PEER_IF} netns ${NETNS}`,
    `ip link set ${HOST_IF} up`,
    `ip -n ${NETNS} link set ${PEER_IF} up`,
  ].join('\n'));
}

async function removeVeth(shell: Transport): Promise<void> {
  await shell.run(`ip link del ${HOST_IF} 2>/dev/null; ip netns del ${NETNS} 2>/dev/null; true`);
}

/** What is attached to the test's veth, and which of `programIds` still exist. */
interface VethState {
  xdp: boolean;
  clsact: boolean;
  tcFilters: string[];
  /** bpftool links running one of `programIds` (bpftool 7.1 does not show a tcx link's ifindex). */
  links: number;
  programs: number[];
  /** Maps that still exist among those `programIds` use and the `mapIds` asked about. */
  maps: number[];
}

async function vethState(shell: Transport, programIds: number[], mapIds: number[] = []): Promise<VethState> {
  const out = await sh(shell, [
    `ip -o link show dev ${HOST_IF} | grep -q ' xdp' && echo xdp-attached`,
    `tc qdisc show dev ${HOST_IF} | grep -q clsact && echo clsact-present`,
    `for dir in ingress egress; do tc filter show dev ${HOST_IF} $dir | sed -n "/handle/s/^filter /filter $dir /p"; done`,
    'echo "links $(bpftool -j link show)"',
    'echo "progs $(bpftool -j prog show)"',
    'echo "maps $(bpftool -j map show)"',
    'true',
  ].join('\n'));
  const line = (prefix: string) => out.split('\n').find((l) => l.startsWith(prefix))!.slice(prefix.length);
  const links = JSON.parse(line('links ') || '[]') as Array<{ prog_id: number }>;
  const progList = JSON.parse(line('progs ') || '[]') as Array<{ id: number; map_ids?: number[] }>;
  const progs = new Set(progList.map((p) => p.id));
  const existingMaps = new Set((JSON.parse(line('maps ') || '[]') as Array<{ id: number }>).map((m) => m.id));
  const ourMaps = new Set([...mapIds, ...progList.filter((p) => programIds.includes(p.id)).flatMap((p) => p.map_ids ?? [])]);
  return {
    xdp: out.includes('xdp-attached'),
    clsact: out.includes('clsact-present'),
    tcFilters: out.split('\n').filter((l) => l.startsWith('filter ')),
    links: links.filter((l) => programIds.includes(l.prog_id)).length,
    programs: programIds.filter((id) => progs.has(id)),
    maps: [...ourMaps].filter((id) => existingMaps.has(id)).sort((a, b) => a - b),
  };
}

const NOTHING: VethState = { xdp: false, clsact: false, tcFilters: [], links: 0, programs: [], maps: [] };

/** The pid of the one process on the target holding an fd of program `programId`: our agent. */
async function agentPidHolding(shell: Transport, programId: number): Promise<number> {
  const out = await sh(shell, `grep -l "^prog_id:[[:space:]]*${programId}$" /proc/[0-9]*/fdinfo/* 2>/dev/null | cut -d/ -f3 | sort -u; true`);
  const pids = out.trim().split('\n').filter((l) => l !== '').map(Number);
  assert.equal(pids.length, 1, `processes holding program ${programId}: ${out}`);
  return pids[0]!;
}

/** Waits until `check` holds (polling), failing after `ms`. */
async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- Sessions on a kernel ----

function source(name: string): CompileParams {
  const files = [{ path: name, content: readFileSync(join(fixtures, name), 'utf8') }];
  files.push({ path: 'attach_events.h', content: readFileSync(join(fixtures, 'attach_events.h'), 'utf8') });
  return { files, main: name };
}

let compiler: Promise<AgentSession> | undefined;
after(async () => {
  await compiler?.then((s) => s.dispose(), () => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

type Requests = AgentRequester<'compile' | 'attach' | 'stream.start'>;

/** The requests to set a kernel up with: a VM's programs are compiled here against its BTF, as `check` does. */
async function requestsFor(session: AgentSession): Promise<Requests> {
  if (session.target.kind !== 'vm') return session.client;
  compiler ??= openAgentSession({ target: { kind: 'local' }, agentSourceDir, agentBinaryDir, clientVersion: 'faultInjection.test', unprivileged: true });
  return compileOnClient<'attach' | 'stream.start'>(session, (await compiler).client, new TargetKnowledgeCache(defaultKnowledgeDir()));
}

interface Attached {
  xdpObject: string;
  tcObject: string;
  execObject: string;
  streamId: string;
  programIds: number[];
}

/** XDP and tc ingress on the veth, and a tracepoint streaming its ring buffer: what a fault must not leave behind. */
async function attachEverything(session: AgentSession): Promise<Attached> {
  const agent = await requestsFor(session);
  const compiled = async (name: string) => {
    const r = await agent.request('compile', source(name));
    assert.equal(r.ok, true, r.stderr);
    return r.objectId!;
  };
  const xdpObject = await compiled('xdp_count.bpf.c');
  const tcObject = await compiled('tc_count.bpf.c');
  const execObject = await compiled('exec_ringbuf.bpf.c');
  const xdp = await agent.request('attach', { objectId: xdpObject, program: 'count_icmp', target: { kind: 'xdp', interface: HOST_IF } });
  const tc = await agent.request('attach', { objectId: tcObject, program: 'count_egress', target: { kind: 'tc', interface: HOST_IF, direction: 'ingress' } });
  const tp = await agent.request('attach', { objectId: execObject, program: 'on_execve' });
  const stream = await agent.request('stream.start', { objectId: execObject, map: 'events', maxLatencyMs: 10 });
  return { xdpObject, tcObject, execObject, streamId: stream.streamId, programIds: [xdp.programId, tc.programId, tp.programId] };
}

/**
 * others_tc_pass.bpf.c built once per content under the repository (a kernel VM sees this
 * machine's files at the same paths, not its /tmp): a tc program that is not ours.
 */
function othersObject(): string {
  const source = join(fixtures, 'others_tc_pass.bpf.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = join(root, 'test-results', `fault-others-${hash}`);
  const object = join(dir, 'others_tc_pass.bpf.o');
  if (existsSync(object)) return object;
  mkdirSync(dir, { recursive: true });
  const partial = `${object}.${process.pid}`;
  const multiarch = `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  execFileSync('clang', ['-O2', '-target', 'bpf', '-I', multiarch, '-c', source, '-o', partial], { stdio: 'pipe' });
  renameSync(partial, object);
  return object;
}

const KILLED = /^The agent on \S+ was killed by signal (SIGKILL|KILL)\./;

/** The request left pending when the agent dies at each stage. */
function pendingRequest(stage: string, session: AgentSession, a: Attached): Promise<unknown> {
  const client = session.client;
  switch (stage) {
    case 'compile':
      return client.request('compile', source('tc_count.bpf.c'));
    case 'load':
      return client.request('load', { objectId: a.tcObject });
    case 'attach':
      return client.request('attach', { objectId: a.tcObject, program: 'count_egress', target: { kind: 'tc', interface: HOST_IF, direction: 'egress' } });
    case 'streaming':
      return client.request('stream.stop', { streamId: a.streamId });
    case 'map dump':
      return client.request('map.dump', { objectId: a.xdpObject, map: 'icmp_packets' });
    default:
      throw new Error(`no stage ${stage}`);
  }
}

/**
 * SIGKILLs the agent of a fresh session on `target` while a request of `stage` is pending (the
 * agent is stopped first, so the request is surely in flight), and checks the client side and
 * the target side.
 */
async function killAgentAt(t: TestContext, target: string, stage: string, shell: Transport, o: { othersFilter?: boolean } = {}): Promise<void> {
  const session = await openAgentSession({ target: parseTarget(target), agentSourceDir, agentBinaryDir, clientVersion: 'faultInjection.test' });
  let attached: Attached;
  try {
    attached = await attachEverything(session);
  } catch (error) {
    await session.dispose();
    throw error;
  }
  const legacyTc = !session.hello.features.tcx;
  const during = await vethState(shell, attached.programIds);
  assert.equal(during.xdp, true);
  // A legacy clsact filter shows in `tc filter show`; a tcx program is a link, as XDP's is.
  assert.equal(during.tcFilters.length, legacyTc ? 1 : 0, during.tcFilters.join('\n'));
  assert.equal(during.links, legacyTc ? 2 : 3, 'xdp, tracepoint and (with tcx) tc are links');
  assert.deepEqual(during.programs, attached.programIds);
  assert.ok(during.maps.length >= 3, `the programs' maps: ${during.maps.join(' ')}`);

  const pid = await agentPidHolding(shell, attached.programIds[0]!);
  await sh(shell, `kill -STOP ${pid}`);
  const pending = pendingRequest(stage, session, attached);
  const outcome = pending.then(() => undefined, (error: unknown) => ({ error, at: Date.now() }));
  const killedAt = Date.now();
  await sh(shell, `kill -KILL ${pid}`);
  const failed = await outcome;
  assert.ok(failed, `the pending ${stage} request succeeded`);
  const { error, at } = failed;
  assert.ok(error instanceof AgentSessionError, String(error));
  assert.equal(error.kind, 'closed');
  assert.match(error.message, KILLED);
  const waited = at - killedAt;
  assert.ok(waited < 5000, `the pending request failed ${waited} ms after the kill`);
  assert.equal((await session.closed).message, error.message, 'closed tells the same one reason');
  await assert.rejects(session.client.request('hello', { clientVersion: 'after the kill' }), (later: unknown) => {
    assert.ok(later instanceof AgentSessionError);
    assert.equal(later.message, error.message);
    return true;
  });
  await session.dispose();

  // Links die with the killed agent's fds; a legacy clsact filter (no tcx) holds its program until removed.
  const afterKill = await vethState(shell, attached.programIds, during.maps);
  assert.equal(afterKill.xdp, false, 'XDP goes with its link');
  assert.equal(afterKill.links, 0);
  if (!legacyTc) assert.deepEqual(afterKill, NOTHING);
  t.diagnostic(`${target}, ${stage}: pending request failed ${waited} ms after SIGKILL; ${legacyTc ? `no tcx: ${afterKill.tcFilters.length} legacy tc filter(s) left until the next agent start` : 'tcx: nothing left'}`);

  if (legacyTc && o.othersFilter) {
    // Someone replaces the dead agent's filter by one of their own at the same handle and priority:
    // the journal names that place, but what runs there is no longer ours, so it must stay.
    const pin = `/sys/fs/bpf/ebpf-fault-others-${tag}`;
    await sh(shell, [
      `tc filter del dev ${HOST_IF} ingress pref 49152 handle 1 bpf 2>/dev/null`,
      `tc qdisc add dev ${HOST_IF} clsact 2>/dev/null`,
      `bpftool prog load ${othersObject()} ${pin} type classifier`,
      `tc filter add dev ${HOST_IF} ingress pref 49152 handle 1 bpf da object-pinned ${pin}`,
      `rm -f ${pin}`,
    ].join('; '));
  }
  if (legacyTc) {
    // The next agent start (any session of this user) removes what the dead agent's journal names.
    const next = await openAgentSession({ target: parseTarget(target), agentSourceDir, agentBinaryDir, clientVersion: 'faultInjection.test' });
    await next.dispose();
    const swept = await vethState(shell, attached.programIds, during.maps);
    if (o.othersFilter) {
      assert.equal(swept.tcFilters.length, 1, swept.tcFilters.join('\n'));
      assert.match(swept.tcFilters[0]!, /^filter ingress protocol all pref 49152 bpf chain 0 handle 0x1 .* name others_pass /, 'someone else\'s filter stays');
      assert.deepEqual({ ...swept, tcFilters: [], clsact: false }, NOTHING);
      await sh(shell, `tc qdisc del dev ${HOST_IF} clsact`);
    } else {
      assert.deepEqual(swept, NOTHING);
    }
    const journals = await sh(shell, `ls /var/cache/ebpf-studio/attachments 2>/dev/null | grep -c "^agent-${pid}\\." ; true`);
    assert.equal(journals.trim(), '0', 'the dead agent\'s journal is deleted once swept');
  }
}

// ---- On each kernel: the agent killed at each stage ----

const vm61 = testKernels().find((k) => k.target === 'vm:test-6.1');
const kernels = [{ target: 'local', stages: ['compile', 'load', 'attach', 'streaming', 'map dump'] }, ...(vm61 ? [{ target: vm61.target, stages: ['attach', 'load'] }] : [])];

for (const kernel of kernels) {
  test(`agent SIGKILLed on ${kernel.target} at ${kernel.stages.join(', ')}: one reason, later requests refused, nothing of ours left`, { skip: missing ?? false, timeout: 900_000 }, async (t) => {
    if (kernel.target !== 'local') await readyTarget(vm61!);
    const shell: Transport = kernel.target === 'local' ? new LocalTransport() : await connectSsh(vmSshOptions(kernel.target.slice('vm:'.length)));
    t.after(async () => {
      await removeVeth(shell);
      await shell.dispose();
    });
    await addVeth(shell);
    assert.deepEqual(await vethState(shell, []), NOTHING);
    // On the VM the second kill checks that the sweep leaves a filter that is no longer ours.
    for (const [i, stage] of kernel.stages.entries()) await killAgentAt(t, kernel.target, stage, shell, { othersFilter: kernel.target !== 'local' && i === 1 });
  });
}

// ---- clang killed (this machine compiles on the target) ----

test('clang killed during a compile: that compile fails with the signal named, the session goes on', { skip: missing ?? false, timeout: 120_000 }, async () => {
  const session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir, agentBinaryDir, clientVersion: 'faultInjection.test' });
  try {
    const shell = new LocalTransport();
    // Something loaded, so the agent is found by the program it holds.
    const first = await session.client.request('compile', source('exec_ringbuf.bpf.c'));
    const attached = await session.client.request('attach', { objectId: first.objectId!, program: 'on_execve' });
    const agentPid = await agentPidHolding(shell, attached.programId);
    const existing = new Set(descendantsOf(agentPid));
    // A source that is new each time, so nothing can answer it from a cache.
    const params = source('tc_count.bpf.c');
    params.files[0]!.content += `\n/* ${Date.now()} */\n`;
    const compiling = session.client.request('compile', params).then(() => undefined, (e: unknown) => e);
    let killed: number | undefined;
    const deadline = Date.now() + 20_000;
    while (killed === undefined && Date.now() < deadline) {
      const clang = descendantsOf(agentPid).find((p) => !existing.has(p) && commOf(p).startsWith('clang'));
      if (clang !== undefined) {
        process.kill(clang, 'SIGKILL');
        killed = clang;
      } else await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(killed !== undefined, 'a clang ran for the compile');
    const error = await compiling;
    assert.ok(error instanceof AgentError, String(error));
    assert.equal(error.code, ErrorCode.InternalError);
    assert.match(error.message, /^clang was killed by signal 9 \(Killed\) before it finished, so nothing was compiled; compile again/);
    // The agent lives on: the next compile of the same source works.
    const again = await session.client.request('compile', params);
    assert.equal(again.ok, true, again.stderr);

    // The waiting (warm) clang killed between compiles: the next compile still works.
    const waiting = childrenOf(agentPid).filter((p) => commOf(p).startsWith('clang'));
    for (const pid of waiting) process.kill(pid, 'SIGKILL');
    params.files[0]!.content += `\n/* again ${Date.now()} */\n`;
    const third = await session.client.request('compile', params);
    assert.equal(third.ok, true, third.stderr);
  } finally {
    await session.dispose();
  }
});

// ---- The SSH server side killed ----

const sshdMissing = missing ?? sshdUnavailableReason();
let sshd: PrivateSshd | undefined;
before(async () => {
  if (sshdMissing === null) sshd = await startSshd();
});
after(async () => {
  await sshd?.stop();
});

test('the sshd serving the session killed while streaming: one reason, and the agent cleans up behind it', { skip: sshdMissing ?? false, timeout: 120_000 }, async (t) => {
  const shell = new LocalTransport();
  await addVeth(shell);
  try {
    const session = await openAgentSession({
      target: { kind: 'ssh', host: sshd!.host, port: sshd!.port, user: sshd!.user },
      agentSourceDir,
      agentBinaryDir,
      identityFile: sshd!.identityFile,
      knownHostsFile: sshd!.knownHostsFile,
      sshConfigFile: join(scratch, 'no-ssh-config'),
      clientVersion: 'faultInjection.test',
    });
    const attached = await attachEverything(session);
    const pid = await agentPidHolding(shell, attached.programIds[0]!);
    const { maps } = await vethState(shell, attached.programIds);
    const pending = session.client.request('stream.stop', { streamId: attached.streamId }).then(() => undefined, (e: unknown) => e);
    sshd!.dropConnections();
    const error = await pending;
    // The request may have been answered before the drop; the session's end must still say why, once.
    const reason = await session.closed;
    t.diagnostic(`reason: ${reason.name} ${(reason as AgentSessionError).kind}: ${reason.message}`);
    if (error !== undefined) assert.equal((error as Error).message, reason.message);
    assert.ok(reason instanceof AgentSessionError, String(reason));
    assert.equal(reason.kind, 'closed');
    assert.match(reason.message, new RegExp(`^connection to root@127\\.0\\.0\\.1:${sshd!.port} lost: `));
    await assert.rejects(session.client.request('hello', { clientVersion: 'after the drop' }), (later: unknown) => (later as Error).message === reason.message);
    await session.dispose();
    // Its channel gone, the agent sees EOF (or SIGHUP) and detaches everything itself.
    await eventually('the orphaned agent exiting', 10_000, async () => !existsSync(`/proc/${pid}`));
    assert.deepEqual(await vethState(shell, attached.programIds, maps), NOTHING);
  } finally {
    await removeVeth(shell);
  }
});

// ---- The CLI's agent killed ----

interface Cli {
  pid: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  return { pid: child.pid!, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** The agent the CLI started on this machine: its descendant named ebpf-agent. */
function cliAgent(c: Cli): number | undefined {
  return descendantsOf(c.pid).find((p) => commOf(p) === 'ebpf-agent');
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1)!;
}

test('ebpf-studio run: its agent SIGKILLed while streaming → exit 2, one line naming the kill, its programs gone', { skip: missing ?? false, timeout: 180_000 }, async () => {
  const run = cli(['run', join(fixtures, 'exec_ringbuf.bpf.c'), '--target', 'local', '--duration', '60']);
  await eventually('run streaming', 120_000, async () => /streaming events \(ringbuf\)/.test(run.stderr()) || (await Promise.race([run.exited.then(() => true), Promise.resolve(false)])));
  assert.match(run.stderr(), /streaming events/, run.stderr());
  const programIds = [...run.stderr().matchAll(/\(prog id (\d+)\)/g)].map((m) => Number(m[1]));
  assert.ok(programIds.length > 0);
  const agent = cliAgent(run);
  assert.ok(agent !== undefined, 'the CLI\'s agent is running');
  process.kill(agent, 'SIGKILL');
  assert.equal(await run.exited, 2, run.stderr());
  const line = lastLine(run.stderr());
  assert.match(line, /^ebpf-studio: The agent on local was killed by signal SIGKILL\./);
  const bpftool = JSON.parse(await sh(new LocalTransport(), 'bpftool -j prog show')) as Array<{ id: number }>;
  assert.deepEqual(programIds.filter((id) => bpftool.some((p) => p.id === id)), []);
});

test('ebpf-studio check: its agent SIGKILLed as soon as it starts → exit 2, one line naming the kill', { skip: missing ?? false, timeout: 180_000 }, async () => {
  const check = cli(['check', join(fixtures, 'exec_ringbuf.bpf.c'), '--target', 'local']);
  let agent: number | undefined;
  await eventually('the CLI starting its agent', 60_000, async () => (agent = cliAgent(check)) !== undefined);
  process.kill(agent!, 'SIGKILL');
  assert.equal(await check.exited, 2, check.stderr());
  const stderr = check.stderr().trimEnd();
  assert.equal(stderr.split('\n').length, 1, stderr);
  assert.match(stderr, /^ebpf-studio: The agent on local was killed by signal SIGKILL/);
});

// ---- The agent's upload cut off ----

/** The shipped agent the CLI uploads (cli/cliSession.ts takes it from the checkout's static build). */
const cliShippedAgent = join(root, 'remote-agent/agent/build/static/x86_64/ebpf-agent');

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Processes on this machine running a program from under `dir`: a started agent shows here. */
function processesRunningFrom(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/exe`).startsWith(`${dir}/`);
      } catch {
        return false; // exited meanwhile, or a kernel thread
      }
    })
    .map(Number);
}

/** The staging file of an upload under `cache` and its size, once the upload has written some of it. */
function stagedAgent(cache: string): { path: string; size: number } | undefined {
  for (const name of existsSync(cache) ? readdirSync(cache) : []) {
    if (!/^agent-[0-9a-f]{12}\.tmp-[0-9a-f]{8}$/.test(name)) continue;
    const path = join(cache, name, 'ebpf-agent');
    const size = existsSync(path) ? statSync(path).size : 0;
    if (size > 0) return { path, size };
  }
  return undefined;
}

test('agent upload cut off mid-transfer by killing the sshd: the CLI exits 2 with one line, the half-written agent never runs and is swept later, the next connect uploads it again; an agent failing its hash is refused, moved aside and replaced on the connect after', { skip: sshdMissing ?? (existsSync(cliShippedAgent) ? false : `${cliShippedAgent} is not built (npm run build)`), timeout: 300_000 }, async (t) => {
  const full = statSync(cliShippedAgent).size;
  const shippedHash = sha256Of(cliShippedAgent);
  const agentDir = `agent-${shippedHash.slice(0, 12)}`;
  const connection = ['--target', 'upload-fault', '--identity', sshd!.identityFile, '--known-hosts', sshd!.knownHostsFile];
  const checkArgs = ['check', join(fixtures, 'passes.bpf.c'), ...connection];
  let cache = '';
  let cut: { size: number } | undefined;
  let failed: Cli | undefined;
  // The upload takes tens of milliseconds here: an attempt whose transfer ended before the sshd
  // could be stopped is tried again with a fresh cache.
  for (let attempt = 1; attempt <= 5 && cut === undefined; attempt++) {
    cache = join(scratch, `upload-cache-${attempt}`);
    const env = { ...process.env, EBPF_STUDIO_TARGETS: JSON.stringify([{ name: 'upload-fault', destination: `root@127.0.0.1:${sshd!.port}`, workDirectory: cache }]) };
    const run = cli(checkArgs, env);
    let exited = false;
    void run.exited.then(() => (exited = true));
    let staged: { path: string; size: number } | undefined;
    while (!exited && (staged = stagedAgent(cache)) === undefined) await new Promise((r) => setImmediate(r));
    if (staged === undefined) assert.fail(`the CLI exited before uploading anything: ${run.stderr()}`);
    sshd!.pauseConnections(true);
    const size = statSync(staged.path).size;
    if (size < full) {
      sshd!.dropConnections();
      cut = { size };
      failed = run;
    } else {
      sshd!.pauseConnections(false);
      t.diagnostic(`attempt ${attempt}: the upload finished before the sshd stopped; trying again`);
    }
    await run.exited;
    if (cut === undefined) rmSync(cache, { recursive: true, force: true });
  }
  assert.ok(cut !== undefined && failed !== undefined, 'no attempt caught the upload in flight');
  const env = { ...process.env, EBPF_STUDIO_TARGETS: JSON.stringify([{ name: 'upload-fault', destination: `root@127.0.0.1:${sshd!.port}`, workDirectory: cache }]) };
  t.diagnostic(`upload cut at ${cut.size} of ${full} bytes`);

  // The CLI: exit 2, one line saying the connection was lost.
  assert.equal(await failed.exited, 2, `${failed.stderr()}\n${readdirSync(cache).join(' ')}`);
  const stderr = failed.stderr().trimEnd();
  assert.equal(stderr.split('\n').length, 1, stderr);
  t.diagnostic(`the CLI said: ${stderr}`);
  assert.match(stderr, new RegExp(`^ebpf-studio: .*root@127\\.0\\.0\\.1:${sshd!.port}`));

  // On the target: the half-written agent only in its staging directory, the agent's place empty, nothing running from the cache.
  const leftover = readdirSync(cache).filter((name) => name.startsWith('agent-'));
  assert.equal(leftover.length, 1, leftover.join(' '));
  assert.match(leftover[0]!, new RegExp(`^${agentDir}\\.tmp-[0-9a-f]{8}$`));
  assert.ok(statSync(join(cache, leftover[0]!, 'ebpf-agent')).size < full);
  assert.deepEqual(processesRunningFrom(cache), []);

  // The next connect uploads the agent again and runs it; the staging directory, an hour old, is swept.
  const anHourAgo = new Date(Date.now() - 61 * 60_000);
  utimesSync(join(cache, leftover[0]!), anHourAgo, anHourAgo);
  const next = cli(checkArgs, env);
  assert.equal(await next.exited, 0, next.stderr());
  assert.deepEqual(readdirSync(cache).filter((name) => name.startsWith('agent-')), [agentDir]);
  assert.equal(sha256Of(join(cache, agentDir, 'ebpf-agent')), shippedHash);

  // An agent at its place that is not the shipped one (here: a truncated copy) fails the hash check:
  // not run, moved aside, and the connect after installs a fresh copy.
  // The agent of that run ends on its own once the CLI has gone (EOF over SSH); until then its file cannot be written.
  await eventually('the last run\'s agent gone', 30_000, async () => processesRunningFrom(cache).length === 0);
  writeFileSync(join(cache, agentDir, 'ebpf-agent'), readFileSync(cliShippedAgent).subarray(0, cut.size), { mode: 0o755 });
  const refused = cli(checkArgs, env);
  assert.equal(await refused.exited, 2, refused.stderr());
  const refusal = refused.stderr().trimEnd();
  assert.equal(refusal.split('\n').length, 1, refusal);
  assert.match(refusal, new RegExp(`^ebpf-studio: The eBPF Studio agent at ${cache}/${agentDir}/ebpf-agent on root@127\\.0\\.0\\.1:${sshd!.port} was changed since it was installed \\(sha256 [0-9a-f]{64}, expected ${shippedHash}\\), so it was not run\\. It was moved to ${cache}/${agentDir}\\.tampered-\\d{8}-\\d{6} `));
  assert.deepEqual(processesRunningFrom(cache), []);
  const again = cli(checkArgs, env);
  assert.equal(await again.exited, 0, again.stderr());
  assert.equal(sha256Of(join(cache, agentDir, 'ebpf-agent')), shippedHash);
  assert.deepEqual(readdirSync(cache).filter((name) => name.startsWith('agent-')).map((name) => name.replace(/\d{8}-\d{6}$/, 'TIME')).sort(), [agentDir, `${agentDir}.tampered-TIME`].sort());
  assert.deepEqual(processesRunningFrom(cache), []);
});
