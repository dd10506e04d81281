/**
 * Failures before or around verification, through the real agent on every test kernel (this
 * machine; Debian 6.1 and 7.3 in QEMU, compiled here against their BTF as `check` does): programs
 * shaped like libbpf-tools' loader-configured ones (test/fixtures/programs/loader/) each get their
 * reason on the line that causes it, with its explanation — and pass once the preset their loader
 * would apply is given.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openCliSession } from '../../cli/cliSession';
import type { AgentSession } from '../../remote-agent/client/agentSession';
import { checkFile, type VerifyingAgent } from '../../remote-agent/client/checkFile';
import { openProgramRun } from '../../remote-agent/client/openProgramRun';
import type { RunningAgent } from '../../remote-agent/client/programRun';
import type { CheckReport } from '../../remote-agent/client/checkReport';
import { compileOnClient } from '../../remote-agent/client/compileOnClient';
import { defaultKnowledgeDir, TargetKnowledgeCache } from '../../remote-agent/client/targetKnowledge';
import type { LoadPresets } from '../../remote-agent/protocol';
import { agentPrerequisiteMissing } from '../support/rawAgent';
import { readyTarget, testKernels, type TestKernel } from '../support/testKernels';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'programs', 'loader');
const signal = new AbortController().signal;

/** The unprivileged agent on this machine that compiles for the VMs, opened on first use. */
let compiler: Promise<AgentSession> | undefined;
const sessions: AgentSession[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await compiler?.then((s) => s.dispose());
});

interface Checker {
  (file: string, presets?: LoadPresets): Promise<CheckReport>;
  /** The agent a run uses (compiling here for the VMs), and the options a run of `file` takes. */
  runAgent: RunningAgent;
  runOptions: { target: string; kernelRelease: string; signal: AbortSignal };
}

async function checker(kernel: TestKernel): Promise<Checker> {
  const session = await openCliSession({ target: await readyTarget(kernel) }, signal);
  sessions.push(session);
  let agent: VerifyingAgent = session.client;
  let runAgent: RunningAgent = session.client;
  if (kernel.target !== 'local') {
    compiler ??= openCliSession({ target: 'local' }, signal, { unprivileged: true });
    const requests = compileOnClient(session, (await compiler).client, new TargetKnowledgeCache(defaultKnowledgeDir()));
    agent = requests;
    runAgent = { request: requests.request, onNotification: session.client.onNotification.bind(session.client) };
  }
  const runOptions = { target: session.description, kernelRelease: session.hello.kernelRelease, signal };
  const check = (file: string, presets?: LoadPresets) => checkFile(agent, join(fixtures, file), { ...runOptions, ...(presets && { presets }) });
  return Object.assign(check, { runAgent, runOptions });
}

/** What a diagnostic says, without the kernel release its second line names. */
function summary(report: CheckReport) {
  return report.diagnostics.map((d) => ({
    line: d.line,
    column: d.column,
    program: d.program,
    first: d.message.split('\n')[0],
    explanation: d.explanation?.id,
    preset: d.preset,
  }));
}

const missing = agentPrerequisiteMissing();
for (const kernel of testKernels()) {
  const label = kernel.label;
  const vm = kernel.target !== 'local';
  test(`loader-configured programs on ${label}: each failure on its line, and passing with its preset`, { skip: missing ?? false }, async () => {
    const check = await checker(kernel);

    // A stack map whose size the loader sets: on its definition; with the size, it loads.
    const stack = await check('stack_capable.bpf.c');
    assert.deepEqual(summary(stack), [
      { line: 14, column: 3, program: 'kprobe__cap_capable', first: "map 'stackmap': failed to create: Invalid argument(-22)", explanation: 'map-size-unset', preset: { kind: 'mapSize', map: 'stackmap' } },
    ]);
    const sized = await check('stack_capable.bpf.c', { mapSizes: { stackmap: 1024 } });
    assert.deepEqual(sized.diagnostics, []);
    assert.equal(sized.programs[0]!.ok, true);
    // The pid filter: with targ_pid set, the verifier walks the comparison it prunes for 0.
    const filtered = await check('stack_capable.bpf.c', { mapSizes: { stackmap: 1024 }, globals: { targ_pid: '4242' } });
    assert.equal(filtered.programs[0]!.ok, true);
    assert.ok(filtered.programs[0]!.insnsProcessed! > sized.programs[0]!.insnsProcessed!, `${filtered.programs[0]!.insnsProcessed} > ${sized.programs[0]!.insnsProcessed}`);

    // A map no machine has memory for: on its max_entries line; the agent reports the kernel's ENOMEM as a verdict.
    const huge = await check('huge_map.bpf.c');
    assert.deepEqual(summary(huge), [
      { line: 12, column: 9, program: 'touch_page', first: "map 'pages': failed to create: Cannot allocate memory(-12)", explanation: 'map-create-failed', preset: { kind: 'mapSize', map: 'pages' } },
    ]);
    const small = await check('huge_map.bpf.c', { mapSizes: { pages: 16 } });
    assert.deepEqual([small.diagnostics, small.programs[0]!.ok], [[], true]);

    // A map type 6.1 lacks (cgroup storage came in 6.2): on its definition, naming the type; newer kernels create it.
    const storage = await check('cgrp_storage.bpf.c');
    if (kernel.target === 'vm:test-6.1') {
      assert.deepEqual(summary(storage), [
        { line: 14, column: 3, program: 'count_getppid', first: "map 'cgroup_calls' is a cgrp_storage map, and this kernel cannot create cgrp_storage maps.", explanation: 'map-type-unsupported', preset: undefined },
      ]);
    } else {
      assert.deepEqual(summary(storage), []);
    }

    // Externs no kernel has: on their declarations, naming this kernel.
    const kfunc = await check('kfunc_missing.bpf.c');
    assert.deepEqual(summary(kfunc), [
      { line: 6, column: 28, program: 'exec_lookup', first: "extern (func ksym) 'bpf_task_from_nowhere': not found in kernel or module BTFs", explanation: 'kfunc-unknown', preset: undefined },
    ]);
    assert.equal(kfunc.diagnostics[0]!.message.split('\n')[1], `this kernel (${kfunc.kernelRelease}) has no kfunc 'bpf_task_from_nowhere'`);
    const ksym = await check('ksym_missing.bpf.c');
    assert.deepEqual(summary(ksym), [
      { line: 6, column: 24, program: 'read_rq', first: "extern (var ksym) 'studio_missing_runqueues': not found in kernel BTF", explanation: 'kfunc-unknown', preset: undefined },
    ]);

    // CO-RE reads of a type and a field the kernel lacks: on the access, naming the kernel's type.
    const core = await check('core_missing_type.bpf.c');
    assert.deepEqual(
      core.diagnostics.map((d) => ({ line: d.line, program: d.program, note: d.message.split('\n')[2], explanation: d.explanation?.id })),
      [
        { line: 18, program: 'read_vanished', note: "this kernel's BTF has no struct studio_vanished_ctx with a field state", explanation: 'core-relocation-failed' },
        { line: 26, program: 'read_missing_field', note: "this kernel's BTF has no struct task_struct with a field studio_missing_field (the program's struct task_struct___studio)", explanation: 'core-relocation-failed' },
      ],
    );

    // A Kconfig option no kernel has (the VMs have no kernel config at all): on the extern.
    const kconfig = await check('kconfig_missing.bpf.c');
    assert.deepEqual(summary(kconfig), [
      {
        line: 6,
        column: 12,
        program: 'missing_option',
        first: vm ? 'failed to open system Kconfig' : "extern 'CONFIG_STUDIO_NO_SUCH_OPTION' (strong): not resolved",
        explanation: 'kconfig-value-missing',
        preset: { kind: 'kconfig', name: 'CONFIG_STUDIO_NO_SUCH_OPTION' },
      },
    ]);
    // Given as a preset, libbpf takes the value instead of reading the kernel's config: it loads.
    const configured = await check('kconfig_missing.bpf.c', { globals: { CONFIG_STUDIO_NO_SUCH_OPTION: '1' } });
    assert.deepEqual([configured.diagnostics, configured.programs[0]!.ok], [[], true]);

    // LINUX_KERNEL_VERSION: libbpf cannot read "7.3-amd64" as major.minor.patch.
    const version = await check('kconfig_version.bpf.c');
    if (kernel.target === 'vm:test-7.3') {
      assert.deepEqual(summary(version), [
        { line: 7, column: 12, program: 'kernel_version', first: "extern (kcfg) 'LINUX_KERNEL_VERSION': failed to get kernel version", explanation: 'kernel-version-unknown', preset: undefined },
      ]);
    } else {
      assert.deepEqual(summary(version), []);
    }

    // fentry on a placeholder the loader retargets: on its SEC line; with the real function, it loads.
    const fentry = await check('fentry_retarget.bpf.c');
    if (vm) {
      assert.deepEqual(summary(fentry), [
        {
          line: 10,
          column: 1,
          program: 'file_read_entry',
          first: "prog 'file_read_entry': failed to find kernel BTF type ID of 'dummy_file_read': -3",
          explanation: 'attach-target-not-found',
          preset: { kind: 'attachTarget', program: 'file_read_entry', current: 'dummy_file_read' },
        },
      ]);
      const retargeted = await check('fentry_retarget.bpf.c', { attachTargets: { file_read_entry: 'vfs_read' } });
      assert.deepEqual(retargeted.diagnostics, []);
      assert.equal(retargeted.programs[0]!.ok, true);
      // A run loads the whole object with the same preset on its first attach: fentry on vfs_read.
      const { run } = await openProgramRun(check.runAgent, join(fixtures, 'fentry_retarget.bpf.c'), { ...check.runOptions, presets: { attachTargets: { file_read_entry: 'vfs_read' } } });
      assert.ok(run, 'the retargeted program verifies, so the run opens');
      try {
        const attached = await run.attachProgram('file_read_entry');
        assert.equal(attached.description, 'fentry vfs_read');
      } finally {
        await run.stop();
      }
      const wrong = await check('fentry_retarget.bpf.c', { attachTargets: { file_read_entry: 'studio_no_such_function' } });
      assert.deepEqual(summary(wrong).map((d) => [d.line, d.first, d.explanation]), [
        [10, "prog 'file_read_entry': attach target 'studio_no_such_function' (a preset) is not a function in this kernel's BTF (No such process).", 'attach-target-not-found'],
      ]);
    } else {
      // This machine's kernel has no BPF trampolines at all: that deeper reason is the one shown.
      assert.deepEqual(summary(fentry).map((d) => [d.line, d.explanation]), [[11, 'program-kind-missing']]);
    }
  });
}
