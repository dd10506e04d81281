/** The `check` command's output formats and exit status, on hand-made reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatusOf, formatText, toJsonDiagnostics } from '../../cli/formatReport';
import type { CheckReport } from '../../remote-agent/client/checkReport';

const cwd = '/home/dev/probes';

const rejected: CheckReport = {
  file: '/home/dev/probes/probe.bpf.c',
  target: 'root@vm1:22',
  kernelRelease: '6.1.0-27-amd64',
  compiled: true,
  compileMs: 60,
  loadMs: 20,
  compiledOn: 'target',
  diagnostics: [
    {
      file: '/home/dev/probes/probe.bpf.c',
      line: 21,
      column: 5,
      severity: 'error',
      message: "R0 invalid mem access 'map_value_or_null'",
      source: 'verifier',
      program: 'count_exec',
    },
  ],
  programs: [
    { name: 'count_exec', section: 'tracepoint/syscalls/sys_enter_execve', type: 'tracepoint', ok: false, insnCount: 12, insnsProcessed: 7, totalStates: 0, peakStates: 0, verificationTimeUs: 40, stackDepth: 8, log: '', error: "R0 invalid mem access 'map_value_or_null'" },
    { name: 'on_exit', section: 'tracepoint/sched/sched_process_exit', type: 'tracepoint', ok: true, insnCount: 30, insnsProcessed: 1234, totalStates: 9, peakStates: 3, verificationTimeUs: 90, stackDepth: 16, log: '' },
  ],
};

const clangError: CheckReport = {
  file: '/tmp/other/bad.bpf.c',
  target: 'local',
  kernelRelease: '6.18.44',
  compiled: false,
  compileMs: 40,
  loadMs: 0,
  compiledOn: 'target',
  diagnostics: [
    { file: '/tmp/other/bad.bpf.c', line: 3, column: 14, severity: 'error', message: "use of undeclared identifier 'x'", source: 'clang' },
  ],
  programs: [],
};

test('text output prints one compiler-style line per diagnostic, then a verdict line per program; an unexplained verifier message gets a note asking to report it', () => {
  assert.equal(
    formatText([rejected], cwd),
    "probe.bpf.c:21:5: error: R0 invalid mem access 'map_value_or_null' [verifier] (count_exec)\n" +
      'probe.bpf.c:21:5: note: eBPF Studio cannot explain this message yet; please report it: ' +
      'https://example.invalid/ebpf-studio/issues/new?title=Unexplained%20verifier%20message%3A%20R0%20invalid%20mem%20access%20\'map_value_or_null\'\n' +
      'probe.bpf.c: program count_exec (tracepoint/syscalls/sys_enter_execve): failed, 7 insns processed (on root@vm1:22, kernel 6.1.0-27-amd64)\n' +
      'probe.bpf.c: program on_exit (tracepoint/sched/sched_process_exit): ok, 1234 insns processed (on root@vm1:22, kernel 6.1.0-27-amd64)\n',
  );
});

test('text output says a file that did not compile verified nothing, and keeps paths outside the cwd absolute', () => {
  assert.equal(
    formatText([clangError], cwd),
    "/tmp/other/bad.bpf.c:3:14: error: use of undeclared identifier 'x' [clang]\n" +
      '/tmp/other/bad.bpf.c: not compiled, no program verified (on local)\n',
  );
});

test("a file that did not compile with its project's flags says whose they were; one that compiled does not", () => {
  assert.equal(
    formatText([{ ...clangError, compileFlags: { source: '--cflags', ignored: [] } }], cwd),
    "/tmp/other/bad.bpf.c:3:14: error: use of undeclared identifier 'x' [clang]\n" +
      '/tmp/other/bad.bpf.c: note: compiled with the include paths and defines of --cflags\n' +
      '/tmp/other/bad.bpf.c: not compiled, no program verified (on local)\n',
  );
  const fromDatabase = { source: `${cwd}/build/compile_commands.json`, ignored: [{ flag: '-I/usr/include', why: 'outside the workspace' }] };
  assert.match(formatText([{ ...clangError, compileFlags: fromDatabase }], cwd), /^\/tmp\/other\/bad\.bpf\.c: note: compiled with the include paths and defines of build\/compile_commands\.json; not used: -I\/usr\/include \(outside the workspace\)$/m);
  assert.doesNotMatch(formatText([{ ...rejected, compileFlags: fromDatabase }], cwd), /note: compiled with/);
});

test('json output is one flat array of diagnostics with 1-based positions and a null program for clang', () => {
  assert.deepEqual(toJsonDiagnostics([rejected, clangError], cwd), [
    { file: 'probe.bpf.c', line: 21, column: 5, severity: 'error', message: "R0 invalid mem access 'map_value_or_null'", source: 'verifier', program: 'count_exec' },
    { file: '/tmp/other/bad.bpf.c', line: 3, column: 14, severity: 'error', message: "use of undeclared identifier 'x'", source: 'clang', program: null },
  ]);
});

const explained: CheckReport = {
  ...rejected,
  diagnostics: [
    {
      ...rejected.diagnostics[0]!,
      explanation: { id: 'nullable-map-value', title: 'Map value used without a NULL check', text: 'Lookups may return NULL.', fix: 'Check it for NULL first.', docs: 'docs/verifier-errors.md#nullable-map-value' },
      category: 'Register Type Safety',
      related: [{ file: '/home/dev/probes/probe.bpf.c', line: 20, column: 10, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' }],
      suggestion: 'Add a NULL check before the access.',
    },
  ],
  programs: [rejected.programs[0]!],
};

test('text output follows an explained verifier error with a note: its title and the one-line fix', () => {
  assert.equal(
    formatText([explained], cwd),
    "probe.bpf.c:21:5: error: R0 invalid mem access 'map_value_or_null' [verifier] (count_exec)\n" +
      'probe.bpf.c:21:5: note: Map value used without a NULL check. Fix: Check it for NULL first. (docs/verifier-errors.md#nullable-map-value)\n' +
      'probe.bpf.c: program count_exec (tracepoint/syscalls/sys_enter_execve): failed, 7 insns processed (on root@vm1:22, kernel 6.1.0-27-amd64)\n',
  );
});

test('json output carries explanation, category, related locations (relative paths) and suggestion', () => {
  assert.deepEqual(toJsonDiagnostics([explained], cwd), [
    {
      file: 'probe.bpf.c',
      line: 21,
      column: 5,
      severity: 'error',
      message: "R0 invalid mem access 'map_value_or_null'",
      source: 'verifier',
      program: 'count_exec',
      explanation: { id: 'nullable-map-value', title: 'Map value used without a NULL check', text: 'Lookups may return NULL.', fix: 'Check it for NULL first.', docs: 'docs/verifier-errors.md#nullable-map-value' },
      category: 'Register Type Safety',
      related: [{ file: 'probe.bpf.c', line: 20, column: 10, message: 'R0 becomes a nullable map value here (bpf_map_lookup_elem may return NULL)' }],
      suggestion: 'Add a NULL check before the access.',
    },
  ]);
});

test('a failure a load preset stands in for gets a note naming the flag, and the preset in json', () => {
  const unsized: CheckReport = {
    ...rejected,
    diagnostics: [
      { file: '/home/dev/probes/probe.bpf.c', line: 14, column: 3, severity: 'error', message: "map 'stackmap': failed to create: Invalid argument(-22)", source: 'verifier', program: 'count_exec', preset: { kind: 'mapSize', map: 'stackmap' } },
      { file: '/home/dev/probes/probe.bpf.c', line: 30, column: 1, severity: 'error', message: "prog 'fsread': failed to find kernel BTF type ID of 'dummy_file_read': -3", source: 'verifier', program: 'fsread', preset: { kind: 'attachTarget', program: 'fsread', current: 'dummy_file_read' } },
    ],
    programs: [],
  };
  const notes = formatText([unsized], cwd).split('\n').filter((l) => l.includes("loader sets this"));
  assert.deepEqual(notes, [
    "probe.bpf.c:14:3: note: the program's loader sets this before load; check with --map-size stackmap=N",
    "probe.bpf.c:30:1: note: the program's loader sets this before load; check with --attach-target fsread=FUNCTION (in place of dummy_file_read)",
  ]);
  assert.deepEqual(toJsonDiagnostics([unsized], cwd).map((d) => d.preset), [{ kind: 'mapSize', map: 'stackmap' }, { kind: 'attachTarget', program: 'fsread', current: 'dummy_file_read' }]);
});

test('exit status is 1 when any program fails or any file does not compile, else 0', () => {
  assert.equal(exitStatusOf([rejected]), 1);
  assert.equal(exitStatusOf([clangError]), 1);
  const passing: CheckReport = { ...rejected, diagnostics: [], programs: [{ ...rejected.programs[1]! }] };
  assert.equal(exitStatusOf([passing]), 0);
  const withWarning: CheckReport = { ...passing, diagnostics: [{ ...clangError.diagnostics[0]!, severity: 'warning' }] };
  assert.equal(exitStatusOf([withWarning]), 0);
});

test('a verdict compiled on this machine for its target says so', () => {
  const onClient: CheckReport = { ...rejected, compiledOn: 'client', diagnostics: [], programs: [rejected.programs[1]!] };
  assert.equal(
    formatText([onClient], cwd),
    'probe.bpf.c: program on_exit (tracepoint/sched/sched_process_exit): ok, 1234 insns processed (on root@vm1:22, kernel 6.1.0-27-amd64, compiled on this machine against its BTF)\n',
  );
});

test('with --top-src-lines, each program with a walk lists its costliest lines, their share, and the lines never reached', () => {
  const walked: CheckReport = {
    ...rejected,
    diagnostics: [],
    programs: [
      {
        ...rejected.programs[1]!,
        walk: {
          complete: true,
          insnLines: 1000,
          logSources: [],
          lines: [14, 15, 20].map((line, i) => ({
            file: '/home/dev/probes/probe.bpf.c',
            line,
            insnsProcessed: [600, 390, 10][i]!,
            entries: 1,
            stateBefore: '',
            registers: [],
            instructions: [],
            firstLogLine: 0,
          })),
          unreached: [{ file: '/home/dev/probes/probe.bpf.c', line: 17 }],
        },
      },
    ],
  };
  assert.equal(
    formatText([walked], cwd, 2),
    'probe.bpf.c: program on_exit (tracepoint/sched/sched_process_exit): ok, 1234 insns processed (on root@vm1:22, kernel 6.1.0-27-amd64)\n' +
      '  probe.bpf.c:14: 600 insns processed (60%)\n' +
      '  probe.bpf.c:15: 390 insns processed (39%)\n' +
      '  never reached: probe.bpf.c:17\n',
  );
});
