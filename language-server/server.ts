// The eBPF C language server: completion, hover and signature help for BPF helpers, kfuncs and the
// target kernel's types (from its BTF) in *.bpf.c files.
// Speaks LSP over stdio, node IPC or a socket, as the client chooses on the command line
// (--stdio, --node-ipc, --socket=N). Never imports `vscode`: any LSP client can use it.
import {
  CompletionTriggerKind,
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
import { KernelTypes } from './kernelTypes';
import { TargetInfoNotification, targetSettingsIn, type TargetInfoParams, type TargetSettings } from './lspExtensions';
import { completeMembers } from './memberCompletion';
import { completeSectionTargets } from './sectionTargets';
import { completeSection } from './sectionCompletion';
import { completeKfuncs, isKfuncItem, kfuncSignatureHelp, resolveKfuncCompletion } from './kfuncs';
import { hoverKernel } from './kernelHover';
import { EbpfDocumentFeatures } from './documentFeatures';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const completionOptions: CompletionOptions = { snippetSupport: false };
const kernelTypes = new KernelTypes(connection.console);
const ebpfFeatures = new EbpfDocumentFeatures(connection, documents);

/** Handlers of the target settings a client sends; `ebpf-studio lsp` adds the one that connects. */
const targetSettingsHandlers: ((settings: TargetSettings) => void)[] = [];
let initialTargetSettings: TargetSettings = {};
let initialized = false;

connection.onInitialize((params): InitializeResult => {
  initialTargetSettings = targetSettingsIn(params.initializationOptions) ?? {};
  completionOptions.snippetSupport =
    params.capabilities.textDocument?.completion?.completionItem?.snippetSupport === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { resolveProvider: true, triggerCharacters: ['"', '/', '.', '>'] },
      hoverProvider: true,
      signatureHelpProvider: { triggerCharacters: ['(', ','], retriggerCharacters: [')'] },
      ...ebpfFeatures.capabilities(params),
    },
    serverInfo: { name: 'ebpf-studio-language-server', version: '0.1.0' },
  };
});

connection.onInitialized(() => {
  connection.console.info(`eBPF language server ready: ${bpfHelpers.length} BPF helpers from libbpf's bpf_helper_defs.h`);
  kernelTypes.useLocalKernel();
  initialized = true;
  for (const handler of targetSettingsHandlers) handler(initialTargetSettings);
});

connection.onNotification(TargetInfoNotification, (target: TargetInfoParams) => describeTarget(target));

connection.onDidChangeConfiguration(({ settings }) => {
  const changed = targetSettingsIn(settings);
  if (changed !== undefined) for (const handler of targetSettingsHandlers) handler(changed);
});

/** Makes every feature describe `target`'s kernel (what ebpfStudio/targetInfo does for the extension). */
export function describeTarget(target: TargetInfoParams): void {
  kernelTypes.setTarget(target);
  ebpfFeatures.setTarget(target);
}

/** Calls `handler` with the client's target settings: those of initialize once it is done (maybe none), then each change. */
export function onTargetSettings(handler: (settings: TargetSettings) => void): void {
  targetSettingsHandlers.push(handler);
  if (initialized) handler(initialTargetSettings);
}

/** A line in the client's log (stdout belongs to the protocol). */
export function logToClient(line: string, severity: 'info' | 'error' = 'info'): void {
  connection.console[severity](line);
}

connection.onCompletion(async ({ textDocument, position, context }) => {
  const document = documents.get(textDocument.uri);
  if (document === undefined) return [];
  const offset = document.offsetAt(position);
  const kernel = await kernelTypes.get();
  const section = completeSectionTargets(document, offset, kernel, kernelTypes.features) ?? completeSection(document, offset);
  if (section !== undefined) return section;
  // A trigger character opens the list only where it starts something: `->` and `.` before a field.
  // The `/` of a comment or a division, the `"` of a string, the `>` of a comparison get none.
  if (context?.triggerKind === CompletionTriggerKind.TriggerCharacter) {
    return context.triggerCharacter === '.' || context.triggerCharacter === '>' ? (completeMembers(document, offset, kernel) ?? []) : [];
  }
  return (
    ebpfFeatures.complete(document, offset) ??
    completeMembers(document, offset, kernel) ?? [
      ...completeHelpers(document, offset, completionOptions, ebpfFeatures.helpersAllowedAt(document, offset)),
      ...completeKfuncs(document, offset, kernel, completionOptions.snippetSupport),
    ]
  );
});

connection.onCompletionResolve(async (item) =>
  isKfuncItem(item) ? resolveKfuncCompletion(item, await kernelTypes.get()) : resolveHelperCompletion(item),
);

connection.onHover(async ({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  if (document === undefined) return null;
  const offset = document.offsetAt(position);
  return hoverHelper(document, offset) ?? ebpfFeatures.hover(document, offset) ?? hoverKernel(document, offset, await kernelTypes.get());
});

connection.onSignatureHelp(async ({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  if (document === undefined) return null;
  const offset = document.offsetAt(position);
  return helperSignatureHelp(document, offset) ?? kfuncSignatureHelp(document, offset, await kernelTypes.get());
});

documents.listen(connection);
connection.listen();
