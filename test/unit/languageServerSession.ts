// The language server as an editor runs it: a separate process over stdio, driven by a real LSP
// client. Shared by the language-server tests that open documents and wait for their diagnostics.
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
  PublishDiagnosticsNotification,
  ShutdownRequest,
  type Diagnostic,
  type InitializeResult,
  type Position,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';

export const root = join(import.meta.dirname, '../..');

export interface LanguageServerSession {
  connection: ProtocolConnection;
  initializeResult: InitializeResult;
  /** Opens a document and resolves with the diagnostics the server publishes for it. */
  open(uri: string, text: string): Promise<Diagnostic[]>;
  /** The next diagnostics published for `uri`. */
  nextDiagnostics(uri: string): Promise<Diagnostic[]>;
  stderr(): string;
  close(): Promise<number | null>;
}

export async function startLanguageServer(options: { rootUri?: string; workspaceEdit?: boolean } = {}): Promise<LanguageServerSession> {
  execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], { stdio: 'pipe' });
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'language-server/server.ts', '--stdio'], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr!.on('data', (chunk) => (stderr += chunk));
  const connection = createProtocolConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
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
    nextDiagnostics,
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
  };
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
