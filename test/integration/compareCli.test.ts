/**
 * `ebpf-studio compare` end to end on this machine's kernel: a program committed in a scratch git
 * repository, then edited so its loop runs 100 times more, is checked as committed and as edited by
 * the local agent; the table's figures must go the right way, and the growth must be flagged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

const root = path.join(import.meta.dirname, '..', '..');
let scratch: string;

/** A tracepoint program whose loop the verifier walks ROUNDS times (the sum is unknown to it, so nothing folds). */
function loopProgram(rounds: number): string {
  return `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define ROUNDS ${rounds}

SEC("tracepoint/syscalls/sys_enter_openat")
int mix_bits(void *ctx)
{
	__u64 sum = bpf_get_prandom_u32();

	for (int i = 0; i < ROUNDS; i++)
		sum = (sum << 1) ^ (sum >> 3) ^ i;
	bpf_printk("%llu", sum);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;
}

function git(...args: string[]): void {
  execFileSync('git', args, { cwd: scratch, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
}

function compare(...args: string[]) {
  // The built CLI (npm run build), since the scratch repository is outside the project: tsx is not importable there.
  const run = spawnSync(process.execPath, [path.join(root, 'out/cli.js'), 'compare', ...args], { cwd: scratch, encoding: 'utf8', timeout: 180_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-compare-test-'));
  git('init', '-q');
  fs.writeFileSync(path.join(scratch, 'mix.bpf.c'), loopProgram(4));
  git('add', 'mix.bpf.c');
  git('commit', '-qm', 'four rounds');
  fs.writeFileSync(path.join(scratch, 'mix.bpf.c'), loopProgram(400));
});

after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

interface Figure {
  base: number | null;
  current: number | null;
  diff: number | null;
  percent: number | null;
}

test('the committed program against its edit with a longer loop: more instructions processed, flagged, exit 1', () => {
  const run = compare('mix.bpf.c', '--target', 'local', '--format', 'json');
  assert.equal(run.stderr, '');
  assert.equal(run.status, 1, run.stdout);
  const comparison = JSON.parse(run.stdout);
  assert.match(comparison.base, /^mix\.bpf\.c at HEAD \([0-9a-f]+\) on local \(.+\)$/);
  assert.match(comparison.current, /^mix\.bpf\.c as it is now on local \(.+\)$/);
  assert.equal(comparison.rows.length, 1);
  const [row] = comparison.rows;
  assert.deepEqual([row.file, row.program, row.base, row.current], ['mix.bpf.c', 'mix_bits', 'accepted', 'accepted']);
  const insns: Figure = row.metrics.insnsProcessed;
  assert.ok(insns.base !== null && insns.current !== null && insns.current >= 2 * insns.base, JSON.stringify(insns));
  assert.equal(insns.diff, insns.current - insns.base);
  assert.equal(insns.percent, ((insns.current - insns.base) / insns.base) * 100);
  assert.deepEqual(row.flags, [`Insns ×${(insns.current / insns.base).toFixed(1)}`]);

  const text = compare('mix.bpf.c');
  assert.equal(text.status, 1, text.stderr);
  const lines = text.stdout.split('\n');
  assert.match(lines[3]!, /^File +Program +Verdict \(A\) +Verdict \(B\) +Verdict \(DIFF\) +Insns \(A\) +Insns \(B\) +Insns \(DIFF\) /);
  assert.match(lines.find((l) => l.startsWith('mix.bpf.c'))!, /^mix\.bpf\.c +mix_bits +accepted +accepted +MATCH +\d+ +\d+ +\+\d+ \(\+\d+\.\d%\) /);
  assert.match(text.stdout, /\nFlagged: mix_bits \(Insns ×\d+\.\d\)\.\n$/);
});

test('a file git does not track cannot be compared with its last commit: exit 2 and why', () => {
  fs.writeFileSync(path.join(scratch, 'new.bpf.c'), loopProgram(1));
  const run = compare('new.bpf.c');
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, `ebpf-studio: ${path.join(fs.realpathSync(scratch), 'new.bpf.c')} is not tracked by git, so it has no committed version to compare with: add and commit it first\n`);
});
