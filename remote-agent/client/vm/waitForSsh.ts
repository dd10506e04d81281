/**
 * Waiting for a booting guest: try to log in on the forwarded port with the VM's key, checking its
 * host key, until `uname -r` answers (QEMU accepts connections on the port before the guest
 * listens, then drops them, so a dropped connection means "not yet"). A QEMU that exits, a timeout or an
 * abort ends the wait; the errors carry the tail of the console log, where the reason is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { abortReason } from '../abortReason';
import { AgentSessionError } from '../sessionError';
import { READY_MARKER } from './guestInit';
import { tailOf } from '../transport';

export interface WaitForSshOptions {
  port: number;
  identityFile: string;
  knownHostsFile: string;
  sshConfigFile: string;
  consoleLog: string;
  /** False once QEMU is gone. */
  isAlive: () => boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface GuestReady {
  kernelRelease: string;
  /** From the start of the wait to the first command's answer. */
  readyMs: number;
  /** One `uname -r` round trip on an open connection. */
  commandMs: number;
}

export function consoleTail(consoleLog: string, lines = 25): string {
  if (!existsSync(consoleLog)) return '(no console output)';
  const tail = tailOf(readFileSync(consoleLog, 'utf8').replace(/\r/g, ''), lines, 4000);
  return tail === '' ? '(no console output)' : tail;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function waitForGuestSsh(o: WaitForSshOptions): Promise<GuestReady> {
  // Loaded here, not at the top: the CLI's check reaches this module and needs ssh2 only for a VM.
  const { connectSsh } = await import('../sshTransport');
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  let lastError = 'no answer yet';
  for (;;) {
    if (o.signal?.aborted) throw abortReason(o.signal);
    if (!o.isAlive()) throw new Error(`The VM's QEMU exited while booting. Console (${o.consoleLog}) ends with:\n${consoleTail(o.consoleLog)}`);
    if (Date.now() > deadline) {
      const tail = consoleTail(o.consoleLog);
      const stage = tail.includes(READY_MARKER) ? 'The guest started sshd, but it' : 'The VM';
      throw new Error(
        `${stage} did not answer SSH on 127.0.0.1:${o.port} within ${Math.round(o.timeoutMs / 1000)} s (${lastError}). Console (${o.consoleLog}) ends with:\n${tail}`,
      );
    }
    try {
      const transport = await connectSsh({
        host: '127.0.0.1',
        port: o.port,
        user: 'root',
        identityFile: o.identityFile,
        knownHostsFile: o.knownHostsFile,
        sshConfigFile: o.sshConfigFile,
        ...(o.signal && { signal: o.signal }),
      });
      try {
        const first = await transport.run('uname -r', { ...(o.signal && { signal: o.signal }) });
        const readyMs = Date.now() - started;
        if (first.exitCode !== 0) throw new Error(`'uname -r' in the guest failed: ${first.stderr.trim()}`);
        const t = Date.now();
        await transport.run('true', { ...(o.signal && { signal: o.signal }) });
        return { kernelRelease: first.stdout.trim(), readyMs, commandMs: Date.now() - t };
      } finally {
        await transport.dispose();
      }
    } catch (error) {
      if (o.signal?.aborted) throw abortReason(o.signal);
      // A wrong host key or a refused key is not going to change by waiting.
      if (error instanceof AgentSessionError && error.kind !== 'connect') throw error;
      lastError = (error as Error).message;
      o.log?.(`SSH to 127.0.0.1:${o.port} not up yet: ${lastError}`);
    }
    await sleep(300, o.signal);
  }
}
