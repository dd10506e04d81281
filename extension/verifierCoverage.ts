/**
 * The verifier's coverage and cost on the source, toggled by "eBPF: Toggle Verifier Coverage"
 * (setting ebpfStudio.verifierCoverage): lines the verifier walked get a gutter mark, lines of an
 * accepted program it never reached are dimmed (code it proved dead), and every walked line is
 * shaded by the instruction visits it cost — the heat map of `veristat --top-src-lines` — with the
 * count written after the costliest lines, so "too many instructions" points at the loop that costs.
 */
import * as vscode from 'vscode';
import type { CheckReport } from '../remote-agent/client/checkReport';
import { heatLevels, type LineCost } from '../remote-agent/client/verifierWalk';
import { Commands } from './commandIds';
import type { FileVerifier } from './fileVerifier';
import { SETTINGS_SECTION } from './settings';

const SETTING = 'verifierCoverage';

/** Gutter marks: a thin bar, drawn as SVG so no image file ships. */
function bar(color: string): vscode.Uri {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect x="5" y="0" width="3" height="16" fill="${color}"/></svg>`;
  return vscode.Uri.parse(`data:image/svg+xml;utf8,${encodeURIComponent(svg)}`);
}

export function registerVerifierCoverage(verifier: FileVerifier): vscode.Disposable {
  const walked = vscode.window.createTextEditorDecorationType({ gutterIconPath: bar('#3fb950'), gutterIconSize: 'contain' });
  const unreached = vscode.window.createTextEditorDecorationType({ opacity: '0.45', isWholeLine: true });
  const heat = [1, 2, 3, 4].map((level) =>
    vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor(`ebpfStudio.verifierHeat${level}`),
      overviewRulerColor: level >= 3 ? new vscode.ThemeColor(`ebpfStudio.verifierHeat${level}`) : undefined,
      overviewRulerLane: vscode.OverviewRulerLane.Right,
    }),
  );
  const types = [walked, unreached, ...heat];

  const enabled = () => vscode.workspace.getConfiguration(SETTINGS_SECTION).get<boolean>(SETTING, false);
  const paint = (editor: vscode.TextEditor) => {
    if (!enabled()) {
      for (const t of types) editor.setDecorations(t, []);
      return;
    }
    const file = editor.document.uri.fsPath;
    const lines = linesOf(verifier.allReports(), file, editor.document.lineCount);
    editor.setDecorations(walked, lines.walked.map((l) => lineRange(l.line)));
    editor.setDecorations(unreached, lines.unreached.map(lineRange));
    const levels = heatLevels(lines.walked);
    heat.forEach((type, i) => {
      editor.setDecorations(
        type,
        levels
          .filter((h) => h.level === i + 1)
          .map((h) => ({
            range: lineRange(h.line),
            hoverMessage: `${h.insnsProcessed.toLocaleString('en-US')} instruction visits by the verifier (${h.share}% of this file's)`,
            renderOptions: h.labelled
              ? { after: { contentText: `  ${h.insnsProcessed.toLocaleString('en-US')} insn${h.insnsProcessed === 1 ? '' : 's'}`, color: new vscode.ThemeColor('editorCodeLens.foreground') } }
              : undefined,
          })),
      );
    });
  };
  const paintAll = () => vscode.window.visibleTextEditors.forEach(paint);

  return vscode.Disposable.from(
    ...types,
    vscode.commands.registerCommand(Commands.toggleVerifierCoverage, async () => {
      const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
      await config.update(SETTING, !enabled(), vscode.ConfigurationTarget.Global);
      if (enabled() && !verifier.allReports().some((r) => r.programs.some((p) => p.walk))) {
        void vscode.window.showInformationMessage('Verifier coverage is on: verify a *.bpf.c file (save it, or "eBPF: Verify Current File") to see it.');
      }
    }),
    verifier.onDidChangeReport(paintAll),
    verifier.onDidShiftReport(paintAll),
    vscode.window.onDidChangeVisibleTextEditors(paintAll),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SETTINGS_SECTION}.${SETTING}`)) paintAll();
    }),
  );
}

function lineRange(line: number): vscode.Range {
  return new vscode.Range(line - 1, 0, line - 1, 0);
}

/** Walked lines of `file` summed over every program that walked them; unreached ones no program walked. */
function linesOf(reports: CheckReport[], file: string, lineCount: number): { walked: LineCost[]; unreached: number[] } {
  const cost = new Map<number, number>();
  const unreached = new Set<number>();
  for (const report of reports) {
    for (const program of report.programs) {
      for (const l of program.walk?.lines ?? []) {
        if (l.file === file && l.line <= lineCount) cost.set(l.line, (cost.get(l.line) ?? 0) + l.insnsProcessed);
      }
      for (const l of program.walk?.unreached ?? []) if (l.file === file && l.line <= lineCount) unreached.add(l.line);
    }
  }
  return {
    walked: [...cost].map(([line, insnsProcessed]) => ({ line, insnsProcessed })),
    unreached: [...unreached].filter((line) => !cost.has(line)),
  };
}
