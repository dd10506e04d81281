/**
 * `ebpf-studio explain MESSAGE...` and `ebpf-studio explain --log FILE`: the knowledge base's entry
 * for a verifier message, or for a whole saved log its error, explanation and causal chain — for
 * people who got a rejection from CI, a colleague or another loader. No target is needed.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { explainVerifierMessage, docsLinkOf, reportMessageUrl, verifierErrorKind, type VerifierErrorKind } from '../remote-agent/client/verifierKnowledge';
import { parseVerifierLog } from '../remote-agent/client/verifierLog';
import { annotationAbove, rejectionFindings } from '../remote-agent/client/verifierFindings';

export interface ExplainOutput {
  text: string;
  /** 0 explained, 1 nothing to explain (unknown message, or a log without an error). */
  status: 0 | 1;
}

function describeKind(kind: VerifierErrorKind): string[] {
  return [`${kind.title} [${kind.id} · ${kind.category}]`, '', kind.explanation, '', `Fix: ${kind.fix}`, `More: ${docsLinkOf(kind)}`];
}

function unknownMessage(message: string): string[] {
  return [`No explanation is known for: ${message}`, `Please report this message: ${reportMessageUrl(message)}`];
}

export function explainMessage(message: string): ExplainOutput {
  const kind = explainVerifierMessage(message);
  return { text: (kind ? describeKind(kind) : unknownMessage(message)).join('\n') + '\n', status: kind ? 0 : 1 };
}

export function explainLog(logText: string): ExplainOutput {
  const parsed = parseVerifierLog(logText);
  if (parsed.message.length === 0) return { text: 'The log holds no verifier error (did the program pass?).\n', status: 1 };
  const findings = rejectionFindings(logText, parsed, parsed.message);
  const failing = parsed.path[parsed.path.length - 1];
  const out = parsed.message.map((line) => `error: ${line}`);
  if (parsed.failingInsn !== null) out.push(`  at instruction ${parsed.failingInsn}${failing ? `: ${sourceOf(failing.source, failing.file, failing.line)}` : ''}`);
  const kind = findings.explanation && verifierErrorKind(findings.explanation.id);
  out.push('', ...(kind ? describeKind(kind) : unknownMessage(parsed.message.join(' / '))));
  if (findings.reason) out.push('', `Kernel's reason: ${findings.reason}`);
  if (findings.suggestion) out.push(`Kernel's suggestion: ${findings.suggestion}`);
  if (findings.causes.length > 0) {
    out.push('', 'How it got there:');
    for (const cause of findings.causes) {
      if ('location' in cause) {
        const l = cause.location;
        out.push(`  ${l.file}:${l.line}:${l.column}: ${cause.message}`);
      } else {
        const a = annotationAbove(parsed, cause.logLine);
        out.push(`  insn ${cause.insn}${a ? ` (${sourceOf(a.source, a.file, a.line)})` : ''}: ${cause.message}`);
      }
    }
  }
  return { text: out.join('\n') + '\n', status: kind ? 0 : 1 };
}

function sourceOf(source: string, file: string | undefined, line: number | undefined): string {
  return file !== undefined && line !== undefined ? `${file}:${line}: ${source}` : source;
}

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { log: { type: 'string' } } });
  if (values.log !== undefined && positionals.length > 0) throw new Error('explain takes a MESSAGE or --log FILE, not both');
  let output: ExplainOutput;
  if (values.log !== undefined) {
    if (!fs.existsSync(values.log)) throw new Error(`${values.log}: no such file`);
    output = explainLog(fs.readFileSync(values.log, 'utf8'));
  } else if (positionals.length > 0) {
    output = explainMessage(positionals.join(' '));
  } else {
    throw new Error('explain needs a MESSAGE or --log FILE (see ebpf-studio explain --help)');
  }
  process.stdout.write(output.text);
  return output.status;
}
