// Wires the features built on the document model into the LSP connection: diagnostics on every
// change, quick fixes, the outline, go to definition, the write-clangd-config command, and the
// map completions and section/map hovers server.ts asks for before its own. server.ts only creates it.
import { arch as hostArch, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import type {
  CompletionItem,
  Connection,
  Hover,
  InitializeParams,
  ServerCapabilities,
  TextDocuments,
} from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { codeActions } from './codeActions';
import { clangdConfigEdit, clangdFlags, ensureVmlinuxHeader, readExistingConfig, updatedClangdConfig } from './clangdConfig';
import { findDefinition } from './definition';
import { computeDiagnostics, type DiagnosticTarget } from './diagnostics';
import { forgetDocument } from './documentCache';
import { modelOf } from './documentModel';
import { documentSymbols } from './documentSymbols';
import { WRITE_CLANGD_CONFIG_COMMAND, type TargetInfoParams, type WriteClangdConfigArguments } from './lspExtensions';
import { completeMaps } from './mapCompletion';
import { hoverMap } from './mapHover';
import { hoverSection } from './sectionHover';
import { matchSection } from './sectionTable';

const LOCAL_BTF = '/sys/kernel/btf/vmlinux';

export class EbpfDocumentFeatures {
  private target: TargetInfoParams | null = null;
  private workspaceRoot: string | null = null;

  constructor(
    private readonly connection: Connection,
    private readonly documents: TextDocuments<TextDocument>,
  ) {
    documents.onDidChangeContent(({ document }) => this.publishDiagnostics(document));
    documents.onDidClose(({ document }) => {
      forgetDocument(document.uri);
      void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
    });
    connection.onCodeAction(({ textDocument, range, context }) => {
      const document = documents.get(textDocument.uri);
      return document === undefined ? [] : codeActions(document, modelOf(document), range, context.diagnostics);
    });
    connection.onDocumentSymbol(({ textDocument }) => {
      const document = documents.get(textDocument.uri);
      return document === undefined ? [] : documentSymbols(document, modelOf(document));
    });
    connection.onDefinition(({ textDocument, position }) => {
      const document = documents.get(textDocument.uri);
      return document === undefined ? null : findDefinition(document, modelOf(document), document.offsetAt(position));
    });
    connection.onExecuteCommand(async ({ command, arguments: args }) => {
      if (command !== WRITE_CLANGD_CONFIG_COMMAND) throw new Error(`unknown command ${command}`);
      return this.writeClangdConfig((args?.[0] ?? {}) as WriteClangdConfigArguments);
    });
  }

  /** The capabilities these features add to the server's. */
  capabilities(params: InitializeParams): Partial<ServerCapabilities> {
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
    this.workspaceRoot = folder ? fileURLToPath(folder) : null;
    return {
      codeActionProvider: true,
      documentSymbolProvider: true,
      definitionProvider: true,
      executeCommandProvider: { commands: [WRITE_CLANGD_CONFIG_COMMAND] },
    };
  }

  /** A new target (ebpfStudio/targetInfo): its helper probe changes what the diagnostics know. */
  setTarget(target: TargetInfoParams): void {
    this.target = target;
    for (const document of this.documents.all()) this.publishDiagnostics(document);
  }

  complete(document: TextDocument, offset: number): CompletionItem[] | undefined {
    return completeMaps(document, modelOf(document), offset);
  }

  /**
   * The helpers the program around `offset` may call on the target, from the target's helper probe;
   * null outside a program, for a section we cannot type, or before the probe arrived (then every
   * helper is offered: no guessing).
   */
  helpersAllowedAt(document: TextDocument, offset: number): ReadonlySet<string> | null {
    const byType = this.target?.helpers?.helpersByProgramType;
    if (!byType) return null;
    const program = modelOf(document).programs.find((p) => p.body.start <= offset && offset <= p.body.end);
    const programType = program?.section ? matchSection(program.section.name.replace(/^\?/, ''))?.definition.programType : undefined;
    const allowed = programType ? byType[programType] : undefined;
    return allowed ? new Set(allowed) : null;
  }

  hover(document: TextDocument, offset: number): Hover | null {
    const model = modelOf(document);
    return hoverSection(document, model, offset) ?? hoverMap(document, model, offset);
  }

  private diagnosticTarget(): DiagnosticTarget {
    return { description: this.target?.description ?? 'local', helpers: this.target?.helpers ?? null, features: this.target?.features ?? null };
  }

  private publishDiagnostics(document: TextDocument): void {
    const diagnostics = computeDiagnostics(document, modelOf(document), this.diagnosticTarget());
    void this.connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  }

  private async writeClangdConfig(args: WriteClangdConfigArguments): Promise<{ path: string; flags: string[] }> {
    if (this.workspaceRoot === null) throw new Error('no workspace folder is open: open the folder of the BPF sources, then run the command again');
    const target = this.target;
    let vmlinuxDir = args.vmlinuxDir;
    if (vmlinuxDir === undefined) {
      const btfPath = target ? target.btfPath : LOCAL_BTF;
      if (btfPath === null) throw new Error(`${target!.description} sent no BTF, so no vmlinux.h can be generated for it; pass vmlinuxDir or pick a target with BTF`);
      vmlinuxDir = await ensureVmlinuxHeader(btfPath, target?.btfId ?? target?.kernelRelease ?? `local-${release()}`);
    }
    const flags = clangdFlags({ arch: target?.arch ?? hostArch(), vmlinuxDir });
    const existing = readExistingConfig(this.workspaceRoot);
    const result = await this.connection.workspace.applyEdit({
      label: 'Write .clangd flags for *.bpf.c',
      edit: clangdConfigEdit(this.workspaceRoot, existing, updatedClangdConfig(existing, flags)),
    });
    if (!result.applied) throw new Error(`the editor did not apply the .clangd edit${result.failureReason ? `: ${result.failureReason}` : ''}`);
    return { path: `${this.workspaceRoot}/.clangd`, flags };
  }
}
