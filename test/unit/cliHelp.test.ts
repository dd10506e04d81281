/**
 * `ebpf-studio --help`, `ebpf-studio COMMAND --help` and `--version`, run as a user types them:
 * every command main.ts dispatches answers --help with its own usage on stdout and exit 0, before
 * its option parser could call --help unknown.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMAND_USAGE } from '../../cli/usage';
import { version } from '../../package.json';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'cli', 'main.ts');

/** The commands main.ts dispatches (its `case 'name':` labels), help and version aside. */
const dispatched = [...readFileSync(main, 'utf8').matchAll(/case '([a-z][a-z-]*)':/g)].map((m) => m[1]).filter((c) => c !== 'help');

function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('main.ts dispatches at least check, run and lsp, and every command it dispatches has a usage', () => {
  for (const command of ['check', 'run', 'lsp']) assert.ok(dispatched.includes(command), `${command} is dispatched`);
  for (const command of dispatched) assert.ok(Object.hasOwn(COMMAND_USAGE, command), `cli/usage.ts has no usage for '${command}'`);
});

test('COMMAND --help, -h and help COMMAND print that command\'s usage on stdout and exit 0, whatever else is on the line', async () => {
  const asks = dispatched.flatMap((command) => [[command, '--help'], [command, '-h'], ['help', command], [command, 'probe.bpf.c', '--format', 'xml', '--help']]);
  const runs = await Promise.all(asks.map((args) => cli(...args)));
  asks.forEach((args, i) => {
    const command = args[0] === 'help' ? args[1] : args[0];
    assert.deepEqual(runs[i], { status: 0, stdout: `${COMMAND_USAGE[command]}\n`, stderr: '' }, `ebpf-studio ${args.join(' ')}`);
    assert.ok(runs[i].stdout.startsWith(`usage: ebpf-studio ${command} `), `ebpf-studio ${args.join(' ')}: its own usage`);
  });
});

test('--help lists one usage line per command and --version prints the package version', async () => {
  const [help, short, printed] = await Promise.all([cli('--help'), cli('-h'), cli('--version')]);
  assert.equal(help.status, 0);
  assert.equal(help.stderr, '');
  assert.deepEqual(short, help);
  const lines = help.stdout.split('\n');
  for (const command of Object.keys(COMMAND_USAGE)) {
    assert.equal(lines.filter((l) => l.includes(`ebpf-studio ${command} `)).length, 1, `one usage line for ${command} in:\n${help.stdout}`);
  }
  assert.ok(lines.includes('       ebpf-studio --version'));
  assert.deepEqual(printed, { status: 0, stdout: `${version}\n`, stderr: '' });
});

test('an unknown command, or help for one, is a usage error: exit 2 and one line on stderr', async () => {
  const [unknown, helpUnknown, nothing] = await Promise.all([cli('frobnicate'), cli('help', 'frobnicate'), cli()]);
  assert.deepEqual(unknown, { status: 2, stdout: '', stderr: "ebpf-studio: unknown command 'frobnicate' (see ebpf-studio --help)\n" });
  assert.deepEqual(helpUnknown, { status: 2, stdout: '', stderr: "ebpf-studio: unknown command 'frobnicate' (see ebpf-studio --help)\n" });
  assert.deepEqual(nothing, { status: 2, stdout: '', stderr: 'ebpf-studio: no command given (see ebpf-studio --help)\n' });
});
