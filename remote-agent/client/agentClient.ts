/**
 * Typed JSON-RPC client of the agent (remote-agent/protocol.ts) over its stdin/stdout.
 *
 * Beyond what vscode-jsonrpc gives, it guarantees one failure story: when the agent's output ends or
 * breaks (process died, SSH link lost), every pending request rejects at once with ONE reason, the
 * `closed` promise resolves with it, and every later call rejects with it: nothing ever hangs.
 * Cancelling through an AbortSignal sends `$/cancelRequest` and rejects the call at once.
 *
 * Backpressure for event streams: vscode-jsonrpc queues every message it reads and handles one per
 * event-loop turn, so a slow `events` subscriber would let that queue grow without bound. The
 * client counts `events` notifications read but not yet handled and stops reading the agent's
 * output above PAUSE_AT_PENDING_BATCHES; the SSH window (or the pipe) then fills, the agent's
 * writes block, and the agent drops records and counts them, as the protocol intends.
 */
import type { Readable, Writable } from 'node:stream';
import {
  CancellationTokenSource,
  createMessageConnection,
  Message,
  ErrorCodes,
  ResponseError,
  type Disposable,
  type Logger,
  type MessageConnection,
  type MessageReader,
} from 'vscode-jsonrpc/node';
import {
  type AgentMethod,
  type AgentNotification,
  type AgentNotifications,
  type AgentRequester,
  type AgentListener,
  type EventsNotification,
  type ParamsOf,
  type ResultOf,
} from '../protocol';
import { abortReason } from './abortReason';
import { LineMessageReader, LineMessageWriter } from './lineJsonRpc';

/** The codes vscode-jsonrpc itself gives a request that never reached the agent or whose answer cannot come. */
const TRANSPORT_ERROR_CODES: ReadonlySet<number> = new Set([ErrorCodes.MessageWriteError, ErrorCodes.MessageReadError, ErrorCodes.PendingResponseRejected, ErrorCodes.ConnectionInactive]);

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
  /**
   * Handlers of notifications that are not the agent's own, from what stands between the client and
   * the agent (the session process's `sharedAgent/closing`). Called as each is read, so one sent
   * right before the stream ends is heard before the close is explained.
   */
  notifications?: Record<string, (params: unknown) => void>;
}

/** Unhandled `events` batches at which the client stops reading the agent, and at which it reads again. */
const PAUSE_AT_PENDING_BATCHES = 8;
const RESUME_AT_PENDING_BATCHES = 2;

export class AgentClient implements AgentRequester<AgentMethod>, AgentListener<AgentNotification> {
  /** Resolves, never rejects, with the reason the client stopped working. */
  readonly closed: Promise<Error>;

  private readonly connection: MessageConnection;
  private readonly pending = new Set<(reason: Error) => void>();
  private readonly explainClose: (cause: Error | undefined) => Error | Promise<Error>;
  private resolveClosed!: (reason: Error) => void;
  /** Set as soon as the client starts closing; the reason may still be under computation. */
  private failure: Promise<Error> | undefined;
  private readonly eventHandlers = new Set<(batch: EventsNotification) => void>();
  private pendingEventBatches = 0;
  private readingPaused = false;
  private readonly input: Readable;
  private readonly otherNotifications: Record<string, (params: unknown) => void>;

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
    this.input = input;
    this.otherNotifications = options.notifications ?? {};
    this.connection = createMessageConnection(this.pacedReader(new LineMessageReader(input)), new LineMessageWriter(output), logger);
    // Always handled here, so every batch counted as pending is also counted as handled.
    this.connection.onNotification('events', (batch: EventsNotification) => this.dispatchEvents(batch));
    this.connection.onClose(() => this.beginClose(undefined));
    this.connection.onError(([error]) => this.beginClose(error));
    this.connection.listen();
  }

  /**
   * A request of the protocol (protocol.ts's AgentRequests), typed by its method name. Aborting
   * `signal` sends `$/cancelRequest` and rejects at once with the signal's reason.
   */
  request<M extends AgentMethod>(method: M, params: ParamsOf<M>, signal?: AbortSignal): Promise<ResultOf<M>> {
    if (this.failure) {
      const failure = this.failure;
      return failure.then((reason) => Promise.reject(reason));
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    return new Promise<ResultOf<M>>((resolve, reject) => {
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

      this.connection.sendRequest<ResultOf<M>>(method, params, tokenSource.token).then(
        (result) => {
          if (settle()) resolve(result);
        },
        (error: unknown) => {
          if (settled) return;
          if (error instanceof ResponseError && !TRANSPORT_ERROR_CODES.has(error.code)) {
            settle();
            reject(new AgentError(error.message, error.code, error.data));
            return;
          }
          // vscode-jsonrpc also reports a request it could not write (the agent's input is gone,
          // EPIPE) or dropped at its disposal as a ResponseError. The close path owns the reason
          // (the agent's exit status, or the link's loss), so wait for it instead of leaking the
          // write's wording; it is the agent's end, not a broken protocol.
          this.beginClose(error instanceof ResponseError ? undefined : error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /**
   * A handler for an agent → client notification (protocol.ts's AgentNotifications). `events`
   * batches go through the client's paced reader, so a slow handler slows the agent, not memory.
   */
  onNotification<N extends AgentNotification>(method: N, handler: (params: AgentNotifications[N]) => void): Disposable {
    if (method === 'events') {
      const onEvents = handler as (batch: EventsNotification) => void;
      this.eventHandlers.add(onEvents);
      return { dispose: () => this.eventHandlers.delete(onEvents) };
    }
    return this.connection.onNotification(method, handler as (params: unknown) => void);
  }

  /** Counts `events` batches as they are read, and stops reading while too many wait to be handled. */
  private pacedReader(reader: MessageReader): MessageReader {
    return {
      onError: reader.onError,
      onClose: reader.onClose,
      onPartialMessage: reader.onPartialMessage,
      dispose: () => reader.dispose(),
      listen: (callback) =>
        reader.listen((message) => {
          if (Message.isNotification(message) && Object.hasOwn(this.otherNotifications, message.method)) {
            this.otherNotifications[message.method]!(message.params);
            return;
          }
          if (Message.isNotification(message) && message.method === 'events') {
            this.pendingEventBatches++;
            if (!this.readingPaused && this.pendingEventBatches >= PAUSE_AT_PENDING_BATCHES) {
              this.readingPaused = true;
              this.input.pause();
            }
          }
          callback(message);
        }),
    };
  }

  private dispatchEvents(batch: EventsNotification): void {
    try {
      for (const handler of this.eventHandlers) handler(batch);
    } finally {
      this.pendingEventBatches--;
      if (this.readingPaused && this.pendingEventBatches <= RESUME_AT_PENDING_BATCHES) {
        this.readingPaused = false;
        this.input.resume();
      }
    }
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
