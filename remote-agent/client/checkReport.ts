/**
 * What checking a BPF C file produces, independent of any editor: diagnostics on source
 * positions and one verdict per program. The CLI prints these, the extension converts them
 * into vscode.Diagnostic and code lenses. Positions are 1-based, files are local absolute paths.
 */
import type { PresetHint } from './loadFailures';
import type { ProgramWalk, SourceLine } from './verifierWalk';

export type DiagnosticSource = 'clang' | 'verifier';
export type Severity = 'error' | 'warning' | 'note';

export interface RelatedLocation {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Our knowledge-base entry for a verifier message (remote-agent/client/verifierKnowledge.ts). */
export interface DiagnosticExplanation {
  /** Stable id of the failure kind, e.g. "nullable-map-value". */
  id: string;
  title: string;
  text: string;
  fix: string;
  /** Where the kind is documented: docs/verifier-errors.md#<id>. */
  docs: string;
}

export interface SourceDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  message: string;
  source: DiagnosticSource;
  /** Program the diagnostic belongs to (verifier diagnostics); absent for clang's. */
  program?: string;
  /**
   * Verifier diagnostics: the causal chain first (where the offending state came from, from 7.3's
   * report or derived from the log), then where the verifier walked before failing; clang's notes.
   */
  related?: RelatedLocation[];
  /** What the verifier message means and the usual fix; absent for messages we don't know. */
  explanation?: DiagnosticExplanation;
  /** The kernel's report category on 7.3+, else our knowledge base's. */
  category?: string;
  /** The kernel's own explanation (7.3+ "Reason:"). */
  reason?: string;
  /** The kernel's suggested fix (7.3+ "Suggestion:"). */
  suggestion?: string;
  /** A load preset that stands in for what the program's loader sets (a map size, an attach target). */
  preset?: PresetHint;
}

export interface ProgramReport {
  name: string;
  section: string;
  type: string;
  ok: boolean;
  /** Where the program's function starts, when the object's line info tells. */
  file?: string;
  line?: number;
  insnCount: number;
  insnsProcessed: number | null;
  totalStates: number | null;
  peakStates: number | null;
  verificationTimeUs: number | null;
  /** Deepest stack the verifier found (7.3's "stack depth max", else the largest of "stack depth A+B"), bytes. */
  stackDepth: number | null;
  /**
   * How the verifier walked the program, per source line (local paths): present when the log holds
   * the walk — a rejected program's failing walk, or every program's when checked with `walk`.
   */
  walk?: ReportedWalk;
  /** Full verifier log (and libbpf's messages) for the Output channel. */
  log: string;
  /** One-line reason of a failure: the verifier's last message, or libbpf's. */
  error?: string;
}

export interface ReportedWalk extends ProgramWalk {
  /** True when the verifier accepted the program, so the walk covers every path it explored. */
  complete: boolean;
  /**
   * Source lines of the program's function that have instructions but were never walked (code the
   * verifier proved dead); only for a complete walk, else empty.
   */
  unreached: SourceLine[];
}

export interface CheckReport {
  /** Local absolute path of the checked file. */
  file: string;
  /** Target description, e.g. "local" or "root@vm1:22". */
  target: string;
  /** Kernel release of the target. */
  kernelRelease: string;
  compiled: boolean;
  diagnostics: SourceDiagnostic[];
  programs: ProgramReport[];
  compileMs: number;
  loadMs: number;
  /** Where clang ran: on the target, or on the client against the target's BTF (compileOnClient.ts). */
  compiledOn: 'target' | 'client';
  /** The project's compile flags it was compiled with (projectFlags.ts): where from, and what of them was not used. */
  compileFlags?: { source: string; ignored: { flag: string; why: string }[] };
}
