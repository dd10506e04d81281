/**
 * `ebpf-studio mcp [--target T]... [--allow-target T]...`: serves cli/mcpServer.ts on stdin/stdout
 * until the client closes it. stdout belongs to the protocol; the call log goes to stderr.
 */
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { version } from '../package.json';
import { LocalCompiler } from '../remote-agent/client/kernelMatrix';
import { cliNamedTargets, openCliSession } from './cliSession';
import { createMcpServer } from './mcpServer';

export async function mcpCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', multiple: true },
      'allow-target': { type: 'string', multiple: true },
      identity: { type: 'string' },
      'known-hosts': { type: 'string' },
    },
  });
  const targets = values.target ?? ['local'];
  const notConfigured = (values['allow-target'] ?? []).filter((t) => !targets.includes(t));
  if (notConfigured.length > 0) throw new Error(`--allow-target ${notConfigured[0]} is not one of the --target values (${targets.join(', ')})`);
  const connection = { identity: values.identity, 'known-hosts': values['known-hosts'] };
  const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));
  const server = createMcpServer({
    targets,
    namedTargets: cliNamedTargets(),
    allowedWithoutAsking: values['allow-target'] ?? [],
    openSession: (target, callSignal) => openCliSession({ ...connection, target }, AbortSignal.any([signal, callSignal])),
    compiler,
    version,
    log: (line) => process.stderr.write(`ebpf-studio mcp: ${line}\n`),
  });
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.connect(new StdioServerTransport());
  process.stderr.write(`ebpf-studio mcp: serving ${targets.join(', ')} on stdio\n`);
  try {
    await closed;
  } finally {
    await server.close();
    await compiler.dispose();
  }
  return 0;
}
