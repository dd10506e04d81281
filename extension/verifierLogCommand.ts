/**
 * "eBPF: Show Verifier Log": writes one program's full verifier log (with libbpf's messages) to
 * the Output channel and reveals it. Code lenses and diagnostic codes link here with the file and
 * program; from the palette it asks which program, the active file's first.
 */
import * as vscode from 'vscode';
import type { CheckReport, ProgramReport } from '../remote-agent/client/checkReport';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import type { FileVerifier } from './fileVerifier';

export function registerVerifierLogCommand(verifier: FileVerifier, log: ExtensionLog): vscode.Disposable {
  return vscode.commands.registerCommand(Commands.showVerifierLog, async (file?: string, programName?: string) => {
    const chosen = file && programName ? find(verifier, file, programName) : await pickProgram(verifier);
    if (!chosen) {
      if (file && programName) {
        void vscode.window.showWarningMessage(`There is no verifier log of ${programName} any more: verify the file again (eBPF: Verify Current File).`);
      }
      return;
    }
    const { report, program } = chosen;
    const title = `${program.name} (${program.section}, ${program.type}) in ${vscode.workspace.asRelativePath(report.file)} on ${report.target}, kernel ${report.kernelRelease}`;
    log.block(`\n──── verifier log of ${title} ────`);
    log.block(
      `verdict: ${program.ok ? 'accepted' : `rejected: ${program.error ?? 'see the log'}`} · ${program.insnCount} insns, ` +
        `${program.insnsProcessed ?? '?'} processed, peak states ${program.peakStates ?? '?'}, ` +
        `verification ${program.verificationTimeUs === null ? '?' : `${program.verificationTimeUs} µs`}`,
    );
    log.block(program.log.trim() === '' ? '(the kernel wrote no log for this program)' : program.log);
    log.block(`──── end of the log of ${program.name} ────`);
    log.show();
  });
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
