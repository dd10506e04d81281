/**
 * `ebpf-studio`, the headless face of eBPF Studio for terminals and CI pipelines.
 *   ebpf-studio check FILE... [--target local|ssh://[user@]host[:port]] [--identity KEYFILE]
 *                             [--known-hosts FILE] [--format text|json]
 * Exit status: 0 every program compiled and passed, 1 an error diagnostic, 2 usage, connection
 * or host-key problems (with a one-line reason on stderr).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openAgentSession, type AgentSession } from '../remote-agent/client/agentSession';
import { checkFile } from '../remote-agent/client/checkFile';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { parseTarget } from '../remote-agent/client/targetSpec';
import { exitStatusOf, formatText, toJsonDiagnostics, type OutputFormat } from './formatReport';
import { version } from '../package.json';

const USAGE = `usage: ebpf-studio check FILE... [--target local|ssh://[user@]host[:port]] [--identity KEYFILE]
                          [--known-hosts FILE] [--format text|json]
       ebpf-studio --version`;

/** The agent's C sources ship beside the bundle (out/agent-src); from a checkout they are in the tree. */
function agentSourceDir(): string {
  const bundled = path.join(__dirname, 'agent-src');
  return fs.existsSync(bundled) ? bundled : path.join(__dirname, '..', 'remote-agent', 'agent');
}

async function check(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string', default: 'local' },
      identity: { type: 'string' },
      'known-hosts': { type: 'string' },
      format: { type: 'string', default: 'text' },
    },
  });
  const format = values.format as OutputFormat;
  if (format !== 'text' && format !== 'json') throw new Error(`--format must be text or json, not '${values.format}'`);
  if (positionals.length === 0) throw new Error('check needs at least one FILE');
  const files = positionals.map((f) => path.resolve(f));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new Error(`${f}: no such file`);
  }
  const target = parseTarget(values.target!);

  // Its errors name the target and say what to do (host key, auth, sudo, agent build).
  const session: AgentSession = await openAgentSession({
    target,
    agentSourceDir: agentSourceDir(),
    knownHostsFile: values['known-hosts'],
    identityFile: values.identity,
    clientVersion: `ebpf-studio-cli ${version}`,
    signal,
    log: process.env.EBPF_STUDIO_DEBUG ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  try {
    const reports: CheckReport[] = [];
    for (const file of files) {
      reports.push(
        await checkFile(session.client, file, {
          target: session.description,
          kernelRelease: session.hello.kernelRelease,
          signal,
        }),
      );
    }
    const cwd = process.cwd();
    process.stdout.write(
      format === 'json' ? JSON.stringify(toJsonDiagnostics(reports, cwd), null, 2) + '\n' : formatText(reports, cwd),
    );
    return exitStatusOf(reports);
  } finally {
    await session.dispose();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  try {
    switch (command) {
      case 'check':
        return await check(rest, abort.signal);
      case '--version':
        process.stdout.write(`${version}\n`);
        return 0;
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        throw new Error(command ? `unknown command '${command}' (see ebpf-studio --help)` : 'no command given (see ebpf-studio --help)');
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // Scripts read one line per failure: fold multi-line explanations into it.
    process.stderr.write(`ebpf-studio: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    // Anything that stopped us before a verdict (usage, connection, host key, agent) is status 2.
    return 2;
  }
}

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
