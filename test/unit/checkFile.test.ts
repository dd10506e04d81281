/**
 * Data-driven specification of the check pipeline, one case per directory of
 * test/fixtures/verifier-logs: a real BPF C file, the object clang made of it, and the verifier
 * log this project's kernel wrote for it. A fake agent serves them; checkFile's diagnostics
 * and verdicts must equal the case's expected.json (UPDATE_EXPECT=1 rewrites it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CompileParams, CompileResult, LoadResult, ProgramVerdict, ReleaseParams } from '../../remote-agent/protocol';
import { checkFile, type VerifyingAgent } from '../../remote-agent/client/checkFile';
import { requesterOf } from '../../remote-agent/client/requestHandlers';
import { parseVerifierLog } from '../../remote-agent/client/verifierLog';
import type { CheckReport } from '../../remote-agent/client/checkReport';

const CASES = path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs');

interface CaseVerdict {
  name: string;
  section: string;
  type: string;
  errno: number;
  log: string;
  libbpfLog: string;
}

/** An in-process agent answering from a fixture folder: the object and the verdicts captured on a real kernel. */
class FixtureAgent implements VerifyingAgent {
  readonly compiled: CompileParams[] = [];
  readonly request = requesterOf({ compile: (p) => this.compile(p), load: () => this.load(), release: (p) => this.release(p) }).request;
  readonly released: string[] = [];
  constructor(private readonly dir: string) {}

  async compile(p: CompileParams): Promise<CompileResult> {
    this.compiled.push(p);
    const object = readFileSync(path.join(this.dir, 'prog.o')).toString('base64');
    return { ok: true, objectId: 'obj-1', object, stderr: '', exitCode: 0, durationMs: 7, warmCompiler: true, vmlinuxH: 'cached' };
  }

  async load(): Promise<LoadResult> {
    const { programs } = JSON.parse(readFileSync(path.join(this.dir, 'verdicts.json'), 'utf8')) as { programs: CaseVerdict[] };
    return {
      programs: programs.map(
        (v): ProgramVerdict => ({
          name: v.name,
          section: v.section,
          type: v.type,
          ok: v.errno === 0,
          errno: v.errno,
          log: readFileSync(path.join(this.dir, v.log), 'utf8'),
          libbpfLog: v.libbpfLog,
          insnCount: 0,
          // null: the report must take them from the log itself.
          insnsProcessed: null,
          totalStates: null,
          peakStates: null,
          verificationTimeUs: null,
          loadMs: 1,
        }),
      ),
    };
  }

  async release(p: ReleaseParams): Promise<Record<string, never>> {
    this.released.push(p.objectId);
    return {};
  }
}

/** The report with case-relative paths and without the bulky raw log, as stored in expected.json. */
function portable(dir: string, report: CheckReport, verdictLogs: Map<string, string>): unknown {
  const rel = (f: string | undefined) => (f === undefined ? undefined : path.relative(dir, f).split(path.sep).join('/'));
  return {
    log: Object.fromEntries(
      [...verdictLogs].map(([name, text]) => {
        const p = parseVerifierLog(text);
        return [
          name,
          {
            message: p.message,
            failingInsn: p.failingInsn,
            allocInsn: p.allocInsn,
            path: p.path.map((a) => `${a.insn}: ${a.source}${a.file ? ` @ ${a.file}:${a.line}` : ''}`),
            stats: p.stats,
          },
        ];
      }),
    ),
    diagnostics: report.diagnostics.map((d) => ({
      ...d,
      // The entry's id: its wording is the knowledge base's business (verifierKnowledge.test.ts).
      ...(d.explanation ? { explanation: d.explanation.id } : {}),
      file: rel(d.file),
      ...(d.related ? { related: d.related.map((r) => ({ ...r, file: rel(r.file) })) } : {}),
    })),
    programs: report.programs.map(({ log, walk, ...p }) => ({
      ...p,
      file: rel(p.file),
      logLines: log.split('\n').length,
      // One line per walked source line: visits, entries, the state before it, what it reads.
      ...(walk && {
        walk: {
          complete: walk.complete,
          insnLines: walk.insnLines,
          lines: walk.lines.map(
            (l) => `${rel(l.file)}:${l.line} ×${l.insnsProcessed} in ${l.entries} | ${l.stateBefore} | reads ${l.registers.join(' ') || '-'} | log line ${l.firstLogLine}`,
          ),
          logSources: walk.logSources.map((r) => `${r.fromLogLine} → ${rel(r.file)}:${r.line}`),
          unreached: walk.unreached.map((l) => `${rel(l.file)}:${l.line}`),
        },
      }),
    })),
  };
}

for (const name of readdirSync(CASES).sort()) {
  const dir = path.join(CASES, name);
  if (!existsSync(path.join(dir, 'verdicts.json'))) continue;
  test(`verifier fixture ${name}: diagnostics and verdicts match expected.json`, async () => {
    const agent = new FixtureAgent(dir);
    const report = await checkFile(agent, path.join(dir, 'prog.bpf.c'), { target: 'fixture', kernelRelease: '6.18.44' });
    const { programs } = JSON.parse(readFileSync(path.join(dir, 'verdicts.json'), 'utf8')) as { programs: CaseVerdict[] };
    const logs = new Map(programs.map((v) => [v.name, readFileSync(path.join(dir, v.log), 'utf8')]));
    const actual = portable(dir, report, logs);
    const expectedFile = path.join(dir, 'expected.json');
    if (process.env.UPDATE_EXPECT === '1') writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
    assert.deepEqual(actual, JSON.parse(readFileSync(expectedFile, 'utf8')));
    assert.deepEqual(agent.released, ['obj-1'], 'the object is released exactly once');
    assert.equal(agent.compiled[0].main, 'prog.bpf.c');
  });
}

const CLANG_FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'programs', 'clang-error.bpf.c');

test('a compile failure gives clang\'s diagnostics, compiled:false, no load and nothing to release', async () => {
  const calls: string[] = [];
  const agent: VerifyingAgent = requesterOf({
    async compile(p) {
      calls.push(`compile ${p.main}`);
      return {
        ok: false,
        objectId: null,
        object: null,
        stderr:
          "clang-error.bpf.c:11:9: error: use of undeclared identifier 'undeclared_counter'\n        return undeclared_counter + x;\n               ^\n1 error generated.\n",
        exitCode: 1,
        durationMs: 40,
        warmCompiler: true,
        vmlinuxH: 'cached',
      };
    },
    async load() {
      calls.push('load');
      return { programs: [] };
    },
    async release() {
      calls.push('release');
      return {};
    },
  });
  const report = await checkFile(agent, CLANG_FIXTURE, { target: 'local', kernelRelease: '6.18.44' });
  assert.deepEqual(calls, ['compile clang-error.bpf.c']);
  assert.equal(report.compiled, false);
  assert.equal(report.compileMs, 40);
  assert.deepEqual(report.diagnostics, [
    { file: CLANG_FIXTURE, line: 11, column: 9, severity: 'error', message: "use of undeclared identifier 'undeclared_counter'", source: 'clang' },
  ]);
});

test('the object is released even when loading fails, and the load error is what the caller sees', async () => {
  const dir = path.join(CASES, 'null-map-value');
  const released: string[] = [];
  const agent: VerifyingAgent = requesterOf({
    compile: (p) => new FixtureAgent(dir).compile(p),
    async load() {
      throw new Error('The connection to the agent was lost.');
    },
    async release(p) {
      released.push(p.objectId);
      return {};
    },
  });
  await assert.rejects(checkFile(agent, path.join(dir, 'prog.bpf.c'), { target: 'local', kernelRelease: '6.18.44' }), /connection to the agent was lost/);
  assert.deepEqual(released, ['obj-1']);
});

test('when release fails after a failed load, both reasons are reported', async () => {
  const dir = path.join(CASES, 'null-map-value');
  const agent: VerifyingAgent = requesterOf({
    compile: (p) => new FixtureAgent(dir).compile(p),
    async load() {
      throw new Error('Loading timed out.');
    },
    async release() {
      throw new Error('The agent is gone.');
    },
  });
  await assert.rejects(
    checkFile(agent, path.join(dir, 'prog.bpf.c'), { target: 'local', kernelRelease: '6.18.44' }),
    /Loading timed out\. \(releasing object obj-1 on the target failed too: The agent is gone\.\)/,
  );
});

test('the editor\'s unsaved text is what gets compiled', async () => {
  const dir = path.join(CASES, 'null-map-value');
  const agent = new FixtureAgent(dir);
  const main = path.join(dir, 'prog.bpf.c');
  await checkFile(agent, main, {
    target: 'local',
    kernelRelease: '6.18.44',
    readFile: async (p) => (p === main ? '// unsaved\n' : readFileSync(p, 'utf8')),
  });
  assert.deepEqual(agent.compiled[0].files, [{ path: 'prog.bpf.c', content: '// unsaved\n' }]);
});
