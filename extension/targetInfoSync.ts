/**
 * Tells the language server which kernel the user writes for (`ebpfStudio/targetInfo`): the selected
 * target's release, architecture and features, a local copy of its BTF (kernel struct fields, kfuncs
 * and attach points come from it) and its helper probe. Sent when a session to the selected target
 * opens and when the selection changes. BTF and probe answers are cached on disk per btfId
 * (remote-agent/client/targetKnowledge.ts, shared with `ebpf-studio lsp --target`), so a reconnect or
 * a restart transfers nothing. Without a session nothing is sent and nothing is retried
 * until a session opens: the server keeps describing this machine (or the last target it was told).
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { State, type LanguageClient } from 'vscode-languageclient/node';
import { TargetInfoNotification } from '../language-server/lspExtensions';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { TargetSpec } from '../remote-agent/client/targetSpec';
import { TargetKnowledgeCache, targetInfoFor } from '../remote-agent/client/targetKnowledge';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { errorMessage } from './settings';

export function registerTargetInfoSync(client: LanguageClient, sessions: AgentSessions, storageUri: vscode.Uri, log: ExtensionLog): vscode.Disposable {
  return new TargetInfoSync(client, sessions, new TargetKnowledgeCache(join(storageUri.fsPath, 'btf')), log);
}

class TargetInfoSync implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  /** `description btfId` of what the server was last told, so a reconnect to the same kernel sends nothing. */
  private sent: string | undefined;
  /** Targets whose session failed to open: not asked again until one opens or the selection changes. */
  private readonly unreachable = new Set<string>();
  private inFlight = new AbortController();
  /** The key being sent now: another trigger for the same key (a file opened, the session connected) starts nothing. */
  private inFlightKey: string | undefined;

  constructor(
    private readonly client: LanguageClient,
    private readonly sessions: AgentSessions,
    private readonly knowledge: TargetKnowledgeCache,
    private readonly log: ExtensionLog,
  ) {
    this.subscriptions.push(
      sessions.onDidChangeState((state) => {
        if (state.state !== 'connected') return;
        this.unreachable.delete(state.description);
        if (this.selected()?.description === state.description) void this.syncSelected();
      }),
      sessions.onDidChangeTarget(() => {
        this.unreachable.clear();
        if (vscode.workspace.textDocuments.some(isBpfSource)) void this.syncSelected();
      }),
      vscode.workspace.onDidOpenTextDocument((document) => {
        if (isBpfSource(document)) void this.syncSelected();
      }),
      // A restarted server (after a crash) knows nothing of the target again.
      client.onDidChangeState(({ newState }) => {
        if (newState !== State.Running) return;
        this.sent = undefined;
        if (vscode.workspace.textDocuments.some(isBpfSource)) void this.syncSelected();
      }),
    );
    if (vscode.workspace.textDocuments.some(isBpfSource)) void this.syncSelected();
  }

  dispose(): void {
    this.inFlight.abort(new Error('eBPF Studio is shutting down'));
    for (const subscription of this.subscriptions) subscription.dispose();
  }

  private selected(): { description: string; spec: TargetSpec } | undefined {
    const resolved = this.sessions.currentTarget();
    return resolved.ok ? resolved : undefined;
  }

  /** Opens (or reuses) the selected target's session once per selection, and tells the server about it. */
  private async syncSelected(): Promise<void> {
    const target = this.selected();
    // The verifier already explains an unusable target setting; an unreachable one is tried again by verification.
    if (target === undefined || this.unreachable.has(target.description)) return;
    let session: AgentSession;
    try {
      session = await this.sessions.get(target.spec, target.description);
    } catch (error) {
      this.unreachable.add(target.description);
      this.log.info(`language server: no session to ${target.description} (${errorMessage(error)}); completion keeps describing the last known kernel until one opens`);
      return;
    }
    // The selection moved on meanwhile. (Sessions are keyed by the setting's description, e.g. an ssh
    // config alias; session.description is the resolved user@host:port.)
    if (this.selected()?.description !== target.description) return;
    const key = `${target.description} ${session.hello.btfId ?? 'no-btf'}`;
    if (this.sent === key || this.inFlightKey === key) return;
    this.inFlight.abort(new Error(`the target changed to ${session.description}`));
    const inFlight = new AbortController();
    this.inFlight = inFlight;
    this.inFlightKey = key;
    try {
      await this.send(session, key, inFlight.signal);
    } catch (error) {
      if (!inFlight.signal.aborted) this.log.info(`language server: could not describe ${session.description} to it: ${errorMessage(error)}`);
    } finally {
      if (this.inFlight === inFlight) this.inFlightKey = undefined;
    }
  }

  private async send(session: AgentSession, key: string, signal: AbortSignal): Promise<void> {
    const params = await targetInfoFor(session, this.knowledge, signal, (line) => this.log.info(`language server: ${line}`));
    signal.throwIfAborted();
    await this.client.sendNotification(TargetInfoNotification, params);
    this.sent = key;
  }
}

function isBpfSource(document: vscode.TextDocument): boolean {
  return document.uri.scheme === 'file' && document.fileName.endsWith('.bpf.c');
}
