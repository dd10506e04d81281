/**
 * The MCP server (cli/mcpServer.ts) driven by the SDK's own client, on this machine's kernel: the
 * tools and their schemas, the check → fix → check loop an agent runs, and the user's control over
 * targets (configured only; asked first unless allowed). In-process over the SDK's in-memory
 * transport, and once over stdio as `ebpf-studio mcp` is started by VS Code. Then the resources:
 * the verifier log a check left, and kernel types read from this machine's BTF.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openCliSession } from '../../cli/cliSession';
import { closeMcpSessions, createMcpServer, kernelTypeUri, verifierLogUri } from '../../cli/mcpServer';
import { LocalCompiler } from '../../remote-agent/client/kernelMatrix';
import { loadTemplates } from '../../bpf-templates/templateCatalog';
import { applyTextEdits } from '../../remote-agent/client/verifierFixes';
import { agentPrerequisiteMissing, agentTestsGate, programFixtures } from '../support/rawAgent';

const skipReason = agentPrerequisiteMissing();
const t = agentTestsGate('MCP server tests', skipReason);
const repo = join(__dirname, '..', '..');
const rejected = readFileSync(join(programFixtures, 'rejected.bpf.c'), 'utf8');

let compiler: LocalCompiler;
before(() => {
  compiler = new LocalCompiler(() => openCliSession({ target: 'local' }, AbortSignal.timeout(120_000), { unprivileged: true }));
});
after(async () => {
  await compiler?.dispose();
});

/** A server for @targets and a connected client; @answer, when given, is how the "user" answers consent questions. */
async function connect(targets: string[], allowed: string[], answer?: 'accept' | 'decline', idleSeconds?: number): Promise<{ client: Client; asked: string[]; log: string[]; closeSessions(): Promise<void> }> {
  const asked: string[] = [];
  const log: string[] = [];
  const server = createMcpServer({
    targets,
    allowedWithoutAsking: allowed,
    openSession: (target, signal) => openCliSession({ target }, signal),
    ...(idleSeconds !== undefined && { idleSeconds }),
    compiler,
    version: 'test',
    log: (line) => log.push(line),
  });
  const client = new Client({ name: 'mcp-test', version: '1' }, { capabilities: answer ? { elicitation: {} } : {} });
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return { action: answer, content: {} };
    });
  }
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  return { client, asked, log, closeSessions: () => closeMcpSessions(server) };
}

/** The agents this process started on this machine (target local): its children running ebpf-agent. */
function localAgentPids(): Set<number> {
  const pids = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    // pid (comm) state ppid …; comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (comm === 'ebpf-agent' && ppid === process.pid) pids.add(Number(entry));
  }
  return pids;
}

/** The agents started since @before that are still running. */
function agentsSince(before: Set<number>): number[] {
  return [...localAgentPids()].filter((pid) => !before.has(pid));
}

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !done(); await sleep(50)) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
  }
}

function structured(result: unknown): any {
  const r = result as CallToolResult;
  assert.notEqual(r.isError, true, JSON.stringify(r.content));
  return r.structuredContent;
}

function errorText(result: unknown): string {
  const r = result as CallToolResult;
  assert.equal(r.isError, true, 'the call is refused');
  return (r.content[0] as { text: string }).text;
}

t('the server lists its tools, each with an input and an output schema', async () => {
  const { client } = await connect(['local'], ['local']);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((tool) => tool.name).sort(), ['check', 'explain', 'kernel_features', 'list_targets', 'map_dump', 'new_program', 'run', 'templates']);
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object', tool.name);
    assert.equal(tool.outputSchema?.type, 'object', tool.name);
  }
  assert.deepEqual(Object.keys(tools.find((tool) => tool.name === 'check')!.inputSchema.properties ?? {}).sort(), ['file', 'name', 'source', 'target', 'targets']);
  await client.close();
});

t('check → fix → check: a rejected program gets its explanation and a fix whose edits make the verifier accept it', async () => {
  const { client, log } = await connect(['local'], ['local']);
  const first = structured(await client.callTool({ name: 'check', arguments: { source: rejected, name: 'rejected.bpf.c' } }));
  assert.equal(first.passed, false);
  const [diagnostic] = first.diagnostics;
  assert.deepEqual([diagnostic.file, diagnostic.line, diagnostic.severity, diagnostic.source, diagnostic.program, diagnostic.target], ['rejected.bpf.c', 22, 'error', 'verifier', 'count_execve', 'local']);
  assert.equal(diagnostic.explanation.id, 'nullable-map-value');
  assert.ok(diagnostic.related.some((c: { line: number }) => c.line === 19), 'the lookup that returned the nullable pointer is in the chain');
  assert.ok(diagnostic.fixes.length > 0, 'a quick fix is offered');
  const fixed = applyTextEdits(rejected, diagnostic.fixes[0].edits);
  const second = structured(await client.callTool({ name: 'check', arguments: { source: fixed, name: 'rejected.bpf.c' } }));
  assert.deepEqual([second.passed, second.diagnostics, second.programs.map((p: { program: string; ok: boolean }) => [p.program, p.ok])], [true, [], [['count_execve', true]]]);
  assert.deepEqual(log.filter((line) => line.startsWith('check ')), ['check <source rejected.bpf.c> on local', 'check <source rejected.bpf.c> on local'], 'every call is logged');
  await client.close();
});

t('a file is checked where it is; explain needs no target', async () => {
  const { client } = await connect(['local'], ['local']);
  const checked = structured(await client.callTool({ name: 'check', arguments: { file: join(programFixtures, 'passes.bpf.c') } }));
  assert.equal(checked.passed, true);
  const explained = structured(await client.callTool({ name: 'explain', arguments: { message: "R0 invalid mem access 'map_value_or_null'" } }));
  assert.deepEqual([explained.explained, explained.id], [true, 'nullable-map-value']);
  await client.close();
});

t('run attaches the exec tracer, returns its decoded events within maxEvents, and detaches', async () => {
  const { client } = await connect(['local'], ['local']);
  const execs = setInterval(() => spawn('/bin/true').on('error', () => {}), 50);
  try {
    const result = structured(await client.callTool({ name: 'run', arguments: { file: join(repo, 'bpf-templates', 'execsnoop', 'execsnoop.bpf.c'), seconds: 20, maxEvents: 5 } }));
    assert.equal(result.passed, true);
    assert.deepEqual(result.attached.map((a: { program: string }) => a.program), ['handle_execve']);
    assert.equal(result.events.length + result.printk.length, 5, 'stopped at maxEvents, long before 20 s');
    assert.equal(result.truncated, true);
    const trueExecs = result.events.filter((e: { map: string; fields: { filename: string } }) => e.map === 'events' && e.fields.filename === '/bin/true');
    assert.ok(trueExecs.length > 0, JSON.stringify(result.events));
    assert.equal(typeof trueExecs[0].fields.pid, 'number');
    const logs = (await client.listResources()).resources;
    assert.deepEqual(logs.map((r) => r.name), ['handle_execve on local'], "a run's check leaves its verifier logs too");
  } finally {
    clearInterval(execs);
    await client.close();
  }
  const links = execFileSync('bpftool', ['link', 'show'], { encoding: 'utf8' });
  assert.doesNotMatch(links, /handle_execve/, 'nothing stays attached');
});

t('a run on a target the user did not allow is refused, saying how to allow it', async () => {
  const { client } = await connect(['local'], []);
  assert.match(errorText(await client.callTool({ name: 'run', arguments: { file: join(programFixtures, 'passes.bpf.c') } })), /needs the user's consent, and this MCP client cannot ask for it: .*--allow-target local/);
  await client.close();
});

t('an agent never gets a target the user did not configure', async () => {
  const { client } = await connect(['local'], ['local']);
  const text = errorText(await client.callTool({ name: 'check', arguments: { source: rejected, target: 'ssh://root@elsewhere.example' } }));
  assert.match(text, /^ssh:\/\/root@elsewhere\.example is not one of the targets the user configured for agents \(local\)/);
  await client.close();
});

t('a configured target the user did not allow is asked for once (elicitation), refused when declined or when the client cannot ask', async () => {
  const cannotAsk = await connect(['local'], []);
  assert.match(errorText(await cannotAsk.client.callTool({ name: 'kernel_features', arguments: {} })), /needs the user's consent, and this MCP client cannot ask for it: .*--allow-target local/);
  await cannotAsk.client.close();

  const declines = await connect(['local'], [], 'decline');
  assert.match(errorText(await declines.client.callTool({ name: 'kernel_features', arguments: {} })), /^The user did not allow agents to start eBPF Studio's agent .* on local\.$/);
  assert.equal(declines.asked.length, 1);
  await declines.client.close();

  const accepts = await connect(['local'], [], 'accept');
  for (let i = 0; i < 2; i++) {
    const features = structured(await accepts.client.callTool({ name: 'kernel_features', arguments: {} }));
    assert.equal(features.kernelRelease, readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    assert.equal(typeof features.features.ringbuf, 'boolean');
  }
  assert.equal(accepts.asked.length, 1, 'asked once for the session');
  assert.match(accepts.asked[0]!, /^An agent wants to start eBPF Studio's agent \(it probes the kernel's features by loading test programs\) on local\./);
  await accepts.client.close();
});

t("kernel_features lists the helpers a program type may call on the target's kernel, the agent's privileges, and refuses an unknown type", async () => {
  const { client } = await connect(['local'], ['local']);
  const xdp = structured(await client.callTool({ name: 'kernel_features', arguments: { programType: 'xdp' } }));
  assert.equal(xdp.helpers.programType, 'xdp');
  assert.ok(xdp.helpers.callable.includes('bpf_xdp_adjust_head'), 'XDP programs may adjust the packet head');
  assert.ok(!xdp.helpers.callable.includes('bpf_skb_store_bytes'), 'XDP programs have no socket buffer to write');
  const kprobe = structured(await client.callTool({ name: 'kernel_features', arguments: { programType: 'kprobe' } }));
  assert.ok(kprobe.helpers.gplOnly.includes('bpf_probe_read_kernel'), 'reading kernel memory is GPL-only');
  assert.ok(kprobe.helpers.gplOnly.every((helper: string) => kprobe.helpers.callable.includes(helper)));
  assert.ok(Array.isArray(xdp.privileges.effectiveCapabilities) && xdp.privileges.effectiveCapabilities.includes('bpf'), JSON.stringify(xdp.privileges));
  assert.match(errorText(await client.callTool({ name: 'kernel_features', arguments: { programType: 'no_such_type' } })), /^No helper list for program type "no_such_type" on local: .*Probed types: .*xdp/);
  await client.close();
});

t('`ebpf-studio mcp` serves the same tools over stdio', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [join(repo, 'out', 'cli.js'), 'mcp', '--target', 'local', '--allow-target', 'local'], stderr: 'pipe' });
  const client = new Client({ name: 'mcp-stdio-test', version: '1' });
  await client.connect(transport);
  assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ['check', 'explain', 'kernel_features', 'list_targets', 'map_dump', 'new_program', 'run', 'templates']);
  const listed = structured(await client.callTool({ name: 'list_targets', arguments: {} }));
  assert.deepEqual(listed.targets, [{ target: 'local', isDefault: true, usableWithoutAsking: true }]);
  await client.close();
});

t('`ebpf-studio mcp --target NAME` takes a name of EBPF_STUDIO_TARGETS (as the editor passes its named targets): listed with its destination, and used', async () => {
  const named = JSON.stringify([{ name: 'here', destination: 'local' }]);
  const env = { ...(process.env as Record<string, string>), EBPF_STUDIO_TARGETS: named };
  const transport = new StdioClientTransport({ command: process.execPath, args: [join(repo, 'out', 'cli.js'), 'mcp', '--target', 'here', '--allow-target', 'here'], env, stderr: 'pipe' });
  const client = new Client({ name: 'mcp-named-test', version: '1' });
  await client.connect(transport);
  const listed = structured(await client.callTool({ name: 'list_targets', arguments: {} }));
  assert.deepEqual(listed.targets, [{ target: 'here', destination: 'local', isDefault: true, usableWithoutAsking: true }]);
  const features = structured(await client.callTool({ name: 'kernel_features', arguments: { target: 'here' } }));
  assert.equal(features.kernelRelease, readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
  await client.close();
});

t('after a check, each program\'s verifier log is a resource: listed, and read with the failing line', async () => {
  const { client, log } = await connect(['local'], ['local']);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((r) => r.uriTemplate).sort(), ['ebpf-studio://kernel-type/{target}/{name}', 'ebpf-studio://verifier-log/{target}/{file}/{program}']);
  assert.deepEqual((await client.listResources()).resources, [], 'nothing is checked yet');

  structured(await client.callTool({ name: 'check', arguments: { source: rejected, name: 'rejected.bpf.c' } }));
  const { resources } = await client.listResources();
  const uri = verifierLogUri('local', 'rejected.bpf.c', 'count_execve');
  assert.deepEqual(resources.map((r) => [r.uri, r.mimeType]), [[uri, 'text/plain']]);
  assert.match(resources[0]!.description ?? '', /^rejected by the verifier of local/);
  const { contents } = await client.readResource({ uri });
  const text = (contents[0] as { text: string }).text;
  assert.match(text, /^; \*count \+= 1; @ rejected\.bpf\.c:22$/m, 'the failing source line');
  assert.match(text, /^R0 invalid mem access 'map_value_or_null'$/m);

  const file = join(programFixtures, 'passes.bpf.c');
  structured(await client.callTool({ name: 'check', arguments: { file } }));
  const listed = (await client.listResources()).resources;
  assert.ok(listed[0]!.uri.startsWith(`ebpf-studio://verifier-log/local/${encodeURIComponent(file)}/`), 'the newest check is listed first; a file is named by its absolute path');
  assert.equal(listed.at(-1)!.uri, uri);
  await assert.rejects(client.readResource({ uri: verifierLogUri('local', 'rejected.bpf.c', 'no_such_program') }), /the last check of rejected\.bpf\.c on local has no program no_such_program \(it has count_execve\)/);
  await assert.rejects(client.readResource({ uri: verifierLogUri('local', 'never.bpf.c', 'p') }), /No verifier log: never\.bpf\.c has not been checked on local in this session\. Call the check tool first/);
  assert.ok(log.includes('read verifier log of count_execve in rejected.bpf.c on local'), 'reads are logged');
  await client.close();
});

t("kernel types read from the target's BTF as vmlinux.h defines them: a struct, a typedef of an anonymous struct, an enum", async () => {
  const { client } = await connect(['local'], ['local']);
  const read = async (name: string): Promise<string> => {
    const { contents } = await client.readResource({ uri: kernelTypeUri('local', name) });
    assert.equal(contents[0]!.mimeType, 'text/x-c');
    return (contents[0] as { text: string }).text;
  };
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();

  const task = await read('task_struct');
  assert.ok(task.startsWith(`/* struct task_struct: from the BTF of local (kernel ${release}), as vmlinux.h defines it.`), task.slice(0, 200));
  assert.match(task, /^struct task_struct \{$/m);
  assert.match(task, /^\tpid_t pid;$/m);
  assert.match(task, /^\tchar comm\[16\];$/m);
  assert.match(task, /^\tstruct mm_struct \*mm;$/m);
  assert.match(task, /^\tunsigned int sched_reset_on_fork: 1;$/m, 'bitfields keep their width');
  assert.match(task, /^};\n$/m);
  assert.doesNotMatch(task, /^struct mm_struct \{/m, 'the types it uses are not included');

  assert.match(await read('atomic_t'), /^typedef struct \{\n\tint counter;\n\} atomic_t;$/m);
  assert.match(await read('pid_t'), /^typedef __kernel_pid_t pid_t;$/m);
  const mapTypes = await read('enum bpf_map_type');
  assert.match(mapTypes, /^enum bpf_map_type \{$/m);
  assert.match(mapTypes, /^\tBPF_MAP_TYPE_HASH = 1,$/m);
  assert.match(await read('struct list_head'), /^struct list_head \{\n\tstruct list_head \*next;\n\tstruct list_head \*prev;\n\};$/m);

  await assert.rejects(read('no_such_kernel_type'), /The kernel of local \(.+\) has no struct, union, enum or typedef named 'no_such_kernel_type'\./);
  await assert.rejects(read('task_struc'), /Names like it: struct task_struct/, 'a near miss gets suggestions');
  await client.close();
});

t('reading a kernel type needs the same consent as kernel_features', async () => {
  const cannotAsk = await connect(['local'], []);
  await assert.rejects(cannotAsk.client.readResource({ uri: kernelTypeUri('local', 'task_struct') }), /needs the user's consent, and this MCP client cannot ask for it: .*--allow-target local/);
  await assert.rejects(cannotAsk.client.readResource({ uri: kernelTypeUri('ssh://root@elsewhere.example', 'task_struct') }), /is not one of the targets the user configured for agents/);
  await cannotAsk.client.close();
  const accepts = await connect(['local'], [], 'accept');
  await accepts.client.readResource({ uri: kernelTypeUri('local', 'atomic_t') });
  await accepts.client.callTool({ name: 'kernel_features', arguments: {} });
  assert.equal(accepts.asked.length, 1, 'one consent covers kernel types and kernel_features');
  await accepts.client.close();
});

t('templates lists the catalogue without touching a target; with one, each template says whether its kernel can run it', async () => {
  const { client, log } = await connect(['local'], ['local']);
  const plain = structured(await client.callTool({ name: 'templates', arguments: {} }));
  assert.deepEqual(plain.templates.map((template: { id: string }) => template.id), loadTemplates().map((template) => template.id));
  assert.ok(plain.templates.every((template: object) => !('runnable' in template)), 'runnable is only said about a target');
  const judged = structured(await client.callTool({ name: 'templates', arguments: { target: 'local' } }));
  assert.equal(judged.target, 'local');
  for (const template of judged.templates as { id: string; runnable: boolean; notRunnableReason?: string }[]) {
    if (template.runnable) assert.equal(template.notRunnableReason, undefined, template.id);
    else assert.match(template.notRunnableReason ?? '', /^this kernel lacks .+/, template.id);
  }
  assert.deepEqual(log.filter((line) => line.startsWith('templates')), ['templates', 'templates on local'], 'every call is logged');
  await client.close();
});

t('templates on a target needs the same consent as kernel_features, and only configured targets', async () => {
  const cannotAsk = await connect(['local'], []);
  assert.equal(structured(await cannotAsk.client.callTool({ name: 'templates', arguments: {} })).templates.length, loadTemplates().length, 'listing alone needs no consent');
  assert.match(errorText(await cannotAsk.client.callTool({ name: 'templates', arguments: { target: 'local' } })), /needs the user's consent, and this MCP client cannot ask for it: .*--allow-target local/);
  assert.match(errorText(await cannotAsk.client.callTool({ name: 'templates', arguments: { target: 'ssh://root@elsewhere.example' } })), /is not one of the targets the user configured for agents/);
  await cannotAsk.client.close();
  const accepts = await connect(['local'], [], 'accept');
  await accepts.client.callTool({ name: 'templates', arguments: { target: 'local' } });
  await accepts.client.callTool({ name: 'kernel_features', arguments: {} });
  assert.equal(accepts.asked.length, 1, 'one consent covers templates and kernel_features');
  await accepts.client.close();
});

t('new_program writes a template with its parameters and .clangd into the named directory, and never overwrites', async () => {
  const { client } = await connect(['local'], ['local']);
  const directory = join(mkdtempSync(join(tmpdir(), 'mcp-new-program-')), 'opens');
  const created = structured(await client.callTool({ name: 'new_program', arguments: { template: 'tracepoint-printk', directory, params: { tracepoint: 'syscalls/sys_enter_openat' } } }));
  assert.deepEqual(created.written, ['Makefile', 'README.md', 'tracepoint_printk.bpf.c', 'tracepoint_printk.c', 'tracepoint_printk.h'].map((f) => join(directory, f)));
  assert.deepEqual([created.program, created.clangd], [join(directory, 'tracepoint_printk.bpf.c'), join(directory, '.clangd')]);
  assert.match(readFileSync(created.program, 'utf8'), /SEC\("tracepoint\/syscalls\/sys_enter_openat"\)/);
  assert.match(readFileSync(created.clangd, 'utf8'), /- bpf\n/);
  const checked = structured(await client.callTool({ name: 'check', arguments: { file: created.program } }));
  assert.equal(checked.passed, true, JSON.stringify(checked.diagnostics));

  writeFileSync(created.program, '/* the user\'s edits */\n');
  const before = readdirSync(directory).sort();
  assert.match(errorText(await client.callTool({ name: 'new_program', arguments: { template: 'tracepoint-printk', directory } })), /already has Makefile, README\.md, tracepoint_printk\.bpf\.c, .*nothing was written$/);
  assert.deepEqual(readdirSync(directory).sort(), before);
  assert.equal(readFileSync(created.program, 'utf8'), "/* the user's edits */\n");

  const elsewhere = join(tmpdir(), `mcp-new-program-refused-${process.pid}`);
  assert.equal(errorText(await client.callTool({ name: 'new_program', arguments: { template: 'execsnoop', directory: 'relative/dir' } })), "directory must be an absolute path, not 'relative/dir': say exactly where the program goes.");
  assert.match(errorText(await client.callTool({ name: 'new_program', arguments: { template: 'no-such-template', directory: elsewhere } })), /^no template "no-such-template"; there are: .*execsnoop/);
  assert.equal(errorText(await client.callTool({ name: 'new_program', arguments: { template: 'tracepoint-printk', directory: elsewhere, params: { tracepoint: 'x"); evil("' } } })), 'tracepoint: "x\"); evil(\"" is not category/name, e.g. syscalls/sys_enter_openat');
  assert.equal(errorText(await client.callTool({ name: 'new_program', arguments: { template: 'execsnoop', directory: elsewhere, params: { port: '80' } } })), 'template "execsnoop" has no parameter "port"');
  assert.equal(existsSync(elsewhere), false, 'a refused call writes nothing');
  await client.close();
});

t("calls on one target share one agent session, kept warm between them and closed when the client disconnects", async () => {
  const before = localAgentPids();
  const { client, log } = await connect(['local'], ['local']);
  const file = join(programFixtures, 'passes.bpf.c');
  assert.equal(structured(await client.callTool({ name: 'check', arguments: { file } })).passed, true);
  const [agent, ...others] = agentsSince(before);
  assert.ok(agent !== undefined && others.length === 0, 'the first call started one agent');
  const started = Date.now();
  assert.equal(structured(await client.callTool({ name: 'check', arguments: { file } })).passed, true);
  structured(await client.callTool({ name: 'kernel_features', arguments: {} }));
  assert.deepEqual(agentsSince(before), [agent], 'the later calls used the same agent');
  assert.ok(Date.now() - started < 5_000, 'and started nothing');
  assert.equal(log.filter((line) => line.startsWith('opened an agent session to local')).length, 1);
  await client.close();
  await until('the agent exits when the client disconnects', () => agentsSince(before).length === 0);
});

t('a kept session whose agent died is dropped: the next call succeeds on a new agent', async () => {
  const before = localAgentPids();
  const { client, log, closeSessions } = await connect(['local'], ['local']);
  const file = join(programFixtures, 'passes.bpf.c');
  structured(await client.callTool({ name: 'check', arguments: { file } }));
  const [first] = agentsSince(before);
  assert.ok(first !== undefined);
  process.kill(first, 'SIGKILL');
  const second = structured(await client.callTool({ name: 'check', arguments: { file } }));
  assert.equal(second.passed, true, JSON.stringify(second));
  const now = agentsSince(before);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], first, 'a new agent');
  assert.ok(log.some((line) => /^the agent session to local ended: |^the kept session to local had died/.test(line)), log.join('\n'));
  await closeSessions();
  await until('closing the sessions stops the agent', () => agentsSince(before).length === 0);
  await client.close();
});

t('a session idle for longer than idleSeconds is closed; the next call opens another', async () => {
  const before = localAgentPids();
  const { client, log } = await connect(['local'], ['local'], undefined, 0.5);
  structured(await client.callTool({ name: 'kernel_features', arguments: {} }));
  assert.equal(agentsSince(before).length, 1);
  await until('the idle agent exits', () => agentsSince(before).length === 0, 5_000);
  assert.ok(log.includes('closing the agent session to local: idle for 0.5 s'), log.join('\n'));
  structured(await client.callTool({ name: 'kernel_features', arguments: {} }));
  assert.equal(agentsSince(before).length, 1);
  await client.close();
});

/** Whether a program named @name is attached now (a link holds it), as bpftool sees it. */
function attached(name: string): boolean {
  const programs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { id: number; name?: string }[];
  const links = JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { prog_id: number }[];
  const ids = new Set(programs.filter((p) => p.name === name).map((p) => p.id));
  return links.some((link) => ids.has(link.prog_id));
}

/** A shell that sends kill(its own pid, 0) @times times and exits; its pid. */
function killZero(times: number): number {
  const shell = spawnSync('/bin/sh', ['-c', `${'kill -0 $$; '.repeat(times)}echo $$`], { encoding: 'utf8' });
  assert.equal(shell.status, 0, shell.stderr);
  return Number(shell.stdout.trim());
}

t("run with dumpMaps returns the maps' entries decoded with BTF: exactly the kills the test caused, keyed by a struct", async () => {
  const { client, log } = await connect(['local'], ['local']);
  const file = join(programFixtures, 'kill_count.bpf.c');
  const call = client.callTool({ name: 'run', arguments: { file, seconds: 6, dumpMaps: true } });
  let pid = 0;
  try {
    await until('count_kill is attached', () => attached('count_kill'), 60_000);
    pid = killZero(3);
  } finally {
    const result = structured(await call);
    assert.equal(result.passed, true, JSON.stringify(result.diagnostics));
    const maps = new Map<string, any>(result.maps.map((m: { name: string }) => [m.name, m]));
    assert.deepEqual([...maps.values()].map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries]).sort(), [
      ['kills_by_signal', 'array', 4, 8, 8],
      ['probes_by_caller', 'hash', 20, 16, 1024],
    ], 'the maps that hold entries; not .rodata or .bss');
    const ours = maps.get('probes_by_caller').entries.filter((e: { key: { tgid: number } }) => e.key.tgid === pid);
    assert.deepEqual(ours, [{ key: { tgid: pid, comm: 'sh' }, value: { calls: 3, last_target: pid } }]);
    const bySignal = maps.get('kills_by_signal');
    assert.deepEqual([bySignal.truncated, bySignal.entries.map((e: { key: number }) => e.key)], [false, [0, 1, 2, 3, 4, 5, 6, 7]]);
    assert.ok(bySignal.entries[0].value >= 3, 'signal 0 was sent at least the 3 times of the test');
    assert.ok(log.includes(`run ${file} on local`));
  }
  await client.close();
  assert.equal(attached('count_kill'), false, 'nothing stays attached');
});

t('map_dump reads the maps named, at most maxEntries of each, saying when there were more', async () => {
  const { client, log } = await connect(['local'], ['local']);
  const file = join(programFixtures, 'kill_count.bpf.c');
  const result = structured(await client.callTool({ name: 'map_dump', arguments: { file, seconds: 0.2, maps: ['kills_by_signal'], maxEntries: 3 } }));
  assert.deepEqual(result.attached.map((a: { program: string }) => a.program), ['count_kill']);
  assert.equal(result.maps.length, 1);
  assert.deepEqual([result.maps[0].name, result.maps[0].truncated, result.maps[0].entries.map((e: { key: number }) => e.key)], ['kills_by_signal', true, [0, 1, 2]]);
  assert.equal(typeof result.maps[0].entries[0].value, 'number');
  assert.match(errorText(await client.callTool({ name: 'map_dump', arguments: { file, seconds: 0, maps: ['no_such_map'] } })), /^The object has no map no_such_map; its maps: (probes_by_caller, kills_by_signal|kills_by_signal, probes_by_caller)/);
  const rejectedDump = structured(await client.callTool({ name: 'map_dump', arguments: { source: rejected, name: 'rejected.bpf.c' } }));
  assert.deepEqual([rejectedDump.passed, rejectedDump.maps, rejectedDump.diagnostics[0].line], [false, [], 22], 'a rejected program is not attached: its diagnostics instead');
  assert.deepEqual(log.filter((line) => line.startsWith('map_dump')), [`map_dump ${file} on local`, `map_dump ${file} on local`, 'map_dump <source rejected.bpf.c> on local'], 'every call is logged');
  await client.close();
});

t('map_dump needs the same consent as run', async () => {
  const { client } = await connect(['local'], []);
  assert.match(errorText(await client.callTool({ name: 'map_dump', arguments: { file: join(programFixtures, 'kill_count.bpf.c') } })), /needs the user's consent, and this MCP client cannot ask for it: .*--allow-target local/);
  await client.close();
});
