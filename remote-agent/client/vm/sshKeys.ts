/**
 * The per-VM SSH keys, made with ssh-keygen in the VM's state directory: a host key the guest's
 * sshd presents (recorded in the VM's own known_hosts as `[127.0.0.1]:PORT`, so it is checked like
 * any host's), and a client key that is the only one the guest accepts for root.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from './hostTools';

export interface VmKeys {
  hostKey: string;
  hostPublicKey: string;
  clientKey: string;
  clientPublicKey: string;
}

export function vmKeyPaths(stateDir: string): { hostKey: string; clientKey: string } {
  return { hostKey: join(stateDir, 'ssh_host_ed25519_key'), clientKey: join(stateDir, 'id_ed25519') };
}

async function keygen(file: string, comment: string, signal?: AbortSignal): Promise<void> {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  await runTool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], `Generating the SSH key ${file}`, { ...(signal && { signal }) });
}

/** The VM's keys, generated on first use and kept with its state (a restart keeps its identity). */
export async function ensureVmKeys(stateDir: string, vmName: string, signal?: AbortSignal): Promise<VmKeys> {
  const { hostKey, clientKey } = vmKeyPaths(stateDir);
  if (!existsSync(hostKey) || !existsSync(`${hostKey}.pub`)) await keygen(hostKey, `ebpf-studio-vm-${vmName}-host`, signal);
  if (!existsSync(clientKey) || !existsSync(`${clientKey}.pub`)) await keygen(clientKey, `ebpf-studio-vm-${vmName}-client`, signal);
  return {
    hostKey,
    hostPublicKey: readFileSync(`${hostKey}.pub`, 'utf8').trim(),
    clientKey,
    clientPublicKey: readFileSync(`${clientKey}.pub`, 'utf8').trim(),
  };
}

/** The known_hosts line for the guest's host key as reached through the forwarded port. */
export function knownHostsLine(port: number, hostPublicKey: string): string {
  const [type, key] = hostPublicKey.split(/\s+/);
  return `[127.0.0.1]:${port} ${type} ${key}\n`;
}
