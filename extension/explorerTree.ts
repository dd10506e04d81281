/**
 * The eBPF Explorer: each target (the configured one, and any with attached programs), whether it
 * is connected, and under it what eBPF Studio attached there (programs with their links, maps) and
 * everything loaded on the host (host.programs / host.maps, like `bpftool prog|map list`, ours
 * marked). Host listings are read when expanded and on Refresh; expanding a target that is not
 * connected connects to it, since the user asked to look. Below the targets, the kernel VMs
 * (kernelVms.ts) with their kernel and state, and Stop / Show Console Log on each.
 */
import * as vscode from 'vscode';
import type { HostMap, HostProgram } from '../remote-agent/protocol';
import type { AgentClient } from '../remote-agent/client/agentClient';
import type { AgentSessions, ConnectionState } from './agentSessions';
import { Commands } from './commandIds';
import type { KernelVmEntry, KernelVms } from './kernelVms';
import type { AttachedRun, RunningPrograms } from './runningPrograms';
import { errorMessage } from './settings';

export const EXPLORER_VIEW_ID = 'ebpfStudio.explorer';

type Node =
  | { kind: 'target'; target: string }
  | { kind: 'attached'; target: string }
  | { kind: 'run'; run: AttachedRun }
  | { kind: 'hostPrograms'; target: string }
  | { kind: 'hostMaps'; target: string }
  | { kind: 'vms' }
  /** `vmName` is what the VM commands read from the node they are invoked on. */
  | { kind: 'vm'; vmName: string; vm: KernelVmEntry }
  | { kind: 'leaf'; label: string; description?: string; tooltip?: string; icon?: string; contextValue?: string; runId?: string; program?: string };

export class ExplorerTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<string, ConnectionState>();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly sessions: AgentSessions,
    private readonly running: RunningPrograms,
    private readonly vms: KernelVms,
  ) {
    this.disposables = [
      vms.onDidChange(() => this.refresh()),
      sessions.onDidChangeState((state) => {
        this.states.set(state.description, state);
        this.refresh();
      }),
      running.onDidChange(() => this.refresh()),
      sessions.onDidChangeTarget(() => this.refresh()),
    ];
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
    switch (node.kind) {
      case 'target': {
        const state = this.states.get(node.target);
        const item = new vscode.TreeItem(node.target, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `target:${node.target}`;
        item.description = state?.state === 'connected' ? `connected · kernel ${state.kernelRelease}` : (state?.state ?? 'not connected');
        item.tooltip = state && 'reason' in state ? `${state.state}: ${state.reason}` : undefined;
        if (state?.state === 'reconnecting') item.description = `connection lost · reconnecting (try ${state.attempt} of ${state.attempts})`;
        if (state?.state === 'unreachable') item.description = `unreachable since ${new Date(state.since).toLocaleTimeString('en-GB')}`;
        item.iconPath = new vscode.ThemeIcon(
          state?.state === 'connected' ? 'vm-active' : state?.state === 'reconnecting' ? 'sync~spin' : state?.state === 'failed' || state?.state === 'closed' || state?.state === 'unreachable' ? 'vm-outline' : 'vm',
        );
        return item;
      }
      case 'attached': {
        const runs = this.runsOn(node.target);
        const item = new vscode.TreeItem('Attached by eBPF Studio', runs.length > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        item.id = `attached:${node.target}`;
        item.description = runs.length === 0 ? 'nothing attached' : `${runs.flatMap((r) => r.bpfObject.attached).length} program(s)`;
        item.iconPath = new vscode.ThemeIcon('plug');
        return item;
      }
      case 'run': {
        const item = new vscode.TreeItem(vscode.workspace.asRelativePath(node.run.file), vscode.TreeItemCollapsibleState.Expanded);
        item.id = `run:${node.run.id}`;
        const waiting = node.run.waiting();
        item.description = waiting
          ? `link down since ${new Date(waiting.since).toLocaleTimeString()} · kept until ${new Date(waiting.keptUntil).toLocaleTimeString()}`
          : `since ${new Date(node.run.startedAt).toLocaleTimeString()}`;
        item.tooltip =
          `${node.run.programs.join(', ')}: one loaded object (${node.run.objectId}), so they share its maps. Detach here detaches them all.` +
          (waiting ? `\n\nThe link to ${node.run.target} is down: its agent keeps them attached until ${new Date(waiting.keptUntil).toLocaleTimeString()} while eBPF Studio reconnects, and the run carries on when it does.` : '');
        item.contextValue = 'attachedRun';
        item.iconPath = waiting ? new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('list.warningForeground')) : new vscode.ThemeIcon('file-code');
        item.resourceUri = node.run.file;
        return item;
      }
      case 'hostPrograms': {
        const item = new vscode.TreeItem('All programs on host', collapsed);
        item.id = `hostPrograms:${node.target}`;
        item.iconPath = new vscode.ThemeIcon('symbol-function');
        return item;
      }
      case 'hostMaps': {
        const item = new vscode.TreeItem('All maps on host', collapsed);
        item.id = `hostMaps:${node.target}`;
        item.iconPath = new vscode.ThemeIcon('database');
        return item;
      }
      case 'vms': {
        const count = this.vms.list().length;
        const item = new vscode.TreeItem('Kernel VMs', count > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        item.id = 'kernelVms';
        item.description = count === 0 ? 'none: eBPF: Start Kernel VM…' : `${this.vms.running().length} running`;
        item.iconPath = new vscode.ThemeIcon('server-environment');
        return item;
      }
      case 'vm': {
        const { vm } = node;
        const item = new vscode.TreeItem(vm.name, vscode.TreeItemCollapsibleState.None);
        item.id = `kernelVm:${vm.name}`;
        item.description = `${vm.state === 'starting' ? `starting ${vm.kernel}` : `kernel ${vm.kernel}`} · ${vm.state}`;
        item.tooltip = `${vm.target}: Debian kernel ${vm.kernel} in QEMU, ${vm.state}. Select it as a target with "eBPF: Select Target".`;
        item.contextValue = `kernelVm.${vm.state}`;
        item.iconPath = new vscode.ThemeIcon(vm.state === 'running' ? 'vm-running' : vm.state === 'starting' ? 'loading~spin' : 'vm-outline');
        return item;
      }
      case 'leaf': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        if (node.description !== undefined) item.description = node.description;
        if (node.tooltip !== undefined) item.tooltip = node.tooltip;
        if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
        if (node.contextValue) item.contextValue = node.contextValue;
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return [...this.targets().map((target): Node => ({ kind: 'target', target })), { kind: 'vms' }];
    switch (node.kind) {
      case 'target':
        return [
          { kind: 'attached', target: node.target },
          { kind: 'hostPrograms', target: node.target },
          { kind: 'hostMaps', target: node.target },
        ];
      case 'attached':
        return this.runsOn(node.target).map((run) => ({ kind: 'run', run }));
      case 'run':
        return [
          ...node.run.bpfObject.attached.map(
            (a): Node => ({ kind: 'leaf', label: a.program, description: `${a.description} · prog id ${a.programId}`, tooltip: `SEC("${a.section}") — bpftool prog show id ${a.programId}`, icon: 'symbol-event', contextValue: 'attachedProgram', runId: node.run.id, program: a.program }),
          ),
          ...[...node.run.streams.values()].map(
            (s): Node => ({ kind: 'leaf', label: s.map, description: `${s.kind} · ${s.recordType} · ${s.counters.received} received, ${s.counters.dropped} dropped`, icon: 'broadcast' }),
          ),
        ];
      case 'hostPrograms':
        return this.hostListing(node.target, async (client) => (await client.request('host.programs', {})).programs.map(programLeaf));
      case 'hostMaps':
        return this.hostListing(node.target, async (client) => (await client.request('host.maps', {})).maps.map(mapLeaf));
      case 'vms':
        return this.vms.list().map((vm) => ({ kind: 'vm', vmName: vm.name, vm }));
      case 'vm':
      case 'leaf':
        return [];
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
  }

  private targets(): string[] {
    const targets = new Set<string>();
    const configured = this.sessions.currentTarget();
    if (configured.ok) targets.add(configured.description);
    // A run is listed under the name its session has (an alias, a named target), as its state is:
    // not under the address the connection resolved to, which would list one target twice.
    for (const run of this.running.runs()) targets.add(run.sessionKey);
    return [...targets];
  }

  private runsOn(target: string): AttachedRun[] {
    return this.running.runs().filter((r) => r.sessionKey === target);
  }

  private async hostListing(target: string, list: (client: AgentClient) => Promise<Node[]>): Promise<Node[]> {
    const run = this.runsOn(target)[0];
    try {
      let client = run?.session.client;
      if (!client) {
        const configured = this.sessions.currentTarget();
        if (!configured.ok || configured.description !== target) return [{ kind: 'leaf', label: `${target} is not the current target: select it to list its programs.` }];
        client = (await this.sessions.get(configured.spec, configured.description)).client;
      }
      const nodes = await list(client);
      return nodes.length > 0 ? nodes : [{ kind: 'leaf', label: 'none' }];
    } catch (error) {
      return [{ kind: 'leaf', label: `Cannot list: ${errorMessage(error)}`, icon: 'error' }];
    }
  }
}

function programLeaf(p: HostProgram): Node {
  const runs = p.runCount !== null && p.runTimeNs !== null && p.runCount > 0 ? ` · ${p.runCount} runs, ${Math.round(p.runTimeNs / p.runCount)} ns/run` : '';
  return {
    kind: 'leaf',
    label: `${p.id}: ${p.name || '(no name)'}`,
    description: `${p.type}${p.ours ? ' · eBPF Studio' : ''}${runs}`,
    tooltip: `id ${p.id}, ${p.type}, tag ${p.tag}, uid ${p.uid}, loaded ${new Date(p.loadTime * 1000).toLocaleString()}, maps ${p.mapIds.join(', ') || 'none'}`,
    icon: p.ours ? 'star-full' : 'symbol-function',
  };
}

function mapLeaf(m: HostMap): Node {
  return {
    kind: 'leaf',
    label: `${m.id}: ${m.name || '(no name)'}`,
    description: `${m.type} · key ${m.keySize} B · value ${m.valueSize} B · max ${m.maxEntries}${m.ours ? ' · eBPF Studio' : ''}`,
    icon: m.ours ? 'star-full' : 'database',
  };
}

export function registerExplorerTree(sessions: AgentSessions, running: RunningPrograms, vms: KernelVms): vscode.Disposable {
  const tree = new ExplorerTree(sessions, running, vms);
  return vscode.Disposable.from(
    tree,
    vscode.window.createTreeView(EXPLORER_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true }),
    vscode.commands.registerCommand(Commands.refreshExplorer, () => {
      vms.refresh();
      tree.refresh();
    }),
    // Detach from a run's item (the whole run) or from one of its programs (that program only).
    vscode.commands.registerCommand(Commands.detachExplorerItem, (node?: Node) => {
      if (node?.kind === 'run') return vscode.commands.executeCommand(Commands.detachRun, node.run.id);
      if (node?.kind === 'leaf' && node.runId !== undefined) return vscode.commands.executeCommand(Commands.detachRun, node.runId, node.program);
      return undefined;
    }),
  );
}
