/**
 * How a check report's positions follow the user's edits until the next verify
 * (extension/textEditShift.ts): lines inserted or deleted above, edits on the line, several
 * changes in one edit, CRLF text, and the deletion of a diagnostic's line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckReport, SourceDiagnostic } from '../../remote-agent/client/checkReport';
import type { WalkedLine } from '../../remote-agent/client/verifierWalk';
import { lineAfter, lineEditsOf, positionAfter, shiftReportPositions, splitLines, type TextChange } from '../../extension/textEditShift';

const FILE = '/src/probe.bpf.c';
const HEADER = '/src/probe.h';

/** The probe the edits below are made to; the verifier rejects line 9 (1-based) after the lookup on line 8. */
const SOURCE = [
  '#include "vmlinux.h"', //                                   1
  '#include <bpf/bpf_helpers.h>', //                           2
  '', //                                                       3
  'SEC("tracepoint/syscalls/sys_enter_execve")', //            4
  'int count_execs(void *ctx)', //                             5
  '{', //                                                      6
  '\t__u32 pid = bpf_get_current_pid_tgid() >> 32;', //        7
  '\t__u64 *count = bpf_map_lookup_elem(&counts, &pid);', //   8
  '\t*count += 1;', //                                         9
  '\treturn 0;', //                                            10
  '}', //                                                      11
];

function change(startLine: number, startCharacter: number, endLine: number, endCharacter: number, text: string): TextChange {
  return { range: { start: { line: startLine, character: startCharacter }, end: { line: endLine, character: endCharacter } }, text };
}

function report(): CheckReport {
  const rejection: SourceDiagnostic = {
    file: FILE,
    line: 9,
    column: 9,
    severity: 'error',
    message: "R0 invalid mem access 'map_value_or_null'",
    source: 'verifier',
    program: 'count_execs',
    related: [
      { file: FILE, line: 8, column: 17, message: 'R0 becomes a nullable map value here' },
      { file: HEADER, line: 3, column: 1, message: 'in the header' },
    ],
  };
  const clangWarning: SourceDiagnostic = { file: FILE, line: 7, column: 14, severity: 'warning', message: 'implicit conversion', source: 'clang' };
  return {
    file: FILE,
    target: 'local',
    kernelRelease: '6.18.0',
    compiled: true,
    diagnostics: [rejection, clangWarning],
    programs: [
      {
        name: 'count_execs',
        section: 'tracepoint/syscalls/sys_enter_execve',
        type: 'tracepoint',
        ok: false,
        file: FILE,
        line: 5,
        insnCount: 9,
        insnsProcessed: 7,
        totalStates: 0,
        peakStates: 0,
        verificationTimeUs: 30,
        stackDepth: 8,
        walk: {
          lines: [walked(7), walked(8), walked(9)],
          logSources: [7, 8, 9].map((line, i) => ({ file: FILE, line, fromLogLine: 2 * i + 1 })),
          insnLines: 7,
          complete: false,
          unreached: [{ file: FILE, line: 10 }],
        },
        log: '',
      },
    ],
    compileMs: 1,
    loadMs: 1,
    compiledOn: 'target',
  };
}

function walked(line: number): WalkedLine {
  return { file: FILE, line, insnsProcessed: 2, entries: 1, stateBefore: '', registers: [], instructions: [], firstLogLine: line };
}

/** The report after `changes` to SOURCE in `file`, as [line, column] of each diagnostic, its related lines, and the program's line. */
function shifted(changes: TextChange[], lines: string[] = SOURCE, file = FILE) {
  const after = shiftReportPositions(report(), file, lineEditsOf(lines, changes));
  return {
    diagnostics: after.diagnostics.map((d) => ({ at: [d.line, d.column], related: d.related?.map((r) => r.line) })),
    program: after.programs[0]!.line,
  };
}

test('lines inserted above move every position down by as many lines', () => {
  // Two lines typed after the #includes (Enter at the end of line 2, then a line of code).
  assert.deepEqual(shifted([change(1, 28, 1, 28, '\n#define MAX 16\n')]), {
    diagnostics: [{ at: [11, 9], related: [10, 3] }, { at: [9, 14], related: undefined }],
    program: 7,
  });
});

test('lines deleted above move every position up; positions above the edit stay', () => {
  // Lines 2 and 3 selected whole and deleted.
  assert.deepEqual(shifted([change(1, 0, 3, 0, '')]), {
    diagnostics: [{ at: [7, 9], related: [6, 3] }, { at: [5, 14], related: undefined }],
    program: 3,
  });
  assert.deepEqual(shifted([change(10, 0, 10, 1, '}\n// end')]), {
    diagnostics: [{ at: [9, 9], related: [8, 3] }, { at: [7, 14], related: undefined }],
    program: 5,
  });
});

test('an edit inside a diagnostic\'s line keeps it on that line', () => {
  const unchanged = { diagnostics: [{ at: [9, 9], related: [8, 3] }, { at: [7, 14], related: undefined }], program: 5 };
  assert.deepEqual(shifted([change(8, 1, 8, 7, 'counter')]), unchanged, 'a word replaced');
  assert.deepEqual(shifted([change(8, 12, 8, 12, ' // FIXME')]), unchanged, 'typing at its end');
  assert.deepEqual(shifted([change(8, 12, 8, 12, '\n\t')]), unchanged, 'Enter at its end opens the line below it');
  assert.deepEqual(shifted([change(8, 6, 8, 6, '\n\t')]), unchanged, 'Enter inside its code splits it; the diagnostic keeps the first part');
  // Enter before its code (after the indentation) pushes the code, and the diagnostic, down a line.
  assert.deepEqual(shifted([change(8, 1, 8, 1, '\n\t')]), { diagnostics: [{ at: [10, 9], related: [8, 3] }, { at: [7, 14], related: undefined }], program: 5 });
});

test('an exact column (clang\'s) follows the text typed before it on its line; the verifier\'s whole-line diagnostics keep their column', () => {
  // "__u32 " becomes "unsigned int " on line 7: clang's column 14 moves right by 7.
  assert.deepEqual(shifted([change(6, 1, 6, 6, 'unsigned int')]).diagnostics[1], { at: [7, 21], related: undefined });
  assert.deepEqual(shifted([change(8, 1, 8, 1, '/* x */ ')]).diagnostics[0], { at: [9, 9], related: [8, 3] });
});

test('the changes of one edit apply in order, each to the text the previous left', () => {
  // Multi-cursor typing as VS Code reports it, last position first: a line after line 9, then one after line 2.
  assert.deepEqual(shifted([change(8, 12, 8, 12, '\n\tbpf_printk("x");'), change(1, 28, 1, 28, '\n#define X 1')]), {
    diagnostics: [{ at: [10, 9], related: [9, 3] }, { at: [8, 14], related: undefined }],
    program: 6,
  });
  // Two lines inserted at the top, then the second change deletes line 10 of the new text: the old line 8, the lookup.
  assert.deepEqual(shifted([change(0, 0, 0, 0, '// a\n// b\n'), change(9, 0, 10, 0, '')]), {
    diagnostics: [{ at: [10, 9], related: [3] }, { at: [9, 14], related: undefined }],
    program: 7,
  });
});

test('CRLF text moves positions exactly as LF text does', () => {
  const crlf = splitLines(SOURCE.join('\r\n'));
  assert.deepEqual(crlf, SOURCE);
  assert.deepEqual(shifted([change(1, 28, 1, 28, '\r\n#define MAX 16\r\n')], crlf), shifted([change(1, 28, 1, 28, '\n#define MAX 16\n')]));
  assert.deepEqual(shifted([change(8, 1, 8, 1, '\r\n\t')], crlf), shifted([change(8, 1, 8, 1, '\n\t')]));
});

test('a diagnostic whose whole line was deleted is dropped, as is a related location on a deleted line', () => {
  // Line 9 deleted whole (Ctrl+Shift+K): the rejection goes; the clang warning above stays.
  assert.deepEqual(shifted([change(8, 0, 9, 0, '')]), { diagnostics: [{ at: [7, 14], related: undefined }], program: 5 });
  // Line 8 deleted: the rejection moves up to line 8 and loses the related lookup line.
  assert.deepEqual(shifted([change(7, 0, 8, 0, '')]), { diagnostics: [{ at: [8, 9], related: [3] }, { at: [7, 14], related: undefined }], program: 5 });
  // The last line of a file deleted from the end of the line before it.
  const edits = lineEditsOf(SOURCE, [change(9, 10, 10, 1, '')]);
  assert.equal(lineAfter(10, edits[0]!), undefined);
  assert.equal(lineAfter(9, edits[0]!), 9);
  // A line's content replaced but its line kept is an edit inside the line.
  assert.deepEqual(shifted([change(8, 1, 8, 12, 'if (count) *count += 1;')]).diagnostics[0], { at: [9, 9], related: [8, 3] });
});

test('a program whose first line was deleted stays where the deletion was', () => {
  assert.equal(shifted([change(3, 0, 5, 0, '')]).program, 4);
});

test('the walk follows too: walked and never-reached lines move or go with their code; a stretch of log stays where its line was', () => {
  // Line 8 (the lookup) deleted.
  const walk = shiftReportPositions(report(), FILE, lineEditsOf(SOURCE, [change(7, 0, 8, 0, '')])).programs[0]!.walk!;
  assert.deepEqual(walk.lines.map((l) => l.line), [7, 8]);
  assert.deepEqual(walk.unreached, [{ file: FILE, line: 9 }]);
  assert.deepEqual(walk.logSources.map((run) => [run.line, run.fromLogLine]), [[7, 1], [8, 3], [8, 5]]);
  assert.equal(walk.lines[1]!.insnsProcessed, 2, 'the rest of a walked line is kept');
});

test('edits of another file move only the positions in it; nothing moved gives the same report', () => {
  const header = ['#pragma once', '', 'struct key { int pid; };'];
  const after = shiftReportPositions(report(), HEADER, lineEditsOf(header, [change(0, 0, 0, 0, '// the key\n')]));
  assert.deepEqual(after.diagnostics[0]!.related!.map((r) => [r.file, r.line]), [[FILE, 8], [HEADER, 4]]);
  assert.equal(after.diagnostics[0]!.line, 9);
  const original = report();
  assert.equal(shiftReportPositions(original, FILE, lineEditsOf(SOURCE, [change(10, 1, 10, 1, '\n')])), original);
  assert.equal(shiftReportPositions(original, FILE, lineEditsOf(SOURCE, [change(8, 3, 8, 3, 'x')])), original);
});

test('a position inside replaced text goes to its edge on the side its line\'s code went; one after it follows the new text', () => {
  // Lines 8 and 9 joined: "\t__u64 *" + "p" + "ount += 1;".
  const [edit] = lineEditsOf(SOURCE, [change(7, 8, 8, 3, 'p')]);
  assert.deepEqual(positionAfter({ line: 7, character: 10 }, edit!), { line: 7, character: 8 });
  assert.deepEqual(positionAfter({ line: 8, character: 1 }, edit!), { line: 7, character: 9 });
  assert.deepEqual(positionAfter({ line: 8, character: 5 }, edit!), { line: 7, character: 11 });
  assert.equal(positionAfter({ line: 5, character: 0 }, lineEditsOf(SOURCE, [change(4, 0, 6, 0, '')])[0]!), undefined);
});
