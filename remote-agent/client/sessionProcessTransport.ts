/**
 * A Transport whose SSH connection is the per-user session process's (cli/sessionProcess.ts): every
 * editor window of the user, and the CLI's runs, ride one connection per target instead of logging
 * in each. Each command is a socket of its own to the session process (`exec`), its output coming
 * back in frames; one more socket (`connect`) watches the connection and says when it is lost, so
 * `lost` fires as a direct connection's would and every command's exit is a link failure. Over it
 * the window deploys, starts and resumes its own agent exactly as over a direct connection.
 *
 * The session process never asks for secrets: a target that wants a passphrase or password, or
 * whose host key is not known yet (a person must decide), is handed back — `direct` — and the
 * window connects by itself, asking its person.
 */
import type * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { abortReason } from './abortReason';
import { AgentSessionError } from './sessionError';
import { connectAgain, reachSessionProcess, type ConnectDirectly, type SessionProcessLauncher } from './sessionProcessLink';
import { exchangeFirstLines, FrameKind, FrameReader, type ConnectionRequest, type LostLine, type SessionReply } from './sessionProcessWire';
import { runToCompletion, writeFileWithCat, type CommandResult, type ExitStatus, type RunningProcess, type Transport } from './transport';

const MAX_REPLY_LINE = 64 * 1024;

/**
 * The connection of `request` as the session process keeps it (started if need be), or why this
 * client must connect directly. A failure to connect that a direct connection would meet too (the
 * host does not answer, a changed host key, a refused login) is thrown, as connecting would throw it.
 */
export async function connectThroughSessionProcess(launcher: SessionProcessLauncher, request: ConnectionRequest, signal?: AbortSignal): Promise<Transport | ConnectDirectly> {
  if (signal?.aborted) throw abortReason(signal);
  const reached = await reachSessionProcess(launcher);
  if ('direct' in reached) return reached;
  const { socket, build } = reached;
  const onAbort = (): void => {
    socket.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let reply: SessionReply;
  let rest: Buffer;
  try {
    ({ reply, rest } = await exchangeFirstLines(socket, { build, connect: request }, MAX_REPLY_LINE));
  } catch (error) {
    socket.destroy();
    if (signal?.aborted) throw abortReason(signal);
    return { direct: true, notice: `the session process failed to answer (${(error as Error).message}); connecting directly` };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if ('connected' in reply) return new SessionProcessTransport(reply.connected.description, socket, rest, build, reply.connected.connection);
  socket.destroy();
  if ('needsPrompt' in reply) return { direct: true, notice: `${reply.needsPrompt} is needed, and the session process never asks for secrets; connecting directly` };
  if ('refused' in reply) return { direct: true, notice: `${reply.refused}; connecting directly` };
  if ('error' in reply) {
    if (reply.error.kind === 'unknown-host-key') return { direct: true, notice: 'the host key is not known yet, and only you can decide to trust it; connecting directly' };
    throw new AgentSessionError(reply.error.kind, reply.error.message);
  }
  return { direct: true, notice: 'the session process answered something unexpected; connecting directly' };
}

class SessionProcessTransport implements Transport {
  readonly lost: Promise<Error>;
  private lostReason: Error | undefined;
  private readonly commands = new Set<net.Socket>();
  private disposed = false;

  constructor(
    readonly description: string,
    private readonly watch: net.Socket,
    alreadyRead: Buffer,
    private readonly build: string,
    /** The session process's number for the connection, named by each command. */
    private readonly connection: number,
  ) {
    this.lost = new Promise<Error>((resolve) => {
      let said = alreadyRead.toString('utf8');
      watch.setEncoding('utf8');
      watch.on('data', (chunk: string) => {
        if (said.length < MAX_REPLY_LINE) said += chunk;
      });
      // Half-open sockets: the session process's end (its lost line, or its death) is the watch's end.
      watch.once('end', () => watch.end());
      watch.on('error', () => {
        // Shows as the close below, with what the session process said before it, if anything.
      });
      watch.once('close', () => {
        // The session process's own words for its link ("connection to … lost: …") when it said any.
        let message = `connection to ${description} lost: the session process stopped`;
        const line = said.split('\n')[0] ?? '';
        if (this.disposed) message = `connection to ${description} lost: the session was closed`;
        else if (line !== '') {
          try {
            message = String((JSON.parse(line) as LostLine).lost);
          } catch {
            message = `connection to ${description} lost: the session process said something unexpected`;
          }
        }
        this.lostReason = new AgentSessionError('closed', message);
        for (const command of this.commands) command.destroy();
        resolve(this.lostReason);
      });
      watch.resume();
    });
  }

  async run(command: string, options: { signal?: AbortSignal; stdin?: string } = {}): Promise<CommandResult> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    return runToCompletion(await this.spawn(command), options);
  }

  async spawn(command: string): Promise<RunningProcess> {
    const refuse = (why: string): AgentSessionError => new AgentSessionError('closed', `cannot run a command on ${this.description}: ${why}`);
    if (this.lostReason !== undefined) throw refuse(this.lostReason.message);
    let socket: net.Socket;
    try {
      socket = await connectAgain(this.build);
    } catch (error) {
      throw refuse((error as Error).message);
    }
    this.commands.add(socket);
    socket.once('close', () => this.commands.delete(socket));
    socket.on('error', () => {
      // A command whose socket broke ends without an exit status: `exited` says so.
    });
    let reply: SessionReply;
    let rest: Buffer;
    try {
      ({ reply, rest } = await exchangeFirstLines(socket, { build: this.build, exec: { connection: this.connection, command } }, MAX_REPLY_LINE));
    } catch (error) {
      socket.destroy();
      throw refuse((error as Error).message);
    }
    if (!('started' in reply)) {
      socket.destroy();
      throw refuse('error' in reply ? reply.error.message : 'the session process did not start it');
    }
    return commandOverSocket(socket, rest, () => this.lostReason);
  }

  writeFile(path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    return writeFileWithCat(this, path, content, mode, signal);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const command of this.commands) command.destroy();
    if (!this.watch.destroyed) {
      const closed = new Promise<void>((resolve) => this.watch.once('close', () => resolve()));
      this.watch.end();
      await closed;
    }
  }
}

/** The command's streams, fed from the socket's frames; its stdin is the socket's sending side. */
function commandOverSocket(socket: net.Socket, alreadyRead: Buffer, lostReason: () => Error | undefined): RunningProcess {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const reader = new FrameReader();
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    socket.once('close', () => {
      stdout.end();
      stderr.end();
      const failure = lostReason()?.message ?? (reader.buffered > 0 ? 'its output was cut off' : 'the session process stopped before it ended');
      resolve(status ?? { exitCode: null, signal: null, failure });
    });
  });
  const take = (chunk: Buffer): void => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (error) {
      status = { exitCode: null, signal: null, failure: `the session process broke its framing (${(error as Error).message})` };
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.kind === FrameKind.Exit) status = frame.status;
      else {
        const into = frame.kind === FrameKind.Stdout ? stdout : stderr;
        if (!into.write(frame.data)) {
          socket.pause();
          into.once('drain', () => socket.resume());
        }
      }
    }
  };
  if (alreadyRead.length > 0) take(alreadyRead);
  socket.on('data', take);
  // The session process ends its side after the exit frame; ours stays open for stdin until then.
  socket.on('end', () => socket.destroy());
  socket.resume();
  return {
    stdin: socket,
    stdout,
    stderr,
    exited,
    kill: () => {
      socket.destroy();
    },
  };
}
