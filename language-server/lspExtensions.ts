/**
 * eBPF Studio's own LSP messages, defined once for both sides: the extension (client) imports
 * these names and types, the server handles them. Plain TypeScript, no `vscode`, so other editors'
 * clients can send the same messages.
 */
import type { KernelFeatures, ProbeHelpersResult } from '../remote-agent/protocol';

/**
 * Notification `ebpfStudio/targetInfo`, client → server: the target the user verifies against
 * changed (or its probe answers arrived). Without it the server describes the machine it runs on:
 * /sys/kernel/btf/vmlinux when readable, and built-in defaults for helper availability.
 */
export const TargetInfoNotification = 'ebpfStudio/targetInfo';

export interface TargetInfoParams {
  /** "local" or "user@host:port". */
  description: string;
  kernelRelease: string;
  arch: string;
  /** Local path of a copy of the target's raw vmlinux BTF (cached per btfId by the client); null when it has none. */
  btfPath: string | null;
  btfId: string | null;
  features: KernelFeatures | null;
  /** Helper availability per program type and GPL-only helpers, probed on the target; null until known. */
  helpers: ProbeHelpersResult | null;
}

/**
 * Which target an editor other than VS Code wants described, client → server: the `ebpfStudio`
 * object of `initializationOptions`, or the `ebpfStudio` section of `workspace/didChangeConfiguration`
 * settings. `ebpf-studio lsp` connects to that target and describes it as the extension would with
 * `ebpfStudio/targetInfo`; `--target` on its command line is the default.
 */
export interface TargetSettings {
  /** 'local', 'ssh://user@host:port', 'vm:6.1', … as `ebpf-studio check --target` takes it. */
  target?: string;
  identityFile?: string;
  knownHostsFile?: string;
  /** 'auto', 'builtin' or 'openssh', as `--ssh-client` takes it. */
  sshClient?: string;
}

/** The TargetSettings inside `value` (an initializationOptions or settings object), or undefined. */
export function targetSettingsIn(value: unknown): TargetSettings | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const section = (value as { ebpfStudio?: unknown }).ebpfStudio;
  if (typeof section !== 'object' || section === null) return undefined;
  const settings: TargetSettings = {};
  for (const key of ['target', 'identityFile', 'knownHostsFile', 'sshClient'] as const) {
    const field = (section as Record<string, unknown>)[key];
    if (typeof field === 'string' && field !== '') settings[key] = field;
  }
  return settings;
}

/**
 * Command `ebpfStudio.writeClangdConfig` (workspace/executeCommand), client → server: writes the
 * flags clangd needs for *.bpf.c into the workspace's .clangd (clangdConfig.ts) and answers
 * `{ path, flags }`.
 */
export const WRITE_CLANGD_CONFIG_COMMAND = 'ebpfStudio.writeClangdConfig';

/** Arguments a client may pass to ebpfStudio.writeClangdConfig; all optional. */
export interface WriteClangdConfigArguments {
  /** A directory that already holds vmlinux.h; without it one is generated from the target's BTF. */
  vmlinuxDir?: string;
}
