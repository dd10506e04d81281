/**
 * A code lens above each BPF program's function with its verdict on the target kernel:
 * "✓ 1,234 insns processed · 9 states (peak 3) · 90 µs · stack 16 B · tracepoint on local (6.18)"
 * (veristat's figures) or "✗ <the verifier's last message>";
 * clicking it shows that program's full verifier log. Next to a passing program's verdict,
 * "▶ Attach" (or "■ Detach" while it is attached on the current target).
 */
import * as vscode from 'vscode';
import type { CheckReport, ProgramReport } from '../remote-agent/client/checkReport';
import { programArgs } from './attachCommands';
import { Commands } from './commandIds';
import { staleNote } from './staleResults';
import { verifierLogArgs } from './commandLinks';
import type { FileVerifier } from './fileVerifier';
import type { AgentSessions } from './agentSessions';
import type { AttachedRun, RunningPrograms } from './runningPrograms';

const MAX_TITLE = 160;

export function registerProgramCodeLens(verifier: FileVerifier, running: RunningPrograms, sessions: AgentSessions): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider: vscode.CodeLensProvider = {
    onDidChangeCodeLenses: changed.event,
    provideCodeLenses(document) {
      const report = verifier.reportFor(document.uri);
      if (!report?.compiled) return [];
      const text = document.getText();
      const target = sessions.currentTarget();
      return report.programs.flatMap((program) => {
        const line = programLine(text, program, document.uri.fsPath);
        const range = new vscode.Range(line, 0, line, 0);
        const stale = staleNote(sessions, report.target);
        const verdict = new vscode.CodeLens(range, {
          title: stale === undefined ? lensTitle(program, report) : `(${stale}) ${lensTitle(program, report)}`,
          tooltip: `Show the verifier log of ${program.name} (${program.section})`,
          command: Commands.showVerifierLog,
          arguments: verifierLogArgs(document.uri, program.name),
        });
        if (!program.ok || !target.ok) return [verdict];
        const run = running.runOf(document.uri, program.name, target.description);
        const attached = run?.bpfObject.attached.find((a) => a.program === program.name);
        const action = run
          ? {
              title: '■ Detach',
              tooltip: `Attached: ${attached?.description ?? program.section} (prog id ${attached?.programId ?? '?'})${run.programs.length > 1 ? `; shares its maps with ${run.programs.filter((p) => p !== program.name).join(', ')}, which stay${run.programs.length > 2 ? '' : 's'} attached` : ''}`,
              command: Commands.detachProgram,
              arguments: programArgs(document.uri, program.name),
            }
          : {
              title: '▶ Attach',
              tooltip: `Attach ${program.name} (SEC("${program.section}")) on ${target.description}${sharing(running.runs(), document.uri, target.description)}`,
              command: Commands.attachProgram,
              arguments: programArgs(document.uri, program.name),
            };
        return [verdict, new vscode.CodeLens(range, action)];
      });
    },
  };
  return vscode.Disposable.from(
    changed,
    vscode.languages.registerCodeLensProvider({ scheme: 'file', pattern: '**/*.bpf.c' }, provider),
    verifier.onDidChangeReport(() => changed.fire()),
    verifier.onDidShiftReport(() => changed.fire()),
    running.onDidChange(() => changed.fire()),
    sessions.onDidChangeTarget(() => changed.fire()),
    sessions.onDidChangeState((state) => {
      if (state.state === 'unreachable' || state.state === 'connected') changed.fire();
    }),
  );
}

/** ", into the object ... already runs" when other programs of the file are attached there: the attach joins them. */
function sharing(runs: AttachedRun[], file: vscode.Uri, target: string): string {
  const run = runs.find((r) => r.file.toString() === file.toString() && r.target === target);
  return run ? `, into the object ${run.programs.join(', ')} already run${run.programs.length === 1 ? 's' : ''} in (sharing its maps)` : '';
}

export function lensTitle(program: ProgramReport, report: CheckReport): string {
  if (!program.ok) return truncate(`✗ ${program.error ?? 'rejected by the verifier'}`);
  const count = (n: number) => n.toLocaleString('en-US');
  const figures = [program.insnsProcessed === null ? 'verified' : `${count(program.insnsProcessed)} insns processed`];
  if (program.totalStates !== null) figures.push(`${count(program.totalStates)} state${program.totalStates === 1 ? '' : 's'} (peak ${count(program.peakStates ?? 0)})`);
  if (program.verificationTimeUs !== null) figures.push(`${count(program.verificationTimeUs)} µs`);
  if (program.stackDepth !== null) figures.push(`stack ${program.stackDepth} B`);
  return truncate(`✓ ${figures.join(' · ')} · ${program.type} on ${report.target} (${shortKernel(report.kernelRelease)})`);
}

/** "6.18.44-cloud-amd64" → "6.18": enough to tell kernels apart at a glance; the log has the rest. */
export function shortKernel(release: string): string {
  return /^\d+\.\d+/.exec(release)?.[0] ?? release;
}

/**
 * The 0-based line of the program's function in the current text, so lenses stay on their
 * function while the user edits: found by name after its SEC(), else where the report says (a
 * BPF_PROG(name, …) definition; the report's line follows the edits, see textEditShift.ts).
 */
function programLine(text: string, program: ProgramReport, file: string): number {
  const name = program.name.replace(/[^A-Za-z0-9_]/g, '');
  const definition = new RegExp(`^[^\\n;{}()]*\\b${name}\\s*\\(`, 'm').exec(text);
  if (definition) return lineOfOffset(text, definition.index);
  if (program.line !== undefined && (program.file === undefined || program.file === file)) return Math.max(0, program.line - 1);
  return 0;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function truncate(title: string): string {
  const oneLine = title.replace(/\s+/g, ' ');
  return oneLine.length > MAX_TITLE ? `${oneLine.slice(0, MAX_TITLE - 1)}…` : oneLine;
}
