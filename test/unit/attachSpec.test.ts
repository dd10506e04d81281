/**
 * What users write after --attach, and the AttachTarget each means; bad specs fail with a message
 * that names the spec and the form to write instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explicitTargetNeeded, parseAttachSpec, programTypesFor } from '../../remote-agent/client/attachSpec';

test('network hooks: xdp with and without a mode, tc with a direction, a socket filter', () => {
  assert.deepEqual(parseAttachSpec('xdp:veth0'), { target: { kind: 'xdp', interface: 'veth0' } });
  assert.deepEqual(parseAttachSpec('xdp:veth0:generic'), { target: { kind: 'xdp', interface: 'veth0', mode: 'generic' } });
  assert.deepEqual(parseAttachSpec('tc:eth0:ingress'), { target: { kind: 'tc', interface: 'eth0', direction: 'ingress' } });
  assert.deepEqual(parseAttachSpec('tc:eth0:egress'), { target: { kind: 'tc', interface: 'eth0', direction: 'egress' } });
  assert.deepEqual(parseAttachSpec('socket:eth0'), { target: { kind: 'socket_filter', interface: 'eth0' } });
});

test('user-space probes: uprobe, uretprobe, symbol+offset, bare offset, pid filter, usdt', () => {
  assert.deepEqual(parseAttachSpec('uprobe:/usr/bin/bash:readline'), { target: { kind: 'uprobe', binary: '/usr/bin/bash', symbol: 'readline' } });
  assert.deepEqual(parseAttachSpec('uretprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc'), {
    target: { kind: 'uprobe', binary: '/lib/x86_64-linux-gnu/libc.so.6', symbol: 'malloc', retprobe: true },
  });
  assert.deepEqual(parseAttachSpec('uprobe:/usr/bin/bash:readline+0x10:pid=4242'), {
    target: { kind: 'uprobe', binary: '/usr/bin/bash', symbol: 'readline', offset: 16, pid: 4242 },
  });
  assert.deepEqual(parseAttachSpec('uprobe:/opt/app:0x1a2b'), { target: { kind: 'uprobe', binary: '/opt/app', offset: 0x1a2b } });
  assert.deepEqual(parseAttachSpec('usdt:/usr/bin/python3:python:function__entry'), {
    target: { kind: 'usdt', binary: '/usr/bin/python3', provider: 'python', name: 'function__entry' },
  });
  assert.deepEqual(parseAttachSpec('usdt:/usr/bin/python3:python:function__entry:pid=7'), {
    target: { kind: 'usdt', binary: '/usr/bin/python3', provider: 'python', name: 'function__entry', pid: 7 },
  });
});

test('kernel hooks: kprobe (+offset), kretprobe, tracepoint in both spellings, raw tracepoint', () => {
  assert.deepEqual(parseAttachSpec('kprobe:do_sys_openat2'), { target: { kind: 'kprobe', function: 'do_sys_openat2' } });
  assert.deepEqual(parseAttachSpec('kprobe:tcp_v4_connect+4'), { target: { kind: 'kprobe', function: 'tcp_v4_connect', offset: 4 } });
  assert.deepEqual(parseAttachSpec('kretprobe:do_sys_openat2'), { target: { kind: 'kprobe', function: 'do_sys_openat2', retprobe: true } });
  assert.deepEqual(parseAttachSpec('tracepoint:syscalls:sys_enter_execve'), { target: { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_execve' } });
  assert.deepEqual(parseAttachSpec('tp:sched/sched_switch'), { target: { kind: 'tracepoint', category: 'sched', name: 'sched_switch' } });
  assert.deepEqual(parseAttachSpec('raw_tp:sched_switch'), { target: { kind: 'raw_tracepoint', name: 'sched_switch' } });
});

test('cgroup paths are taken whole, even with a colon; perf events with a frequency or a period and a cpu', () => {
  assert.deepEqual(parseAttachSpec('cgroup:/sys/fs/cgroup/x'), { target: { kind: 'cgroup', path: '/sys/fs/cgroup/x' } });
  assert.deepEqual(parseAttachSpec('cgroup:/sys/fs/cgroup/a:b.scope'), { target: { kind: 'cgroup', path: '/sys/fs/cgroup/a:b.scope' } });
  assert.deepEqual(parseAttachSpec('perf_event:cpu-clock:freq=99'), { target: { kind: 'perf_event', event: 'cpu-clock', frequency: 99 } });
  assert.deepEqual(parseAttachSpec('perf_event:instructions:period=1000000:cpu=1'), {
    target: { kind: 'perf_event', event: 'instructions', period: 1000000, cpu: 1 },
  });
});

test('PROGRAM=SPEC names the program; the = inside perf_event options is not a program name', () => {
  assert.deepEqual(parseAttachSpec('xdp_pass=xdp:veth0:generic'), { program: 'xdp_pass', target: { kind: 'xdp', interface: 'veth0', mode: 'generic' } });
  assert.deepEqual(parseAttachSpec('on_cpu=perf_event:cpu-clock:freq=99'), {
    program: 'on_cpu',
    target: { kind: 'perf_event', event: 'cpu-clock', frequency: 99 },
  });
});

test('bad specs say what is wrong and what to write', () => {
  const cases: [string, string][] = [
    ['', "Attach spec '': it is empty; write one of: tracepoint:CATEGORY:NAME"],
    ['fentry:do_sys_openat2', "Attach spec 'fentry:do_sys_openat2': 'fentry' is not an attach kind; write one of:"],
    ['xdp', "Attach spec 'xdp': write it as xdp:INTERFACE[:native|generic|offload] (e.g. xdp:veth0:generic)."],
    ['xdp:veth0:turbo', "Attach spec 'xdp:veth0:turbo': the XDP mode is native, generic or offload, not 'turbo'."],
    ['tc:eth0', "Attach spec 'tc:eth0': write it as tc:INTERFACE:ingress|egress (e.g. tc:eth0:ingress)."],
    ['tc:eth0:sideways', "Attach spec 'tc:eth0:sideways': the tc direction is ingress or egress, not 'sideways'."],
    ['xdp:a-very-long-interface-name', "Attach spec 'xdp:a-very-long-interface-name': 'a-very-long-interface-name' is not a network interface name"],
    ['uprobe:bash:readline', "Attach spec 'uprobe:bash:readline': the binary must be an absolute path on the target, not 'bash'."],
    ['uprobe:/usr/bin/bash', "Attach spec 'uprobe:/usr/bin/bash': write it as uprobe:BINARY:SYMBOL[+OFFSET][:pid=PID]"],
    ['kretprobe:vfs_read+8', "Attach spec 'kretprobe:vfs_read+8': a kretprobe fires on function return; it takes no offset."],
    ['perf_event:cpu-clock', "Attach spec 'perf_event:cpu-clock': write it as perf_event:EVENT:freq=HZ|period=N[:cpu=N]"],
    ['perf_event:page-faults:freq=99', "Attach spec 'perf_event:page-faults:freq=99': 'page-faults' is not a supported perf event"],
    ['perf_event:cpu-clock:freq=99:period=5', "Attach spec 'perf_event:cpu-clock:freq=99:period=5': give exactly one of freq=HZ and period=N."],
    ['cgroup:sys/fs/cgroup', "Attach spec 'cgroup:sys/fs/cgroup': the cgroup must be an absolute path on the target"],
    ['1prog=xdp:eth0', "Attach spec '1prog=xdp:eth0': '1prog' before '=' is not a program name (a C function name)."],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseAttachSpec(spec),
      (error: Error) => error.name === 'AttachSpecError' && error.message.startsWith(message),
      `${spec} → ${message}`,
    );
  }
});

test('each target kind names the program types that attach to it', () => {
  assert.deepEqual(programTypesFor({ kind: 'uprobe', binary: '/bin/true', symbol: 'main' }), ['kprobe']);
  assert.deepEqual(programTypesFor({ kind: 'tc', interface: 'lo', direction: 'ingress' }), ['sched_cls', 'sched_act']);
  assert.deepEqual(programTypesFor({ kind: 'xdp', interface: 'lo' }), ['xdp']);
});

test('sections that libbpf cannot auto-attach ask for a spec; complete sections do not', () => {
  assert.deepEqual(explicitTargetNeeded('xdp'), { why: 'an XDP program needs an interface', example: 'xdp:eth0' });
  assert.deepEqual(explicitTargetNeeded('tc'), { why: 'a tc program needs an interface and a direction', example: 'tc:eth0:ingress' });
  assert.deepEqual(explicitTargetNeeded('uprobe'), { why: 'SEC("uprobe") names no binary', example: 'uprobe:/usr/bin/bash:readline' });
  assert.equal(explicitTargetNeeded('uprobe//usr/bin/bash:readline'), null);
  // Loader-style sections that name the function but not the binary: the spec keeps the function.
  assert.deepEqual(explicitTargetNeeded('uretprobe/readline'), { why: 'SEC("uretprobe/readline") names no binary', example: 'uretprobe:/usr/bin/bash:readline' });
  assert.deepEqual(explicitTargetNeeded('uprobe.s/malloc'), { why: 'SEC("uprobe.s/malloc") names no binary', example: 'uprobe:/usr/bin/bash:malloc' });
  assert.deepEqual(explicitTargetNeeded('usdt'), { why: 'SEC("usdt") names no binary', example: 'usdt:/path/to/bin:provider:name' });
  assert.deepEqual(explicitTargetNeeded('usdt/libc:setjmp'), { why: 'SEC("usdt/libc:setjmp") names no binary', example: 'usdt:/path/to/bin:provider:name' });
  assert.equal(explicitTargetNeeded('usdt//usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp'), null);
  assert.equal(explicitTargetNeeded('tracepoint/syscalls/sys_enter_execve'), null);
  assert.equal(explicitTargetNeeded('kprobe/do_sys_openat2'), null);
});
