/**
 * "eBPF: New Program…": a program from one of bpf-templates/, in four steps — the template (grouped
 * by hook kind, each one the current target's kernel cannot run marked with what it lacks, from the
 * features its agent probed), each parameter (the target's tracepoints, kernel functions,
 * interfaces or executables offered, any typed value accepted once it is valid for the parameter),
 * and the folder. Then the files are written (never over existing ones), clangd is told how to read
 * *.bpf.c, the program is opened and verified on the target, and its "▶ Attach" lens is one click
 * away. Without a target the wizard still works, with each parameter's default as the suggestion.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { instantiateTemplate, loadTemplates, notRunnableReason, parameterValueError, type BpfTemplate, type TemplateParameter } from '../bpf-templates/templateCatalog';
import type { AgentSession } from '../remote-agent/client/agentSession';
import { parameterSuggestions, suggestsValues, type ParameterSuggestions } from '../remote-agent/client/parameterSuggestions';
import { TargetKnowledgeCache } from '../remote-agent/client/targetKnowledge';
import type { KernelFeatures } from '../remote-agent/protocol';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import type { FileVerifier } from './fileVerifier';
import { errorMessage } from './settings';

/** Suggestions shown at once; typing narrows the target's list (a kernel has ~60k functions). */
const SHOWN_SUGGESTIONS = 300;

type TemplateItem = vscode.QuickPickItem & { template?: BpfTemplate };
type ValueItem = vscode.QuickPickItem & { value: string };

/** The target the wizard asks, once per run: its session, or why there is none. */
type TargetState = { session: AgentSession } | { missing: string };

export function registerNewProgramCommand(context: vscode.ExtensionContext, sessions: AgentSessions, verifier: FileVerifier, log: ExtensionLog): vscode.Disposable {
  // The same cache directory targetInfoSync.ts uses: the target's BTF is fetched once for both.
  const knowledge = new TargetKnowledgeCache(join(context.globalStorageUri.fsPath, 'btf'));
  const templatesDir = context.asAbsolutePath('bpf-templates');
  return vscode.commands.registerCommand(Commands.newProgram, async (): Promise<void> => {
    let templates: BpfTemplate[];
    try {
      templates = loadTemplates(templatesDir);
    } catch (error) {
      void vscode.window.showErrorMessage(`eBPF Studio's templates cannot be read: ${errorMessage(error)}`);
      return;
    }
    const target = connectToTarget(sessions, log);
    const template = await pickTemplate(templates, target);
    if (template === undefined) return;
    const values: Record<string, string> = {};
    for (const [index, parameter] of template.parameters.entries()) {
      const value = await pickParameter(template, parameter, index, target, knowledge, log);
      if (value === undefined) return;
      values[parameter.name] = value;
    }
    const folder = await pickFolder(template);
    if (folder === undefined) return;
    let written: string[];
    try {
      written = instantiateTemplate(template, folder.fsPath, values);
    } catch (error) {
      void vscode.window.showErrorMessage(`The ${template.id} template was not written: ${errorMessage(error)}`);
      return;
    }
    log.info(`new program from ${template.id} (${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(', ') || 'no parameters'}): wrote ${written.join(', ')}`);
    const program = vscode.Uri.file(join(folder.fsPath, template.program));
    await vscode.window.showTextDocument(program);
    await finish(template, folder, program, await target, verifier, log);
  });
}

/** Starts the target's session (the one the rest of the extension shares) while the user picks. */
async function connectToTarget(sessions: AgentSessions, log: ExtensionLog): Promise<TargetState> {
  const resolved = sessions.currentTarget();
  if (!resolved.ok) {
    log.info(`new program: no target (${resolved.reason}); suggesting defaults only`);
    return { missing: 'no usable target is selected (eBPF: Select Target)' };
  }
  try {
    return { session: await sessions.get(resolved.spec, resolved.description) };
  } catch (error) {
    log.info(`new program: no session to ${resolved.description} (${errorMessage(error)}); suggesting defaults only`);
    return { missing: `${resolved.description} cannot be reached (${errorMessage(error)})` };
  }
}

/** The templates grouped by hook kind; those the target cannot run say why. */
export function templateItems(templates: readonly BpfTemplate[], features: KernelFeatures | undefined, targetName: string | undefined): TemplateItem[] {
  const items: TemplateItem[] = [];
  let hook: string | undefined;
  for (const template of templates) {
    if (template.hook !== hook) {
      hook = template.hook;
      items.push({ label: hook, kind: vscode.QuickPickItemKind.Separator });
    }
    const reason = features === undefined ? undefined : notRunnableReason(template, features);
    items.push({
      label: reason === undefined ? template.title : `$(warning) ${template.title}`,
      description: template.id,
      detail: reason === undefined ? template.description : `Not runnable on ${targetName}: ${reason}. ${template.description}`,
      template,
    });
  }
  return items;
}

async function pickTemplate(templates: readonly BpfTemplate[], target: Promise<TargetState>): Promise<BpfTemplate | undefined> {
  const pick = vscode.window.createQuickPick<TemplateItem>();
  pick.title = 'eBPF: New Program — template';
  pick.placeholder = 'A starting point for each hook';
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.items = templateItems(templates, undefined, undefined);
  pick.busy = true;
  void target.then((state) => {
    pick.busy = false;
    if ('session' in state) {
      pick.placeholder = `A starting point for each hook (⚠ marks what the kernel of ${state.session.description}, ${state.session.hello.kernelRelease}, cannot run)`;
      const active = pick.activeItems[0]?.template;
      pick.items = templateItems(templates, state.session.hello.features, state.session.description);
      const again = pick.items.find((item) => item.template !== undefined && item.template === active);
      if (again) pick.activeItems = [again];
    } else {
      pick.placeholder = `A starting point for each hook (${state.missing}: which ones its kernel runs, and suggestions for parameters, need a target)`;
    }
  });
  return new Promise((resolve) => {
    pick.onDidAccept(() => {
      const chosen = pick.selectedItems[0]?.template;
      if (chosen === undefined) return;
      resolve(chosen);
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

/** The items for what is typed: the typed value itself (unless listed), the default, then matching suggestions. */
export function valueItems(parameter: TemplateParameter, typed: string, suggestions: readonly string[]): ValueItem[] {
  const items: ValueItem[] = [];
  const text = typed.trim();
  const needle = text.toLowerCase();
  const typedItem = text !== '' && text !== parameter.default && !suggestions.includes(text) ? text : undefined;
  const typedError = typedItem === undefined ? undefined : parameterValueError(parameter.kind, typedItem);
  // A valid typed value comes first (Enter takes it); an invalid one last, saying why, so Enter takes a listed value.
  if (typedItem !== undefined && typedError === undefined) items.push({ label: typedItem, description: 'as typed', value: typedItem, alwaysShow: true });
  if (parameter.default.toLowerCase().includes(needle)) items.push({ label: parameter.default, description: 'default', value: parameter.default, alwaysShow: true });
  for (const value of suggestions) {
    if (items.length >= SHOWN_SUGGESTIONS) break;
    if (value !== parameter.default && value.toLowerCase().includes(needle)) items.push({ label: value, value });
  }
  if (typedItem !== undefined && typedError !== undefined) items.push({ label: typedItem, description: `$(error) ${typedError}`, value: typedItem, alwaysShow: true });
  return items;
}

async function pickParameter(
  template: BpfTemplate,
  parameter: TemplateParameter,
  index: number,
  target: Promise<TargetState>,
  knowledge: TargetKnowledgeCache,
  log: ExtensionLog,
): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick<ValueItem>();
  const loading = new AbortController();
  pick.title = `eBPF: New Program — ${template.title}: ${parameter.name} (${index + 1}/${template.parameters.length})`;
  pick.placeholder = `${parameter.description} Type to filter or enter another value.`;
  // The items are narrowed here (substring, capped) as the value changes; each item kept matches
  // what is typed, so VS Code's own filter keeps it too.
  let suggestions: readonly string[] = [];
  const refresh = (): void => {
    pick.items = valueItems(parameter, pick.value, suggestions);
  };
  refresh();
  if (suggestsValues(parameter.kind)) {
    pick.busy = true;
    void target
      .then(async (state): Promise<ParameterSuggestions> => {
        if ('missing' in state) return { values: [], note: `suggestions from the target need a target: ${state.missing}` };
        return parameterSuggestions(parameter.kind, state.session, knowledge, loading.signal);
      })
      .then(
        (found) => {
          suggestions = found.values;
          if (found.note !== undefined) pick.placeholder = `${parameter.description} (${found.note})`;
          refresh();
        },
        (error: unknown) => {
          if (loading.signal.aborted) return;
          log.info(`new program: no suggestions for ${parameter.name}: ${errorMessage(error)}`);
          pick.placeholder = `${parameter.description} (the target could not list suggestions: ${errorMessage(error)})`;
        },
      )
      .finally(() => {
        pick.busy = false;
      });
  }
  return new Promise((resolve) => {
    pick.onDidChangeValue(refresh);
    pick.onDidAccept(() => {
      const value = pick.selectedItems[0]?.value ?? pick.value.trim();
      const bad = parameterValueError(parameter.kind, value);
      if (bad !== undefined) {
        void vscode.window.showErrorMessage(`${parameter.name}: ${bad}.`);
        return;
      }
      resolve(value);
      pick.hide();
    });
    pick.onDidHide(() => {
      loading.abort(new Error('the wizard was closed'));
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

async function pickFolder(template: BpfTemplate): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: `eBPF: New Program — the folder for ${template.program} and its loader`,
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Create Here',
    ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  return picked?.[0];
}

/** clangd's flags, the verdict on the target, and a word on what comes next. */
async function finish(template: BpfTemplate, folder: vscode.Uri, program: vscode.Uri, target: TargetState, verifier: FileVerifier, log: ExtensionLog): Promise<void> {
  const workspace = vscode.workspace.workspaceFolders?.[0];
  const inWorkspace = workspace !== undefined && vscode.workspace.getWorkspaceFolder(folder)?.uri.toString() === workspace.uri.toString();
  const clangd = inWorkspace && (await vscode.commands.getCommands(true)).includes(Commands.writeClangdConfiguration);
  if (clangd) void vscode.commands.executeCommand(Commands.writeClangdConfiguration);
  else log.info(`new program: no .clangd written (${inWorkspace ? 'the language server is not running' : `${folder.fsPath} is outside the first workspace folder, whose .clangd the language server writes`})`);
  if ('missing' in target) {
    void vscode.window.showWarningMessage(`${template.program} was written. Verifying and attaching it need a target: ${target.missing}.`, 'Select Target').then((answer) => {
      if (answer === 'Select Target') void vscode.commands.executeCommand(Commands.selectTarget);
    });
    return;
  }
  // Opening it verified it already when verify-on-save is on; else the verify command does, and
  // reports its own failures (a popup with a way out).
  if (!verifier.isRunning(program) && verifier.reportFor(program) === undefined) await vscode.commands.executeCommand(Commands.verifyCurrentFile);
  const reason = notRunnableReason(template, target.session.hello.features);
  if (reason !== undefined) {
    void vscode.window.showWarningMessage(`${template.program} was written and checked, but ${target.session.description} cannot attach it: ${reason}. Pick another target (eBPF: Select Target) to run it.`);
  }
}
