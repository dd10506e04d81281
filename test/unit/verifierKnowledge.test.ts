/**
 * Specification of the verifier knowledge base: each kernel's wording of a failure (6.1, 6.12,
 * 6.18, 7.3; format strings from those kernels' verifier with sample values, and libbpf's lines)
 * finds the same entry; unknown messages find none; docs/verifier-errors.md is the table rendered
 * (UPDATE_EXPECT=1 rewrites it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  docsLinkOf,
  explainVerifierMessage,
  VERIFIER_ERROR_KINDS,
  VERIFIER_ERRORS_DOC,
  type VerifierErrorKind,
} from '../../remote-agent/client/verifierKnowledge';

/** [message as printed (lines joined by \n), expected entry id, where the wording comes from]. */
const WORDINGS: Array<[string, string, string]> = [
  ["R0 invalid mem access 'map_value_or_null'", 'nullable-map-value', '6.1–7.3'],
  ['R0 pointer arithmetic on map_value_or_null prohibited, null-check it first', 'nullable-map-value', '6.1'],
  ["R6 invalid mem access 'ringbuf_mem_or_null'", 'nullable-pointer', '6.18'],
  ["R1 invalid mem access 'sock_or_null'", 'nullable-pointer', '6.1'],
  ["R0 invalid mem access 'ptr_or_null_'", 'nullable-pointer', '6.12'],
  ['Possibly NULL pointer passed to helper arg2', 'nullable-pointer', '6.12'],
  ["R1 invalid mem access 'scalar'", 'scalar-dereference', '6.1–7.3'],
  ["R1 invalid mem access 'inv'", 'scalar-dereference', '5.x'],
  ['invalid access to packet, off=23 size=1, R1(id=0,off=23,r=14)\nR1 offset is outside of the packet', 'packet-out-of-bounds', '6.1–6.18'],
  ['invalid access to packet, off=23 size=1, R1(id=0,off=23,r=14)\nR1 min value is outside of the allowed memory range', 'packet-out-of-bounds', '7.3'],
  ['R1 min value is outside of the allowed memory range', 'memory-range-out-of-bounds', '6.1–7.3'],
  ['R1 max value is outside of the allowed memory range', 'memory-range-out-of-bounds', '6.1–7.3'],
  ['invalid access to memory, mem_size=20 off=20 size=4', 'memory-range-out-of-bounds', '6.1'],
  ['invalid access to map value, value_size=8 off=8 size=8', 'map-value-out-of-range', '6.1–7.3'],
  ['R1 unbounded memory access, make sure to bounds check any such access', 'unbounded-offset', '6.1–7.3'],
  ['math between map_value pointer and register with unbounded min value is not allowed', 'unbounded-offset', '6.1'],
  ["R2 min value is negative, either use unsigned or 'var &= const'", 'helper-size-unbounded', '6.1–7.3'],
  ["R2 unbounded memory access, use 'var &= const' or 'if (var < const)'", 'helper-size-unbounded', '6.1–7.3'],
  ['R2 invalid zero-sized read', 'helper-size-unbounded', '6.1'],
  ['R2 invalid zero-sized read: u64=[0,64]', 'helper-size-unbounded', '6.12'],
  ['R1 is ptr_task_struct invalid negative access: off=-8', 'btf-pointer-out-of-range', '6.1'],
  ['access beyond struct task_struct at off 9999 size 4', 'btf-pointer-out-of-range', '6.1 (btf.c)'],
  ['invalid indirect read from stack R2 off -16+0 size 16', 'uninitialized-stack-read', '6.1–6.18'],
  ['invalid read from stack off -8+0 size 8', 'uninitialized-stack-read', '6.1'],
  ['invalid read from stack R1 off -8+0 size 8', 'uninitialized-stack-read', '7.3'],
  ['invalid unbounded variable-offset write to stack R1', 'variable-stack-offset', '6.18'],
  ['invalid variable-offset read from stack R2 var_off=(0x0; 0x1f) off=-32 size=1', 'variable-stack-offset', '6.12'],
  ['invalid write to stack R1 off=-520 size=8', 'stack-out-of-bounds', '6.1'],
  ['combined stack size of 3 calls is 576. Too large', 'stack-too-large', '6.1–7.3'],
  ['the call stack of 9 frames is too deep !', 'call-stack-too-deep', '6.1'],
  ['R0 !read_ok', 'missing-return-value', '6.1–7.3'],
  ['R3 !read_ok', 'uninitialized-register', '6.1–7.3'],
  ['frame pointer is read only', 'frame-pointer-write', '6.1–7.3'],
  ['R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_', 'invalid-helper-argument', '6.18'],
  ['arg#0 expected pointer to ctx, but got scalar', 'invalid-helper-argument', '6.12'],
  ['R1 must be referenced or trusted', 'invalid-helper-argument', '6.12'],
  ['R1 pointer arithmetic on ctx prohibited', 'pointer-arithmetic-prohibited', '6.1'],
  ['R1 bitwise operator &= on pointer prohibited', 'pointer-arithmetic-prohibited', '6.1'],
  ['R1 32-bit pointer arithmetic prohibited', 'pointer-arithmetic-prohibited', '6.1'],
  ['R1 pointer comparison prohibited', 'pointer-comparison', '6.1–7.3'],
  ['R1 leaks addr into map', 'pointer-leak', '6.1–7.3'],
  ['R0 leaks addr as return value', 'pointer-leak', '6.1–7.3'],
  ['same insn cannot be used with different pointers', 'mixed-pointer-types', '6.1–7.3'],
  ['invalid bpf_context access off=76 size=4', 'invalid-ctx-access', '6.1–7.3'],
  ['invalid access to context, ctx_size=24 off=24 size=8', 'invalid-ctx-access', '7.3'],
  ['dereference of modified ctx ptr R1 off=8 disallowed', 'modified-ctx-access', '6.1–6.18'],
  ['variable ctx access var_off=(0x0; 0x4) disallowed', 'modified-ctx-access', '6.18–7.3'],
  ['R1 invalid sock access off=0 size=8', 'invalid-socket-access', '6.1'],
  ['write into map forbidden, value_size=8 off=0 size=8', 'write-to-read-only', '6.1–7.3'],
  ['cannot write into packet', 'write-to-read-only', '6.1'],
  ['R1 cannot write into rdonly_mem', 'write-to-read-only', '6.1'],
  ['ebpf-agent: on_open is a BPF LSM program, and this kernel does not have BPF LSM enabled (that needs CONFIG_BPF_LSM=y and "bpf" in the lsm= boot parameter; see /sys/kernel/security/lsm); use a tracepoint, raw_tracepoint or tp_btf program to observe instead.', 'program-kind-missing', 'agent, any kernel without BPF LSM'],
  ['ebpf-agent: on_unlink is an fentry/fexit/fmod_ret program, and this kernel cannot attach BPF trampolines to kernel functions; use a tracepoint, raw_tracepoint or tp_btf program instead.', 'program-kind-missing', 'agent, 6.18 (Firecracker)'],
  ['unknown func bpf_skb_load_bytes#26', 'helper-not-allowed', '6.1'],
  ['program of this type cannot use helper bpf_skb_load_bytes#26', 'helper-not-allowed', '6.12–7.3'],
  ['cannot call GPL-restricted function from non-GPL compatible program', 'gpl-only-function', '6.1–7.3'],
  ['cannot call kernel function from non-GPL compatible program', 'gpl-only-function', '6.1'],
  ['calling kernel function bpf_task_acquire is not allowed', 'kfunc-not-allowed', '6.1–7.3'],
  ['invalid func unknown#2002000000', 'kfunc-unknown', 'libbpf poison'],
  ["kfunc 'bpf_foo' is referenced but wasn't resolved", 'kfunc-unknown', 'libbpf'],
  ["libbpf: extern (func ksym) 'bpf_foo': not found in kernel or module BTFs", 'kfunc-unknown', 'libbpf'],
  ['invalid func unknown#195896080', 'core-relocation-failed', 'libbpf poison'],
  ['invalid func unknown#2001000001', 'map-not-created', 'libbpf poison'],
  ['cannot pass map_type 1 into func bpf_tail_call#12', 'map-type-not-allowed', '6.1–7.3'],
  ['expected prog array map for tail call', 'map-type-not-allowed', '6.18–7.3'],
  ["libbpf: prog 'fsslower': failed to find kernel BTF type ID of 'dummy_file_read': -3", 'attach-target-not-found', 'libbpf'],
  ['Unreleased reference id=3 alloc_insn=6', 'unreleased-reference', '6.1'],
  ['Unreleased reference id=3 alloc_insn=6\nBPF_EXIT instruction in main prog would lead to reference leak', 'unreleased-reference', '6.18–7.3'],
  ['tail_call would lead to reference leak', 'unreleased-reference', '6.1'],
  ['func bpf_ringbuf_submit#132 reference has not been acquired before', 'released-reference', '6.1'],
  ['release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID', 'released-reference', '6.12'],
  ['R1 must be referenced when passed to release function', 'released-reference', '6.1'],
  ['back-edge from insn 4 to 2', 'back-edge', '6.1–7.3'],
  ['infinite loop detected at insn 3', 'infinite-loop', '6.1–7.3'],
  ['BPF program is too large. Processed 1000001 insn', 'program-too-large', '6.1–7.3'],
  ['The sequence of 8193 jumps is too complex.', 'too-complex', '6.1–7.3'],
  ['At program exit the register R0 has value (0x1; 0x0) should have been in (0x0; 0x0)', 'invalid-return-value', '6.1'],
  ['At program exit the register R0 has smin=1 smax=1 should have been in [-4095, 0]', 'invalid-return-value', '6.12'],
  ['At program exit the register R0 is not a known value (map_value)', 'invalid-return-value', '6.1'],
  ['misaligned stack access off (0x0; 0x0)+-7+0 size 8', 'misaligned-access', '6.1'],
  ['misaligned packet access off 2+(0x0; 0x0)+14+0 size 4', 'misaligned-access', '6.1'],
  ['BPF_LD_[ABS|IND] instructions not allowed for this program type', 'ld-abs-not-allowed', '6.1–7.3'],
  ['function calls are not allowed while holding a lock', 'spin-lock-misuse', '6.1–6.18'],
  ['BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region', 'spin-lock-misuse', '7.3'],
  ['bpf_spin_unlock without taking a lock', 'spin-lock-misuse', '6.1'],
  ['bpf_rcu_read_unlock is missing', 'rcu-or-preempt-section-misuse', '6.12'],
  ['BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region', 'rcu-or-preempt-section-misuse', '7.3'],
  ['sleepable helper bpf_copy_from_user#148 in rcu_read_lock region', 'rcu-or-preempt-section-misuse', '6.12'],
  ['helper call might sleep in a non-sleepable prog', 'sleepable-call-not-allowed', '6.12'],
  ['program must be sleepable to call sleepable kfunc bpf_get_file_xattr', 'sleepable-call-not-allowed', '6.12'],
  ['Expected an initialized dynptr as arg #1', 'dynptr-misuse', '6.1–6.12'],
  ['cannot pass in dynptr at an offset', 'dynptr-misuse', '6.1'],
  ['expected an initialized iter_num as arg #1', 'iterator-misuse', '6.12'],
  ['expected uninitialized iter_num as arg #1', 'iterator-misuse', '6.12'],
  ['tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls', 'tail-call-misuse', '6.1'],
  ['mixing of tail_calls and bpf-to-bpf calls is not supported', 'tail-call-misuse', '7.3'],
  ['jump out of range from insn 2 to 9', 'jump-out-of-range', '6.1–7.3'],
  ['unreachable insn 5', 'unreachable-instruction', '6.1–7.3'],
  ['last insn is not an exit or jmp', 'last-insn-not-exit', '6.1–7.3'],
  ['call to invalid destination', 'invalid-call-destination', '6.1–7.3'],
  ['unknown opcode 8d', 'unknown-instruction', '6.1'],
  ['missing btf func_info', 'btf-info-mismatch', '6.1'],
  ["Caller passes invalid args into func#1 ('count')", 'global-function-arguments', '6.12'],
  ["R1 type=scalar expected=fp\nCaller passes invalid args into func#1 ('add_one')", 'global-function-arguments', '6.18'],
  ['R1 stack pointer arithmetic goes out of range, prohibited for !root; off=-600', 'pointer-arithmetic-prohibited', '6.1 (unprivileged)'],
  ['R2 tried to add from different maps, paths or scalars, pointer arithmetic with it prohibited for !root', 'pointer-arithmetic-prohibited', '6.1 (unprivileged)'],
  ['R1 invalid rdonly buffer access: off=8, size=8', 'memory-range-out-of-bounds', '6.1'],
  ['R3 must be a known constant', 'invalid-helper-argument', '6.12'],
  ['R1 is not a scalar', 'global-function-arguments', '6.12'],
  ['JIT is required for calling kernel function', 'kfunc-not-allowed', '6.1'],
  ['global function calls are not allowed with preemption disabled,', 'rcu-or-preempt-section-misuse', '6.12'],
  ['BPF_EXIT instruction in main prog cannot be used inside bpf_local_irq_save-ed region', 'rcu-or-preempt-section-misuse', '7.3'],
  ['invalid func unknown#212', 'helper-not-allowed', '6.1–7.3 (helper id this kernel lacks)'],
  ['bpf_timer cannot be accessed directly by load/store', 'special-field-access', '6.1'],
  ['bpf_spin_lock cannot be accessed directly by load/store', 'special-field-access', '6.1'],
  ['kptr access misaligned expected=8 off=4', 'special-field-access', '6.1'],
  ["map 'stamps' has to have BTF in order to use bpf_spin_lock", 'special-field-access', '6.1'],
  ['cannot return stack pointer to the caller', 'stack-pointer-escapes', '6.1–7.3'],
  ['recursive call from walk() to walk()', 'recursive-call', '7.3'],
  ['loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN', 'capability-required', '6.1–6.12'],
  ['loading or calling other BPF functions requires CAP_BPF or CAP_SYS_ADMIN', 'capability-required', '7.3'],
  ["'struct task_struct' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", 'capability-required', '6.12'],
  // libbpf's reasons for a load that fails before the verifier (captured on 6.1, 6.18 and 7.3; the agent's own lines too).
  ["map 'stackmap' has max_entries 0: its loader sets the size before load", 'map-size-unset', '6.1–7.3 (our note)'],
  ["map 'events' is a ringbuf map, and this kernel cannot create ringbuf maps.", 'map-type-unsupported', 'agent'],
  ["map 'stackmap': failed to create: Invalid argument(-22)", 'map-create-failed', '6.1–7.3'],
  ["extern 'CONFIG_STUDIO_NO_SUCH_OPTION' (strong): not resolved", 'kconfig-value-missing', '6.18'],
  ['failed to open system Kconfig', 'kconfig-value-missing', '6.1, 7.3 (VMs without a kernel config)'],
  ["extern (kcfg) 'LINUX_KERNEL_VERSION': failed to get kernel version", 'kernel-version-unknown', '7.3'],
  ["extern (var ksym) 'studio_missing_runqueues': not found in kernel BTF", 'kfunc-unknown', '6.1–7.3'],
  ["prog 'file_read_entry': attach target 'vfs_reed' (a preset) is not a function in this kernel's BTF (No such process).", 'attach-target-not-found', 'agent'],
  ['Error loading .BTF into kernel: -22. BTF is optional, ignoring.', 'btf-rejected', 'libbpf 1.1'],
];

for (const [message, id, kernels] of WORDINGS) {
  test(`${id} explains "${message.split('\n').join(' / ')}" (${kernels})`, () => {
    assert.equal(explainVerifierMessage(message)?.id, id);
  });
}

test('a message given as lines is matched like the joined text', () => {
  assert.equal(explainVerifierMessage(['Unreleased reference id=3 alloc_insn=6', 'BPF_EXIT instruction in main prog would lead to reference leak'])?.id, 'unreleased-reference');
});

test('an unknown message has no entry, and neither has an empty one', () => {
  assert.equal(explainVerifierMessage('R4 frobnicated beyond repair'), undefined);
  assert.equal(explainVerifierMessage("R1 invalid mem access 'map_ptr'"), undefined);
  assert.equal(explainVerifierMessage([]), undefined);
});

test('the table has at least 40 kinds, each with a unique kebab-case id, words and a pattern', () => {
  assert.ok(VERIFIER_ERROR_KINDS.length >= 40, `${VERIFIER_ERROR_KINDS.length} kinds`);
  assert.equal(new Set(VERIFIER_ERROR_KINDS.map((k) => k.id)).size, VERIFIER_ERROR_KINDS.length);
  for (const kind of VERIFIER_ERROR_KINDS) {
    assert.match(kind.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(kind.title && kind.explanation && kind.fix && kind.patterns.length > 0, kind.id);
  }
});

test('every kind is reached by some wording above', () => {
  const covered = new Set(WORDINGS.map(([, id]) => id));
  assert.deepEqual(VERIFIER_ERROR_KINDS.map((k) => k.id).filter((id) => !covered.has(id)), []);
});

/** docs/verifier-errors.md, as the table renders it. */
function renderDoc(kinds: readonly VerifierErrorKind[]): string {
  const out = [
    '# Verifier errors explained',
    '',
    '<!-- Generated from remote-agent/client/verifierKnowledge.ts by test/unit/verifierKnowledge.test.ts',
    '     (UPDATE_EXPECT=1 rewrites it). Edit the table, not this file. -->',
    '',
    'What eBPF Studio shows beside a verifier rejection: the kind of failure, what it means and the usual',
    'fix. Each kind lists the messages it covers, in the wordings of Linux 6.1 through 7.x (and libbpf\'s',
    'where libbpf rewrites the failure). A message that matches none is shown as the kernel printed it;',
    'please report it so it can be added.',
    '',
  ];
  const categories = [...new Set(kinds.map((k) => k.category))];
  for (const category of categories) {
    out.push(`- **${category}**: ${kinds.filter((k) => k.category === category).map((k) => `[${k.title}](#${k.id})`).join(' · ')}`);
  }
  for (const kind of kinds) {
    out.push(
      '',
      `<a id="${kind.id}"></a>`,
      `## ${kind.title}`,
      '',
      `\`${kind.id}\` · ${kind.category}`,
      '',
      kind.explanation,
      '',
      `**Fix:** ${kind.fix}`,
      '',
      `Messages: ${kind.patterns.map((p) => `\`${p.source}\``).join(', ')}`,
    );
  }
  return out.join('\n') + '\n';
}

test('docs/verifier-errors.md is the table rendered, and each entry\'s docs link names its anchor', () => {
  const file = path.join(import.meta.dirname, '..', '..', VERIFIER_ERRORS_DOC);
  const rendered = renderDoc(VERIFIER_ERROR_KINDS);
  if (process.env.UPDATE_EXPECT === '1') writeFileSync(file, rendered);
  assert.equal(readFileSync(file, 'utf8'), rendered);
  for (const kind of VERIFIER_ERROR_KINDS) {
    assert.equal(docsLinkOf(kind), `docs/verifier-errors.md#${kind.id}`);
    assert.ok(rendered.includes(`<a id="${kind.id}"></a>`));
  }
});

test('a program rejected on 6.1, 6.18 and 7.3 gets the same explanation from each kernel\'s own words (captured cases)', () => {
  const cases = path.join(import.meta.dirname, '..', 'fixtures', 'verifier-logs');
  const explanationsOf = (name: string) =>
    (JSON.parse(readFileSync(path.join(cases, name, 'expected.json'), 'utf8')) as { diagnostics: Array<{ explanation?: string; message: string }> }).diagnostics;
  const compared = readdirSync(cases)
    .filter((name) => /-(6\.1|7\.3)$/.test(name))
    .map((name) => {
      const base = name.replace(/-(6\.1|7\.3)$/, '');
      return { name, here: explanationsOf(name).map((d) => d.explanation ?? null), on618: explanationsOf(base).map((d) => d.explanation ?? null) };
    });
  assert.ok(compared.length >= 8, `${compared.length} captured cases`);
  // Two real differences: 6.1 has no bpf_rcu_read_lock kfunc for tc (a different failure), and it
  // rejects the tail call into a hash map with a generic internal message we do not explain.
  const differing = compared.filter((c) => JSON.stringify(c.here) !== JSON.stringify(c.on618)).map((c) => `${c.name}: ${c.here.join(',')}`);
  assert.deepEqual(differing, ['rcu-unlock-missing-6.1: kfunc-unknown', 'tail-call-hash-map-6.1: ']);
});
