/**
 * Starts the eBPF language server (out/server.js: completion, hover, diagnostics for eBPF C) for
 * *.bpf.c files. They keep the language id `c`, so clangd or the C/C++ extension keep working
 * beside it; the pattern keeps our server away from ordinary C files.
 */
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

/** The started client: the target and clangd features talk to the server through it; disposing it stops the server. */
export async function startLanguageClient(context: vscode.ExtensionContext): Promise<LanguageClient> {
  const module = context.asAbsolutePath('out/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'c', pattern: '**/*.bpf.c' }],
  };
  const client = new LanguageClient('ebpfStudio', 'eBPF Studio Language Server', serverOptions, clientOptions);
  await client.start();
  return client;
}
