/**
 * Where an unpacked Debian kernel keeps its parts. Bookworm's packages: `boot/vmlinuz-KVER` and
 * `lib/modules/KVER/`; merged-/usr packages from trixie on: `usr/lib/modules/KVER/vmlinuz` beside
 * the modules. Either way the result names the kernel image, its modules directory and release.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface KernelLayout {
  kernelRelease: string;
  /** Absolute paths inside the unpacked tree. */
  vmlinuz: string;
  modulesDir: string;
}

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function locateKernel(root: string): KernelLayout {
  const moduleRoots = [join(root, 'usr/lib/modules'), join(root, 'lib/modules')];
  const found: KernelLayout[] = [];
  for (const name of entries(join(root, 'boot'))) {
    const m = /^vmlinuz-(.+)$/.exec(name);
    if (!m) continue;
    const modulesDir = moduleRoots.map((r) => join(r, m[1]!)).find((d) => existsSync(d));
    if (modulesDir) found.push({ kernelRelease: m[1]!, vmlinuz: join(root, 'boot', name), modulesDir });
  }
  for (const modulesRoot of moduleRoots) {
    for (const release of entries(modulesRoot)) {
      const vmlinuz = join(modulesRoot, release, 'vmlinuz');
      if (existsSync(vmlinuz) && !found.some((f) => f.kernelRelease === release)) found.push({ kernelRelease: release, vmlinuz, modulesDir: join(modulesRoot, release) });
    }
  }
  if (found.length === 0) {
    throw new Error(`No kernel found in ${root}: expected boot/vmlinuz-KVER with lib/modules/KVER, or usr/lib/modules/KVER/vmlinuz.`);
  }
  if (found.length > 1) throw new Error(`More than one kernel in ${root} (${found.map((f) => f.kernelRelease).join(', ')}): name one package.`);
  const layout = found[0]!;
  if (!existsSync(join(layout.modulesDir, 'kernel'))) {
    throw new Error(`The kernel ${layout.kernelRelease} in ${root} has no modules in ${layout.modulesDir}: its modules package is missing.`);
  }
  return layout;
}
