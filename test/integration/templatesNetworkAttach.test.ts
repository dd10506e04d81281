/**
 * The network, perf_event, LSM and iterator templates (xdp-protocol-count, xdp-port-drop, tc-egress,
 * cgroup-skb-traffic, socket-filter, perf-sampling, lsm-deny-policy, task-iter), each instantiated
 * from bpf-templates/ into a folder of the test's own and attached by the real agent on every test
 * kernel (this machine, Debian's 6.1 and 7.3 in QEMU; compiled on this machine against a VM's BTF,
 * as `check` does) to a veth pair, network namespace, port and cgroup of this test process, so
 * other tests on the same kernels do not disturb the counts. A trigger run on that kernel causes
 * traffic, opens, samples or tasks, and the maps, ring buffer or iterator output must show exactly
 * (or, for timer samples, at least) what it caused. Where the catalogue says a template cannot run
 * on a kernel (notRunnableReason, from the agent's probed features), the attach must be refused
 * with KernelFeatureMissing naming the missing feature. Also: each template's standalone loader
 * builds with `make` in its instantiated folder against this machine's libbpf.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test, type TestContext } from 'node:test';
import { findTemplate, instantiateTemplate, missingFeatures, notRunnableReason, REQUIREMENTS, type BpfTemplate } from '../../bpf-templates/templateCatalog';
import { AgentError, type AgentSession } from '../../remote-agent/client/agentSession';
import { shellQuote, type Transport } from '../../remote-agent/client/transport';
import { ErrorCode, type AgentRequester, type AttachTarget, type EventsNotification, type HelloResult } from '../../remote-agent/protocol';
import { kernelSessions, sh } from '../support/kernelSessions';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { readyTarget, testKernels, type TestKernel } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

const TEMPLATE_IDS = ['xdp-protocol-count', 'xdp-port-drop', 'tc-egress', 'cgroup-skb-traffic', 'socket-filter', 'perf-sampling', 'lsm-deny-policy', 'task-iter'] as const;
type TemplateId = (typeof TEMPLATE_IDS)[number];

// ---- This test process's own network namespace, veth pair, addresses, ports and cgroup ----

const tag = `${process.pid % 100000}`;
const NETNS = `ebpftpl${tag}`;
const HOST_IF = `etp${tag}a`;
const PEER_IF = `etp${tag}b`;
// A /30 of its own (10.253/16: hooksOnKernels uses 10.254/16), so parallel test processes do not route into each other's pair.
const HOST_ADDR = `10.253.${process.pid % 250}.1`;
const PEER_ADDR = `10.253.${process.pid % 250}.2`;
const PORT = 41000 + (process.pid % 20000);
/** An IPv4 frame of one `echo x` UDP datagram: Ethernet 14 + IPv4 20 + UDP 8 + "x\n" 2. */
const UDP_FRAME_BYTES = 44;
/** An IPv4 ping packet as cgroup_skb sees it (from the IP header): IPv4 20 + ICMP 8 + 56 bytes of data. */
const PING_IP_BYTES = 84;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

// ---- Prerequisites ----

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  for (const tool of ['ip', 'ping', 'bash', 'sysctl', 'timeout', 'make', 'cc', 'clang', 'bpftool']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/bootstrap.sh installs it)`;
  }
  if (!existsSync('/usr/include/bpf/libbpf.h')) return 'libbpf-dev is not installed';
  return null;
}

const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('network templates on kernels: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

// ---- Instantiated templates and their built loaders, under the repository (a kernel VM sees this machine's files at the same paths, not its /tmp) ----

const workDir = join(root, 'test-results', `templates-net-${process.pid}-${Date.now()}`);
after(() => rmSync(workDir, { recursive: true, force: true }));

const templates = new Map<TemplateId, BpfTemplate>(TEMPLATE_IDS.map((id) => [id, findTemplate(id)]));
let instances = 0;

/** Writes the template into a new folder of the test's own; answers the folder. */
function instantiate(id: TemplateId, params: Record<string, string> = {}): string {
  const dir = join(workDir, `${id}-${++instances}`);
  instantiateTemplate(templates.get(id)!, dir, params);
  return dir;
}

/** The template instantiated with its defaults and its loader built with `make`, once per id. */
const builtLoaders = new Map<TemplateId, Promise<{ dir: string; output: string }>>();
function buildLoader(id: TemplateId): Promise<{ dir: string; output: string }> {
  let built = builtLoaders.get(id);
  if (built === undefined) {
    const dir = instantiate(id);
    built = run('make', ['-C', dir], { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => ({ dir, output: r.stdout + r.stderr }),
      (e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`make in ${dir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      },
    );
    builtLoaders.set(id, built);
  }
  return built;
}

test('each template\'s standalone loader builds with make in its instantiated folder (system libbpf)', { timeout: 600_000, skip: missing ?? false }, async (t) => {
  for (const id of TEMPLATE_IDS) {
    await t.test(id, async () => {
      const { dir } = await buildLoader(id);
      const app = id.replaceAll('-', '_');
      for (const file of [`${app}.bpf.o`, `${app}.skel.h`, app]) assert.ok(existsSync(join(dir, file)), `make did not produce ${file} in ${dir}`);
      // Every {{parameter}} was substituted: nothing of the template's syntax is left for the C compiler.
      for (const file of templates.get(id)!.files) assert.doesNotMatch(readFileSync(join(dir, file), 'utf8'), /\{\{/, `${id}/${file}`);
    });
  }
});

// ---- Agent sessions on the test kernels ----

type TemplateAgent = AgentRequester<'compile' | 'attach' | 'map.update' | 'map.dump' | 'map.lookup' | 'release' | 'stream.start'>;

const openKernel = kernelSessions('templatesNetworkAttach.test');

/**
 * The veth pair (peer in the namespace, IPv6 off so no router solicitations are counted), neighbours
 * resolved both ways, and a cgroup v2 directory (cgroup2 mounted first where it is not). Answers the cgroup.
 */
async function prepareNetworkAndCgroup(shell: Transport): Promise<string> {
  const out = await sh(
    shell,
    [
      'set -e',
      `cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)`,
      'if [ -z "$cg" ]; then mount -t cgroup2 cgroup2 /sys/fs/cgroup; cg=/sys/fs/cgroup; fi',
      `ip netns add ${NETNS}`,
      `ip link add ${HOST_IF} type veth peer name ${PEER_IF} netns ${NETNS}`,
      `sysctl -qw net.ipv6.conf.${HOST_IF}.disable_ipv6=1`,
      `ip netns exec ${NETNS} sysctl -qw net.ipv6.conf.${PEER_IF}.disable_ipv6=1`,
      `ip addr add ${HOST_ADDR}/30 dev ${HOST_IF}`,
      `ip link set ${HOST_IF} up`,
      `ip -n ${NETNS} addr add ${PEER_ADDR}/30 dev ${PEER_IF}`,
      `ip -n ${NETNS} link set ${PEER_IF} up`,
      `ip -n ${NETNS} link set lo up`,
      `ping -c 1 -W 10 -q ${PEER_ADDR} >/dev/null`,
      `mkdir "$cg/ebpf-studio-templates-${tag}"`,
      `echo "$cg/ebpf-studio-templates-${tag}"`,
    ].join('\n'),
  );
  return out.trim();
}

async function removeNetworkAndCgroup(shell: Transport, cgroup: string | undefined): Promise<void> {
  await shell.run(`ip link del ${HOST_IF} 2>/dev/null; ip netns del ${NETNS} 2>/dev/null; ${cgroup ? `rmdir ${shellQuote(cgroup)}` : 'true'}`);
}

/** `count` one-line UDP datagrams ("x\n") to addr:port, from the namespace or from the host. */
function sendUdp(shell: Transport, from: 'netns' | 'host', addr: string, port: number, count: number): Promise<string> {
  const loop = `for i in $(seq ${count}); do echo x > /dev/udp/${addr}/${port}; done`;
  return sh(shell, from === 'netns' ? `ip netns exec ${NETNS} bash -c ${shellQuote(loop)}` : `bash -c ${shellQuote(loop)}`);
}

// ---- Reading maps ----

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

async function dumpMap(agent: TemplateAgent, objectId: string, map: string): Promise<{ key: Buffer; values: Buffer[] }[]> {
  const entries: { key: Buffer; values: Buffer[] }[] = [];
  let cursor: string | undefined;
  do {
    const page = await agent.request('map.dump', { objectId, map, limit: 4096, ...(cursor !== undefined && { cursor }) });
    for (const e of page.entries) entries.push({ key: Buffer.from(e.key, 'base64'), values: e.values.map((v) => Buffer.from(v, 'base64')) });
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return entries;
}

/** { packets, bytes } (two u64) of one index of an array map, summed over CPUs for a per-CPU one. */
async function packetsAndBytes(agent: TemplateAgent, objectId: string, map: string, index: number): Promise<{ packets: number; bytes: number }> {
  const found = await agent.request('map.lookup', { objectId, map, key: u32(index) });
  assert.ok(found.values, `${map}[${index}] exists`);
  const values = found.values.map((v) => Buffer.from(v, 'base64'));
  return {
    packets: values.reduce((sum, v) => sum + Number(v.readBigUInt64LE(0)), 0),
    bytes: values.reduce((sum, v) => sum + Number(v.readBigUInt64LE(8)), 0),
  };
}

async function u64At(agent: TemplateAgent, objectId: string, map: string, index: number): Promise<number> {
  const found = await agent.request('map.lookup', { objectId, map, key: u32(index) });
  assert.ok(found.values, `${map}[${index}] exists`);
  return Number(Buffer.from(found.values[0]!, 'base64').readBigUInt64LE(0));
}

const cString = (b: Buffer): string => b.toString('latin1').replace(/\0[\s\S]*$/, '');

// ---- Each template on a kernel ----

interface KernelSite {
  hello: HelloResult;
  session: AgentSession;
  agent: TemplateAgent;
  shell: Transport;
  cgroup: string;
}

/** The template's program and header as a compile request's files. */
function sources(dir: string, template: BpfTemplate): { path: string; content: string }[] {
  return template.files.filter((f) => f.endsWith('.bpf.c') || f.endsWith('.h')).map((path) => ({ path, content: readFileSync(join(dir, path), 'utf8') }));
}

async function compileInstance(site: KernelSite, id: TemplateId, dir: string): Promise<string> {
  const template = templates.get(id)!;
  const compiled = await site.agent.request('compile', { files: sources(dir, template), main: template.program });
  assert.equal(compiled.ok, true, compiled.stderr);
  return compiled.objectId!;
}

async function attach(site: KernelSite, objectId: string, program: string, target?: AttachTarget): Promise<string> {
  const link = await site.agent.request('attach', { objectId, program, ...(target && { target }) });
  return link.description;
}

/** How the agent must name a feature the catalogue says is missing. */
function agentWordsFor(feature: string): RegExp {
  if (feature === REQUIREMENTS.lsm || feature === 'lsm programs') return /BPF LSM/;
  const type = /^(\w+) programs$/.exec(feature);
  if (type) return new RegExp(`does not load ${type[1]} programs`);
  throw new Error(`no agent wording known for the missing feature "${feature}"`);
}

/** Per template: where its programs attach and what the trigger must make them count. */
const EXERCISES: Record<TemplateId, { programs: (site: KernelSite) => { program: string; target?: AttachTarget }[]; params?: Record<string, string>; exercise: (t: TestContext, site: KernelSite, objectId: string, descriptions: string[], dir: string) => Promise<void> }> = {
  'xdp-protocol-count': {
    params: { interface: HOST_IF },
    programs: () => [{ program: 'count_protocols', target: { kind: 'xdp', interface: HOST_IF } }],
    async exercise(_t, site, objectId, descriptions) {
      assert.match(descriptions[0]!, new RegExp(`^xdp on ${HOST_IF} \\((native|generic)\\)$`));
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT, 5);
      assert.deepEqual(await packetsAndBytes(site.agent, objectId, 'protocol_counts', IPPROTO_UDP), { packets: 5, bytes: 5 * UDP_FRAME_BYTES });
      assert.deepEqual(await packetsAndBytes(site.agent, objectId, 'protocol_counts', IPPROTO_TCP), { packets: 0, bytes: 0 });
    },
  },
  'xdp-port-drop': {
    params: { interface: HOST_IF, port: String(PORT) },
    programs: () => [{ program: 'drop_port', target: { kind: 'xdp', interface: HOST_IF } }],
    async exercise(_t, site, objectId) {
      const config = await site.agent.request('map.lookup', { objectId, map: '.data.config', key: u32(0) });
      assert.equal(Buffer.from(config.values![0]!, 'base64').readUInt16LE(0), PORT, 'the port parameter is the config map\'s initial port');
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT, 3);
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT + 1, 2);
      assert.equal(await u64At(site.agent, objectId, 'drop_counts', 0), 3, 'UDP to the configured port dropped, to another passed');
      // The live update: the same program now drops the other port only.
      const moved = Buffer.alloc(4);
      moved.writeUInt16LE(PORT + 1, 0);
      await site.agent.request('map.update', { objectId, map: '.data.config', key: u32(0), values: [moved.toString('base64')] });
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT + 1, 4);
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT, 2);
      assert.equal(await u64At(site.agent, objectId, 'drop_counts', 0), 3 + 4, 'after the map update, UDP to the new port dropped, to the old one passed');
      // A TCP connect to the dropped port never completes: its SYN (and any retransmission) is dropped.
      // Waited for by polling the count, as a loaded machine may take a while to start the connecting shell.
      // The connecting shell must be gone before the next test, or its retransmitted SYN (and the
      // host's RST once this program is detached) lands in a later test's TCP count. It is killed
      // by the namespace's pid list, as closing its channel does not stop it: OpenSSH 9.2 refuses
      // signal requests for a root login, and a shell blocked in connect() never touches its pipes.
      const connecting = await site.shell.spawn(`exec ip netns exec ${NETNS} bash -c ${shellQuote(`echo > /dev/tcp/${HOST_ADDR}/${PORT + 1}`)}`);
      connecting.stdout.resume(); // its streams must end for `exited` to resolve
      connecting.stderr.resume();
      try {
        let tcpDrops = 0;
        for (let waited = 0; tcpDrops === 0 && waited < 20_000; waited += 100) {
          await new Promise((r) => setTimeout(r, 100));
          tcpDrops = await u64At(site.agent, objectId, 'drop_counts', 1);
        }
        assert.ok(tcpDrops >= 1, 'the TCP SYN to the dropped port was dropped');
      } finally {
        await sh(site.shell, `ip netns pids ${NETNS} | xargs -r kill -KILL 2>/dev/null || true`); // one may exit meanwhile
        connecting.kill();
        await connecting.exited;
      }
    },
  },
  'tc-egress': {
    params: { interface: HOST_IF },
    programs: () => [{ program: 'classify_egress', target: { kind: 'tc', interface: HOST_IF, direction: 'egress' } }],
    async exercise(_t, site, objectId, descriptions) {
      // tcx where the kernel probed it, else a clsact qdisc with a filter.
      if (site.hello.features.tcx) assert.equal(descriptions[0], `tc egress on ${HOST_IF} (tcx)`);
      else assert.match(descriptions[0]!, new RegExp(`^tc egress on ${HOST_IF} \\(clsact filter, handle \\d+, priority \\d+\\)$`));
      await sendUdp(site.shell, 'host', PEER_ADDR, PORT, 6);
      assert.deepEqual(await packetsAndBytes(site.agent, objectId, 'egress_counts', IPPROTO_UDP), { packets: 6, bytes: 6 * UDP_FRAME_BYTES });
    },
  },
  'cgroup-skb-traffic': {
    programs: (s) => [
      { program: 'count_ingress', target: { kind: 'cgroup', path: s.cgroup } },
      { program: 'count_egress', target: { kind: 'cgroup', path: s.cgroup } },
    ],
    async exercise(_t, site, objectId, descriptions) {
      assert.deepEqual(descriptions, [`cgroup ${site.cgroup}`, `cgroup ${site.cgroup}`]);
      // Only this ping is in the cgroup, and in the namespace: its raw socket sees its own replies only.
      await sh(site.shell, `echo $$ > ${shellQuote(`${site.cgroup}/cgroup.procs`)} && exec ip netns exec ${NETNS} ping -n -q -c 4 -i 0.2 -W 5 ${HOST_ADDR} >/dev/null`);
      assert.deepEqual(await packetsAndBytes(site.agent, objectId, 'traffic', 0), { packets: 4, bytes: 4 * PING_IP_BYTES }, 'received: the echo replies');
      assert.deepEqual(await packetsAndBytes(site.agent, objectId, 'traffic', 1), { packets: 4, bytes: 4 * PING_IP_BYTES }, 'sent: the echo requests');
    },
  },
  'socket-filter': {
    params: { interface: HOST_IF },
    programs: () => [{ program: 'count_by_protocol', target: { kind: 'socket_filter', interface: HOST_IF } }],
    async exercise(_t, site, objectId, descriptions) {
      assert.equal(descriptions[0], `socket_filter on ${HOST_IF} (packet socket)`);
      await sendUdp(site.shell, 'netns', HOST_ADDR, PORT, 7);
      assert.equal(await u64At(site.agent, objectId, 'packet_counts', IPPROTO_UDP), 7);
      assert.equal(await u64At(site.agent, objectId, 'packet_counts', IPPROTO_TCP), 0);
    },
  },
  'perf-sampling': {
    programs: () => [{ program: 'on_sample', target: { kind: 'perf_event', event: 'cpu-clock', period: 1_000_000 } }],
    async exercise(t, site, objectId, descriptions) {
      assert.equal(descriptions[0], 'perf_event cpu-clock every 1000000 events on every CPU');
      // A shell spinning for two seconds of wall time: the 1 ms cpu-clock lands in it many times.
      const out = await sh(site.shell, `bash -c 'echo $$; end=$((SECONDS + 2)); while [ $SECONDS -lt $end ]; do :; done'`);
      const pid = Number(out.trim());
      // struct sample_key: u32 pid, s32 kernel_stack_id, s32 user_stack_id, char comm[16].
      const mine = (await dumpMap(site.agent, objectId, 'sample_counts'))
        .map((e) => ({ pid: e.key.readUInt32LE(0), userStack: e.key.readInt32LE(8), comm: cString(e.key.subarray(12, 28)), count: Number(e.values[0]!.readBigUInt64LE(0)) }))
        .filter((k) => k.pid === pid);
      // Samples taken while the pid was still its parent's fork, before exec, carry the parent's comm.
      const spinning = mine.filter((k) => k.comm === 'bash');
      const samples = spinning.reduce((sum, k) => sum + k.count, 0);
      t.diagnostic(`${samples} samples of the spinning shell (pid ${pid}) in ${spinning.length} distinct stacks; comms of that pid: ${[...new Set(mine.map((k) => k.comm))].join(', ')}`);
      assert.ok(samples >= 10, `at least 10 cpu-clock samples landed in the spinning shell (got ${samples})`);
      const withUserStack = spinning.find((k) => k.userStack >= 0);
      assert.ok(withUserStack, 'a sample in user space has a user stack id');
      const stack = await site.agent.request('map.lookup', { objectId, map: 'stacks', key: u32(withUserStack.userStack) });
      assert.ok(stack.values, 'its stack id is a key of the stacks map');
      assert.notEqual(Buffer.from(stack.values[0]!, 'base64').readBigUInt64LE(0), 0n, 'whose first frame is an address');
    },
  },
  'lsm-deny-policy': {
    programs: () => [{ program: 'deny_file_open' }],
    async exercise(_t, site, objectId, descriptions) {
      assert.equal(descriptions[0], 'lsm file_open');
      const base = `ebpf-studio-tpl-${tag}`;
      const denied = `/tmp/${base}-denied`;
      const allowed = `/tmp/${base}-allowed`;
      const events: Buffer[] = [];
      const { streamId } = await site.agent.request('stream.start', { objectId, map: 'audit_events', maxLatencyMs: 10 });
      const listening = site.session.client.onNotification('events', (batch: EventsNotification) => {
        if (batch.streamId !== streamId) return;
        const data = Buffer.from(batch.data, 'base64');
        let at = 0;
        for (const size of batch.sizes) {
          events.push(data.subarray(at, at + size));
          at += size;
        }
      });
      try {
        // The policy: the basename, NUL-padded to NAME_LEN (64), as the loader writes it.
        const key = Buffer.alloc(64);
        key.write(`${base}-denied`, 'latin1');
        await site.agent.request('map.update', { objectId, map: 'deny', key: key.toString('base64'), values: [Buffer.from([1]).toString('base64')] });
        const opened = await site.shell.run(`for i in 1 2 3; do cat ${denied}; done; cat ${allowed}`);
        assert.equal(opened.exitCode, 0, 'the file not in the policy opens');
        assert.equal(opened.stdout, 'allowed');
        assert.equal(opened.stderr.match(/Operation not permitted/g)?.length, 3, opened.stderr);
        for (let waited = 0; events.length < 3 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
        // struct audit_event: u32 pid, u32 uid, char comm[16], char name[64].
        const decoded = events.map((e) => ({ uid: e.readUInt32LE(4), comm: cString(e.subarray(8, 24)), name: cString(e.subarray(24, 88)) }));
        assert.deepEqual(decoded, Array(3).fill({ uid: 0, comm: 'cat', name: `${base}-denied` }));
      } finally {
        listening.dispose();
      }
    },
  },
  'task-iter': {
    programs: () => [{ program: 'dump_task' }],
    async exercise(_t, site, _objectId, descriptions) {
      // The agent makes the iterator's link; reading an iterator is the loader's job (bpf_iter_create).
      assert.equal(descriptions[0], 'iter task');
      const { dir } = await buildLoader('task-iter');
      const out = await sh(site.shell, `sleep 60 & echo "$! $$"; ${shellQuote(join(dir, 'task_iter'))}; status=$?; kill $!; exit $status`);
      const [ids, header, ...tasks] = out.trimEnd().split('\n');
      const [sleepPid, shellPid] = ids!.split(' ').map(Number);
      assert.equal(header, '    TGID      TID     PPID COMM');
      const line = (tgid: number, tid: number, ppid: number, comm: string) => `${String(tgid).padStart(8)} ${String(tid).padStart(8)} ${String(ppid).padStart(8)} ${comm}`;
      assert.ok(tasks.includes(line(sleepPid!, sleepPid!, shellPid!, 'sleep')), `the iterator lists the test's sleep (pid ${sleepPid}, parent ${shellPid}):\n${out}`);
    },
  },
};

async function templateOnKernel(t: TestContext, site: KernelSite, id: TemplateId): Promise<void> {
  const template = templates.get(id)!;
  const exercise = EXERCISES[id];
  const dir = instantiate(id, exercise.params);
  const reason = notRunnableReason(template, site.hello.features);
  const objectId = await compileInstance(site, id, dir);
  try {
    const programs = exercise.programs(site);
    if (reason !== undefined) {
      // The catalogue says this kernel cannot run it: the agent must refuse, naming what is missing.
      await assert.rejects(attach(site, objectId, programs[0]!.program, programs[0]!.target), (error: unknown) => {
        assert.ok(error instanceof AgentError, String(error));
        assert.equal(error.code, ErrorCode.KernelFeatureMissing, error.message);
        for (const feature of missingFeatures(template, site.hello.features)) assert.match(error.message, agentWordsFor(feature));
        return true;
      });
      t.diagnostic(`${id}: refused as the catalogue says (${reason})`);
      return;
    }
    const descriptions: string[] = [];
    for (const p of programs) descriptions.push(await attach(site, objectId, p.program, p.target));
    await exercise.exercise(t, site, objectId, descriptions, dir);
  } finally {
    await site.agent.request('release', { objectId });
  }
}

const kernels = testKernels();
for (const kernel of kernels) {
  test(`the network, perf, LSM and iterator templates on ${kernel.label}: attached with their parameters, they count what the trigger does, or are refused naming the missing feature`, { timeout: 900_000, skip: missing ?? false }, async (t) => {
    await templatesOnKernel(t, kernel);
  });
}

async function templatesOnKernel(t: TestContext, kernel: TestKernel): Promise<void> {
  const target = await readyTarget(kernel);
  const { session, agent, shell } = await openKernel(target);
  let cgroup: string | undefined;
  t.after(async () => {
    await session.dispose();
    await removeNetworkAndCgroup(shell, cgroup);
    await shell.run(`rm -f /tmp/ebpf-studio-tpl-${tag}-*`);
    await shell.dispose();
  });
  const { hello } = session;
  cgroup = await prepareNetworkAndCgroup(shell);
  await sh(shell, `printf secret > /tmp/ebpf-studio-tpl-${tag}-denied && printf allowed > /tmp/ebpf-studio-tpl-${tag}-allowed`);
  const site: KernelSite = { hello, session, agent, shell, cgroup };
  t.diagnostic(`${kernel.label} (${target}, kernel ${hello.kernelRelease}): lsm=${hello.features.lsm} tcx=${hello.features.tcx} tracing programs=${hello.features.programTypes.includes('tracing')}`);
  for (const id of TEMPLATE_IDS) {
    const reason = notRunnableReason(templates.get(id)!, hello.features);
    await t.test(reason === undefined ? `${id} fires` : `${id} is refused: ${reason}`, async (tt) => templateOnKernel(tt, site, id));
  }
}
