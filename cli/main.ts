/**
 * `ebpf-studio`, the headless face of eBPF Studio for terminals and CI pipelines.
 *   ebpf-studio check FILE...   compile and verify on the target (cli/checkCommand.ts)
 *   ebpf-studio compare FILE    the verifier's cost, committed vs now or target vs target (cli/compareCommand.ts)
 *   ebpf-studio run FILE        verify, attach, stream decoded events and printk (cli/runCommand.ts)
 *   ebpf-studio lsp [--stdio]   the eBPF language server for any LSP client (cli/lspCommand.ts)
 *   ebpf-studio mcp             an MCP server for coding agents: check, explain, … (cli/mcpCommand.ts)
 *   ebpf-studio explain MSG     what a verifier message means, or a saved log's error (cli/explainCommand.ts)
 *   ebpf-studio vm start 6.1    throwaway Debian kernel VMs as targets (cli/vmCommand.ts)
 *   ebpf-studio templates       the program templates, runnable or not on a target (cli/templateCommands.ts)
 *   (ebpf-studio session: internal, the per-user session process; cli/sessionProcess.ts)
 *   ebpf-studio new T DIR       a program from a template, with its Makefile, loader and .clangd (cli/templateCommands.ts)
 * Exit status: 0 every program compiled and passed (and ran), 1 an error diagnostic or a failed
 * attach (compare: a program flagged), 2 usage, connection or host-key problems (with a one-line
 * reason on stderr).
 */
import { COMMAND_USAGE, helpRequested, overallUsage } from './usage';
import { version } from '../package.json';

/*
 * Each command's module is loaded only when that command runs: the build makes each one a bundle
 * of its own (out/cli-NAME.js, scripts/build.mjs), so a `check` does not read and compile the MCP
 * SDK, zod and the language server first. These dynamic imports are the split points.
 */
async function dispatch(command: string | undefined, rest: string[], signal: AbortSignal): Promise<number> {
  switch (command) {
    case 'check':
      return (await import('./checkCommand')).checkCommand(rest, signal);
    case 'compare':
      return (await import('./compareCommand')).compareCommand(rest, signal);
    case 'run':
      return (await import('./runCommand')).runCommand(rest, signal);
    case 'lsp':
      return (await import('./lspCommand')).runLanguageServer(rest);
    case 'mcp':
      return (await import('./mcpCommand')).mcpCommand(rest, signal);
    case 'explain':
      return (await import('./explainCommand')).explainCommand(rest);
    case 'session':
      // Internal: the session process the CLI starts (sessionProcess.ts). It exits when idle even
      // if a library left a handle open.
      process.exit(await (await import('./sessionProcess')).sessionCommand(rest));
    case 'vm':
      return (await import('./vmCommand')).vmCommand(rest, signal);
    case 'templates':
      return (await import('./templateCommands')).templatesCommand(rest, signal);
    case 'new':
      return (await import('./templateCommands')).newCommand(rest, signal);
    case '--version':
      process.stdout.write(`${version}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      if (rest.length > 0) throw new Error(`unknown command '${rest[0]}' (see ebpf-studio --help)`);
      process.stdout.write(`${overallUsage()}\n`);
      return 0;
    default:
      throw new Error(command ? `unknown command '${command}' (see ebpf-studio --help)` : 'no command given (see ebpf-studio --help)');
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Help before a command parses its options: `run --help` is a question, not an unknown option.
  const asked = command === 'help' || command === '--help' || command === '-h' ? rest[0] : helpRequested(rest) ? command : undefined;
  if (asked !== undefined && Object.hasOwn(COMMAND_USAGE, asked)) {
    process.stdout.write(`${COMMAND_USAGE[asked]}\n`);
    return 0;
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  process.once('SIGTERM', () => abort.abort(new Error('terminated')));
  try {
    return await dispatch(command, rest, abort.signal);
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
