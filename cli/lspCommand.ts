/**
 * `ebpf-studio lsp [--stdio | --node-ipc | --socket=PORT] [--target T] [--identity K] [--known-hosts F]`:
 * the eBPF language server, in this process, for editors other than VS Code (Neovim, Helix, Emacs …;
 * see docs/editors.md). Without a transport flag it speaks LSP over stdin/stdout; stdout then
 * belongs to the protocol: nothing else may print there.
 *
 * With a target (on the command line, in initializationOptions.ebpfStudio, or later through
 * workspace/didChangeConfiguration) this process connects to it as `check` does, fetches its BTF and
 * helper probe once per kernel (targetKnowledge.ts, cached on disk), and has the server describe that
 * kernel: struct fields, kfuncs, attach points and helper availability of the target, not this machine.
 */
import { parseArgs } from 'node:util';
import { TargetKnowledgeCache, defaultKnowledgeDir, targetInfoFor } from '../remote-agent/client/targetKnowledge';
import type { TargetSettings } from '../language-server/lspExtensions';
import { CONNECTION_OPTIONS, openCliSession, type ConnectionValues } from './cliSession';

const TRANSPORT_FLAGS = /^--(stdio|node-ipc|socket=\d+|pipe=.+)$/;

export async function runLanguageServer(argv: string[]): Promise<number> {
  const transport = argv.filter((a) => TRANSPORT_FLAGS.test(a) || a.startsWith('--clientProcessId='));
  // No default target here: without one the server describes this machine, as it always did.
  const { values: commandLine } = parseArgs({
    args: argv.filter((a) => !transport.includes(a)),
    options: { ...CONNECTION_OPTIONS, target: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  // The server reads its transport from process.argv when it starts (vscode-languageserver's createConnection).
  if (!transport.some((a) => TRANSPORT_FLAGS.test(a))) process.argv.push('--stdio');
  const server = await import('../language-server/server');
  const knowledge = new TargetKnowledgeCache(defaultKnowledgeDir());
  let current: AbortController | undefined;

  server.onTargetSettings((settings: TargetSettings) => {
    const chosen: ConnectionValues = {
      target: settings.target ?? commandLine.target,
      identity: settings.identityFile ?? commandLine.identity,
      'known-hosts': settings.knownHostsFile ?? commandLine['known-hosts'],
      'ssh-client': settings.sshClient ?? commandLine['ssh-client'],
    };
    if (chosen.target === undefined) return; // nothing asked: the server keeps describing this machine
    current?.abort(new Error('the target changed'));
    const controller = new AbortController();
    current = controller;
    void describe(chosen, controller.signal);
  });

  async function describe(values: ConnectionValues, signal: AbortSignal): Promise<void> {
    try {
      const session = await openCliSession(values, signal);
      try {
        const info = await targetInfoFor(session, knowledge, signal, (line) => server.logToClient(`eBPF Studio: ${line}`));
        signal.throwIfAborted();
        server.describeTarget(info);
      } finally {
        await session.dispose();
      }
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      server.logToClient(`eBPF Studio: cannot describe target ${values.target}: ${message} Completion describes this machine's kernel meanwhile.`, 'error');
    }
  }
  // The server runs until the client sends `exit`, which ends the process itself.
  return new Promise<number>(() => {});
}
