/**
 * Turns clang's stderr (`file:line:col: error|warning|note|fatal error: message`, with
 * `In file included from …` chains) into SourceDiagnostics on local files. Notes become related
 * information of the error or warning they follow. A diagnostic in a file that exists only on
 * the target (a system header) is shown where the workspace includes it, so the user sees it.
 * A pure function of the text; `resolve` maps the target's file names to local absolute paths.
 */
import type { RelatedLocation, Severity, SourceDiagnostic } from './checkReport';

export type ResolveRemotePath = (remoteName: string) => string | undefined;

const LOCATED = /^(.+?):(\d+)(?::(\d+))?: (fatal error|error|warning|note|remark): (.*)$/;
const UNLOCATED = /^(?:clang(?:-[\d.]+)?: )?(fatal error|error|warning): (.*)$/;
const INCLUDED_FROM = /^(?:In file included from|\s+from) (.+):(\d+):$/;

interface RemoteLocation {
  file: string;
  line: number;
  column: number;
}

export function parseClangDiagnostics(stderr: string, resolve: ResolveRemotePath, mainFile: string): SourceDiagnostic[] {
  const diagnostics: SourceDiagnostic[] = [];
  /** Include chain (outermost last) recorded for each file; clang prints it once per switch. */
  const includeChains = new Map<string, RemoteLocation[]>();
  let pendingChain: RemoteLocation[] = [];
  let current: SourceDiagnostic | undefined;

  for (const raw of stderr.split('\n')) {
    const line = raw.replace(/\r$/, '');
    let m: RegExpExecArray | null;
    if ((m = INCLUDED_FROM.exec(line))) {
      pendingChain.push({ file: m[1], line: Number(m[2]), column: 1 });
      continue;
    }
    if ((m = LOCATED.exec(line))) {
      const at: RemoteLocation = { file: m[1], line: Number(m[2]), column: m[3] ? Number(m[3]) : 1 };
      if (pendingChain.length > 0) includeChains.set(at.file, pendingChain);
      pendingChain = [];
      const kind = m[4];
      const message = m[5];
      if (kind === 'note' || kind === 'remark') {
        const related = relatedLocation(at, message, resolve, includeChains, current);
        if (current && related) (current.related ??= []).push(related);
        else if (!current) diagnostics.push(place(at, 'note', message, resolve, includeChains, mainFile));
        continue;
      }
      current = place(at, 'error' === kind || 'fatal error' === kind ? 'error' : 'warning', message, resolve, includeChains, mainFile);
      diagnostics.push(current);
      continue;
    }
    if ((m = UNLOCATED.exec(line))) {
      pendingChain = [];
      current = {
        file: mainFile,
        line: 1,
        column: 1,
        severity: m[1] === 'warning' ? 'warning' : 'error',
        message: m[2],
        source: 'clang',
      };
      diagnostics.push(current);
    }
    // Everything else is a source excerpt, a caret line or the "N errors generated." summary.
  }
  return diagnostics;
}

function place(
  at: RemoteLocation,
  severity: Severity,
  message: string,
  resolve: ResolveRemotePath,
  includeChains: Map<string, RemoteLocation[]>,
  mainFile: string,
): SourceDiagnostic {
  const local = resolve(at.file);
  if (local) return { file: local, line: at.line, column: at.column, severity, message, source: 'clang' };
  // Not a workspace file: report it at the innermost include of it that is in the workspace.
  const site = includeSite(at.file, resolve, includeChains);
  return {
    file: site?.file ?? mainFile,
    line: site?.line ?? 1,
    column: 1,
    severity,
    message: `In included file ${at.file}:${at.line}:${at.column}: ${message}`,
    source: 'clang',
  };
}

function relatedLocation(
  at: RemoteLocation,
  message: string,
  resolve: ResolveRemotePath,
  includeChains: Map<string, RemoteLocation[]>,
  owner: SourceDiagnostic | undefined,
): RelatedLocation | undefined {
  const local = resolve(at.file);
  if (local) return { file: local, line: at.line, column: at.column, message };
  const site = includeSite(at.file, resolve, includeChains);
  const anchor = site ?? (owner ? { file: owner.file, line: owner.line } : undefined);
  if (!anchor) return undefined;
  return { file: anchor.file, line: anchor.line, column: 1, message: `${at.file}:${at.line}:${at.column}: ${message}` };
}

function includeSite(
  remoteFile: string,
  resolve: ResolveRemotePath,
  includeChains: Map<string, RemoteLocation[]>,
): { file: string; line: number } | undefined {
  for (const step of includeChains.get(remoteFile) ?? []) {
    const local = resolve(step.file);
    if (local) return { file: local, line: step.line };
  }
  return undefined;
}
