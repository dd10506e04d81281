/**
 * Attach specs as users type them (`--attach xdp:veth0:generic`, `uprobe:/usr/bin/bash:readline`,
 * `handle_exec=tracepoint:syscalls:sys_enter_execve`) → the protocol's AttachTarget, and which
 * program types each target suits, so a spec without a program name finds its program. Sections
 * that libbpf cannot auto-attach (SEC("xdp"), SEC("tc"), …) are recognised here too, so the CLI can
 * ask for a spec instead of letting the attach fail.
 */
import type { AttachTarget } from '../protocol';

export interface AttachSpec {
  /** Function name of the program given as `PROGRAM=SPEC`; absent when the spec names none. */
  program?: string;
  target: AttachTarget;
}

export class AttachSpecError extends Error {
  constructor(spec: string, problem: string) {
    super(`Attach spec '${spec}': ${problem}`);
    this.name = 'AttachSpecError';
  }
}

const FORMS = [
  'tracepoint:CATEGORY:NAME',
  'raw_tracepoint:NAME',
  'kprobe:FUNCTION[+OFFSET]',
  'kretprobe:FUNCTION',
  'uprobe:BINARY:SYMBOL[+OFFSET][:pid=PID]',
  'uretprobe:BINARY:SYMBOL[:pid=PID]',
  'usdt:BINARY:PROVIDER:NAME[:pid=PID]',
  'xdp:INTERFACE[:native|generic|offload]',
  'tc:INTERFACE:ingress|egress',
  'cgroup:PATH',
  'socket:INTERFACE',
  'perf_event:cpu-clock|task-clock|cpu-cycles|instructions:freq=HZ|period=N[:cpu=N]',
];

/** The forms a spec can take, one per line, for usage texts and error messages. */
export const ATTACH_SPEC_FORMS: readonly string[] = FORMS;

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Linux interface names: up to 15 bytes, no '/', no whitespace, no ':' (it separates our fields). */
const INTERFACE = /^[^\s/:]{1,15}$/;
const PERF_EVENTS = ['cpu-clock', 'task-clock', 'cpu-cycles', 'instructions'] as const;

/** Parses `[PROGRAM=]KIND:…`. Throws AttachSpecError naming what is wrong and the accepted form. */
export function parseAttachSpec(text: string): AttachSpec {
  const spec = text.trim();
  if (spec === '') throw new AttachSpecError(text, `it is empty; write one of: ${FORMS.join(', ')}.`);
  // `perf_event:cpu-clock:freq=99` has '=' too, but only after a ':'; a program name comes first.
  const equals = spec.indexOf('=');
  const colon = spec.indexOf(':');
  if (equals !== -1 && (colon === -1 || equals < colon)) {
    const program = spec.slice(0, equals);
    if (!C_IDENTIFIER.test(program)) {
      throw new AttachSpecError(spec, `'${program}' before '=' is not a program name (a C function name).`);
    }
    return { program, target: parseTargetSpec(spec, spec.slice(equals + 1)) };
  }
  return { target: parseTargetSpec(spec, spec) };
}

function parseTargetSpec(whole: string, spec: string): AttachTarget {
  const colon = spec.indexOf(':');
  const kind = (colon === -1 ? spec : spec.slice(0, colon)).toLowerCase();
  const rest = colon === -1 ? '' : spec.slice(colon + 1);
  const fail = (problem: string): never => {
    throw new AttachSpecError(whole, problem);
  };
  const fields = rest === '' ? [] : rest.split(':');
  const need = (form: string): never => fail(`write it as ${form}.`);

  switch (kind) {
    case 'tracepoint':
    case 'tp': {
      // `tracepoint:syscalls:sys_enter_execve`, and the section-style `tracepoint:syscalls/sys_enter_execve`.
      const parts = fields.length === 1 ? fields[0].split('/') : fields;
      if (parts.length !== 2 || !parts.every((p) => /^[A-Za-z0-9_]+$/.test(p))) need('tracepoint:CATEGORY:NAME (e.g. tracepoint:syscalls:sys_enter_execve)');
      return { kind: 'tracepoint', category: parts[0], name: parts[1] };
    }
    case 'raw_tracepoint':
    case 'raw_tp': {
      if (fields.length !== 1 || !/^[A-Za-z0-9_]+$/.test(fields[0])) need('raw_tracepoint:NAME (e.g. raw_tracepoint:sched_switch)');
      return { kind: 'raw_tracepoint', name: fields[0] };
    }
    case 'kprobe':
    case 'kretprobe': {
      const retprobe = kind === 'kretprobe';
      if (fields.length !== 1) need(`${kind}:FUNCTION${retprobe ? '' : '[+OFFSET]'} (e.g. ${kind}:do_sys_openat2)`);
      const { symbol, offset } = symbolAndOffset(fields[0], fail);
      if (symbol === undefined) fail('a kprobe needs a kernel function name.');
      if (retprobe && offset !== undefined) fail('a kretprobe fires on function return; it takes no offset.');
      return { kind: 'kprobe', function: symbol!, ...(offset !== undefined && { offset }), ...(retprobe && { retprobe }) };
    }
    case 'uprobe':
    case 'uretprobe': {
      const retprobe = kind === 'uretprobe';
      const form = `${kind}:BINARY:SYMBOL[+OFFSET][:pid=PID] (e.g. ${kind}:/usr/bin/bash:readline)`;
      const { positional, pid } = splitPid(fields, fail);
      if (positional.length !== 2) need(form);
      const binary = absolutePath(positional[0], 'the binary', fail);
      const { symbol, offset } = symbolAndOffset(positional[1], fail);
      if (retprobe && symbol === undefined) fail('a uretprobe needs a function symbol, not a bare offset.');
      return {
        kind: 'uprobe',
        binary,
        ...(symbol !== undefined && { symbol }),
        ...(offset !== undefined && { offset }),
        ...(pid !== undefined && { pid }),
        ...(retprobe && { retprobe }),
      };
    }
    case 'usdt': {
      const { positional, pid } = splitPid(fields, fail);
      if (positional.length !== 3) need('usdt:BINARY:PROVIDER:NAME[:pid=PID] (e.g. usdt:/usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp)');
      const binary = absolutePath(positional[0], 'the binary', fail);
      if (!C_IDENTIFIER.test(positional[1]) || !C_IDENTIFIER.test(positional[2])) fail('the USDT provider and probe name are C identifiers.');
      return { kind: 'usdt', binary, provider: positional[1], name: positional[2], ...(pid !== undefined && { pid }) };
    }
    case 'xdp': {
      if (fields.length < 1 || fields.length > 2) need('xdp:INTERFACE[:native|generic|offload] (e.g. xdp:veth0:generic)');
      const iface = interfaceName(fields[0], fail);
      if (fields.length === 1) return { kind: 'xdp', interface: iface };
      const mode = fields[1].toLowerCase();
      if (mode !== 'native' && mode !== 'generic' && mode !== 'offload') fail(`the XDP mode is native, generic or offload, not '${fields[1]}'.`);
      return { kind: 'xdp', interface: iface, mode: mode as 'native' | 'generic' | 'offload' };
    }
    case 'tc': {
      if (fields.length !== 2) need('tc:INTERFACE:ingress|egress (e.g. tc:eth0:ingress)');
      const direction = fields[1].toLowerCase();
      if (direction !== 'ingress' && direction !== 'egress') fail(`the tc direction is ingress or egress, not '${fields[1]}'.`);
      return { kind: 'tc', interface: interfaceName(fields[0], fail), direction: direction as 'ingress' | 'egress' };
    }
    case 'cgroup': {
      // The path is everything after the kind: cgroup directory names may contain ':'.
      if (rest === '') need('cgroup:PATH (e.g. cgroup:/sys/fs/cgroup/system.slice)');
      return { kind: 'cgroup', path: absolutePath(rest, 'the cgroup', fail) };
    }
    case 'socket':
    case 'socket_filter': {
      if (fields.length !== 1) need('socket:INTERFACE (e.g. socket:eth0)');
      return { kind: 'socket_filter', interface: interfaceName(fields[0], fail) };
    }
    case 'perf_event': {
      const form = 'perf_event:EVENT:freq=HZ|period=N[:cpu=N] with EVENT one of cpu-clock, task-clock, cpu-cycles, instructions (e.g. perf_event:cpu-clock:freq=99)';
      if (fields.length < 2) need(form);
      const event = fields[0].toLowerCase();
      if (!(PERF_EVENTS as readonly string[]).includes(event)) fail(`'${fields[0]}' is not a supported perf event; use one of ${PERF_EVENTS.join(', ')}.`);
      const target: Extract<AttachTarget, { kind: 'perf_event' }> = { kind: 'perf_event', event: event as (typeof PERF_EVENTS)[number] };
      for (const option of fields.slice(1)) {
        const m = /^(freq|frequency|period|cpu)=(\d+)$/.exec(option);
        if (!m) fail(`'${option}' is not freq=HZ, period=N or cpu=N.`);
        const value = Number(m![2]);
        if (m![1] === 'cpu') target.cpu = value;
        else if (value === 0) fail(`${m![1]} must be at least 1.`);
        else if (m![1] === 'period') target.period = value;
        else target.frequency = value;
      }
      if ((target.period === undefined) === (target.frequency === undefined)) fail('give exactly one of freq=HZ and period=N.');
      return target;
    }
    default:
      return fail(`'${kind}' is not an attach kind; write one of: ${FORMS.join(', ')}.`);
  }
}

function symbolAndOffset(field: string, fail: (problem: string) => never): { symbol?: string; offset?: number } {
  const m = /^([A-Za-z_.][A-Za-z0-9_.@]*)?(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(field);
  const bareOffset = /^(0x[0-9a-fA-F]+)$/.exec(field);
  if (bareOffset) return { offset: Number(bareOffset[1]) };
  if (!m || (m[1] === undefined && m[2] === undefined)) fail(`'${field}' is not SYMBOL, SYMBOL+OFFSET or a 0x offset.`);
  return { ...(m![1] !== undefined && { symbol: m![1] }), ...(m![2] !== undefined && { offset: Number(m![2]) }) };
}

function splitPid(fields: string[], fail: (problem: string) => never): { positional: string[]; pid?: number } {
  const last = fields[fields.length - 1];
  const m = last === undefined ? null : /^pid=(\d+)$/.exec(last);
  if (!m) return { positional: fields };
  const pid = Number(m[1]);
  if (pid < 1) fail('pid must be a process id (1 or more).');
  return { positional: fields.slice(0, -1), pid };
}

function absolutePath(path: string, what: string, fail: (problem: string) => never): string {
  // The agent resolves paths on the target, where the client's working directory means nothing.
  if (!path.startsWith('/')) fail(`${what} must be an absolute path on the target, not '${path}'.`);
  return path;
}

function interfaceName(name: string, fail: (problem: string) => never): string {
  if (!INTERFACE.test(name)) fail(`'${name}' is not a network interface name (1–15 characters, no '/', ':' or spaces).`);
  return name;
}

/**
 * Program types (libbpf's names, as ProgramVerdict.type gives them) that can be attached to a
 * target of this kind: uprobes and kprobes are both BPF_PROG_TYPE_KPROBE programs.
 */
export function programTypesFor(target: AttachTarget): readonly string[] {
  switch (target.kind) {
    case 'tracepoint':
      return ['tracepoint'];
    case 'raw_tracepoint':
      return ['raw_tracepoint', 'raw_tracepoint_writable'];
    case 'kprobe':
    case 'uprobe':
    case 'usdt':
      return ['kprobe'];
    case 'xdp':
      return ['xdp'];
    case 'tc':
      return ['sched_cls', 'sched_act'];
    case 'cgroup':
      return ['cgroup_skb', 'cgroup_sock', 'cgroup_sock_addr', 'cgroup_sockopt', 'cgroup_sysctl', 'cgroup_device', 'sock_ops'];
    case 'socket_filter':
      return ['socket_filter'];
    case 'perf_event':
      return ['perf_event'];
  }
}

/**
 * Why a program in this section cannot be attached by section name alone (libbpf's auto-attach
 * needs an interface, a cgroup, a binary or an event), with an example spec; null when it can.
 */
export function explicitTargetNeeded(section: string): { why: string; example: string } | null {
  const head = section.split('/')[0];
  const bare = !section.includes('/');
  if (head === 'xdp' || head === 'xdp.frags') return { why: 'an XDP program needs an interface', example: 'xdp:eth0' };
  if (['tc', 'tcx', 'classifier', 'action'].includes(head) || head.startsWith('tcx') || head.startsWith('tc.'))
    return { why: 'a tc program needs an interface and a direction', example: 'tc:eth0:ingress' };
  if (head.startsWith('cgroup') || head === 'sockops') return { why: 'a cgroup program needs a cgroup', example: 'cgroup:/sys/fs/cgroup' };
  if (head === 'socket') return { why: 'a socket filter needs an interface', example: 'socket:eth0' };
  if (head === 'perf_event') return { why: 'a perf_event program needs an event and a rate', example: 'perf_event:cpu-clock:freq=99' };
  if (['uprobe', 'uretprobe', 'usdt', 'uprobe.s', 'uretprobe.s'].includes(head)) {
    // libbpf's auto-attach needs BINARY:FUNCTION (usdt: BINARY:PROVIDER:NAME); loader-attached
    // programs often name only the function, as SEC("uretprobe/readline") does, or nothing.
    const target = bare ? '' : section.slice(head.length + 1);
    const colons = target.split(':').length - 1;
    if (colons < (head === 'usdt' ? 2 : 1)) {
      return { why: `SEC("${section}") names no binary`, example: head === 'usdt' ? 'usdt:/path/to/bin:provider:name' : `${head.replace('.s', '')}:/usr/bin/bash:${target || 'readline'}` };
    }
  }
  if ((head === 'kprobe' || head === 'kretprobe') && bare) return { why: `SEC("${section}") names no function`, example: `${head}:do_sys_openat2` };
  return null;
}
