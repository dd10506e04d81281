/**
 * Where a check report's source positions are after the user edits the text it was checked from.
 * VS Code does not move published diagnostics with the text, so until the next verify the
 * extension moves the report's positions itself: lines inserted or deleted above a position move
 * it, an edit inside its line keeps it there, and a position whose whole line was deleted is gone.
 * Pure (no vscode import), so the arithmetic is unit-tested on its own.
 */
import type { CheckReport, ProgramReport, ReportedWalk, SourceDiagnostic } from '../remote-agent/client/checkReport';
import type { SourceLine } from '../remote-agent/client/verifierWalk';

/** 0-based, as VS Code counts. */
export interface TextPosition {
  line: number;
  character: number;
}

/** One change of a document as VS Code reports it (TextDocumentContentChangeEvent has this shape). */
export interface TextChange {
  range: { start: TextPosition; end: TextPosition };
  text: string;
}

/**
 * A change with what it kept of the lines it touched: `head`, the first line's text before the
 * change, and `tail`, the last line's text after it. Whether they hold code decides where that
 * line's code went (Enter before a statement pushes it down; Enter after it does not).
 */
export interface LineEdit extends TextChange {
  head: string;
  tail: string;
}

/**
 * The changes of one edit as LineEdits, given the document's lines before it. The changes apply
 * one after the other, each to the text the previous ones left, as VS Code and LSP define them.
 */
export function lineEditsOf(linesBefore: readonly string[], changes: readonly TextChange[]): LineEdit[] {
  let lines = linesBefore;
  return changes.map((change) => {
    const { start, end } = change.range;
    const head = (lines[start.line] ?? '').slice(0, start.character);
    const tail = (lines[end.line] ?? '').slice(end.character);
    lines = [...lines.slice(0, start.line), ...splitLines(head + change.text + tail), ...lines.slice(end.line + 1)];
    return { ...change, head, tail };
  });
}

/** A document's text as lines; CRLF and LF end a line alike. */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** Where the code of 0-based `line` is after `edit`; undefined when the edit removed all of it. */
export function lineAfter(line: number, edit: LineEdit): number | undefined {
  const { start, end } = edit.range;
  const added = newlinesIn(edit.text);
  if (line < start.line) return line;
  if (line > end.line) return line + added - (end.line - start.line);
  const headHasCode = edit.head.trim() !== '';
  const tailHasCode = edit.tail.trim() !== '';
  if (start.line === end.line) {
    // An edit inside the line keeps it there, unless it inserted lines before all of its code.
    return added > 0 && !headHasCode && tailHasCode ? start.line + added : line;
  }
  if (line === start.line && headHasCode) return start.line;
  if (line === end.line && tailHasCode) return start.line + added;
  return undefined;
}

/**
 * Where the character at `position` is after `edit`: text before the edit stays, text after it
 * follows the inserted text (an insertion exactly at the position pushes it right); a position
 * inside the replaced text goes where its line's code went (lineAfter), or is gone with it.
 */
export function positionAfter(position: TextPosition, edit: LineEdit): TextPosition | undefined {
  const { start, end } = edit.range;
  const added = newlinesIn(edit.text);
  if (position.line < start.line || (position.line === start.line && position.character < start.character)) return position;
  if (position.line > end.line) return { line: position.line + added - (end.line - start.line), character: position.character };
  const insertedEnd = (added === 0 ? start.character : 0) + edit.text.length - (edit.text.lastIndexOf('\n') + 1);
  if (position.line === end.line && position.character >= end.character) {
    return { line: start.line + added, character: insertedEnd + position.character - end.character };
  }
  const line = lineAfter(position.line, edit);
  if (line === undefined) return undefined;
  return { line, character: position.line === start.line && line === start.line ? start.character : insertedEnd };
}

/**
 * `report` with its positions in `file` moved by `edits` (applied in order): diagnostics, related
 * locations and the walk's lines (walked, never reached) whose code was deleted are dropped; a
 * program whose first line was deleted, and a stretch of its log whose line was, stay where the
 * deletion was. The same object when nothing moved, so callers can tell.
 */
export function shiftReportPositions(report: CheckReport, file: string, edits: readonly LineEdit[]): CheckReport {
  let moved = false;
  /** The location moved, the same object when it did not move, undefined when its code was deleted. */
  const follow = <L extends { file: string; line: number; column: number }>(location: L, byColumn: boolean): L | undefined => {
    if (location.file !== file) return location;
    const to = shiftPoint(location.line, location.column, byColumn, edits);
    if (to !== undefined && to.line === location.line && to.column === location.column) return location;
    moved = true;
    return to && { ...location, ...to };
  };
  const diagnostics = report.diagnostics.flatMap((d): SourceDiagnostic[] => {
    const byColumn = d.source === 'clang';
    const at = follow(d, byColumn);
    const related = d.related?.flatMap((r) => follow(r, byColumn) ?? []);
    if (at === undefined) return [];
    const relatedStayed = related === undefined || (related.length === d.related!.length && related.every((r, i) => r === d.related![i]));
    return at === d && relatedStayed ? [d] : [{ ...at, ...(related && { related }) }];
  });
  const programs = report.programs.map((p): ProgramReport => {
    const start = p.line === undefined || (p.file ?? report.file) !== file ? p.line : stickyLine(p.line, edits);
    const walk = p.walk && shiftWalk(p.walk, file, edits);
    if (start === p.line && walk === p.walk) return p;
    moved = true;
    return { ...p, ...(start !== undefined && { line: start }), ...(walk && { walk }) };
  });
  return moved ? { ...report, diagnostics, programs } : report;
}

/** The walk with its lines in `file` moved; the same object when none moved. */
function shiftWalk(walk: ReportedWalk, file: string, edits: readonly LineEdit[]): ReportedWalk {
  let moved = false;
  const follow = <L extends SourceLine>(at: L, keepWhenDeleted: boolean): L[] => {
    if (at.file !== file) return [at];
    const line = keepWhenDeleted ? stickyLine(at.line, edits) : shiftPoint(at.line, 0, false, edits)?.line;
    if (line === at.line) return [at];
    moved = true;
    return line === undefined ? [] : [{ ...at, line }];
  };
  const shifted: ReportedWalk = {
    ...walk,
    lines: walk.lines.flatMap((l) => follow(l, false)),
    unreached: walk.unreached.flatMap((l) => follow(l, false)),
    logSources: walk.logSources.flatMap((run) => follow(run, true)),
  };
  return moved ? shifted : walk;
}

/** A 1-based line moved by the edits; when its code was deleted, the line where the deletion was. */
function stickyLine(line: number, edits: readonly LineEdit[]): number {
  let at = line - 1;
  for (const edit of edits) at = lineAfter(at, edit) ?? edit.range.start.line;
  return at + 1;
}

/**
 * A 1-based line and column moved by the edits: by its column when the column is exact (clang's),
 * else by its line (the verifier's diagnostics mark a whole statement). Undefined when deleted.
 */
function shiftPoint(line: number, column: number, byColumn: boolean, edits: readonly LineEdit[]): { line: number; column: number } | undefined {
  if (byColumn && column >= 1) {
    let position: TextPosition | undefined = { line: line - 1, character: column - 1 };
    for (const edit of edits) position = position && positionAfter(position, edit);
    return position && { line: position.line + 1, column: position.character + 1 };
  }
  let at: number | undefined = line - 1;
  for (const edit of edits) at = at === undefined ? undefined : lineAfter(at, edit);
  return at === undefined ? undefined : { line: at + 1, column };
}

function newlinesIn(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
