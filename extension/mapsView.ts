/**
 * The Maps view: the maps of each attached object (one per file and target, shared by all its
 * attached programs: type, key and value size, max entries) and, expanded, their entries decoded
 * with the object's BTF (`key → value`), a page of 256 at a time (map.dump's cursor; "Load more"
 * continues). Expanded maps are read again every second while the view is visible, and not at
 * all while it is hidden. Entries can be deleted from the context menu.
 * Keys and values are the target's data: VS Code draws tree labels and string tooltips as text,
 * never markup, and they are shown with their reordering and invisible characters escaped and
 * cut to a length a row and a tooltip can hold (a value may be a 1 MiB string).
 */
import * as vscode from 'vscode';
import type { MapEntry, MapInfo } from '../remote-agent/protocol';
import { Commands } from './commandIds';
import { flattenRecord, type RecordValue } from './eventRows';
import type { ExtensionLog } from './extensionLog';
import type { AttachedRun, RunningPrograms } from './runningPrograms';
import { errorMessage } from './settings';
import { showHiddenCharacters, targetTextForDisplay } from './targetText';

export const MAPS_VIEW_ID = 'ebpfStudio.maps';

const PAGE = 256;
const REFRESH_MS = 1000;
/** Characters of a decoded key or value in an entry's label (a row shows far fewer). */
const LABEL_CHARS = 1000;
/** Bytes of a key or value shown as hex in an entry's tooltip. */
const TOOLTIP_BYTES = 256;
/** Map types whose records are streamed, not stored: nothing to dump. */
const STREAMED = new Set(['ringbuf', 'perf_event_array', 'user_ringbuf']);

type Node =
  | { kind: 'run'; run: AttachedRun }
  | { kind: 'map'; run: AttachedRun; map: MapInfo }
  | { kind: 'entry'; run: AttachedRun; map: MapInfo; entry: MapEntry; index: number }
  | { kind: 'more'; run: AttachedRun; map: MapInfo }
  | { kind: 'message'; id: string; text: string; tooltip?: string };

interface MapContents {
  entries: MapEntry[];
  /** Cursor after the last loaded page; null when everything is loaded. */
  cursor: string | null;
  pages: number;
  error?: string;
}

interface RunData {
  maps?: Promise<MapInfo[]>;
  contents: Map<string, MapContents>;
  nodes: Map<string, Node>;
}

export class MapsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly data = new Map<string, RunData>();
  /** Map nodes the user expanded: the ones refreshed every second. */
  private readonly expanded = new Set<Node>();
  private tree: vscode.TreeView<Node> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  constructor(
    private readonly running: RunningPrograms,
    private readonly log: ExtensionLog,
  ) {}

  attach(tree: vscode.TreeView<Node>): vscode.Disposable {
    this.tree = tree;
    const sync = (): void => {
      if (tree.visible && !this.timer) this.timer = setInterval(() => void this.refreshExpanded(), REFRESH_MS);
      if (!tree.visible && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    sync();
    return vscode.Disposable.from(
      tree.onDidChangeVisibility(sync),
      tree.onDidExpandElement((e) => {
        if (e.element.kind === 'map') this.expanded.add(e.element);
      }),
      tree.onDidCollapseElement((e) => this.expanded.delete(e.element)),
      this.running.onDidChange(() => {
        const live = new Set(this.running.runs().map((r) => r.id));
        for (const id of this.data.keys()) if (!live.has(id)) this.data.delete(id);
        for (const node of this.expanded) if (node.kind === 'map' && !live.has(node.run.id)) this.expanded.delete(node);
        this.changed.fire(undefined);
      }),
    );
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'run': {
        const item = new vscode.TreeItem(vscode.workspace.asRelativePath(node.run.file), vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.run.id;
        item.description = `${node.run.programs.join(', ')} on ${node.run.target}`;
        item.iconPath = new vscode.ThemeIcon('plug');
        return item;
      }
      case 'map': {
        const streamed = STREAMED.has(node.map.type);
        const item = new vscode.TreeItem(showHiddenCharacters(node.map.name), streamed ? vscode.TreeItemCollapsibleState.None : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.run.id}/${node.map.name}`;
        item.description = describeMap(node.map);
        item.tooltip = `${node.map.name}: ${node.map.type}, key ${node.map.keySize} B, value ${node.map.valueSize} B, max ${node.map.maxEntries} entries${node.map.mapId === null ? '' : `, map id ${node.map.mapId} (bpftool map dump id ${node.map.mapId})`}${streamed ? '\nIts records stream to the Events view.' : ''}`;
        item.iconPath = new vscode.ThemeIcon(streamed ? 'broadcast' : 'database');
        item.contextValue = streamed ? 'streamedMap' : 'map';
        return item;
      }
      case 'entry': {
        const key = this.decode(node.run, node.map.btfKeyTypeId, node.entry.key);
        const value = node.entry.values.length === 1 ? this.decode(node.run, node.map.btfValueTypeId, node.entry.values[0]) : perCpu(node.entry.values.map((v) => this.decode(node.run, node.map.btfValueTypeId, v)));
        const item = new vscode.TreeItem(`${targetTextForDisplay(key, LABEL_CHARS)} → ${targetTextForDisplay(value, LABEL_CHARS)}`, vscode.TreeItemCollapsibleState.None);
        item.tooltip = `key ${hexOf(node.entry.key)}\nvalue ${node.entry.values.map(hexOf).join('\n      ')}`;
        item.contextValue = 'mapEntry';
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem('Load more…', vscode.TreeItemCollapsibleState.None);
        item.command = { command: Commands.loadMoreMapEntries, title: 'Load more', arguments: [node] };
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        return item;
      }
      case 'message': {
        // Error texts may quote the target (an agent's message).
        const item = new vscode.TreeItem(showHiddenCharacters(node.text), vscode.TreeItemCollapsibleState.None);
        if (node.tooltip) item.tooltip = showHiddenCharacters(node.tooltip);
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      const runs = this.running.runs();
      if (runs.length === 0) return [{ kind: 'message', id: 'none', text: 'No attached programs: ▶ Attach one to see its maps.' }];
      return runs.map((run) => this.node(run, `run:${run.id}`, () => ({ kind: 'run', run })));
    }
    if (node.kind === 'run') {
      try {
        const maps = await this.mapsOf(node.run);
        const visible = maps.filter((m) => !m.name.endsWith('.rodata') && !m.name.endsWith('.bss') && !m.name.endsWith('.data') && !m.name.endsWith('.kconfig'));
        return visible.map((map) => this.node(node.run, `map:${map.name}`, () => ({ kind: 'map', run: node.run, map })));
      } catch (error) {
        return [{ kind: 'message', id: 'error', text: `Cannot list the maps: ${errorMessage(error)}` }];
      }
    }
    if (node.kind === 'map') {
      const contents = this.runData(node.run).contents.get(node.map.name) ?? (await this.load(node.run, node.map, 1));
      if (contents.error) return [{ kind: 'message', id: 'error', text: contents.error }];
      if (contents.entries.length === 0) return [{ kind: 'message', id: 'empty', text: 'empty' }];
      const entries: Node[] = contents.entries.map((entry, index) => ({ kind: 'entry', run: node.run, map: node.map, entry, index }));
      if (contents.cursor !== null) entries.push({ kind: 'more', run: node.run, map: node.map });
      return entries;
    }
    return [];
  }

  /** Reads `pages` pages of `map` from its start (a fresh view of a changing map). */
  private async load(run: AttachedRun, map: MapInfo, pages: number): Promise<MapContents> {
    const contents: MapContents = { entries: [], cursor: null, pages: 0 };
    try {
      let cursor: string | undefined;
      do {
        const page = await run.session.client.request('map.dump', { objectId: run.objectId, map: map.name, limit: PAGE, ...(cursor !== undefined && { cursor }) });
        contents.entries.push(...page.entries);
        contents.pages++;
        cursor = page.nextCursor ?? undefined;
        contents.cursor = page.nextCursor;
      } while (cursor !== undefined && contents.pages < pages);
    } catch (error) {
      contents.error = `Cannot read ${map.name}: ${errorMessage(error)}`;
    }
    this.runData(run).contents.set(map.name, contents);
    return contents;
  }

  async loadMore(node: Node): Promise<void> {
    if (node.kind !== 'more') return;
    const pages = (this.runData(node.run).contents.get(node.map.name)?.pages ?? 0) + 1;
    await this.load(node.run, node.map, pages);
    this.changed.fire(this.runData(node.run).nodes.get(`map:${node.map.name}`));
  }

  async refresh(): Promise<void> {
    for (const data of this.data.values()) data.contents.clear();
    this.changed.fire(undefined);
  }

  async deleteEntry(node: Node): Promise<void> {
    if (node.kind !== 'entry') return;
    try {
      const { deleted } = await node.run.session.client.request('map.delete', { objectId: node.run.objectId, map: node.map.name, key: node.entry.key });
      if (!deleted) vscode.window.setStatusBarMessage(`eBPF: that ${node.map.name} entry was already gone`, 4000);
    } catch (error) {
      void vscode.window.showErrorMessage(`Deleting the entry of ${node.map.name} failed: ${errorMessage(error)}`);
    }
    await this.reload(node.run, node.map);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.changed.dispose();
  }

  private async refreshExpanded(): Promise<void> {
    if (this.refreshing || !this.tree?.visible) return;
    this.refreshing = true;
    try {
      for (const node of this.expanded) if (node.kind === 'map') await this.reload(node.run, node.map);
    } catch (error) {
      this.log.info(`Maps view: refreshing failed: ${errorMessage(error)}`);
    } finally {
      this.refreshing = false;
    }
  }

  private async reload(run: AttachedRun, map: MapInfo): Promise<void> {
    if (this.running.get(run.id) !== run) return;
    const before = this.runData(run).contents.get(map.name);
    const pages = Math.max(1, before?.pages ?? 1);
    const after = await this.load(run, map, pages);
    // Contents as they were are not drawn again: each redraw decodes every value again (a map of
    // 1 MiB values, every second) and takes away a tooltip the user is reading.
    if (before && sameContents(before, after)) return;
    this.changed.fire(this.runData(run).nodes.get(`map:${map.name}`));
  }

  private runData(run: AttachedRun): RunData {
    let data = this.data.get(run.id);
    if (!data) {
      data = { contents: new Map(), nodes: new Map() };
      this.data.set(run.id, data);
    }
    return data;
  }

  /** One node object per thing, so the tree keeps expansion state across refreshes. */
  private node(run: AttachedRun, key: string, make: () => Node): Node {
    const nodes = this.runData(run).nodes;
    let node = nodes.get(key);
    if (!node) {
      node = make();
      nodes.set(key, node);
    }
    return node;
  }

  private mapsOf(run: AttachedRun): Promise<MapInfo[]> {
    const data = this.runData(run);
    data.maps ??= run.session.client.request('object.maps', { objectId: run.objectId }).then((r) => r.maps);
    return data.maps;
  }

  private decode(run: AttachedRun, typeId: number, base64: string): string {
    const bytes = Buffer.from(base64, 'base64');
    const decoder = run.bpfObject.valueDecoder(typeId);
    try {
      return valueText(decoder.decode(bytes, 0, bytes.length) as RecordValue);
    } catch {
      return `0x${bytes.toString('hex')}`; // a value the type does not describe: its bytes
    }
  }
}

function sameContents(a: MapContents, b: MapContents): boolean {
  if (a.error !== b.error || a.cursor !== b.cursor || a.entries.length !== b.entries.length) return false;
  return a.entries.every((entry, i) => {
    const other = b.entries[i];
    return entry.key === other.key && entry.values.length === other.values.length && entry.values.every((v, j) => v === other.values[j]);
  });
}

function describeMap(map: MapInfo): string {
  // A ring buffer's max_entries is its size in bytes; perf buffers have one slot per CPU.
  if (map.type === 'ringbuf' || map.type === 'user_ringbuf') return `${map.type} · ${(map.maxEntries / 1024).toLocaleString('en-US')} KiB · streamed to Events`;
  if (map.type === 'perf_event_array') return `${map.type} · ${map.maxEntries} CPUs · streamed to Events`;
  return `${map.type} · key ${map.keySize} B · value ${map.valueSize} B · max ${map.maxEntries.toLocaleString('en-US')}`;
}

/** `4242`, `{pid=1, comm=bash}`: a decoded key or value on one line. */
function valueText(value: RecordValue): string {
  const flat = flattenRecord(value);
  if (flat.size === 1 && flat.has('value')) return flat.get('value')!;
  return `{${[...flat].map(([k, v]) => `${k}=${v}`).join(', ')}}`;
}

function perCpu(values: string[]): string {
  const shown = values.slice(0, 8).map((v, cpu) => `cpu${cpu}=${v}`);
  return `[${shown.join(', ')}${values.length > 8 ? `, … ${values.length} CPUs` : ''}]`;
}

/** `0x…` of the first TOOLTIP_BYTES bytes, and how many there are when that is not all. */
function hexOf(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length <= TOOLTIP_BYTES) return `0x${bytes.toString('hex')}`;
  return `0x${bytes.subarray(0, TOOLTIP_BYTES).toString('hex')}… (the first ${TOOLTIP_BYTES} of ${bytes.length.toLocaleString('en-US')} bytes)`;
}

export function registerMapsView(running: RunningPrograms, log: ExtensionLog): vscode.Disposable {
  const view = new MapsView(running, log);
  const tree = vscode.window.createTreeView(MAPS_VIEW_ID, { treeDataProvider: view, showCollapseAll: true });
  return vscode.Disposable.from(
    view,
    tree,
    view.attach(tree),
    vscode.commands.registerCommand(Commands.refreshMaps, () => view.refresh()),
    vscode.commands.registerCommand(Commands.deleteMapEntry, (node: Node) => view.deleteEntry(node)),
    vscode.commands.registerCommand(Commands.loadMoreMapEntries, (node: Node) => view.loadMore(node)),
  );
}
