/**
 * 1,000 verify requests in a row over one agent session, while a second client on the same target
 * verifies and streams at the same time: every verdict must be exactly the one the program gets
 * alone (one request in fifty compiles a changed source anew, verifies and releases it, as a save in
 * the editor does), and nothing may leak — the agents' file descriptors (by kind), their child
 * processes, their work directories and
 * the BPF programs, maps and links of the test's own programs are counted before and after and
 * must be equal; once both sessions close, none of them remains. The programs have names no other
 * test uses, so the counts stay exact on a machine other tests share.
 *
 * Runs on this machine's kernel: the counts are read from this machine's /proc and bpftool.
 * LEAK_REQUESTS changes the number of requests (default 1,000).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import type { ProgramVerdict } from '../../remote-agent/protocol';
import { commOf, descendantsOf } from '../support/processTree';
import { agentPrerequisiteMissing } from '../support/rawAgent';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test/fixtures/programs/leaks');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
const REQUESTS = Number(process.env.LEAK_REQUESTS ?? 1000);
/** One request in this many is a whole check (compile a changed source, verify, release), the rest verify a compiled object. */
const FULL_CHECK_EVERY = 50;
/** Names the fixtures give their programs and maps (the kernel keeps 15 characters of a name). */
const OUR_PROGRAMS = ['leak_check_ok', 'leak_check_null', 'leak_stream'];
const OUR_MAPS = ['leak_hits', 'leak_nullable', 'leak_events'];

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  if (!['/usr/sbin', '/usr/bin', '/sbin'].some((d) => existsSync(join(d, 'bpftool')))) return 'bpftool is not installed';
  if (!Number.isInteger(REQUESTS) || REQUESTS < 1) return `LEAK_REQUESTS=${process.env.LEAK_REQUESTS} is not a positive integer`;
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('verify leaks: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

/** The agents' TMPDIR (they inherit this process's environment), so their work directories can be counted. */
const agentTmp = mkdtempSync(join(tmpdir(), 'verify-leaks-'));
after(() => rmSync(agentTmp, { recursive: true, force: true }));

function source(name: string): { files: Array<{ path: string; content: string }>; main: string } {
  return { files: [{ path: name, content: readFileSync(join(fixtures, name), 'utf8') }], main: name };
}

async function openSession(): Promise<AgentSession> {
  return openAgentSession({ target: { kind: 'local' }, agentSourceDir, agentBinaryDir, clientVersion: 'verifyLeaks.test' });
}

/** An agent's open file descriptors by kind (bpf-prog, bpf-map, bpf_link, pipe, socket, a file's path…). */
function fdsByKind(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and the readlink (the one readdir itself used)
    }
    const kind = target.replace(/^anon_inode:\[?([^\]]+)\]?$/, '$1').replace(/^(pipe|socket):\[\d+\]$/, '$1');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** The test's own BPF objects on this machine: programs and maps by name, links to those programs. */
async function ourBpfObjects(): Promise<{ programs: string[]; maps: string[]; links: number }> {
  const json = async (what: string): Promise<Array<Record<string, unknown>>> => JSON.parse((await promisify(execFile)('bpftool', ['-j', what, 'show'])).stdout || '[]');
  const [programs, maps, links] = await Promise.all([json('prog'), json('map'), json('link')]);
  const ours = programs.filter((p) => OUR_PROGRAMS.includes(p.name as string));
  const ids = new Set(ours.map((p) => p.id));
  return {
    programs: ours.map((p) => p.name as string).sort(),
    maps: maps.filter((m) => OUR_MAPS.includes(m.name as string)).map((m) => m.name as string).sort(),
    links: links.filter((l) => ids.has(l.prog_id)).length,
  };
}

interface Counts {
  /** The agents' work directories (one per compiled object not yet released) in the test's own TMPDIR. */
  workDirs: number;
  fds: Record<string, number>;
  children: string[];
  bpf: { programs: string[]; maps: string[]; links: number };
}

async function counts(agents: number[]): Promise<Counts[]> {
  const bpf = await ourBpfObjects();
  const workDirs = readdirSync(agentTmp).length;
  return agents.map((pid) => ({ workDirs, fds: fdsByKind(pid), children: descendantsOf(pid).map(commOf).sort(), bpf }));
}

interface Verdict {
  name: string;
  ok: boolean;
  errno: number;
  insnCount: number;
  insnsProcessed: number | null;
  /** The verifier's log without its timing line and the kernel addresses of maps (new with each load). */
  log: string;
}

/** What must be the same in every answer to the same program: the verdict without its timings. */
function verdictOf(v: ProgramVerdict): Verdict {
  return { name: v.name, ok: v.ok, errno: v.errno, insnCount: v.insnCount, insnsProcessed: v.insnsProcessed, log: v.log.replace(/^verification time \d+ usec\n/m, '').replace(/= 0xffff[0-9a-f]{12}\b/g, '= <map address>') };
}

test(`${REQUESTS} verify requests over one agent session, a second client verifying and streaming beside it: every verdict exact, no fd, process or BPF object leaked`, { skip: missing ?? false, timeout: 300_000 }, async (t: TestContext) => {
  const started = Date.now();
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = agentTmp;
  t.after(() => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  });
  const known = new Set(descendantsOf(process.pid).filter((pid) => commOf(pid) === 'ebpf-agent'));
  const first = await openSession();
  const second = await openSession().catch(async (error: unknown) => {
    await first.dispose();
    throw error;
  });
  t.after(async () => {
    await Promise.all([first.dispose(), second.dispose()]);
  });
  const agents = descendantsOf(process.pid).filter((pid) => commOf(pid) === 'ebpf-agent' && !known.has(pid));
  assert.equal(agents.length, 2, `agents started: ${agents.join(' ')}`);
  const compiled = async (session: AgentSession, what: string | ReturnType<typeof source>): Promise<string> => {
    const r = await session.client.request('compile', typeof what === 'string' ? source(what) : what);
    assert.equal(r.ok, true, r.stderr);
    return r.objectId!;
  };

  // What each program gets alone, asked once per client (which also warms what is kept: the warm clang, caches).
  const objects = { first: [await compiled(first, 'leak_accepted.bpf.c'), await compiled(first, 'leak_rejected.bpf.c')], second: [await compiled(second, 'leak_accepted.bpf.c'), await compiled(second, 'leak_rejected.bpf.c')] };
  const expected = (await first.client.request('load', { objectId: objects.first[0]! })).programs.map(verdictOf).concat((await first.client.request('load', { objectId: objects.first[1]! })).programs.map(verdictOf));
  assert.deepEqual(expected.map(({ name, ok, errno }) => ({ name, ok, errno })), [
    { name: 'leak_check_ok', ok: true, errno: 0 },
    { name: 'leak_check_null', ok: false, errno: -13 },
  ]);
  assert.match(expected[1]!.log, /invalid mem access 'map_value_or_null'/);
  for (const [i, objectId] of objects.second.entries()) assert.deepEqual((await second.client.request('load', { objectId })).programs.map(verdictOf), [expected[i]]);

  // The second client streams every execve's pid.
  const stream = await compiled(second, 'leak_stream.bpf.c');
  await second.client.request('attach', { objectId: stream, program: 'leak_stream' });
  const { streamId } = await second.client.request('stream.start', { objectId: stream, map: 'leak_events', maxLatencyMs: 10 });
  const streamedPids: number[] = [];
  second.client.onNotification('events', (batch) => {
    if (batch.streamId !== streamId) return;
    const data = Buffer.from(batch.data, 'base64');
    let offset = 0;
    for (const size of batch.sizes) {
      assert.equal(size, 4);
      streamedPids.push(data.readUInt32LE(offset));
      offset += size;
    }
  });

  const before = await counts(agents);
  t.diagnostic(`before: ${JSON.stringify(before)}`);

  // The second client's work, while the first client's requests run: verifies in a loop, and execs to stream.
  let firstDone = false;
  const execedPids: number[] = [];
  let secondVerifies = 0;
  const secondClient = (async () => {
    while (!firstDone) {
      const i = secondVerifies % 2;
      const answer = await second.client.request('load', { objectId: objects.second[i]! });
      assert.deepEqual(answer.programs.map(verdictOf), [expected[i]], `the second client's verify #${secondVerifies + 1}`);
      secondVerifies++;
    }
  })();
  const execs = (async () => {
    while (!firstDone) {
      const child = execFile('/bin/true');
      execedPids.push(child.pid!);
      await new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  let fullChecks = 0;
  const firstStarted = Date.now();
  try {
    for (let n = 0; n < REQUESTS; n++) {
      const i = n % 2;
      if (n % FULL_CHECK_EVERY === FULL_CHECK_EVERY - 1) {
        // As a save in the editor does: a source no cache has seen compiled, verified, released.
        const changed = source('leak_accepted.bpf.c');
        changed.files[0]!.content += `/* check ${n} at ${Date.now()} */\n`;
        const objectId = await compiled(first, changed);
        const answer = await first.client.request('load', { objectId });
        await first.client.request('release', { objectId });
        assert.deepEqual(answer.programs.map(verdictOf), [expected[0]], `verify request #${n + 1} (compiled anew)`);
        fullChecks++;
        continue;
      }
      const answer = await first.client.request('load', { objectId: objects.first[i]! });
      assert.deepEqual(answer.programs.map(verdictOf), [expected[i]], `verify request #${n + 1}`);
    }
  } finally {
    firstDone = true;
  }
  const firstMs = Date.now() - firstStarted;
  await Promise.all([secondClient, execs]);

  // Every exec the test caused was streamed once (other processes' execs stream too).
  const deadline = Date.now() + 5000;
  while (execedPids.some((pid) => !streamedPids.includes(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(execedPids.filter((pid) => streamedPids.filter((p) => p === pid).length !== 1), [], 'execs not streamed exactly once');

  const after = await counts(agents);
  assert.deepEqual(after, before);
  t.diagnostic(
    `${REQUESTS} verify requests (${fullChecks} of them compiled anew) in ${(firstMs / 1000).toFixed(1)} s (${(firstMs / REQUESTS).toFixed(1)} ms each); the second client: ${secondVerifies} verifies, ` +
      `${execedPids.length} execs streamed; fds ${JSON.stringify(after.map((c) => c.fds))}, children ${JSON.stringify(after.map((c) => c.children))}, ` +
      `our BPF objects ${JSON.stringify(after[0]!.bpf)}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
  );

  // Both sessions closed: their agents gone, and with them every program, map and link of ours.
  await second.client.request('stream.stop', { streamId });
  await Promise.all([first.dispose(), second.dispose()]);
  const gone = Date.now() + 10_000;
  while (agents.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(agents.filter((pid) => existsSync(`/proc/${pid}`)), [], 'agents still running after their sessions closed');
  assert.deepEqual(await ourBpfObjects(), { programs: [], maps: [], links: 0 });
  assert.deepEqual(readdirSync(agentTmp), [], 'work directories left');
});
