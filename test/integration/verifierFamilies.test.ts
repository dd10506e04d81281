/**
 * Every verifier fixture program, checked on this machine's real kernel through the local agent:
 * each rejected program gets the fixture's line, knowledge-base explanation and causal lines
 * (test/fixtures/verifier-logs/<case>/expected.json, captured on 6.18). A kernel whose wording or
 * line differs shows here first. `*-6.1-style` cases (sed-made copies) and cases captured on another
 * kernel (`*-7.3`) are skipped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openCliSession } from '../../cli/cliSession';
import type { AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';

const CASES = path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs');

interface ExpectedDiagnostic {
  line: number;
  program: string;
  explanation?: string;
  related?: Array<{ line: number; message: string }>;
}

let session: AgentSession;
before(async () => {
  session = await openCliSession({ target: 'local' }, new AbortController().signal);
});
after(async () => {
  await session?.dispose();
});

/** The causal lines: related entries that are not the walked path. */
const causal = (related: ExpectedDiagnostic['related']) => (related ?? []).filter((r) => !r.message.startsWith('verifier path:')).map((r) => ({ line: r.line, message: r.message }));

for (const name of readdirSync(CASES).sort()) {
  const dir = path.join(CASES, name);
  // Cases captured on another kernel (`…-7.3`) or made from another kernel's format are checked there.
  if (name.endsWith('-6.1-style') || /-\d+\.\d+$/.test(name) || !existsSync(path.join(dir, 'expected.json'))) continue;
  test(`${name}: line, explanation and causal lines on this kernel`, async () => {
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { diagnostics: ExpectedDiagnostic[] };
    const report = await checkFile(session.client, path.join(dir, 'prog.bpf.c'), { target: session.description, kernelRelease: session.hello.kernelRelease });
    assert.deepEqual(
      report.diagnostics.map((d) => ({ program: d.program, line: d.line, explanation: d.explanation?.id, causes: causal(d.related) })),
      expected.diagnostics.map((d) => ({ program: d.program, line: d.line, explanation: d.explanation, causes: causal(d.related) })),
    );
  });
}
