/**
 * `ebpf-studio vm`: throwaway Debian kernel VMs as targets (remote-agent/client/vm/).
 *   vm start 6.1|6.12|7.2|7.3|PACKAGE [--name NAME]   boot one, print its target (vm:NAME)
 *   vm list | vm stop NAME…|--all | vm logs NAME
 * Progress goes to stderr and the one result to stdout, so `T=$(ebpf-studio vm start 6.1)` works.
 */
import { parseArgs } from 'node:util';
import { listVms, startVm, stopAllVms, stopVm, vmConsoleLog } from '../remote-agent/client/vm/vmManager';

function positiveNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${option} must be a number above 0, not '${value}'`);
  return n;
}

async function start(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, refresh: { type: 'boolean' }, memory: { type: 'string' }, cpus: { type: 'string' }, timeout: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
  });
  if (positionals.length !== 1) throw new Error('vm start needs one kernel: 6.1, 6.12, 7.2, 7.3 or a Debian package name (see ebpf-studio vm --help)');
  const memory = positiveNumber(values.memory, '--memory');
  const cpus = positiveNumber(values.cpus, '--cpus');
  const timeout = positiveNumber(values.timeout, '--timeout');
  const progress = (line: string): void => {
    // The QEMU command line and SSH polling are for --verbose; the rest says what takes the time.
    if (values.verbose || !/^(qemu-system|SSH to |Initramfs for )/.test(line)) process.stderr.write(`${line}\n`);
  };
  const vm = await startVm({
    kernel: positionals[0]!,
    ...(values.name !== undefined && { name: values.name }),
    ...(values.refresh && { refresh: true }),
    ...(memory !== undefined && { memoryMiB: Math.round(memory) }),
    ...(cpus !== undefined && { cpus: Math.round(cpus) }),
    ...(timeout !== undefined && { bootTimeoutMs: timeout * 1000 }),
    signal,
    log: progress,
  });
  if (vm.alreadyRunning) process.stderr.write(`VM ${vm.name} (kernel ${vm.kernelRelease}) is already running on 127.0.0.1:${vm.port}.\n`);
  process.stdout.write(`${vm.target}\n`);
  return 0;
}

function list(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { format: { type: 'string', default: 'text' } } });
  const vms = listVms();
  if (values.format === 'json') {
    process.stdout.write(`${JSON.stringify(vms.map((v) => ({ name: v.name, target: `vm:${v.name}`, kernel: v.kernelRelease, package: v.kernelPackage, state: v.state, port: v.port })))}\n`);
    return 0;
  }
  if (values.format !== 'text') throw new Error(`--format must be text or json, not '${values.format}'`);
  if (vms.length === 0) {
    process.stdout.write('No kernel VMs (start one with: ebpf-studio vm start 6.1).\n');
    return 0;
  }
  const rows = [['NAME', 'KERNEL', 'STATE', 'PORT'], ...vms.map((v) => [v.name, v.kernelRelease, v.state, String(v.port)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  return 0;
}

async function stop(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { all: { type: 'boolean' } } });
  if (values.all) {
    if (positionals.length > 0) throw new Error('vm stop takes VM names or --all, not both');
    const stopped = await stopAllVms();
    process.stderr.write(stopped.length === 0 ? 'No kernel VMs to stop.\n' : `Stopped ${stopped.join(', ')}.\n`);
    return 0;
  }
  if (positionals.length === 0) throw new Error('vm stop needs a VM name or --all (see ebpf-studio vm list)');
  for (const name of positionals) {
    if (!(await stopVm(name))) throw new Error(`There is no VM named '${name}' (see 'ebpf-studio vm list').`);
    process.stderr.write(`Stopped ${name}.\n`);
  }
  return 0;
}

function logs(argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new Error('vm logs needs one VM name (see ebpf-studio vm list)');
  process.stdout.write(vmConsoleLog(positionals[0]!));
  return 0;
}

export async function vmCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'start':
      return start(rest, signal);
    case 'list':
      return list(rest);
    case 'stop':
      return stop(rest);
    case 'logs':
      return logs(rest);
    default:
      throw new Error(sub ? `unknown vm command '${sub}' (start, list, stop, logs; see ebpf-studio vm --help)` : 'vm needs a command: start, list, stop or logs (see ebpf-studio vm --help)');
  }
}
