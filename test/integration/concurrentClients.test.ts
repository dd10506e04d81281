/**
 * Two editor windows and the CLI on one target at once, as a person has them: each window its own
 * SSH connection and agent (a private sshd on 127.0.0.1, this machine's kernel), verifying on
 * every "save" (checkFile, as the editor does) while it streams a run of its own; beside them the
 * CLI, a new process per command, checks the same files and `run`s a program that streams execs.
 * Every verdict must be exactly the one the program gets alone; each window must receive exactly
 * the records its own process caused — none of the other window's, none lost, numbered without a
 * gap — and the CLI's run the exec the test caused. Before and after the concurrent part the test
 * counts on the target each window agent's file descriptors (by kind) and child processes, the
 * agents our sshd started, and the BPF programs, maps and links of the test's own programs (names
 * no other test uses, so the counts stay exact on a machine other tests share): equal. Once the
 * windows close, no agent and no BPF object of ours is left.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';
import type { CheckReport } from '../../remote-agent/client/checkReport';
import { openProgramRun } from '../../remote-agent/client/openProgramRun';
import type { ProgramRun } from '../../remote-agent/client/programRun';
import { descendantsOf, commOf, processHoldingProgram } from '../support/processTree';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';

const root = join(__dirname, '..', '..');
const fixtures = join(root, 'test/fixtures/programs/concurrent');
const cli = join(root, 'cli/main.ts');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
/** Names the fixtures give their programs and maps (the kernel keeps 15 characters of a name). */
const OUR_PROGRAMS = ['conc_ok', 'conc_null', 'conc_window', 'conc_exec'];
const OUR_MAPS = ['conc_hits', 'conc_nullable', 'conc_events', 'conc_config', 'conc_execs'];
/** Saves per window during the concurrent part, getpid() calls per save, CLI checks. */
const SAVES = 12;
const CALLS_PER_SAVE = 2000;
const CLI_CHECKS = 4;

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  if (!['/usr/sbin', '/usr/bin', '/sbin'].some((d) => existsSync(join(d, 'bpftool')))) return 'bpftool is not installed';
  if (!existsSync('/usr/bin/cc')) return 'cc is not installed (the test builds its getpid driver)';
  return sshdUnavailableReason();
}
const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('concurrent clients: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

let sshd: PrivateSshd;
let scratch: string;
before(async () => {
  if (missing) return;
  sshd = await startSshd();
  scratch = mkdtempSync(join(tmpdir(), 'concurrent-clients-'));
  execFileSync('cc', ['-O2', '-Wall', '-o', join(scratch, 'getpid_rounds'), join(fixtures, 'getpid_rounds.c')]);
});
after(async () => {
  await sshd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Pid of the sshd that listens (its children serve the connections). */
function sshdPid(): number {
  return Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8').trim());
}

/** Agents running below our sshd: the windows' and any CLI's. */
function agentsOfOurSshd(): number[] {
  return descendantsOf(sshdPid()).filter((pid) => commOf(pid) === 'ebpf-agent').sort((a, b) => a - b);
}

interface Counts {
  /** Open file descriptors by kind (bpf-prog, bpf-map, bpf_link, pipe, socket, a file's path…). */
  fds: Record<string, number>;
  /** The comm of every process below the agent. */
  children: string[];
}

/** An agent's fds by kind and its descendants, from /proc. */
function agentCounts(pid: number): Counts {
  const fds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while we looked: not open any more
    }
    const kind = target.replace(/^anon_inode:\[?([^\]]+)\]?$/, '$1').replace(/^(pipe|socket):\[\d+\]$/, '$1');
    fds[kind] = (fds[kind] ?? 0) + 1;
  }
  return { fds, children: descendantsOf(pid).map(commOf).sort() };
}

/** The test's own BPF objects: programs and maps by name, links to those programs. */
function ourBpfObjects(): { programs: string[]; maps: string[]; links: number } {
  const json = (what: string): Array<Record<string, unknown>> => JSON.parse(execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8' }) || '[]');
  const ours = json('prog').filter((p) => OUR_PROGRAMS.includes(p.name as string));
  const ids = new Set(ours.map((p) => p.id));
  return {
    programs: ours.map((p) => p.name as string).sort(),
    maps: json('map').filter((m) => OUR_MAPS.includes(m.name as string)).map((m) => m.name as string).sort(),
    links: json('link').filter((l) => ids.has(l.prog_id)).length,
  };
}

/** A verdict without what differs between runs (timings, instruction counts of a busy verifier do not; kept). */
function verdicts(report: CheckReport): unknown {
  return {
    compiled: report.compiled,
    programs: report.programs.map((p) => ({ name: p.name, ok: p.ok, insnsProcessed: p.insnsProcessed })),
    diagnostics: report.diagnostics.map((d) => ({ line: d.line, severity: d.severity, message: d.message, program: d.program })),
  };
}

/** The getpid driver of one window: `round()` makes CALLS_PER_SAVE calls and resolves when they are made. */
function startDriver() {
  const child = spawn(join(scratch, 'getpid_rounds'), [String(CALLS_PER_SAVE)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let acks = 0;
  let waiting: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    acks += d.toString().split('\n').filter((l) => l !== '').length;
    waiting?.();
  });
  let rounds = 0;
  return {
    pid: child.pid!,
    round: async (): Promise<void> => {
      rounds++;
      child.stdin.write('\n');
      while (acks < rounds) await new Promise<void>((r) => (waiting = r));
    },
    stop: () => child.stdin.end(),
  };
}

interface Window {
  name: string;
  tag: number;
  session: AgentSession;
  run: ProgramRun;
  agent: number;
  driver: ReturnType<typeof startDriver>;
  records: { seq: bigint | number; pid: number; window: number }[];
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

/** One CLI process; resolves with its exit status and output. */
function cliRun(args: string[], onStderr?: (text: string) => void): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const target = ['--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile];
    // A process of its own per command, each its own SSH connection and agent (no session process: what is left is the command's).
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args, ...target], { cwd: fixtures, env: { ...process.env, EBPF_STUDIO_SESSION: 'off' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A process whose comm is "conc-exec-mark" that execs /bin/true: the exec the CLI's run must show, with its pid. */
function execMarked(): number {
  const named = join(scratch, 'conc-exec-mark');
  if (!existsSync(named)) symlinkSync('/bin/sh', named);
  const child = spawnSync(named, ['-c', 'echo $$; exec /bin/true'], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return Number(child.stdout.trim());
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two windows and the CLI verifying and streaming on one target at once: every verdict exact, each window gets its own records, no fd, process or BPF object left', { skip: missing ?? false, timeout: 600_000 }, async (t: TestContext) => {
  const sessions: AgentSession[] = [];
  const windows: Window[] = [];
  t.after(async () => {
    for (const w of windows) w.driver.stop();
    await Promise.all(sessions.map((s) => s.dispose()));
  });
  const okFile = join(fixtures, 'conc_ok.bpf.c');
  const nullFile = join(fixtures, 'conc_null.bpf.c');
  const checkOptions = (session: AgentSession) => ({ target: session.description, kernelRelease: session.hello.kernelRelease });

  const openWindow = async (name: string, tag: number): Promise<Window> => {
    const session = await openAgentSession({
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      agentSourceDir,
      agentBinaryDir,
      clientVersion: `concurrentClients.test ${name}`,
    });
    sessions.push(session);
    const { report, run } = await openProgramRun(session.client, join(fixtures, 'conc_window.bpf.c'), checkOptions(session));
    assert.ok(run, JSON.stringify(report.diagnostics));
    const driver = startDriver();
    const window: Window = { name, tag, session, run, agent: 0, driver, records: [] };
    run.onEvents((batch) => window.records.push(...(batch.records as Window['records'])));
    const attached = await run.attachProgram('conc_window');
    await session.client.request('map.update', { objectId: run.objectId, map: 'conc_config', key: u32(0), values: [u32(driver.pid)] });
    await session.client.request('map.update', { objectId: run.objectId, map: 'conc_config', key: u32(1), values: [u32(tag)] });
    window.agent = processHoldingProgram(attached.programId);
    return window;
  };
  windows.push(await openWindow('window 1', 1), await openWindow('window 2', 2));
  assert.equal(new Set(windows.map((w) => w.agent)).size, 2, 'each window has an agent of its own');
  assert.deepEqual(agentsOfOurSshd(), windows.map((w) => w.agent).sort((a, b) => a - b));

  // What each file gets alone, once per window (which also warms what agents keep: the warm clang, caches).
  const expected = { ok: verdicts(await checkFile(windows[0]!.session.client, okFile, checkOptions(windows[0]!.session))), null: verdicts(await checkFile(windows[0]!.session.client, nullFile, checkOptions(windows[0]!.session))) };
  assert.deepEqual(expected.ok, { compiled: true, programs: [{ name: 'conc_ok', ok: true, insnsProcessed: (expected.ok as { programs: { insnsProcessed: number }[] }).programs[0]!.insnsProcessed }], diagnostics: [] });
  assert.deepEqual((expected.null as { programs: unknown[] }).programs, [{ name: 'conc_null', ok: false, insnsProcessed: 7 }]);
  assert.deepEqual((expected.null as { diagnostics: unknown[] }).diagnostics, [{ line: 20, severity: 'error', message: "R0 invalid mem access 'map_value_or_null'", program: 'conc_null' }]);
  for (const w of windows) {
    assert.deepEqual(verdicts(await checkFile(w.session.client, okFile, checkOptions(w.session))), expected.ok);
    assert.deepEqual(verdicts(await checkFile(w.session.client, nullFile, checkOptions(w.session))), expected.null);
  }

  const count = () => ({ windows: windows.map((w) => agentCounts(w.agent)), agents: agentsOfOurSshd(), bpf: ourBpfObjects() });
  const before = count();
  t.diagnostic(`before: ${JSON.stringify(before)}`);
  assert.deepEqual(before.bpf, { programs: ['conc_window', 'conc_window'], maps: ['conc_config', 'conc_config', 'conc_events', 'conc_events'], links: 2 });

  // The concurrent part: each window saves (verifies both files) and makes its process call getpid;
  // the CLI checks both files in a new process each time, and runs conc_exec.bpf.c while the test execs.
  const windowWork = async (w: Window): Promise<void> => {
    for (let save = 0; save < SAVES; save++) {
      const [ok, rejected] = await Promise.all([checkFile(w.session.client, okFile, checkOptions(w.session)), checkFile(w.session.client, nullFile, checkOptions(w.session)), w.driver.round()]);
      assert.deepEqual(verdicts(ok), expected.ok, `${w.name}, save ${save + 1}: conc_ok.bpf.c`);
      assert.deepEqual(verdicts(rejected), expected.null, `${w.name}, save ${save + 1}: conc_null.bpf.c`);
    }
  };
  const cliChecks = async (): Promise<void> => {
    for (let i = 0; i < CLI_CHECKS; i++) {
      const r = await cliRun(['check', 'conc_ok.bpf.c', 'conc_null.bpf.c', '--format', 'json']);
      assert.equal(r.status, 1, `CLI check ${i + 1}: ${r.stderr}`);
      const report = JSON.parse(r.stdout) as { programs: { file: string; program: string; ok: boolean }[]; diagnostics: { file: string; line: number; message: string; program?: string }[] };
      assert.deepEqual(report.programs.map((p) => [p.file, p.program, p.ok]), [['conc_ok.bpf.c', 'conc_ok', true], ['conc_null.bpf.c', 'conc_null', false]], `CLI check ${i + 1}`);
      assert.deepEqual(report.diagnostics.map((d) => [d.file, d.line, d.message, d.program]), [['conc_null.bpf.c', 20, "R0 invalid mem access 'map_value_or_null'", 'conc_null']], `CLI check ${i + 1}`);
    }
  };
  let marked = 0;
  const cliStream = async (): Promise<void> => {
    let streaming!: () => void;
    const started = new Promise<void>((r) => (streaming = r));
    const running = cliRun(['run', 'conc_exec.bpf.c', '--duration', '8', '--format', 'json'], (stderr) => {
      if (/^streaming conc_execs \(ringbuf\) as struct conc_exec_event$/m.test(stderr)) streaming();
    });
    await Promise.race([started, running]);
    marked = execMarked();
    const r = await running;
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; map?: string; fields?: { pid: number; comm: string }; dropped?: number });
    // The marked process execs twice: into the shell (still with the test's comm), then /bin/true as conc-exec-mark.
    const mine = lines.filter((l) => l.type === 'event' && l.fields?.pid === marked && l.fields.comm === 'conc-exec-mark');
    assert.deepEqual(mine.map((l) => l.map), ['conc_execs'], `the CLI run's events for pid ${marked}:\n${r.stdout}`);
    const summary = lines.find((l) => l.type === 'stream');
    assert.equal(summary?.dropped, 0, JSON.stringify(summary));
  };
  const started = Date.now();
  await Promise.all([...windows.map(windowWork), cliChecks(), cliStream()]);
  const concurrentMs = Date.now() - started;

  // Each window: exactly its own process's records, all of them, numbered 0… without a gap.
  for (const w of windows) {
    await waitFor(`${w.name} received its ${SAVES * CALLS_PER_SAVE} records`, () => w.records.length >= SAVES * CALLS_PER_SAVE);
    const strangers = w.records.filter((r) => r.window !== w.tag || r.pid !== w.driver.pid);
    assert.deepEqual(strangers.slice(0, 3), [], `${w.name} received records not its own`);
    assert.equal(w.records.length, SAVES * CALLS_PER_SAVE, w.name);
    assert.ok(w.records.every((r, i) => Number(r.seq) === i), `${w.name}'s records are numbered without a gap`);
  }

  // The CLI's processes are gone, and their agents with them; the windows' agents hold what they held.
  await waitFor('no agent of the CLI is left', () => agentsOfOurSshd().length === 2);
  const afterCounts = count();
  assert.deepEqual(afterCounts, before);
  t.diagnostic(
    `${SAVES} saves per window (2 checks each) and ${SAVES * CALLS_PER_SAVE} records streamed to each, ${CLI_CHECKS} CLI checks and a CLI run, concurrently in ${(concurrentMs / 1000).toFixed(1)} s; ` +
      `the CLI run streamed pid ${marked}; counts before and after: ${JSON.stringify(afterCounts)}`,
  );

  // Windows closed: their runs stopped (final counters exact), their agents gone, and every program, map and link of ours.
  for (const w of windows) {
    const summary = await w.run.stop();
    assert.deepEqual(summary.streams.map((s) => ({ map: s.map, received: s.received, sent: s.sent, dropped: s.dropped, decoded: s.decoded })), [
      { map: 'conc_events', received: SAVES * CALLS_PER_SAVE, sent: SAVES * CALLS_PER_SAVE, dropped: 0, decoded: SAVES * CALLS_PER_SAVE },
    ]);
    w.driver.stop();
  }
  await Promise.all(sessions.map((s) => s.dispose()));
  await waitFor('the windows\' agents are gone', () => agentsOfOurSshd().length === 0);
  assert.deepEqual(ourBpfObjects(), { programs: [], maps: [], links: 0 });
});
