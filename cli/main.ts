/**
 * `ebpf-studio`, the headless face of eBPF Studio for terminals and CI pipelines.
 *   ebpf-studio check FILE...   compile and verify on the target (cli/checkCommand.ts)
 *   ebpf-studio run FILE        verify, attach, stream decoded events and printk (cli/runCommand.ts)
 *   ebpf-studio lsp [--stdio]   the eBPF language server for any LSP client (cli/lspCommand.ts)
 * Exit status: 0 every program compiled and passed (and ran), 1 an error diagnostic or a failed
 * attach, 2 usage, connection or host-key problems (with a one-line reason on stderr).
 */
import { checkCommand } from './checkCommand';
import { runCommand } from './runCommand';
import { runLanguageServer } from './lspCommand';
import { ATTACH_SPEC_FORMS } from '../remote-agent/client/attachSpec';
import { version } from '../package.json';

const USAGE = `usage: ebpf-studio check FILE... [--target local|ssh://[user@]host[:port]] [--identity KEYFILE]
                          [--known-hosts FILE] [--format text|json]
       ebpf-studio run FILE [--target …] [--identity KEYFILE] [--known-hosts FILE] [--format text|json]
                        [--attach [PROGRAM=]SPEC]... [--duration SECONDS]
       ebpf-studio lsp [--stdio | --node-ipc | --socket=PORT]
       ebpf-studio --version
attach SPECs: ${ATTACH_SPEC_FORMS.join('\n              ')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  process.once('SIGTERM', () => abort.abort(new Error('terminated')));
  try {
    switch (command) {
      case 'check':
        return await checkCommand(rest, abort.signal);
      case 'run':
        return await runCommand(rest, abort.signal);
      case 'lsp':
        return await runLanguageServer(rest);
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
