/**
 * The "eBPF Trace" Output channel: bpf_printk lines of the attached programs as trace_pipe gives
 * them, in columns an eBPF developer reads at a glance (comm-pid, [cpu], kernel timestamp,
 * message), one append per batch so a chatty program costs one write per batch, not per line.
 */
import * as vscode from 'vscode';
import type { TraceRecord } from '../remote-agent/client/programRun';
import { Commands } from './commandIds';
import type { RunningPrograms } from './runningPrograms';

export function formatTraceRecord(record: TraceRecord): string {
  const p = record.parsed;
  if (!p) return record.line;
  const task = `${p.comm}-${p.pid}`.padStart(22);
  return `${task} [${String(p.cpu).padStart(3, '0')}] ${p.timestamp.toFixed(6).padStart(14)}: ${p.event === 'bpf_trace_printk' ? '' : `${p.event}: `}${p.message}`;
}

export function registerTraceOutput(running: RunningPrograms): vscode.Disposable {
  const channel = vscode.window.createOutputChannel('eBPF Trace');
  let announced = false;
  return vscode.Disposable.from(
    channel,
    vscode.commands.registerCommand(Commands.showTrace, () => channel.show(true)),
    running.onTrace(({ records, dropped }) => {
      const lines = records.map(formatTraceRecord);
      if (dropped > 0) lines.push(`-- ${dropped} trace line${dropped === 1 ? '' : 's'} dropped by the agent (the editor read too slowly) --`);
      if (lines.length > 0) channel.append(`${lines.join('\n')}\n`);
      // Told once, not shown: showing would take the panel from the Events view.
      if (!announced && lines.length > 0) {
        announced = true;
        vscode.window.setStatusBarMessage('$(output) eBPF: bpf_printk output goes to the "eBPF Trace" Output channel (eBPF: Show Trace Output)', 8000);
      }
    }),
  );
}
