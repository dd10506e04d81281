/**
 * Every hook kind, on every test kernel (this machine, Debian's 6.1 and 7.3 in QEMU): attached by
 * the real agent over the session a user would open (compiled on this machine against the VM's BTF
 * for the VMs, as `check` does) and seen to fire with exact counts for the actions of one trigger
 * process (test/fixtures/programs/hooks/hooks_trigger.c) run on that kernel, in a cgroup and a
 * network namespace of the test's own. A hook the kernel lacks, judged from what its agent probed
 * (hello.features), must be refused with KernelFeatureMissing naming the missing feature, on that
 * kernel only. One object holds every hook a kernel has, so a kernel costs one load and one run.
 * Also: `ebpf-studio run` of a kprobe program on the 6.1 VM, its events decoded.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AgentError, openAgentSession } from '../../remote-agent/client/agentSession';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import { shellQuote, type Transport } from '../../remote-agent/client/transport';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import { ErrorCode, type AgentRequester, type AttachTarget, type HelloResult } from '../../remote-agent/protocol';
import { buildTrigger, kernelSessions, lineReader, sh } from '../support/kernelSessions';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { readyTarget, testKernels, type TestKernel } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test/fixtures/programs/hooks');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));

// ---- What the trigger does, and what each hook must therefore count ----

/** The trigger's actions in order (hooks_trigger.c): perf first, so the syscalls after it deliver every signal it caused. */
const PLAN = { perf: 3, getppid: 2, signal: 3, fork: 4, fsync: 5, prio: 6, open: 7, uprobe: 3, usdt: 4, udp0: 2, udp1: 3, udp2: 4, udp3: 5 } as const;
const PORT = 47000;
const SIGUSR2 = 12;
const S_IFCHR = 0o020000;
const triangle = (n: number): number => (n * (n + 1)) / 2;

/** The slot order of enum hook_slot in hooks.h: the index of each hook's counter in hook_stats. */
const SLOTS: string[] = (() => {
  const body = /enum hook_slot \{([^}]*)\}/.exec(readFileSync(join(fixtures, 'hooks.h'), 'utf8'))![1]!;
  return body.split(',').map((s) => s.trim().replace(/^SLOT_/, '')).filter((s) => s !== '' && s !== 'COUNT');
})();

/** Where a kernel's hooks attach, set up by prepareKernel. */
interface KernelSite {
  hello: HelloResult;
  hostIf: string;
  cgroup: string;
  trigger: string;
  /** The kernel's hardware PMUs (event sources with a cpu-cycles event); none in these VMs or on this machine. */
  pmus: string[];
}

/** What a trigger run reported. */
interface TriggerRun {
  pid: number;
  /** Signals the trigger received from the perf_event program. */
  perfSignals: number;
}

/** Why a kernel lacks a hook (from its probed features) and the error its agent must give. */
interface Lack {
  why: string;
  error: string | RegExp;
}

interface HookCase {
  slot: string;
  label: string;
  program: string;
  section: string;
  lacks(hello: HelloResult): Lack | null;
  /** Absent: attached by its section. */
  target?(site: KernelSite): AttachTarget;
  description(site: KernelSite): string | RegExp;
  expected(site: KernelSite, run: TriggerRun): { count: number; sum: number };
}

const KPROBE_MISSING = 'kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set); use a tracepoint, fentry (if available) or a uprobe instead';
const UPROBE_MISSING = 'uprobe events are not enabled in this kernel (CONFIG_UPROBE_EVENTS is not set); uprobes and USDT probes cannot be attached here';
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The program type is not among those the kernel loads: the object cannot load. */
function typeLack(hello: HelloResult, type: string, program: string, section: string): Lack | null {
  if (hello.features.programTypes.includes(type)) return null;
  return {
    why: `no ${type} programs (not in hello.features.programTypes)`,
    error: new RegExp(`program ${program} \\(SEC\\("${escape(section)}"\\)\\) is a ${type} program, and this kernel does not load ${type} programs at all`),
  };
}

function kprobeLack(hello: HelloResult, program: string, section: string): Lack | null {
  return typeLack(hello, 'kprobe', program, section) ?? (hello.features.kprobeEvents ? null : { why: 'no kprobe events (hello.features.kprobeEvents = false)', error: KPROBE_MISSING });
}

function uprobeLack(hello: HelloResult, program: string, section: string): Lack | null {
  return typeLack(hello, 'kprobe', program, section) ?? (hello.features.uprobeEvents ? null : { why: 'no uprobe events (hello.features.uprobeEvents = false)', error: UPROBE_MISSING });
}

function trampolineLack(hello: HelloResult, program: string, section: string): Lack | null {
  if (hello.features.tracingPrograms) return null;
  return {
    why: 'no BPF trampolines (hello.features.tracingPrograms = false)',
    error: new RegExp(`program ${program} \\(SEC\\("${escape(section)}"\\)\\) is an fentry/fexit/fmod_ret program, and this kernel cannot attach BPF trampolines to kernel functions`),
  };
}

/** The trigger alternates fsync() and fdatasync(), starting with fsync: the datasync arguments add up to this. */
/** The perf event the perf_event hook samples on a kernel: cycles with a PMU, else the software clock. */
const perfEvent = (s: KernelSite): 'cpu-cycles' | 'cpu-clock' => (s.pmus.length > 0 ? 'cpu-cycles' : 'cpu-clock');

const fdatasyncs = Math.floor(PLAN.fsync / 2);

/** Every hook kind, one program each in hooks.bpf.c (compiled in with -DWITH_<slot>). */
const HOOKS: HookCase[] = [
  {
    slot: 'TRACEPOINT', label: 'tracepoint', program: 'on_tracepoint', section: 'tracepoint/syscalls/sys_enter_getppid',
    lacks: (h) => typeLack(h, 'tracepoint', 'on_tracepoint', 'tracepoint/syscalls/sys_enter_getppid'),
    description: () => 'tracepoint syscalls/sys_enter_getppid',
    expected: () => ({ count: PLAN.getppid, sum: PLAN.getppid }),
  },
  {
    slot: 'RAW_TP', label: 'raw_tp', program: 'on_raw_tp', section: 'raw_tp/signal_generate',
    lacks: (h) => typeLack(h, 'raw_tracepoint', 'on_raw_tp', 'raw_tp/signal_generate'),
    description: () => 'raw_tp signal_generate',
    expected: () => ({ count: PLAN.signal, sum: SIGUSR2 * PLAN.signal }),
  },
  {
    // A raw tracepoint typed by the kernel's BTF: it needs no trampoline (it loads where fentry does not).
    slot: 'TP_BTF', label: 'tp_btf', program: 'on_tp_btf', section: 'tp_btf/sched_process_fork',
    lacks: (h) => typeLack(h, 'raw_tracepoint', 'on_tp_btf', 'tp_btf/sched_process_fork'),
    description: () => 'tp_btf sched_process_fork',
    expected: () => ({ count: PLAN.fork, sum: PLAN.fork }),
  },
  {
    slot: 'KPROBE', label: 'kprobe', program: 'on_kprobe', section: 'kprobe/noop_fsync',
    lacks: (h) => kprobeLack(h, 'on_kprobe', 'kprobe/noop_fsync'),
    description: () => 'kprobe noop_fsync',
    expected: () => ({ count: PLAN.fsync, sum: fdatasyncs }),
  },
  {
    slot: 'KRETPROBE', label: 'kretprobe', program: 'on_kretprobe', section: 'kretprobe/noop_fsync',
    lacks: (h) => kprobeLack(h, 'on_kretprobe', 'kretprobe/noop_fsync'),
    description: () => 'kretprobe noop_fsync',
    expected: () => ({ count: PLAN.fsync, sum: 0 }),
  },
  {
    slot: 'KSYSCALL', label: 'ksyscall', program: 'on_ksyscall', section: 'ksyscall/getpriority',
    lacks: (h) => kprobeLack(h, 'on_ksyscall', 'ksyscall/getpriority'),
    description: () => 'ksyscall getpriority',
    expected: (_s, run) => ({ count: PLAN.prio, sum: PLAN.prio * run.pid }),
  },
  {
    slot: 'FENTRY', label: 'fentry', program: 'on_fentry', section: 'fentry/noop_fsync',
    lacks: (h) => trampolineLack(h, 'on_fentry', 'fentry/noop_fsync'),
    description: () => 'fentry noop_fsync',
    expected: () => ({ count: PLAN.fsync, sum: fdatasyncs }),
  },
  {
    slot: 'FEXIT', label: 'fexit', program: 'on_fexit', section: 'fexit/noop_fsync',
    lacks: (h) => trampolineLack(h, 'on_fexit', 'fexit/noop_fsync'),
    description: () => 'fexit noop_fsync',
    expected: () => ({ count: PLAN.fsync, sum: 0 }),
  },
  {
    slot: 'LSM', label: 'lsm', program: 'on_lsm', section: 'lsm/file_open',
    lacks: (h) =>
      h.features.lsm
        ? null
        : { why: 'no BPF LSM (hello.features.lsm = false)', error: /program on_lsm \(SEC\("lsm\/file_open"\)\) is a BPF LSM program, and this kernel does not have BPF LSM enabled/ },
    description: () => 'lsm file_open',
    expected: () => ({ count: PLAN.open, sum: S_IFCHR * PLAN.open }),
  },
  {
    slot: 'UPROBE', label: 'uprobe', program: 'on_uprobe', section: 'uprobe',
    lacks: (h) => uprobeLack(h, 'on_uprobe', 'uprobe'),
    target: (s) => ({ kind: 'uprobe', binary: s.trigger, symbol: 'hooks_uprobe_target' }),
    description: (s) => `uprobe ${s.trigger}:hooks_uprobe_target+0`,
    expected: () => ({ count: PLAN.uprobe, sum: triangle(PLAN.uprobe) }),
  },
  {
    slot: 'URETPROBE', label: 'uretprobe', program: 'on_uretprobe', section: 'uretprobe',
    lacks: (h) => uprobeLack(h, 'on_uretprobe', 'uretprobe'),
    target: (s) => ({ kind: 'uprobe', binary: s.trigger, symbol: 'hooks_uprobe_target', retprobe: true }),
    description: (s) => `uretprobe ${s.trigger}:hooks_uprobe_target+0`,
    expected: () => ({ count: PLAN.uprobe, sum: 10 * triangle(PLAN.uprobe) }),
  },
  {
    slot: 'USDT', label: 'usdt', program: 'on_usdt', section: 'usdt',
    lacks: (h) => uprobeLack(h, 'on_usdt', 'usdt'),
    target: (s) => ({ kind: 'usdt', binary: s.trigger, provider: 'hooks', name: 'tick' }),
    description: (s) => `usdt ${s.trigger}:hooks:tick`,
    expected: () => ({ count: PLAN.usdt, sum: triangle(PLAN.usdt) }),
  },
  {
    slot: 'XDP', label: 'xdp', program: 'on_xdp', section: 'xdp',
    lacks: (h) => typeLack(h, 'xdp', 'on_xdp', 'xdp'),
    target: (s) => ({ kind: 'xdp', interface: s.hostIf }),
    description: (s) => new RegExp(`^xdp on ${s.hostIf} \\((native|generic)\\)$`),
    expected: () => ({ count: PLAN.udp0, sum: PLAN.udp0 * PORT }),
  },
  {
    slot: 'TC', label: 'tc', program: 'on_tc', section: 'tc',
    lacks: (h) => typeLack(h, 'sched_cls', 'on_tc', 'tc'),
    target: (s) => ({ kind: 'tc', interface: s.hostIf, direction: 'ingress' }),
    // tcx where the kernel probed it, else a clsact qdisc with a filter.
    description: (s) => (s.hello.features.tcx ? `tc ingress on ${s.hostIf} (tcx)` : new RegExp(`^tc ingress on ${s.hostIf} \\(clsact filter, handle \\d+, priority \\d+\\)$`)),
    expected: () => ({ count: PLAN.udp1, sum: PLAN.udp1 * (PORT + 1) }),
  },
  {
    slot: 'CGROUP_SKB', label: 'cgroup_skb', program: 'on_cgroup_skb', section: 'cgroup_skb/egress',
    lacks: (h) => typeLack(h, 'cgroup_skb', 'on_cgroup_skb', 'cgroup_skb/egress'),
    target: (s) => ({ kind: 'cgroup', path: s.cgroup }),
    description: (s) => `cgroup ${s.cgroup}`,
    expected: () => ({ count: PLAN.udp3, sum: PLAN.udp3 * (PORT + 3) }),
  },
  {
    slot: 'SOCKET', label: 'socket filter', program: 'on_socket', section: 'socket',
    lacks: (h) => typeLack(h, 'socket_filter', 'on_socket', 'socket'),
    target: (s) => ({ kind: 'socket_filter', interface: s.hostIf }),
    description: (s) => `socket_filter on ${s.hostIf} (packet socket)`,
    expected: () => ({ count: PLAN.udp2, sum: PLAN.udp2 * (PORT + 2) }),
  },
  {
    // CPU cycles where the kernel has a hardware PMU, else the software cpu-clock (in ns). A sample
    // counts when it lands in the trigger's busy loop; each counted one sends the trigger a signal,
    // so the trigger's own count must equal the program's.
    slot: 'PERF_EVENT', label: 'perf_event', program: 'on_perf_event', section: 'perf_event',
    lacks: (h) => typeLack(h, 'perf_event', 'on_perf_event', 'perf_event'),
    target: (s) => ({ kind: 'perf_event', event: perfEvent(s), period: 1_000_000 }),
    description: (s) => `perf_event ${perfEvent(s)} every 1000000 events on every CPU`,
    expected: (_s, run) => ({ count: run.perfSignals, sum: run.perfSignals }),
  },
];

// ---- Prerequisites, the trigger binary, and the per-kernel plumbing ----

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  for (const tool of ['cc', 'ip', 'ping']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  if (!existsSync('/usr/include/x86_64-linux-gnu/sys/sdt.h') && !existsSync('/usr/include/sys/sdt.h')) return '<sys/sdt.h> is missing (apt-get install systemtap-sdt-dev)';
  return null;
}

const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('hooks on kernels: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

type HooksAgent = AgentRequester<'compile' | 'attach' | 'map.update' | 'map.dump' | 'release'>;

const openKernel = kernelSessions('hooksOnKernels.test');
const buildHooksTrigger = (): string => buildTrigger(join(fixtures, 'hooks_trigger.c'), { compiler: 'cc', inputs: [join(fixtures, 'hooks.h')] });

/** Names of this run's network namespace, veth pair and cgroup, unique per test process. */
const tag = `${process.pid % 100000}`;
const NETNS = `ebpfhooks${tag}`;
const HOST_IF = `ehk${tag}a`;
const PEER_IF = `ehk${tag}b`;
// A /30 of its own too, so two test processes on one kernel do not route into each other's pair.
const HOST_ADDR = `10.254.${process.pid % 250}.1`;
const PEER_ADDR = `10.254.${process.pid % 250}.2`;

/**
 * A veth pair with its peer in a network namespace, and a cgroup v2 directory (cgroup2 mounted
 * first where it is not), on the kernel the shell runs on. Answers the cgroup's path.
 */
async function prepareNetworkAndCgroup(shell: Transport): Promise<{ cgroup: string; pmus: string[] }> {
  const out = await sh(
    shell,
    [
      'set -e',
      `cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)`,
      'if [ -z "$cg" ]; then mount -t cgroup2 cgroup2 /sys/fs/cgroup; cg=/sys/fs/cgroup; fi',
      `ip netns add ${NETNS}`,
      `ip link add ${HOST_IF} type veth peer name ${PEER_IF} netns ${NETNS}`,
      `ip addr add ${HOST_ADDR}/30 dev ${HOST_IF}`,
      `ip link set ${HOST_IF} up`,
      `ip -n ${NETNS} addr add ${PEER_ADDR}/30 dev ${PEER_IF}`,
      `ip -n ${NETNS} link set ${PEER_IF} up`,
      `ip -n ${NETNS} link set lo up`,
      // Neighbours resolved both ways before anything counts packets.
      `ping -c 1 -W 10 -q ${PEER_ADDR} >/dev/null`,
      `mkdir "$cg/ebpf-studio-hooks-${tag}"`,
      `echo "$cg/ebpf-studio-hooks-${tag}"`,
      // The hardware PMUs, as perf names them: those with a cpu-cycles event.
      'for d in /sys/bus/event_source/devices/*; do if [ -e "$d/events/cpu-cycles" ] || [ -e "$d/events/cpu_cycles" ]; then echo "${d##*/}"; fi; done',
    ].join('\n'),
  );
  const [cgroup, ...pmus] = out.trim().split('\n');
  return { cgroup: cgroup!, pmus };
}

async function removeNetworkAndCgroup(shell: Transport, cgroup: string | undefined): Promise<void> {
  await shell.run(`ip link del ${HOST_IF} 2>/dev/null; ip netns del ${NETNS} 2>/dev/null; ${cgroup ? `rmdir ${shellQuote(cgroup)}` : 'true'}`);
}

/**
 * Runs the trigger in the cgroup and network namespace; once it is ready, hands its pid, ports and
 * busy-loop bounds to the programs, then lets it act. Answers what it reported.
 */
async function runTrigger(shell: Transport, agent: HooksAgent, objectId: string, site: KernelSite, plan: Record<string, number>): Promise<TriggerRun> {
  const actions = Object.entries(plan).map(([name, n]) => `${name}=${n}`);
  const command = `echo $$ > ${shellQuote(`${site.cgroup}/cgroup.procs`)} && exec ip netns exec ${NETNS} ${shellQuote(site.trigger)} ${HOST_ADDR} ${PORT} ${actions.join(' ')}`;
  const child = await shell.spawn(command);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (stderr += d));
  const nextLine = lineReader(child);
  try {
    const ready = /^ready pid=(\d+) spin=(\d+)-(\d+)$/.exec(await nextLine());
    assert.ok(ready, `the trigger did not say ready; stderr: ${stderr}`);
    const config = Buffer.alloc(24);
    config.writeUInt32LE(Number(ready[1]), 0);
    config.writeUInt32LE(PORT, 4);
    config.writeBigUInt64LE(BigInt(ready[2]!), 8);
    config.writeBigUInt64LE(BigInt(ready[3]!), 16);
    await agent.request('map.update', { objectId, map: 'hook_config', key: u32(0), values: [config.toString('base64')] });
    child.stdin.write('go\n');
    const done = /^done perf=(\d+) signal=(\d+)$/.exec(await nextLine());
    const status = await child.exited;
    assert.equal(status.exitCode, 0, `the trigger failed: ${stderr}`);
    assert.ok(done, `the trigger did not report; stderr: ${stderr}`);
    assert.equal(Number(done[2]), plan.signal ?? 0, 'the trigger received each signal it sent itself');
    return { pid: Number(ready[1]), perfSignals: Number(done[1]) };
  } finally {
    child.kill();
  }
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

/** hook_stats by slot name: { count, sum } (struct hook_stat: u64 count, s64 sum). */
async function readStats(agent: HooksAgent, objectId: string): Promise<Map<string, { count: number; sum: number }>> {
  const dump = await agent.request('map.dump', { objectId, map: 'hook_stats' });
  assert.equal(dump.nextCursor, null);
  const stats = new Map<string, { count: number; sum: number }>();
  for (const entry of dump.entries) {
    const slot = SLOTS[Buffer.from(entry.key, 'base64').readUInt32LE(0)]!;
    const value = Buffer.from(entry.values[0]!, 'base64');
    stats.set(slot, { count: Number(value.readBigUInt64LE(0)), sum: Number(value.readBigInt64LE(8)) });
  }
  return stats;
}

function hookSources() {
  return ['hooks.bpf.c', 'hooks.h'].map((path) => ({ path, content: readFileSync(join(fixtures, path), 'utf8') }));
}

async function compileHooks(agent: HooksAgent, hooks: HookCase[]): Promise<string> {
  const compiled = await agent.request('compile', { files: hookSources(), main: 'hooks.bpf.c', defines: hooks.map((h) => `WITH_${h.slot}`) });
  assert.equal(compiled.ok, true, compiled.stderr);
  return compiled.objectId!;
}

/** The trigger's actions the present hooks need (the busy loop only where a perf_event program will end it). */
function planFor(present: HookCase[]): Record<string, number> {
  const plan: Record<string, number> = { ...PLAN };
  if (!present.some((h) => h.slot === 'PERF_EVENT')) delete plan.perf;
  return plan;
}

// ---- The tests ----

assert.deepEqual(SLOTS, HOOKS.map((h) => h.slot), 'one case per slot of hooks.h, in its order');

const kernels = testKernels();
for (const kernel of kernels) {
  test(`every hook kind on ${kernel.label}: fires with exact counts for the trigger, or is refused as a missing kernel feature`, { timeout: 900_000, skip: missing ?? false }, async (t) => {
    await hooksOnKernel(t, kernel);
  });
}

async function hooksOnKernel(t: TestContext, kernel: TestKernel): Promise<void> {
  const trigger = buildHooksTrigger();
  const target = await readyTarget(kernel);
  const phases: string[] = [];
  let phaseStart = performance.now();
  const phase = (name: string): void => {
    phases.push(`${name} ${((performance.now() - phaseStart) / 1000).toFixed(1)} s`);
    phaseStart = performance.now();
  };
  const { session, agent, shell } = await openKernel(target);
  let cgroup: string | undefined;
  t.after(async () => {
    await session.dispose();
    await removeNetworkAndCgroup(shell, cgroup);
    await shell.dispose();
  });
  const { hello } = session;
  assert.equal(hello.btf, true, `${kernel.label} has no kernel BTF: its programs cannot be built (vmlinux.h)`);
  const prepared = await prepareNetworkAndCgroup(shell);
  cgroup = prepared.cgroup;
  phase('session and setup');
  const site: KernelSite = { hello, hostIf: HOST_IF, cgroup, trigger, pmus: prepared.pmus };

  const present = HOOKS.filter((h) => h.lacks(hello) === null);
  const absent = HOOKS.filter((h) => h.lacks(hello) !== null);
  t.diagnostic(
    `${kernel.label} (${target}, kernel ${hello.kernelRelease}): probed kprobeEvents=${hello.features.kprobeEvents} uprobeEvents=${hello.features.uprobeEvents} ` +
      `tracingPrograms=${hello.features.tracingPrograms} lsm=${hello.features.lsm} tcx=${hello.features.tcx}; ` +
      `hardware PMUs: ${site.pmus.join(', ') || 'none'} (perf_event samples ${perfEvent(site)})`,
  );

  // One object with every hook this kernel has, every program attached, then one trigger run.
  const objectId = await compileHooks(agent, present);
  const links = new Map<string, string>();
  for (const hook of present) {
    const link = await agent.request('attach', { objectId, program: hook.program, ...(hook.target && { target: hook.target(site) }) });
    links.set(hook.slot, link.description);
  }
  phase(`compile, load and ${present.length} attaches`);
  const run = await runTrigger(shell, agent, objectId, site, planFor(present));
  const stats = await readStats(agent, objectId);
  await agent.request('release', { objectId });
  phase('trigger run');

  for (const hook of present) {
    await t.test(`${hook.label} fires`, () => {
      const description = hook.description(site);
      if (typeof description === 'string') assert.equal(links.get(hook.slot), description);
      else assert.match(links.get(hook.slot)!, description);
      assert.deepEqual(stats.get(hook.slot), hook.expected(site, run), `${hook.label}: { count, sum } for the trigger (pid ${run.pid})`);
      if (hook.slot === 'PERF_EVENT') assert.ok(run.perfSignals >= PLAN.perf, `the trigger spun until ${PLAN.perf} samples landed in its loop (got ${run.perfSignals})`);
    });
  }
  // Each hook the kernel lacks, alone in its object: the agent must say which feature is missing.
  for (const hook of absent) {
    const lack = hook.lacks(hello)!;
    await t.test(`${hook.label} is refused: ${lack.why}`, async () => {
      const alone = await compileHooks(agent, [hook]);
      try {
        const attempt = agent.request('attach', { objectId: alone, program: hook.program, ...(hook.target && { target: hook.target(site) }) });
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof AgentError, String(error));
          assert.equal(error.code, ErrorCode.KernelFeatureMissing, error.message);
          if (typeof lack.error === 'string') assert.equal(error.message, lack.error);
          else assert.match(error.message, lack.error);
          return true;
        });
      } finally {
        await agent.request('release', { objectId: alone });
      }
    });
  }
  t.diagnostic(
    `${kernel.label}: fired with exact counts: ${present.map((h) => `${h.label} ${stats.get(h.slot)?.count}`).join(', ')}; ` +
      `refused as missing: ${absent.length === 0 ? 'none' : absent.map((h) => `${h.label} [${h.lacks(hello)!.why}]`).join(', ')}`,
  );
  if (absent.length > 0) phase(`${absent.length} refusals`);
  t.diagnostic(`${kernel.label}: time spent: ${phases.join(', ')}`);
}

// ---- `ebpf-studio run` of a kprobe program on the 6.1 VM ----

const vm61 = kernels.find((k) => k.target === 'vm:test-6.1');
test('ebpf-studio run on vm:test-6.1: a kprobe program streams the trigger\'s fsyncs as decoded events (JSON)', { timeout: 600_000, skip: missing ?? (vm61 ? false : 'no kernel VMs here') }, async (t) => {
  const trigger = buildHooksTrigger();
  const target = await readyTarget(vm61!);
  const name = target.slice('vm:'.length);
  const shell = await connectSsh(vmSshOptions(name));
  const scratch = mkdtempSync(join(tmpdir(), 'hooks-run-'));
  t.after(async () => {
    await shell.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });
  // What the agent probed decides what must happen (the VM's kernel is Debian's, with kprobe events).
  const session = await openAgentSession({ target: parseTarget(target), agentSourceDir, agentBinaryDir, clientVersion: 'hooksOnKernels.test' });
  const kprobes = session.hello.features.kprobeEvents;
  await session.dispose();
  t.diagnostic(`checked: ${target} (kernel ${session.hello.kernelRelease}) has kprobe events: ${kprobes}`);

  const file = join(fixtures, 'fsync_kprobe.bpf.c');
  const started = performance.now();
  const cli = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'run', file, '--target', target, '--duration', '15', '--format', 'json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
  if (!kprobes) {
    assert.equal(await exited, 1, stderr);
    assert.match(stderr.trim().split('\n').at(-1)!, /kprobe events are not enabled in this kernel/);
    return;
  }
  // Once streaming, the trigger syncs its memfd three times in the guest.
  while (!/streaming events \(ringbuf\) as struct fsync_event/.test(stderr)) {
    assert.equal(cli.exitCode, null, `run ended early:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.diagnostic(`run: connected, compiled, verified and attached in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // A kernel VM's programs are compiled here against its BTF, not by clang in the emulated guest.
  assert.match(stderr, new RegExp(`^compiled on this machine against the BTF of ${escape(target)} \\(kernel ${escape(session.hello.kernelRelease)}\\)$`, 'm'));
  const ran = await shell.run(`echo go | ${shellQuote(trigger)} ${HOST_ADDR} ${PORT} fsync=3`);
  assert.equal(ran.exitCode, 0, ran.stderr);
  const pid = Number(/^ready pid=(\d+)/.exec(ran.stdout)?.[1]);
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /^attached on_fsync: kprobe noop_fsync \(prog id \d+\)$/m);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
  const events = lines.filter((l) => l.type === 'event' && l.fields.pid === pid);
  // fsync, fdatasync, fsync: the datasync argument of each call, in order.
  assert.deepEqual(events.map((e) => e.fields), [0, 1, 0].map((datasync) => ({ pid, comm: 'hooks_trigger', datasync })), stdout);
  assert.ok(events.every((e) => e.map === 'events'));
  const summary = lines.find((l) => l.type === 'stream');
  assert.equal(summary.dropped, 0);
  assert.equal(summary.decoded, summary.sent);
});
