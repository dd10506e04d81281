/**
 * Attach and Detach, from a code lens above a program, the Explorer tree, the editor title or the
 * command palette: verify the file, ask for a target when the program's section needs one, attach
 * with progress (cancellable) into the file's one run on the target (so programs of a file share
 * maps), detach one program or a whole run, and pop up what went wrong, since the user asked for it.
 */
import * as vscode from 'vscode';
import { explicitTargetNeeded, type AttachSpec } from '../remote-agent/client/attachSpec';
import { AgentSessionError } from '../remote-agent/client/agentSession';
import type { ProgramReport } from '../remote-agent/client/checkReport';
import { AttachError } from '../remote-agent/client/programRun';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import { promptAttachTarget } from './attachTargetPrompt';
import type { ExtensionLog } from './extensionLog';
import { isBpfSource, NoTargetError, type FileVerifier } from './fileVerifier';
import { NotAttachedError, type RunningPrograms } from './runningPrograms';
import { errorMessage } from './settings';

/** Arguments of attachProgram / detachProgram when a lens or tree item names one program. */
export function programArgs(file: vscode.Uri, program: string): [string, string] {
  return [file.toString(), program];
}

export function registerAttachCommands(verifier: FileVerifier, running: RunningPrograms, sessions: AgentSessions, log: ExtensionLog): vscode.Disposable {
  /** The document of `file` (a URI string from a lens), else the active *.bpf.c editor's. */
  const documentOf = async (file: unknown): Promise<vscode.TextDocument | undefined> => {
    if (typeof file === 'string') return vscode.workspace.openTextDocument(vscode.Uri.parse(file, true));
    if (file instanceof vscode.Uri) return vscode.workspace.openTextDocument(file);
    const active = vscode.window.activeTextEditor?.document;
    if (active && isBpfSource(active)) return active;
    void vscode.window.showWarningMessage('Open a *.bpf.c file first: Attach works on the programs of the file in the editor.');
    return undefined;
  };

  /** Explicit targets for those of `programs` whose sections need one; undefined when the user cancelled. */
  const askTargets = async (programs: ProgramReport[]): Promise<AttachSpec[] | undefined> => {
    const target = sessions.currentTarget();
    const local = target.ok && target.spec.kind === 'local';
    // The target's agent lists its interfaces; without a session the prompt falls back (local sysfs, or typing).
    const session = target.ok
      ? await sessions.get(target.spec, target.description).catch((error: unknown) => {
          log.info(`listing interfaces of ${target.description} failed: ${errorMessage(error)}`);
          return undefined;
        })
      : undefined;
    const specs: AttachSpec[] = [];
    for (const program of programs) {
      const needed = explicitTargetNeeded(program.section);
      if (!needed) continue;
      const spec = await promptAttachTarget(program, needed, local, session);
      if (!spec) return undefined;
      specs.push(spec);
    }
    return specs;
  };

  const attach = async (file: unknown, program: unknown): Promise<void> => {
    const document = await documentOf(file);
    if (!document) return;
    const name = vscode.workspace.asRelativePath(document.uri);
    try {
      if (document.isDirty) await document.save();
      // The current verdicts tell which programs exist and which need a target; a stale or missing report is refreshed first.
      const report = verifier.reportFor(document.uri) ?? (await verifier.verify(document, 'command'));
      if (!report) return;
      const named = typeof program === 'string' ? report.programs.filter((p) => p.name === program) : report.programs;
      if (typeof program === 'string' && named.length === 0) {
        void vscode.window.showErrorMessage(`${name} has no program named ${program} (its programs: ${report.programs.map((p) => p.name).join(', ') || 'none'}). Save the file to verify it again.`);
        return;
      }
      // Programs already attached on this target stay as they are (Attach All attaches the others into the same run).
      const target = sessions.currentTarget();
      const wanted = target.ok ? named.filter((p) => !running.runOf(document.uri, p.name, target.description)) : named;
      if (wanted.length === 0 && named.length > 0) {
        vscode.window.setStatusBarMessage(`$(plug) eBPF: ${typeof program === 'string' ? program : `every program of ${name}`} is already attached`, 5000);
        return;
      }
      const specs = await askTargets(wanted);
      if (!specs) return;
      const label = typeof program === 'string' ? program : `the programs of ${name}`;
      const { run, attached } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Attaching ${label}`, cancellable: true },
        (_progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort(new DOMException('cancelled by the user', 'AbortError')));
          return running.attach(document, wanted.map((p) => p.name), specs, controller.signal);
        },
      );
      const where = attached.map((a) => `${a.program} → ${a.description}`).join(', ');
      vscode.window.setStatusBarMessage(`$(plug) eBPF: attached ${where}`, 5000);
      if (run.streams.size > 0) await vscode.commands.executeCommand(Commands.showEvents, run.id);
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') return;
      await explainAttachFailure(error, name, log);
    }
  };

  /** From a lens: `program` of `file` on the current target. */
  const detachProgram = async (file: unknown, program: unknown): Promise<void> => {
    if (typeof file !== 'string' || typeof program !== 'string') return;
    const uri = vscode.Uri.parse(file, true);
    const target = sessions.currentTarget();
    const run = running.runs().find((r) => r.file.toString() === uri.toString() && r.programs.includes(program) && (!target.ok || r.target === target.description));
    if (run) await detachRun(run.id, program);
  };

  /** Run `id` whole, or only its `program` (the run stops with its last program). */
  const detachRun = async (id: unknown, program?: unknown): Promise<void> => {
    const run = typeof id === 'string' ? running.get(id) : undefined;
    if (!run) return;
    const what = typeof program === 'string' ? program : run.programs.join(', ');
    try {
      if (typeof program === 'string') await running.detachProgram(run.id, program);
      else await running.detach(run.id);
      vscode.window.setStatusBarMessage(`$(debug-disconnect) eBPF: detached ${what}`, 5000);
    } catch (error) {
      log.info(`detaching ${what}: ${errorMessage(error)}`);
      void vscode.window.showErrorMessage(`Detaching ${what} from ${run.target} failed: ${errorMessage(error)}`);
    }
  };

  return vscode.Disposable.from(
    vscode.commands.registerCommand(Commands.attachProgram, attach),
    vscode.commands.registerCommand(Commands.attachFile, (file?: unknown) => attach(file, undefined)),
    vscode.commands.registerCommand(Commands.detachProgram, detachProgram),
    vscode.commands.registerCommand(Commands.detachRun, (item?: unknown, program?: unknown) => detachRun(typeof item === 'object' && item !== null && 'runId' in item ? item.runId : item, program)),
    vscode.commands.registerCommand(Commands.detachAll, () => running.detachAll()),
  );
}

async function explainAttachFailure(error: unknown, name: string, log: ExtensionLog): Promise<void> {
  const message = errorMessage(error);
  log.info(`${name}: attach failed: ${message}`);
  const actions: string[] = [];
  if (error instanceof NotAttachedError) actions.push('Show Verifier Log');
  else if (error instanceof NoTargetError || error instanceof AgentSessionError) actions.push('Select Target');
  actions.push('Show Output');
  const choice = await vscode.window.showErrorMessage(error instanceof AttachError || error instanceof NotAttachedError ? message : `Cannot attach ${name}: ${message}`, ...actions);
  if (choice === 'Show Verifier Log') await vscode.commands.executeCommand(Commands.showVerifierLog);
  else if (choice === 'Select Target') await vscode.commands.executeCommand(Commands.selectTarget);
  else if (choice === 'Show Output') log.show();
}
