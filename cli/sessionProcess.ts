/**
 * `ebpf-studio session --socket PATH [--idle-seconds N]` (internal): the per-user session process
 * that keeps SSH connections and agents warm for the user's CLI runs and editor windows, as
 * OpenSSH's ControlPersist keeps a master connection. The first client starts it detached
 * (remote-agent/client/sessionProcessLink.ts) and it exits after N seconds (default 600) with no
 * client using it.
 *
 * One connection per target and connection options; on it, one agent per way of starting it (sudo,
 * work directory), shared by every window and run (sharedAgent.ts): each client its own place on it,
 * after the reply line the socket is its JSON-RPC stream. A window's place (`share`) is kept for its
 * grace period when its socket closes, and the window comes back to it with its ticket; a run's
 * (`open`) is released when it leaves, so the next run finds nothing of it. When the link drops, the
 * agent is resumed over a new connection within its grace period. The process never asks for a
 * secret: a target that wants a passphrase or password is answered `needsPrompt`, and the client
 * connects by itself.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { connectToTarget, openAgentSession, type AgentSession, type OpenSessionOptions } from '../remote-agent/client/agentSession';
import { describeCredential, type CredentialPrompter } from '../remote-agent/client/credentialPrompt';
import { AgentSessionError } from '../remote-agent/client/sessionError';
import type { Transport } from '../remote-agent/client/transport';
import type { ResumeTicket } from '../remote-agent/protocol';
import { agentBinaryDir, agentSourceDir } from './cliSession';
import { buildId, ensurePrivateDirectory } from '../remote-agent/client/sessionProcessDirectory';
import { readFirstLine, type AgentRequest, type ConnectionRequest, type SessionReply, type SessionRequest, type SessionStatus, type SharedResumed, type ShareRequest } from '../remote-agent/client/sessionProcessWire';
import { SharedAgent } from './sharedAgent';

export const DEFAULT_IDLE_SECONDS = 600;
/**
 * The grace period of an agent a CLI run starts: the editor's default `ebpfStudio.reconnectGraceSeconds`,
 * so a window with the default settings later shares the agent the run started.
 */
const RUN_STARTED_AGENT_GRACE_SECONDS = 120;
const MAX_REQUEST_LINE = 64 * 1024;
/** How long a target known to want a secret is answered `needsPrompt` without connecting again. */
const NEEDS_PROMPT_MEMORY_MS = 5 * 60_000;

export async function sessionCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { socket: { type: 'string' }, 'idle-seconds': { type: 'string' } } });
  if (values.socket === undefined) throw new Error('session needs --socket PATH');
  const idleSeconds = values['idle-seconds'] === undefined ? DEFAULT_IDLE_SECONDS : Number(values['idle-seconds']);
  if (!Number.isFinite(idleSeconds) || idleSeconds <= 0) throw new Error(`--idle-seconds must be a positive number, not '${values['idle-seconds']}'`);
  ensurePrivateDirectory(path.dirname(values.socket));
  const server = new SessionServer(values.socket, idleSeconds * 1000);
  return server.run();
}

/** The agent every window of the user shares on a target (sharedAgent.ts), while it is started and resumed. */
interface SharedEntry {
  serial: number;
  /** The connection and agent start keys: a CLI run takes a place on any agent of these, whatever its grace period. */
  startedAs: string;
  /** The connection it was started on (what a target asked of a person is noted there). */
  kept: KeptConnection;
  /** Rejects when it could not be started; then forgotten, and the next window tries again. */
  ready: Promise<SharedAgent>;
  /** Set once ready. */
  agent?: SharedAgent;
}

/** A resume of a shared agent waits this long before its first try, then doubles up to the last. */
const SHARED_RESUME_DELAYS_MS = [500, 1000, 2000, 4000, 5000];

interface KeptConnection {
  key: string;
  transport: Promise<Transport>;
  /** What a connection of these options needed from a person, when it did. */
  neededPrompt?: string;
}

class SessionServer {
  private readonly connections = new Map<string, KeptConnection>();
  /** By connection key, agent start key and grace period. */
  private readonly sharedAgents = new Map<string, SharedEntry>();
  /** Connection keys whose target asked for a secret, and what it asked for: those runs go direct. */
  private readonly neededPrompts = new Map<string, { what: string; until: number }>();
  private readonly build = buildId();
  /** Sockets of clients being served (windows and runs): the process idles out only at 0. */
  private openClients = 0;
  /** The sessions of the shared agents now, disposed when the process stops. */
  private readonly sharedSessions = new Set<AgentSession>();
  private idleTimer: NodeJS.Timeout | undefined;
  private nextSerial = 1;
  private server: net.Server | undefined;
  private stopping = false;
  private finished!: (status: number) => void;

  constructor(
    private readonly socketPath: string,
    private readonly idleMs: number,
  ) {}

  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.finished = resolve;
    });
    // The socket is created 0600 and every file of ours is the user's alone.
    process.umask(0o077);
    const listening = await this.listen();
    if (!listening) {
      // Another session process of this build won the race to the socket: it serves the CLI.
      process.stdout.write('ready\n');
      return 0;
    }
    process.stdout.on('error', () => {
      // The CLI that started us stopped reading after 'ready'; nothing else is written there.
    });
    process.stdout.write('ready\n');
    process.once('SIGTERM', () => void this.stop('terminated'));
    process.once('SIGINT', () => void this.stop('interrupted'));
    this.armIdleTimer();
    return done;
  }

  /** Listens on the socket; false when a live session process already does. A stale socket is removed. */
  private async listen(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      // Half-open: a client ends its requests with a half-close while answers still flow.
      const server = net.createServer({ allowHalfOpen: true }, (socket) => void this.serve(socket));
      const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        server.once('error', resolve);
        server.listen(this.socketPath, () => resolve(undefined));
      });
      if (error === undefined) {
        this.server = server;
        return true;
      }
      if (error.code !== 'EADDRINUSE') throw new Error(`cannot listen on ${this.socketPath}: ${error.message}`);
      if (await answers(this.socketPath)) return false;
      fs.rmSync(this.socketPath, { force: true });
    }
    throw new Error(`cannot listen on ${this.socketPath}: it stays in use`);
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.openClients === 0 && !this.stopping) this.idleTimer = setTimeout(() => void this.stop('idle'), this.idleMs);
  }

  private async stop(why: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    log(`stopping (${why})`);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.server?.close();
    // Only our own socket: a newer process may have replaced a socket it thought stale.
    fs.rmSync(this.socketPath, { force: true });
    const shared = [...this.sharedAgents.values()];
    this.sharedAgents.clear();
    await Promise.all(shared.map((entry) => entry.ready.then((agent) => agent.end(new Error(`the session process stopped (${why})`)), () => undefined)));
    await Promise.all([...this.sharedSessions].map((session) => session.dispose()));
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((kept) => kept.transport.then((t) => t.dispose(), () => undefined)));
    this.finished(0);
  }

  private async serve(socket: net.Socket): Promise<void> {
    this.openClients++;
    this.armIdleTimer();
    socket.on('error', () => {
      // A client that went away shows as the socket's close, where its place is kept or released.
    });
    try {
      const { line, rest } = await readFirstLine(socket, MAX_REQUEST_LINE);
      const request = JSON.parse(line) as SessionRequest;
      if (request.build !== this.build) {
        reply(socket, { refused: 'the session process belongs to another build of ebpf-studio' });
        socket.end();
        return;
      }
      if (request.status) {
        reply(socket, { status: this.status() });
        socket.end();
        return;
      }
      if (request.share !== undefined) return await this.serveShare(socket, request.share, rest, 'window');
      if (request.open !== undefined) return await this.serveShare(socket, { ...request.open, graceSeconds: 0 }, rest, 'run');
      throw new Error('the request asks for nothing');
    } catch (error) {
      log(`a client failed: ${(error as Error).message}`);
      if (!socket.destroyed) socket.destroy();
    } finally {
      this.openClients--;
      this.armIdleTimer();
    }
  }

  private status(): SessionStatus {
    // An agent still starting serves no one yet.
    const shared = [...this.sharedAgents.values()].map((entry) => ({ serial: entry.serial, windows: entry.agent?.windows ?? 0 }));
    return { connections: this.connections.size, shared };
  }

  /**
   * What a client is told when the connection, or an agent on it, failed; a target that asked for a
   * secret is remembered, so the next runs go direct at once.
   */
  private failureReply(kept: KeptConnection, error: unknown): SessionReply {
    if (kept.neededPrompt !== undefined) {
      this.neededPrompts.set(kept.key, { what: kept.neededPrompt, until: Date.now() + NEEDS_PROMPT_MEMORY_MS });
      return { needsPrompt: kept.neededPrompt };
    }
    if (error instanceof AgentSessionError) return { error: { kind: error.kind, message: error.message } };
    throw error;
  }

  /** What a connection of this key asked a person for lately, if it did: such clients go direct at once. */
  private rememberedPrompt(key: string): string | undefined {
    const needed = this.neededPrompts.get(key);
    return needed !== undefined && needed.until > Date.now() ? needed.what : undefined;
  }

  /** The kept connection of these options, connecting it when there is none (a failed one is forgotten). */
  private connectionFor(key: string, request: ConnectionRequest): KeptConnection {
    const kept = this.connections.get(key);
    if (kept !== undefined) return kept;
    const made = this.connect(key, request);
    this.connections.set(key, made);
    void made.transport.catch(() => {
      if (this.connections.get(key) === made) this.connections.delete(key);
    });
    return made;
  }

  /**
   * `share` (an editor window) and `open` (a CLI run): the target's shared agent, started for the
   * first client; the socket is then the client's JSON-RPC stream to it (a new place, or the one a
   * window's ticket names).
   */
  private async serveShare(socket: net.Socket, request: ShareRequest, alreadyRead: Buffer, client: 'window' | 'run'): Promise<void> {
    const key = connectionKey(request);
    const needed = this.rememberedPrompt(key);
    if (needed !== undefined) {
      reply(socket, { needsPrompt: needed });
      socket.end();
      return;
    }
    const startedAs = JSON.stringify([key, agentStartKey(request)]);
    // A window's place is kept for its grace period, so it needs an agent of that grace period; a
    // run's place is released when it leaves, so any agent started the same way serves it.
    let entry = client === 'run' ? [...this.sharedAgents.values()].find((e) => e.startedAs === startedAs) : undefined;
    const agentGrace = client === 'run' ? RUN_STARTED_AGENT_GRACE_SECONDS : request.graceSeconds;
    const sharedKey = JSON.stringify([startedAs, agentGrace]);
    entry ??= this.sharedAgents.get(sharedKey);
    const reused = entry !== undefined;
    if (entry === undefined) {
      const kept = this.connectionFor(key, request);
      const made: SharedEntry = { serial: this.nextSerial++, startedAs, kept, ready: this.startShared(sharedKey, key, kept, { ...request, graceSeconds: agentGrace }) };
      entry = made;
      this.sharedAgents.set(sharedKey, made);
      void made.ready.catch(() => {
        if (this.sharedAgents.get(sharedKey) === made) this.sharedAgents.delete(sharedKey);
      });
    }
    let shared: SharedAgent;
    let place: number;
    let ticket: ResumeTicket | null;
    let resumed: SharedResumed | undefined;
    const gone = new AbortController();
    const onClose = (): void => gone.abort(new Error('the client left'));
    socket.once('close', onClose);
    try {
      try {
        shared = await entry.ready;
      } catch (error) {
        reply(socket, this.failureReply(entry.kept, error));
        socket.end();
        return;
      }
      if (request.resume !== undefined) {
        ({ place, resumed } = await shared.reclaim(request.resume.ticket, request.resume.streams, gone.signal));
        ticket = request.resume.ticket;
      } else {
        ({ place, ticket } = shared.newPlace(request.graceSeconds));
      }
    } catch (error) {
      if (!(error instanceof AgentSessionError)) throw error;
      reply(socket, { error: { kind: error.kind, message: error.message } });
      socket.end();
      return;
    } finally {
      socket.off('close', onClose);
    }
    reply(socket, { ok: { hello: shared.hello, description: shared.description, agent: entry.serial, reused, resume: ticket, ...(resumed !== undefined && { resumed }) } });
    if (alreadyRead.length > 0) socket.unshift(alreadyRead);
    // A client ends by half-closing its socket: ours ends with it.
    socket.once('end', () => socket.end());
    await shared.serve(place, socket);
  }

  /** Starts the shared agent of `sharedKey`, watched: a dropped link is resumed within its grace period. */
  private async startShared(sharedKey: string, key: string, kept: KeptConnection, request: ShareRequest): Promise<SharedAgent> {
    const session = await openAgentSession({ ...agentOptions(request, kept), transport: lend(await kept.transport), graceSeconds: request.graceSeconds });
    const shared = new SharedAgent(session.hello, session.description, request.graceSeconds, session.client, log);
    const entry = this.sharedAgents.get(sharedKey);
    if (entry !== undefined) entry.agent = shared;
    log(`shared agent on ${session.description} started`);
    this.watchShared(sharedKey, key, request, shared, session);
    return shared;
  }

  private watchShared(sharedKey: string, key: string, request: ShareRequest, shared: SharedAgent, session: AgentSession): void {
    this.sharedSessions.add(session);
    void session.closed.then((reason) => {
      this.sharedSessions.delete(session);
      if (this.stopping) return;
      const ticket = session.resumeTicket;
      if (ticket === null) return this.endShared(sharedKey, shared, reason);
      log(`shared agent on ${session.description}: link lost (${reason.message}); resuming within ${ticket.graceSeconds} s`);
      shared.linkLost(reason);
      void this.resumeShared(sharedKey, key, request, shared, ticket, Date.now() + ticket.graceSeconds * 1000);
    });
  }

  /** Tries to resume the shared agent over a new connection until its grace period ends. */
  private async resumeShared(sharedKey: string, key: string, request: ShareRequest, shared: SharedAgent, ticket: ResumeTicket, deadline: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, SHARED_RESUME_DELAYS_MS[Math.min(attempt, SHARED_RESUME_DELAYS_MS.length - 1)]));
      if (this.stopping) return;
      if (Date.now() > deadline) return this.endShared(sharedKey, shared, new Error(`the link to ${shared.description} stayed down longer than the ${ticket.graceSeconds} s grace period; what was attached there was released`));
      const kept = this.connectionFor(key, request);
      try {
        const session = await openAgentSession({
          ...agentOptions(request, kept),
          transport: lend(await kept.transport),
          graceSeconds: request.graceSeconds,
          resume: { ticket, streams: shared.streamsReceived(), listen: (client) => shared.listenTo(client) },
        });
        shared.linkResumed(session.client, session.resumed ?? { streams: [], objects: [] });
        this.watchShared(sharedKey, key, request, shared, session);
        return;
      } catch (error) {
        if (error instanceof AgentSessionError && (error.kind === 'session-expired' || error.kind === 'session-refused')) return this.endShared(sharedKey, shared, error);
        log(`shared agent on ${shared.description}: resume try ${attempt + 1} failed: ${(error as Error).message}`);
      }
    }
  }

  private endShared(sharedKey: string, shared: SharedAgent, reason: Error): void {
    log(`shared agent on ${shared.description} stopped: ${reason.message}`);
    shared.end(reason);
    // At once: a window asking right after this gets a new agent, not this one.
    if (this.sharedAgents.get(sharedKey)?.agent === shared) this.sharedAgents.delete(sharedKey);
  }

  private connect(key: string, request: ConnectionRequest): KeptConnection {
    const kept: KeptConnection = { key, transport: Promise.resolve(undefined as unknown as Transport) };
    kept.transport = connectToTarget({
      target: request.target,
      agentSourceDir: agentSourceDir(),
      ...(request.knownHostsFile !== undefined && { knownHostsFile: request.knownHostsFile }),
      ...(request.identityFile !== undefined && { identityFile: request.identityFile }),
      ...(request.sshClient !== undefined && { sshClient: request.sshClient }),
      ...(request.canPrompt && { credentials: noteWhatIsAsked(kept) }),
      log,
    });
    void kept.transport.then(
      (transport) =>
        transport.lost.then((reason) => {
          log(`connection to ${transport.description} lost: ${reason.message}`);
          if (this.connections.get(key) === kept) this.connections.delete(key);
        }),
      () => undefined,
    );
    return kept;
  }
}

/** The kept connection, lent to an agent's session, which must not close it. */
function lend(transport: Transport): Transport {
  return {
    description: transport.description,
    lost: transport.lost,
    run: (command, options) => transport.run(command, options),
    writeFile: (file, content, mode, signal) => transport.writeFile(file, content, mode, signal),
    spawn: (command) => transport.spawn(command),
    dispose: async () => {},
  };
}

/** How a direct session of this request would start its agent. */
function agentOptions(request: AgentRequest, kept: KeptConnection): OpenSessionOptions {
  return {
    target: request.target,
    agentSourceDir: agentSourceDir(),
    ...(agentBinaryDir() !== undefined && { agentBinaryDir: agentBinaryDir() }),
    ...(request.knownHostsFile !== undefined && { knownHostsFile: request.knownHostsFile }),
    ...(request.identityFile !== undefined && { identityFile: request.identityFile }),
    ...(request.sudo !== undefined && { sudo: request.sudo }),
    ...(request.workDirectory !== undefined && { workDirectory: request.workDirectory }),
    ...(request.chosenBy !== undefined && { chosenBy: request.chosenBy }),
    ...(request.canPrompt && { credentials: noteWhatIsAsked(kept) }),
    clientVersion: request.clientVersion,
    log,
  };
}

/**
 * A prompter that answers nothing but remembers what was asked: the session process holds no
 * secrets, so such a target is handed back to the CLI, which asks its person and connects itself.
 */
function noteWhatIsAsked(kept: KeptConnection): CredentialPrompter {
  return {
    ask: async (request) => {
      kept.neededPrompt ??= describeCredential(request);
      return undefined;
    },
  };
}

/**
 * The options a connection was made with, and the files its host-key and config checks read as
 * they are now: a known_hosts or ssh config changed since makes another connection, checked anew.
 */
function connectionKey(request: ConnectionRequest): string {
  const home = os.homedir();
  const files = [request.knownHostsFile ?? path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'config'), '/etc/ssh/ssh_config', '/etc/ssh/ssh_known_hosts'];
  if (request.identityFile !== undefined) files.push(request.identityFile);
  const stamps = files.map((file) => {
    try {
      const s = fs.statSync(file);
      return `${file}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return `${file}:absent`;
    }
  });
  const t = request.target;
  const target = t.kind === 'ssh' ? [t.kind, t.user ?? null, t.host, t.port ?? null] : t.kind === 'vm' ? [t.kind, t.name] : [t.kind];
  // An absent sshClient is 'auto': the same connection either way. Whether the client can ask a
  // person is not part of it: a connection that is up needed no one, whoever asked for it.
  const options = [request.knownHostsFile, request.identityFile, request.sshClient ?? 'auto'].map((o) => o ?? null);
  return JSON.stringify({ target, options, stamps });
}

/** How an agent is started over its connection: a client gets a place on an agent only if it would start it so. */
function agentStartKey(request: AgentRequest): string {
  // Absent sudo is 'auto'; `chosenBy` only names the setting in messages, so it is not part of it.
  return JSON.stringify([request.sudo ?? 'auto', request.workDirectory ?? null]);
}

function reply(socket: net.Socket, message: SessionReply): void {
  socket.write(`${JSON.stringify(message)}\n`);
}

/** Whether a process answers on the socket (a live session process, rather than a stale file). */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Lines for the session's log file (the CLI points stderr there); never secrets. */
function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}
