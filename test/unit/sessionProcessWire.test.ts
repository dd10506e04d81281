/**
 * The frames a shared connection's command output travels in between the session process and an
 * editor window: whatever the socket's chunking, the same frames come out, in order; an exit status
 * keeps only what it may hold; a stream that is not the session process's framing is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameKind, FrameReader, MAX_FRAME_PAYLOAD, type Frame } from '../../remote-agent/client/sessionProcessWire';

const stream = Buffer.concat([
  encodeFrame(FrameKind.Stdout, Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}\n')),
  encodeFrame(FrameKind.Stderr, Buffer.from('ebpf-agent: hello from client test\n')),
  encodeFrame(FrameKind.Stdout, Buffer.alloc(0)),
  encodeFrame(FrameKind.Stdout, Buffer.from([0, 255, 10])),
  encodeFrame(FrameKind.Exit, Buffer.from(JSON.stringify({ exitCode: 0, signal: null }))),
]);

const expected: Frame[] = [
  { kind: FrameKind.Stdout, data: Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}\n') },
  { kind: FrameKind.Stderr, data: Buffer.from('ebpf-agent: hello from client test\n') },
  { kind: FrameKind.Stdout, data: Buffer.alloc(0) },
  { kind: FrameKind.Stdout, data: Buffer.from([0, 255, 10]) },
  { kind: FrameKind.Exit, status: { exitCode: 0, signal: null } },
];

test('the same frames come out whatever the chunking, down to one byte at a time', () => {
  for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
    const reader = new FrameReader();
    const frames: Frame[] = [];
    for (let at = 0; at < stream.length; at += size) frames.push(...reader.push(stream.subarray(at, at + size)));
    assert.deepEqual(frames, expected, `chunks of ${size} bytes`);
    assert.equal(reader.buffered, 0);
  }
});

test('a stream cut in the middle of a frame leaves its bytes buffered, never a partial frame', () => {
  const reader = new FrameReader();
  assert.deepEqual(reader.push(stream.subarray(0, 10)), []);
  assert.equal(reader.buffered, 10);
});

test('an exit status keeps a code, a signal name and a failure text, nothing else', () => {
  const reader = new FrameReader();
  const [killed] = reader.push(encodeFrame(FrameKind.Exit, Buffer.from(JSON.stringify({ exitCode: null, signal: 'KILL', extra: 1 }))));
  assert.deepEqual(killed, { kind: FrameKind.Exit, status: { exitCode: null, signal: 'KILL' } });
  const [vanished] = reader.push(encodeFrame(FrameKind.Exit, Buffer.from(JSON.stringify({ exitCode: '0', failure: 'the SSH channel closed without an exit status' }))));
  assert.deepEqual(vanished, { kind: FrameKind.Exit, status: { exitCode: null, signal: null, failure: 'the SSH channel closed without an exit status' } });
});

test('an unknown frame kind or an oversized length is refused, as not the session process talking', () => {
  assert.throws(() => new FrameReader().push(Buffer.from([9, 0, 0, 0, 0])), /^Error: unknown frame kind 9$/);
  const huge = Buffer.alloc(5);
  huge.writeUInt8(FrameKind.Stdout, 0);
  huge.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 1);
  assert.throws(() => new FrameReader().push(huge), new RegExp(`^Error: a frame of ${MAX_FRAME_PAYLOAD + 1} bytes is over the ${MAX_FRAME_PAYLOAD}-byte bound$`));
});
