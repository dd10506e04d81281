/**
 * AgentClient against an in-memory fake agent: newline-delimited JSON-RPC over PassThrough streams,
 * requests and answers, agent errors, cancellation, and the one-reason failure when the agent goes away.
 */
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { AgentClient, AgentError } from '../../remote-agent/client/agentClient';
import { ErrorCode, type HelloResult } from '../../remote-agent/protocol';

const helloResult: HelloResult = {
  agentVersion: '0.1.0',
  protocolVersion: 2,
  kernelRelease: '6.18.44',
  arch: 'x86_64',
  btf: true,
  btfId: 'abc123',
  clang: 'Debian clang version 14.0.6',
  libbpfVersion: '1.1',
  euid: 0,
  capabilities: ['hello', 'compile', 'load', 'release'],
  features: {
    kprobeEvents: false,
    uprobeEvents: true,
    tracingPrograms: false,
    lsm: false,
    ringbuf: true,
    tcx: true,
    bpfCookie: true,
    tracefs: '/sys/kernel/tracing',
    bpffs: '/sys/fs/bpf',
    programTypes: ['tracepoint', 'xdp'],
    mapTypes: ['hash', 'ringbuf'],
  },
  privileges: { effectiveCapabilities: ['bpf', 'perfmon', 'sys_admin', 'net_admin'], unprivilegedBpfDisabled: 2 },
  resume: null,
};

interface WireMessage {
  jsonrpc: string;
  id?: number;
  method?: string;
  params?: unknown;
}

/** A fake agent: sees every line the client writes, answers through `reply`. */
function fakeAgent() {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const received: WireMessage[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  toAgent.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      received.push(JSON.parse(buffered.slice(0, nl)) as WireMessage);
      buffered = buffered.slice(nl + 1);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  const nextMessage = async (index: number): Promise<WireMessage> => {
    while (received.length <= index) await new Promise<void>((resolve) => waiters.push(resolve));
    return received[index]!;
  };
  const reply = (line: object): void => {
    fromAgent.write(`${JSON.stringify(line)}\n`);
  };
  return { toAgent, fromAgent, received, nextMessage, reply };
}

test('a request goes out as one JSON-RPC line and its result line resolves the call', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  const hello = client.request('hello', { clientVersion: '0.1.0' });
  const request = await agent.nextMessage(0);
  assert.equal(request.jsonrpc, '2.0');
  assert.equal(request.method, 'hello');
  assert.deepEqual(request.params, { clientVersion: '0.1.0' });
  assert.equal(typeof request.id, 'number');
  agent.reply({ jsonrpc: '2.0', id: request.id, result: helloResult });
  assert.deepEqual(await hello, helloResult);
  client.dispose();
});

test('a result split across chunks and a multi-byte character split mid-character still parse', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  const compile = client.request('compile', { files: [{ path: 'a.bpf.c', content: 'x' }], main: 'a.bpf.c' });
  const request = await agent.nextMessage(0);
  const line = Buffer.from(
    `${JSON.stringify({ jsonrpc: '2.0', id: request.id, result: { ok: false, objectId: null, object: null, stderr: 'a.bpf.c:1:1: error: unknown type name ‘x’', exitCode: 1, durationMs: 3, warmCompiler: false, vmlinuxH: 'cached' } })}\n`,
  );
  const cut = line.indexOf(Buffer.from('‘')) + 1; // inside the 3-byte UTF-8 sequence
  agent.fromAgent.write(line.subarray(0, cut));
  await new Promise((resolve) => setImmediate(resolve));
  agent.fromAgent.write(line.subarray(cut));
  const result = await compile;
  assert.equal(result.stderr, 'a.bpf.c:1:1: error: unknown type name ‘x’');
  client.dispose();
});

test('a JSON-RPC error answer rejects with AgentError carrying the code, message and data', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  const load = client.request('load', { objectId: 'obj-9' });
  const request = await agent.nextMessage(0);
  agent.reply({
    jsonrpc: '2.0',
    id: request.id,
    error: { code: ErrorCode.UnknownObject, message: 'Object obj-9 is not held by the agent; compile the file again.', data: { objectId: 'obj-9' } },
  });
  await assert.rejects(load, (error: unknown) => {
    assert.ok(error instanceof AgentError);
    assert.equal(error.code, ErrorCode.UnknownObject);
    assert.equal(error.message, 'Object obj-9 is not held by the agent; compile the file again.');
    assert.deepEqual(error.data, { objectId: 'obj-9' });
    return true;
  });
  client.dispose();
});

test('aborting a request sends $/cancelRequest with its id and rejects at once with an AbortError', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  const controller = new AbortController();
  const compile = client.request('compile', { files: [{ path: 'a.bpf.c', content: '' }], main: 'a.bpf.c' }, controller.signal);
  const request = await agent.nextMessage(0);
  controller.abort();
  await assert.rejects(compile, { name: 'AbortError' });
  const cancel = await agent.nextMessage(1);
  assert.equal(cancel.method, '$/cancelRequest');
  assert.deepEqual(cancel.params, { id: request.id });
  assert.equal(cancel.id, undefined);
  // The agent's late RequestCancelled answer is ignored; the client keeps working.
  agent.reply({ jsonrpc: '2.0', id: request.id, error: { code: ErrorCode.RequestCancelled, message: 'Request cancelled.' } });
  const hello = client.request('hello', { clientVersion: '0.1.0' });
  const second = await agent.nextMessage(2);
  agent.reply({ jsonrpc: '2.0', id: second.id, result: helloResult });
  assert.deepEqual(await hello, helloResult);
  client.dispose();
});

test('a request with an already aborted signal is never sent', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  await assert.rejects(client.request('hello', { clientVersion: '0.1.0' }, AbortSignal.abort()), { name: 'AbortError' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(agent.received.length, 0);
  client.dispose();
});

test('when the agent output ends, every pending request rejects with the one explained reason, and so do later calls', async () => {
  const agent = fakeAgent();
  const reason = new Error('agent on root@vm1:22 exited with status 1: libbpf: failed to find BTF');
  let explanations = 0;
  const client = new AgentClient(agent.fromAgent, agent.toAgent, {
    explainClose: () => {
      explanations += 1;
      return reason;
    },
  });
  const pending = [client.request('hello', { clientVersion: '0.1.0' }), client.request('load', { objectId: 'a' }), client.request('release', { objectId: 'b' })];
  await agent.nextMessage(2);
  agent.fromAgent.end();
  const outcomes = await Promise.allSettled(pending);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 'rejected');
    assert.equal((outcome as PromiseRejectedResult).reason, reason);
  }
  assert.equal(await client.closed, reason);
  await assert.rejects(client.request('compile', { files: [], main: 'x.bpf.c' }), (error: unknown) => error === reason);
  assert.equal(explanations, 1);
});

test('a request that cannot be written (the agent died: EPIPE) fails with the explained close reason, not the write error', async () => {
  const fromAgent = new PassThrough();
  const toAgent = new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const reason = new Error('The agent on local was killed by signal SIGKILL before answering hello.');
  const causes: Array<Error | undefined> = [];
  const client = new AgentClient(fromAgent, toAgent, {
    explainClose: (cause) => {
      causes.push(cause);
      return reason;
    },
  });
  await assert.rejects(client.request('hello', { clientVersion: '0.1.0' }), (error: unknown) => error === reason);
  assert.equal(await client.closed, reason);
  assert.deepEqual(causes, [undefined], 'the close is explained once, as the agent ending (its exit status), not as a broken protocol');
});

test('a line that is not JSON closes the client with a reason that quotes it', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent);
  const hello = client.request('hello', { clientVersion: '0.1.0' });
  await agent.nextMessage(0);
  agent.fromAgent.write('Segmentation fault\n');
  await assert.rejects(hello, /the agent wrote a line that is not JSON .*: Segmentation fault/);
  assert.match((await client.closed).message, /Segmentation fault/);
});

test('close(reason) from outside (SSH link lost) wins over the later end of the output', async () => {
  const agent = fakeAgent();
  const client = new AgentClient(agent.fromAgent, agent.toAgent, { explainClose: () => new Error('should not be used') });
  const hello = client.request('hello', { clientVersion: '0.1.0' });
  await agent.nextMessage(0);
  const lost = new Error('connection to root@vm1:22 lost: Keepalive timeout');
  client.close(lost);
  agent.fromAgent.end();
  await assert.rejects(hello, (error: unknown) => error === lost);
  assert.equal(await client.closed, lost);
});
