/**
 * Typed JSON-RPC client of the agent (remote-agent/protocol.ts) over its stdin/stdout.
 *
 * Beyond what vscode-jsonrpc gives, it guarantees one failure story: when the agent's output ends or
 * breaks (process died, SSH link lost), every pending request rejects at once with ONE reason, the
 * `closed` promise resolves with it, and every later call rejects with it: nothing ever hangs.
 * Cancelling through an AbortSignal sends `$/cancelRequest` and rejects the call at once.
 */
import type { Readable, Writable } from 'node:stream';
import { CancellationTokenSource, ResponseError, type Disposable, type Logger, type MessageConnection } from 'vscode-jsonrpc/node';
import {
  Method,
  type CompileParams,
  type CompileResult,
  type HelloParams,
  type HelloResult,
  type LoadParams,
  type LoadResult,
  type ReleaseParams,
  type ReleaseResult,
} from '../protocol';
import { abortReason } from './abortReason';
import { createLineMessageConnection } from './lineJsonRpc';

/** A JSON-RPC error answered by the agent; `code` is one of protocol.ts's ErrorCode values. */
export class AgentError extends Error {
  readonly code: number;
  readonly data?: unknown;

  constructor(message: string, code: number, data?: unknown) {
    super(message);
    this.name = 'AgentError';
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

export interface AgentClientOptions {
  /**
   * Turns the end of the agent's output (or a protocol error, given as `cause`) into the one reason
   * everything fails with — e.g. the process's exit status and stderr tail. Default: a generic message.
   */
  explainClose?: (cause: Error | undefined) => Error | Promise<Error>;
  /** Where vscode-jsonrpc's own complaints go (unexpected responses, unhandled notifications). */
  log?: (line: string) => void;
}

export class AgentClient {
  /** Resolves, never rejects, with the reason the client stopped working. */
  readonly closed: Promise<Error>;

  private readonly connection: MessageConnection;
  private readonly pending = new Set<(reason: Error) => void>();
  private readonly explainClose: (cause: Error | undefined) => Error | Promise<Error>;
  private resolveClosed!: (reason: Error) => void;
  /** Set as soon as the client starts closing; the reason may still be under computation. */
  private failure: Promise<Error> | undefined;

  constructor(input: Readable, output: Writable, options: AgentClientOptions = {}) {
    this.closed = new Promise<Error>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.explainClose = options.explainClose ?? ((cause) => new Error(cause ? `agent connection failed: ${cause.message}` : 'the agent closed its output'));
    const log = options.log;
    const logger: Logger = {
      error: (message) => log?.(`agent rpc: ${message}`),
      warn: (message) => log?.(`agent rpc: ${message}`),
      info: () => {},
      log: () => {},
    };
    this.connection = createLineMessageConnection(input, output, logger);
    this.connection.onClose(() => this.beginClose(undefined));
    this.connection.onError(([error]) => this.beginClose(error));
    this.connection.listen();
  }

  hello(params: HelloParams, signal?: AbortSignal): Promise<HelloResult> {
    return this.request<HelloResult>(Method.hello, params, signal);
  }

  compile(params: CompileParams, signal?: AbortSignal): Promise<CompileResult> {
    return this.request<CompileResult>(Method.compile, params, signal);
  }

  load(params: LoadParams, signal?: AbortSignal): Promise<LoadResult> {
    return this.request<LoadResult>(Method.load, params, signal);
  }

  release(params: ReleaseParams, signal?: AbortSignal): Promise<ReleaseResult> {
    return this.request<ReleaseResult>(Method.release, params, signal);
  }

  /** Any request of the protocol, for methods added after the typed ones above. */
  request<R>(method: string, params: object, signal?: AbortSignal): Promise<R> {
    if (this.failure) {
      const failure = this.failure;
      return failure.then((reason) => Promise.reject(reason));
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    return new Promise<R>((resolve, reject) => {
      const tokenSource = new CancellationTokenSource();
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        this.pending.delete(failPending);
        signal?.removeEventListener('abort', onAbort);
        tokenSource.dispose();
        return true;
      };
      const failPending = (reason: Error): void => {
        if (settle()) reject(reason);
      };
      const onAbort = (): void => {
        // Cancelling the token makes vscode-jsonrpc send `$/cancelRequest` with this request's id;
        // the agent's late RequestCancelled answer is then ignored because we are already settled.
        tokenSource.cancel();
        if (settle()) reject(abortReason(signal!));
      };
      this.pending.add(failPending);
      signal?.addEventListener('abort', onAbort, { once: true });

      this.connection.sendRequest<R>(method, params, tokenSource.token).then(
        (result) => {
          if (settle()) resolve(result);
        },
        (error: unknown) => {
          if (settled) return;
          if (error instanceof ResponseError) {
            settle();
            reject(new AgentError(error.message, error.code, error.data));
            return;
          }
          // A transport-level failure (the writer broke, the connection got disposed): the close
          // path owns the reason, so wait for it instead of leaking vscode-jsonrpc's wording.
          this.beginClose(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Handler for an agent → client notification (for protocol additions such as event streams). */
  onNotification(method: string, handler: (params: unknown) => void): Disposable {
    return this.connection.onNotification(method, handler);
  }

  /** Fails every pending and later request with `reason` (first reason wins) and drops the connection. */
  close(reason: Error): void {
    this.finishClose(Promise.resolve(reason));
  }

  /** Ends the agent's input (the agent exits on EOF) and closes the client with `reason`. */
  dispose(reason: Error = new Error('the agent session was closed')): void {
    this.close(reason);
  }

  private beginClose(cause: Error | undefined): void {
    if (this.failure) return;
    this.finishClose(
      Promise.resolve()
        .then(() => this.explainClose(cause))
        .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    );
  }

  private finishClose(reason: Promise<Error>): void {
    if (this.failure) return;
    this.failure = reason;
    void reason.then((error) => {
      for (const failPending of [...this.pending]) failPending(error);
      this.resolveClosed(error);
      this.connection.end();
      this.connection.dispose();
    });
  }
}
