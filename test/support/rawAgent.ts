/**
 * The C agent's AddressSanitizer/UBSan build, driven with raw JSON lines: what the agent tests
 * write is exactly what goes over the wire, malformed lines included. Replies to request() are
 * matched by id; other replies (to send() or sendLine(), and those with a null id) queue in order
 * for nextReply(); notifications are kept apart for waitFor().
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..');
export const agentDir = join(repo, 'remote-agent', 'agent');
export const programFixtures = join(repo, 'test', 'fixtures', 'programs');
export const agentBinary = join(agentDir, 'build', 'ebpf-agent-asan');

export interface RpcMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: any;
  result?: any;
  error?: { code: number; message: string; data?: any };
}

/** Builds build/ebpf-agent-asan, with the protocol header regenerated first (a no-op when both are current). */
export function buildSanitizedAgent(): void {
  execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts', 'generate-agent-protocol.ts')], { stdio: 'inherit' });
  execFileSync('make', ['-s', '-C', agentDir, 'SANITIZE=1'], { stdio: 'inherit' });
}

export function assertNoSanitizerReport(stderr: string): void {
  assert.doesNotMatch(stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, stderr);
}

/** Why this machine cannot run the agent against a real kernel (root, BTF), or null when it can. */
export function agentPrerequisiteMissing(): string | null {
  if (process.getuid?.() !== 0) return 'loading BPF programs needs root';
  try {
    accessSync('/sys/kernel/btf/vmlinux', constants.R_OK);
  } catch {
    return 'the kernel has no BTF at /sys/kernel/btf/vmlinux';
  }
  return null;
}

/**
 * The `test` to declare agent tests with: skipped where `missing` says this machine cannot run
 * them — except in CI, where a failing test says why instead.
 */
export function agentTestsGate(what: string, missing: string | null): typeof test.skip {
  if (missing && process.env.CI === 'true') test(`${what} prerequisites`, () => assert.fail(`${what} cannot run here: ${missing}`));
  return missing ? test.skip : test;
}

export class RawAgent {
  readonly child: ChildProcessWithoutNullStreams;
  /** The agent's TMPDIR, where it makes its work dirs. */
  readonly tmpDir: string;
  readonly cacheDir: string;
  readonly exited: Promise<number | null>;
  stderr = '';
  notifications: RpcMessage[] = [];
  private readonly ownsTmpDir: boolean;
  private readonly pending = new Map<number, (m: RpcMessage) => void>();
  private readonly replies: RpcMessage[] = [];
  private readonly replyWaiters: Array<(m: RpcMessage) => void> = [];
  private readonly notificationWaiters: Array<() => void> = [];
  private nextId = 1;

  /**
   * `scratchDir`: TMPDIR and parent of the cache dir (the caller removes it); else private dirs that
   * cleanup() removes. `cacheDir`: an earlier agent's cache dir, to start with what it kept.
   * `runAs`: a command that runs the agent, e.g. `setpriv --reuid=65534 …` for another user.
   */
  constructor(opts: { scratchDir?: string; cacheDir?: string; env?: NodeJS.ProcessEnv; runAs?: string[] } = {}) {
    this.ownsTmpDir = opts.scratchDir === undefined;
    this.tmpDir = opts.scratchDir ?? mkdtempSync(join(tmpdir(), 'agent-test-tmp-'));
    this.cacheDir = opts.cacheDir ?? mkdtempSync(join(opts.scratchDir ?? tmpdir(), 'agent-test-cache-'));
    const [command, ...args] = [...(opts.runAs ?? []), agentBinary, '--cache-dir', this.cacheDir];
    this.child = spawn(command, args, {
      env: { ...(opts.env ?? process.env), TMPDIR: this.tmpDir, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => this.receive(JSON.parse(line) as RpcMessage));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  private receive(message: RpcMessage): void {
    if (message.id === undefined) {
      this.notifications.push(message);
      for (const wake of this.notificationWaiters.splice(0)) wake();
      return;
    }
    const awaiting = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (awaiting) {
      this.pending.delete(message.id as number);
      awaiting(message);
      return;
    }
    const waiter = this.replyWaiters.shift();
    if (waiter) waiter(message);
    else this.replies.push(message);
  }

  sendLine(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  /** Sends a request whose reply nextReply() returns, in order. */
  send(method: string, params: unknown = {}): number {
    const id = this.nextId++;
    this.sendLine(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return id;
  }

  nextReply(): Promise<RpcMessage> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.replyWaiters.push(resolve));
  }

  request(method: string, params: unknown = {}): Promise<RpcMessage> {
    const id = this.nextId++;
    const reply = new Promise<RpcMessage>((resolve) => this.pending.set(id, resolve));
    this.sendLine(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return reply;
  }

  /** The result of a request that must succeed. */
  async ok(method: string, params: unknown = {}): Promise<any> {
    const reply = await this.request(method, params);
    assert.equal(reply.error, undefined, `${method}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  }

  /** Waits until a notification satisfies `match` (checking those already received first). */
  async waitFor(match: (m: RpcMessage) => boolean, timeoutMs = 5000): Promise<RpcMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.notifications.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching notification within ${timeoutMs} ms; got ${this.notifications.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.notificationWaiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /**
   * The link drops: the agent's stdout is no longer read (its writes fail) and its stdin ends, as
   * when an SSH channel goes; what it had written but this end had not read is lost.
   */
  dropLink(): void {
    this.child.stdout.destroy();
    this.child.stdin.end();
  }

  /** Ends stdin, as a client that goes away does, and waits for the exit status. */
  close(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  cleanup(): void {
    if (this.ownsTmpDir) rmSync(this.tmpDir, { recursive: true, force: true });
    rmSync(this.cacheDir, { recursive: true, force: true });
  }
}
