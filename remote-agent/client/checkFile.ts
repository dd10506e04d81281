/**
 * The check pipeline: bundle a BPF C file with its workspace headers, compile it on the target,
 * verify every program in the target's kernel, and turn what comes back into a CheckReport:
 * clang's diagnostics, one verifier diagnostic per rejected program on the source line of the
 * failing instruction, and a verdict per program. Editor-independent (CLI and extension share it).
 */
import type { AgentRequester, LoadPresets, ProgramVerdict } from '../protocol';
import { parseBtf } from './btf';
import type { CheckReport, ProgramReport, RelatedLocation, ReportedWalk, SourceDiagnostic } from './checkReport';
import { parseClangDiagnostics } from './clangDiagnostics';
import { BpfObject, type SourcePosition } from './elfObject';
import { objectBtfBytes } from './eventRecordTypes';
import { coreRelocationNote, loadFailureOf, mapFactsOf, type MapFacts } from './loadFailures';
import { collectProjectBundle, type FlagsLookup } from './projectFlags';
import type { ReadSource, SourceBundle } from './sourceBundle';
import { parseVerifierLog, type LogAnnotation, type ParsedVerifierLog } from './verifierLog';
import { annotationAbove, rejectionFindings } from './verifierFindings';
import { docsLinkOf, explainVerifierMessage, verifierErrorKind } from './verifierKnowledge';
import type { ReportLocation } from './verifierReport';
import { walkVerifierLog, type SourceLine } from './verifierWalk';

/** What checkFile needs of an agent connection; the AgentClient satisfies it. */
export type VerifyingAgent = AgentRequester<'compile' | 'load' | 'release'>;

export interface CheckOptions {
  /** Target description for the report, e.g. "local" or "root@vm1:22". */
  target: string;
  kernelRelease: string;
  /** Where the agent's `compile` runs, for the report (compileOnClient.ts wraps the agent); default 'target'. */
  compiledOn?: 'target' | 'client';
  /** Reads a local file; lets an editor supply unsaved buffers. Defaults to the file system. */
  readFile?: ReadSource;
  /** Where the project's compile flags are looked for; default the file's repository (projectFlags.ts). */
  project?: FlagsLookup;
  /** What the program's loader would set before load (globals, map sizes, attach targets). */
  presets?: LoadPresets;
  /** Ask for every program's walk (coverage, cost per line, register state), not only failures'. */
  walk?: boolean;
  signal?: AbortSignal;
}

/** How many source lines of the verifier's walk (before the failing one) become related info. */
const PATH_CONTEXT_LINES = 4;

export async function checkFile(agent: VerifyingAgent, file: string, opts: CheckOptions): Promise<CheckReport> {
  const bundle = await collectProjectBundle(file, opts);
  const mainLocal = bundle.localPathOf(bundle.main)!;
  const compiled = await agent.request('compile', bundle.compileParams(), opts.signal);
  const report: CheckReport = {
    file: mainLocal,
    target: opts.target,
    kernelRelease: opts.kernelRelease,
    compiled: compiled.ok,
    diagnostics: parseClangDiagnostics(compiled.stderr, (n) => bundle.resolve(n), mainLocal),
    programs: [],
    compileMs: compiled.durationMs,
    loadMs: 0,
    compiledOn: opts.compiledOn ?? 'target',
    ...(bundle.projectFlags && { compileFlags: { source: bundle.projectFlags.source, ignored: bundle.projectFlags.ignored } }),
  };
  if (!compiled.ok || compiled.objectId === null) {
    if (!report.diagnostics.some((d) => d.severity === 'error')) {
      report.diagnostics.push({
        file: mainLocal,
        line: 1,
        column: 1,
        severity: 'error',
        message: `clang failed (exit status ${compiled.exitCode}) without reporting an error; its output: ${compiled.stderr.trim() || '(none)'}`,
        source: 'clang',
      });
    }
    report.compiled = false;
    return report;
  }

  const objectId = compiled.objectId;
  let outcome: 'ok' | { error: unknown } = 'ok';
  try {
    const bytes = compiled.object === null ? undefined : Buffer.from(compiled.object, 'base64');
    const object = bytes && BpfObject.parse(bytes);
    const context: JudgeContext = { object, bundle, mainLocal, kernelRelease: opts.kernelRelease, maps: object && bytes ? mapFactsIn(object, bytes) : new Map() };
    const loaded = await agent.request(
      'load',
      { objectId, ...(opts.presets ? { presets: opts.presets } : {}), ...(opts.walk ? { walk: true } : {}) },
      opts.signal,
    );
    for (const verdict of loaded.programs) {
      report.loadMs += verdict.loadMs;
      const { program, diagnostic } = judgeProgram(verdict, context);
      report.programs.push(program);
      if (diagnostic) addOnce(report.diagnostics, diagnostic);
    }
    return report;
  } catch (error) {
    outcome = { error };
    throw error;
  } finally {
    // Released even when cancelled: the agent must not keep the object's work directory.
    await agent.request('release', { objectId }).catch((releaseError: unknown) => {
      if (outcome === 'ok') throw releaseError;
      const first = outcome.error;
      throw new AggregateError(
        [first, releaseError],
        `${messageOf(first)} (releasing object ${objectId} on the target failed too: ${messageOf(releaseError)})`,
      );
    });
  }
}

interface JudgeContext {
  object: BpfObject | undefined;
  bundle: SourceBundle;
  mainLocal: string;
  kernelRelease: string;
  maps: ReadonlyMap<string, MapFacts>;
}

/** Map sizes from the object's BTF; none when it has no readable BTF. */
function mapFactsIn(object: BpfObject, bytes: Uint8Array): Map<string, MapFacts> {
  const btf = objectBtfBytes(object, bytes);
  try {
    return btf ? mapFactsOf(parseBtf(btf)) : new Map();
  } catch {
    return new Map();
  }
}

/** A failure of the whole object (a map, an extern) fails every program alike: one diagnostic naming them all. */
function addOnce(diagnostics: SourceDiagnostic[], d: SourceDiagnostic): void {
  const same = diagnostics.find((x) => x.source === d.source && x.file === d.file && x.line === d.line && x.message === d.message);
  if (same) same.program = `${same.program}, ${d.program}`;
  else diagnostics.push(d);
}

function judgeProgram(verdict: ProgramVerdict, context: JudgeContext): { program: ProgramReport; diagnostic?: SourceDiagnostic } {
  const { object, bundle, mainLocal } = context;
  const parsed = parseVerifierLog(verdict.log);
  const definition = functionDefinition(verdict.name, object, bundle);
  const program: ProgramReport = {
    name: verdict.name,
    section: verdict.section,
    type: verdict.type,
    ok: verdict.ok,
    ...(definition ? { file: definition.file, line: definition.line } : {}),
    insnCount: verdict.insnCount,
    insnsProcessed: verdict.insnsProcessed ?? parsed.stats.insnsProcessed,
    totalStates: verdict.totalStates ?? parsed.stats.totalStates,
    peakStates: verdict.peakStates ?? parsed.stats.peakStates,
    verificationTimeUs: verdict.verificationTimeUs ?? parsed.stats.verificationTimeUs,
    stackDepth: parsed.stats.stackDepthMax ?? (parsed.stats.stackDepth ? Math.max(...parsed.stats.stackDepth) : null),
    log: [verdict.log.trimEnd(), verdict.libbpfLog.trimEnd()].filter((s) => s !== '').join('\n\n'),
  };
  const mapper = new LocationMapper(verdict.name, object, bundle);
  const walk = walkOf(verdict, mapper, object);
  if (walk) program.walk = walk;
  if (verdict.ok) return { program };

  const early = parsed.message.length === 0 ? loadFailureDiagnostic(verdict, context, definition) : undefined;
  if (early) {
    program.error = early.message.split('\n').join('; ');
    return { program, diagnostic: early };
  }
  const message = failureMessage(verdict, parsed);
  const core = coreRelocationNote(message);
  if (core) message.push(core);
  program.error = message.join('; ');
  const findings = rejectionFindings(verdict.log, parsed, message);
  const reported = (l: ReportLocation): LocalPosition | undefined => {
    const file = bundle.resolve(l.file);
    return file ? { file, line: l.line, column: l.column } : undefined;
  };
  const failing = parsed.failingInsn === null ? undefined : mapper.insn(parsed.failingInsn, lastAnnotation(parsed));
  const at: LocalPosition = (findings.at && reported(findings.at)) ?? failing ??
    mapper.annotation(lastAnnotation(parsed)) ?? { file: definition?.file ?? mainLocal, line: definition?.line ?? 1, column: 1 };

  // The causal chain first, then the walked lines it does not already name.
  const related: RelatedLocation[] = [];
  for (const cause of findings.causes) {
    const where = 'location' in cause ? reported(cause.location) : mapper.insn(cause.insn, annotationAbove(parsed, cause.logLine));
    if (where) related.push({ ...where, message: cause.message });
  }
  const causeLines = new Set(related.map((r) => `${r.file}:${r.line}`));
  for (const step of parsed.path.slice(0, -1).slice(-PATH_CONTEXT_LINES)) {
    const where = mapper.annotation(step);
    if (where && !causeLines.has(`${where.file}:${where.line}`)) related.push({ ...where, message: `verifier path: ${step.source}` });
  }
  if (parsed.allocInsn !== null && findings.causes.length === 0) {
    const where = mapper.insn(parsed.allocInsn, undefined);
    if (where) related.push({ ...where, message: 'the leaked reference was acquired here' });
  }
  const { explanation, category, reason, suggestion } = findings;
  const diagnostic: SourceDiagnostic = {
    file: at.file,
    line: at.line,
    column: at.column,
    severity: 'error',
    message: message.join('\n'),
    source: 'verifier',
    program: verdict.name,
    ...(related.length > 0 ? { related } : {}),
    ...(explanation ? { explanation } : {}),
    ...(category ? { category } : {}),
    ...(reason ? { reason } : {}),
    ...(suggestion ? { suggestion } : {}),
  };
  return { program, diagnostic };
}

/** The program's walk on local source lines, when its log holds one (instruction lines, level 1). */
function walkOf(verdict: ProgramVerdict, mapper: LocationMapper, object: BpfObject | undefined): ReportedWalk | undefined {
  const walk = walkVerifierLog(verdict.log, (insn, annotation) => mapper.insn(insn, annotation));
  if (walk.insnLines === 0) return undefined;
  const walked = new Set(walk.lines.map((l) => `${l.file}:${l.line}`));
  const unreached = new Map<string, SourceLine>();
  if (verdict.ok) {
    for (const p of object?.linesOf(verdict.name) ?? []) {
      const local = mapper.position(p);
      const key = local && `${local.file}:${local.line}`;
      if (local && key && !walked.has(key)) unreached.set(key, { file: local.file, line: local.line });
    }
  }
  return { ...walk, complete: verdict.ok, unreached: [...unreached.values()].sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1)) };
}

/** A failure before verification (a map, an extern, an attach target) on the line that causes it. */
function loadFailureDiagnostic(verdict: ProgramVerdict, context: JudgeContext, definition: { file: string; line: number } | undefined): SourceDiagnostic | undefined {
  const { bundle, mainLocal } = context;
  const defPath = definition && bundle.files.find((f) => bundle.localPathOf(f.path) === definition.file)?.path;
  const failure = loadFailureOf(verdict.libbpfLog, {
    program: verdict.name,
    section: verdict.section,
    kernelRelease: context.kernelRelease,
    sources: bundle.files,
    maps: context.maps,
    ...(definition && defPath !== undefined ? { definition: { path: defPath, line: definition.line } } : {}),
  });
  if (!failure) return undefined;
  const file = failure.at && bundle.localPathOf(failure.at.path);
  const kind = verifierErrorKind(failure.kindId);
  return {
    file: file ?? definition?.file ?? mainLocal,
    line: file ? failure.at!.line : definition?.line ?? 1,
    column: file ? failure.at!.column : 1,
    severity: 'error',
    message: failure.message.join('\n'),
    source: 'verifier',
    program: verdict.name,
    ...(kind ? { explanation: { id: kind.id, title: kind.title, text: kind.explanation, fix: kind.fix, docs: docsLinkOf(kind) }, category: kind.category } : {}),
    ...(failure.preset ? { preset: failure.preset } : {}),
  };
}

/**
 * The verifier's message; without one, libbpf's reason: the last of its lines the knowledge base
 * explains (an unresolved extern, a CO-RE relocation), since its very last line is only "failed to
 * load object".
 */
function failureMessage(verdict: ProgramVerdict, parsed: ParsedVerifierLog): string[] {
  if (parsed.message.length > 0) return parsed.message;
  const libbpfLines = verdict.libbpfLog.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const explained = libbpfLines.filter((l) => explainVerifierMessage(l) !== undefined);
  if (explained.length > 0) return [explained[explained.length - 1]];
  if (libbpfLines.length > 0) return [libbpfLines[libbpfLines.length - 1]];
  return [`the kernel refused to load ${verdict.name} (errno ${-verdict.errno}) and gave no reason`];
}

function lastAnnotation(parsed: ParsedVerifierLog): LogAnnotation | undefined {
  return parsed.path[parsed.path.length - 1];
}

interface LocalPosition {
  file: string;
  line: number;
  column: number;
}

/** Maps instructions and log annotations of one program to local source positions. */
class LocationMapper {
  constructor(
    private readonly program: string,
    private readonly object: BpfObject | undefined,
    private readonly bundle: SourceBundle,
  ) {}

  /** The object's line info first; past the function (subprograms), the log's annotation. */
  insn(insn: number, annotation: LogAnnotation | undefined): LocalPosition | undefined {
    const fromObject = this.object?.positionOf(this.program, insn);
    const local = fromObject && this.fromObject(fromObject);
    if (local) return local;
    return annotation ? this.annotation(annotation) : undefined;
  }

  annotation(a: LogAnnotation | undefined): LocalPosition | undefined {
    if (!a) return undefined;
    if (a.insn !== null) {
      const fromObject = this.object?.positionOf(this.program, a.insn);
      const local = fromObject && this.fromObject(fromObject);
      if (local) return local;
    }
    if (a.file !== undefined && a.line !== undefined && a.line > 0) {
      const file = this.bundle.resolve(a.file);
      if (file) return { file, line: a.line, column: 1 };
    }
    return this.bySourceText(a.source);
  }

  /** A position from the object's line info, on a local file. */
  position(p: SourcePosition): LocalPosition | undefined {
    return this.fromObject(p);
  }

  private fromObject(p: SourcePosition): LocalPosition | undefined {
    const file = this.bundle.resolve(p.file);
    return file ? { file, line: p.line, column: p.column > 0 ? p.column : 1 } : undefined;
  }

  /** 6.1-style logs give only the text; it names a line when exactly one bundle line matches it. */
  private bySourceText(source: string): LocalPosition | undefined {
    if (source === '') return undefined;
    const matches: LocalPosition[] = [];
    for (const f of this.bundle.files) {
      f.content.split('\n').forEach((text, i) => {
        if (text.trim() === source) matches.push({ file: this.bundle.localPathOf(f.path)!, line: i + 1, column: text.indexOf(source) + 1 });
      });
    }
    return matches.length === 1 ? matches[0] : undefined;
  }
}

/**
 * Where a program's function is defined: the line info of its first instruction gives its file and
 * first line (the signature or first statement); the definition `name(` at or above it is the
 * line a code lens belongs on.
 */
function functionDefinition(name: string, object: BpfObject | undefined, bundle: SourceBundle): { file: string; line: number } | undefined {
  const start = object?.positionOf(name, 0);
  const file = start && bundle.resolve(start.file);
  if (!start || !file) return undefined;
  const lines = (bundle.contentOf(file) ?? '').split('\n');
  const definition = new RegExp(`\\b${name}\\s*\\(`);
  for (let i = Math.min(start.line, lines.length) - 1; i >= 0 && i >= start.line - 50; i--) {
    if (definition.test(lines[i])) return { file, line: i + 1 };
  }
  return { file, line: start.line };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
