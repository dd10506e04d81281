/**
 * The MCP server (cli/mcpServer.ts) driven by the SDK's own client, on this machine's kernel: the
 * tools and their schemas, the check → fix → check loop an agent runs, and the user's control over
 * targets (configured only; asked first unless allowed). In-process over the SDK's in-memory
 * transport, and once over stdio as `ebpf-studio mcp` is started by VS Code. Then the resources:
 * the verifier log a check left, and kernel types read from this machine's BTF.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openCliSession } from '../../cli/cliSession';
import { createMcpServer, kernelTypeUri, verifierLogUri } from '../../cli/mcpServer';
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
async function connect(targets: string[], allowed: string[], answer?: 'accept' | 'decline'): Promise<{ client: Client; asked: string[]; log: string[] }> {
  const asked: string[] = [];
  const log: string[] = [];
  const server = createMcpServer({
    targets,
    allowedWithoutAsking: allowed,
    openSession: (target, signal) => openCliSession({ target }, signal),
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
  return { client, asked, log };
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
  assert.deepEqual(tools.map((tool) => tool.name).sort(), ['check', 'explain', 'kernel_features', 'list_targets', 'new_program', 'run', 'templates']);
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
  assert.deepEqual(log, ['check <source rejected.bpf.c> on local', 'check <source rejected.bpf.c> on local'], 'every call is logged');
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

t('`ebpf-studio mcp` serves the same tools over stdio', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [join(repo, 'out', 'cli.js'), 'mcp', '--target', 'local', '--allow-target', 'local'], stderr: 'pipe' });
  const client = new Client({ name: 'mcp-stdio-test', version: '1' });
  await client.connect(transport);
  assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ['check', 'explain', 'kernel_features', 'list_targets', 'new_program', 'run', 'templates']);
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
  assert.deepEqual(log, ['templates', 'templates on local']);
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
