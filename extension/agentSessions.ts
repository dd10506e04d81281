/**
 * One agent session per target, opened when first needed and opened again after it closes
 * (SSH link lost, agent died): the rest of the extension asks for "the session of this target"
 * and never holds one across failures. It also owns the host-key dialogue, so an unknown key is
 * asked about once and a refused or changed key does not turn every save into a popup, lends the
 * sessions the credential prompts (credentialPrompts.ts), not asked again for a target once the user
 * dismissed one, until Reconnect or Select Target, and the
 * current target: the `ebpfStudio.target` setting read once per change and announced by an event,
 * so every feature shows and uses the same target. It also keeps the named targets
 * (`ebpfStudio.targets` and trusted workspace folders' `.ebpf-studio/targets.json`): a target
 * written as a name resolves here, and its session starts the agent as the name says (sudo, work
 * directory); a session is known by the name, so changing a name's definition reopens only it.
 * Sessions are opened with the `ebpfStudio.reconnectGraceSeconds` grace period: when one is lost,
 * its resume ticket is kept (in memory only) and the reconnect within that time resumes it, telling
 * the registered ResumeParty (the running programs) so they carry on with the same agent.
 * An SSH or kernel VM target's agent is the one the per-user session process shares between all the
 * user's windows and CLI runs (`ebpfStudio.shareConnections`, cli/sharedAgent.ts): this window has
 * its place on it, resumed through the session process; a target that wants a secret gets this
 * window's own agent.
 */
import * as vscode from 'vscode';
import { AgentSessionError, openAgentSession, type AgentSession, type CredentialPrompter, type HostKeyInfo, type OpenSessionOptions } from '../remote-agent/client/agentSession';
import type { AgentClient } from '../remote-agent/client/agentClient';
import type { ResumeTicket } from '../remote-agent/protocol';
import { LocalCompiler } from '../remote-agent/client/kernelMatrix';
import type { AgentSessionErrorKind } from '../remote-agent/client/sessionError';
import { resolveTargetText, TARGETS_FILE, type NamedTarget, type TargetSessionOptions } from '../remote-agent/client/namedTargets';
import type { TargetSpec } from '../remote-agent/client/targetSpec';
import type { ExtensionLog } from './extensionLog';
import { agentThroughSessionProcess } from '../remote-agent/client/sessionProcessAgent';
import { SESSION_PROCESS_ENV, type SessionProcessLauncher } from '../remote-agent/client/sessionProcessLink';
import { readNamedTargets, readSettings, resolveTarget, storeTarget, type EbpfStudioSettings, type ResolvedTarget } from './settings';

export type ConnectionState =
  | { state: 'connecting'; description: string }
  | { state: 'connected'; description: string; kernelRelease: string }
  | { state: 'closed' | 'failed'; description: string; reason: string }
  /** The connection was lost (`reason`); try `attempt` of `attempts` starts in `inMs`. */
  | { state: 'reconnecting'; description: string; reason: string; attempt: number; attempts: number; inMs: number }
  /** Every automatic try failed since the connection to `where` ('root@host:22') was lost at `since` (ms): results from it are stale. */
  | { state: 'unreachable'; description: string; where: string; reason: string; attempts: number; since: number };

/** Failures that trying again cannot mend: a person must act (trust a key, give a password, fix privileges). */
const NOT_RETRIED = new Set<AgentSessionErrorKind>(['unknown-host-key', 'changed-host-key', 'auth', 'credentials-declined', 'sudo-password', 'agent-build', 'agent-integrity', 'privilege']);
/** The wait before try n (1-based): 1, 2, 4, 8, 16, then 30 s. */
function reconnectDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 30_000);
}

/** What holds state on a target's agent across a lost link (the running programs), told about a resume. */
export interface ResumeParty {
  /** For session.resume: the records of each stream this editor received from the target's agent. */
  streamsDecoded(description: string): { streamId: string; decoded: number }[];
  /** The new connection, before session.resume is sent: listen to it from now on. */
  listen(description: string, client: AgentClient): void;
  /** The session was resumed: `session.resumed` says what the agent still holds. */
  resumed(description: string, session: AgentSession): void;
  /** The session could not be resumed (its grace period ended, the token was refused): what it held is gone. */
  expired(description: string, reason: string): void;
}

export interface AgentSessionsOptions {
  agentSourceDir: string;
  /** The static agents shipped in the vsix (out/agent-bin/<arch>/ebpf-agent). */
  agentBinaryDir: string;
  clientVersion: string;
  log: ExtensionLog;
  /** Asks for passphrases and passwords (credentialPrompts.ts). */
  credentials: CredentialPrompter;
  /** How to start the per-user session process that SSH targets' agents are shared through (`ebpfStudio.shareConnections`). */
  sessionProcess: SessionProcessLauncher;
}

export class AgentSessions implements vscode.Disposable {
  private readonly sessions = new Map<string, Promise<AgentSession>>();
  /** Targets whose unknown host key the user declined: not asked again until Reconnect/Select Target. */
  private readonly declinedHostKeys = new Set<string>();
  /** Targets whose changed host key was already reported in an error message. */
  private readonly reportedChangedKeys = new Set<string>();
  /** Targets where the user dismissed a passphrase or password prompt: not asked again until Reconnect/Select Target. */
  private readonly declinedCredentials = new Set<string>();
  private readonly shutdown = new AbortController();
  /** The pending automatic reconnect of each target whose connection was lost. */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  /** The resume ticket of each target whose session was lost, and when (kept in memory only, never logged). */
  private readonly lostTickets = new Map<string, { ticket: ResumeTicket; lostAt: number; shared: boolean }>();
  /** Sessions that are this window's place on the shared agent: their tickets are the session process's to honour. */
  private readonly sharedSessions = new WeakSet<AgentSession>();
  private readonly resumeParties = new Set<ResumeParty>();
  /** Targets given up on after their automatic tries, and since when their connection was lost. */
  private readonly unreachable = new Map<string, number>();
  private readonly stateEmitter = new vscode.EventEmitter<ConnectionState>();
  /** Fires on every connection change of any target. */
  readonly onDidChangeState = this.stateEmitter.event;
  /** The unprivileged agent on this machine that compiles for kernel VMs and targets without clang. */
  readonly compiler = new LocalCompiler(() => this.openCompiler());
  private readonly targetEmitter = new vscode.EventEmitter<ResolvedTarget>();
  /**
   * Fires when the `ebpfStudio.target` setting changes and when the target picker sets a target,
   * even the one already set: picking it again means "use it now", e.g. after it was unreachable.
   */
  readonly onDidChangeTarget = this.targetEmitter.event;
  private named: NamedTarget[];
  private target: { setting: string; resolved: ResolvedTarget };
  /** How often onDidChangeTarget fired, so selectTarget can tell whether its write already announced the target. */
  private targetChanges = 0;
  private readonly settingsSubscriptions: vscode.Disposable;

  constructor(private readonly options: AgentSessionsOptions) {
    this.named = this.readNamed();
    this.target = readTarget(this.named);
    const targetsFiles = vscode.workspace.createFileSystemWatcher(`**/${TARGETS_FILE}`);
    this.settingsSubscriptions = vscode.Disposable.from(
      vscode.workspace.onDidChangeConfiguration((e) => this.onDidChangeConfiguration(e)),
      // Trusting the workspace makes its own ebpfStudio.target and targets count (restricted settings), and its targets files.
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (!this.refreshNamedTargets() && readSettings().target !== this.target.setting) this.changeTarget();
      }),
      targetsFiles,
      targetsFiles.onDidCreate(() => this.refreshNamedTargets()),
      targetsFiles.onDidChange(() => this.refreshNamedTargets()),
      targetsFiles.onDidDelete(() => this.refreshNamedTargets()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refreshNamedTargets()),
    );
  }

  /** The named targets, in the order they were defined (setting first, then workspace files). */
  namedTargets(): readonly NamedTarget[] {
    return this.named;
  }

  /** A target as written (a name of namedTargets(), or a destination), for features that take several (the kernel matrix). */
  resolve(text: string, settingName: string): ResolvedTarget {
    return resolveTarget(text, this.named, settingName);
  }

  /** The target to verify, attach and list on, or why there is none. */
  currentTarget(): ResolvedTarget {
    return this.target.resolved;
  }

  /** The `ebpfStudio.target` setting as written ('' when automatic), for pickers that show it. */
  currentTargetSetting(): string {
    return this.target.setting;
  }

  /** Stores `setting` as the target (workspace settings when a folder is open) and announces it. */
  async selectTarget(setting: string): Promise<void> {
    const changesBefore = this.targetChanges;
    await storeTarget(setting);
    // Storing the value already set changes no configuration, so nothing announced it yet.
    if (this.targetChanges === changesBefore) this.changeTarget();
  }

  /** The open session of `target`, opening one if there is none (or the last one closed). */
  get(target: TargetSpec, description: string): Promise<AgentSession> {
    let session = this.sessions.get(description);
    if (!session) {
      session = this.open(target, description);
      this.sessions.set(description, session);
      // A failed open is forgotten so that the next request tries again.
      session.catch(() => {
        if (this.sessions.get(description) === session) this.sessions.delete(description);
      });
    }
    return session;
  }

  /** `party` is told when a lost session of a target is resumed or cannot be. */
  registerResumeParty(party: ResumeParty): vscode.Disposable {
    this.resumeParties.add(party);
    return new vscode.Disposable(() => this.resumeParties.delete(party));
  }

  /** Closes the session of `target` (if any), forgets declined host keys, and opens a new one. */
  async reconnect(target: TargetSpec, description: string): Promise<AgentSession> {
    this.cancelRetry(description);
    this.declinedHostKeys.delete(description);
    this.reportedChangedKeys.delete(description);
    this.declinedCredentials.delete(description);
    await this.close(description);
    return this.get(target, description);
  }

  dispose(): void {
    for (const description of [...this.retries.keys()]) this.cancelRetry(description);
    this.shutdown.abort(new Error('eBPF Studio is shutting down'));
    void this.compiler.dispose();
    for (const session of this.sessions.values()) {
      session.then((s) => s.dispose()).catch(() => {
        // A session that failed to open has nothing to dispose; its failure was already logged.
      });
    }
    this.sessions.clear();
    this.stateEmitter.dispose();
    this.settingsSubscriptions.dispose();
    this.targetEmitter.dispose();
  }

  private async onDidChangeConfiguration(e: vscode.ConfigurationChangeEvent): Promise<void> {
    if (e.affectsConfiguration('ebpfStudio.targets')) this.refreshNamedTargets();
    const targetChanged = e.affectsConfiguration('ebpfStudio.target');
    // Read now, so the target is current for anyone asking while the sessions close.
    if (targetChanged) this.target = readTarget(this.named);
    // Sessions opened with the old SSH settings close first: what the new target triggers opens with the new ones.
    if (['knownHostsFile', 'identityFile', 'sshClient', 'shareConnections'].some((name) => e.affectsConfiguration(`ebpfStudio.${name}`))) await this.closeAll();
    if (targetChanged) this.announceTarget();
  }

  private changeTarget(): void {
    // Another target now: the old one is not tried again on its own.
    for (const description of [...this.retries.keys()]) this.cancelRetry(description);
    this.declinedCredentials.clear();
    this.target = readTarget(this.named);
    this.announceTarget();
  }

  /** Reads the named targets, saying in the Output what was left out and why. */
  private readNamed(): NamedTarget[] {
    const read = readNamedTargets();
    for (const problem of read.problems) this.options.log.info(problem);
    if (read.untrustedFiles.length > 0) {
      this.options.log.info(`${read.untrustedFiles.join(', ')} ignored: the workspace is not trusted (its targets count once you trust it).`);
    }
    return read.targets;
  }

  /**
   * Reads the named targets again; sessions of names whose definition changed close (they reopen
   * as now defined), and a current target that is such a name is announced again. True when it announced.
   */
  private refreshNamedTargets(): boolean {
    const before = new Map(this.named.map((t) => [t.name, JSON.stringify(t)]));
    this.named = this.readNamed();
    const after = new Map(this.named.map((t) => [t.name, JSON.stringify(t)]));
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((name) => before.get(name) !== after.get(name));
    for (const name of changed) void this.close(name);
    if (changed.length === 0) return false;
    const setting = readSettings().target;
    if (setting !== this.target.setting || changed.includes(setting)) {
      this.changeTarget();
      return true;
    }
    return false;
  }

  private announceTarget(): void {
    this.targetChanges++;
    this.targetEmitter.fire(this.target.resolved);
  }

  /** Closes every session (the SSH settings changed); they reopen when next needed. */
  private async closeAll(): Promise<void> {
    this.declinedHostKeys.clear();
    this.reportedChangedKeys.clear();
    this.declinedCredentials.clear();
    await Promise.all([...this.sessions.keys()].map((description) => this.close(description)));
  }

  private async close(description: string): Promise<void> {
    const session = this.sessions.get(description);
    if (!session) return;
    this.sessions.delete(description);
    const opened = await session.catch(() => undefined);
    if (opened) {
      await opened.dispose();
      this.options.log.info(`${description}: session closed (reconnecting)`);
    }
  }

  private async open(target: TargetSpec, description: string): Promise<AgentSession> {
    const { log } = this.options;
    const settings = readSettings();
    // A session is known by its target's name when it has one: the name says how to start the agent.
    const named = this.named.find((t) => t.name === description);
    const startOptions = named !== undefined ? resolveTargetText(named.name, this.named).session : {};
    this.stateEmitter.fire({ state: 'connecting', description });
    log.info(`${description}: connecting`);
    const started = Date.now();
    const lost = this.lostTickets.get(description);
    this.lostTickets.delete(description);
    let resume: OpenSessionOptions['resume'];
    if (lost !== undefined && Date.now() - lost.lostAt < lost.ticket.graceSeconds * 1000) {
      const parties = [...this.resumeParties];
      resume = {
        ticket: lost.ticket,
        streams: parties.flatMap((p) => p.streamsDecoded(description)),
        listen: (client) => parties.forEach((p) => p.listen(description, client)),
      };
      log.info(`${description}: resuming the session lost ${Math.round((Date.now() - lost.lostAt) / 1000)} s ago`);
    } else if (lost !== undefined) {
      this.tellExpired(description, `the link stayed down longer than the ${lost.ticket.graceSeconds} s grace period`);
    }
    try {
      // A place on the shared agent is resumed through the session process; a direct session's ticket, directly.
      let opened = resume === undefined || lost?.shared ? await this.sharedAgent(target, description, settings, startOptions, resume) : undefined;
      if (opened === undefined && resume !== undefined && lost?.shared) {
        this.tellExpired(description, 'the session process that kept what was attached is no longer there');
        resume = undefined;
      }
      opened ??= await openAgentSession({
        ...startOptions,
        graceSeconds: settings.reconnectGraceSeconds,
        ...(resume !== undefined && { resume }),
        target,
        agentSourceDir: this.options.agentSourceDir,
        agentBinaryDir: this.options.agentBinaryDir,
        clientVersion: this.options.clientVersion,
        ...(settings.knownHostsFile ? { knownHostsFile: settings.knownHostsFile } : {}),
        ...(settings.identityFile ? { identityFile: settings.identityFile } : {}),
        sshClient: settings.sshClient,
        confirmUnknownHostKey: (info) => this.confirmUnknownHostKey(description, info),
        credentials: this.credentialsFor(description),
        signal: this.shutdown.signal,
        log: (line) => log.info(`${description}: ${line}`),
      });
      const { hello } = opened;
      log.info(
        `${description}: connected in ${Date.now() - started} ms — kernel ${hello.kernelRelease} (${hello.arch}), ` +
          `BTF ${hello.btf ? 'yes' : 'no'}, ${hello.clang ?? 'no clang'}, libbpf ${hello.libbpfVersion}, agent ${hello.agentVersion}, euid ${hello.euid}`,
      );
      this.unreachable.delete(description);
      this.unreachable.delete(opened.description);
      this.stateEmitter.fire({ state: 'connected', description, kernelRelease: hello.kernelRelease });
      void opened.closed.then((reason) => this.onClosed(description, opened, reason));
      if (opened.resumed !== undefined) for (const party of this.resumeParties) party.resumed(description, opened);
      return opened;
    } catch (error) {
      if (error instanceof AgentSessionError && (error.kind === 'session-expired' || error.kind === 'session-refused')) {
        // What the lost session held is gone: say so, and open a new session in its place.
        log.info(`${description}: ${error.message}`);
        this.tellExpired(description, error.message);
        return this.open(target, description);
      }
      // Not reached (the link is still down): the next try resumes, while the grace period lasts.
      if (lost !== undefined && resume !== undefined && !this.lostTickets.has(description)) this.lostTickets.set(description, lost);
      const reason = error instanceof Error ? error.message : String(error);
      log.info(`${description}: cannot connect: ${reason}`);
      this.stateEmitter.fire({ state: 'failed', description, reason });
      if (error instanceof AgentSessionError && error.kind === 'changed-host-key') this.reportChangedHostKey(description, error);
      throw error;
    }
  }

  /**
   * This window's place on the agent the session process shares with the user's other windows, or
   * undefined when this window starts its own (sharing is off, this machine is the target, or the
   * session process handed it back: a secret or a host-key decision is needed, which only a window asks).
   */
  private async sharedAgent(
    target: TargetSpec,
    description: string,
    settings: EbpfStudioSettings,
    startOptions: Partial<TargetSessionOptions>,
    resume: OpenSessionOptions['resume'],
  ): Promise<AgentSession | undefined> {
    if (target.kind === 'local' || !settings.shareConnections || process.env[SESSION_PROCESS_ENV] === 'off') return undefined;
    const shared = await agentThroughSessionProcess(
      this.options.sessionProcess,
      {
        share: {
          target,
          ...startOptions,
          ...(settings.knownHostsFile ? { knownHostsFile: settings.knownHostsFile } : {}),
          ...(settings.identityFile ? { identityFile: settings.identityFile } : {}),
          sshClient: settings.sshClient,
          canPrompt: true,
          clientVersion: this.options.clientVersion,
          graceSeconds: settings.reconnectGraceSeconds,
          ...(resume !== undefined && { resume: { ticket: resume.ticket, streams: resume.streams } }),
        },
      },
      { signal: this.shutdown.signal, ...(resume?.listen !== undefined && { listen: resume.listen }) },
    );
    if ('direct' in shared) {
      this.options.log.info(`${description}: ${shared.notice}`);
      return undefined;
    }
    this.sharedSessions.add(shared);
    this.options.log.info(`${description}: using the agent the session process shares with this user's other windows`);
    return shared;
  }

  private tellExpired(description: string, reason: string): void {
    for (const party of this.resumeParties) party.expired(description, reason);
  }

  private openCompiler(): Promise<AgentSession> {
    const { log } = this.options;
    return openAgentSession({
      target: { kind: 'local' },
      unprivileged: true,
      agentSourceDir: this.options.agentSourceDir,
      agentBinaryDir: this.options.agentBinaryDir,
      clientVersion: this.options.clientVersion,
      signal: this.shutdown.signal,
      log: (line) => log.info(`compiler (local, unprivileged): ${line}`),
    });
  }

  private async onClosed(description: string, session: AgentSession, reason: Error): Promise<void> {
    const current = this.sessions.get(description);
    const isCurrent = current !== undefined && (await current.catch(() => undefined)) === session;
    if (!isCurrent) return; // replaced by Reconnect: its closing is expected
    this.sessions.delete(description);
    if (session.resumeTicket !== null && !this.shutdown.signal.aborted) {
      this.lostTickets.set(description, { ticket: session.resumeTicket, lostAt: Date.now(), shared: this.sharedSessions.has(session) });
      this.options.log.info(`${description}: the agent keeps what was attached for ${session.resumeTicket.graceSeconds} s; a reconnect within that time resumes it`);
    }
    const target = this.target.resolved;
    const attempts = readSettings().reconnectAttempts;
    if (this.shutdown.signal.aborted || !target.ok || target.description !== description || attempts === 0) {
      this.options.log.info(`${description}: session closed: ${reason.message} (it reopens on the next verification)`);
      this.stateEmitter.fire({ state: 'closed', description, reason: reason.message });
      return;
    }
    this.options.log.info(`${description}: session closed: ${reason.message}`);
    this.scheduleReconnect(target.spec, description, reason.message, 1, attempts, { since: Date.now(), where: session.description });
  }

  /**
   * Since when (ms) a target has been given up on after its automatic tries, if it has: by the
   * name the target setting gives it, or as its sessions describe it ('root@host:22', the target
   * of its check reports).
   */
  unreachableSince(target: string): number | undefined {
    return this.unreachable.get(target);
  }

  /**
   * Tries the lost target again after a growing wait, until it answers, a person must act (see
   * NOT_RETRIED), the target changes, or `attempts` tries failed. A verification in the meantime
   * opens the session at once; the pending try then finds it open and stops.
   */
  private scheduleReconnect(spec: TargetSpec, description: string, reason: string, attempt: number, attempts: number, lost: { since: number; where: string }): void {
    const { log } = this.options;
    if (attempt > attempts) {
      log.info(`${description}: stopped reconnecting after ${attempts} tries: ${reason}`);
      this.unreachable.set(description, lost.since);
      this.unreachable.set(lost.where, lost.since);
      this.stateEmitter.fire({ state: 'unreachable', description, where: lost.where, reason, attempts, since: lost.since });
      return;
    }
    const inMs = reconnectDelayMs(attempt);
    log.info(`${description}: reconnecting in ${inMs / 1000} s (try ${attempt} of ${attempts})`);
    this.stateEmitter.fire({ state: 'reconnecting', description, reason, attempt, attempts, inMs });
    this.cancelRetry(description);
    this.retries.set(
      description,
      setTimeout(() => {
        this.retries.delete(description);
        if (this.sessions.has(description)) return;
        this.get(spec, description).then(
          () => log.info(`${description}: reconnected (try ${attempt})`),
          (error: unknown) => {
            if (error instanceof AgentSessionError && NOT_RETRIED.has(error.kind)) return; // open() reported it
            if (this.shutdown.signal.aborted) return;
            const current = this.target.resolved;
            if (!current.ok || current.description !== description) return;
            this.scheduleReconnect(spec, description, error instanceof Error ? error.message : String(error), attempt + 1, attempts, lost);
          },
        );
      }, inMs),
    );
  }

  private cancelRetry(description: string): void {
    clearTimeout(this.retries.get(description));
    this.retries.delete(description);
  }

  /** The prompter for one target, silent once the user dismissed one of its prompts. */
  private credentialsFor(description: string): CredentialPrompter {
    const { credentials, log } = this.options;
    return {
      ask: async (request, signal) => {
        if (this.declinedCredentials.has(description)) return undefined;
        const answer = await credentials.ask(request, signal);
        if (answer === undefined && !signal.aborted) {
          this.declinedCredentials.add(description);
          log.info(`${description}: not asked again for passwords or passphrases; run "eBPF: Reconnect" to be asked again`);
        }
        return answer;
      },
      accepted: (request) => credentials.accepted?.(request),
      refused: (request) => credentials.refused?.(request),
    };
  }

  private async confirmUnknownHostKey(description: string, info: HostKeyInfo): Promise<boolean> {
    if (this.declinedHostKeys.has(description)) return false;
    const trust = 'Trust and Connect';
    const answer = await vscode.window.showWarningMessage(
      `The authenticity of host ${info.host} (port ${info.port}) can't be established.`,
      {
        modal: true,
        detail:
          `Its ${info.keyType} key fingerprint is ${info.fingerprint}.\n\n` +
          `Connect only if this is the fingerprint of the host (on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). ` +
          `Trusting it adds the key to ${info.knownHostsFile}.`,
      },
      trust,
    );
    if (answer === trust) return true;
    this.declinedHostKeys.add(description);
    this.options.log.info(`${description}: host key ${info.fingerprint} not trusted; run "eBPF: Reconnect" to review it again`);
    return false;
  }

  /** A changed host key may be an attack: say so once, loudly, whatever started the connection. */
  private reportChangedHostKey(description: string, error: AgentSessionError): void {
    if (this.reportedChangedKeys.has(description)) return;
    this.reportedChangedKeys.add(description);
    const key = error.hostKey;
    const detail = key ? ` It now offers ${key.keyType} key ${key.fingerprint}; the key on record is in ${key.knownHostsFile}.` : '';
    void vscode.window.showErrorMessage(
      `eBPF Studio refused to connect to ${description}: its host key has changed.${detail} ` +
        `Someone could be intercepting the connection. If the host was reinstalled, remove its old key from the known_hosts file and reconnect.`,
    );
  }
}

function readTarget(named: readonly NamedTarget[]): { setting: string; resolved: ResolvedTarget } {
  const setting = readSettings().target;
  return { setting, resolved: resolveTarget(setting, named) };
}
