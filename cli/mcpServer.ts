/**
 * eBPF Studio as a Model Context Protocol server: the check → explain → fix loop for coding agents
 * (VS Code's agent mode, any MCP client), on the user's real targets. Tools:
 *   list_targets     the targets the user configured for agents (a named one with its destination),
 *                    and the kernel VMs running here
 *   kernel_features  one target's kernel: release, arch, BTF, clang, probed features
 *   check            compile and verify a file (or a source text) on targets → diagnostics with
 *                    explanations, causal chains and quick-fix edits, and each program's verdict
 *   run              verify, attach for a few seconds (bounded), and return the decoded events
 *                    and printk lines (and with dumpMaps, the maps' entries); everything is detached again
 *   map_dump         verify, attach for a few seconds, and return the entries of the file's maps
 *                    decoded with its BTF (bounded, flagged when truncated); everything is detached again
 *   explain          the knowledge base's entry for a verifier message, or a saved log's error
 *   templates        the program templates; with a target, whether its kernel can run each
 *   new_program      writes a template into a directory the agent names (never overwriting),
 *                    with the .clangd flags for *.bpf.c, as `ebpf-studio new` does
 * Resources:
 *   ebpf-studio://verifier-log/{target}/{file}/{program}   the verifier log of each program in the
 *                    last check (or run) of a file on a target in this session; listed
 *   ebpf-studio://kernel-type/{target}/{name}   one kernel type as vmlinux.h defines it, from the
 *                    target's BTF (kernelTypeSource.ts); read on request, never listed
 * Each URI part is percent-encoded (encodeURIComponent), so targets and paths keep their slashes.
 *
 * The user stays in control of what touches a kernel: an agent only ever gets a target the user
 * configured (`ebpf-studio mcp --target`), and the first use of each target in a session asks the
 * user (MCP elicitation) unless the user listed it as allowed without asking (`--allow-target`,
 * `ebpfStudio.mcp.allowedTargets`); a client that cannot ask is refused with what to configure.
 * Every call is logged (stderr, which VS Code shows in the server's Output).
 */
import * as fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type CallToolResult, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { CheckReport, SourceDiagnostic } from '../remote-agent/client/checkReport';
import { checkFilesOnSession, type LocalCompiler } from '../remote-agent/client/kernelMatrix';
import { verifierFixes } from '../remote-agent/client/verifierFixes';
import { explainVerifierMessage } from '../remote-agent/client/verifierKnowledge';
import { listVms, vmTargetName } from '../remote-agent/client/vm/vmManager';
import { parseAttachSpec, type AttachSpec } from '../remote-agent/client/attachSpec';
import { AttachSpecError } from '../remote-agent/client/attachTargets';
import { plainJson, readMapContents, type MapContents } from '../remote-agent/client/mapContents';
import { AttachError } from '../remote-agent/client/programRun';
import { parseBtf, type Btf } from '../remote-agent/client/btf';
import { cDefinitionOf, kernelTypeNamesLike, kernelTypesNamed, keywordOf } from '../remote-agent/client/kernelTypeSource';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../remote-agent/client/targetKnowledge';
import { WarmSessions } from '../remote-agent/client/warmSessions';
import { attachSpecMessage } from './attachSpecMessages';
import { explainLog, explainMessage } from './explainCommand';
import { startRunOn } from './runCommand';
import { toJsonDiagnostic } from './formatReport';
import { newProgram, toJsonTemplates } from './templateCommands';
import { HOOK_KINDS, loadTemplates, PARAMETER_KINDS, TemplateError } from '../bpf-templates/templateCatalog';
import type { NamedTarget } from '../remote-agent/client/namedTargets';

export interface McpServerOptions {
  /** The targets agents may use, as the user named them ('local', 'vm:6.1', 'ssh://…'); the first is the default. */
  targets: readonly string[];
  /** Named targets (namedTargets.ts) whose names `targets` may hold: list_targets shows their destination. */
  namedTargets?: readonly NamedTarget[];
  /** Of those, the ones agents may use without the user being asked first. */
  allowedWithoutAsking: readonly string[];
  /** Opens an agent session to a target (the CLI's openCliSession); kept for later calls (idleSeconds). */
  openSession(target: string, signal: AbortSignal): Promise<AgentSession>;
  /** How long a target's agent session is kept open for the next call after the last one ended (default 60; 0 closes it after each call). */
  idleSeconds?: number;
  /** Compiles for targets without clang (kernel VMs), as `check --compile-on auto` does. */
  compiler: LocalCompiler;
  /** Where targets' BTF is fetched to and kept (default: the CLI's cache, shared with `lsp` and `check`). */
  knowledge?: TargetKnowledgeCache;
  version: string;
  log(line: string): void;
}

const locationSchema = z.object({ file: z.string(), line: z.number(), column: z.number(), message: z.string() });
const positionSchema = z.object({ line: z.number().describe('0-based'), character: z.number().describe('0-based') });
const editSchema = z.object({ start: positionSchema, end: positionSchema, newText: z.string() });

const diagnosticSchema = z.object({
  target: z.string(),
  file: z.string(),
  line: z.number().describe('1-based'),
  column: z.number().describe('1-based'),
  severity: z.enum(['error', 'warning', 'note']),
  message: z.string(),
  source: z.enum(['clang', 'verifier']),
  program: z.string().nullable(),
  explanation: z.object({ id: z.string(), title: z.string(), text: z.string(), fix: z.string(), docs: z.string() }).optional(),
  category: z.string().optional(),
  related: z.array(locationSchema).optional().describe('the causal chain (where the offending state came from) first, then where the verifier walked'),
  reason: z.string().optional().describe("the kernel's own explanation (7.3+)"),
  suggestion: z.string().optional().describe("the kernel's suggested fix (7.3+)"),
  preset: z.record(z.string(), z.unknown()).optional().describe('what the program\'s loader would set before load (a map size, an attach target): check again with it in ebpfStudio.loadPresets'),
  fixes: z.array(z.object({ title: z.string(), edits: z.array(editSchema) })).describe("quick fixes as edits of the diagnostic's file; applying one makes the verifier accept that failure"),
});

const programSchema = z.object({
  target: z.string(),
  kernelRelease: z.string(),
  program: z.string(),
  section: z.string(),
  ok: z.boolean(),
  insnsProcessed: z.number().nullable(),
  stackDepth: z.number().nullable(),
  error: z.string().optional(),
});

const templateSchema = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  hook: z.enum(HOOK_KINDS),
  programTypes: z.array(z.string()),
  parameters: z.array(z.object({ name: z.string(), description: z.string(), kind: z.enum(Object.keys(PARAMETER_KINDS) as [keyof typeof PARAMETER_KINDS]), default: z.string() })),
  minKernel: z.string(),
  runnable: z.boolean().optional().describe("with a target: whether its kernel can run the template"),
  notRunnableReason: z.string().optional().describe('with a target, when it cannot: what its kernel lacks'),
});

function templatesResult(templates: z.infer<typeof templateSchema>[], target?: string): CallToolResult {
  const lines = templates.map((t) => {
    const params = t.parameters.map((p) => `${p.name}=${p.default}`).join(' ');
    const runs = t.runnable === undefined ? '' : t.runnable ? ` [runs on ${target}]` : ` [not on ${target}: ${t.notRunnableReason}]`;
    return `${t.id} (${t.hook}): ${t.title} — ${t.description}${params ? ` params: ${params}` : ''}${runs}`;
  });
  return textResult(lines.join('\n'), { templates, ...(target !== undefined && { target }) });
}

const DEFAULT_RUN_SECONDS = 5;
const MAX_RUN_SECONDS = 60;
const DEFAULT_RUN_EVENTS = 100;
const MAX_RUN_EVENTS = 10_000;

const DEFAULT_MAP_ENTRIES = 100;
const MAX_MAP_ENTRIES = 10_000;
const DEFAULT_MAP_DUMP_SECONDS = 1;

const mapContentsSchema = z.object({
  name: z.string(),
  type: z.string().describe("libbpf's name of the map type: hash, array, percpu_hash, lru_hash, …"),
  keySize: z.number(),
  valueSize: z.number(),
  maxEntries: z.number(),
  entries: z.array(z.object({ key: z.unknown(), value: z.unknown().optional(), values: z.array(z.unknown()).optional().describe('per-CPU maps: one value per possible CPU') })).describe("decoded with the object's BTF: structs as objects, char arrays as strings, integers beyond 2^53 as strings, undescribed bytes as hex"),
  truncated: z.boolean().describe('the map held more entries than maxEntries'),
  error: z.string().optional().describe('why the map could not be read'),
});

const runOutput = {
  passed: z.boolean().describe('every program passed the verifier and was attached'),
  diagnostics: z.array(diagnosticSchema),
  attached: z.array(z.object({ program: z.string(), description: z.string() })),
  events: z.array(z.object({ map: z.string(), time: z.string(), fields: z.unknown() })).describe('decoded records; integers beyond 2^53 as strings, raw bytes as hex'),
  printk: z.array(z.object({ time: z.string(), line: z.string() })),
  truncated: z.boolean().describe('maxEvents was reached before the time was up'),
  streams: z.array(z.object({ map: z.string(), received: z.number(), dropped: z.number() })),
  maps: z.array(mapContentsSchema).optional().describe("with dumpMaps: the maps' entries at the end of the run"),
};

type RunOutput = { [K in Exclude<keyof typeof runOutput, 'maps'>]: z.infer<(typeof runOutput)[K]> } & { maps?: MapContentsJson[] };
type MapContentsJson = z.infer<typeof mapContentsSchema>;

const checkOutput = {
  passed: z.boolean().describe('every program compiled and passed on every target'),
  diagnostics: z.array(diagnosticSchema),
  programs: z.array(programSchema),
  unreachable: z.array(z.object({ target: z.string(), error: z.string() })),
};

type CheckOutput = { [K in keyof typeof checkOutput]: z.infer<(typeof checkOutput)[K]> };

/** Checks whose verifier logs are kept (a log can be megabytes): the oldest file's is dropped first. */
const KEPT_CHECKS = 32;
/** Kernels whose parsed BTF is kept in memory (~50 MB each for a distribution kernel). */
const KEPT_KERNELS = 2;
const VERIFIER_LOG_TEMPLATE = 'ebpf-studio://verifier-log/{target}/{file}/{program}';
const KERNEL_TYPE_TEMPLATE = 'ebpf-studio://kernel-type/{target}/{name}';

/** The programs of the last check of one file on one target. */
interface KeptCheck {
  target: string;
  /** The file as its URI names it: an absolute path, or a source text's name. */
  file: string;
  kernelRelease: string;
  programs: { name: string; section: string; ok: boolean; log: string }[];
}

export function verifierLogUri(target: string, file: string, program: string): string {
  return `ebpf-studio://verifier-log/${encodeURIComponent(target)}/${encodeURIComponent(file)}/${encodeURIComponent(program)}`;
}

export function kernelTypeUri(target: string, name: string): string {
  return `ebpf-studio://kernel-type/${encodeURIComponent(target)}/${encodeURIComponent(name)}`;
}

/** What a tool does on a target, as the user is asked about it. */
const ACTIONS = {
  features: "start eBPF Studio's agent (it probes the kernel's features by loading test programs)",
  verify: "verify programs (they are loaded into the kernel's verifier and closed; nothing is attached)",
  attach: 'attach programs and read their events for a few seconds (then everything is detached)',
} as const;
type Action = keyof typeof ACTIONS;

function textResult(text: string, structured?: Record<string, unknown>, isError = false): CallToolResult {
  return { content: [{ type: 'text', text }], ...(structured && { structuredContent: structured }), ...(isError && { isError }) };
}

/** What run and map_dump take to name the programs they attach and where. */
const attachedProgramInputs = {
  file: z.string().optional(),
  source: z.string().optional(),
  name: z.string().optional(),
  target: z.string().optional().describe('one configured target; default: the default target'),
  attach: z.array(z.string()).optional().describe("attach specs as `ebpf-studio run --attach` takes them, e.g. 'handle_exec=tracepoint/sched/sched_process_exec'"),
};

export function createMcpServer(o: McpServerOptions): McpServer {
  const server = new McpServer({ name: 'ebpf-studio', version: o.version }, { capabilities: { logging: {} } });
  /** Targets the user lets agents use without asking, and those approved for an action this session. */
  const allowed = new Set<string>(o.allowedWithoutAsking.filter((t) => o.targets.includes(t)));
  const approved = new Set<string>();
  const defaultTarget = o.targets[0];
  /** By `target NUL file`, in the order they were last checked (a Map keeps insertion order). */
  const keptChecks = new Map<string, KeptCheck>();
  const knowledge = o.knowledge ?? new TargetKnowledgeCache(defaultKnowledgeDir());
  /** Parsed BTF by btfId, most recently used last. */
  const kernels = new Map<string, Promise<Btf>>();

  /** Keeps the programs' logs of @reports as the last check of @input on @target, and tells the client the list changed. */
  function keepLogs(target: string, input: CheckInput, reports: CheckReport[]): void {
    const file = input.keyName;
    const key = `${target}\0${file}`;
    keptChecks.delete(key);
    const report = reports.find((r) => r.file === input.file);
    // A file that no longer compiles has no programs: its old logs would describe another text.
    if (report !== undefined && report.programs.length > 0) {
      keptChecks.set(key, { target, file, kernelRelease: report.kernelRelease, programs: report.programs.map((p) => ({ name: p.name, section: p.section, ok: p.ok, log: p.log })) });
      for (const old of keptChecks.keys()) {
        if (keptChecks.size <= KEPT_CHECKS) break;
        keptChecks.delete(old);
      }
    }
    server.sendResourceListChanged();
  }

  /** Undefined when the agent may use @target now; else why not, for the agent to relay. */
  async function consent(target: string, action: Action): Promise<string | undefined> {
    if (!o.targets.includes(target)) {
      return `${target} is not one of the targets the user configured for agents (${o.targets.join(', ') || 'none'}); ask the user to add it (ebpfStudio.target, or ebpf-studio mcp --target).`;
    }
    if (allowed.has(target) || approved.has(`${action} ${target}`)) return undefined;
    if (!server.server.getClientCapabilities()?.elicitation) {
      return `Using ${target} needs the user's consent, and this MCP client cannot ask for it: the user can allow it without asking (ebpfStudio.mcp.allowedTargets, or ebpf-studio mcp --allow-target ${target}).`;
    }
    const answer = await server.server.elicitInput({
      message: `An agent wants to ${ACTIONS[action]} on ${target}. Allow agents to do that on ${target} for the rest of this session?`,
      requestedSchema: { type: 'object', properties: {} },
    });
    if (answer.action !== 'accept') return `The user did not allow agents to ${ACTIONS[action]} on ${target}.`;
    approved.add(`${action} ${target}`);
    return undefined;
  }

  const sessions = keepSessionsWarm(server, o);
  function withSession<T>(target: string, signal: AbortSignal, use: (session: AgentSession) => Promise<T>): Promise<T> {
    return sessions.use(target, signal, use);
  }

  registerMapDumpTool(server, { defaultTarget, log: o.log, consent, withSession, keepLogs });

  server.registerTool(
    'list_targets',
    {
      title: 'List eBPF targets',
      description: 'The kernels agents may verify programs on: the targets the user configured (the first is the default) and the kernel VMs running on this machine.',
      inputSchema: {},
      outputSchema: {
        targets: z.array(
          z.object({
            target: z.string(),
            destination: z.string().optional().describe('For a named target (ebpfStudio.targets, .ebpf-studio/targets.json): the host or VM it stands for.'),
            isDefault: z.boolean(),
            usableWithoutAsking: z.boolean(),
          }),
        ),
        kernelVms: z.array(z.object({ target: z.string(), kernel: z.string(), configured: z.boolean() })),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      o.log('list_targets');
      const destinationOf = (target: string) => o.namedTargets?.find((named) => named.name === target)?.destination;
      const targets = o.targets.map((target) => {
        const destination = destinationOf(target);
        return { target, ...(destination !== undefined && { destination }), isDefault: target === defaultTarget, usableWithoutAsking: allowed.has(target) };
      });
      const kernelVms = listVms().filter((vm) => vm.state === 'running').map((vm) => ({ target: vmTargetName(vm.name), kernel: vm.kernelRelease, configured: o.targets.includes(vmTargetName(vm.name)) }));
      const text = [...targets.map((t) => `${t.target}${t.destination !== undefined ? ` (${t.destination})` : ''}${t.isDefault ? ' (default)' : ''}${t.usableWithoutAsking ? '' : ' — asks the user first'}`), ...kernelVms.map((v) => `${v.target}: kernel VM, ${v.configured ? 'configured' : 'not configured for agents'}`)].join('\n');
      return textResult(text || 'No targets are configured for agents.', { targets, kernelVms });
    },
  );

  server.registerTool(
    'kernel_features',
    {
      title: "A target kernel's features",
      description:
        "What one target's kernel is and can do: release, architecture, BTF, the target's clang, the agent's privileges, and features probed by loading programs (kprobes, fentry, LSM, ring buffer, tcx, …). With programType (a libbpf name such as xdp or tracepoint): the helpers a program of that type may call on this kernel, and which of them only GPL programs may call.",
      inputSchema: {
        target: z.string().optional().describe('a configured target; default: the default target'),
        programType: z.string().optional().describe('a program type (libbpf name, e.g. "xdp", "kprobe") whose callable helpers to list'),
      },
      outputSchema: {
        target: z.string(),
        kernelRelease: z.string(),
        arch: z.string(),
        btf: z.boolean(),
        clang: z.string().nullable(),
        features: z.record(z.string(), z.unknown()),
        privileges: z.record(z.string(), z.unknown()),
        helpers: z.object({ programType: z.string(), callable: z.array(z.string()), gplOnly: z.array(z.string()) }).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ target = defaultTarget, programType }, extra) => {
      o.log(`kernel_features ${target}${programType !== undefined ? ` (helpers of ${programType})` : ''}`);
      if (target === undefined) return textResult('No targets are configured for agents.', undefined, true);
      const refused = await consent(target, 'features');
      if (refused) return textResult(refused, undefined, true);
      return withSession(target, extra.signal, async (session) => {
        const h = session.hello;
        const out: Record<string, unknown> = { target, kernelRelease: h.kernelRelease, arch: h.arch, btf: h.btf, clang: h.clang, features: { ...h.features }, privileges: { ...h.privileges } };
        if (programType !== undefined) {
          // The agent probes every helper of every type once per kernel and caches the answer.
          const probed = await session.client.request('probe.helpers', {}, extra.signal);
          const callable = probed.helpersByProgramType[programType];
          if (callable === undefined) {
            const known = Object.keys(probed.helpersByProgramType).sort().join(', ');
            return textResult(`No helper list for program type "${programType}" on ${target}: the kernel does not load that type, or it is not a libbpf program type name. Probed types: ${known}.`, undefined, true);
          }
          const gpl = new Set(probed.gplOnly);
          out.helpers = { programType, callable, gplOnly: callable.filter((helper) => gpl.has(helper)) };
        }
        return textResult(JSON.stringify(out, null, 2), out);
      });
    },
  );

  server.registerTool(
    'check',
    {
      title: 'Verify eBPF programs',
      description:
        'Compile a BPF C file (or a source text) and verify every program in it with the real kernel verifier of each target. Returns diagnostics on source lines with an explanation, the causal chain (where the offending state came from) and quick-fix edits, plus each program\'s verdict and cost. Apply a fix\'s edits and check again.',
      inputSchema: {
        file: z.string().optional().describe('path of a .bpf.c file (absolute, or relative to the server\'s directory)'),
        source: z.string().optional().describe('the program text, when there is no file; its includes resolve against the server\'s directory'),
        name: z.string().optional().describe("the source text's file name in diagnostics (default program.bpf.c)"),
        target: z.string().optional().describe('one configured target; default: the default target'),
        targets: z.array(z.string()).optional().describe('several configured targets, checked one after the other'),
      },
      outputSchema: checkOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      if ((args.file === undefined) === (args.source === undefined)) return textResult('Give either file (a path) or source (the program text).', undefined, true);
      const targets = args.targets ?? (args.target !== undefined ? [args.target] : defaultTarget !== undefined ? [defaultTarget] : []);
      o.log(`check ${args.file ?? `<source ${args.name ?? 'program.bpf.c'}>`} on ${targets.join(', ') || 'no target'}`);
      if (targets.length === 0) return textResult('No targets are configured for agents.', undefined, true);
      for (const target of targets) {
        const refused = await consent(target, 'verify');
        if (refused) return textResult(refused, undefined, true);
      }
      const input = resolveInput(args);
      if ('error' in input) return textResult(input.error, undefined, true);
      try {
        const out: CheckOutput = { passed: true, diagnostics: [], programs: [], unreachable: [] };
        for (const target of targets) {
          try {
            const reports = await withSession(target, extra.signal, (session) => checkFilesOnSession(session, [input.file], { compileOn: 'auto', compiler: o.compiler, target, signal: extra.signal }));
            addReports(out, target, reports, input);
            keepLogs(target, input, reports);
          } catch (e) {
            if (extra.signal.aborted) throw e;
            out.unreachable.push({ target, error: e instanceof Error ? e.message : String(e) });
            out.passed = false;
          }
        }
        return textResult(checkSummary(out), out);
      } finally {
        input.cleanup();
      }
    },
  );

  server.registerTool(
    'run',
    {
      title: 'Run eBPF programs briefly',
      description:
        'Verify a file (or a source text) on one target, attach every program (by its SEC(), or as `attach` says), collect the decoded ring/perf buffer records and bpf_printk lines for `seconds` or until `maxEvents`, then detach everything. A rejected program is not attached: its diagnostics come back as check gives them.',
      inputSchema: {
        ...attachedProgramInputs,
        seconds: z.number().min(0.1).max(MAX_RUN_SECONDS).optional().describe(`how long to stay attached (default ${DEFAULT_RUN_SECONDS}, at most ${MAX_RUN_SECONDS})`),
        maxEvents: z.number().int().min(1).max(MAX_RUN_EVENTS).optional().describe(`stop after this many records and printk lines (default ${DEFAULT_RUN_EVENTS}, at most ${MAX_RUN_EVENTS})`),
        maxMapEntries: z.number().int().min(1).max(MAX_MAP_ENTRIES).optional().describe(`with dumpMaps: at most this many entries of each map (default ${DEFAULT_MAP_ENTRIES})`),
        dumpMaps: z.union([z.boolean(), z.array(z.string())]).optional().describe("at the end, also return the entries of the file's maps (true), or of the maps named; as map_dump does"),
      },
      outputSchema: runOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      if ((args.file === undefined) === (args.source === undefined)) return textResult('Give either file (a path) or source (the program text).', undefined, true);
      const target = args.target ?? defaultTarget;
      o.log(`run ${args.file ?? `<source ${args.name ?? 'program.bpf.c'}>`} on ${target ?? 'no target'}`);
      if (target === undefined) return textResult('No targets are configured for agents.', undefined, true);
      let specs: AttachSpec[];
      try {
        specs = (args.attach ?? []).map(parseAttachSpec);
      } catch (e) {
        return textResult(e instanceof AttachSpecError ? attachSpecMessage(e) : messageOf(e), undefined, true);
      }
      const refused = await consent(target, 'attach');
      if (refused) return textResult(refused, undefined, true);
      const input = resolveInput(args);
      if ('error' in input) return textResult(input.error, undefined, true);
      try {
        return await withSession(target, extra.signal, (session) => runBriefly(session, target, input, specs, args.seconds ?? DEFAULT_RUN_SECONDS, args.maxEvents ?? DEFAULT_RUN_EVENTS, extra.signal, (reports) => keepLogs(target, input, reports), mapsToDump(args)));
      } catch (e) {
        if (e instanceof AttachError || e instanceof AttachSpecError) return textResult(e instanceof AttachSpecError ? attachSpecMessage(e) : e.message, undefined, true);
        throw e;
      } finally {
        input.cleanup();
      }
    },
  );

  server.registerTool(
    'explain',
    {
      title: 'Explain a verifier message',
      description: "What a BPF verifier message means and the usual fix (eBPF Studio's knowledge base), or for a whole saved verifier log: its error, explanation and the causal chain. Needs no target.",
      inputSchema: { message: z.string().optional().describe('a verifier message, e.g. "R0 invalid mem access \'map_value_or_null\'"'), log: z.string().optional().describe('a whole verifier log') },
      outputSchema: { explained: z.boolean(), text: z.string(), id: z.string().optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ message, log }) => {
      o.log('explain');
      if ((message === undefined) === (log === undefined)) return textResult('Give either message or log.', undefined, true);
      const out = log !== undefined ? explainLog(log) : explainMessage(message!);
      const id = message !== undefined ? explainVerifierMessage(message)?.id : undefined;
      return textResult(out.text, { explained: out.status === 0, text: out.text, ...(id && { id }) });
    },
  );

  server.registerTool(
    'templates',
    {
      title: 'List eBPF program templates',
      description:
        "eBPF Studio's program templates, each a starting point that passes the verifier on the test kernels: a BPF program, its event header, a standalone libbpf-skeleton loader with a Makefile, and a README. With a target, each says whether that target's kernel can run it (from the features its agent probed) and, if not, what the kernel lacks. Write one with new_program.",
      inputSchema: { target: z.string().optional().describe('a configured target whose kernel decides runnable; without it nothing touches a target') },
      outputSchema: { templates: z.array(templateSchema), target: z.string().optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ target }, extra) => {
      o.log(`templates${target !== undefined ? ` on ${target}` : ''}`);
      const templates = loadTemplates();
      if (target === undefined) return templatesResult(toJsonTemplates(templates));
      const refused = await consent(target, 'features');
      if (refused) return textResult(refused, undefined, true);
      const features = await withSession(target, extra.signal, async (session) => session.hello.features);
      return templatesResult(toJsonTemplates(templates, features), target);
    },
  );

  server.registerTool(
    'new_program',
    {
      title: 'Create an eBPF program from a template',
      description:
        "Writes a template (see the templates tool) into a directory, with its parameters substituted (their defaults unless given; each checked against its kind), plus .clangd flags for *.bpf.c. Never overwrites: when any of the template's files already exists there, nothing is written. Then check the program file with the check tool; `make -C DIRECTORY` builds the standalone loader.",
      inputSchema: {
        template: z.string().describe('a template id from the templates tool, e.g. "execsnoop"'),
        directory: z.string().describe('an absolute path of the directory to write into (created if needed)'),
        params: z.record(z.string(), z.string()).optional().describe('parameter values by name, e.g. {"tracepoint": "syscalls/sys_enter_openat"}'),
      },
      outputSchema: {
        template: z.string(),
        directory: z.string(),
        program: z.string().describe('the BPF program file written, to check next'),
        written: z.array(z.string()).describe("the template's files written, absolute paths"),
        clangd: z.string().nullable().describe('the .clangd written, or null when it could not be (clangdError says why)'),
        clangdError: z.string().optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ template, directory, params }, extra) => {
      o.log(`new_program ${template} in ${directory}`);
      if (!path.isAbsolute(directory)) return textResult(`directory must be an absolute path, not '${directory}': say exactly where the program goes.`, undefined, true);
      try {
        const created = await newProgram(template, directory, params ?? {}, extra.signal);
        const program = path.join(directory, created.template.program);
        const out = {
          template,
          directory,
          program,
          written: created.written,
          clangd: 'path' in created.clangd ? created.clangd.path : null,
          ...('error' in created.clangd && { clangdError: created.clangd.error }),
        };
        const text = [
          `Wrote ${created.written.map((f) => path.relative(directory, f)).join(', ')} into ${directory}.`,
          'path' in created.clangd ? `Wrote ${created.clangd.path} (clangd flags for *.bpf.c).` : `Did not write .clangd: ${created.clangd.error}`,
          `Next: check ${program} with the check tool; \`make -C ${directory}\` builds the standalone loader.`,
        ];
        return textResult(text.join('\n'), out);
      } catch (e) {
        if (e instanceof TemplateError) return textResult(e.message, undefined, true);
        throw e;
      }
    },
  );

  server.registerResource(
    'verifier_log',
    new ResourceTemplate(VERIFIER_LOG_TEMPLATE, {
      list: () => ({
        resources: [...keptChecks.values()].reverse().flatMap((kept) =>
          kept.programs.map((p) => ({
            uri: verifierLogUri(kept.target, kept.file, p.name),
            name: `${p.name} on ${kept.target}`,
            title: `Verifier log of ${p.name} (${path.basename(kept.file)}, ${kept.target})`,
            description: `${p.ok ? 'accepted' : 'rejected'} by the verifier of ${kept.target} (kernel ${kept.kernelRelease}) in the last check of ${kept.file}`,
            mimeType: 'text/plain',
          })),
        ),
      }),
    }),
    {
      title: 'Verifier log',
      description: "The kernel verifier's log of one program in the last check (or run) of a file on a target in this session, as the kernel wrote it (then libbpf's messages, if any): the instructions it walked, the register state and the source lines (`; … @ file:line`), the error last.",
      mimeType: 'text/plain',
    },
    (uri, variables): ReadResourceResult => {
      const [target, file, program] = [variables.target, variables.file, variables.program].map(uriPart);
      o.log(`read verifier log of ${program} in ${file} on ${target}`);
      const kept = keptChecks.get(`${target}\0${file}`);
      const found = kept?.programs.find((p) => p.name === program);
      if (kept === undefined || found === undefined) {
        const what = kept === undefined ? `${file} has not been checked on ${target} in this session` : `the last check of ${file} on ${target} has no program ${program} (it has ${kept.programs.map((p) => p.name).join(', ')})`;
        throw new McpError(ErrorCode.InvalidParams, `No verifier log: ${what}. Call the check tool first; resources/list names every log there is.`);
      }
      const text = found.log !== '' ? found.log : `The verifier ${found.ok ? 'accepted' : 'rejected'} ${program} on ${target} and wrote no log.\n`;
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    },
  );

  server.registerResource(
    'kernel_type',
    new ResourceTemplate(KERNEL_TYPE_TEMPLATE, { list: undefined }),
    {
      title: 'Kernel type',
      description:
        "One type of a target's kernel as its vmlinux.h defines it, from the kernel's BTF: {name} is a struct, union, enum or typedef name (`task_struct`, or `struct task_struct` to pick one kind; percent-encoded). Anonymous types are written inline; the named types it uses are not included — read each by its own name.",
      mimeType: 'text/x-c',
    },
    async (uri, variables, extra): Promise<ReadResourceResult> => {
      const [target, name] = [variables.target, variables.name].map(uriPart);
      o.log(`read kernel type ${name} on ${target}`);
      const refused = await consent(target, 'features');
      if (refused) throw new McpError(ErrorCode.InvalidRequest, refused);
      const { btf, kernelRelease } = await withSession(target, extra.signal, async (session) => {
        const found = await knowledge.btf(session, extra.signal);
        if (found.path === null) throw new McpError(ErrorCode.InvalidRequest, `${target} (kernel ${session.hello.kernelRelease}) has no BTF to read types from (${found.how}); a kernel built with CONFIG_DEBUG_INFO_BTF=y has it.`);
        return { btf: await parsedBtf(session.hello.btfId ?? found.path, found.path), kernelRelease: session.hello.kernelRelease };
      });
      const types = kernelTypesNamed(btf, name);
      if (types.length === 0) {
        const like = kernelTypeNamesLike(btf, name, 8);
        const hint = like.length > 0 ? ` Names like it: ${like.join(', ')}.` : '';
        throw new McpError(ErrorCode.InvalidParams, `The kernel of ${target} (${kernelRelease}) has no struct, union, enum or typedef named '${name}'.${hint}`);
      }
      const header = `/* ${types.map((t) => `${keywordOf(t)} ${t.name}`).join(', ')}: from the BTF of ${target} (kernel ${kernelRelease}), as vmlinux.h defines it. Named types it uses are not included: read ${KERNEL_TYPE_TEMPLATE.replace('{target}', encodeURIComponent(target))} for each. */`;
      const text = [header, ...types.map((t) => cDefinitionOf(btf, t))].join('\n\n') + '\n';
      return { contents: [{ uri: uri.href, mimeType: 'text/x-c', text }] };
    },
  );

  /** A kernel's BTF parsed once per btfId; the least recently used kernel is forgotten beyond KEPT_KERNELS. */
  function parsedBtf(btfId: string, file: string): Promise<Btf> {
    let parsed = kernels.get(btfId);
    kernels.delete(btfId);
    if (parsed === undefined) parsed = readFile(file).then((bytes) => parseBtf(bytes));
    // A failed read is not kept: the next request tries again.
    parsed.catch(() => kernels.delete(btfId));
    kernels.set(btfId, parsed);
    for (const old of kernels.keys()) {
      if (kernels.size <= KEPT_KERNELS) break;
      kernels.delete(old);
    }
    return parsed;
  }

  return server;
}

const DEFAULT_IDLE_SECONDS = 60;
const warmSessionsOf = new WeakMap<McpServer, WarmSessions>();

/**
 * One agent session per target, kept between tool calls for @o.idleSeconds and closed when the
 * client goes away (the server's transport closes); see closeMcpSessions.
 */
function keepSessionsWarm(server: McpServer, o: McpServerOptions): WarmSessions {
  const sessions = new WarmSessions({ open: o.openSession, idleMs: (o.idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000, log: o.log });
  warmSessionsOf.set(server, sessions);
  const onclose = server.server.onclose;
  server.server.onclose = () => {
    void sessions.close();
    onclose?.();
  };
  return sessions;
}

/** Closes the agent sessions @server keeps (it does so itself when its client disconnects); resolves when they are closed. */
export function closeMcpSessions(server: McpServer): Promise<void> {
  return warmSessionsOf.get(server)?.close() ?? Promise.resolve();
}

/** One percent-encoded part of a resource URI, as the SDK matched it (undecoded, and never a list for these templates). */
function uriPart(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new McpError(ErrorCode.InvalidParams, `'${raw}' is not a percent-encoded URI part (encode it with encodeURIComponent)`);
  }
}

/**
 * Attached for @seconds or until @maxEvents records and printk lines arrived, then the maps of
 * @dump read (while still attached), then detached. Without events (map_dump), only @seconds ends it.
 */
async function runBriefly(
  session: AgentSession,
  target: string,
  input: CheckInput,
  specs: AttachSpec[],
  seconds: number,
  maxEvents: number,
  signal: AbortSignal,
  keepLogs: (reports: CheckReport[]) => void,
  dump?: MapsToDump,
): Promise<CallToolResult> {
  const { report, run } = await startRunOn(session, input.file, { attach: specs, signal });
  keepLogs([report]);
  const out: RunOutput = { passed: run !== undefined, diagnostics: [], attached: [], events: [], printk: [], truncated: false, streams: [] };
  const shown = (file: string): string => (file === input.file ? input.shownAs : file);
  for (const d of report.diagnostics) out.diagnostics.push(toWireDiagnostic(target, d, shown, d.file === input.file ? input.text : undefined));
  if (!run) return textResult(`Not attached: the check failed.\n${checkSummary({ passed: false, diagnostics: out.diagnostics, programs: [], unreachable: [] })}`, out);
  out.attached = run.attached.map((a) => ({ program: a.program, description: a.description }));
  const full = (): boolean => out.events.length + out.printk.length >= maxEvents;
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const stopWhenFull = (): void => {
      if (!full()) return;
      out.truncated = true;
      finish();
    };
    const timer = setTimeout(finish, seconds * 1000);
    if (signal.aborted) return finish();
    signal.addEventListener('abort', finish, { once: true });
    void session.closed.then(finish);
    if (dump?.withoutEvents) return;
    run.onEvents((batch) => {
      for (const record of batch.records) {
        if (full()) break;
        out.events.push({ map: batch.map, time: new Date(batch.receivedAt).toISOString(), fields: plainJson(record) });
      }
      stopWhenFull();
    });
    run.onTrace((records) => {
      for (const r of records) {
        if (full()) break;
        out.printk.push({ time: new Date(r.receivedAt).toISOString(), line: r.parsed ? `${r.parsed.comm}-${r.parsed.pid} [${r.parsed.cpu}] ${r.parsed.message}` : r.line });
      }
      stopWhenFull();
    });
  });
  let maps: MapContents[] | Error | undefined;
  if (dump) maps = await readMapContents(session.client, run.objectId, run, { maxEntries: dump.maxEntries, ...(dump.names && { names: dump.names }), signal }).catch((e: unknown) => (signal.aborted ? Promise.reject(e) : e instanceof Error ? e : new Error(String(e))));
  const summary = await run.stop();
  out.streams = summary.streams.map((s) => ({ map: s.map, received: s.decoded, dropped: s.dropped }));
  if (maps instanceof Error) return textResult(`${maps.message}. Everything is detached again.`, undefined, true);
  if (maps) out.maps = maps;
  if (dump?.withoutEvents) return mapDumpResult(target, out);
  const text = [
    `Attached ${out.attached.map((a) => `${a.program} (${a.description})`).join(', ')} on ${target}; ${out.events.length} records, ${out.printk.length} printk lines${out.truncated ? ` (stopped at maxEvents ${maxEvents})` : ''}; everything is detached again.`,
    ...out.events.slice(0, 20).map((e) => `${e.map} ${JSON.stringify(e.fields)}`),
    ...out.printk.slice(0, 20).map((p) => `printk ${p.line}`),
    ...mapsText(out.maps ?? []),
  ];
  return textResult(text.join('\n'), out);
}

/** Which maps a run reads at its end, and how many entries of each. */
interface MapsToDump {
  /** Only these maps; else every map that holds entries. */
  names?: string[];
  maxEntries: number;
  /** map_dump: no events are collected, the run lasts its seconds. */
  withoutEvents?: boolean;
}

/** Inputs map_dump has beyond run's file, source, name, target, attach and seconds. */
const mapDumpInputs = {
  maps: z.array(z.string()).optional().describe("only these maps (by their name in the source); default: every map that holds entries (not ring/perf buffers, not .bss/.data/.rodata)"),
  maxEntries: z.number().int().min(1).max(MAX_MAP_ENTRIES).optional().describe(`at most this many entries of each map (default ${DEFAULT_MAP_ENTRIES}, at most ${MAX_MAP_ENTRIES}); truncated says when there were more`),
};

const mapDumpOutput = {
  passed: runOutput.passed,
  diagnostics: runOutput.diagnostics,
  attached: runOutput.attached,
  maps: z.array(mapContentsSchema),
};

/** run's dumpMaps and maxMapEntries as what runBriefly reads; undefined when no maps are wanted. */
function mapsToDump(args: { dumpMaps?: boolean | string[] | undefined; maxMapEntries?: number | undefined }): MapsToDump | undefined {
  if (args.dumpMaps === undefined || args.dumpMaps === false) return undefined;
  return { ...(Array.isArray(args.dumpMaps) && { names: args.dumpMaps }), maxEntries: args.maxMapEntries ?? DEFAULT_MAP_ENTRIES };
}

function mapDumpResult(target: string, run: RunOutput): CallToolResult {
  const out = { passed: run.passed, diagnostics: run.diagnostics, attached: run.attached, maps: run.maps ?? [] };
  const text = [`Attached ${out.attached.map((a) => `${a.program} (${a.description})`).join(', ')} on ${target}, read its maps, and detached everything again.`, ...mapsText(out.maps)];
  return textResult(text.join('\n'), out);
}

/** Each map's line, then its first entries as `key → value`. */
function mapsText(maps: MapContentsJson[]): string[] {
  return maps.flatMap((m) => [
    `map ${m.name} (${m.type}, max ${m.maxEntries}): ${m.error ? `not read: ${m.error}` : `${m.entries.length} entries${m.truncated ? ' (truncated: it holds more)' : ''}`}`,
    ...m.entries.slice(0, 20).map((e) => `  ${JSON.stringify(e.key)} → ${JSON.stringify(e.values ?? e.value)}`),
  ]);
}

/**
 * map_dump: what a program's maps hold after it ran — verify, attach for a few seconds (the agent
 * makes what the program should count happen meanwhile), read the maps, detach. The same consent
 * as run: it attaches.
 */
function registerMapDumpTool(
  server: McpServer,
  o: {
    defaultTarget: string | undefined;
    log(line: string): void;
    consent(target: string, action: 'attach'): Promise<string | undefined>;
    withSession<T>(target: string, signal: AbortSignal, use: (session: AgentSession) => Promise<T>): Promise<T>;
    keepLogs(target: string, input: CheckInput, reports: CheckReport[]): void;
  },
): void {
  server.registerTool(
    'map_dump',
    {
      title: "Read eBPF programs' maps",
      description:
        "Verify a file (or a source text) on one target, attach every program (by its SEC(), or as `attach` says) for `seconds`, then return the entries of its maps decoded with the program's BTF (keys and values as JSON), and detach everything. Make what the program counts happen during those seconds. A rejected program is not attached: its diagnostics come back as check gives them.",
      inputSchema: {
        ...attachedProgramInputs,
        seconds: z.number().min(0).max(MAX_RUN_SECONDS).optional().describe(`how long to stay attached before reading the maps (default ${DEFAULT_MAP_DUMP_SECONDS}, at most ${MAX_RUN_SECONDS})`),
        ...mapDumpInputs,
      },
      outputSchema: mapDumpOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      if ((args.file === undefined) === (args.source === undefined)) return textResult('Give either file (a path) or source (the program text).', undefined, true);
      const target = args.target ?? o.defaultTarget;
      o.log(`map_dump ${args.file ?? `<source ${args.name ?? 'program.bpf.c'}>`} on ${target ?? 'no target'}`);
      if (target === undefined) return textResult('No targets are configured for agents.', undefined, true);
      let specs: AttachSpec[];
      try {
        specs = (args.attach ?? []).map(parseAttachSpec);
      } catch (e) {
        return textResult(e instanceof AttachSpecError ? attachSpecMessage(e) : messageOf(e), undefined, true);
      }
      const refused = await o.consent(target, 'attach');
      if (refused) return textResult(refused, undefined, true);
      const input = resolveInput(args);
      if ('error' in input) return textResult(input.error, undefined, true);
      const dump: MapsToDump = { ...(args.maps && { names: args.maps }), maxEntries: args.maxEntries ?? DEFAULT_MAP_ENTRIES, withoutEvents: true };
      try {
        const result = await o.withSession(target, extra.signal, (session) =>
          runBriefly(session, target, input, specs, args.seconds ?? DEFAULT_MAP_DUMP_SECONDS, MAX_RUN_EVENTS, extra.signal, (reports) => o.keepLogs(target, input, reports), dump),
        );
        // A rejected check comes back as run's output: map_dump's has maps (none) instead of events.
        const s = result.structuredContent as RunOutput | undefined;
        return s && !s.passed && !result.isError ? { ...result, structuredContent: { passed: false, diagnostics: s.diagnostics, attached: [], maps: [] } } : result;
      } catch (e) {
        if (e instanceof AttachError || e instanceof AttachSpecError) return textResult(e instanceof AttachSpecError ? attachSpecMessage(e) : e.message, undefined, true);
        throw e;
      } finally {
        input.cleanup();
      }
    },
  );
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface CheckInput {
  file: string;
  /** The name diagnostics give the file: the path the agent gave, or the source text's name. */
  shownAs: string;
  /** Which file it is for the kept verifier logs: the absolute path, or the source text's name (never a path). */
  keyName: string;
  text: string;
  cleanup(): void;
}

/** A file is read where it is; a source text is written to a private temp dir under its name. */
function resolveInput(args: { file?: string; source?: string; name?: string }): CheckInput | { error: string } {
  if (args.file !== undefined) {
    const file = path.resolve(args.file);
    if (!fs.existsSync(file)) return { error: `${args.file}: no such file` };
    return { file, shownAs: args.file, keyName: file, text: fs.readFileSync(file, 'utf8'), cleanup: () => {} };
  }
  const name = args.name ?? 'program.bpf.c';
  if (!/^[\w.-]+\.c$/.test(name)) return { error: `name must be a plain C file name (like probe.bpf.c), not '${name}'` };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebpf-studio-mcp-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, args.source!);
  return { file, shownAs: name, keyName: name, text: args.source!, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function addReports(out: CheckOutput, target: string, reports: CheckReport[], input: CheckInput): void {
  const shown = (file: string): string => (file === input.file ? input.shownAs : file);
  for (const report of reports) {
    if (!report.compiled || report.programs.some((p) => !p.ok)) out.passed = false;
    for (const d of report.diagnostics) {
      if (d.severity === 'error') out.passed = false;
      out.diagnostics.push(toWireDiagnostic(target, d, shown, d.file === input.file ? input.text : undefined));
    }
    for (const p of report.programs) {
      out.programs.push({
        target,
        kernelRelease: report.kernelRelease,
        program: p.name,
        section: p.section,
        ok: p.ok,
        insnsProcessed: p.insnsProcessed,
        stackDepth: p.stackDepth,
        ...(p.error !== undefined && { error: p.error }),
      });
    }
  }
}

function toWireDiagnostic(target: string, d: SourceDiagnostic, shown: (file: string) => string, text: string | undefined): CheckOutput['diagnostics'][number] {
  return { target, ...toJsonDiagnostic(d, shown), fixes: text === undefined ? [] : verifierFixes(text, d) };
}

/** The text an agent reads first: the verdict, then each problem with its explanation and fixes. */
function checkSummary(out: CheckOutput): string {
  const lines = [out.passed ? `Every program passed (${out.programs.map((p) => `${p.program} on ${p.target}`).join(', ')}).` : 'The check failed.'];
  for (const u of out.unreachable) lines.push(`${u.target}: not checked: ${u.error}`);
  for (const d of out.diagnostics) {
    lines.push(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.target}${d.program ? `, ${d.program}` : ''}]`);
    if (d.explanation) lines.push(`  ${d.explanation.title}: ${d.explanation.text}`, `  Fix: ${d.explanation.fix}`);
    for (const c of (d.related ?? []).slice(0, 3)) lines.push(`  ${c.file}:${c.line}: ${c.message}`);
    for (const f of d.fixes) lines.push(`  quick fix available: ${f.title}`);
  }
  return lines.join('\n');
}
