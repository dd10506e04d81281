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
