/** Specification of clang stderr → diagnostics, on output clang 14 wrote for BPF targets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClangDiagnostics } from '../../remote-agent/client/clangDiagnostics';

const ROOT = '/home/dev/proj/bpf';
const LOCAL: Record<string, string> = {
  'cerr.bpf.c': `${ROOT}/cerr.bpf.c`,
  'lib/bad.h': `${ROOT}/lib/bad.h`,
  'prog.bpf.c': `${ROOT}/prog.bpf.c`,
};
const resolve = (name: string) => LOCAL[name.replace(/^\.\//, '')];

const HEADER_ERRORS = `In file included from cerr.bpf.c:3:
./lib/bad.h:3:13: error: use of undeclared identifier 'undeclared_in_header'
        return v + undeclared_in_header;
                   ^
./lib/bad.h:7:6: error: conflicting types for 'dup'
long dup(int a);
     ^
./lib/bad.h:6:5: note: previous declaration is here
int dup(int a);
    ^
cerr.bpf.c:10:9: warning: implicit declaration of function 'helper_missing' is invalid in C99 [-Wimplicit-function-declaration]
        return helper_missing(x) + bad_inline(3);
               ^
cerr.bpf.c:8:6: warning: unused variable 'unused' [-Wunused-variable]
        int unused;
            ^
2 warnings and 2 errors generated.
`;

test('errors and warnings land on the local file, line and column; notes become related information', () => {
  const diags = parseClangDiagnostics(HEADER_ERRORS, resolve, `${ROOT}/cerr.bpf.c`);
  assert.deepEqual(diags, [
    { file: `${ROOT}/lib/bad.h`, line: 3, column: 13, severity: 'error', message: "use of undeclared identifier 'undeclared_in_header'", source: 'clang' },
    {
      file: `${ROOT}/lib/bad.h`,
      line: 7,
      column: 6,
      severity: 'error',
      message: "conflicting types for 'dup'",
      source: 'clang',
      related: [{ file: `${ROOT}/lib/bad.h`, line: 6, column: 5, message: 'previous declaration is here' }],
    },
    {
      file: `${ROOT}/cerr.bpf.c`,
      line: 10,
      column: 9,
      severity: 'warning',
      message: "implicit declaration of function 'helper_missing' is invalid in C99 [-Wimplicit-function-declaration]",
      source: 'clang',
    },
    { file: `${ROOT}/cerr.bpf.c`, line: 8, column: 6, severity: 'warning', message: "unused variable 'unused' [-Wunused-variable]", source: 'clang' },
  ]);
});

test('a fatal error in a target system header is shown at the workspace #include that pulls it in', () => {
  const stderr = `In file included from prog.bpf.c:5:
In file included from /usr/include/linux/bpf.h:11:
/usr/include/linux/types.h:5:10: fatal error: 'asm/types.h' file not found
#include <asm/types.h>
         ^~~~~~~~~~~~~
1 error generated.
`;
  assert.deepEqual(parseClangDiagnostics(stderr, resolve, `${ROOT}/prog.bpf.c`), [
    {
      file: `${ROOT}/prog.bpf.c`,
      line: 5,
      column: 1,
      severity: 'error',
      message: "In included file /usr/include/linux/types.h:5:10: 'asm/types.h' file not found",
      source: 'clang',
    },
  ]);
});

test('#error has a column; a diagnostic without a column gets column 1', () => {
  const diags = parseClangDiagnostics('prog.bpf.c:1:2: error: stop here\nprog.bpf.c:4: warning: no column here\n', resolve, `${ROOT}/prog.bpf.c`);
  assert.deepEqual(
    diags.map((d) => [d.line, d.column, d.severity, d.message]),
    [
      [1, 2, 'error', 'stop here'],
      [4, 1, 'warning', 'no column here'],
    ],
  );
});

test('a note about a system header stays attached to its error, anchored at the error', () => {
  const stderr = `prog.bpf.c:12:2: error: too few arguments to function call, expected 2, have 1
        bpf_map_lookup_elem(&counters);
        ^
/usr/include/bpf/bpf_helper_defs.h:56:14: note: 'bpf_map_lookup_elem' declared here
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
             ^
`;
  const [d] = parseClangDiagnostics(stderr, resolve, `${ROOT}/prog.bpf.c`);
  assert.deepEqual(d.related, [
    { file: `${ROOT}/prog.bpf.c`, line: 12, column: 1, message: "/usr/include/bpf/bpf_helper_defs.h:56:14: 'bpf_map_lookup_elem' declared here" },
  ]);
});

test('errors without a file (driver errors) go on the main file', () => {
  const diags = parseClangDiagnostics("clang: error: unable to open output file 'prog.o': 'Permission denied'\n", resolve, `${ROOT}/prog.bpf.c`);
  assert.deepEqual(diags, [
    { file: `${ROOT}/prog.bpf.c`, line: 1, column: 1, severity: 'error', message: "unable to open output file 'prog.o': 'Permission denied'", source: 'clang' },
  ]);
});
