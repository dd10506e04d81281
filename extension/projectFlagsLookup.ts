/**
 * Where the extension looks for a document's project compile flags (projectFlags.ts): its
 * workspace folder bounds the search for compile_commands.json and .clangd and the headers that
 * are sent; the `ebpfStudio.compileFlags` setting (relative to that folder) applies when the
 * project has neither file.
 */
import * as vscode from 'vscode';
import { defaultWorkspaceRoot, type FlagsLookup } from '../remote-agent/client/projectFlags';

export function projectLookupFor(uri: vscode.Uri): FlagsLookup {
  const workspaceRoot = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? defaultWorkspaceRoot(uri.fsPath);
  const flags = vscode.workspace.getConfiguration('ebpfStudio', uri).get<string>('compileFlags', '').trim();
  return { workspaceRoot, ...(flags !== '' && { fallbackFlags: flags, fallbackName: 'ebpfStudio.compileFlags' }) };
}
