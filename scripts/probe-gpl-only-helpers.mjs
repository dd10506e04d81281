// Finds out which BPF helpers the running kernel refuses to a program whose license is not
// GPL-compatible, by loading one tiny program per helper with `char LICENSE[] = "Proprietary"` and
// reading the verifier's answer ("cannot call GPL-restricted function from non-GPL compatible program").
// The language server's built-in default list (language-server/gplOnlyHelpers.ts) is the output of this
// script on a real kernel; run it again on a newer kernel to refresh that list.
// Needs root (CAP_BPF + CAP_SYS_ADMIN), clang, bpftool, libbpf-dev and a mounted bpffs.
// Usage: node scripts/probe-gpl-only-helpers.mjs [--json]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const headerPath = process.env.BPF_HELPER_DEFS || '/usr/include/bpf/bpf_helper_defs.h';
const DECLARATION = /^static\s+.+?\(\s*\*\s*(bpf_\w+)\s*\)\s*\((.*)\)\s*=\s*\(\s*void\s*\*\s*\)\s*\d+\s*;\s*$/gm;

// A helper is offered to some program types only; each is tried in this order until the verifier
// gets past "which helpers may this type call" to the license check.
const PROGRAM_SECTIONS = [
  'kprobe/do_nanosleep',
  'tc',
  'xdp',
  'cgroup/connect4',
  'sockops',
  'sk_msg',
  'sk_skb/stream_verdict',
  'cgroup_skb/ingress',
  'cgroup/sysctl',
  'cgroup/getsockopt',
  'sk_lookup',
  'syscall',
  'lwt_xmit',
  'perf_event',
  'raw_tp/sys_enter',
  'socket',
  'cgroup/dev',
];

const helpers = [...readFileSync(headerPath, 'utf8').matchAll(DECLARATION)].map(([, name, params]) => ({
  name,
  arity: params.trim() === 'void' ? 0 : params.split(',').filter((p) => p.trim() !== '...').length,
}));

const work = mkdtempSync(join(tmpdir(), 'gpl-probe-'));
const pinDir = '/sys/fs/bpf';

async function compile(helper, section, index) {
  const source = join(work, `${helper.name}-${index}.bpf.c`);
  const object = source.replace(/\.c$/, '.o');
  const args = Array(helper.arity).fill('0').join(', ');
  writeFileSync(
    source,
    `#include <linux/types.h>\n#include <bpf/bpf_helpers.h>\n` +
      `SEC("${section}") int probe(void *ctx) { ${helper.name}(${args}); return 0; }\n` +
      `char LICENSE[] SEC("license") = "Proprietary";\n`,
  );
  await run('clang', ['-O2', '-target', 'bpf', '-idirafter', '/usr/include/x86_64-linux-gnu', '-c', source, '-o', object]);
  return object;
}

/** 'gpl-only', 'allowed' (loads, or fails later than the license check), or 'unavailable' for this type. */
async function verdict(object, index) {
  const pin = join(pinDir, `ebpf_studio_gpl_probe_${process.pid}_${index}`);
  try {
    await run('bpftool', ['prog', 'load', object, pin]);
    rmSync(pin, { force: true });
    return 'allowed';
  } catch (error) {
    const log = `${error.stderr ?? ''}`;
    if (log.includes('cannot call GPL-restricted function')) return 'gpl-only';
    if (/unknown func|program of this type cannot use helper|helper call is not allowed in probe/.test(log)) return 'unavailable';
    return 'allowed';
  }
}

const results = [];
for (const helper of helpers) {
  let outcome = { helper: helper.name, verdict: 'untested', section: null };
  for (const [i, section] of PROGRAM_SECTIONS.entries()) {
    const object = await compile(helper, section, i);
    const v = await verdict(object, i);
    if (v !== 'unavailable') {
      outcome = { helper: helper.name, verdict: v, section };
      break;
    }
  }
  results.push(outcome);
  process.stderr.write(`${outcome.helper}: ${outcome.verdict}${outcome.section ? ` (as ${outcome.section})` : ''}\n`);
}
rmSync(work, { recursive: true, force: true });

const kernel = (await run('uname', ['-r'])).stdout.trim();
if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify({ kernel, results }, null, 1) + '\n');
} else {
  const gplOnly = results.filter((r) => r.verdict === 'gpl-only').map((r) => r.helper);
  const untested = results.filter((r) => r.verdict === 'untested').map((r) => r.helper);
  process.stdout.write(`// GPL-only on Linux ${kernel} (${gplOnly.length} of ${results.length} helpers):\n`);
  process.stdout.write(JSON.stringify(gplOnly, null, 1) + '\n');
  process.stdout.write(`// Not callable from any probed program type here (${untested.length}): ${untested.join(' ')}\n`);
}
