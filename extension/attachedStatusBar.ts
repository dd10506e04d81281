/**
 * The status bar item of attached programs: "$(plug) eBPF: 2 attached · 12.3k ev/s" while any
 * run is live (hidden otherwise), "$(sync~spin) eBPF: 2 attached · link down" while a run's link is
 * down and its agent keeps it for the grace period, with each program, where it is attached and its
 * streams' counters in the tooltip; clicking it opens the Events view.
 */
import * as vscode from 'vscode';
import { Commands } from './commandIds';
import type { RunningPrograms } from './runningPrograms';

export function registerAttachedStatusBar(running: RunningPrograms): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('ebpfStudio.attached', vscode.StatusBarAlignment.Left, 9);
  item.name = 'eBPF Studio: attached programs';
  item.command = Commands.showEvents;
  let last = { at: Date.now(), received: 0 };
  let rate = 0;

  const received = (): number => running.runs().reduce((sum, r) => sum + [...r.streams.values()].reduce((s, st) => s + st.counters.received, 0), 0);

  const render = (): void => {
    const runs = running.runs();
    if (runs.length === 0) {
      item.hide();
      return;
    }
    const programs = runs.flatMap((r) => r.bpfObject.attached);
    const streams = runs.some((r) => r.streams.size > 0);
    const linkDown = runs.some((r) => r.waiting() !== undefined);
    item.text = linkDown ? `$(sync~spin) eBPF: ${programs.length} attached · link down` : `$(plug) eBPF: ${programs.length} attached${streams ? ` · ${compact(rate)} ev/s` : ''}`;
    const tooltip = new vscode.MarkdownString();
    for (const run of runs) {
      tooltip.appendMarkdown('**');
      tooltip.appendText(`${vscode.workspace.asRelativePath(run.file)} on ${run.target}`);
      tooltip.appendMarkdown('**\n\n');
      const waiting = run.waiting();
      if (waiting) {
        tooltip.appendText(
          `The link dropped at ${new Date(waiting.since).toLocaleTimeString()}; the agent keeps these attached until ${new Date(waiting.keptUntil).toLocaleTimeString()} while eBPF Studio reconnects.`,
        );
        tooltip.appendMarkdown('\n\n');
      }
      for (const a of run.bpfObject.attached) {
        tooltip.appendMarkdown('- ');
        tooltip.appendText(`${a.program} → ${a.description} (prog id ${a.programId})`);
        tooltip.appendMarkdown('\n');
      }
      for (const s of run.streams.values()) {
        tooltip.appendMarkdown('- ');
        tooltip.appendText(`${s.map} (${s.kind}, ${s.recordType}): ${s.counters.received} received, ${s.counters.sent} sent, ${s.counters.dropped} dropped`);
        tooltip.appendMarkdown('\n');
      }
      tooltip.appendMarkdown('\n');
    }
    tooltip.appendText('Click to open the Events view.');
    item.tooltip = tooltip;
    const dropped = runs.some((r) => [...r.streams.values()].some((s) => s.counters.dropped > 0));
    item.backgroundColor = linkDown || dropped ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.show();
  };

  const timer = setInterval(() => {
    const now = Date.now();
    const total = received();
    rate = Math.max(0, ((total - last.received) * 1000) / Math.max(1, now - last.at));
    last = { at: now, received: total };
    if (running.runs().length > 0) render();
  }, 1000);

  return vscode.Disposable.from(item, running.onDidChange(render), { dispose: () => clearInterval(timer) });
}

/** 950, 12.3k, 1.2M. */
function compact(n: number): string {
  if (n < 1000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
