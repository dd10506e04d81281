/**
 * `ebpf-studio run` end to end: the CLI process connects to a private sshd on 127.0.0.1, deploys
 * and builds the agent from source, verifies, attaches in this real kernel and streams what the
 * programs produce while the test makes it happen (exec, printk); losing the SSH link ends the run
 * at once and leaves no program of ours in the kernel.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openAgentSession } from '../../remote-agent/client/agentSession';
import { startSshd, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const execsnoop = path.join(root, 'bpf-templates/execsnoop/execsnoop.bpf.c');
let sshd: PrivateSshd;
let scratch: string;

before(async () => {
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-run-test-'));
});

after(async () => {
  await sshd?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

function cliArgs(command: string, file: string, extra: string[]): string[] {
  return [
    '--import', 'tsx', path.join(root, 'cli/main.ts'), command, file,
    '--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`,
    '--identity', sshd.identityFile,
    '--known-hosts', sshd.knownHostsFile,
    ...extra,
  ];
}

interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stderr matches. */
  waitForStderr: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<{ status: number | null }>;
}

function startRun(file: string, extra: string[]): RunningCli {
  const child = spawn(process.execPath, cliArgs('run', file, extra), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ status: number | null }>((resolve) => child.on('exit', (status) => resolve({ status })));
  const waitForStderr = async (pattern: RegExp, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stderr)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`stderr never matched ${pattern}; it was:\n${stderr}\nstdout:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, waitForStderr, exited };
}

/** A process whose comm is "true" that execs /bin/true, so execsnoop sees comm="true" and filename="/bin/true" with this pid. */
function execAsTrue(): number {
  const named = path.join(scratch, 'true');
  if (!fs.existsSync(named)) fs.symlinkSync('/bin/sh', named);
  const child = spawnSync(named, ['-c', 'echo $$; exec /bin/true'], { encoding: 'utf8' });
  assert.equal(child.status, 0);
  return Number(child.stdout.trim());
}

test('execsnoop: an exec during the run shows up as a decoded event with its pid, comm and filename (NDJSON)', async () => {
  const run = startRun(execsnoop, ['--duration', '4', '--format', 'json']);
  await run.waitForStderr(/streaming events \(ringbuf\) as struct exec_event/);
  const pid = execAsTrue();
  const { status } = await run.exited;
  assert.equal(status, 0, run.stderr());
  const lines = run.stdout().trim().split('\n').map((l) => JSON.parse(l));
  const event = lines.find((l) => l.type === 'event' && l.fields.pid === pid && l.fields.filename === '/bin/true');
  assert.ok(event, `no event for pid ${pid} in:\n${run.stdout()}`);
  assert.equal(event.map, 'events');
  assert.equal(event.fields.comm, 'true');
  assert.equal(event.fields.uid, 0);
  assert.equal(typeof event.fields.ppid, 'number');
  const summary = lines.find((l) => l.type === 'stream');
  assert.equal(summary.map, 'events');
  assert.equal(summary.dropped, 0);
  assert.ok(summary.decoded >= 1 && summary.decoded === summary.sent, JSON.stringify(summary));
  assert.match(run.stderr(), /^attached handle_execve: tracepoint syscalls\/sys_enter_execve \(prog id \d+\)$/m);
});

test('the same in text: one line per event, HH:MM:SS.mmm map name=value', async () => {
  const run = startRun(execsnoop, ['--duration', '3']);
  await run.waitForStderr(/streaming events/);
  const pid = execAsTrue();
  assert.equal((await run.exited).status, 0, run.stderr());
  assert.match(run.stdout(), new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} events pid=${pid} ppid=\\d+ uid=0 comm="true" filename="/bin/true"$`, 'm'));
  assert.match(run.stdout(), /^events: \d+ received, \d+ sent, 0 dropped, \d+ decoded$/m);
});

test('a bpf_printk program: its line comes from trace_pipe with the comm and pid that printed it', async () => {
  const file = path.join(scratch, 'hello.bpf.c');
  fs.writeFileSync(
    file,
    '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n' +
      'SEC("tracepoint/syscalls/sys_enter_execve")\nint hello(void *ctx)\n{\n' +
      '\tbpf_printk("run test: exec by %d", bpf_get_current_pid_tgid() >> 32);\n\treturn 0;\n}\n',
  );
  const run = startRun(file, ['--duration', '4']);
  await run.waitForStderr(/attached hello/);
  // trace_pipe hands each line to one reader only: another tracer on this host may take a line, so exec a few times.
  const pids: number[] = [];
  for (let i = 0; i < 5; i++) {
    pids.push(execAsTrue());
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await run.exited).status, 0, run.stderr());
  assert.match(run.stdout(), new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} printk true-(${pids.join('|')}) \\[\\d{3}\\] run test: exec by \\1$`, 'm'));
  assert.match(run.stdout(), /^printk: \d+ lines received, \d+ sent, 0 dropped$/m);
});

test('a rejected program prints exactly what check prints and exits 1, attaching nothing', () => {
  const fixture = path.join(root, 'test/fixtures/programs/rejected.bpf.c');
  const opts = { cwd: path.dirname(fixture), encoding: 'utf8' as const, timeout: 120_000 };
  const run = spawnSync(process.execPath, cliArgs('run', fixture, ['--duration', '1']), opts);
  const check = spawnSync(process.execPath, cliArgs('check', fixture, []), opts);
  assert.equal(run.status, 1);
  assert.equal(run.stdout, check.stdout);
  assert.match(run.stdout, /rejected\.bpf\.c:22:\d+: error: R0 invalid mem access 'map_value_or_null' \[verifier\] \(count_execve\)/);
});

test('a kprobe program: attached where the target has kprobe events, else exit 1 and the reason in one line', async (t) => {
  // Decided by what the target's agent probed at hello, reached the way the CLI reaches it.
  const session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: path.join(root, 'remote-agent/agent'),
    clientVersion: 'runOverSsh.test',
  });
  const kprobes = session.hello.features.kprobeEvents;
  await session.dispose();
  t.diagnostic(`checked: the target ${kprobes ? 'has' : 'lacks'} kprobe events (hello.features.kprobeEvents = ${kprobes})`);
  const file = path.join(scratch, 'kprobe.bpf.c');
  fs.writeFileSync(
    file,
    '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n' +
      'SEC("kprobe/do_sys_openat2")\nint on_open(void *ctx)\n{\n\treturn 0;\n}\n',
  );
  const run = spawnSync(process.execPath, cliArgs('run', file, ['--duration', '1']), { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (kprobes) {
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^attached on_open: kprobe do_sys_openat2 \(prog id \d+\)$/m);
    return;
  }
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stdout, '');
  const last = run.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^ebpf-studio: Cannot attach on_open \(SEC\("kprobe\/do_sys_openat2"\)\): .*kprobe events are not enabled in this kernel/);
});

test('an XDP program on one end of a veth pair: pings from a network namespace arrive as decoded packet events', async (t) => {
  const ns = `ebpfrun${process.pid}`;
  const host = `esr${process.pid % 100000}a`;
  const peer = `esr${process.pid % 100000}b`;
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  };
  ip('netns', 'add', ns);
  t.after(() => {
    spawnSync('ip', ['link', 'del', host]);
    spawnSync('ip', ['netns', 'del', ns]);
  });
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
  ip('addr', 'add', '10.203.77.1/24', 'dev', host);
  ip('link', 'set', host, 'up');
  ip('-n', ns, 'addr', 'add', '10.203.77.2/24', 'dev', peer);
  ip('-n', ns, 'link', 'set', peer, 'up');

  const file = path.join(scratch, 'packets.bpf.c');
  fs.writeFileSync(
    file,
    [
      '#include "vmlinux.h"',
      '#include <bpf/bpf_helpers.h>',
      '#include <bpf/bpf_endian.h>',
      'char LICENSE[] SEC("license") = "GPL";',
      'struct packet { __u32 len; __u16 proto; __u8 ip_proto; __u8 ttl; __u32 saddr; };',
      'struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } packets SEC(".maps");',
      'SEC("xdp")',
      'int see_packets(struct xdp_md *ctx)',
      '{',
      '\tvoid *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;',
      '\tstruct ethhdr *eth = data;',
      '\tstruct iphdr *iph = data + sizeof(*eth);',
      '\tstruct packet *p;',
      '\tif ((void *)(iph + 1) > end || eth->h_proto != bpf_htons(0x0800))',
      '\t\treturn XDP_PASS;',
      '\tp = bpf_ringbuf_reserve(&packets, sizeof(*p), 0);',
      '\tif (!p)',
      '\t\treturn XDP_PASS;',
      '\tp->len = end - data;',
      '\tp->proto = bpf_ntohs(eth->h_proto);',
      '\tp->ip_proto = iph->protocol;',
      '\tp->ttl = iph->ttl;',
      '\tp->saddr = iph->saddr;',
      '\tbpf_ringbuf_submit(p, 0);',
      '\treturn XDP_PASS;',
      '}',
      '',
    ].join('\n'),
  );
  const run = startRun(file, ['--attach', `xdp:${host}`, '--duration', '4', '--format', 'json']);
  await run.waitForStderr(/streaming packets/);
  const ping = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '10.203.77.1'], { encoding: 'utf8' });
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  assert.equal((await run.exited).status, 0, run.stderr());
  assert.match(run.stderr(), new RegExp(`^attached see_packets: .*${host}.* \\(prog id \\d+\\)$`, 'm'));
  const icmp = run
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'event' && l.fields.ip_proto === 1);
  assert.ok(icmp.length >= 3, run.stdout());
  // 10.203.77.2 in network byte order, read as the little-endian u32 it is in the record.
  assert.deepEqual(icmp[0].fields, { len: 98, proto: 0x0800, ip_proto: 1, ttl: 64, saddr: 0x024dcb0a });
});

test('losing the SSH connection while running: the CLI exits with the one reason, before its --duration, and our programs are gone from the kernel', async () => {
  const run = startRun(execsnoop, ['--duration', '60']);
  await run.waitForStderr(/streaming events/);
  const programId = Number(/prog id (\d+)/.exec(run.stderr())![1]);
  assert.equal(spawnSync('bpftool', ['prog', 'show', 'id', String(programId)]).status, 0, 'loaded while running');

  sshd.dropConnections();
  // Status 2 with the connection's reason: the drop ended it, not --duration (that would be 0).
  const { status } = await run.exited;
  assert.equal(status, 2);
  const stderrLines = run.stderr().trim().split('\n');
  const reason = stderrLines.at(-1)!;
  assert.match(reason, /^ebpf-studio: .*(connection|lost|closed)/i);
  assert.equal(stderrLines.filter((l) => l.startsWith('ebpf-studio:')).length, 1, run.stderr());

  // The agent died with the connection: its links and the program go with its file descriptors.
  const deadline = Date.now() + 5000;
  while (spawnSync('bpftool', ['prog', 'show', 'id', String(programId)]).status === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.notEqual(spawnSync('bpftool', ['prog', 'show', 'id', String(programId)]).status, 0, `program ${programId} is still loaded`);
});

test('a bad --attach spec or --duration is a usage error before connecting: exit 2, one line', () => {
  const bad = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'run', execsnoop, '--attach', 'xdp:eth0:turbo'], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, "ebpf-studio: Attach spec 'xdp:eth0:turbo': the XDP mode is native, generic or offload, not 'turbo'.\n");
  const duration = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'run', execsnoop, '--duration', '0'], { cwd: root, encoding: 'utf8' });
  assert.equal(duration.status, 2);
  assert.equal(duration.stderr, "ebpf-studio: --duration must be a number of seconds above 0, not '0'\n");
});
