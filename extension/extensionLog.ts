/**
 * The "eBPF Studio" Output channel: where background events (connections, verdicts, errors that
 * must not pop up) go. One place, so the user always knows where to look when the status bar says
 * something went wrong. (Verifier logs have their own view: verifierLogView.ts.)
 */
import * as vscode from 'vscode';

export class ExtensionLog implements vscode.Disposable {
  private readonly channel: vscode.OutputChannel;

  constructor(name: string) {
    this.channel = vscode.window.createOutputChannel(name);
  }

  /** One timestamped event line. */
  info(line: string): void {
    const now = new Date();
    const stamp = now.toTimeString().slice(0, 8) + '.' + String(now.getMilliseconds()).padStart(3, '0');
    this.channel.appendLine(`[${stamp}] ${line}`);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
