/**
 * trace_pipe lines as this 6.18 kernel printed them for a bpf_printk() program (captured from
 * /sys/kernel/tracing/trace_pipe), plus the older 4-flag layout, the record-tgid column and a comm
 * with spaces and dashes: every column comes out exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLostLine, parseTraceLine } from '../../remote-agent/client/traceLine';

test('a bpf_printk line: comm, pid, cpu, flags, timestamp, event and message', () => {
  assert.deepEqual(parseTraceLine('            bash-691     [000] ...21  2585.611676: bpf_trace_printk: execve by pid 691: hello'), {
    comm: 'bash',
    pid: 691,
    tgid: null,
    cpu: 0,
    flags: '...21',
    timestamp: 2585.611676,
    event: 'bpf_trace_printk',
    message: 'execve by pid 691: hello',
  });
});

test('an uncached comm is <...>; cpu numbers are decimal', () => {
  const line = parseTraceLine('           <...>-688     [001] ...21  2585.562850: bpf_trace_printk: execve by pid 688: hello');
  assert.equal(line?.comm, '<...>');
  assert.equal(line?.pid, 688);
  assert.equal(line?.cpu, 1);
});

test('a comm with spaces and dashes keeps them; the pid is the last -DIGITS before the cpu', () => {
  const line = parseTraceLine('       my prog-x-12345   [003] d.h1. 100000.000001: bpf_trace_printk: a: b: c');
  assert.equal(line?.comm, 'my prog-x');
  assert.equal(line?.pid, 12345);
  assert.equal(line?.cpu, 3);
  assert.equal(line?.flags, 'd.h1.');
  assert.equal(line?.timestamp, 100000.000001);
  assert.equal(line?.message, 'a: b: c');
});

test('older kernels print four flags; the record-tgid option adds a (tgid) column', () => {
  assert.deepEqual(parseTraceLine('          <idle>-0       [001] d.s.   912.334455: bpf_trace_printk: tick'), {
    comm: '<idle>',
    pid: 0,
    tgid: null,
    cpu: 1,
    flags: 'd.s.',
    timestamp: 912.334455,
    event: 'bpf_trace_printk',
    message: 'tick',
  });
  const withTgid = parseTraceLine('            curl-5120    (   5118) [000] ...21  77.100000: bpf_trace_printk: connect');
  assert.equal(withTgid?.pid, 5120);
  assert.equal(withTgid?.tgid, 5118);
  assert.equal(parseTraceLine('          <idle>-0       (-------) [001] d.s.   912.334455: bpf_trace_printk: tick')?.tgid, null);
});

test('an empty message and a message with trailing spaces survive', () => {
  assert.equal(parseTraceLine('            true-692     [000] ...21  2585.614131: bpf_trace_printk: ')?.message, '');
  assert.equal(parseTraceLine('            true-692     [000] ...21  2585.614131: bpf_trace_printk: x  ')?.message, 'x  ');
});

test('lines of another shape are not trace lines; lost-event lines say how many were lost', () => {
  assert.equal(parseTraceLine('CPU:1 [LOST 12 EVENTS]'), null);
  assert.equal(parseTraceLine(''), null);
  assert.deepEqual(parseLostLine('CPU:1 [LOST 12 EVENTS]'), { cpu: 1, lost: 12 });
  assert.equal(parseLostLine('bash-1 [000] ...21 1.0: bpf_trace_printk: x'), null);
});
