/**
 * `ebpf-studio mcp [--target T]... [--allow-target T]... [--idle-seconds N]`: serves cli/mcpServer.ts
 * on stdin/stdout until the client closes it; each target's agent session is kept open N seconds
 * (default 60) after a call for the next one. stdout belongs to the protocol; the call log goes to stderr.
 */
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { version } from '../package.json';
import { LocalCompiler } from '../remote-agent/client/kernelMatrix';
import { cliNamedTargets, openCliSession } from './cliSession';
import { closeMcpSessions, createMcpServer } from './mcpServer';

export async function mcpCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', multiple: true },
      'allow-target': { type: 'string', multiple: true },
      identity: { type: 'string' },
      'known-hosts': { type: 'string' },
      'ssh-client': { type: 'string' },
      'idle-seconds': { type: 'string', default: '60' },
    },
  });
  const idleSeconds = Number(values['idle-seconds']);
  if (!Number.isFinite(idleSeconds) || idleSeconds < 0) throw new Error(`--idle-seconds must be a number of seconds, 0 or more, not '${values['idle-seconds']}'`);
  const targets = values.target ?? ['local'];
  const notConfigured = (values['allow-target'] ?? []).filter((t) => !targets.includes(t));
  if (notConfigured.length > 0) throw new Error(`--allow-target ${notConfigured[0]} is not one of the --target values (${targets.join(', ')})`);
  const connection = { identity: values.identity, 'known-hosts': values['known-hosts'], 'ssh-client': values['ssh-client'] };
  const compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, signal, { unprivileged: true }));
  const server = createMcpServer({
    targets,
    namedTargets: cliNamedTargets(),
    allowedWithoutAsking: values['allow-target'] ?? [],
    openSession: (target, callSignal) => openCliSession({ ...connection, target }, AbortSignal.any([signal, callSignal])),
    idleSeconds,
    compiler,
    version,
    log: (line) => process.stderr.write(`ebpf-studio mcp: ${line}\n`),
  });
  const closed = new Promise<void>((resolve) => {
    const onclose = server.server.onclose;
    server.server.onclose = () => {
      onclose?.();
      resolve();
    };
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.connect(new StdioServerTransport());
  process.stderr.write(`ebpf-studio mcp: serving ${targets.join(', ')} on stdio\n`);
  try {
    await closed;
  } finally {
    await server.close();
    await closeMcpSessions(server);
    await compiler.dispose();
  }
  return 0;
}
