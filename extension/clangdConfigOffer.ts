/**
 * clangd for *.bpf.c: without `-target bpf`, the target architecture and a vmlinux.h, clangd reports
 * errors all over BPF code. The language server's `ebpfStudio.writeClangdConfig` command writes those
 * flags into the workspace's .clangd; this offers it once per workspace that uses clangd, and adds
 * "eBPF: Write clangd Configuration" to the Command Palette.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';
import { WRITE_CLANGD_CONFIG_COMMAND } from '../language-server/lspExtensions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { errorMessage } from './settings';

const CLANGD_EXTENSION = 'llvm-vs-code-extensions.vscode-clangd';
/** The first line of the block the server writes (language-server/clangdConfig.ts). */
const OUR_BLOCK_MARKER = '# >>> ebpf-studio:';
const DONT_ASK_KEY = 'ebpfStudio.clangdOffer.dontAsk';

export function registerClangdConfigOffer(client: LanguageClient, context: vscode.ExtensionContext, log: ExtensionLog): vscode.Disposable {
  /** Offered in this window already: one question per workspace, whichever file prompted it. */
  let offered = false;
  const write = async (): Promise<void> => {
    try {
      const written = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'eBPF: writing clangd flags for *.bpf.c (generating vmlinux.h the first time)…' },
        () => writeClangdConfig(client),
      );
      log.info(`clangd: wrote ${written.flags.join(' ')} to ${written.path}`);
      void vscode.window.showInformationMessage(`clangd now compiles *.bpf.c with ${written.flags.join(' ')} (in ${written.path}).`);
    } catch (error) {
      void vscode.window.showErrorMessage(`eBPF Studio could not write the clangd configuration: ${errorMessage(error)}`);
    }
  };
  const offer = async (document: vscode.TextDocument): Promise<void> => {
    if (offered || !document.fileName.endsWith('.bpf.c') || document.uri.scheme !== 'file') return;
    if (context.workspaceState.get<boolean>(DONT_ASK_KEY)) return;
    // The server writes into the first workspace folder: only files there are about that .clangd.
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (folder === undefined || vscode.workspace.getWorkspaceFolder(document.uri) !== folder) return;
    const root = folder.uri.fsPath;
    if (!usesClangd(root) || hasOurBlock(root)) return;
    offered = true;
    const writeIt = 'Write .clangd';
    const dontAsk = "Don't Ask Again";
    const answer = await vscode.window.showInformationMessage(
      'clangd does not know that *.bpf.c files are BPF programs (it needs -target bpf, the target architecture and vmlinux.h). Add these flags for *.bpf.c to this workspace’s .clangd?',
      writeIt,
      dontAsk,
    );
    if (answer === writeIt) await write();
    else if (answer === dontAsk) await context.workspaceState.update(DONT_ASK_KEY, true);
  };
  for (const document of vscode.workspace.textDocuments) void offer(document);
  return vscode.Disposable.from(
    vscode.commands.registerCommand(Commands.writeClangdConfiguration, write),
    vscode.workspace.onDidOpenTextDocument((document) => void offer(document)),
  );
}

/** Runs the server's command, then saves .clangd: the server's edit leaves it open and unsaved. */
async function writeClangdConfig(client: LanguageClient): Promise<{ path: string; flags: string[] }> {
  const written = (await client.sendRequest(ExecuteCommandRequest.type, { command: WRITE_CLANGD_CONFIG_COMMAND, arguments: [{}] })) as { path: string; flags: string[] };
  const edited = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === written.path);
  if (edited?.isDirty && !(await edited.save())) throw new Error(`${written.path} was changed but could not be saved: save it from its editor`);
  return written;
}

/** clangd's extension is installed, or the workspace is set up for clangd already. */
function usesClangd(root: string): boolean {
  return (
    vscode.extensions.getExtension(CLANGD_EXTENSION) !== undefined ||
    existsSync(join(root, '.clangd')) ||
    existsSync(join(root, 'compile_commands.json')) ||
    existsSync(join(root, 'build', 'compile_commands.json'))
  );
}

function hasOurBlock(root: string): boolean {
  const file = join(root, '.clangd');
  return existsSync(file) && readFileSync(file, 'utf8').includes(OUR_BLOCK_MARKER);
}
