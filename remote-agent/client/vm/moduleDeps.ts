/**
 * Which kernel modules the guest must load, and in which order: busybox's insmod loads one file
 * and resolves nothing, so the initramfs gets every module a wanted one needs (from the kernel's
 * modules.dep, as depmod wrote it) ordered so each comes after what it depends on (virtio_ring
 * before virtio before virtio_pci). Modules built into the kernel (modules.builtin) need nothing.
 */

export interface ModuleIndex {
  /** Module name (with '-' as '_') → its path relative to the modules directory, and its dependencies' names. */
  modules: Map<string, { path: string; deps: string[] }>;
  builtin: Set<string>;
}

/** `kernel/drivers/char/hw_random/virtio-rng.ko.xz` → `virtio_rng`, as the kernel names modules. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(modulesDep: string, modulesBuiltin = ''): ModuleIndex {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    modules.set(moduleName(path), { path, deps });
  }
  const builtin = new Set(modulesBuiltin.split('\n').map((l) => l.trim()).filter(Boolean).map(moduleName));
  return { modules, builtin };
}

export interface LoadPlan {
  /** Paths relative to the modules directory, each after the modules it needs. */
  order: string[];
  /** Wanted modules that are built into this kernel. */
  builtin: string[];
  /** Optional modules this kernel has in neither form. */
  absent: string[];
}

/**
 * The load order for `required` and `optional` modules with everything they depend on. A required
 * module the kernel has neither as a module nor built in is an error naming it.
 */
export function moduleLoadPlan(index: ModuleIndex, required: readonly string[], optional: readonly string[] = []): LoadPlan {
  const order: string[] = [];
  const builtin: string[] = [];
  const absent: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new Error(`modules.dep has a dependency cycle: ${[...chain, name].join(' → ')}.`);
    const entry = index.modules.get(name);
    if (!entry) throw new Error(`modules.dep names '${name}' (needed by ${chain.at(-1)}) but has no line for it.`);
    state.set(name, 'visiting');
    for (const dep of entry.deps) visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(entry.path);
  };
  const wanted = [...required.map((n) => ({ n, required: true })), ...optional.map((n) => ({ n, required: false }))];
  for (const { n, required: must } of wanted) {
    const name = n.replace(/-/g, '_');
    if (index.modules.has(name)) visit(name, []);
    else if (index.builtin.has(name)) builtin.push(name);
    else if (must) throw new Error(`This kernel has no '${name}' module, built in or loadable; kernel VMs need it (virtio, 9p and overlayfs support).`);
    else absent.push(name);
  }
  return { order, builtin, absent };
}
