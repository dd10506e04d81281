/**
 * Tells the language server which kernel the user writes for (`ebpfStudio/targetInfo`): the selected
 * target's release, architecture and features, a local copy of its BTF (kernel struct fields, kfuncs
 * and attach points come from it) and its helper probe. Sent when a session to the selected target
 * opens and when the selection changes. BTF and probe answers are cached on disk per btfId, so a
 * reconnect or a restart transfers nothing. Without a session nothing is sent and nothing is retried
 * until a session opens: the server keeps describing this machine (or the last target it was told).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { State, type LanguageClient } from 'vscode-languageclient/node';
import { TargetInfoNotification, type TargetInfoParams } from '../language-server/lspExtensions';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { TargetSpec } from '../remote-agent/client/targetSpec';
import { agentOffers, type ProbeHelpersResult } from '../remote-agent/protocol';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { errorMessage, readSettings, resolveTarget, SETTINGS_SECTION } from './settings';

/** BTF copies kept (a few MiB each): the targets someone switches between. */
const KEPT_BTF_COPIES = 4;
const LOCAL_BTF = '/sys/kernel/btf/vmlinux';
/** The agent's btfId is a content hash; it names a file here, so nothing else is accepted. */
const BTF_ID = /^[0-9a-f]{8,128}$/;
/** BTF header magic 0xeB9F, little-endian: what a raw vmlinux BTF starts with. */
const BTF_MAGIC_LE = Buffer.from([0x9f, 0xeb]);

export function registerTargetInfoSync(client: LanguageClient, sessions: AgentSessions, storageUri: vscode.Uri, log: ExtensionLog): vscode.Disposable {
  return new TargetInfoSync(client, sessions, join(storageUri.fsPath, 'btf'), log);
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
    private readonly cacheDir: string,
    private readonly log: ExtensionLog,
  ) {
    this.subscriptions.push(
      sessions.onDidChangeState((state) => {
        if (state.state !== 'connected') return;
        this.unreachable.delete(state.description);
        if (this.selected()?.description === state.description) void this.syncSelected();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (!event.affectsConfiguration(`${SETTINGS_SECTION}.target`)) return;
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
    const resolved = resolveTarget(readSettings().target);
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
    const started = Date.now();
    const { hello } = session;
    const btf = await this.btfCopy(session, signal);
    const helpers = await this.helperProbe(session, signal);
    signal.throwIfAborted();
    const params: TargetInfoParams = {
      description: session.description,
      kernelRelease: hello.kernelRelease,
      arch: hello.arch,
      btfPath: btf.path,
      btfId: hello.btfId,
      features: hello.features,
      helpers,
    };
    await this.client.sendNotification(TargetInfoNotification, params);
    this.sent = key;
    this.log.info(
      `language server: now describes ${session.description} (kernel ${hello.kernelRelease}, ${hello.arch}; BTF ${btf.how}; helper probe ${helpers ? 'known' : 'not available'}) after ${Date.now() - started} ms`,
    );
  }

  /** Where the language server can read the target's raw BTF, fetched once per btfId. */
  private async btfCopy(session: AgentSession, signal: AbortSignal): Promise<{ path: string | null; how: string }> {
    const { hello } = session;
    if (!hello.btf || hello.btfId === null) return { path: null, how: 'none on the target' };
    // The language server runs on this machine: the local target's BTF is readable where it is.
    if (session.target.kind === 'local') return { path: LOCAL_BTF, how: LOCAL_BTF };
    if (!BTF_ID.test(hello.btfId)) throw new Error(`the agent sent a malformed btfId "${hello.btfId.slice(0, 80)}"; update the agent (eBPF: Reconnect redeploys it)`);
    const file = join(this.cacheDir, `${hello.btfId}.btf`);
    if (existsSync(file)) {
      const now = new Date();
      await utimes(file, now, now); // most recently used: kept when the cache is trimmed
      return { path: file, how: `cached at ${file}` };
    }
    if (!agentOffers(hello, 'btf.vmlinux')) return { path: null, how: 'not offered by this agent version' };
    const started = Date.now();
    const answer = await session.client.request('btf.vmlinux', {}, signal);
    const data = Buffer.from(answer.data, 'base64');
    if (answer.btfId !== hello.btfId) throw new Error(`the target's BTF changed while it was fetched (${hello.btfId} → ${answer.btfId}); run "eBPF: Reconnect"`);
    if (data.length < 24 || !data.subarray(0, 2).equals(BTF_MAGIC_LE)) throw new Error('the agent sent data that is not raw BTF for btf.vmlinux');
    await mkdir(this.cacheDir, { recursive: true });
    // Written aside and renamed: a reader never sees half a file, even if VS Code quits mid-write.
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, data);
    await rename(partial, file);
    await this.trimCache();
    return { path: file, how: `fetched (${(data.length / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms)` };
  }

  /** The target's helper availability, probed once per btfId (it costs the agent ~1 s of probe loads). */
  private async helperProbe(session: AgentSession, signal: AbortSignal): Promise<ProbeHelpersResult | null> {
    const { hello } = session;
    if (!agentOffers(hello, 'probe.helpers')) return null;
    const file = hello.btfId !== null && BTF_ID.test(hello.btfId) ? join(this.cacheDir, `${hello.btfId}.helpers.json`) : undefined;
    if (file !== undefined && existsSync(file)) {
      const cached = parseProbe(await readFile(file, 'utf8'));
      if (cached !== undefined) return cached;
      this.log.info(`language server: ignoring the unreadable helper probe cache ${file}; probing again`);
    }
    let probe: ProbeHelpersResult;
    try {
      probe = await session.client.request('probe.helpers', {}, signal);
    } catch (error) {
      signal.throwIfAborted();
      // Completion and diagnostics still work from the built-in tables; say why they are less exact.
      this.log.info(`language server: the helper probe on ${session.description} failed (${errorMessage(error)}); helper availability per program type is not checked`);
      return null;
    }
    if (file !== undefined) {
      await mkdir(this.cacheDir, { recursive: true });
      const partial = `${file}.${process.pid}.partial`;
      await writeFile(partial, JSON.stringify(probe));
      await rename(partial, file);
    }
    return probe;
  }

  /** Keeps the most recently used BTF copies (and their probes); older kernels' are deleted. */
  private async trimCache(): Promise<void> {
    const names = (await readdir(this.cacheDir)).filter((name) => name.endsWith('.btf'));
    const used = await Promise.all(names.map(async (name) => ({ name, mtime: (await stat(join(this.cacheDir, name))).mtimeMs })));
    used.sort((a, b) => b.mtime - a.mtime);
    for (const { name } of used.slice(KEPT_BTF_COPIES)) {
      const id = name.slice(0, -'.btf'.length);
      await rm(join(this.cacheDir, name), { force: true });
      await rm(join(this.cacheDir, `${id}.helpers.json`), { force: true });
    }
  }
}

function isBpfSource(document: vscode.TextDocument): boolean {
  return document.uri.scheme === 'file' && document.fileName.endsWith('.bpf.c');
}

/** A cached probe answer, or undefined when the file is not one (then the target is probed again). */
function parseProbe(text: string): ProbeHelpersResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // a truncated or foreign file: probing again replaces it
  }
  const probe = value as Partial<ProbeHelpersResult> | null;
  if (typeof probe !== 'object' || probe === null || !Array.isArray(probe.gplOnly) || typeof probe.helpersByProgramType !== 'object' || probe.helpersByProgramType === null) return undefined;
  const lists = Object.values(probe.helpersByProgramType);
  if (!lists.every((list) => Array.isArray(list) && list.every((name) => typeof name === 'string'))) return undefined;
  if (!probe.gplOnly.every((name) => typeof name === 'string')) return undefined;
  return probe as ProbeHelpersResult;
}
