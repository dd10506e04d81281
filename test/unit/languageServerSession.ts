// The language server as an editor runs it: a separate process over stdio, driven by a real LSP
// client. The one way the language-server tests start it, open documents, wait for diagnostics and
// read what it logged; plus the position helpers they write their requests with.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  LogMessageNotification,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  type CompletionItem,
  type CompletionList,
  type Diagnostic,
  type InitializeResult,
  type Position,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';

export const root = join(import.meta.dirname, '../..');

export interface LanguageServerSession {
  connection: ProtocolConnection;
  initializeResult: InitializeResult;
  /** performance.now() when the server process was spawned. */
  startedAt: number;
  /** The server's window/logMessage messages so far, in order. */
  logMessages: string[];
  /** Opens a document and resolves with the diagnostics the server publishes for it. */
  open(uri: string, text: string): Promise<Diagnostic[]>;
  /** Resolves with the first logged message matching `pattern`, once it is logged. */
  logged(pattern: RegExp): Promise<string>;
  /** The next diagnostics published for `uri`. */
  nextDiagnostics(uri: string): Promise<Diagnostic[]>;
  stderr(): string;
  /** Shuts the server down as the LSP says (shutdown, exit) and resolves with its exit code. */
  close(): Promise<number | null>;
  /** Ends the server at once if it still runs: for `after` hooks, whatever state a failed test left. */
  kill(): void;
}

export interface LanguageServerOptions {
  rootUri?: string;
  workspaceEdit?: boolean;
  /** Node's arguments that start the server; by default language-server/server.ts over stdio, through tsx. */
  nodeArguments?: string[];
  /** The server's environment; by default this process's. */
  env?: NodeJS.ProcessEnv;
  /** initializationOptions of the initialize request. */
  initializationOptions?: unknown;
}

export async function startLanguageServer(options: LanguageServerOptions = {}): Promise<LanguageServerSession> {
  // The server imports the generated helper table: make sure it exists (a no-op when it is current).
  execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], { stdio: 'pipe' });
  const startedAt = performance.now();
  const server: ChildProcess = spawn(process.execPath, options.nodeArguments ?? ['--import', 'tsx', 'language-server/server.ts', '--stdio'], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let stderr = '';
  server.stderr!.on('data', (chunk) => (stderr += chunk));
  const connection = createProtocolConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  const logMessages: string[] = [];
  const logWaiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  connection.onNotification(LogMessageNotification.type, (message) => {
    logMessages.push(message.message);
    for (const waiter of logWaiters.filter((w) => w.pattern.test(message.message))) {
      logWaiters.splice(logWaiters.indexOf(waiter), 1);
      waiter.resolve(message.message);
    }
  });
  const waiting = new Map<string, ((d: Diagnostic[]) => void)[]>();
  connection.onNotification(PublishDiagnosticsNotification.type, ({ uri, diagnostics }) => {
    const waiters = waiting.get(uri) ?? [];
    waiting.delete(uri);
    for (const resolve of waiters) resolve(diagnostics);
  });
  connection.listen();
  const initializeResult = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: options.rootUri ?? null,
    initializationOptions: options.initializationOptions,
    capabilities: {
      workspace: options.workspaceEdit ? { applyEdit: true, workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } } : {},
      textDocument: { completion: { completionItem: { snippetSupport: true } }, publishDiagnostics: { versionSupport: true } },
    },
  });
  await connection.sendNotification(InitializedNotification.type, {});

  const nextDiagnostics = (uri: string) =>
    new Promise<Diagnostic[]>((resolve) => {
      waiting.set(uri, [...(waiting.get(uri) ?? []), resolve]);
    });
  return {
    connection,
    initializeResult,
    startedAt,
    logMessages,
    nextDiagnostics,
    logged: (pattern) =>
      new Promise<string>((resolve) => {
        const seen = logMessages.find((line) => pattern.test(line));
        if (seen !== undefined) resolve(seen);
        else logWaiters.push({ pattern, resolve });
      }),
    async open(uri, text) {
      const published = nextDiagnostics(uri);
      await connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'c', version: 1, text } });
      return published;
    },
    stderr: () => stderr,
    async close() {
      await connection.sendRequest(ShutdownRequest.type);
      const exited = once(server, 'exit');
      await connection.sendNotification(ExitNotification.type);
      const [code] = await exited;
      connection.dispose();
      return code as number | null;
    },
    kill() {
      connection.dispose();
      if (server.exitCode === null && server.signalCode === null) server.kill();
    },
  };
}

/** A completion answer's items, whichever of its two shapes the server chose. */
export function itemsOf(result: CompletionItem[] | CompletionList | null): CompletionItem[] {
  if (result === null) return [];
  return Array.isArray(result) ? result : result.items;
}

/** The position right after the first occurrence of `marker` (after `occurrence` earlier ones). */
export function positionAfter(text: string, marker: string, occurrence = 0): Position {
  return positionOf(text, marker, marker.length, occurrence);
}

/** The position of the first occurrence of `marker` (after `occurrence` earlier ones), plus `delta` characters. */
export function positionOf(text: string, marker: string, delta = 0, occurrence = 0): Position {
  let index = -1;
  for (let i = 0; i <= occurrence; i++) {
    index = text.indexOf(marker, index + 1);
    assert.notEqual(index, -1, `marker ${JSON.stringify(marker)} not in the test document`);
  }
  const offset = index + delta;
  const lines = text.slice(0, offset).split('\n');
  return { line: lines.length - 1, character: lines.at(-1)!.length };
}

/** The range covering the first occurrence of `marker`. */
export function rangeOf(text: string, marker: string, occurrence = 0) {
  return { start: positionOf(text, marker, 0, occurrence), end: positionOf(text, marker, marker.length, occurrence) };
}
