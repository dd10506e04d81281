/**
 * The C agent attaching programs to the real kernel, streaming their ring buffers and perf
 * buffers, following trace_pipe, reading and writing maps, and tearing everything down when its
 * client goes away. Raw JSON lines against the AddressSanitizer build; every agent's stderr must
 * be free of sanitizer reports. Needs root and BPF; the XDP and tc tests build their own network
 * namespace with a veth pair and remove it afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_PROTOCOL_VERSION, ErrorCode } from '../../remote-agent/protocol';

const repo = join(import.meta.dirname, '..', '..');
const agentDir = join(repo, 'remote-agent', 'agent');
const agentBinary = join(agentDir, 'build', 'ebpf-agent-asan');
const fixtures = join(repo, 'test', 'fixtures', 'programs');
const scratch = mkdtempSync(join(tmpdir(), 'agent-attach-'));

interface Message {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: any;
  result?: any;
  error?: { code: number; message: string; data?: any };
}

/** One agent process: requests and their replies, notifications kept apart for the test to await. */
class Agent {
  readonly child: ChildProcessWithoutNullStreams;
  readonly cacheDir = mkdtempSync(join(scratch, 'cache-'));
  stderr = '';
  notifications: Message[] = [];
  private pending = new Map<number, (m: Message) => void>();
  private notificationWaiters: Array<() => void> = [];
  private nextId = 1;
  readonly exited: Promise<number | null>;

  constructor() {
    this.child = spawn(agentBinary, ['--cache-dir', this.cacheDir], {
      env: { ...process.env, TMPDIR: scratch, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      const message = JSON.parse(line) as Message;
      if (message.id === undefined) {
        this.notifications.push(message);
        for (const wake of this.notificationWaiters.splice(0)) wake();
      } else {
        this.pending.get(message.id as number)?.(message);
        this.pending.delete(message.id as number);
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  request(method: string, params: unknown = {}): Promise<Message> {
    const id = this.nextId++;
    const reply = new Promise<Message>((resolve) => this.pending.set(id, resolve));
    this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    return reply;
  }

  async ok(method: string, params: unknown = {}): Promise<any> {
    const reply = await this.request(method, params);
    assert.equal(reply.error, undefined, `${method}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  }

  /** Waits until a notification satisfies @match (checking those already received first). */
  async waitFor(match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.notifications.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching notification within ${timeoutMs} ms; got ${this.notifications.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.notificationWaiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  async close(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }
}

function source(name: string) {
  const files = [{ path: name, content: readFileSync(join(fixtures, name), 'utf8') }];
  const header = readFileSync(join(fixtures, 'attach_events.h'), 'utf8');
  files.push({ path: 'attach_events.h', content: header });
  return { files, main: name };
}

async function compile(agent: Agent, name: string): Promise<string> {
  const result = await agent.ok('compile', source(name));
  assert.equal(result.ok, true, result.stderr);
  return result.objectId;
}

function assertNoSanitizerReport(stderr: string): void {
  assert.doesNotMatch(stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, stderr);
}

/** The records of `events` notifications of one stream, split by their sizes. */
function records(agent: Agent, streamId: string): Buffer[] {
  const out: Buffer[] = [];
  for (const n of agent.notifications) {
    if (n.method !== 'events' || n.params.streamId !== streamId) continue;
    const data = Buffer.from(n.params.data, 'base64');
    let offset = 0;
    for (const size of n.params.sizes as number[]) {
      out.push(data.subarray(offset, offset + size));
      offset += size;
    }
    assert.equal(offset, data.length, 'sizes add up to the data');
  }
  return out;
}

/** struct exec_event of attach_events.h: u32 pid, u32 uid, char comm[16]. */
function decodeExecEvent(record: Buffer) {
  assert.equal(record.length, 24);
  return { pid: record.readUInt32LE(0), uid: record.readUInt32LE(4), comm: record.subarray(8, 24).toString('latin1').replace(/\0.*$/s, '') };
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

function u64(text: string): bigint {
  return Buffer.from(text, 'base64').readBigUInt64LE(0);
}

function vmRssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'attaching BPF programs needs root';
  try {
    accessSync('/sys/kernel/btf/vmlinux', constants.R_OK);
  } catch {
    return 'the kernel has no BTF at /sys/kernel/btf/vmlinux';
  }
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('ping', ['-V']).status !== 0) return 'ping is not installed (apt-get install iputils-ping)';
  return null;
}

const skipReason = missingPrerequisite();
if (skipReason && process.env.CI === 'true') {
  test('agent attach prerequisites', () => assert.fail(`agent attach tests cannot run here: ${skipReason}`));
}
const t = skipReason ? test.skip : test;

// A network namespace with one end of a veth pair; the host keeps the other end.
const netns = `ebpfst${process.pid}`;
const hostIf = `est${process.pid % 100000}a`;
const nsIf = `est${process.pid % 100000}b`;
const hostAddr = '10.251.7.1';
const nsAddr = '10.251.7.2';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function ping(count: number): void {
  execFileSync('ping', ['-c', String(count), '-i', '0.2', '-W', '2', '-q', nsAddr], { stdio: 'pipe' });
}

let agent: Agent;

before(() => {
  if (skipReason) return;
  execFileSync('make', ['-s', '-C', agentDir, 'SANITIZE=1'], { stdio: 'inherit' });
  ip('netns', 'add', netns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', netns);
  ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', netns, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf);
  ip('-n', netns, 'link', 'set', nsIf, 'up');
  ip('-n', netns, 'link', 'set', 'lo', 'up');
  ping(1); // ARP resolved before anything counts packets
  agent = new Agent();
});

after(async () => {
  if (agent && agent.child.exitCode === null) await agent.close();
  spawnSync('ip', ['link', 'del', hostIf]);
  spawnSync('ip', ['netns', 'del', netns]);
  rmSync(scratch, { recursive: true, force: true });
});

t('hello reports protocol 2 and the kernel features probed at start', async () => {
  const hello = await agent.ok('hello', { clientVersion: 'agentAttach.test' });
  assert.equal(hello.protocolVersion, AGENT_PROTOCOL_VERSION);
  assert.equal(hello.protocolVersion, 2);
  const f = hello.features;
  assert.equal(f.kprobeEvents, existsSync('/sys/bus/event_source/devices/kprobe'));
  assert.equal(f.uprobeEvents, existsSync('/sys/bus/event_source/devices/uprobe'));
  assert.equal(f.ringbuf, true);
  assert.equal(f.tracefs, '/sys/kernel/tracing');
  assert.equal(f.bpffs, '/sys/fs/bpf');
  assert.ok(f.programTypes.includes('xdp') && f.programTypes.includes('tracepoint'));
  assert.ok(f.mapTypes.includes('ringbuf') && f.mapTypes.includes('percpu_array'));
  assert.ok(hello.capabilities.includes('attach') && hello.capabilities.includes('btf.vmlinux'));
});

t('probe.helpers gives real per-type answers (bpf_skb_load_bytes: sched_cls yes, tracepoint no) and GPL-only helpers', async () => {
  const started = Date.now();
  const probe = await agent.ok('probe.helpers');
  const firstMs = Date.now() - started;
  assert.ok(probe.helpersByProgramType.sched_cls.includes('bpf_skb_load_bytes'));
  assert.ok(!probe.helpersByProgramType.tracepoint.includes('bpf_skb_load_bytes'));
  assert.ok(probe.helpersByProgramType.tracepoint.includes('bpf_get_current_pid_tgid'));
  assert.ok(probe.helpersByProgramType.perf_event.includes('bpf_perf_prog_read_value'));
  assert.ok(!probe.helpersByProgramType.xdp.includes('bpf_perf_prog_read_value'));
  assert.ok(probe.gplOnly.includes('bpf_trace_printk'));
  assert.ok(!probe.gplOnly.includes('bpf_map_lookup_elem'));
  const again = Date.now();
  assert.deepEqual(await agent.ok('probe.helpers'), probe, 'the second answer comes from the cache');
  console.log(`probe.helpers: ${firstMs} ms probing, ${Date.now() - again} ms from the cache`);
});

t('a tracepoint with a ring buffer streams the execve of a child with its pid', async () => {
  const objectId = await compile(agent, 'exec_ringbuf.bpf.c');
  const before = await agent.ok('object.maps', { objectId });
  assert.deepEqual(before.maps.map((m: any) => [m.name, m.type, m.mapId]), [['events', 'ringbuf', null]]);
  const link = await agent.ok('attach', { objectId, program: 'on_execve' });
  assert.match(link.linkId, /^link-\d+$/);
  assert.equal(link.description, 'tracepoint syscalls/sys_enter_execve');
  assert.ok(link.programId > 0);
  assert.equal(link.pinnedPath, null);
  const afterLoad = await agent.ok('object.maps', { objectId });
  assert.ok(afterLoad.maps[0].mapId > 0);
  const stream = await agent.ok('stream.start', { objectId, map: 'events', maxLatencyMs: 10 });
  assert.equal(stream.kind, 'ringbuf');
  const child = spawnSync('/bin/true');
  const childPid = child.pid!;
  await agent.waitFor(() => records(agent, stream.streamId).some((r) => decodeExecEvent(r).pid === childPid));
  const event = records(agent, stream.streamId).map(decodeExecEvent).find((e) => e.pid === childPid)!;
  assert.equal(event.uid, 0);
  assert.equal(event.comm, 'node', 'sys_enter_execve runs before the new image replaces the comm');
  const counters = await agent.ok('stream.stop', { streamId: stream.streamId });
  assert.ok(counters.received >= 1);
  assert.equal(counters.sent, counters.received);
  assert.equal(counters.dropped, 0);
  assert.deepEqual(await agent.ok('detach', { linkId: link.linkId }), {});
  const again = await agent.request('detach', { linkId: link.linkId });
  assert.equal(again.error?.code, ErrorCode.UnknownHandle);
  await agent.ok('release', { objectId });
});

t('a perf event array streams as kind "perf"', async () => {
  const objectId = await compile(agent, 'perfbuf.bpf.c');
  await agent.ok('attach', { objectId, program: 'on_execve_perf' });
  const stream = await agent.ok('stream.start', { objectId, map: 'exec_events', maxLatencyMs: 10 });
  assert.equal(stream.kind, 'perf');
  const childPid = spawnSync('/bin/true').pid!;
  await agent.waitFor(() => records(agent, stream.streamId).some((r) => r.length >= 24 && r.readUInt32LE(0) === childPid));
  await agent.ok('release', { objectId });
  const ended = await agent.waitFor((m) => m.method === 'stream.ended' && m.params.streamId === stream.streamId);
  assert.equal(ended.params.reason, `Object ${objectId} was released.`);
});

t('bpf_printk output arrives as trace notifications', async () => {
  const objectId = await compile(agent, 'printk.bpf.c');
  await agent.ok('attach', { objectId, program: 'say_execve' });
  assert.deepEqual(await agent.ok('trace.start'), {});
  const second = await agent.request('trace.start');
  assert.equal(second.error?.code, ErrorCode.InvalidParams);
  const childPid = spawnSync('/bin/true').pid!;
  const line = `ebpf-studio saw execve from pid ${childPid}`;
  await agent.waitFor((m) => m.method === 'trace' && m.params.lines.some((l: string) => l.endsWith(line)));
  const stopped = await agent.ok('trace.stop');
  assert.ok(stopped.received >= 1 && stopped.sent >= 1);
  await agent.ok('release', { objectId });
});

t('xdp on a veth counts the ping replies it receives, read per CPU with map.lookup', async () => {
  const objectId = await compile(agent, 'xdp_count.bpf.c');
  const link = await agent.ok('attach', { objectId, program: 'count_icmp', target: { kind: 'xdp', interface: hostIf } });
  assert.equal(link.description, `xdp on ${hostIf} (native)`);
  assert.match(execFileSync('ip', ['link', 'show', hostIf], { encoding: 'utf8' }), /xdp/);
  ping(3);
  const looked = await agent.ok('map.lookup', { objectId, map: 'icmp_packets', key: u32(0) });
  const cpus = Number(readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split('-').pop()) + 1;
  assert.equal(looked.values.length, cpus, 'one value per possible CPU');
  assert.equal(looked.values.reduce((sum: bigint, v: string) => sum + u64(v), 0n), 3n);
  await agent.ok('detach', { linkId: link.linkId });
  assert.doesNotMatch(execFileSync('ip', ['link', 'show', hostIf], { encoding: 'utf8' }), /xdp/);
  ping(1);
  const afterDetach = await agent.ok('map.lookup', { objectId, map: 'icmp_packets', key: u32(0) });
  assert.equal(afterDetach.values.reduce((sum: bigint, v: string) => sum + u64(v), 0n), 3n, 'detached: no more counting');
  await agent.ok('release', { objectId });
});

t('tc egress on a veth counts the ping requests by protocol; map.dump pages through the hash', async () => {
  const objectId = await compile(agent, 'tc_count.bpf.c');
  const link = await agent.ok('attach', { objectId, program: 'count_egress', target: { kind: 'tc', interface: hostIf, direction: 'egress' } });
  assert.equal(link.description, `tc egress on ${hostIf} (tcx)`);
  ping(4);
  const dump = await agent.ok('map.dump', { objectId, map: 'by_protocol' });
  assert.equal(dump.nextCursor, null);
  const icmp = dump.entries.find((e: any) => Buffer.from(e.key, 'base64').readUInt32LE(0) === 1);
  assert.equal(u64(icmp.values[0]), 4n);
  // writes, then pages of one entry each
  await agent.ok('map.update', { objectId, map: 'by_protocol', key: u32(200), values: [Buffer.alloc(8, 1).toString('base64')] });
  const exists = await agent.request('map.update', { objectId, map: 'by_protocol', key: u32(200), values: [Buffer.alloc(8).toString('base64')], flags: 'noexist' });
  assert.equal(exists.error?.code, ErrorCode.InvalidParams);
  const page1 = await agent.ok('map.dump', { objectId, map: 'by_protocol', limit: 1 });
  assert.equal(page1.entries.length, 1);
  assert.notEqual(page1.nextCursor, null);
  const keys = [page1.entries[0].key];
  let cursor = page1.nextCursor;
  while (cursor) {
    const page = await agent.ok('map.dump', { objectId, map: 'by_protocol', limit: 1, cursor });
    keys.push(...page.entries.map((e: any) => e.key));
    cursor = page.nextCursor;
  }
  assert.deepEqual(keys.sort(), dump.entries.map((e: any) => e.key).concat(u32(200)).sort());
  assert.deepEqual(await agent.ok('map.delete', { objectId, map: 'by_protocol', key: u32(200) }), { deleted: true });
  assert.deepEqual(await agent.ok('map.delete', { objectId, map: 'by_protocol', key: u32(200) }), { deleted: false });
  assert.deepEqual(await agent.ok('map.lookup', { objectId, map: 'by_protocol', key: u32(200) }), { values: null });
  const badKey = await agent.request('map.lookup', { objectId, map: 'by_protocol', key: Buffer.alloc(3).toString('base64') });
  assert.equal(badKey.error?.message, 'params.key is 3 bytes; the map\'s key size is 4 bytes.');
  await agent.ok('detach', { linkId: link.linkId });
  await agent.ok('release', { objectId });
});

t('a uprobe on a freshly built binary counts its calls and sees the argument', async () => {
  const binary = join(scratch, 'uprobe_target');
  execFileSync('cc', ['-O0', '-g', '-o', binary, join(fixtures, 'uprobe_target.c')]);
  const objectId = await compile(agent, 'uprobe.bpf.c');
  const link = await agent.ok('attach', { objectId, program: 'on_target_function', target: { kind: 'uprobe', binary, symbol: 'target_function' } });
  assert.equal(link.description, `uprobe ${binary}:target_function+0`);
  execFileSync(binary, ['5']);
  const dump = await agent.ok('map.dump', { objectId, map: 'calls' });
  assert.deepEqual(dump.entries.map((e: any) => u64(e.values[0])), [5n, 5n]);
  const noSymbol = await agent.request('attach', { objectId, program: 'on_target_function', target: { kind: 'uprobe', binary, symbol: 'no_such_function' } });
  assert.equal(noSymbol.error?.code, ErrorCode.AttachFailed);
  const relative = await agent.request('attach', { objectId, program: 'on_target_function', target: { kind: 'uprobe', binary: 'bin/true', symbol: 'main' } });
  assert.equal(relative.error?.message, 'params.target.binary "bin/true" must be an absolute path.');
  const neither = await agent.request('attach', { objectId, program: 'on_target_function', target: { kind: 'uprobe', binary } });
  assert.equal(neither.error?.message, 'params.target needs a symbol or an offset in the binary.');
  await agent.ok('release', { objectId });
});

t('attach of an object with a rejected program is ObjectLoadFailed naming the program and the verifier message', async () => {
  const compiled = await agent.ok('compile', { files: [{ path: 'two-programs.bpf.c', content: readFileSync(join(fixtures, 'two-programs.bpf.c'), 'utf8') }], main: 'two-programs.bpf.c' });
  const reply = await agent.request('attach', { objectId: compiled.objectId, program: 'count_ok' });
  assert.equal(reply.error?.code, ErrorCode.ObjectLoadFailed);
  assert.equal(reply.error?.message, `Object ${compiled.objectId} could not be loaded: program count_unchecked was refused by the verifier: R0 invalid mem access 'map_value_or_null'`);
  assert.deepEqual(reply.error?.data.programs.map((p: any) => [p.name, p.ok, p.errno]), [['count_unchecked', false, -13]]);
  assert.match(reply.error?.data.libbpfLog, /prog 'count_unchecked': BPF program load failed/);
  await agent.ok('release', { objectId: compiled.objectId });
});

t('a kprobe on a kernel without CONFIG_KPROBE_EVENTS is KernelFeatureMissing, at once', async (context) => {
  if (existsSync('/sys/bus/event_source/devices/kprobe')) return context.skip('this kernel has kprobe events');
  const objectId = await compile(agent, 'kprobe.bpf.c');
  const expected = 'kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set); use a tracepoint, fentry (if available) or a uprobe instead';
  const auto = await agent.request('attach', { objectId, program: 'on_openat' });
  assert.deepEqual(auto.error, { code: ErrorCode.KernelFeatureMissing, message: expected });
  const explicit = await agent.request('attach', { objectId, program: 'on_openat', target: { kind: 'kprobe', function: 'do_sys_openat2' } });
  assert.deepEqual(explicit.error, { code: ErrorCode.KernelFeatureMissing, message: expected });
  await agent.ok('release', { objectId });
});

t('socket_filter, cgroup_skb and perf_event programs attach and run', async () => {
  const bss = async (objectId: string) => {
    const maps = await agent.ok('object.maps', { objectId });
    const name = maps.maps.find((m: any) => m.name.endsWith('.bss')).name;
    return u64((await agent.ok('map.lookup', { objectId, map: name, key: u32(0) })).values[0]);
  };
  const socketObject = await compile(agent, 'socket_filter.bpf.c');
  const sock = await agent.ok('attach', { objectId: socketObject, program: 'count_packets', target: { kind: 'socket_filter', interface: hostIf } });
  assert.equal(sock.description, `socket_filter on ${hostIf} (packet socket)`);
  ping(2);
  assert.ok((await bss(socketObject)) >= 4n, 'two requests out, two replies in');

  const cgroupObject = await compile(agent, 'cgroup_skb.bpf.c');
  const cgroup2 = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')![1];
  const cg = await agent.ok('attach', { objectId: cgroupObject, program: 'count_egress', target: { kind: 'cgroup', path: cgroup2 } });
  assert.equal(cg.description, `cgroup ${cgroup2}`);
  ping(1);
  assert.ok((await bss(cgroupObject)) >= 1n);

  const perfObject = await compile(agent, 'perf_event.bpf.c');
  const perf = await agent.ok('attach', { objectId: perfObject, program: 'on_sample', target: { kind: 'perf_event', event: 'cpu-clock', frequency: 1000 } });
  assert.equal(perf.description, 'perf_event cpu-clock every 1000 Hz on every CPU');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok((await bss(perfObject)) > 0n);
  for (const objectId of [socketObject, cgroupObject, perfObject]) await agent.ok('release', { objectId });
});

t('bad attach params name the field; a target that does not fit the program says so', async () => {
  const objectId = await compile(agent, 'xdp_count.bpf.c');
  const noIf = await agent.request('attach', { objectId, program: 'count_icmp', target: { kind: 'xdp', interface: 'nope0' } });
  assert.deepEqual(noIf.error, { code: ErrorCode.InvalidParams, message: 'params.target.interface: there is no network interface named "nope0" on this host (see `ip link`).' });
  const wrongKind = await agent.request('attach', { objectId, program: 'count_icmp', target: { kind: 'tc', interface: hostIf, direction: 'egress' } });
  assert.equal(wrongKind.error?.message, 'params.target.kind "tc" does not fit program count_icmp, a xdp program (SEC("xdp")).');
  const needsTarget = await agent.request('attach', { objectId, program: 'count_icmp' });
  assert.equal(needsTarget.error?.code, ErrorCode.InvalidParams);
  assert.match(needsTarget.error!.message, /cannot be attached by its section alone; give params\.target/);
  const badMode = await agent.request('attach', { objectId, program: 'count_icmp', target: { kind: 'xdp', interface: hostIf, mode: 'turbo' } });
  assert.equal(badMode.error?.message, 'params.target.mode "turbo" must be one of "native", "generic", "offload".');
  const noProgram = await agent.request('attach', { objectId, program: 'missing' });
  assert.equal(noProgram.error?.message, `params.program: object ${objectId} has no program named "missing".`);
  const generic = await agent.ok('attach', { objectId, program: 'count_icmp', target: { kind: 'xdp', interface: hostIf, mode: 'generic' } });
  assert.equal(generic.description, `xdp on ${hostIf} (generic)`);
  await agent.ok('release', { objectId });
  assert.doesNotMatch(execFileSync('ip', ['link', 'show', hostIf], { encoding: 'utf8' }), /xdp/, 'release detached it');
});

t('a pinned link lives under <bpffs>/ebpf-studio; unpin accepts only paths there', async () => {
  const objectId = await compile(agent, 'exec_ringbuf.bpf.c');
  const link = await agent.ok('attach', { objectId, program: 'on_execve', pin: true });
  assert.match(link.pinnedPath, /^\/sys\/fs\/bpf\/ebpf-studio\/on_execve_link-\d+_\d+$/);
  assert.ok(existsSync(link.pinnedPath));
  for (const path of ['/etc/passwd', '/sys/fs/bpf/ebpf-studio/../ebpf-studio-x', '/sys/fs/bpf/ebpf-studio']) {
    const refused = await agent.request('unpin', { path });
    assert.equal(refused.error?.code, ErrorCode.InvalidParams, path);
  }
  assert.deepEqual(await agent.ok('unpin', { path: link.pinnedPath }), {});
  assert.equal(existsSync(link.pinnedPath), false);
  await agent.ok('release', { objectId });
});

t('host.programs and host.maps list ours; btf.vmlinux is the kernel BTF', async () => {
  const objectId = await compile(agent, 'exec_ringbuf.bpf.c');
  const link = await agent.ok('attach', { objectId, program: 'on_execve' });
  const programs = (await agent.ok('host.programs')).programs;
  const ours = programs.find((p: any) => p.id === link.programId);
  assert.equal(ours.ours, true);
  assert.equal(ours.type, 'tracepoint');
  assert.equal(ours.name, 'on_execve');
  assert.match(ours.tag, /^[0-9a-f]{16}$/);
  assert.equal(ours.mapIds.length, 1);
  assert.ok(Math.abs(ours.loadTime - Date.now() / 1000) < 60);
  assert.ok(programs.filter((p: any) => p.ours).length >= 1);
  const maps = (await agent.ok('host.maps')).maps;
  assert.equal(maps.find((m: any) => m.id === ours.mapIds[0]).ours, true);
  const btf = await agent.ok('btf.vmlinux');
  assert.ok(Buffer.from(btf.data, 'base64').equals(readFileSync('/sys/kernel/btf/vmlinux')));
  await agent.ok('release', { objectId });
});

/** A process that calls getpid() @calls times once a line arrives on its stdin, pausing 20 ms
 * after every @pauseEvery calls (0: never) so a burst never outgrows the 16 MiB ring buffer. */
function floodDriver(calls: number, pauseEvery: number) {
  const binary = join(scratch, 'getpid_flood');
  if (!existsSync(binary)) {
    writeFileSync(`${binary}.c`, '#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n#include <sys/syscall.h>\nint main(int c, char **v) { long n = atol(v[1]), every = atol(v[2]); getchar(); for (long i = 0; i < n; i++) { syscall(SYS_getpid); if (every && i % every == every - 1) usleep(20000); } return 0; }\n');
    execFileSync('cc', ['-O2', '-o', binary, `${binary}.c`]);
  }
  const child = spawn(binary, [String(calls), String(pauseEvery)]);
  return { pid: child.pid!, go: () => child.stdin.end('\n'), done: new Promise((resolve) => child.on('exit', resolve)) };
}

async function startFlood(a: Agent, perCall: number, calls: number, pauseEvery: number, streamParams: object) {
  const objectId = await compile(a, 'flood.bpf.c');
  await a.ok('attach', { objectId, program: 'on_getpid' });
  const driver = floodDriver(calls, pauseEvery);
  await a.ok('map.update', { objectId, map: 'flood_config', key: u32(0), values: [u32(driver.pid)] });
  await a.ok('map.update', { objectId, map: 'flood_config', key: u32(1), values: [u32(perCall)] });
  const stream = await a.ok('stream.start', { objectId, map: 'flood', ...streamParams });
  return { objectId, driver, stream };
}

t('throughput: a fast reader gets all of 1,280,000 32-byte records at over 300,000/s; requests are answered meanwhile', async () => {
  const perCall = 64;
  const calls = 20000;
  const total = perCall * calls;
  const { driver, stream } = await startFlood(agent, perCall, calls, 500, {});
  let received = 0;
  const started = process.hrtime.bigint();
  driver.go();
  const hello = await agent.ok('hello', { clientVersion: 'during the flood' });
  assert.equal(hello.protocolVersion, 2);
  await driver.done;
  for (;;) {
    received = agent.notifications.filter((n) => n.method === 'events' && n.params.streamId === stream.streamId).reduce((s, n) => s + n.params.sizes.length, 0);
    if (received >= total) break;
    await agent.waitFor(() => false, 200).catch(() => undefined);
    if (Number(process.hrtime.bigint() - started) > 30e9) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const counters = await agent.ok('stream.stop', { streamId: stream.streamId });
  console.log(`flood: ${counters.received} records in ${seconds.toFixed(2)} s = ${Math.round(counters.received / seconds)} records/s, dropped ${counters.dropped}`);
  assert.equal(counters.received, total, 'the kernel ring buffer lost nothing');
  assert.equal(counters.dropped, 0);
  assert.equal(counters.sent, total);
  assert.ok(total / seconds > 300000, `${Math.round(total / seconds)} records/s`);
  agent.notifications = agent.notifications.filter((n) => n.params?.streamId !== stream.streamId);
});

t('a slow reader makes the agent drop whole records and count them; its memory stays bounded', async () => {
  const slow = new Agent();
  try {
    await slow.ok('hello', { clientVersion: 'slow reader' });
    const { driver, stream } = await startFlood(slow, 64, 20000, 0, { queueLimitBytes: 1 << 20, maxLatencyMs: 5 });
    const rssBefore = vmRssKiB(slow.child.pid!);
    slow.child.stdout.pause();
    driver.go();
    await driver.done;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssDuring = vmRssKiB(slow.child.pid!);
    slow.child.stdout.resume();
    const counters = await slow.ok('stream.stop', { streamId: stream.streamId });
    console.log(`slow reader: received ${counters.received}, sent ${counters.sent}, dropped ${counters.dropped}; VmRSS ${rssBefore} -> ${rssDuring} KiB`);
    assert.ok(counters.dropped > 0);
    assert.equal(counters.received, counters.sent + counters.dropped);
    assert.ok(rssDuring - rssBefore < 48 * 1024, `RSS grew by ${rssDuring - rssBefore} KiB`);
    const got = records(slow, stream.streamId);
    assert.equal(got.length, counters.sent);
    assert.ok(got.every((r) => r.length === 32), 'only whole records');
    assert.equal(await slow.close(), 0);
    assertNoSanitizerReport(slow.stderr);
  } finally {
    if (slow.child.exitCode === null) slow.child.kill();
  }
});

t('when the agent\'s stdin closes, everything it attached and loaded is gone', async () => {
  const doomed = new Agent();
  const objectId = await compile(doomed, 'xdp_count.bpf.c');
  const xdp = await doomed.ok('attach', { objectId, program: 'count_icmp', target: { kind: 'xdp', interface: hostIf } });
  const tcObject = await compile(doomed, 'tc_count.bpf.c');
  const tc = await doomed.ok('attach', { objectId: tcObject, program: 'count_egress', target: { kind: 'tc', interface: hostIf, direction: 'ingress' } });
  const execObject = await compile(doomed, 'exec_ringbuf.bpf.c');
  const tp = await doomed.ok('attach', { objectId: execObject, program: 'on_execve' });
  await doomed.ok('stream.start', { objectId: execObject, map: 'events' });
  await doomed.ok('trace.start');
  const ids = [xdp.programId, tc.programId, tp.programId];
  assert.equal(await doomed.close(), 0);
  assertNoSanitizerReport(doomed.stderr);
  const programs = (await agent.ok('host.programs')).programs.map((p: any) => p.id);
  assert.deepEqual(ids.filter((id) => programs.includes(id)), []);
  const bpftool = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })).map((p: any) => p.id);
  assert.deepEqual(ids.filter((id) => bpftool.includes(id)), []);
  assert.doesNotMatch(execFileSync('ip', ['link', 'show', hostIf], { encoding: 'utf8' }), /xdp/);
});

t('SIGHUP (the SSH channel dropped) also detaches everything', async () => {
  const doomed = new Agent();
  const objectId = await compile(doomed, 'exec_ringbuf.bpf.c');
  const tp = await doomed.ok('attach', { objectId, program: 'on_execve' });
  doomed.child.kill('SIGHUP');
  assert.equal(await doomed.exited, 0);
  assertNoSanitizerReport(doomed.stderr);
  const programs = (await agent.ok('host.programs')).programs.map((p: any) => p.id);
  assert.equal(programs.includes(tp.programId), false);
});

t('at EOF the main agent exits 0 with no sanitizer report', async () => {
  assert.equal(await agent.close(), 0);
  assertNoSanitizerReport(agent.stderr);
});
