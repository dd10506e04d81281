/**
 * Captures verifier fixtures on a real kernel: for each named case folder of
 * test/fixtures/verifier-logs holding a prog.bpf.c, compiles and loads it through the agent (as
 * `ebpf-studio check` does) and writes prog.o, verifier.log (the first rejected program's log) and
 * verdicts.json. Then `UPDATE_EXPECT=1 node --import tsx --test test/unit/checkFile.test.ts`
 * writes expected.json; read its diff before committing.
 *
 *   npx tsx scripts/capture-verifier-fixtures.ts [--target local|ssh://…|vm:NAME] [--cases DIR] CASE...
 *
 * --cases DIR takes the case folders from DIR instead (to look at another kernel's logs first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openCliSession, CONNECTION_OPTIONS } from '../cli/cliSession';
import { collectSourceBundle } from '../remote-agent/client/sourceBundle';

const FIXTURE_CASES = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'verifier-logs');

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { ...CONNECTION_OPTIONS, cases: { type: 'string', default: FIXTURE_CASES } } });
  if (positionals.length === 0) throw new Error('name at least one case folder of test/fixtures/verifier-logs');
  const abort = new AbortController();
  const session = await openCliSession(values, abort.signal);
  try {
    console.log(`capturing on ${session.description}, kernel ${session.hello.kernelRelease}`);
    for (const name of positionals) {
      const dir = path.join(values.cases, name);
      const bundle = await collectSourceBundle(path.join(dir, 'prog.bpf.c'), {});
      const compiled = await session.client.request('compile', { files: bundle.files, main: bundle.main });
      if (!compiled.ok || compiled.objectId === null || compiled.object === null) {
        console.log(`${name}: clang failed:\n${compiled.stderr}`);
        continue;
      }
      fs.writeFileSync(path.join(dir, 'prog.o'), Buffer.from(compiled.object, 'base64'));
      try {
        const loaded = await session.client.request('load', { objectId: compiled.objectId });
        const programs = loaded.programs.map((v, i) => {
          const log = v.ok ? `${v.name}.log` : loaded.programs.findIndex((p) => !p.ok) === i ? 'verifier.log' : `${v.name}.log`;
          fs.writeFileSync(path.join(dir, log), v.log);
          return { name: v.name, section: v.section, type: v.type, errno: v.ok ? 0 : v.errno, log, libbpfLog: v.libbpfLog };
        });
        fs.writeFileSync(path.join(dir, 'verdicts.json'), JSON.stringify({ programs }, null, 2) + '\n');
        for (const v of loaded.programs) {
          const last = v.log.trimEnd().split('\n').filter((l) => !/^(verification time|stack depth|processed |subprog \d+ \(|\s|$)/.test(l)).pop();
          console.log(`${name}: ${v.name} ${v.ok ? 'passed' : `rejected: ${last}`}`);
        }
      } finally {
        await session.client.request('release', { objectId: compiled.objectId });
      }
    }
  } finally {
    await session.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
