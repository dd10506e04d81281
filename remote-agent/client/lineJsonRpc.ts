/**
 * Newline-delimited JSON framing for vscode-jsonrpc: the agent speaks JSON-RPC 2.0 as one JSON
 * object per '\n'-terminated line (see remote-agent/protocol.ts), not LSP's Content-Length headers,
 * so the library's stream reader/writer cannot be used as they are.
 */
import type { Readable, Writable } from 'node:stream';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
} from 'vscode-jsonrpc/node';

/** A line longer than this is a broken or hostile peer, not a message (compile results carry base64 objects of a few MiB). */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

const NEWLINE = 0x0a;

export class LineMessageReader extends AbstractMessageReader implements MessageReader {
  private readonly input: Readable;
  private listening = false;

  constructor(input: Readable) {
    super();
    this.input = input;
  }

  listen(callback: DataCallback): Disposable {
    if (this.listening) throw new Error('LineMessageReader.listen may be called only once');
    this.listening = true;
    // Chunks of the current, unfinished line: joined only once its '\n' arrives, and decoded as
    // UTF-8 only then, so a multi-byte character split across chunks survives.
    let partial: Buffer[] = [];
    let partialBytes = 0;
    let failed = false;

    const deliverLine = (line: Buffer): void => {
      const text = line.toString('utf8').trim();
      if (text === '') return;
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch (error) {
        const preview = text.length > 120 ? `${text.slice(0, 120)}…` : text;
        throw new Error(`the agent wrote a line that is not JSON (${(error as Error).message}): ${preview}`);
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        throw new Error(`the agent wrote a JSON line that is not a JSON-RPC message object: ${text.slice(0, 120)}`);
      }
      callback(message as Message);
    };

    const onData = (chunk: Buffer | string): void => {
      if (failed) return;
      let data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      try {
        for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE)) {
          const tail = data.subarray(0, newline);
          const line = partial.length === 0 ? tail : Buffer.concat([...partial, tail]);
          partial = [];
          partialBytes = 0;
          data = data.subarray(newline + 1);
          deliverLine(line);
        }
        if (data.length > 0) {
          partialBytes += data.length;
          if (partialBytes > MAX_LINE_BYTES) {
            throw new Error(`the agent wrote a line longer than ${MAX_LINE_BYTES} bytes without a newline`);
          }
          partial.push(data);
        }
      } catch (error) {
        failed = true;
        this.fireError(error);
      }
    };
    const onEnd = (): void => this.fireClose();
    const onError = (error: Error): void => this.fireError(error);

    this.input.on('data', onData);
    this.input.on('end', onEnd);
    this.input.on('close', onEnd);
    this.input.on('error', onError);
    return {
      dispose: () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.off('close', onEnd);
        this.input.off('error', onError);
      },
    };
  }
}

/**
 * Writes one JSON line per message. A write that fails (the agent's input is gone: EPIPE, a closed
 * channel) only rejects that write, and an error on the stream is reported as a close: the agent
 * or the link ended, and the connection's close path finds out which from the exit status, not
 * from the write's wording.
 */
export class LineMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private readonly output: Writable;

  constructor(output: Writable) {
    super();
    this.output = output;
    output.on('error', () => this.fireClose());
    output.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    const line = `${JSON.stringify(message)}\n`;
    return new Promise<void>((resolve, reject) => {
      if (this.output.destroyed || this.output.writableEnded) {
        reject(new Error('cannot send to the agent: its input stream is closed'));
        return;
      }
      this.output.write(line, 'utf8', (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }

  end(): void {
    this.output.end();
  }
}
