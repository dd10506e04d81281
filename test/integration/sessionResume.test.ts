/**
 * Fault tests of a session kept through a dropped link, for real: a private sshd on 127.0.0.1
 * reached through a TCP relay this test cuts (both TCP connections destroyed, as when a network
 * path dies), the real agent deployed over it, this machine's kernel, a run made by
 * openProgramRun. Restored within the grace period, the same run carries on through a resumed
 * session: its program still attached (bpftool agrees), its stream delivering again, and records
 * received + dropped = generated — as root, and as a user whose agent runs through passwordless
 * sudo (a local user the test creates), and as an editor window's place on the agent the session
 * process shares (the session process resumes the agent, the window its place); a run following trace_pipe gets the lines printed during
 * and after the cut, and its stop ends the follower through the new connection. Not restored: nothing of ours stays loaded after the grace
 * period, and a late resume says what happened.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { AgentSessionError, openAgentSession, type AgentSession, type OpenSessionOptions } from '../../remote-agent/client/agentSession';
import { openProgramRun } from '../../remote-agent/client/openProgramRun';
import type { EventBatch, ProgramRun } from '../../remote-agent/client/programRun';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { getpidHalvesDriver } from '../support/getpidDriver';
import { runTrue } from '../support/processTree';
import { ensureLoginUser, startSshd, sshdUnavailableReason, type PrivateSshd } from '../support/sshd';
import { startCuttableRelay } from '../support/tcpRelay';
import { agentThroughSessionProcess } from '../../remote-agent/client/sessionProcessAgent';
import type { AgentClient } from '../../remote-agent/client/agentClient';
import { sourceLauncher, stopSessionProcessesIn } from '../support/sessionProcesses';

const agentSourceDir = join(import.meta.dirname, '../../remote-agent/agent');
const floodFile = join(import.meta.dirname, '../fixtures/programs/flood.bpf.c');
const printkFile = join(import.meta.dirname, '../fixtures/programs/printk.bpf.c');
const scratch = mkdtempSync(join(tmpdir(), 'session-resume-test-'));
const unavailable = sshdUnavailableReason() ?? agentPrerequisiteMissing();
if (unavailable !== null && process.env['CI'] === 'true') throw new Error(`session resume tests cannot run: ${unavailable}`);
const PER_CALL = 64;
/** A user whose agent runs as root through `sudo -n`; its own sudoers file, apart from sudo.test.ts's. */
const SUDO_USER = 'ebpfstudio-resume';
const SUDOERS = '/etc/sudoers.d/ebpfstudio-resume-test';
let sshd: PrivateSshd;

before(async () => {
  if (unavailable !== null) return;
  ensureLoginUser(SUDO_USER);
  writeFileSync(SUDOERS, `${SUDO_USER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  sshd = await startSshd();
});
after(async () => {
  rmSync(SUDOERS, { force: true });
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function sessionOptionsThrough(relayPort: number, graceSeconds: number, user: string = sshd.user): Promise<OpenSessionOptions> {
  const knownHosts = join(scratch, `known_hosts_${relayPort}`);
  // The relay's [host]:port carries the sshd's own key.
  writeFileSync(knownHosts, readFileSync(sshd.knownHostsFile, 'utf8').replace(`]:${sshd.port} `, `]:${relayPort} `));
  return {
    target: { kind: 'ssh', host: sshd.host, port: relayPort, user },
    agentSourceDir,
    identityFile: sshd.identityFile,
    knownHostsFile: knownHosts,
    sshConfigFile: join(scratch, 'no-ssh-config'),
    clientVersion: 'sessionResume.test',
    graceSeconds,
  };
}

/** The getpid driver (test/support/getpidDriver.ts), built in this file's scratch directory. */
function floodDriver(calls: number) {
  return getpidHalvesDriver(scratch, calls);
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('base64');
}

function kernelLinksOf(programId: number): unknown[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })).filter((l: { prog_id: number }) => l.prog_id === programId);
}

function programLoaded(programId: number): boolean {
  return spawnSync('bpftool', ['prog', 'show', 'id', String(programId)]).status === 0;
}

async function until(what: string, done: () => boolean, timeoutMs = 15_000, state: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${state() === '' ? '' : `: ${state()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let sessionDir: string | undefined;

/**
 * This window's place on the agent the session process shares between editor windows (in a
 * private directory of this file's), as the editor opens it; with `resume`, the place of a dropped one.
 */
async function sharedWindow(t: TestContext, options: OpenSessionOptions, resume?: OpenSessionOptions['resume']): Promise<AgentSession> {
  if (sessionDir === undefined) {
    sessionDir = join(scratch, 'session');
    mkdirSync(sessionDir, { mode: 0o700 });
    process.env['EBPF_STUDIO_SESSION_DIR'] = sessionDir;
    const dir = sessionDir;
    t.after(() => stopSessionProcessesIn(dir));
  }
  const { target, identityFile, knownHostsFile, graceSeconds } = options;
  const shared = await agentThroughSessionProcess(
    sourceLauncher,
    {
      share: {
        target,
        identityFile: identityFile!,
        knownHostsFile: knownHostsFile!,
        sshClient: 'builtin',
        canPrompt: false,
        clientVersion: 'sessionResume.test',
        graceSeconds: graceSeconds ?? 0,
        ...(resume !== undefined && { resume: { ticket: resume.ticket, streams: resume.streams } }),
      },
    },
    { signal: new AbortController().signal, ...(resume?.listen !== undefined && { listen: resume.listen }) },
  );
  if ('direct' in shared) throw new Error(`expected the shared agent: ${shared.notice}`);
  return shared;
}

/** A new session that resumes `first`'s dropped one, `run` carried over to it (heard from before the answer). */
function resumeSession(options: OpenSessionOptions, first: AgentSession, run: ProgramRun, shared?: TestContext): Promise<AgentSession> {
  const resume = { ticket: first.resumeTicket!, streams: run.streamsDecoded(), listen: (client: AgentClient) => run.resumeOn(client) };
  return shared !== undefined ? sharedWindow(shared, options, resume) : openAgentSession({ ...options, resume });
}

/** The flood program attached through `session`'s agent in a run, its stream counted. */
async function floodRun(session: Awaited<ReturnType<typeof openAgentSession>>, calls: number) {
  const { report, run } = await openProgramRun(session.client, floodFile, { target: session.description, kernelRelease: session.hello.kernelRelease, stream: { maxLatencyMs: 10, maxBatchRecords: 256 } });
  assert.ok(run, JSON.stringify(report.diagnostics));
  const seen = { decoded: 0, last: undefined as EventBatch | undefined };
  run.onEvents((batch) => {
    seen.decoded += batch.records.length;
    seen.last = batch;
  });
  const attached = await run.attachProgram('on_getpid');
  const driver = floodDriver(calls);
  await session.client.request('map.update', { objectId: run.objectId, map: 'flood_config', key: u32(0), values: [u32(driver.pid)] });
  await session.client.request('map.update', { objectId: run.objectId, map: 'flood_config', key: u32(1), values: [u32(PER_CALL)] });
  return { run, attached, driver, seen };
}

const HOW = {
  root: 'as root',
  sudo: 'the agent started with sudo -n',
  shared: 'as root, a place on the agent the session process shares between editor windows',
} as const;

for (const through of ['root', 'sudo', 'shared'] as const) {
  test(`the link cut mid-stream and restored within the grace period (${HOW[through]}): the same program stays attached, the stream resumes, received + dropped = generated`, { skip: unavailable ?? false, timeout: 120_000 }, async (t) => {
    const relay = await startCuttableRelay(sshd.port);
    const options = await sessionOptionsThrough(relay.port, 30, through === 'sudo' ? SUDO_USER : sshd.user);
    const calls = 400;
    const generated = calls * PER_CALL;
    // Shared: the session process resumes its agent, and the window its place on it.
    const first = through === 'shared' ? await sharedWindow(t, options) : await openAgentSession(options);
    let second: AgentSession | undefined;
    try {
      assert.equal(first.hello.resume, null, 'the ticket is kept apart from hello');
      assert.equal(first.resumeTicket?.graceSeconds, 30);
      assert.equal(first.hello.euid, 0, 'the agent runs as root either way');
      const { run, attached, driver, seen } = await floodRun(first, calls);
      driver.go();
      await until('the first records', () => seen.decoded > 0);
      relay.cut();
      driver.go(); // the second half while the link is down
      await driver.done;
      assert.match((await first.closed).message, /lost/);
      const beforeResume = seen.decoded;
      assert.ok(beforeResume < generated, `${beforeResume} records before the cut`);
      assert.equal(kernelLinksOf(attached.programId).length, 1, 'still attached while the link is down');

      second = await resumeSession(options, first, run, through === 'shared' ? t : undefined);
      assert.deepEqual(second.resumed?.objects, [run.objectId]);
      assert.equal(run.resumed(second.resumed!), true);
      // What the agent had queued arrives now; what it had written into the dying link is counted
      // dropped (the resume's answer says so even when nothing was left to send).
      await until(
        'every record received or counted dropped',
        () => seen.decoded + (seen.last?.counters.dropped ?? 0) === generated,
        60_000,
        () => `generated ${generated}, decoded ${seen.decoded} (${beforeResume} before the cut), last counters ${JSON.stringify(seen.last?.counters)}`,
      );
      assert.deepEqual(kernelLinksOf(attached.programId).length, 1, 'the same program, attached once');
      assert.deepEqual(run.attached.map((a) => a.programId), [attached.programId]);

      // And the resumed stream delivers what happens after the resume.
      const later = floodDriver(2);
      await second.client.request('map.update', { objectId: run.objectId, map: 'flood_config', key: u32(0), values: [u32(later.pid)] });
      const beforeLater = seen.decoded;
      later.go();
      later.go();
      await later.done;
      await until('the records made after the resume', () => seen.decoded === beforeLater + 2 * PER_CALL, 30_000, () => `decoded ${seen.decoded}, ${beforeLater} before`);

      const summary = await run.stop();
      assert.equal(summary.streams.length, 1);
      assert.equal(summary.streams[0]!.received, generated + 2 * PER_CALL);
      assert.equal(summary.streams[0]!.decoded, seen.decoded);
      assert.equal(summary.streams[0]!.decoded + summary.streams[0]!.dropped, generated + 2 * PER_CALL);
      assert.equal(programLoaded(attached.programId), false, 'stop released it');
    } finally {
      await second?.dispose();
      await first.dispose();
      relay.close();
    }
  });
}

test('a run following trace_pipe: the lines printed while the link was down and after the resume arrive, and its stop ends the follower', { skip: unavailable ?? false, timeout: 120_000 }, async () => {
  const relay = await startCuttableRelay(sshd.port);
  const options = await sessionOptionsThrough(relay.port, 30);
  const first = await openAgentSession(options);
  let second: Awaited<ReturnType<typeof openAgentSession>> | undefined;
  try {
    const { report, run } = await openProgramRun(first.client, printkFile, { target: first.description, kernelRelease: first.hello.kernelRelease, trace: true });
    assert.ok(run, JSON.stringify(report.diagnostics));
    const lines: string[] = [];
    run.onTrace((records) => lines.push(...records.map((r) => r.line)));
    await run.attachProgram('say_execve');
    const printed = (pid: number) => lines.some((line) => line.includes(`ebpf-studio saw execve from pid ${pid}`));
    const before = await runTrue();
    await until('the line of an exec before the cut', () => printed(before));

    relay.cut();
    await first.closed;
    const during = await runTrue();
    second = await resumeSession(options, first, run);
    assert.equal(run.resumed(second.resumed!), true);
    const after = await runTrue();
    await until('the lines of the execs during the cut and after the resume', () => printed(during) && printed(after), 30_000, () => lines.filter((l) => l.includes('ebpf-studio saw')).join('\n'));

    const summary = await run.stop();
    assert.notEqual(summary.trace, null, `the stop ended the follower on the resumed connection: ${JSON.stringify(summary)}`);
  } finally {
    await second?.dispose();
    await first.dispose();
    relay.close();
  }
});

test('the link cut and not restored: nothing of ours stays loaded after the grace period, and a late resume says so', { skip: unavailable ?? false, timeout: 120_000 }, async () => {
  const relay = await startCuttableRelay(sshd.port);
  const options = await sessionOptionsThrough(relay.port, 2);
  const first = await openAgentSession(options);
  try {
    const { attached, driver } = await floodRun(first, 2);
    const cutAt = Date.now();
    relay.cut();
    await first.closed;
    assert.equal(programLoaded(attached.programId), true, 'kept during the grace period');
    await until('the grace period to end', () => !programLoaded(attached.programId), 10_000);
    const gone = Date.now() - cutAt;
    assert.ok(gone >= 1900, `released ${gone} ms after the cut, before its 2 s grace period`);
    assert.deepEqual(kernelLinksOf(attached.programId), []);
    driver.go();
    driver.go();

    await assert.rejects(openAgentSession({ ...options, resume: { ticket: first.resumeTicket!, streams: [] } }), (error: unknown) => {
      assert.ok(error instanceof AgentSessionError);
      assert.equal(error.kind, 'session-expired');
      assert.equal(
        error.message,
        `The session on root@127.0.0.1:${relay.port} cannot be resumed: The target's agent ended after the grace period (or was stopped); programs were detached. Start them again in a new session.`,
      );
      return true;
    });
  } finally {
    await first.dispose();
    relay.close();
  }
});
