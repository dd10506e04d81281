/**
 * Load presets in the editor: `ebpfStudio.loadPresets` (glob → {globals, mapSizes, attachTargets})
 * read for the file being verified, and a quick fix on a failure a loader's preset would avoid (a
 * map of size 0, a placeholder attach target) that asks for the value, writes it into the
 * workspace setting under the file's path, and verifies the file again.
 */
import * as vscode from 'vscode';
import type { PresetHint } from '../remote-agent/client/loadFailures';
import { presetsForFile, type PresetSetting } from '../remote-agent/client/loadPresets';
import type { LoadPresets } from '../remote-agent/protocol';
import { Commands } from './commandIds';
import type { FileVerifier } from './fileVerifier';
import { SETTINGS_SECTION } from './settings';

const SETTING = 'loadPresets';

/** The presets for `file` from the setting (throws on a malformed entry, naming it). */
export function loadPresetsFor(file: vscode.Uri): LoadPresets | undefined {
  const setting = vscode.workspace.getConfiguration(SETTINGS_SECTION, file).get<Record<string, PresetSetting>>(SETTING, {});
  return presetsForFile(setting, vscode.workspace.asRelativePath(file, false));
}

export function registerLoadPresetQuickFixes(verifier: FileVerifier): vscode.Disposable {
  const provider: vscode.CodeActionProvider = {
    provideCodeActions(document, _range, context) {
      const report = verifier.reportFor(document.uri);
      if (!report) return [];
      const actions: vscode.CodeAction[] = [];
      for (const shown of context.diagnostics) {
        const diagnostic = report.diagnostics.find((d) => d.preset && d.file === document.uri.fsPath && d.line === shown.range.start.line + 1 && shown.message.startsWith(d.message));
        if (!diagnostic?.preset) continue;
        const action = new vscode.CodeAction(titleOf(diagnostic.preset), vscode.CodeActionKind.QuickFix);
        action.diagnostics = [shown];
        action.isPreferred = true;
        action.command = { title: action.title, command: Commands.setLoadPreset, arguments: [document.uri, diagnostic.preset] };
        actions.push(action);
      }
      return actions;
    },
  };
  return vscode.Disposable.from(
    vscode.languages.registerCodeActionsProvider({ scheme: 'file', pattern: '**/*.bpf.c' }, provider, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
    vscode.commands.registerCommand(Commands.setLoadPreset, (file: vscode.Uri, preset: PresetHint) => setPreset(verifier, file, preset)),
  );
}

function titleOf(preset: PresetHint): string {
  if (preset.kind === 'mapSize') return `Set a size for map '${preset.map}' for the check (ebpfStudio.loadPresets)`;
  if (preset.kind === 'kconfig') return `Set ${preset.name} for the check (ebpfStudio.loadPresets)`;
  return `Set the function '${preset.program}' attaches to for the check (ebpfStudio.loadPresets)`;
}

async function setPreset(verifier: FileVerifier, file: vscode.Uri, preset: PresetHint): Promise<void> {
  const value = await vscode.window.showInputBox(promptOf(preset));
  if (value === undefined) return;
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION, file);
  const glob = vscode.workspace.asRelativePath(file, false);
  const all = { ...config.get<Record<string, PresetSetting>>(SETTING, {}) };
  const entry: PresetSetting = { ...all[glob] };
  if (preset.kind === 'mapSize') entry.mapSizes = { ...entry.mapSizes, [preset.map]: Number(value) };
  else if (preset.kind === 'kconfig') entry.globals = { ...entry.globals, [preset.name]: value.trim() };
  else entry.attachTargets = { ...entry.attachTargets, [preset.program]: value.trim() };
  all[glob] = entry;
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update(SETTING, all, target);
  const document = await vscode.workspace.openTextDocument(file);
  await verifier.verify(document, 'command');
}

function promptOf(preset: PresetHint): vscode.InputBoxOptions {
  if (preset.kind === 'mapSize') {
    return {
      title: `Size of map '${preset.map}' for the check`,
      prompt: 'max_entries as the program\'s loader would set it (e.g. the tool\'s default)',
      value: '10240',
      validateInput: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 1 << 30 ? undefined : 'An integer from 1 to 1073741824'),
    };
  }
  if (preset.kind === 'kconfig') {
    return {
      title: `Value of ${preset.name} for the check`,
      prompt: 'As the kernel configuration would have it: y, n, m or a number',
      value: 'y',
      validateInput: (v) => (/^([ynm]|-?(0x[0-9a-fA-F]+|\d+))$/.test(v.trim()) ? undefined : 'y, n, m or a number'),
    };
  }
  return {
    title: `Function '${preset.program}' attaches to for the check`,
    prompt: `The kernel function its loader sets in place of '${preset.current}' (e.g. vfs_read)`,
    validateInput: (v) => (/^[A-Za-z_]\w*$/.test(v.trim()) ? undefined : "A kernel function's name"),
  };
}
