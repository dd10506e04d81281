/**
 * The corpus the language server must stay quiet on (test/fixtures/correct-programs/) is correct
 * for real: checked the way the editor checks a file (local agent session + checkFile), every file
 * compiles on the target without one clang diagnostic, and every program passes this kernel's
 * verifier — unless the kernel lacks its hook (decided from hello.features, asserted as the exact
 * missing-feature error) or its object has maps the loader sizes (max_entries left unset for
 * bpf_map__set_max_entries): those objects load only once a loader has sized them, which a check
 * of the file alone does not do, so for them the test says so and checks the compile only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openAgentSession, type AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile } from '../../remote-agent/client/checkFile';

const root = path.join(__dirname, '..', '..');
const corpus = path.join(root, 'test/fixtures/correct-programs');
const programs = fs.readdirSync(corpus).filter((f) => f.endsWith('.bpf.c')).sort();
/** The corpus files with a map whose max_entries the loader sets (libbpf-tools' style). */
const LOADER_SIZED = ['cpu_profile.bpf.c', 'malloc_latency.bpf.c', 'syscall_counts.bpf.c'];

let session: AgentSession;

before(async () => {
  session = await openAgentSession({ target: { kind: 'local' }, agentSourceDir: path.join(root, 'remote-agent/agent'), clientVersion: 'correctPrograms.test' });
});

after(async () => {
  await session?.dispose();
});

test('the files said to have loader-sized maps are exactly those that leave max_entries unset on a sized map type', () => {
  const unsized = programs.filter((file) => {
    const text = fs.readFileSync(path.join(corpus, file), 'utf8');
    // A map definition without max_entries, other than a perf event array (libbpf sizes those to the CPUs).
    return [...text.matchAll(/struct \{([^}]*)\} \w+ SEC\("\.maps"\)/g)].some(([, body]) => !body.includes('max_entries') && !body.includes('PERF_EVENT_ARRAY'));
  });
  assert.deepEqual(unsized, LOADER_SIZED);
});

for (const file of programs) {
  test(`${file}: compiles without a clang diagnostic; its programs pass the verifier where this kernel has their hook`, async (t) => {
    const report = await checkFile(session.client, path.join(corpus, file), { target: session.description, kernelRelease: session.hello.kernelRelease });
    assert.equal(report.compiled, true);
    assert.deepEqual(report.diagnostics.filter((d) => d.source === 'clang'), []);
    assert.ok(report.programs.length >= 1);
    if (LOADER_SIZED.includes(file)) {
      t.diagnostic(`checked the compile only: ${file} has maps its loader sizes, so its object cannot load as it is`);
      return;
    }
    const { tracingPrograms } = session.hello.features;
    for (const program of report.programs) {
      if (/^f(entry|exit)\//.test(program.section) && !tracingPrograms) {
        t.diagnostic(`checked: ${program.name} needs BPF trampolines, which this kernel lacks (hello.features.tracingPrograms = false)`);
        assert.equal(program.ok, false);
        assert.match(program.error ?? '', new RegExp(`^ebpf-agent: ${program.name} is an fentry/fexit/fmod_ret program, and this kernel cannot attach BPF trampolines to kernel functions; use .+ instead\\.$`));
      } else {
        assert.equal(program.ok, true, `${program.name}: ${program.error}`);
      }
    }
  });
}
