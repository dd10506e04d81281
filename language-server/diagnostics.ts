// Diagnostics the language server finds without compiling: section names libbpf does not know or
// cannot attach, a missing or non-GPL license, helpers the target will refuse, map lookups used
// before their NULL check, context parameters of the wrong type, and stack arrays past 512 bytes.
// Each has a stable `code` with an explanation in docs/diagnostics.md. They are conservative: a
// diagnostic here means the kernel or libbpf will reject the program, or is near certain to.
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { KernelFeatures, ProbeHelpersResult } from '../remote-agent/protocol';
import { matchingBracket, type DocumentModel, type FunctionDefinition, type SectionName, type Span } from './documentModel';
import { findHelper } from './helperTable';
import { DEFAULT_GPL_ONLY_SOURCE, GPL_COMPATIBLE_LICENSES, HELPER_MACROS, defaultGplOnlyHelpers } from './gplOnlyHelpers';
import { primitiveSizes } from './mapDefinitions';
import { contextStructs, preferredContextType, programTypes } from './programTypes';
import { matchSection, suggestSection } from './sectionTable';
import { unsupportedHookReason } from './targetSupport';

export const DIAGNOSTIC_SOURCE = 'ebpf-studio';
const DOCS = 'https://github.com/ebpf-studio/ebpf-studio/blob/main/docs/diagnostics.md';

export type DiagnosticCode =
  | 'unknown-section'
  | 'section-without-target'
  | 'malformed-section-target'
  | 'deprecated-section'
  | 'missing-license'
  | 'gpl-only-helper'
  | 'helper-not-allowed'
  | 'hook-unsupported-on-target'
  | 'unchecked-map-value'
  | 'wrong-context-type'
  | 'stack-array-too-large';

/** What the fixes need, carried on the diagnostic so code actions need not analyse again. */
export type DiagnosticData =
  | { fix: 'replace'; newText: string }
  | { fix: 'null-check'; variable: string; statementEnd: number; returnValue: string }
  | { fix: 'add-license' }
  | { fix: 'gpl-license' }
  | { fix: 'context-type'; newType: string };

/** What the diagnostics know about the machine the program is meant for. */
export interface DiagnosticTarget {
  /** "local" or "user@host:port", for messages. */
  description: string;
  /** The target's probe answer; null until it arrives. */
  helpers: ProbeHelpersResult | null;
  /** The target's kernel features (hello.features); null until known. */
  features: KernelFeatures | null;
}

/** The stack a BPF program's frames share. */
const STACK_LIMIT = 512;

/** Helpers whose result is NULL when there is nothing to return, and that the verifier makes you check. */
const NULLABLE_RESULT = ['bpf_map_lookup_elem', 'bpf_map_lookup_percpu_elem', 'bpf_ringbuf_reserve'];

function diagnostic(document: TextDocument, span: Span, severity: DiagnosticSeverity, code: DiagnosticCode, message: string, data?: DiagnosticData): Diagnostic {
  return {
    range: { start: document.positionAt(span.start), end: document.positionAt(span.end) },
    severity,
    code,
    codeDescription: { href: `${DOCS}#${code}` },
    source: DIAGNOSTIC_SOURCE,
    message,
    ...(data === undefined ? {} : { data }),
  };
}

function checkSection(document: TextDocument, section: SectionName): Diagnostic[] {
  // A leading '?' only turns autoload off.
  const name = section.name.startsWith('?') ? section.name.slice(1) : section.name;
  const span = section.name.startsWith('?') ? { start: section.span.start + 1, end: section.span.end } : section.span;
  const match = matchSection(name);
  if (match === undefined) {
    const suggestion = suggestSection(name);
    return [
      diagnostic(
        document,
        span,
        DiagnosticSeverity.Error,
        'unknown-section',
        suggestion === undefined
          ? `libbpf does not know the section "${name}": it cannot tell which program type to load it as.`
          : `libbpf does not know the section "${name}". Did you mean "${suggestion}"?`,
        suggestion === undefined ? undefined : { fix: 'replace', newText: suggestion },
      ),
    ];
  }
  const { definition, target } = match;
  const found: Diagnostic[] = [];
  if (definition.deprecated) {
    const d = diagnostic(document, span, DiagnosticSeverity.Hint, 'deprecated-section', `SEC("${definition.prefix}") still works, but ${definition.deprecated}.`);
    d.tags = [DiagnosticTag.Deprecated];
    found.push(d);
  }
  const expected = definition.target;
  if (expected === null || expected.neededFor === 'never') return found;
  const example = definition.example;
  if (target === '' && expected.loaderAttach !== undefined) {
    found.push(
      diagnostic(document, span, DiagnosticSeverity.Hint, 'section-without-target',
        `SEC("${name}") names no ${expected.form}: libbpf's auto-attach skips it, so its loader attaches it (${expected.loaderAttach}), as libbpf-tools do. To have the skeleton attach it, write e.g. SEC("${example}").`),
    );
    return found;
  }
  if (target === '') {
    found.push(
      expected.neededFor === 'load'
        ? diagnostic(document, span, DiagnosticSeverity.Error, 'section-without-target',
            `SEC("${name}") needs a target: libbpf resolves ${expected.form} (${expected.description}) when it loads the program, e.g. SEC("${example}").`)
        : diagnostic(document, span, DiagnosticSeverity.Warning, 'section-without-target',
            `SEC("${name}") has no target, so libbpf loads it but its auto-attach skips it: write SEC("${definition.prefix}/${expected.form}") (${expected.description}), e.g. SEC("${example}"), or attach it yourself.`),
    );
    return found;
  }
  const parts = target.split('/');
  const requiredColons = (expected.form.replace(/\[[^\]]*\]/g, '').match(/:/g) ?? []).length;
  const malformed =
    (expected.parts > 1 && (parts.length !== expected.parts || parts.some((p) => p === ''))) ||
    (target.split(':').length - 1 < requiredColons);
  if (malformed && expected.loaderAttach !== undefined) {
    found.push(
      diagnostic(document, span, DiagnosticSeverity.Hint, 'malformed-section-target',
        `"${target}" is not ${expected.form}: the skeleton's auto-attach would fail on SEC("${name}"), so its loader attaches it (${expected.loaderAttach}), as libbpf-tools do. To have the skeleton attach it, write e.g. SEC("${example}").`),
    );
  } else if (malformed) {
    found.push(
      diagnostic(document, span, DiagnosticSeverity.Error, 'malformed-section-target',
        `"${target}" is not ${expected.form} (${expected.description}): libbpf cannot attach SEC("${name}"). Example: SEC("${example}").`),
    );
  }
  return found;
}

/** Helper calls (and macros that expand to one) in a function body, with their offsets. */
function helperCalls(model: DocumentModel, fn: FunctionDefinition): { helper: string; written: string; span: Span }[] {
  const calls: { helper: string; written: string; span: Span }[] = [];
  const pattern = /\b(\w+)\s*\(/g;
  pattern.lastIndex = fn.body.start;
  for (let m = pattern.exec(model.code); m !== null && m.index < fn.body.end; m = pattern.exec(model.code)) {
    const written = m[1];
    const helper = HELPER_MACROS[written] ?? written;
    if (findHelper(helper) === undefined) continue;
    calls.push({ helper, written, span: { start: m.index, end: m.index + written.length } });
  }
  return calls;
}

function checkLicense(document: TextDocument, model: DocumentModel, target: DiagnosticTarget): Diagnostic[] {
  if (model.programs.length === 0) return [];
  const gplOnly = target.helpers?.gplOnly ? new Set(target.helpers.gplOnly) : defaultGplOnlyHelpers;
  const source = target.helpers?.gplOnly ? `probed on ${target.description}` : DEFAULT_GPL_ONLY_SOURCE;
  const gplCalls = model.functions.flatMap((fn) => helperCalls(model, fn)).filter((c) => gplOnly.has(c.helper));

  if (model.license === null) {
    const used = [...new Set(gplCalls.map((c) => c.written))];
    const first = model.programs[0];
    return [
      diagnostic(
        document,
        first.nameSpan,
        used.length > 0 ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
        'missing-license',
        used.length > 0
          ? `No license section: the kernel treats the program as non-GPL and refuses its GPL-only helpers (${used.join(', ')}; ${source}). Add char LICENSE[] SEC("license") = "GPL";`
          : 'No license section: the kernel treats the program as non-GPL (no GPL-only helpers, no GPL-only kfuncs). Add char LICENSE[] SEC("license") = "GPL";',
        { fix: 'add-license' },
      ),
    ];
  }
  const license = model.license.value;
  if (license === null || GPL_COMPATIBLE_LICENSES.includes(license)) return [];
  return gplCalls.map((call) =>
    diagnostic(
      document,
      call.span,
      DiagnosticSeverity.Error,
      'gpl-only-helper',
      `${call.written === call.helper ? call.helper : `${call.written} (${call.helper})`} is GPL-only and the license is "${license}": ` +
        `the verifier will refuse it ("cannot call GPL-restricted function from non-GPL compatible program"; ${source}). ` +
        `Use a GPL-compatible license such as "Dual BSD/GPL", or avoid the helper.`,
      { fix: 'gpl-license' },
    ),
  );
}

function checkHelperAvailability(document: TextDocument, model: DocumentModel, target: DiagnosticTarget): Diagnostic[] {
  const byType = target.helpers?.helpersByProgramType;
  if (!byType) return [];
  const found: Diagnostic[] = [];
  for (const program of model.programs) {
    const programType = matchSection(program.section!.name.replace(/^\?/, ''))?.definition.programType;
    const allowed = programType ? byType[programType] : undefined;
    if (!programType || !allowed) continue;
    const allowedSet = new Set(allowed);
    for (const call of helperCalls(model, program)) {
      if (allowedSet.has(call.helper)) continue;
      found.push(
        diagnostic(document, call.span, DiagnosticSeverity.Error, 'helper-not-allowed',
          `${call.helper} is not available to ${programType} programs on ${target.description} (its helper probe): the verifier will answer "program of this type cannot use helper ${call.helper}".`),
      );
    }
  }
  return found;
}

function checkHooksOnTarget(document: TextDocument, model: DocumentModel, target: DiagnosticTarget): Diagnostic[] {
  return model.programs.flatMap((program) => {
    const reason = unsupportedHookReason(program.section!.name, target.features);
    return reason
      ? [diagnostic(document, program.section!.span, DiagnosticSeverity.Warning, 'hook-unsupported-on-target', `On ${target.description}: ${reason}.`)]
      : [];
  });
}

function statementEnd(code: string, from: number, limit: number): number {
  let depth = 0;
  for (let i = from; i < limit; i++) {
    const c = code[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ';' && depth === 0) return i;
  }
  return -1;
}

/** How the first later use of `variable` treats it: a dereference, a `sizeof` (no use), or anything else. */
function useKind(code: string, at: number, length: number): 'dereference' | 'sizeof' | 'other' {
  const after = code.slice(at + length).match(/^\s*(->|\[|\.)/)?.[1];
  if (after === '->' || after === '[') return 'dereference';
  if (after === '.') return 'other'; // a struct member of the same name, not this pointer
  let i = at - 1;
  while (i >= 0 && /\s/.test(code[i])) i--;
  if (code[i] === '.' || (code[i] === '>' && code[i - 1] === '-')) return 'other'; // `e->count`: a member
  if (code[i] === '*' && code[i - 1] !== '*') {
    let j = i - 1;
    while (j >= 0 && /\s/.test(code[j])) j--;
    // Unary `*x`: after an operator, an open bracket or a statement start, not after an operand.
    if (j < 0 || /[=(,;{}!&|?:+\-<>]/.test(code[j]) || /\breturn$/.test(code.slice(Math.max(0, j - 5), j + 1))) {
      if (code.slice(0, j + 1).match(/\bsizeof\s*\($/)) return 'sizeof';
      return 'dereference';
    }
  }
  if (/\bsizeof\s*\(\s*$/.test(code.slice(Math.max(0, at - 12), at))) return 'sizeof';
  return 'other';
}

function checkNullableResults(document: TextDocument, model: DocumentModel, programTypeOf: (fn: FunctionDefinition) => string | null): Diagnostic[] {
  const code = model.code;
  const found: Diagnostic[] = [];
  const assignment = new RegExp(
    String.raw`(^|[;{}])(\s*)(?:(?:const\s+)?(?:struct\s+)?\w+(?:\s+\w+)*\s*\*+\s*)?(\w+)\s*=\s*(?:\([^()]*\)\s*)?(${NULLABLE_RESULT.join('|')})\s*\(`,
    'g',
  );
  for (const fn of model.functions) {
    const bodyCode = code.slice(0, fn.body.end);
    assignment.lastIndex = fn.body.start;
    for (let m = assignment.exec(bodyCode); m !== null; m = assignment.exec(bodyCode)) {
      const variable = m[3];
      const helper = m[4];
      const callOpen = m.index + m[0].length - 1;
      const callClose = matchingBracket(code, callOpen);
      if (callClose === -1 || callClose > fn.body.end) continue;
      const end = statementEnd(code, callClose + 1, fn.body.end);
      if (end === -1) continue;
      assignment.lastIndex = end;
      const use = new RegExp(String.raw`\b${variable}\b`, 'g');
      use.lastIndex = end;
      for (let u = use.exec(bodyCode); u !== null; u = use.exec(bodyCode)) {
        const kind = useKind(code, u.index, variable.length);
        if (kind === 'sizeof') continue;
        if (kind === 'dereference') {
          const programType = programTypeOf(fn);
          found.push(
            diagnostic(document, { start: u.index, end: u.index + variable.length }, DiagnosticSeverity.Error, 'unchecked-map-value',
              `'${variable}' may be NULL here: ${helper} returns NULL ${helper === 'bpf_ringbuf_reserve' ? 'when the ring buffer is full' : 'when the key is not in the map'}, ` +
                `and the verifier rejects using it before a NULL check ("invalid mem access '${helper === 'bpf_ringbuf_reserve' ? 'ringbuf_mem_or_null' : 'map_value_or_null'}'"). Check it first: if (!${variable}) return …;`,
              { fix: 'null-check', variable, statementEnd: end + 1, returnValue: returnValueFor(model, programType) }),
          );
        }
        break; // any other use (a test, a call argument, a reassignment) ends the search: no guessing
      }
    }
  }
  return found;
}

/** The "let it pass" value for a generated early return, spelled with what this document can name. */
export function returnValueFor(model: DocumentModel, programType: string | null): string {
  const value = programType ? (programTypes[programType]?.passValue ?? '0') : '0';
  if (value === 'skb->len') return '0';
  // TC_ACT_* are #defines of linux/pkt_cls.h, which vmlinux.h (BTF: enums only) does not carry.
  const named = /\bTC_ACT_OK\b/.test(model.code) || /^[ \t]*#[ \t]*define[ \t]+TC_ACT_OK\b/m.test(model.text);
  if (value === 'TC_ACT_OK' && !named && !model.includes.some((i) => i.path === 'linux/pkt_cls.h')) return '0 /* TC_ACT_OK */';
  return value;
}

function checkContextTypes(document: TextDocument, model: DocumentModel): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const program of model.programs) {
    if (program.macro !== null || program.params.length === 0) continue;
    const match = matchSection(program.section!.name.replace(/^\?/, ''));
    const programType = match?.definition.programType;
    if (!match || !programType) continue;
    const info = programTypes[programType];
    const param = program.params[0];
    const struct = /^struct (\w+) \*$/.exec(param.type)?.[1];
    if (!info || struct === undefined || !contextStructs.has(struct) || info.contextTypes.includes(param.type)) continue;
    const expected = preferredContextType(programType, match.target);
    if (expected === undefined) continue;
    found.push(
      diagnostic(document, param.typeSpan, DiagnosticSeverity.Error, 'wrong-context-type',
        `SEC("${program.section!.name}") is a ${programType} program: its context is ${expected}, not ${param.type}. ` +
          `Field offsets differ, so the verifier rejects the accesses ("invalid bpf_context access").`,
        { fix: 'context-type', newType: expected }),
    );
  }
  return found;
}

function checkStackArrays(document: TextDocument, model: DocumentModel): Diagnostic[] {
  const found: Diagnostic[] = [];
  const typeNames = Object.keys(primitiveSizes).sort((a, b) => b.length - a.length).map((t) => t.replace(/ /g, String.raw`\s+`));
  const declaration = new RegExp(String.raw`(^|[;{}])\s*((?:const\s+|volatile\s+)*)(${typeNames.join('|')})\s+(\w+)\s*((?:\[\s*\d+\s*\]\s*)+)(?=[=;,])`, 'g');
  for (const fn of model.functions) {
    const bodyCode = model.code.slice(0, fn.body.end);
    declaration.lastIndex = fn.body.start;
    for (let m = declaration.exec(bodyCode); m !== null; m = declaration.exec(bodyCode)) {
      const elements = [...m[5].matchAll(/\d+/g)].reduce((n, d) => n * Number(d[0]), 1);
      const type = m[3].replace(/\s+/g, ' ');
      const bytes = elements * primitiveSizes[type];
      if (bytes <= STACK_LIMIT) continue;
      const nameStart = m.index + m[0].indexOf(m[4], m[1].length + m[2].length + m[3].length);
      found.push(
        diagnostic(document, { start: nameStart, end: nameStart + m[4].length }, DiagnosticSeverity.Error, 'stack-array-too-large',
          `'${m[4]}' takes ${bytes} bytes of stack; a BPF program has ${STACK_LIMIT} bytes for all its frames. ` +
            'Move it to a per-CPU array map (BPF_MAP_TYPE_PERCPU_ARRAY, one entry) or a global.'),
      );
    }
  }
  return found;
}

export function computeDiagnostics(document: TextDocument, model: DocumentModel, target: DiagnosticTarget): Diagnostic[] {
  const programTypeOf = (fn: FunctionDefinition): string | null =>
    fn.section ? (matchSection(fn.section.name.replace(/^\?/, ''))?.definition.programType ?? null) : null;
  return [
    ...model.sections.flatMap((s) => checkSection(document, s)),
    ...checkLicense(document, model, target),
    ...checkHelperAvailability(document, model, target),
    ...checkHooksOnTarget(document, model, target),
    ...checkNullableResults(document, model, programTypeOf),
    ...checkContextTypes(document, model),
    ...checkStackArrays(document, model),
  ];
}
