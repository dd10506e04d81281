/**
 * `ebpf-studio check --format sarif`: SARIF 2.1.0, so that code-scanning UIs (GitHub's, GitLab's,
 * VS Code's SARIF viewer) show verifier rejections on pull requests. One run per target, named in
 * the run's properties and automation id (code scanning keeps one category per target); rules are
 * the knowledge-base entries the results use, with their explanation, fix and documentation link;
 * each result's related locations are the causal chain, then the path the verifier walked.
 * A pure function of the check outcomes, unit-tested without a target.
 */
import { pathToFileURL } from 'node:url';
import type { CheckReport, Severity, SourceDiagnostic } from '../remote-agent/client/checkReport';
import { docsUrl } from '../remote-agent/client/docsUrl';
import { verifierErrorKind } from '../remote-agent/client/verifierKnowledge';
import { displayPath } from './formatReport';

/** What checking on one target gave (structurally the kernel matrix's TargetOutcome). */
export interface CheckedTarget {
  target: string;
  reports?: CheckReport[];
  error?: string;
}

export interface SarifMessage {
  text: string;
  markdown?: string;
}

export interface SarifPhysicalLocation {
  artifactLocation: { uri: string; uriBaseId?: string };
  region: { startLine: number; startColumn?: number };
}

export interface SarifRule {
  id: string;
  name: string;
  shortDescription: SarifMessage;
  fullDescription: SarifMessage;
  help: SarifMessage;
  helpUri?: string;
  defaultConfiguration: { level: SarifLevel };
  properties: { category?: string; tags: string[] };
}

export type SarifLevel = Severity;

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: SarifMessage;
  locations: Array<{ physicalLocation: SarifPhysicalLocation }>;
  relatedLocations?: Array<{ id: number; physicalLocation: SarifPhysicalLocation; message: SarifMessage }>;
  properties?: { program?: string; category?: string; reason?: string; suggestion?: string };
}

export interface SarifRun {
  tool: { driver: { name: string; version: string; informationUri: string; rules: SarifRule[] } };
  automationDetails: { id: string };
  originalUriBaseIds: Record<string, { uri: string }>;
  invocations: Array<{ executionSuccessful: boolean; toolExecutionNotifications?: Array<{ level: 'error'; message: SarifMessage }> }>;
  results: SarifResult[];
  properties: { target: string; kernelRelease?: string };
}

export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: SarifRun[];
}

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';

/** Rules for diagnostics the knowledge base has no entry for. */
const CLANG_RULE = 'clang';
const UNEXPLAINED_RULE = 'verifier-unexplained';

export function toSarif(targets: readonly CheckedTarget[], cwd: string, toolVersion: string): SarifLog {
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs: targets.map((t) => runOf(t, cwd, toolVersion)) };
}

function runOf(checked: CheckedTarget, cwd: string, toolVersion: string): SarifRun {
  const rules: SarifRule[] = [];
  const ruleIndex = (d: SourceDiagnostic): number => {
    const rule = ruleOf(d);
    const known = rules.findIndex((r) => r.id === rule.id);
    if (known >= 0) return known;
    rules.push(rule);
    return rules.length - 1;
  };
  const reports = checked.reports ?? [];
  const results = reports.flatMap((r) => r.diagnostics).map((d): SarifResult => {
    const index = ruleIndex(d);
    const properties = {
      ...(d.program !== undefined && { program: d.program }),
      ...(d.category !== undefined && { category: d.category }),
      ...(d.reason !== undefined && { reason: d.reason }),
      ...(d.suggestion !== undefined && { suggestion: d.suggestion }),
    };
    return {
      ruleId: rules[index]!.id,
      ruleIndex: index,
      level: d.severity, // our severities are SARIF's levels
      message: { text: d.program !== undefined ? `${d.message} (program ${d.program})` : d.message },
      locations: [{ physicalLocation: locationOf(d, cwd) }],
      ...(d.related?.length ? { relatedLocations: d.related.map((r, i) => ({ id: i + 1, physicalLocation: locationOf(r, cwd), message: { text: r.message } })) } : {}),
      ...(Object.keys(properties).length > 0 ? { properties } : {}),
    };
  });
  const kernelRelease = reports[0]?.kernelRelease;
  return {
    tool: { driver: { name: 'eBPF Studio', version: toolVersion, informationUri: docsUrl('README.md'), rules } },
    automationDetails: { id: `ebpf-studio-check/${checked.target}/` },
    originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(cwd.endsWith('/') ? cwd : `${cwd}/`).href } },
    invocations: [
      checked.error === undefined
        ? { executionSuccessful: true }
        : { executionSuccessful: false, toolExecutionNotifications: [{ level: 'error', message: { text: `${checked.target} could not be checked: ${checked.error}` } }] },
    ],
    results,
    properties: { target: checked.target, ...(kernelRelease !== undefined && { kernelRelease }) },
  };
}

function ruleOf(d: SourceDiagnostic): SarifRule {
  if (d.explanation !== undefined) {
    const e = d.explanation;
    const url = docsUrl(e.docs);
    const category = verifierErrorKind(e.id)?.category;
    return {
      id: e.id,
      name: pascalCase(e.id),
      shortDescription: { text: e.title },
      fullDescription: { text: e.text },
      help: { text: `${e.text}\n\nFix: ${e.fix}\n\n${url}`, markdown: `**${e.title}**\n\n${e.text}\n\n**Fix:** ${e.fix}\n\n[Documentation](${url})` },
      helpUri: url,
      defaultConfiguration: { level: 'error' },
      properties: { ...(category !== undefined && { category }), tags: ['ebpf', 'verifier'] },
    };
  }
  if (d.source === 'clang') {
    return {
      id: CLANG_RULE,
      name: 'ClangDiagnostic',
      shortDescription: { text: 'clang diagnostic' },
      fullDescription: { text: 'An error or warning from clang compiling the BPF program on the target (against its kernel\'s vmlinux.h).' },
      help: { text: 'The message is clang\'s own; fix the source as for any C compiler error.' },
      defaultConfiguration: { level: 'error' },
      properties: { tags: ['ebpf', 'compiler'] },
    };
  }
  return {
    id: UNEXPLAINED_RULE,
    name: 'VerifierUnexplained',
    shortDescription: { text: 'Verifier rejection eBPF Studio cannot explain yet' },
    fullDescription: { text: 'The kernel\'s verifier rejected the program with a message that is not in eBPF Studio\'s knowledge base; the message is the kernel\'s own.' },
    help: { text: 'Read the verifier\'s message and the program\'s log (ebpf-studio check prints it), and report the message so that it gets an explanation.' },
    helpUri: docsUrl('docs/verifier-errors.md'),
    defaultConfiguration: { level: 'error' },
    properties: { tags: ['ebpf', 'verifier'] },
  };
}

function locationOf(p: { file: string; line: number; column: number }, cwd: string): SarifPhysicalLocation {
  const shown = displayPath(p.file, cwd);
  // Files under the working directory are relative to %SRCROOT% (what code scanning matches with the checkout).
  const artifactLocation = shown === p.file ? { uri: pathToFileURL(p.file).href } : { uri: shown.split('/').map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
  return { artifactLocation, region: { startLine: Math.max(1, p.line), ...(p.column >= 1 && { startColumn: p.column }) } };
}

function pascalCase(id: string): string {
  return id.replace(/(?:^|-)([a-z0-9])/g, (_match, c: string) => c.toUpperCase());
}
