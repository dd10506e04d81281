/**
 * Finding the per-user session process (cli/sessionProcess.ts), or starting it detached, for the
 * CLI and the editor alike (sessionProcessAgent.ts). Whenever it cannot
 * serve — its directory is not private, its socket is stale (removed, and a new process started for
 * the next client), it does not start — the caller is told why and connects directly: it never
 * waits on a session process that is not there.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { buildId, ensurePrivateDirectory, sessionDirectory, sessionSocketPath } from './sessionProcessDirectory';

/** EBPF_STUDIO_SESSION=off: nothing uses the session process (the CLI's --no-session, for every client). */
export const SESSION_PROCESS_ENV = 'EBPF_STUDIO_SESSION';
/** How long a session process just started may take to listen. */
const START_TIMEOUT_MS = 10_000;

/** How to start `ebpf-studio session`: the CLI's entry file run by a Node. */
export interface SessionProcessLauncher {
  /** out/cli.js (its `cli-build-id` beside it names the build), or cli/main.ts under tsx. */
  cliEntry: string;
  /** A Node (the editor's Electron with ELECTRON_RUN_AS_NODE in `env`). */
  execPath: string;
  execArgv: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** --idle-seconds of a process started now (default: its own). */
  idleSeconds?: string;
}

/** The client connects by itself; `notice` says why, in one line. */
export interface ConnectDirectly {
  direct: true;
  notice: string;
}

/** A socket to the session process of the launcher's build, and that build's id for requests. */
export interface SessionProcessSocket {
  socket: net.Socket;
  build: string;
}

export async function reachSessionProcess(launcher: SessionProcessLauncher): Promise<SessionProcessSocket | ConnectDirectly> {
  // Its socket is a Unix socket in a directory only the user can reach; Windows has neither here.
  if (process.platform === 'win32') return { direct: true, notice: 'the session process runs on Linux and macOS only; connecting directly' };
  const dir = sessionDirectory();
  try {
    ensurePrivateDirectory(dir);
  } catch (error) {
    return { direct: true, notice: `not using the session process: ${(error as Error).message}` };
  }
  let build: string;
  try {
    build = buildId(launcher.cliEntry);
  } catch (error) {
    return { direct: true, notice: `not using the session process: ${(error as Error).message}` };
  }
  const socketPath = sessionSocketPath(dir, build);
  let socket = await connectTo(socketPath);
  if (socket === 'refused') {
    // A socket nobody listens on: its process died. This client goes direct; the next finds a new one.
    fs.rmSync(socketPath, { force: true });
    startSessionProcess(socketPath, launcher).catch(() => undefined);
    return { direct: true, notice: `the session process had stopped (its socket ${socketPath} was stale and is removed); connecting directly this time` };
  }
  if (socket === 'absent') {
    try {
      await startSessionProcess(socketPath, launcher);
    } catch (error) {
      return { direct: true, notice: `could not start the session process (${(error as Error).message}); connecting directly` };
    }
    socket = await connectTo(socketPath);
    if (typeof socket === 'string') return { direct: true, notice: `the session process just started does not answer on ${socketPath}; connecting directly` };
  }
  return { socket, build };
}

/**
 * A connected socket, or why not: no socket file ('absent'), or a file no process listens on
 * ('refused'). Half-open allowed: a client ends its requests with a half-close while answers still flow.
 */
export function connectTo(socketPath: string): Promise<net.Socket | 'absent' | 'refused'> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ENOENT' ? 'absent' : 'refused'));
  });
}

/**
 * Starts `ebpf-studio session` detached (it outlives its starter), its stderr appended to a log
 * beside the socket, and waits for its 'ready' line.
 */
function startSessionProcess(socketPath: string, launcher: SessionProcessLauncher): Promise<void> {
  const idle = launcher.idleSeconds;
  const args = [...launcher.execArgv, launcher.cliEntry, 'session', '--socket', socketPath, ...(idle !== undefined && idle !== '' ? ['--idle-seconds', idle] : [])];
  const logPath = socketPath.replace(/\.sock$/, '.log');
  const logFile = fs.openSync(logPath, 'a', 0o600);
  const child = spawn(launcher.execPath, args, { detached: true, stdio: ['ignore', 'pipe', logFile], env: { ...process.env, ...launcher.env } });
  fs.closeSync(logFile);
  return new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => finish(new Error(`it did not listen within ${START_TIMEOUT_MS / 1000} s; see ${path.basename(logPath)}`)), START_TIMEOUT_MS);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.destroy();
      child.removeAllListeners('exit');
      child.unref();
      if (error) reject(error);
      else resolve();
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('ready\n')) finish();
    });
    child.once('error', (error) => finish(error));
    child.once('exit', (code, sig) => finish(new Error(`it exited (${sig ?? `status ${code}`}) before listening; see ${logPath}`)));
  });
}
