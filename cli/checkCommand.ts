/**
 * `ebpf-studio check FILE...`: compile and verify each file on the target, print diagnostics as a
 * compiler does (or a JSON array), exit 0 when every program passed and 1 otherwise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkFile } from '../remote-agent/client/checkFile';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { CONNECTION_OPTIONS, openCliSession, parseFormat } from './cliSession';
import { exitStatusOf, formatText, toJsonDiagnostics } from './formatReport';

export async function checkCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, format: { type: 'string', default: 'text' } },
  });
  const format = parseFormat(values.format);
  if (positionals.length === 0) throw new Error('check needs at least one FILE');
  const files = positionals.map((f) => path.resolve(f));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`${f}: no such file`);
  }

  const session = await openCliSession(values, signal);
  try {
    const reports: CheckReport[] = [];
    for (const file of files) {
      reports.push(await checkFile(session.client, file, { target: session.description, kernelRelease: session.hello.kernelRelease, signal }));
    }
    const cwd = process.cwd();
    process.stdout.write(format === 'json' ? JSON.stringify(toJsonDiagnostics(reports, cwd), null, 2) + '\n' : formatText(reports, cwd));
    return exitStatusOf(reports);
  } finally {
    await session.dispose();
  }
}
