/**
 * The extension's settings (`ebpfStudio.*`) and how the target setting becomes a TargetSpec.
 * An empty target means "automatic": this machine when the extension host runs on Linux (the
 * only OS that can load eBPF programs), otherwise the user has to pick an SSH host. The target
 * may be a name of `ebpfStudio.targets` or of a trusted workspace folder's
 * `.ebpf-studio/targets.json` (remote-agent/client/namedTargets.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { mergeNamedTargets, parseTargetsSetting, resolveTargetText, type NamedTarget, type NamedTargetList, type TargetSessionOptions } from '../remote-agent/client/namedTargets';
import { SSH_CLIENT_SETTINGS, type SshClientSetting } from '../remote-agent/client/sshClientChoice';
import { describeTarget, type TargetSpec } from '../remote-agent/client/targetSpec';
import { AgentLimits } from '../remote-agent/protocol';
import { findTargetsFile, readTargetsFile } from '../remote-agent/client/workspaceTargetsFile';

export const SETTINGS_SECTION = 'ebpfStudio';

export interface EbpfStudioSettings {
  target: string;
  knownHostsFile: string | undefined;
  identityFile: string | undefined;
  /** Which SSH client reaches SSH targets (remote-agent/client/sshClientChoice.ts). */
  sshClient: SshClientSetting;
  /** SSH connections through the per-user session process, shared with other windows and CLI runs. */
  shareConnections: boolean;
  verifyOnSave: boolean;
  /** Targets of the Kernel Matrix, as the user wrote them ('local', 'vm:6.1', 'root@host'). */
  matrixTargets: string[];
  /** How often a lost connection to the target is tried again on its own (0: never). */
  reconnectAttempts: number;
  /** How long the agent keeps what was attached after the link drops, for a reconnect to resume (0: released at once). */
  reconnectGraceSeconds: number;
}

export function readSettings(): EbpfStudioSettings {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  return {
    target: config.get<string>('target', '').trim(),
    knownHostsFile: expandHome(config.get<string>('knownHostsFile', '')),
    identityFile: expandHome(config.get<string>('identityFile', '')),
    sshClient: SSH_CLIENT_SETTINGS.find((value) => value === config.get<string>('sshClient')) ?? 'auto',
    shareConnections: config.get<boolean>('shareConnections', true),
    verifyOnSave: config.get<boolean>('verifyOnSave', true),
    matrixTargets: matrixTargetsBeingStored ?? [...new Set(config.get<unknown[]>('matrixTargets', []).filter((t): t is string => typeof t === 'string').map((t) => t.trim()).filter((t) => t !== ''))],
    reconnectAttempts: Math.max(0, Math.min(100, Math.trunc(config.get<number>('reconnectAttempts', 8)) || 0)),
    reconnectGraceSeconds: Math.max(0, Math.min(AgentLimits.sessionMaxGraceSeconds, Math.trunc(config.get<number>('reconnectGraceSeconds', 120)) || 0)),
  };
}

export type ResolvedTarget =
  | { ok: true; spec: TargetSpec; description: string; session: TargetSessionOptions; named?: NamedTarget }
  | { ok: false; reason: string };

export interface NamedTargetsRead extends NamedTargetList {
  /** `.ebpf-studio/targets.json` files left unread because the workspace is not trusted. */
  untrustedFiles: string[];
}

/**
 * The named targets: `ebpfStudio.targets` (user settings; workspace settings only when trusted,
 * VS Code's restricted-configuration rule), then each workspace folder's `.ebpf-studio/targets.json`
 * when the workspace is trusted. A name defined twice keeps its first definition.
 */
export function readNamedTargets(): NamedTargetsRead {
  const fromSetting = parseTargetsSetting(vscode.workspace.getConfiguration(SETTINGS_SECTION).get<unknown>('targets', []));
  const files = (vscode.workspace.workspaceFolders ?? [])
    .filter((folder) => folder.uri.scheme === 'file')
    .map((folder) => findTargetsFile(folder.uri.fsPath, false))
    .filter((file): file is string => file !== undefined);
  if (!vscode.workspace.isTrusted) return { ...mergeNamedTargets([fromSetting]), untrustedFiles: files };
  return { ...mergeNamedTargets([fromSetting, ...files.map(readTargetsFile)]), untrustedFiles: [] };
}

/** The target to verify on, or why there is none (a sentence the user can act on). */
export function resolveTarget(setting: string, named: readonly NamedTarget[] = [], settingName = 'ebpfStudio.target'): ResolvedTarget {
  if (setting === '') {
    if (process.platform !== 'linux') {
      return {
        ok: false,
        reason: `No eBPF target is set, and this machine (${process.platform}) cannot load eBPF programs. Run "eBPF: Select Target" and pick a Linux host reachable over SSH.`,
      };
    }
    const spec: TargetSpec = { kind: 'local' };
    return { ok: true, spec, description: describeTarget(spec), session: { sudo: 'auto' } };
  }
  try {
    const resolved = resolveTargetText(setting, named);
    const { spec } = resolved;
    if (spec.kind === 'local' && process.platform !== 'linux') {
      return {
        ok: false,
        reason: `The target is "local", but this machine (${process.platform}) cannot load eBPF programs. Run "eBPF: Select Target" and pick a Linux host reachable over SSH.`,
      };
    }
    return { ok: true, ...resolved };
  } catch (error) {
    return {
      ok: false,
      reason: `The setting ${settingName} ("${setting}") is not a target: ${errorMessage(error)} Run "eBPF: Select Target" to pick one.`,
    };
  }
}

/** Stores the target in the workspace settings when a folder is open, else in the user settings. */
export async function storeTarget(setting: string): Promise<void> {
  const scope = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('target', setting, scope);
}

/**
 * The matrix targets a write to the settings is storing, until it has landed: a "Verify on All
 * Targets" right after choosing them must not read the file as it was before.
 */
let matrixTargetsBeingStored: string[] | undefined;

/** Stored like the target: in the workspace settings when a folder is open, else in the user settings. */
export async function storeMatrixTargets(targets: string[]): Promise<void> {
  const scope = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  matrixTargetsBeingStored = targets;
  try {
    await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('matrixTargets', targets, scope);
  } finally {
    if (matrixTargetsBeingStored === targets) matrixTargetsBeingStored = undefined;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function expandHome(file: string | undefined): string | undefined {
  const trimmed = file?.trim();
  if (!trimmed) return undefined;
  if (trimmed === '~') return os.homedir();
  if (trimmed.startsWith('~/')) return path.join(os.homedir(), trimmed.slice(2));
  return trimmed;
}
