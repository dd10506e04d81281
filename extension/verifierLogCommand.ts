/**
 * "eBPF: Show Verifier Log": opens one program's full verifier log (with libbpf's messages) in the
 * verifier log view beside its source (verifierLogView.ts). Code lenses and diagnostic codes link
 * here with the file and program; from the palette it asks which program, the active file's first.
 */
import * as vscode from 'vscode';
import type { CheckReport, ProgramReport } from '../remote-agent/client/checkReport';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import type { FileVerifier } from './fileVerifier';
import { VerifierLogPanels } from './verifierLogView';

export function registerVerifierLogCommand(extensionUri: vscode.Uri, verifier: FileVerifier, log: ExtensionLog): vscode.Disposable {
  const panels = new VerifierLogPanels(extensionUri, verifier, log);
  const command = vscode.commands.registerCommand(Commands.showVerifierLog, async (file?: string, programName?: string) => {
    const chosen = file && programName ? find(verifier, file, programName) : await pickProgram(verifier);
    if (!chosen) {
      if (file && programName) {
        void vscode.window.showWarningMessage(`There is no verifier log of ${programName} any more: verify the file again (eBPF: Verify Current File).`);
      }
      return;
    }
    panels.show(chosen.report, chosen.program);
  });
  return vscode.Disposable.from(command, panels);
}

function find(verifier: FileVerifier, file: string, programName: string): { report: CheckReport; program: ProgramReport } | undefined {
  const report = verifier.reportFor(vscode.Uri.parse(file));
  const program = report?.programs.find((p) => p.name === programName);
  return report && program ? { report, program } : undefined;
}

async function pickProgram(verifier: FileVerifier): Promise<{ report: CheckReport; program: ProgramReport } | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri.fsPath;
  const reports = verifier.allReports().sort((a, b) => Number(b.file === active) - Number(a.file === active));
  const items = reports.flatMap((report) =>
    report.programs.map((program) => ({
      label: `${program.ok ? '$(pass)' : '$(error)'} ${program.name}`,
      description: `${program.section} · ${vscode.workspace.asRelativePath(report.file)}`,
      detail: program.ok ? `${program.insnsProcessed ?? '?'} insns processed on ${report.target}` : program.error,
      report,
      program,
    })),
  );
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No program has been verified yet: save a *.bpf.c file or run "eBPF: Verify Current File".');
    return undefined;
  }
  if (items.length === 1) return items[0];
  return vscode.window.showQuickPick(items, { placeHolder: 'Verifier log of which program?', matchOnDescription: true });
}
