/**
 * Every template in bpf-templates/ compiles against this kernel's vmlinux.h and passes the
 * verifier, checked the way the editor checks a file (local agent session + checkFile).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';

const root = path.join(__dirname, '..', '..');
const templatesDir = path.join(root, 'bpf-templates');
const templates = fs
  .readdirSync(templatesDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.bpf.c'))
  .map((f) => path.join(templatesDir, f));

let session: AgentSession;

before(async () => {
  session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir: path.join(root, 'remote-agent/agent'), clientVersion: 'test' });
});

after(async () => {
  await session?.dispose();
});

test('there is at least one template', () => {
  assert.ok(templates.length >= 1, `no *.bpf.c under ${templatesDir}`);
});

for (const template of templates) {
  test(`template ${path.relative(templatesDir, template)} compiles and every program passes the verifier`, async () => {
    const report = await checkFile(session.client, template, { target: session.description, kernelRelease: session.hello.kernelRelease });
    assert.deepEqual(report.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.equal(report.compiled, true);
    assert.ok(report.programs.length >= 1);
    for (const p of report.programs) assert.equal(p.ok, true, `${p.name}: ${p.error}`);
  });
}
