/**
 * Quiet on correct code: the language server publishes no error and no warning on the programs of
 * test/fixtures/correct-programs/, correct programs in the styles of libbpf-tools and
 * libbpf-bootstrap (loader-attached uprobes and USDTs, const volatile globals, maps sized by the
 * loader, CO-RE reads, tp_btf, fentry, ksyscall, BPF_KPROBE, perf buffers, per-CPU arrays); that
 * they are correct, test/integration/correctPrograms.test.ts checks on the kernel. Advice that
 * depends on the loader may show as a hint only.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-protocol/node';
import { TargetInfoNotification, type TargetInfoParams } from '../../language-server/lspExtensions';
import { root, startLanguageServer, type LanguageServerSession } from './languageServerSession';

const corpus = join(root, 'test/fixtures/correct-programs');
const programs = readdirSync(corpus).filter((f) => f.endsWith('.bpf.c')).sort();

let session: LanguageServerSession;

before(async () => {
  session = await startLanguageServer();
});

after(async () => {
  assert.equal(await session.close(), 0, session.stderr());
});

/** Errors and warnings as `file:line: [code] message`, to read in a failure. */
function loud(file: string, diagnostics: Diagnostic[]): string[] {
  return diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning)
    .map((d) => `${file}:${d.range.start.line + 1}: [${String(d.code)}] ${d.message}`);
}

test('the corpus holds at least ten programs', () => {
  assert.ok(programs.length >= 10, `only ${programs.length} programs in ${corpus}`);
});

test('no error and no warning on any program of the corpus, before a target is known', async () => {
  const found: string[] = [];
  for (const file of programs) {
    const diagnostics = await session.open(pathToFileURL(join(corpus, file)).href, readFileSync(join(corpus, file), 'utf8'));
    found.push(...loud(file, diagnostics));
  }
  assert.deepEqual(found, []);
});

test('no error and no warning on any program of the corpus on a target that has every hook', async () => {
  const target: TargetInfoParams = {
    description: 'root@vm61:22',
    kernelRelease: '6.1.0-test',
    arch: 'x86_64',
    btfPath: null,
    btfId: null,
    features: {
      kprobeEvents: true, uprobeEvents: true, tracingPrograms: true, lsm: true, ringbuf: true, tcx: false, bpfCookie: true,
      tracefs: '/sys/kernel/tracing', bpffs: '/sys/fs/bpf',
      programTypes: ['socket_filter', 'kprobe', 'sched_cls', 'tracepoint', 'xdp', 'perf_event', 'raw_tracepoint', 'tracing', 'lsm'],
      mapTypes: ['hash', 'array', 'percpu_array', 'perf_event_array', 'stack_trace', 'lru_hash', 'ringbuf'],
    },
    helpers: null,
  };
  const uris = programs.map((file) => pathToFileURL(join(corpus, file)).href);
  const republished = uris.map((uri) => session.nextDiagnostics(uri));
  await session.connection.sendNotification(TargetInfoNotification, target);
  const found = (await Promise.all(republished)).flatMap((diagnostics, i) => loud(programs[i], diagnostics));
  assert.deepEqual(found, []);
});

test('loader-attached uprobes and USDTs get a hint that says the loader attaches them, nothing louder', async () => {
  const file = 'readline_ret.bpf.c';
  const diagnostics = await session.open(`${pathToFileURL(join(corpus, file)).href}?again`, readFileSync(join(corpus, file), 'utf8'));
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.severity, d.message]),
    [[
      'malformed-section-target',
      DiagnosticSeverity.Hint,
      `"readline" is not BINARY:FUNCTION[+OFFSET]: the skeleton's auto-attach would fail on SEC("uretprobe/readline"), so its loader attaches it (bpf_program__attach_uprobe_opts()), as libbpf-tools do. To have the skeleton attach it, write e.g. SEC("uretprobe//usr/bin/bash:readline").`,
    ]],
  );
  const usdt = await session.open(`${pathToFileURL(join(corpus, 'gc_pauses.bpf.c')).href}?again`, readFileSync(join(corpus, 'gc_pauses.bpf.c'), 'utf8'));
  assert.deepEqual(usdt.map((d) => [d.code, d.severity]), [['section-without-target', DiagnosticSeverity.Hint], ['section-without-target', DiagnosticSeverity.Hint]]);
  assert.equal(usdt[0].message, `SEC("usdt") names no BINARY:PROVIDER:NAME: libbpf's auto-attach skips it, so its loader attaches it (bpf_program__attach_usdt()), as libbpf-tools do. To have the skeleton attach it, write e.g. SEC("usdt//usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp").`);
});
