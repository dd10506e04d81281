/**
 * "eBPF: Select Target": where programs are compiled and verified — a named target (listed first,
 * its destination beside it), this machine, a running kernel VM (vm:NAME), a host from
 * ~/.ssh/config, or any user@host:port — stored in the `ebpfStudio.target` setting. Starting a new
 * kernel VM is offered here too.
 */
import * as vscode from 'vscode';
import { listSshConfigHosts } from '../remote-agent/client/sshConfigHosts';
import { describeTarget, parseTarget } from '../remote-agent/client/targetSpec';
import { Commands } from './commandIds';
import type { KernelVms } from './kernelVms';
import type { AgentSessions } from './agentSessions';
import { errorMessage } from './settings';

type TargetItem = vscode.QuickPickItem & { setting?: string; enterManually?: boolean; startVm?: boolean };

export function registerSelectTargetCommand(vms: KernelVms, sessions: AgentSessions): vscode.Disposable {
  return vscode.commands.registerCommand(Commands.selectTarget, async (): Promise<boolean> => {
    const current = sessions.currentTargetSetting();
    const named = sessions.namedTargets();
    const items: TargetItem[] = [];
    if (named.length > 0) items.push({ label: 'Named targets', kind: vscode.QuickPickItemKind.Separator });
    for (const target of named) {
      const how = [target.sudo === 'never' ? 'agent runs as the login user (no sudo)' : undefined, target.workDirectory !== undefined ? `agent files in ${target.workDirectory}` : undefined].filter((part) => part !== undefined);
      items.push({ label: `$(server) ${target.name}`, description: target.destination, detail: how.length > 0 ? how.join(', ') : undefined, setting: target.name });
    }
    if (named.length > 0) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push(
      {
        label: '$(vm) This machine',
        description: process.platform === 'linux' ? 'local agent, needs root or sudo' : `not possible here: ${process.platform} cannot load eBPF`,
        setting: 'local',
      },
    );
    items.push({ label: 'Kernel VMs', kind: vscode.QuickPickItemKind.Separator });
    for (const vm of vms.running()) items.push({ label: `$(vm-running) ${vm.target}`, description: `kernel ${vm.kernel}`, setting: vm.target });
    items.push({ label: '$(add) Start Kernel VM…', description: 'Debian 6.1, 6.12, 7.2, 7.3 in QEMU', startVm: true });
    let hosts: string[] = [];
    let hostsError: string | undefined;
    try {
      hosts = listSshConfigHosts();
    } catch (error) {
      hostsError = errorMessage(error);
    }
    if (hosts.length > 0) items.push({ label: 'SSH hosts from ~/.ssh/config', kind: vscode.QuickPickItemKind.Separator });
    for (const host of hosts) items.push({ label: `$(remote) ${host}`, setting: host });
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: '$(edit) Enter user@host:port…', enterManually: true, ...(hostsError ? { detail: `~/.ssh/config could not be read: ${hostsError}` } : {}) });
    for (const item of items) {
      if (item.setting !== undefined && item.setting === current) item.description = `${item.description ?? ''} (current)`.trim();
    }

    const picked = await vscode.window.showQuickPick(items, { placeHolder: `eBPF target${current ? ` (now: ${current})` : ' (now: automatic)'}` });
    if (!picked) return false;
    // Starting a VM makes it the target when it is up.
    if (picked.startVm) return (await vscode.commands.executeCommand<string | undefined>(Commands.startKernelVm)) !== undefined;
    const setting = picked.enterManually ? await askForHost(current) : picked.setting;
    if (setting === undefined) return false;
    await sessions.selectTarget(setting);
    return true;
  });
}

async function askForHost(current: string): Promise<string | undefined> {
  const entered = await vscode.window.showInputBox({
    title: 'eBPF target over SSH',
    prompt: 'user@host:port, ssh://user@host:port, or a Host alias from ~/.ssh/config',
    placeHolder: 'root@192.168.122.10:22',
    value: current === 'local' ? '' : current,
    validateInput: (text) => {
      if (text.trim() === '') return 'Enter a host';
      try {
        const spec = parseTarget(text.trim());
        return spec.kind === 'local' ? undefined : { message: `Connects to ${describeTarget(spec)}`, severity: vscode.InputBoxValidationSeverity.Info };
      } catch (error) {
        return errorMessage(error);
      }
    },
  });
  return entered?.trim() || undefined;
}
