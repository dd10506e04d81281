// The eBPF C language server: completion, hover and signature help for BPF helpers in *.bpf.c files.
// Speaks LSP over stdio, node IPC or a socket, as the client chooses on the command line
// (--stdio, --node-ipc, --socket=N). Never imports `vscode`: any LSP client can use it.
import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { bpfHelpers } from './helperTable';
import { completeHelpers, resolveHelperCompletion, type CompletionOptions } from './completion';
import { hoverHelper } from './hover';
import { helperSignatureHelp } from './signatureHelp';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const completionOptions: CompletionOptions = { snippetSupport: false };

connection.onInitialize((params): InitializeResult => {
  completionOptions.snippetSupport =
    params.capabilities.textDocument?.completion?.completionItem?.snippetSupport === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { resolveProvider: true },
      hoverProvider: true,
      signatureHelpProvider: { triggerCharacters: ['(', ','], retriggerCharacters: [')'] },
    },
    serverInfo: { name: 'ebpf-studio-language-server', version: '0.1.0' },
  };
});

connection.onInitialized(() => {
  connection.console.info(`eBPF language server ready: ${bpfHelpers.length} BPF helpers from libbpf's bpf_helper_defs.h`);
});

connection.onCompletion(({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  if (document === undefined) return [];
  return completeHelpers(document, document.offsetAt(position), completionOptions);
});

connection.onCompletionResolve(resolveHelperCompletion);

connection.onHover(({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  return document === undefined ? null : hoverHelper(document, document.offsetAt(position));
});

connection.onSignatureHelp(({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  return document === undefined ? null : helperSignatureHelp(document, document.offsetAt(position));
});

documents.listen(connection);
connection.listen();
