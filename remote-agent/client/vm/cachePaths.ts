/**
 * Where kernel VMs keep their files, all per user and outside the repository: downloaded kernels
 * (`kernels/<package>_<version>/`), the private apt state that finds them (`apt/`), and one state
 * directory per VM (`vms/<name>/`). `${XDG_CACHE_HOME:-~/.cache}/ebpf-studio/` unless overridden.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface VmCachePaths {
  root: string;
  kernels: string;
  apt: string;
  vms: string;
}

/** `root` overrides the location (tests use a scratch directory); else XDG_CACHE_HOME or ~/.cache. */
export function vmCachePaths(root?: string): VmCachePaths {
  const base = root ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ebpf-studio');
  return { root: base, kernels: join(base, 'kernels'), apt: join(base, 'apt'), vms: join(base, 'vms') };
}

/** A version as a file name: apt writes an epoch's ':' as '%3a', and so do we. */
export function kernelDirName(pkg: string, version: string): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}`;
}
