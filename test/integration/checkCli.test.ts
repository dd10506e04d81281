/**
 * `ebpf-studio check` end to end, as a CI pipeline runs it: the CLI process connects to a private
 * sshd on 127.0.0.1, deploys the agent, compiles with clang and verifies in this real kernel.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openAgentSession } from '../../remote-agent/client/agentSession';
import { startSshd, writeKnownHostsWithWrongKey, type PrivateSshd } from '../support/sshd';

const root = path.join(__dirname, '..', '..');
const programs = path.join(root, 'test/fixtures/programs');
let sshd: PrivateSshd;
let scratch: string;

before(async () => {
  sshd = await startSshd();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-cli-test-'));
});

after(async () => {
  await sshd?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

function check(files: string[], extra: { knownHosts?: string; format?: 'text' | 'json' } = {}) {
  const args = [
    '--import', 'tsx', path.join(root, 'cli/main.ts'), 'check', ...files,
    '--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`,
    '--identity', sshd.identityFile,
    '--known-hosts', extra.knownHosts ?? sshd.knownHostsFile,
    '--format', extra.format ?? 'text',
  ];
  const run = spawnSync(process.execPath, args, { cwd: programs, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('a program the verifier accepts: exit 0 and an ok line with the instructions processed', () => {
  const run = check(['passes.bpf.c']);
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0);
  assert.match(run.stdout, /^passes\.bpf\.c: program \w+ \(tracepoint\/syscalls\/sys_enter_execve\): ok, [1-9]\d* insns processed \(on root@127\.0\.0\.1:\d+, kernel .+\)$/m);
});

test('a verifier rejection is an error on the line of the failing instruction, naming the program, explained, with its cause', () => {
  const run = check(['rejected.bpf.c'], { format: 'json' });
  assert.equal(run.status, 1);
  const report = JSON.parse(run.stdout);
  const [diagnostic, ...others] = report.diagnostics;
  assert.deepEqual(others, []);
  assert.deepEqual(report.unreachable, []);
  assert.deepEqual(
    report.programs.map((p: { target: string; program: string; ok: boolean; compiledOn: string }) => [p.target, p.program, p.ok, p.compiledOn]),
    [[`ssh://root@127.0.0.1:${sshd.port}`, 'count_execve', false, 'target']],
  );
  const { column, explanation, related, ...rest } = diagnostic;
  assert.deepEqual(rest, {
    target: `ssh://root@127.0.0.1:${sshd.port}`,
    file: 'rejected.bpf.c',
    line: 22,
    severity: 'error',
    message: "R0 invalid mem access 'map_value_or_null'",
    source: 'verifier',
    program: 'count_execve',
    category: 'Register Type Safety',
  });
  assert.ok(column >= 1);
  assert.equal(explanation.id, 'nullable-map-value');
  assert.equal(explanation.docs, 'docs/verifier-errors.md#nullable-map-value');
  // The causal chain comes first: the lookup that may return NULL.
  assert.deepEqual(
    { file: related[0].file, line: related[0].line, message: related[0].message },
    { file: 'rejected.bpf.c', line: 19, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' },
  );
});

test('a matrix of this machine and an SSH host verifies concurrently, prints a verdict table, and names each target in JSON', () => {
  const ssh = `ssh://${sshd.user}@${sshd.host}:${sshd.port}`;
  const args = ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'check', 'passes.bpf.c', 'rejected.bpf.c', '--target', 'local', '--target', ssh, '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile];
  const text = spawnSync(process.execPath, args, { cwd: programs, encoding: 'utf8', timeout: 120_000 });
  assert.equal(text.status, 1, text.stderr);
  const table = text.stdout.slice(text.stdout.indexOf('\nprogram') + 1).split('\n');
  assert.match(table[0]!, new RegExp(`^program +local \\(${os.release().replace(/\./g, '\\.')}\\) +${ssh.replace(/\./g, '\\.')} \\(`));
  assert.match(table.find((l) => l.startsWith('rejected.bpf.c count_execve'))!, /^rejected\.bpf\.c count_execve +✗ R0 invalid mem access '\S+ +✗ R0 invalid mem access/);
  assert.match(table.find((l) => l.startsWith('passes.bpf.c '))!, /✓ [\d,]+ insns \d+\/\d+ st [\d.]+ ms +✓ [\d,]+ insns/);
  // Same kernel on both: no program passes on one and fails on the other.
  assert.ok(!text.stdout.includes('; rejected on'), text.stdout);

  const json = spawnSync(process.execPath, [...args, '--format', 'json', '--compile-on', 'client'], { cwd: programs, encoding: 'utf8', timeout: 120_000 });
  assert.equal(json.status, 1, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(
    report.diagnostics.map((d: { target: string; file: string; line: number }) => [d.target, d.file, d.line]).sort(),
    [['local', 'rejected.bpf.c', 22], [ssh, 'rejected.bpf.c', 22]],
  );
  const verdicts = report.programs.map((p: { target: string; file: string; ok: boolean; compiledOn: string }) => [p.target, p.file, p.ok, p.compiledOn]).sort();
  assert.deepEqual(verdicts.filter((v: unknown[]) => v[1] === 'rejected.bpf.c'), [['local', 'rejected.bpf.c', false, 'client'], [ssh, 'rejected.bpf.c', false, 'client']]);
  assert.ok(verdicts.filter((v: unknown[]) => v[1] === 'passes.bpf.c').every((v: unknown[]) => v[2] === true && v[3] === 'client'));
});

test('a matrix with an unreachable target still reports the others, and exits 2', () => {
  const args = ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'check', 'passes.bpf.c', '--target', 'local', '--target', `ssh://root@127.0.0.1:1`, '--format', 'json'];
  const run = spawnSync(process.execPath, args, { cwd: programs, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 2, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.ok(report.programs.length > 0 && report.programs.every((p: { target: string; ok: boolean }) => p.target === 'local' && p.ok));
  assert.deepEqual(report.unreachable.map((u: { target: string }) => u.target), ['ssh://root@127.0.0.1:1']);
  assert.match(report.unreachable[0].error, /127\.0\.0\.1/);
});

test('a clang error is reported at clang\'s file:line:col and nothing is verified', () => {
  const run = check(['clang-error.bpf.c']);
  assert.equal(run.status, 1);
  assert.equal(
    run.stdout,
    "clang-error.bpf.c:11:9: error: use of undeclared identifier 'undeclared_counter' [clang]\n" +
      `clang-error.bpf.c: not compiled, no program verified (on root@127.0.0.1:${sshd.port})\n`,
  );
});

test('an unknown host key is refused with its SHA256 fingerprint, exit 2', () => {
  const empty = path.join(scratch, 'empty_known_hosts');
  fs.writeFileSync(empty, '');
  const run = check(['passes.bpf.c'], { knownHosts: empty });
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.ok(run.stderr.includes(sshd.hostKeyFingerprint), run.stderr);
  assert.equal(run.stderr.trim().split('\n').length, 1, 'one line on stderr');
});

test('a changed host key is refused, exit 2', () => {
  const wrong = path.join(scratch, 'wrong_known_hosts');
  writeKnownHostsWithWrongKey(sshd, wrong);
  const run = check(['passes.bpf.c'], { knownHosts: wrong });
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /changed|does not match|MITM|man-in-the-middle/i);
  assert.equal(run.stderr.trim().split('\n').length, 1, 'one line on stderr');
});

test('a bad --format is a usage error, exit 2', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'check', 'passes.bpf.c', '--format', 'xml'], { cwd: programs, encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.equal(run.stderr, "ebpf-studio: --format must be text, json or sarif, not 'xml'\n");
});

test('an fentry program: verified where the target can attach BPF trampolines, else an error naming the missing kernel feature', async (t) => {
  // Decided by what the target's agent probed at hello (a real load of a tracing program), asked
  // the way the CLI reaches the target; so the assertion is exact either way.
  const session = await openAgentSession({
    target: { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user },
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agentSourceDir: path.join(root, 'remote-agent/agent'),
    clientVersion: 'checkCli.test',
  });
  const trampolines = session.hello.features.tracingPrograms;
  await session.dispose();
  t.diagnostic(`checked: the target ${trampolines ? 'has' : 'lacks'} BPF trampolines (hello.features.tracingPrograms = ${trampolines})`);
  const run = check(['fentry.bpf.c']);
  if (trampolines) {
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0, run.stdout);
    assert.match(run.stdout, /^fentry\.bpf\.c: program on_unlinkat \(fentry\/do_unlinkat\): ok, [1-9]\d* insns processed \(on root@127\.0\.0\.1:\d+, kernel .+\)$/m);
  } else {
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      /^fentry\.bpf\.c:10:1: error: ebpf-agent: on_unlinkat is an fentry\/fexit\/fmod_ret program, and this kernel cannot attach BPF trampolines to kernel functions; use .+ instead\. \[verifier\] \(on_unlinkat\)$/m,
    );
  }
});
