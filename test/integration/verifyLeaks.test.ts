/**
 * 1,000 verify requests in a row over one agent session, while a second client on the same target
 * verifies and streams at the same time: every verdict must be exactly the one the program gets
 * alone (one request in fifty compiles a changed source anew, verifies and releases it, as a save
 * in the editor does), and nothing may leak — the agents' file descriptors (by kind), their child
 * processes, and the BPF programs, maps and links of the test's own programs are counted on the
 * target before and after and must be equal (on this machine the agents' work directories too);
 * once both sessions close, none of them remains. The programs have names no other test uses, so
 * the counts stay exact on a machine other tests share.
 *
 * Runs on this machine's kernel; LEAK_TARGET=vm:test-6.1 (or vm:test-7.3) runs it on a test
 * kernel VM instead (booted on first use; programs compiled here against its BTF, as `check` does),
 * LEAK_REQUESTS=N sends another number of requests.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { compileOnClient } from '../../remote-agent/client/compileOnClient';
import { LocalTransport } from '../../remote-agent/client/localTransport';
import { connectSsh } from '../../remote-agent/client/sshTransport';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import { parseTarget } from '../../remote-agent/client/targetSpec';
import type { Transport } from '../../remote-agent/client/transport';
import { vmSshOptions } from '../../remote-agent/client/vm/vmTarget';
import type { AgentRequester, CompileParams, LoadResult, ProgramVerdict } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { readyTarget, testKernels } from '../support/testKernels';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test/fixtures/programs/leaks');
const agentSourceDir = join(root, 'remote-agent/agent');
const agentBinaryDir = [join(root, 'out/agent-bin'), join(root, 'remote-agent/agent/build/static')].find((d) => existsSync(join(d, 'x86_64/ebpf-agent')));
const TARGET = process.env.LEAK_TARGET ?? 'local';
const REQUESTS = Number(process.env.LEAK_REQUESTS ?? 1000);
/** One request in this many is a whole check (compile a changed source, verify, release), the rest verify a compiled object. */
const FULL_CHECK_EVERY = 50;
/** Names the fixtures give their programs and maps (the kernel keeps 15 characters of a name). */
const OUR_PROGRAMS = ['leak_check_ok', 'leak_check_null', 'leak_stream'];
const OUR_MAPS = ['leak_hits', 'leak_nullable', 'leak_events'];
const testKernel = testKernels().find((k) => k.target === TARGET);

function missingPrerequisite(): string | null {
  const agent = agentPrerequisiteMissing();
  if (agent) return agent;
  if (!['/usr/sbin', '/usr/bin', '/sbin'].some((d) => existsSync(join(d, 'bpftool')))) return 'bpftool is not installed';
  if (!Number.isInteger(REQUESTS) || REQUESTS < 1) return `LEAK_REQUESTS=${process.env.LEAK_REQUESTS} is not a positive integer`;
  if (testKernel === undefined) return `LEAK_TARGET=${TARGET} is not one of the test kernels (${testKernels().map((k) => k.target).join(', ')})`;
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.CI === 'true') test('verify leaks: prerequisites', () => assert.fail(`cannot run here: ${missing}`));

/** The local agents' TMPDIR (they inherit this process's environment), so their work directories can be counted. */
const agentTmp = mkdtempSync(join(tmpdir(), 'verify-leaks-'));
after(() => rmSync(agentTmp, { recursive: true, force: true }));

function source(name: string): CompileParams {
  return { files: [{ path: name, content: readFileSync(join(fixtures, name), 'utf8') }], main: name };
}

async function sh(shell: Transport, script: string): Promise<string> {
  const r = await shell.run(script);
  assert.equal(r.exitCode, 0, `on ${shell.description}: ${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** The pid of the one process on the target holding an fd of program `programId`: an agent. */
async function agentPidHolding(shell: Transport, programId: number): Promise<number> {
  const out = await sh(shell, `grep -l "^prog_id:[[:space:]]*${programId}$" /proc/[0-9]*/fdinfo/* 2>/dev/null | cut -d/ -f3 | sort -u; true`);
  const pids = out.trim().split('\n').filter((l) => l !== '').map(Number);
  assert.equal(pids.length, 1, `processes holding program ${programId}: ${out}`);
  return pids[0]!;
}

interface Counts {
  /** Open file descriptors by kind (bpf-prog, bpf-map, bpf_link, pipe, socket, a file's path…). */
  fds: Record<string, number>;
  /** The comm of every process below the agent. */
  children: string[];
}

/** An agent's fds and descendants, read on the target from /proc. */
async function agentCounts(shell: Transport, pid: number): Promise<Counts> {
  const out = await sh(shell, [
    `for f in /proc/${pid}/fd/*; do echo "fd $(readlink "$f")"; done`,
    'below() { for c in $(cat /proc/$1/task/*/children 2>/dev/null); do echo "child $(cat /proc/$c/comm)"; below $c; done; }',
    `below ${pid}`,
  ].join('\n'));
  const fds: Record<string, number> = {};
  const children: string[] = [];
  for (const line of out.split('\n')) {
    if (line.startsWith('fd ')) {
      // The fd the shell's glob had open is gone by the readlink: it reads as an empty target.
      const target = line.slice(3);
      if (target === '') continue;
      const kind = target.replace(/^anon_inode:\[?([^\]]+)\]?$/, '$1').replace(/^(pipe|socket):\[\d+\]$/, '$1');
      fds[kind] = (fds[kind] ?? 0) + 1;
    } else if (line.startsWith('child ')) children.push(line.slice(6));
  }
  return { fds, children: children.sort() };
}

/** The test's own BPF objects on the target: programs and maps by name, links to those programs. */
async function ourBpfObjects(shell: Transport): Promise<{ programs: string[]; maps: string[]; links: number }> {
  const out = await sh(shell, 'for what in prog map link; do echo "$what $(bpftool -j $what show)"; done');
  const json = (what: string): Array<Record<string, unknown>> => JSON.parse(out.split('\n').find((l) => l.startsWith(`${what} `))!.slice(what.length + 1) || '[]');
  const ours = json('prog').filter((p) => OUR_PROGRAMS.includes(p.name as string));
  const ids = new Set(ours.map((p) => p.id));
  return {
    programs: ours.map((p) => p.name as string).sort(),
    maps: json('map').filter((m) => OUR_MAPS.includes(m.name as string)).map((m) => m.name as string).sort(),
    links: json('link').filter((l) => ids.has(l.prog_id)).length,
  };
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
  return { name: v.name, ok: v.ok, errno: v.errno, insnCount: v.insnCount, insnsProcessed: v.insnsProcessed, log: v.log.replace(/^verification time \d+ usec\n/m, '').replace(/= 0x[0-9a-f]{16}\b/g, '= <map address>') };
}

/** One client: its session, how it compiles (on a VM, here against the VM's BTF), and its agent's pid once it holds a program. */
interface Client {
  session: AgentSession;
  compile: AgentRequester<'compile'>;
  agent: number;
  streamId: string;
  streamed: number[];
}

test(`${REQUESTS} verify requests over one agent session on ${TARGET}, a second client verifying and streaming beside it: every verdict exact, no fd, process or BPF object leaked`, { skip: missing ?? false, timeout: 900_000 }, async (t: TestContext) => {
  await readyTarget(testKernel!);
  const local = TARGET === 'local';
  const shell: Transport = local ? new LocalTransport() : await connectSsh(vmSshOptions(TARGET.slice('vm:'.length)));
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = agentTmp;
  const sessions: AgentSession[] = [];
  t.after(async () => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
    await Promise.all(sessions.map((s) => s.dispose()));
    await shell.dispose();
  });
  const open = async (options: { unprivileged?: boolean; target?: string } = {}): Promise<AgentSession> => {
    const session = await openAgentSession({ target: parseTarget(options.target ?? TARGET), agentSourceDir, agentBinaryDir, clientVersion: 'verifyLeaks.test', ...(options.unprivileged && { unprivileged: true }) });
    sessions.push(session);
    return session;
  };
  // On a VM the programs are compiled here, by an unprivileged local agent, against the VM's BTF.
  const compiler = local ? undefined : await open({ target: 'local', unprivileged: true });
  const knowledge = new TargetKnowledgeCache(defaultKnowledgeDir());

  const compiled = async (client: Pick<Client, 'compile'>, what: string | CompileParams): Promise<string> => {
    const r = await client.compile.request('compile', typeof what === 'string' ? source(what) : what);
    assert.equal(r.ok, true, r.stderr);
    return r.objectId!;
  };
  /** A client streaming every execve's pid: its agent is found by the program it holds. */
  const startClient = async (): Promise<Client> => {
    const session = await open();
    const compile = compiler === undefined ? session.client : compileOnClient<'attach' | 'stream.start'>(session, compiler.client, knowledge);
    const client = { session, compile, agent: 0, streamId: '', streamed: [] as number[] };
    const stream = await compiled(client, 'leak_stream.bpf.c');
    const attached = await session.client.request('attach', { objectId: stream, program: 'leak_stream' });
    client.agent = await agentPidHolding(shell, attached.programId);
    client.streamId = (await session.client.request('stream.start', { objectId: stream, map: 'leak_events', maxLatencyMs: 10 })).streamId;
    session.client.onNotification('events', (batch) => {
      if (batch.streamId !== client.streamId) return;
      const data = Buffer.from(batch.data, 'base64');
      let offset = 0;
      for (const size of batch.sizes) {
        assert.equal(size, 4);
        client.streamed.push(data.readUInt32LE(offset));
        offset += size;
      }
    });
    return client;
  };
  const first = await startClient();
  const second = await startClient();
  const clients = [first, second];

  // What each program gets alone, asked once per client (which also warms what is kept: the warm clang, caches).
  const objects = [];
  for (const client of clients) objects.push([await compiled(client, 'leak_accepted.bpf.c'), await compiled(client, 'leak_rejected.bpf.c')]);
  const expected = [
    ...(await first.session.client.request('load', { objectId: objects[0]![0]! })).programs.map(verdictOf),
    ...(await first.session.client.request('load', { objectId: objects[0]![1]! })).programs.map(verdictOf),
  ];
  assert.deepEqual(expected.map(({ name, ok, errno }) => ({ name, ok, errno })), [
    { name: 'leak_check_ok', ok: true, errno: 0 },
    { name: 'leak_check_null', ok: false, errno: -13 },
  ]);
  assert.match(expected[1]!.log, /invalid mem access 'map_value_or_null'/);
  for (const [i, objectId] of objects[1]!.entries()) assert.deepEqual((await second.session.client.request('load', { objectId })).programs.map(verdictOf), [expected[i]]);

  const count = async () => ({
    agents: await Promise.all(clients.map((c) => agentCounts(shell, c.agent))),
    bpf: await ourBpfObjects(shell),
    // Work directories are counted where they can be told apart from other agents': in this test's own TMPDIR.
    workDirs: local ? readdirSync(agentTmp).length : 'not counted on a VM',
  });
  const before = await count();
  t.diagnostic(`before: ${JSON.stringify(before)}`);

  // The second client's work while the first client's requests run: verifies in a loop; and execs on the target to stream.
  let firstDone = false;
  const execed: number[] = [];
  let secondVerifies = 0;
  const secondClient = (async () => {
    while (!firstDone) {
      const i = secondVerifies % 2;
      const answer: LoadResult = await second.session.client.request('load', { objectId: objects[1]![i]! });
      assert.deepEqual(answer.programs.map(verdictOf), [expected[i]], `the second client's verify #${secondVerifies + 1}`);
      secondVerifies++;
    }
  })();
  const execs = (async () => {
    while (!firstDone) {
      const pids = await sh(shell, 'for i in 1 2 3 4 5; do /bin/true & echo $!; wait $!; sleep 0.02; done');
      execed.push(...pids.trim().split('\n').map(Number));
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
        const answer: LoadResult = await first.session.client.request('load', { objectId });
        await first.session.client.request('release', { objectId });
        assert.deepEqual(answer.programs.map(verdictOf), [expected[0]], `verify request #${n + 1} (compiled anew)`);
        fullChecks++;
        continue;
      }
      const answer: LoadResult = await first.session.client.request('load', { objectId: objects[0]![i]! });
      assert.deepEqual(answer.programs.map(verdictOf), [expected[i]], `verify request #${n + 1}`);
    }
  } finally {
    firstDone = true;
  }
  const firstMs = Date.now() - firstStarted;
  await Promise.all([secondClient, execs]);

  // Every exec the test caused was streamed once to each client (other processes' execs stream too).
  const deadline = Date.now() + 10_000;
  const unstreamed = () => clients.flatMap((c, n) => execed.filter((pid) => c.streamed.filter((p) => p === pid).length !== 1).map((pid) => `client ${n + 1}: pid ${pid}`));
  while (unstreamed().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unstreamed(), [], 'execs not streamed exactly once');

  const afterCounts = await count();
  assert.deepEqual(afterCounts, before);
  t.diagnostic(
    `${REQUESTS} verify requests (${fullChecks} of them compiled anew) in ${(firstMs / 1000).toFixed(1)} s (${(firstMs / REQUESTS).toFixed(1)} ms each); ` +
      `the second client: ${secondVerifies} verifies; ${execed.length} execs streamed to both; counts before and after: ${JSON.stringify(afterCounts)}`,
  );

  // Both sessions closed: their agents gone, and with them every program, map and link of ours.
  for (const client of clients) await client.session.client.request('stream.stop', { streamId: client.streamId });
  await Promise.all(sessions.map((s) => s.dispose()));
  const agents = clients.map((c) => c.agent);
  const running = async () => (await sh(shell, `for p in ${agents.join(' ')}; do test -d /proc/$p && echo $p; done; true`)).trim();
  const gone = Date.now() + 10_000;
  while ((await running()) !== '' && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await running(), '', 'agents still running after their sessions closed');
  // A freed program drops its references to its maps in deferred work after an RCU grace period,
  // so bpftool may list a map for a moment after its program and agent are gone. A leak stays.
  const nothingOfOurs = { programs: [], maps: [], links: 0 };
  const released = Date.now() + 10_000;
  while (!isDeepStrictEqual(await ourBpfObjects(shell), nothingOfOurs) && Date.now() < released) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await ourBpfObjects(shell), nothingOfOurs);
  if (local) assert.deepEqual(readdirSync(agentTmp), [], 'work directories left');
});
