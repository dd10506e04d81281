/**
 * The tracing templates of bpf-templates/ (tracepoint-printk, execsnoop, opensnoop, kprobe-latency, ksyscall,
 * fentry-fexit, uprobe-readline, usdt), instantiated with their defaults as `new` writes them, on
 * every test kernel (this machine, Debian's 6.1 and 7.3 in QEMU): where the catalogue says the
 * kernel can run a template (notRunnableReason, from the features its agent probed), its programs
 * are attached by the real agent and a trigger run on that kernel causes what it watches — the
 * events or counts are then checked for that trigger's pid or marker, since other tests use the
 * same VMs at the same time. Where the kernel cannot run it, attaching must be refused with
 * KernelFeatureMissing naming the missing feature. Also: each of these templates' standalone
 * loaders builds with `make` in its instantiated folder, and opensnoop's runs and prints an open.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { findTemplate, instantiateTemplate, notRunnableReason, REQUIREMENTS, type BpfTemplate, type Requirement } from '../../bpf-templates/templateCatalog';
import { AgentError } from '../../remote-agent/client/agentSession';
import { shellQuote } from '../../remote-agent/client/transport';
import { buildTrigger, kernelSessions, lineReader } from '../support/kernelSessions';
import { ErrorCode, type AgentRequester, type EventsNotification, type HelloResult, type LoadPresets } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { readyTarget, testKernels, type TestKernel } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const triggerSource = join(root, 'test/fixtures/programs/templates/templates_trigger.cc');

/** How many times the trigger acts: small, and different per template so a mix-up shows. */
const COUNT = { exec: 3, open: 4, read: 5, getppid: 6, access: 7, throw: 3 } as const;
const AT_FDCWD = -100;
const R_OK = 4;
const ENOENT = 2;
const O_CLOEXEC = 0o2000000;
/** The trigger's comm: its file name, cut to TASK_COMM_LEN - 1 bytes. */
const TRIGGER_COMM = 'templates_trigg';

type TemplatesAgent = AgentRequester<'compile' | 'attach' | 'map.dump' | 'map.lookup' | 'stream.start' | 'stream.stop' | 'release'>;

/** What one attached template saw of one trigger run. */
interface Outcome {
  /** The trigger's pid (for bash readline: the bash's). */
  pid: number;
  /** A string unique to this run (a file name, a typed line). */
  marker: string;
  /** The ring buffer's records, in order (empty when the template streams none). */
  records: Buffer[];
  agent: TemplatesAgent;
  objectId: string;
}

interface TemplateCase {
  id: string;
  /** The programs to attach, in order (every program of the template). */
  programs: string[];
  /** A shell command for the kernel: prints "ready pid=N", reads "go" from stdin, acts, exits 0. */
  command(trigger: string, marker: string): string;
  /** Loader settings for the first attach, knowing the trigger's pid. */
  presets?(pid: number): LoadPresets;
  /** The ring buffer map to stream. */
  stream?: string;
  /** True once every record the trigger causes has arrived (asserted on afterwards). */
  arrived?(o: Outcome): boolean;
  check(o: Outcome): Promise<void>;
}

/** The NUL-terminated string in `size` bytes at `offset`. */
function cString(record: Buffer, offset: number, size: number): string {
  const bytes = record.subarray(offset, offset + size);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

const u32Key = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
};

/** execsnoop.h's struct exec_event. */
const decodeExec = (r: Buffer) => ({ pid: r.readInt32LE(0), ppid: r.readInt32LE(4), uid: r.readUInt32LE(8), comm: cString(r, 12, 16), filename: cString(r, 28, 128) });
/** opensnoop.h's struct open_event. */
const decodeOpen = (r: Buffer) => ({ pid: r.readInt32LE(0), ret: r.readInt32LE(4), flags: r.readInt32LE(8), comm: cString(r, 12, 16), filename: cString(r, 28, 256) });
/** fentry_fexit.h's struct call_event (arguments and result as their low 32 bits, signed: the default function's are ints). */
const decodeCall = (r: Buffer) => ({
  pid: r.readInt32LE(0),
  nrArgs: r.readUInt32LE(4),
  args: [0, 1, 2, 3].map((i) => r.readInt32LE(8 + 8 * i)),
  ret: r.readInt32LE(56),
  comm: cString(r, 72, 16),
});
/** uprobe_readline.h's struct line_event. */
const decodeLine = (r: Buffer) => ({ pid: r.readInt32LE(0), comm: cString(r, 4, 16), prompt: cString(r, 20, 64), line: cString(r, 84, 256) });
/** usdt.h's struct usdt_event. */
const decodeUsdt = (r: Buffer) => ({ pid: r.readInt32LE(0), nrArgs: r.readInt32LE(4), args: [0, 1].map((i) => r.readBigUInt64LE(8 + 8 * i)), comm: cString(r, 56, 16) });

const triggerCommand = (action: string) => (trigger: string, marker: string) =>
  `exec ${shellQuote(trigger)} ${action.replace('PATH', shellQuote(`/nonexistent/${marker}`))}`;

const CASES: TemplateCase[] = [
  {
    // Counts every execve on the kernel: at least the trigger's.
    id: 'tracepoint-printk',
    programs: ['on_tracepoint'],
    command: triggerCommand(`exec ${COUNT.exec}`),
    async check(o) {
      const hits = await o.agent.request('map.lookup', { objectId: o.objectId, map: 'hits', key: u32Key(0) });
      const count = Number(Buffer.from(hits.values![0]!, 'base64').readBigUInt64LE(0));
      assert.ok(count >= COUNT.exec, `hits counts at least the trigger's ${COUNT.exec} execs, got ${count}`);
    },
  },
  {
    // The trigger forks a child per exec: each child's execve is reported with the trigger as parent.
    id: 'execsnoop',
    programs: ['handle_execve'],
    command: triggerCommand(`exec ${COUNT.exec}`),
    stream: 'events',
    arrived: (o) => o.records.map(decodeExec).filter((e) => e.ppid === o.pid).length >= COUNT.exec,
    async check(o) {
      const mine = o.records.map(decodeExec).filter((e) => e.ppid === o.pid);
      assert.equal(new Set(mine.map((e) => e.pid)).size, COUNT.exec, 'one event per forked child');
      assert.ok(mine.every((e) => e.pid !== o.pid), 'the children exec, not the trigger');
      assert.deepEqual(
        mine.map(({ ppid, uid, comm, filename }) => ({ ppid, uid, comm, filename })),
        Array.from({ length: COUNT.exec }, () => ({ ppid: o.pid, uid: 0, comm: TRIGGER_COMM, filename: '/bin/true' })),
      );
    },
  },
  {
    id: 'opensnoop',
    programs: ['on_openat_enter', 'on_openat_exit'],
    command: triggerCommand(`open PATH ${COUNT.open}`),
    stream: 'events',
    arrived: (o) => o.records.map(decodeOpen).filter((e) => e.pid === o.pid && e.filename.includes(o.marker)).length >= COUNT.open,
    async check(o) {
      const mine = o.records.map(decodeOpen).filter((e) => e.pid === o.pid && e.filename.includes(o.marker));
      const expected = { pid: o.pid, ret: -ENOENT, flags: O_CLOEXEC, comm: TRIGGER_COMM, filename: `/nonexistent/${o.marker}` };
      assert.deepEqual(mine, Array.from({ length: COUNT.open }, () => expected));
    },
  },
  {
    // Timed for the trigger alone (targ_tgid): exactly its reads of /dev/zero after "go".
    id: 'kprobe-latency',
    programs: ['on_entry', 'on_return'],
    command: triggerCommand(`read ${COUNT.read}`),
    presets: (pid) => ({ globals: { targ_tgid: String(pid) } }),
    async check(o) {
      const dump = await o.agent.request('map.dump', { objectId: o.objectId, map: 'hist' });
      assert.equal(dump.entries.length, 64, 'hist has HIST_SLOTS slots');
      const counts = dump.entries.map((e) => Number(Buffer.from(e.values[0]!, 'base64').readBigUInt64LE(0)));
      assert.equal(counts.reduce((a, b) => a + b, 0), COUNT.read, `the histogram holds the trigger's ${COUNT.read} calls: ${counts.join(',')}`);
    },
  },
  {
    id: 'ksyscall',
    programs: ['on_syscall'],
    command: triggerCommand(`getppid ${COUNT.getppid}`),
    async check(o) {
      const calls = await o.agent.request('map.lookup', { objectId: o.objectId, map: 'calls', key: u32Key(o.pid) });
      assert.ok(calls.values, `calls has no entry for the trigger (pid ${o.pid})`);
      assert.equal(Number(Buffer.from(calls.values[0]!, 'base64').readBigUInt64LE(0)), COUNT.getppid);
    },
  },
  {
    // do_faccessat(int dfd, const char *filename, int mode, int flags) for access(PATH, R_OK).
    id: 'fentry-fexit',
    programs: ['on_entry', 'on_exit'],
    command: triggerCommand(`access PATH ${COUNT.access}`),
    stream: 'events',
    arrived: (o) => o.records.map(decodeCall).filter((e) => e.pid === o.pid).length >= COUNT.access,
    async check(o) {
      const mine = o.records.map(decodeCall).filter((e) => e.pid === o.pid);
      const expected = { pid: o.pid, nrArgs: 4, args: [AT_FDCWD, mine[0]?.args[1], R_OK, 0], ret: -ENOENT, comm: TRIGGER_COMM };
      assert.deepEqual(mine, Array.from({ length: COUNT.access }, () => expected));
    },
  },
  {
    // An interactive bash reading two lines from a pipe: readline returns each.
    id: 'uprobe-readline',
    programs: ['on_call', 'on_return'],
    command: (_trigger, marker) => `echo "ready pid=$$"; read go; export HISTFILE=/dev/null; exec /bin/bash --norc --noprofile -i <<'EOF'\necho ${marker}\nexit\nEOF`,
    stream: 'events',
    arrived: (o) => o.records.map(decodeLine).filter((e) => e.pid === o.pid).length >= 2,
    async check(o) {
      const mine = o.records.map(decodeLine).filter((e) => e.pid === o.pid);
      assert.deepEqual(mine.map((e) => [e.comm, e.line]), [['bash', `echo ${o.marker}`], ['bash', 'exit']]);
      for (const e of mine) assert.match(e.prompt, /^bash-[\d.]+# $/, 'the prompt readline was called with');
    },
  },
  {
    id: 'usdt',
    programs: ['on_probe'],
    command: triggerCommand(`throw ${COUNT.throw}`),
    stream: 'events',
    arrived: (o) => o.records.map(decodeUsdt).filter((e) => e.pid === o.pid).length >= COUNT.throw,
    async check(o) {
      const mine = o.records.map(decodeUsdt).filter((e) => e.pid === o.pid);
      assert.equal(mine.length, COUNT.throw, 'one event per exception thrown');
      for (const e of mine) {
        assert.equal(e.comm, TRIGGER_COMM);
        assert.equal(e.nrArgs, 2, 'libstdcxx:throw has two arguments: the object and its type_info');
        assert.ok(e.args[0]! !== 0n && e.args[1]! !== 0n, `both are pointers: ${e.args.join(', ')}`);
      }
    },
  },
];

/** The agent's words for a requirement the kernel lacks (attach.c). */
const REFUSALS: Partial<Record<Requirement, RegExp>> = {
  kprobeEvents: /^kprobe events are not enabled in this kernel \(CONFIG_KPROBE_EVENTS is not set\)/,
  uprobeEvents: /^uprobe events are not enabled in this kernel \(CONFIG_UPROBE_EVENTS is not set\)/,
  tracingPrograms: /is an fentry\/fexit\/fmod_ret program, and this kernel cannot attach BPF trampolines/,
};

/** The first requirement of the template this kernel lacks, which the agent names when refusing. */
function lackedRequirement(template: BpfTemplate, hello: HelloResult): Requirement | undefined {
  return template.requires.find((r) => (r === 'tracefs' || r === 'bpffs' ? hello.features[r] === null : !hello.features[r]));
}

// ---- Prerequisites, the trigger, the sessions ----

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  for (const tool of ['g++', 'make', 'clang', 'bpftool']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/bootstrap.sh installs it)`;
  for (const file of ['/bin/bash', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6']) if (!existsSync(file)) return `${file} is missing`;
  return null;
}

const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('templates attach: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

const openKernel = kernelSessions('templatesAttach.test');

/** The template, written into a fresh folder with its defaults; answers it and its program's sources. */
function instantiated(id: string): { template: BpfTemplate; dir: string; files: { path: string; content: string }[] } {
  const template = findTemplate(id);
  const dir = mkdtempSync(join(tmpdir(), `template-${id}-`));
  instantiateTemplate(template, dir);
  const header = template.program.replace(/\.bpf\.c$/, '.h');
  const files = [template.program, header].map((path) => ({ path, content: readFileSync(join(dir, path), 'utf8') }));
  return { template, dir, files };
}

async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

// ---- The tests ----

for (const kernel of testKernels()) {
  test(`tracing templates on ${kernel.label}: each attaches and sees what its trigger does, or is refused naming the missing feature`, { timeout: 900_000, skip: missing ?? false }, async (t) => {
    await templatesOnKernel(t, kernel);
  });
}

async function templatesOnKernel(t: TestContext, kernel: TestKernel): Promise<void> {
  const trigger = buildTrigger(triggerSource, { compiler: 'g++' });
  const target = await readyTarget(kernel);
  const { session, agent, shell } = await openKernel(target);
  const records = new Map<string, Buffer[]>();
  const subscription = session.client.onNotification('events', (batch: EventsNotification) => {
    const list = records.get(batch.streamId) ?? [];
    const data = Buffer.from(batch.data, 'base64');
    let offset = 0;
    for (const size of batch.sizes) {
      list.push(data.subarray(offset, offset + size));
      offset += size;
    }
    records.set(batch.streamId, list);
  });
  const dirs: string[] = [];
  t.after(async () => {
    subscription.dispose();
    await session.dispose();
    await shell.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const { hello } = session;
  assert.equal(hello.btf, true, `${kernel.label} has no kernel BTF: its programs cannot be built (vmlinux.h)`);
  const verdicts: string[] = [];

  for (const c of CASES) {
    const { template, dir, files } = instantiated(c.id);
    dirs.push(dir);
    assert.deepEqual(template.files.filter((f) => f.endsWith('.bpf.c')), [template.program]);
    const reason = notRunnableReason(template, hello.features);
    const compiled = await agent.request('compile', { files, main: template.program });
    assert.equal(compiled.ok, true, `${c.id}: ${compiled.stderr}`);
    const objectId = compiled.objectId!;
    try {
      if (reason !== undefined) {
        await t.test(`${c.id} is refused: ${reason}`, async () => {
          const lacked = lackedRequirement(template, hello);
          assert.ok(lacked, `${c.id}: not runnable (${reason}) though every requirement is met: a program type is missing`);
          assert.ok(reason.includes(REQUIREMENTS[lacked]), `the reason names ${REQUIREMENTS[lacked]}`);
          const refusal = REFUSALS[lacked];
          assert.ok(refusal, `no known refusal for a missing ${lacked}`);
          await assert.rejects(agent.request('attach', { objectId, program: c.programs[0]! }), (error: unknown) => {
            assert.ok(error instanceof AgentError, String(error));
            assert.equal(error.code, ErrorCode.KernelFeatureMissing, error.message);
            assert.match(error.message, refusal);
            return true;
          });
        });
        verdicts.push(`${c.id}: refused (${reason})`);
        continue;
      }
      await t.test(`${c.id} attaches and sees the trigger`, async () => {
        const marker = `templates-${c.id}-${process.pid}-${Date.now()}`;
        const child = await shell.spawn(c.command(trigger, marker));
        let stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (d: string) => (stderr += d));
        const nextLine = lineReader(child);
        try {
          const ready = /^ready pid=(\d+)$/.exec(await nextLine());
          assert.ok(ready, `the trigger did not say ready; stderr: ${stderr}`);
          const pid = Number(ready[1]);
          const presets = c.presets?.(pid);
          for (const [i, program] of c.programs.entries()) await agent.request('attach', { objectId, program, ...(i === 0 && presets && { presets }) });
          const stream = c.stream === undefined ? undefined : await agent.request('stream.start', { objectId, map: c.stream, maxLatencyMs: 10 });
          child.stdin.write('go\n');
          const status = await child.exited;
          assert.equal(status.exitCode, 0, `the trigger failed: ${stderr}`);
          const outcome: Outcome = {
            pid,
            marker,
            agent,
            objectId,
            get records() {
              return stream ? (records.get(stream.streamId) ?? []) : [];
            },
          };
          if (c.arrived) await waitUntil(() => c.arrived!(outcome), 20_000);
          if (stream) {
            // A moment for any record the trigger caused beyond those expected, so exact counts can fail.
            await new Promise((r) => setTimeout(r, 300));
            const counters = await agent.request('stream.stop', { streamId: stream.streamId });
            assert.equal(counters.dropped, 0);
          }
          await c.check(outcome);
        } finally {
          child.kill();
        }
      });
      verdicts.push(`${c.id}: attached and fired`);
    } finally {
      await agent.request('release', { objectId });
    }
  }
  t.diagnostic(`${kernel.label} (kernel ${hello.kernelRelease}; kprobeEvents=${hello.features.kprobeEvents} uprobeEvents=${hello.features.uprobeEvents} tracingPrograms=${hello.features.tracingPrograms}): ${verdicts.join('; ')}`);
}

// ---- The standalone loaders ----

const MINE = ['opensnoop', 'kprobe-latency', 'ksyscall', 'fentry-fexit', 'uprobe-readline', 'usdt'];

test('each tracing template\'s standalone loader builds with make in its instantiated folder', { timeout: 300_000, skip: missing ?? false }, async (t) => {
  for (const id of MINE) {
    const { template, dir } = instantiated(id);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const app = template.program.replace(/\.bpf\.c$/, '');
    const made = spawnSync('make', ['-s'], { cwd: dir, encoding: 'utf8' });
    assert.equal(made.status, 0, `${id}: make failed:\n${made.stdout}${made.stderr}`);
    assert.ok(existsSync(join(dir, app)), `${id}: make wrote no ./${app}`);
    assert.ok(existsSync(join(dir, `${app}.skel.h`)), `${id}: no skeleton`);
  }
});

test('the opensnoop loader, run for two seconds, prints an open made meanwhile', { timeout: 120_000, skip: missing ?? false }, async (t) => {
  const { dir } = instantiated('opensnoop');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const made = spawnSync('make', ['-s'], { cwd: dir, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const loader = spawn(join(dir, 'opensnoop'), ['-d', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  loader.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  loader.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => loader.on('exit', (code) => resolve(code)));
  await waitUntil(() => stdout.includes('FILE'), 10_000);
  const path = `/nonexistent/opensnoop-loader-${process.pid}`;
  const opener = spawnSync('cat', [path], { encoding: 'utf8' });
  assert.notEqual(opener.status, 0);
  assert.equal(await exited, 0, stderr);
  const line = stdout.split('\n').find((l) => l.endsWith(path));
  assert.ok(line, `no line for ${path} in:\n${stdout}`);
  assert.match(line, new RegExp(`^${opener.pid}\\s+cat\\s+-2\\s+0\\s+${path}$`));
});
