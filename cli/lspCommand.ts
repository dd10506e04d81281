/**
 * `ebpf-studio lsp [--stdio | --node-ipc | --socket=PORT]`: the eBPF language server, in this process,
 * for editors other than VS Code (Neovim, Helix, Emacs …; see docs/editors.md). Without a transport
 * flag it speaks LSP over stdin/stdout. stdout then belongs to the protocol: nothing else may print there.
 */
const TRANSPORT_FLAGS = /^--(stdio|node-ipc|socket=\d+|pipe=.+)$/;

export async function runLanguageServer(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !TRANSPORT_FLAGS.test(a) && !a.startsWith('--clientProcessId='));
  if (unknown.length > 0) throw new Error(`lsp: unknown option '${unknown[0]}' (use --stdio, --node-ipc or --socket=PORT)`);
  // The server reads its transport from process.argv when it starts (vscode-languageserver's createConnection).
  if (!argv.some((a) => TRANSPORT_FLAGS.test(a))) process.argv.push('--stdio');
  await import('../language-server/server');
  // The server runs until the client sends `exit`, which ends the process itself.
  return new Promise<number>(() => {});
}
