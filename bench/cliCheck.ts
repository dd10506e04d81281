/**
 * A cold `ebpf-studio check` from a terminal against a target over SSH, side by side in one run with
 * the manual way (`scp` of the source, then one `ssh` running clang and `bpftool prog loadall`
 * there). "Cold" is a new CLI process per check, as a script or a person at a prompt starts one:
 *  - with the session process already warm (an earlier run started it: connection and agent kept);
 *  - fully cold: a new session directory per run, so the session process, the SSH connection and the
 *    agent are all started by that run;
 *  - with --no-session: the run connects and starts an agent by itself;
 *  - the last two again through the user's OpenSSH client (--ssh-client openssh), as a target that
 *    uses certificates is reached.
 * For scale, one `ssh host true`, and where a --no-session run's time goes (its debug lines' times).
 * The target is a private sshd on 127.0.0.1 logging in as root, whose login shell is root's (so
 * every exec pays for its rc files, as on users' machines). Uses the built CLI (out/cli.js: run
 * `npm run build` first). Reports p50/p95 and manual / ours.
 *
 *   node --import tsx bench/cliCheck.ts [--runs N]
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { stopSessionProcessesIn } from '../test/support/sessionProcesses';
import { startSshd, type PrivateSshd } from '../test/support/sshd';
import { percentile, timeRuns } from './samples';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'out/cli.js');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-bench-cli-'));

/** A small valid program, as a first try of the tool would check. */
const PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
\t__uint(type, BPF_MAP_TYPE_ARRAY);
\t__uint(max_entries, 1);
\t__type(key, u32);
\t__type(value, u64);
} execs SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int count_execve(void *ctx)
{
\tu32 key = 0;
\tu64 *value = bpf_map_lookup_elem(&execs, &key);

\tif (value)
\t\t__sync_fetch_and_add(value, 1);
\treturn 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

const programDir = path.join(scratch, 'program');
fs.mkdirSync(programDir);
const program = path.join(programDir, 'count_execve.bpf.c');
fs.writeFileSync(program, PROGRAM);
const vmlinuxDir = path.join(scratch, 'vmlinux');
fs.mkdirSync(vmlinuxDir);
fs.writeFileSync(path.join(vmlinuxDir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 30 }));

/** OpenSSH's options for the private sshd, as the manual way and the login row use them. */
function sshOptions(sshd: PrivateSshd): string[] {
  return ['-i', sshd.identityFile, '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`, '-o', 'BatchMode=yes'];
}

function manualOverSsh(sshd: PrivateSshd): Promise<number[]> {
  const remoteDir = path.join(scratch, 'remote');
  fs.mkdirSync(remoteDir, { recursive: true });
  const ssh = sshOptions(sshd);
  const pin = `/sys/fs/bpf/ebpf-studio-bench-cli-${process.pid}`;
  const remoteFile = path.join(remoteDir, path.basename(program));
  const clang = ['clang', '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${vmlinuxDir}`, '-c', remoteFile, '-o', `${remoteDir}/manual.o`].join(' ');
  const command = `${clang} && bpftool prog loadall ${remoteDir}/manual.o ${pin} && rm -rf ${pin}`;
  return timeRuns(runs, () => {
    execFileSync('scp', ['-q', '-P', String(sshd.port), ...ssh, program, `${sshd.user}@${sshd.host}:${remoteDir}/`]);
    execFileSync('ssh', ['-p', String(sshd.port), ...ssh, `${sshd.user}@${sshd.host}`, command]);
  });
}

let sessionDirs = 0;
function newSessionDir(): string {
  const dir = path.join(scratch, `session-${sessionDirs++}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** `ebpf-studio check` of the program on the private sshd, as Node's arguments. */
function checkArgs(sshd: PrivateSshd, extra: string[]): string[] {
  return [cli, 'check', program, '--target', `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, '--identity', sshd.identityFile, '--known-hosts', sshd.knownHostsFile, ...extra];
}

function cliCheck(sshd: PrivateSshd, env: Record<string, string>, extra: string[] = []): void {
  const args = checkArgs(sshd, extra);
  const inherited = { ...process.env };
  delete inherited['EBPF_STUDIO_SESSION'];
  const out = execFileSync(process.execPath, args, { cwd: programDir, encoding: 'utf8', env: { ...inherited, ...env } });
  if (!/: ok, /.test(out)) throw new Error(`the check did not pass: ${out}`);
}

/**
 * Where a `--no-session` run's time goes, from the timestamps of its EBPF_STUDIO_DEBUG lines: the
 * Node start and the command's code until the first packet, the SSH handshake and authentication,
 * the agent's start (one exec through the login shell) and hello, then the check itself.
 */
const PHASES = [
  { name: 'Node start and the check command, until connecting', ends: /^Connecting to / },
  { name: 'SSH handshake and authentication', ends: /^Connected to / },
  { name: "the agent's start exec (login shell rc) and hello", ends: /^Agent \S+ on / },
  { name: 'compile, load, report, exit', ends: undefined },
] as const;

async function noSessionPhases(sshd: PrivateSshd): Promise<number[]> {
  const started = performance.now();
  const child = spawn(process.execPath, checkArgs(sshd, ['--no-session']), { cwd: programDir, env: { ...process.env, EBPF_STUDIO_DEBUG: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ends: number[] = [];
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const now = performance.now() - started;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (ends.length < PHASES.length - 1 && PHASES[ends.length]!.ends!.test(line)) ends.push(now);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0 || ends.length !== PHASES.length - 1) throw new Error(`the --no-session check exited ${code} after ${ends.length} of its phases`);
  ends.push(performance.now() - started);
  return ends.map((end, i) => end - (i === 0 ? 0 : ends[i - 1]!));
}

function row(name: string, samples: number[], manualP50?: number): string {
  const p50 = percentile(samples, 50);
  const ratio = manualP50 === undefined ? '' : `   ${(p50 / manualP50).toFixed(2)} of manual`;
  return `  ${name.padEnd(52)} ${p50.toFixed(0).padStart(6)} ms ${percentile(samples, 95).toFixed(0).padStart(6)} ms${ratio}`;
}

async function main(): Promise<void> {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const sshd = await startSshd();
  try {
    console.log(`a cold \`ebpf-studio check\` of a small valid program over SSH (127.0.0.1), a new CLI process per check; ${runs} runs after one warm-up, kernel ${os.release()}, ${os.cpus().length} CPUs; p50, p95, ours / manual (p50)`);
    const manual = await manualOverSsh(sshd);
    const manualP50 = percentile(manual, 50);
    console.log(row('manual: scp + ssh clang, bpftool prog loadall', manual));
    const warmDir = newSessionDir();
    console.log(row('ebpf-studio check, session process warm', await timeRuns(runs, () => cliCheck(sshd, { EBPF_STUDIO_SESSION_DIR: warmDir })), manualP50));
    // Short idle: the fully cold runs' session processes exit soon after, instead of piling up.
    const cold = await timeRuns(runs, () => cliCheck(sshd, { EBPF_STUDIO_SESSION_DIR: newSessionDir(), EBPF_STUDIO_SESSION_IDLE_SECONDS: '5' }));
    console.log(row('ebpf-studio check, fully cold (session process started)', cold, manualP50));
    console.log(row('ebpf-studio check --no-session', await timeRuns(runs, () => cliCheck(sshd, {}, ['--no-session'])), manualP50));
    const login = [...sshOptions(sshd), '-p', String(sshd.port), `${sshd.user}@${sshd.host}`, 'true'];
    console.log(row('  for scale: ssh host true (one login)', await timeRuns(runs, () => void execFileSync('ssh', login)), manualP50));
    const phases: number[][] = PHASES.map(() => []);
    await timeRuns(runs, async () => (await noSessionPhases(sshd)).forEach((ms, i) => phases[i]!.push(ms)));
    PHASES.forEach((phase, i) => console.log(row(`  --no-session: ${phase.name}`, phases[i]!.slice(1))));
    // The user's ssh instead of ours (what a target with certificates gets): one ssh -M login, commands as sessions.
    const openssh = ['--ssh-client', 'openssh'];
    const warmOpensshDir = newSessionDir();
    console.log(row('… --ssh-client openssh, session process warm', await timeRuns(runs, () => cliCheck(sshd, { EBPF_STUDIO_SESSION_DIR: warmOpensshDir }, openssh)), manualP50));
    console.log(row('… --ssh-client openssh --no-session', await timeRuns(runs, () => cliCheck(sshd, {}, ['--no-session', ...openssh])), manualP50));
  } finally {
    // Every session directory of this bench is under scratch.
    stopSessionProcessesIn(scratch);
    await sshd.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
