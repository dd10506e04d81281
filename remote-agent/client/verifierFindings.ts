/**
 * Everything a rejected program's diagnostic says beyond the verifier's message: our explanation
 * of the message, the category, and the causes — from 7.3's structured report when the kernel
 * printed one, else derived from the log's register states. Pure; the check pipeline maps the
 * causes' instructions and file names to local source positions.
 */
import type { DiagnosticExplanation } from './checkReport';
import { deriveCausalChain, walkedUnresolvedKfuncCall } from './verifierCausalChain';
import { docsLinkOf, explainVerifierMessage, verifierErrorKind } from './verifierKnowledge';
import type { LogAnnotation, ParsedVerifierLog } from './verifierLog';
import type { ReportLocation } from './verifierReport';

/** A cause found in the log: an instruction (the caller finds its line) and what happened there. */
export interface InsnCause {
  insn: number;
  /** 0-based log line of the instruction; -1 when the kernel named only the instruction. */
  logLine: number;
  message: string;
}

/** A cause the kernel's report placed on a source position itself. */
export interface SourceCause {
  location: ReportLocation;
  message: string;
}

export interface RejectionFindings {
  explanation?: DiagnosticExplanation;
  category?: string;
  reason?: string;
  suggestion?: string;
  /** Where 7.3's report says the error is, column included. */
  at?: ReportLocation;
  /** Oldest first. */
  causes: Array<InsnCause | SourceCause>;
}

export function rejectionFindings(logText: string, parsed: ParsedVerifierLog, message: readonly string[]): RejectionFindings {
  // "R0 !read_ok" after a call libbpf could not resolve is a missing kfunc, not a missing return.
  const missingKfunc = /^R0 !read_ok/m.test(message.join('\n')) && walkedUnresolvedKfuncCall(logText);
  const kind = missingKfunc ? verifierErrorKind('kfunc-unknown') : explainVerifierMessage(message);
  const findings: RejectionFindings = { causes: [] };
  if (kind) {
    findings.explanation = { id: kind.id, title: kind.title, text: kind.explanation, fix: kind.fix, docs: docsLinkOf(kind) };
    findings.category = kind.category;
  }
  const report = parsed.report;
  if (!report) {
    findings.causes = deriveCausalChain(logText, parsed);
    return findings;
  }
  findings.category = report.category;
  if (report.reason) findings.reason = report.reason;
  if (report.suggestion) findings.suggestion = report.suggestion;
  if (report.at?.location) findings.at = report.at.location;
  for (const event of report.causalPath) {
    // "update: R0 changed from …" reads on its own; "acquired: owned resource (id=3)" needs its kind.
    const message = event.notes.map((n) => (n.kind === null || n.kind === 'update' ? n.text : `${n.kind}: ${n.text}`)).join('; ') || 'the verifier state changed here';
    if (event.location) findings.causes.push({ location: event.location, message });
    else if (event.insn !== null) findings.causes.push({ insn: event.insn, logLine: -1, message });
  }
  // Not every 7.3 report has a causal path: then the log's register states still tell.
  if (findings.causes.length === 0) findings.causes = deriveCausalChain(logText, parsed);
  return findings;
}

/** The annotation printed above a log line: the source line of the instruction there. */
export function annotationAbove(parsed: ParsedVerifierLog, logLine: number): LogAnnotation | undefined {
  let found: LogAnnotation | undefined;
  for (const a of parsed.annotations) {
    if (a.logLine >= logLine) break;
    if (a.source !== '' && a.line !== 0) found = a;
  }
  return found;
}
