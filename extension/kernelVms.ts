/**
 * Kernel VMs in the editor: "eBPF: Start Kernel VM…" (a quick pick of Debian kernels, a name, then
 * a cancellable progress notification while the kernel downloads and the VM boots, after which the
 * VM is the target), "Stop Kernel VM" and "Show Kernel VM Console Log" (a read-only document, read
 * again each time it is asked for), and the list of VMs that
 * the Explorer and the target pickers show. QEMU outlives the editor and the CLI starts VMs too, so
 * the list is read from the VMs' state directories: after each of our actions and every few
 * seconds (a few small files), announcing only real changes.
 */
import * as vscode from 'vscode';
import { KERNEL_ALIASES, kernelRequest } from '../remote-agent/client/vm/kernelCatalog';
import { listVms, startVm, stopVm, vmConsoleLog, vmTargetName, type VmStatus } from '../remote-agent/client/vm/vmManager';
import { checkVmName } from '../remote-agent/client/vm/vmState';
import type { AgentSessions } from './agentSessions';
import { Commands } from './commandIds';
import type { ExtensionLog } from './extensionLog';
import { errorMessage, readSettings, storeMatrixTargets } from './settings';

/** A VM as the views show it; `starting` while this window boots it. */
export interface KernelVmEntry {
  name: string;
  target: string;
  state: VmStatus['state'] | 'starting';
  /** Kernel release once known; the requested kernel while starting. */
  kernel: string;
}

const POLL_MS = 5000;
/** Read-only documents holding a VM's console log: ebpf-vm-console:NAME.log */
const CONSOLE_SCHEME = 'ebpf-vm-console';
/** Progress lines that are for the Output channel only: the QEMU command line, SSH polling, module lists. */
const QUIET_PROGRESS = /^(qemu-system|SSH to |Initramfs for )/;

export class KernelVms implements vscode.Disposable {
  private entries: KernelVmEntry[] = [];
  private readonly starting = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly timer: NodeJS.Timeout;
  /** Logged once, not on every poll. */
  private lastListError: string | undefined;

  constructor(private readonly log: ExtensionLog) {
    this.entries = this.read();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  list(): KernelVmEntry[] {
    return this.entries;
  }

  running(): KernelVmEntry[] {
    return this.entries.filter((vm) => vm.state === 'running');
  }

  /** Reads the VMs' state again; fires onDidChange when anything differs. */
  refresh(): void {
    const next = this.read();
    if (JSON.stringify(next) === JSON.stringify(this.entries)) return;
    this.entries = next;
    this.changed.fire();
  }

  async start(kernel: string, name: string, progress: vscode.Progress<{ message?: string }>, signal: AbortSignal): Promise<{ kernelRelease: string; alreadyRunning: boolean }> {
    this.starting.set(name, kernel);
    this.refresh();
    try {
      const vm = await startVm({
        kernel,
        name,
        signal,
        log: (line) => {
          this.log.info(`kernel VM ${name}: ${line}`);
          if (!QUIET_PROGRESS.test(line)) progress.report({ message: line });
        },
      });
      return { kernelRelease: vm.kernelRelease, alreadyRunning: vm.alreadyRunning };
    } finally {
      this.starting.delete(name);
      this.refresh();
    }
  }

  async stop(name: string): Promise<void> {
    try {
      if (!(await stopVm(name))) throw new Error(`There is no kernel VM named '${name}'.`);
      this.log.info(`kernel VM ${name}: stopped`);
    } finally {
      this.refresh();
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.changed.dispose();
  }

  private read(): KernelVmEntry[] {
    let vms: VmStatus[] = [];
    try {
      vms = listVms();
      this.lastListError = undefined;
    } catch (error) {
      // A cache directory we cannot read: no VMs to show, and the reason where background problems go.
      const message = errorMessage(error);
      if (message !== this.lastListError) this.log.info(`cannot list kernel VMs: ${message}`);
      this.lastListError = message;
    }
    const entries: KernelVmEntry[] = vms.map((vm) => ({
      name: vm.name,
      target: vmTargetName(vm.name),
      state: vm.state === 'stopped' && this.starting.has(vm.name) ? 'starting' : vm.state,
      kernel: vm.kernelRelease,
    }));
    for (const [name, kernel] of this.starting) {
      if (!entries.some((e) => e.name === name)) entries.push({ name, target: vmTargetName(name), state: 'starting', kernel });
    }
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  }
}

type KernelItem = vscode.QuickPickItem & { kernel?: string; askPackage?: boolean };

/** The VM a command is about: a tree node or name passed by a menu, else one the user picks. */
async function vmNameOf(arg: unknown, vms: KernelVms, purpose: string): Promise<string | undefined> {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && typeof (arg as { vmName?: unknown }).vmName === 'string') return (arg as { vmName: string }).vmName;
  const all = vms.list();
  if (all.length === 0) {
    void vscode.window.showInformationMessage('There are no kernel VMs. Start one with "eBPF: Start Kernel VM…".');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    all.map((vm) => ({ label: vm.name, description: `${vm.kernel} · ${vm.state}` })),
    { placeHolder: purpose },
  );
  return picked?.label;
}

async function pickKernel(vms: KernelVms): Promise<string | undefined> {
  const runningKernels = new Map(vms.running().map((vm) => [vm.name, vm.kernel]));
  const items: KernelItem[] = KERNEL_ALIASES.map((a) => ({
    label: a.alias,
    description: `Debian ${a.suite}'s newest ${a.alias} kernel`,
    ...(runningKernels.has(a.alias) && { detail: `running as vm:${a.alias} (${runningKernels.get(a.alias)})` }),
    kernel: a.alias,
  }));
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator }, { label: '$(edit) Debian package name…', askPackage: true });
  const picked = await vscode.window.showQuickPick(items, { title: 'Start a kernel VM', placeHolder: 'Kernel to boot in QEMU (downloaded from Debian once, then cached)' });
  if (!picked) return undefined;
  if (!picked.askPackage) return picked.kernel;
  const entered = await vscode.window.showInputBox({
    title: 'Debian kernel package',
    prompt: 'A linux-image package from Debian bookworm, trixie, sid or experimental',
    placeHolder: 'linux-image-6.1.0-50-amd64',
    validateInput: (text) => {
      try {
        kernelRequest(text.trim());
        return undefined;
      } catch (error) {
        return errorMessage(error);
      }
    },
  });
  return entered?.trim() || undefined;
}

async function askName(kernel: string): Promise<string | undefined> {
  const entered = await vscode.window.showInputBox({
    title: `Name of the ${kernel} kernel VM`,
    prompt: 'It becomes the target vm:NAME; an existing VM of that name is reused.',
    value: kernel.replace(/^linux-image-/, ''),
    validateInput: (text) => {
      try {
        checkVmName(text.trim());
        return undefined;
      } catch (error) {
        return errorMessage(error);
      }
    },
  });
  return entered?.trim() || undefined;
}

export function registerKernelVmCommands(vms: KernelVms, sessions: AgentSessions, log: ExtensionLog): vscode.Disposable {
  const start = async (): Promise<string | undefined> => {
    const kernel = await pickKernel(vms);
    if (kernel === undefined) return undefined;
    const name = await askName(kernel);
    if (name === undefined) return undefined;
    const target = vmTargetName(name);
    let started: { kernelRelease: string; alreadyRunning: boolean };
    try {
      started = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Starting kernel VM ${name} (${kernel})`, cancellable: true },
        (progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort(new DOMException(`starting kernel VM ${name} was cancelled`, 'AbortError')));
          return vms.start(kernel, name, progress, controller.signal);
        },
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') {
        log.info(`kernel VM ${name}: ${error.message}`);
        return undefined;
      }
      log.info(`kernel VM ${name}: cannot start: ${errorMessage(error)}`);
      const choice = await vscode.window.showErrorMessage(`Cannot start kernel VM ${name}: ${errorMessage(error)}`, 'Show Output');
      if (choice === 'Show Output') log.show();
      return undefined;
    }
    await sessions.selectTarget(target);
    const addToMatrix = 'Add to Kernel Matrix';
    const inMatrix = readSettings().matrixTargets;
    void vscode.window
      .showInformationMessage(
        `Kernel VM ${name} ${started.alreadyRunning ? 'was already running' : 'is running'} kernel ${started.kernelRelease}; the eBPF target is now ${target}.`,
        ...(inMatrix.includes(target) ? [] : [addToMatrix]),
      )
      .then((choice) => (choice === addToMatrix ? storeMatrixTargets([...readSettings().matrixTargets, target]) : undefined));
    return target;
  };

  const stop = async (arg?: unknown): Promise<void> => {
    const name = await vmNameOf(arg, vms, 'Kernel VM to stop');
    if (name === undefined) return;
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Stopping kernel VM ${name}…` }, () => vms.stop(name));
    } catch (error) {
      void vscode.window.showErrorMessage(`Cannot stop kernel VM ${name}: ${errorMessage(error)}`);
    }
  };

  const consoleChanged = new vscode.EventEmitter<vscode.Uri>();
  const consoleLogs: vscode.TextDocumentContentProvider = {
    onDidChange: consoleChanged.event,
    provideTextDocumentContent: (uri) => {
      const name = uri.path.replace(/\.log$/, '');
      return vmConsoleLog(name) || `(the console of kernel VM ${name} has printed nothing yet)`;
    },
  };

  const showConsoleLog = async (arg?: unknown): Promise<void> => {
    const name = await vmNameOf(arg, vms, 'Kernel VM whose console log to show');
    if (name === undefined) return;
    try {
      const uri = vscode.Uri.from({ scheme: CONSOLE_SCHEME, path: `${name}.log` });
      consoleChanged.fire(uri); // an open one shows the log as it is now
      const document = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(uri), 'log');
      await vscode.window.showTextDocument(document, { preview: false });
    } catch (error) {
      void vscode.window.showErrorMessage(`Cannot show the console log of kernel VM ${name}: ${errorMessage(error)}`);
    }
  };

  return vscode.Disposable.from(
    consoleChanged,
    vscode.workspace.registerTextDocumentContentProvider(CONSOLE_SCHEME, consoleLogs),
    vscode.commands.registerCommand(Commands.startKernelVm, start),
    vscode.commands.registerCommand(Commands.stopKernelVm, stop),
    vscode.commands.registerCommand(Commands.showKernelVmConsoleLog, showConsoleLog),
  );
}
