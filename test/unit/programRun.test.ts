/**
 * The run pipeline against a fake agent that compiles for real (clang on this machine, against a
 * vmlinux.h generated into a temp dir) and plays the kernel's part: what is attached where, which
 * streams start, how records and printk lines come back decoded, that programs attached one by
 * one go into the same object and stream set, and that stop undoes everything in reverse order;
 * plus how the CLI prints records and words attach-spec problems.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { AttachParams, CompileParams, CompileResult, EventsNotification, StreamEndedNotification, TraceNotification } from '../../remote-agent/protocol';
import { parseAttachSpec } from '../../remote-agent/client/attachSpec';
import { parseBtf } from '../../remote-agent/client/btf';
import { BpfObject } from '../../remote-agent/client/elfObject';
import { objectBtfBytes } from '../../remote-agent/client/eventRecordTypes';
import { requesterOf } from '../../remote-agent/client/requestHandlers';
import { AttachSpecError } from '../../remote-agent/client/attachTargets';
import { openProgramRun, startProgramRun } from '../../remote-agent/client/openProgramRun';
import type { EventBatch, RunningAgent, TraceRecord } from '../../remote-agent/client/programRun';
import { attachSpecMessage } from '../../cli/attachSpecMessages';
import { eventBatchJson, eventBatchText, summaryText, traceText } from '../../cli/formatEvents';

const root = path.join(__dirname, '..', '..');
const template = path.join(root, 'bpf-templates/execsnoop/execsnoop.bpf.c');
/** Two programs, one writing the ring buffer `events`, one counting in the hash map `openat_calls`. */
const probe = path.join(root, 'examples/workspace/probe.bpf.c');
let scratch: string;
let vmlinuxH: Buffer;

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-run-test-'));
  vmlinuxH = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 28 });
});

after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

type Call = [string, unknown?];

/** A fake agent: real clang, every program verifies, attach/streams/trace recorded in `calls`. */
function fakeAgent(opts: { maps?: { name: string; type: string }[]; failAttach?: string; failTrace?: string } = {}) {
  const calls: Call[] = [];
  const handlers = { events: [] as ((b: EventsNotification) => void)[], trace: [] as ((b: TraceNotification) => void)[], ended: [] as ((e: StreamEndedNotification) => void)[] };
  const objects = new Map<string, Buffer>();
  const compile = async (p: CompileParams): Promise<CompileResult> => {
    calls.push(['compile', p.main]);
    const dir = fs.mkdtempSync(path.join(scratch, 'c-'));
    for (const f of p.files) fs.writeFileSync(path.join(dir, f.path), f.content);
    fs.writeFileSync(path.join(dir, 'vmlinux.h'), vmlinuxH);
    const multiarch = execFileSync('clang', ['-print-multiarch'], { encoding: 'utf8' }).trim();
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I.', '-idirafter', `/usr/include/${multiarch}`, '-c', p.main, '-o', 'out.o'], { cwd: dir });
    const object = fs.readFileSync(path.join(dir, 'out.o'));
    const objectId = `obj${objects.size + 1}`;
    objects.set(objectId, object);
    return { ok: true, objectId, object: object.toString('base64'), stderr: '', exitCode: 0, durationMs: 1, warmCompiler: true, vmlinuxH: 'cached' };
  };
  const requests = requesterOf({
    compile,
    load: async ({ objectId }) => {
      calls.push(['load', objectId]);
      const object = BpfObject.parse(objects.get(objectId)!);
      const programs = object.functions
        .filter((f) => f.global && f.sectionName !== '.text')
        .map((f) => ({ name: f.name, section: f.sectionName, type: f.sectionName.split('/')[0], ok: true, errno: 0, log: '', libbpfLog: '', insnCount: 10, insnsProcessed: 10, totalStates: 1, peakStates: 1, verificationTimeUs: 5, loadMs: 1 }));
      return { programs };
    },
    release: async ({ objectId }) => (calls.push(['release', objectId]), {}),
    attach: async (p: AttachParams) => {
      calls.push(['attach', p]);
      if (opts.failAttach) throw new Error(opts.failAttach);
      return { linkId: `link-${p.program}`, description: `tracepoint ${p.program}`, programId: 42, pinnedPath: null };
    },
    detach: async ({ linkId }) => (calls.push(['detach', linkId]), {}),
    'object.maps': async ({ objectId }) => {
      calls.push(['objectMaps', objectId]);
      const maps = opts.maps ?? [{ name: 'events', type: 'ringbuf' }];
      return { maps: maps.map((m) => ({ ...m, keySize: 0, valueSize: 0, maxEntries: 4096, btfKeyTypeId: 0, btfValueTypeId: 0, mapId: 7 })) };
    },
    'stream.start': async (p) => (calls.push(['streamStart', p.map]), { streamId: `s-${p.map}`, kind: 'ringbuf' }),
    'stream.stop': async ({ streamId }) => (calls.push(['streamStop', streamId]), { received: 2, sent: 2, dropped: 0 }),
    'trace.start': async () => {
      calls.push(['traceStart']);
      if (opts.failTrace) throw new Error(opts.failTrace);
      return {};
    },
    'trace.stop': async () => (calls.push(['traceStop']), { received: 1, sent: 1, dropped: 0 }),
  });
  const agent: RunningAgent = {
    request: requests.request,
    onNotification: (method, handler) => {
      const list = (method === 'events' ? handlers.events : method === 'trace' ? handlers.trace : handlers.ended) as unknown[];
      list.push(handler);
      return { dispose: () => list.splice(list.indexOf(handler), 1) };
    },
  };
  return { agent, calls, handlers, objects };
}

function execRecord(pid: number, comm: string, filename: string): Buffer {
  const r = Buffer.alloc(156);
  r.writeInt32LE(pid, 0);
  r.writeInt32LE(1, 4);
  r.write(`${comm}\0`, 12, 'latin1');
  r.write(`${filename}\0`, 28, 'latin1');
  return r;
}

test('execsnoop: verified, compiled again with the type anchor, attached by section, its ring buffer decoded, then undone in reverse', async () => {
  const { agent, calls, handlers } = fakeAgent();
  const { report, run } = await startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18' });
  assert.equal(report.programs[0].ok, true);
  assert.ok(run);
  assert.deepEqual(calls, [
    ['compile', 'execsnoop.bpf.c'],
    ['load', 'obj1'],
    ['release', 'obj1'],
    ['compile', '__ebpf_studio_run.c'],
    ['attach', { objectId: 'obj2', program: 'handle_execve' }],
    ['objectMaps', 'obj2'],
    ['streamStart', 'events'],
  ]);
  assert.deepEqual(run.streams, [{ map: 'events', streamId: 's-events', kind: 'ringbuf', recordType: 'struct exec_event' }]);
  assert.equal(run.tracing, false, 'no bpf_printk in the template: no trace_pipe');

  const batches: EventBatch[] = [];
  run.onEvents((b) => batches.push(b));
  const data = Buffer.concat([execRecord(4242, 'bash', '/usr/bin/true'), execRecord(4243, 'sh', '/bin/ls')]);
  handlers.events[0]({ streamId: 's-events', data: data.toString('base64'), sizes: [156, 156], counters: { received: 2, sent: 2, dropped: 0 } });
  handlers.events[0]({ streamId: 'someone-elses', data: '', sizes: [], counters: { received: 0, sent: 0, dropped: 0 } });
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0].records, [
    { pid: 4242, ppid: 1, uid: 0, comm: 'bash', filename: '/usr/bin/true' },
    { pid: 4243, ppid: 1, uid: 0, comm: 'sh', filename: '/bin/ls' },
  ]);

  calls.length = 0;
  const summary = await run.stop();
  assert.deepEqual(calls, [['streamStop', 's-events'], ['detach', 'link-handle_execve'], ['release', 'obj2']]);
  assert.deepEqual(summary, { streams: [{ map: 'events', received: 2, sent: 2, dropped: 0, decoded: 2 }], trace: null });
  assert.equal(handlers.events.length, 0, 'subscriptions are disposed');
});

test('resumed on a new connection: each stream takes the counters of the resume\'s answer as a batch without records, unless a batch came first', async () => {
  const { agent, handlers } = fakeAgent();
  const { run } = await startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  const batches: EventBatch[] = [];
  run.onEvents((b) => batches.push(b));
  const record = execRecord(4242, 'bash', '/usr/bin/true');
  handlers.events[0]({ streamId: 's-events', data: record.toString('base64'), sizes: [156], counters: { received: 1, sent: 1, dropped: 0 } });

  // Everything sent after that was lost with the link: nothing is left to send, only the answer says so.
  const second = fakeAgent();
  run.resumeOn(second.agent);
  assert.deepEqual(run.streamsDecoded(), [{ streamId: 's-events', decoded: 1 }]);
  assert.equal(run.resumed({ objects: [run.objectId], streams: [{ streamId: 's-events', counters: { received: 500, sent: 1, dropped: 499 } }] }), true);
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1].records, []);
  assert.deepEqual(batches[1].counters, { received: 500, sent: 1, dropped: 499 });

  // A batch that arrives before the answer is handled carries newer counters: the answer's are not replayed over them.
  const third = fakeAgent();
  run.resumeOn(third.agent);
  third.handlers.events[0]({ streamId: 's-events', data: record.toString('base64'), sizes: [156], counters: { received: 600, sent: 2, dropped: 598 } });
  run.resumed({ objects: [run.objectId], streams: [{ streamId: 's-events', counters: { received: 550, sent: 1, dropped: 549 } }] });
  assert.deepEqual(batches.map((b) => b.counters.received), [1, 500, 600]);
  assert.equal(handlers.events.length, 0, 'the first connection is no longer listened to');
});

test('a printk program follows trace_pipe before attaching, and its lines come back parsed', async () => {
  const file = path.join(scratch, 'hello.bpf.c');
  fs.writeFileSync(
    file,
    '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n' +
      'SEC("tracepoint/syscalls/sys_enter_execve")\nint hello(void *ctx)\n{\n\tbpf_printk("hello from %d", 1);\n\treturn 0;\n}\n',
  );
  const { agent, calls, handlers } = fakeAgent({ maps: [] });
  const { run } = await startProgramRun(agent, file, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  assert.deepEqual(calls.map((c) => c[0]), ['compile', 'load', 'release', 'compile', 'traceStart', 'attach', 'objectMaps']);
  assert.equal(calls[3][1], 'hello.bpf.c', 'no event maps: the plain file is compiled');
  const lines: TraceRecord[] = [];
  run.onTrace((records) => lines.push(...records));
  handlers.trace[0]({ lines: ['            true-692     [001] ...21  2585.614131: bpf_trace_printk: hello from 1'], dropped: 0 });
  assert.equal(lines[0].parsed?.message, 'hello from 1');
  assert.equal(traceText([{ ...lines[0], receivedAt: new Date(2026, 0, 1, 9, 5, 7, 42).getTime() }]), '09:05:07.042 printk true-692 [001] hello from 1\n');
  const summary = await run.stop();
  assert.deepEqual(summary.trace, { received: 1, sent: 1, dropped: 0 });
});

test('a printk program still attaches when trace_pipe cannot be followed (another reader holds it), and says why; asked for with trace: true, the run fails', async () => {
  const file = path.join(scratch, 'busy.bpf.c');
  fs.writeFileSync(
    file,
    '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n' +
      'SEC("tracepoint/syscalls/sys_enter_execve")\nint busy(void *ctx)\n{\n\tbpf_printk("exec");\n\treturn 0;\n}\n',
  );
  const busy = 'Opening /sys/kernel/tracing/trace_pipe failed: another process is reading it.';
  const found = fakeAgent({ maps: [], failTrace: busy });
  const { run } = await startProgramRun(found.agent, file, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  assert.deepEqual(found.calls.map((c) => c[0]), ['compile', 'load', 'release', 'compile', 'traceStart', 'attach', 'objectMaps']);
  assert.equal(run.tracing, false);
  assert.equal(run.traceUnavailable, `bpf_printk lines are not shown: ${busy}`);
  assert.ok(run.notes.includes(run.traceUnavailable));
  assert.deepEqual((await run.stop()).trace, null);

  const asked = fakeAgent({ maps: [], failTrace: busy });
  await assert.rejects(startProgramRun(asked.agent, file, { target: 'fake', kernelRelease: '6.18', trace: true }), new RegExp(busy.replaceAll('.', '\\.')));
  assert.ok(!asked.calls.some((c) => c[0] === 'attach'), 'nothing attached');
});

test('two printing runs on one target share its one trace_pipe follower: started by the first, stopped by the last', async () => {
  const file = path.join(scratch, 'printer.bpf.c');
  fs.writeFileSync(
    file,
    '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n' +
      'SEC("tracepoint/syscalls/sys_enter_execve")\nint printer(void *ctx)\n{\n\tbpf_printk("exec");\n\treturn 0;\n}\n',
  );
  const { agent, calls } = fakeAgent();
  const first = await openProgramRun(agent, file, { target: 'fake', kernelRelease: '6.18' });
  const second = await openProgramRun(agent, file, { target: 'fake', kernelRelease: '6.18' });
  assert.deepEqual(calls.filter((c) => c[0].startsWith('trace')), [['traceStart']]);
  const firstSummary = await first.run!.stop();
  assert.equal(firstSummary.trace, null, 'the other run still reads trace_pipe');
  assert.deepEqual(calls.filter((c) => c[0].startsWith('trace')), [['traceStart']]);
  const secondSummary = await second.run!.stop();
  assert.deepEqual(secondSummary.trace, { received: 1, sent: 1, dropped: 0 });
  assert.deepEqual(calls.filter((c) => c[0].startsWith('trace')), [['traceStart'], ['traceStop']]);
});

test('an attach failure undoes what was done and names the program and the kernel\'s reason', async () => {
  const { agent, calls } = fakeAgent({ failAttach: 'kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS)' });
  await assert.rejects(startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18' }), {
    name: 'AttachError',
    message: 'Cannot attach handle_execve (SEC("tracepoint/syscalls/sys_enter_execve")): kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS)',
  });
  assert.deepEqual(calls.slice(-1), [['release', 'obj2']]);
});

test('attach specs: a spec of the wrong kind, or naming an unknown program, fails before anything is attached', async () => {
  const { agent, calls } = fakeAgent();
  await assert.rejects(startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18', attach: [parseAttachSpec('xdp:lo')] }), {
    name: 'AttachSpecError',
    message: 'No program of this file can attach to xdp (programs: handle_execve (tracepoint)). Check the spec\'s kind.',
  });
  await assert.rejects(startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18', attach: [parseAttachSpec('nope=xdp:lo')] }), {
    name: 'AttachSpecError',
    problem: { kind: 'unknown-program', program: 'nope', programs: ['handle_execve'] },
    message: "An attach spec names program 'nope', but this file's programs are handle_execve.",
  });
  assert.ok(!calls.some((c) => c[0] === 'attach'));
  const ok = await startProgramRun(agent, template, { target: 'fake', kernelRelease: '6.18', attach: [parseAttachSpec('tracepoint:syscalls:sys_enter_execveat')] });
  assert.deepEqual(calls.find((c) => c[0] === 'attach')?.[1], {
    objectId: 'obj4',
    program: 'handle_execve',
    target: { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_execveat' },
  });
  await ok.run!.stop();
});

test('attach-spec problems speak of the problem in the core; the CLI words them with --attach', async () => {
  const { agent } = fakeAgent();
  const problemOf = async (file: string, specs: string[]): Promise<AttachSpecError> => {
    const error = await startProgramRun(agent, file, { target: 'fake', kernelRelease: '6.18', attach: specs.map(parseAttachSpec) }).then(
      () => assert.fail(`${specs.join(' ')} on ${path.basename(file)} was accepted`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AttachSpecError, String(error));
    return error;
  };
  const several = await problemOf(probe, ['tracepoint:syscalls:sys_enter_execveat']);
  assert.deepEqual(several.problem, { kind: 'several-programs-fit', targetKind: 'tracepoint', programs: ['trace_execve', 'count_openat'] });
  assert.equal(several.message, 'Several programs can attach to tracepoint (trace_execve, count_openat): the spec must name the program it is for.');
  assert.equal(attachSpecMessage(several), 'Several programs can attach to tracepoint (trace_execve, count_openat): write --attach PROGRAM=SPEC to choose.');

  const twice = await problemOf(template, ['handle_execve=tracepoint:syscalls:sys_enter_execveat', 'handle_execve=tracepoint:syscalls:sys_enter_execve']);
  assert.equal(twice.message, "Program 'handle_execve' is given two attach specs; a run attaches each program once.");
  assert.equal(attachSpecMessage(twice), "--attach gives program 'handle_execve' twice; a run attaches each program once.");

  const unknown = await problemOf(template, ['nope=xdp:lo']);
  assert.equal(attachSpecMessage(unknown), "--attach names program 'nope', but this file's programs are handle_execve.");

  const xdp = path.join(scratch, 'see_packets.bpf.c');
  fs.writeFileSync(xdp, '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int see_packets(struct xdp_md *ctx) { return XDP_PASS; }\nchar LICENSE[] SEC("license") = "GPL";\n');
  const needed = await problemOf(xdp, []);
  assert.equal(needed.message, 'Program see_packets (SEC("xdp")) cannot attach by its section: an XDP program needs an interface. It needs an attach spec such as see_packets=xdp:eth0.');
  assert.equal(attachSpecMessage(needed), 'Program see_packets (SEC("xdp")) cannot attach by its section: an XDP program needs an interface. Add --attach see_packets=xdp:eth0.');
});

const probeMaps = [
  { name: 'events', type: 'ringbuf' },
  { name: 'openat_calls', type: 'hash' },
];

function probeRecord(pid: number, comm: string): Buffer {
  const r = Buffer.alloc(20);
  r.writeUInt32LE(pid, 0);
  r.write(`${comm}\0`, 4, 'latin1');
  return r;
}

test('programs attached one after the other go into the one compiled object: one objectId, one stream per event map, started by the first attach', async () => {
  const { agent, calls, handlers } = fakeAgent({ maps: probeMaps });
  const { report, run } = await openProgramRun(agent, probe, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  assert.deepEqual(report.programs.map((p) => p.name), ['trace_execve', 'count_openat']);
  assert.deepEqual(calls, [['compile', 'probe.bpf.c'], ['load', 'obj1'], ['release', 'obj1'], ['compile', '__ebpf_studio_run.c']], 'opened: verified and compiled, nothing attached');
  assert.equal(run.objectId, 'obj2');
  assert.equal(run.attached.length, 0);
  assert.equal(run.streams.length, 0);
  const batches: EventBatch[] = [];
  run.onEvents((b) => batches.push(b));

  calls.length = 0;
  const first = await run.attachProgram('count_openat');
  assert.deepEqual(first, { program: 'count_openat', section: 'tracepoint/syscalls/sys_enter_openat', description: 'tracepoint count_openat', programId: 42, linkId: 'link-count_openat' });
  assert.deepEqual(calls, [
    ['attach', { objectId: 'obj2', program: 'count_openat' }],
    ['objectMaps', 'obj2'],
    ['streamStart', 'events'],
  ], 'the first attach loads the object: its ring buffer streams even though count_openat does not write it');

  calls.length = 0;
  await run.attachProgram('trace_execve');
  assert.deepEqual(calls, [
    ['attach', { objectId: 'obj2', program: 'trace_execve' }],
    ['objectMaps', 'obj2'],
  ], 'the same object, and its stream already runs');
  assert.deepEqual(run.attached.map((a) => a.program), ['count_openat', 'trace_execve']);
  assert.deepEqual(run.streams, [{ map: 'events', streamId: 's-events', kind: 'ringbuf', recordType: 'struct exec_event' }]);

  handlers.events[0]({ streamId: 's-events', data: probeRecord(4242, 'bash').toString('base64'), sizes: [20], counters: { received: 1, sent: 1, dropped: 0 } });
  assert.deepEqual(batches.map((b) => b.records), [[{ pid: 4242, comm: 'bash' }]]);

  calls.length = 0;
  await run.stop();
  assert.deepEqual(calls, [['streamStop', 's-events'], ['detach', 'link-trace_execve'], ['detach', 'link-count_openat'], ['release', 'obj2']]);
});

test('two attaches asked at once still share the object and start its streams once', async () => {
  const { agent, calls } = fakeAgent({ maps: probeMaps });
  const { run } = await openProgramRun(agent, probe, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  await Promise.all([run.attachProgram('trace_execve'), run.attachProgram('count_openat')]);
  assert.deepEqual(calls.filter((c) => c[0] === 'attach').map((c) => (c[1] as AttachParams).objectId), ['obj2', 'obj2']);
  assert.deepEqual(calls.filter((c) => c[0] === 'streamStart'), [['streamStart', 'events']]);
  await run.stop();
});

test('detaching one program keeps the other attached, the object loaded and its stream running; stop undoes the rest', async () => {
  const { agent, calls, handlers } = fakeAgent({ maps: probeMaps });
  const { run } = await openProgramRun(agent, probe, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  await run.attachProgram('trace_execve');
  await run.attachProgram('count_openat');
  const batches: EventBatch[] = [];
  run.onEvents((b) => batches.push(b));

  calls.length = 0;
  await run.detachProgram('count_openat');
  assert.deepEqual(calls, [['detach', 'link-count_openat']], 'only its link: no stream stopped, nothing released');
  assert.deepEqual(run.attached.map((a) => a.program), ['trace_execve']);
  handlers.events[0]({ streamId: 's-events', data: probeRecord(7, 'sh').toString('base64'), sizes: [20], counters: { received: 1, sent: 1, dropped: 0 } });
  assert.deepEqual(batches.map((b) => b.records), [[{ pid: 7, comm: 'sh' }]], 'events of the program still attached keep coming');
  await assert.rejects(run.detachProgram('count_openat'), { message: 'count_openat is not attached in this run of probe.bpf.c (attached: trace_execve).' });

  calls.length = 0;
  await run.attachProgram('count_openat');
  assert.deepEqual(calls[0], ['attach', { objectId: 'obj2', program: 'count_openat' }], 'attached again into the same object');
  await assert.rejects(run.attachProgram('count_openat'), { message: 'count_openat is already attached (tracepoint count_openat); detach it before attaching it again.' });
  await assert.rejects(run.attachProgram('nope'), { message: 'probe.bpf.c has no program named nope (its programs: trace_execve, count_openat).' });

  calls.length = 0;
  const summary = await run.stop();
  assert.deepEqual(calls, [['streamStop', 's-events'], ['detach', 'link-count_openat'], ['detach', 'link-trace_execve'], ['release', 'obj2']]);
  assert.equal(summary.streams[0].decoded, 1);
  assert.equal(run.attached.length, 0);
  await assert.rejects(run.attachProgram('trace_execve'), { message: 'The run of probe.bpf.c is stopped: attach trace_execve in a new run.' });
});

test('a failed attach into an open run leaves the programs attached before it, and the run, as they were', async () => {
  const behaviour: { maps: typeof probeMaps; failAttach?: string } = { maps: probeMaps };
  const { agent, calls } = fakeAgent(behaviour);
  const { run } = await openProgramRun(agent, probe, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  await run.attachProgram('trace_execve');
  behaviour.failAttach = 'Object obj2 is busy';
  await assert.rejects(run.attachProgram('count_openat'), { name: 'AttachError', message: 'Cannot attach count_openat (SEC("tracepoint/syscalls/sys_enter_openat")): Object obj2 is busy' });
  assert.deepEqual(run.attached.map((a) => a.program), ['trace_execve']);
  assert.ok(!calls.some((c) => c[0] === 'release' && c[1] === run.objectId), 'the object stays loaded');
  await run.stop();
});

test('the run decodes map keys and values with the BTF of the object it runs', async () => {
  const { agent, objects } = fakeAgent({ maps: probeMaps });
  const { run } = await openProgramRun(agent, probe, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  assert.equal(run.valueDecoder(0).typeName, 'unknown', 'no BTF type: hex');
  const elf = objects.get(run.objectId)!;
  const eventType = parseBtf(objectBtfBytes(BpfObject.parse(elf), elf)!).byName('exec_event', 'struct')!.id;
  assert.equal(run.valueDecoder(eventType).typeName, 'struct exec_event');
  const record = probeRecord(99, 'cat');
  assert.deepEqual(run.valueDecoder(eventType).decode(record, 0, record.length), { pid: 99, comm: 'cat' });
  await run.stop();
});

test('a run tells when its file now reads differently from what it compiled (attaching more would run stale code)', async () => {
  const file = path.join(scratch, 'probe.bpf.c');
  fs.copyFileSync(probe, file);
  const { agent } = fakeAgent({ maps: probeMaps });
  const { run } = await openProgramRun(agent, file, { target: 'fake', kernelRelease: '6.18' });
  assert.ok(run);
  assert.equal(await run.sourceChanged(), false);
  fs.appendFileSync(file, '/* edited */\n');
  assert.equal(await run.sourceChanged(), true);
  await run.stop();
});

test("a run tells when its project's compile flags changed since it compiled", async () => {
  const dir = fs.mkdtempSync(path.join(scratch, 'project-'));
  const file = path.join(dir, 'probe.bpf.c');
  fs.copyFileSync(probe, file);
  const database = (define: string) => JSON.stringify([{ directory: dir, file, arguments: ['clang', `-D${define}`, '-c', file] }]);
  fs.writeFileSync(path.join(dir, 'compile_commands.json'), database('LEVEL=1'));
  const { agent } = fakeAgent({ maps: probeMaps });
  const defines: unknown[] = [];
  const forward = agent.request as (method: string, params: unknown, signal?: AbortSignal) => Promise<unknown>;
  const recording = {
    ...agent,
    request: ((method: string, params: unknown, signal?: AbortSignal) => {
      if (method === 'compile') defines.push((params as CompileParams).defines);
      return forward(method, params, signal);
    }) as typeof agent.request,
  };
  const { run } = await openProgramRun(recording, file, { target: 'fake', kernelRelease: '6.18', project: { workspaceRoot: dir } });
  assert.ok(run);
  // Verified, then compiled for the run: both with the database's define.
  assert.deepEqual(defines, [['LEVEL=1'], ['LEVEL=1']]);
  assert.equal(await run.sourceChanged(), false);
  fs.writeFileSync(path.join(dir, 'compile_commands.json'), database('LEVEL=22'));
  assert.equal(await run.sourceChanged(), true);
  await run.stop();
});

test('the CLI prints a record per line: text with local time and name=value, NDJSON with the fields object', () => {
  const receivedAt = new Date(2026, 0, 1, 13, 4, 5, 6).getTime();
  const batch: EventBatch = {
    map: 'events',
    receivedAt,
    records: [{ pid: 4242, comm: 'bash', big: 2n ** 64n - 1n, nested: { a: [1, 2] } }],
    counters: { received: 1, sent: 1, dropped: 0 },
  };
  assert.equal(eventBatchText(batch), '13:04:05.006 events pid=4242 comm="bash" big=18446744073709551615 nested={a=[1,2]}\n');
  const json = eventBatchJson(batch);
  assert.equal(json, `{"type":"event","time":"${new Date(receivedAt).toISOString()}","map":"events","fields":{"pid":4242,"comm":"bash","big":18446744073709551615,"nested":{"a":[1,2]}}}\n`);
  assert.equal(summaryText({ streams: [{ map: 'events', received: 5, sent: 4, dropped: 1, decoded: 4 }], trace: null }), 'events: 5 received, 4 sent, 1 dropped, 4 decoded\n');
});
