/**
 * Every verifier fixture program, checked again on the real kernel it was captured on: each
 * rejected program gets the fixture's line, knowledge-base explanation and causal lines
 * (test/fixtures/verifier-logs/<case>/expected.json). Cases without a suffix were captured on this
 * machine's kernel and run through the local agent; `<case>-6.1` and `<case>-7.3` on Debian's 6.1
 * and 7.3, and run on the test VMs of those kernels (test/support/testKernels.ts), compiled here
 * against each VM's BTF as `check` does. A kernel whose wording or line moved shows here first.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openCliSession } from '../../cli/cliSession';
import type { AgentSession } from '../../remote-agent/client/agentSession';
import { checkFilesOnSession, LocalCompiler } from '../../remote-agent/client/kernelMatrix';
import { readyTarget, testKernels, type TestKernel } from '../support/testKernels';

const CASES = path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs');

interface ExpectedDiagnostic {
  line: number;
  program: string;
  explanation?: string;
  related?: Array<{ line: number; message: string }>;
}

const signal = new AbortController().signal;
/** Where each fixture suffix was captured: '' this machine, '6.1' and '7.3' Debian's kernels. */
const kernelOf = new Map<string, TestKernel>(testKernels().map((k) => [k.target === 'local' ? '' : k.label.replace(/^Debian /, ''), k]));
const sessions = new Map<string, Promise<AgentSession>>();
/** Compiles for the VMs here, as `check` does. */
const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));

/** One session per kernel, opened on first use. */
function sessionFor(kernel: TestKernel): Promise<AgentSession> {
  let opened = sessions.get(kernel.target);
  if (opened === undefined) {
    opened = readyTarget(kernel).then((target) => openCliSession({ target }, signal));
    sessions.set(kernel.target, opened);
  }
  return opened;
}

after(async () => {
  for (const opened of sessions.values()) await (await opened).dispose();
  await compiler.dispose();
});

/** The causal lines: related entries that are not the walked path. */
const causal = (related: ExpectedDiagnostic['related']) => (related ?? []).filter((r) => !r.message.startsWith('verifier path:')).map((r) => ({ line: r.line, message: r.message }));

for (const name of readdirSync(CASES).sort()) {
  const dir = path.join(CASES, name);
  const suffix = /-(\d+\.\d+)$/.exec(name)?.[1] ?? '';
  const kernel = kernelOf.get(suffix);
  // A case of a kernel this machine cannot boot: testKernels() has declared the failing test that says why under CI.
  if (kernel === undefined || !existsSync(path.join(dir, 'expected.json'))) continue;
  test(`${name}: line, explanation and causal lines on ${kernel.label}`, { timeout: 600_000 }, async () => {
    const session = await sessionFor(kernel);
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { diagnostics: ExpectedDiagnostic[] };
    const [report] = await checkFilesOnSession(session, [path.join(dir, 'prog.bpf.c')], { compileOn: 'auto', compiler });
    assert.deepEqual(
      report.diagnostics.map((d) => ({ program: d.program, line: d.line, explanation: d.explanation?.id, causes: causal(d.related) })),
      expected.diagnostics.map((d) => ({ program: d.program, line: d.line, explanation: d.explanation, causes: causal(d.related) })),
    );
  });
}
