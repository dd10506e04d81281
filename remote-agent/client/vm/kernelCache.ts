/**
 * Debian kernels for VMs, downloaded once into the per-user cache and booted from there ever
 * after: `kernels/<package>_<version>/` holds the unpacked packages (dpkg-deb -x, never installed
 * into the host) and a `kernel.json` manifest. A kernel already in the cache is used without any
 * network access.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { abortReason } from '../abortReason';
import { hostDebianMirror, type DebianMirror } from './aptSources';
import { kernelDirName, type VmCachePaths } from './cachePaths';
import { compareDebianVersions } from './debianVersion';
import { runTool } from './hostTools';
import { KERNEL_ALIASES, KERNEL_SUITES, newestCandidate, parseMadison, parsePkgnames, splitKernelParts, type CandidatePackage, type KernelRequest } from './kernelCatalog';
import { locateKernel } from './kernelLayout';
import { PrivateApt } from './privateApt';

export interface CachedKernel {
  /** The package the kernel is known by (`linux-image-…`, or the one the user named). */
  package: string;
  version: string;
  suite: string;
  /** Every package unpacked into the directory (more than one for split kernels). */
  packages: string[];
  kernelRelease: string;
  dir: string;
  vmlinuz: string;
  modulesDir: string;
}

interface Manifest {
  package: string;
  version: string;
  suite: string;
  packages: string[];
  kernelRelease: string;
  /** Relative to the kernel's directory. */
  vmlinuz: string;
  modulesDir: string;
}

export interface FetchKernelOptions {
  paths: VmCachePaths;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The mirror to download from; default: the one this machine's apt sources name. */
  mirror?: DebianMirror;
  /** Ask Debian's archive (fresh package lists) even when the cache has the kernel: a newer build is downloaded. */
  refresh?: boolean;
}

function readManifest(dir: string): CachedKernel | undefined {
  const file = join(dir, 'kernel.json');
  if (!existsSync(file)) return undefined;
  const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  return { ...m, dir, vmlinuz: join(dir, m.vmlinuz), modulesDir: join(dir, m.modulesDir) };
}

/** Every complete kernel in the cache (a directory without its manifest is an interrupted download). */
export function cachedKernels(paths: VmCachePaths): CachedKernel[] {
  if (!existsSync(paths.kernels)) return [];
  const kernels: CachedKernel[] = [];
  for (const name of readdirSync(paths.kernels)) {
    if (name.startsWith('.')) continue;
    const kernel = readManifest(join(paths.kernels, name));
    if (kernel) kernels.push(kernel);
  }
  return kernels;
}

/** The newest cached kernel the request means, if any. */
export function findCachedKernel(paths: VmCachePaths, request: KernelRequest): CachedKernel | undefined {
  const { alias } = request;
  const matching = cachedKernels(paths).filter((k) => (alias ? alias.pattern.test(k.package) && k.suite === alias.suite : k.package === request.name || k.packages.includes(request.name)));
  return matching.sort((a, b) => compareDebianVersions(b.version, a.version))[0];
}

/** The cached kernel for the request, downloading and unpacking it first when it is not there yet. */
export async function fetchKernel(request: KernelRequest, options: FetchKernelOptions): Promise<CachedKernel> {
  const { paths, signal } = options;
  const log = options.log ?? (() => {});
  const cached = options.refresh ? undefined : findCachedKernel(paths, request);
  if (cached) {
    log(`Kernel ${cached.kernelRelease} (${cached.package} ${cached.version}) is in the cache.`);
    return cached;
  }
  const mirror = options.mirror ?? hostDebianMirror();
  const apt = new PrivateApt(paths.apt, mirror, KERNEL_SUITES);
  let refreshed = false;
  if (options.refresh || !apt.listsFresh()) {
    log(`Fetching Debian's package lists from ${mirror.uri} (${KERNEL_SUITES.join(', ')})…`);
    await apt.update(signal);
    refreshed = true;
  }
  let chosen = await resolvePackage(apt, request, signal);
  if (!chosen && !refreshed) {
    log(`No match in package lists fetched earlier; fetching them again from ${mirror.uri}…`);
    await apt.update(signal);
    chosen = await resolvePackage(apt, request, signal);
  }
  if (!chosen) {
    const where = request.alias ? `Debian ${request.alias.suite} (packages named like ${request.alias.pattern.source})` : 'bookworm, trixie, sid or experimental';
    throw new Error(`No kernel package '${request.name}' found in ${where} on ${mirror.uri}. Kernel aliases are ${KERNEL_ALIASES.map((a) => a.alias).join(', ')}; package names look like linux-image-6.1.0-50-amd64.`);
  }
  const existing = readManifest(join(paths.kernels, kernelDirName(chosen.pkg, chosen.version)));
  if (existing) {
    log(`Kernel ${existing.kernelRelease} (${existing.package} ${existing.version}) is the newest, and in the cache.`);
    return existing;
  }

  const parts = await kernelParts(apt, chosen, signal);
  mkdirSync(paths.kernels, { recursive: true });
  const work = mkdtempSync(join(paths.kernels, '.download-'));
  try {
    const started = Date.now();
    log(`Downloading ${parts.join(', ')} ${chosen.version} from Debian ${chosen.suite}…`);
    await apt.download(parts.map((pkg) => ({ pkg, version: chosen.version })), chosen.suite, work, signal);
    const downloadedMs = Date.now() - started;
    const root = join(work, 'root');
    mkdirSync(root);
    const debs = readdirSync(work).filter((n) => n.endsWith('.deb'));
    for (const deb of debs) {
      if (signal?.aborted) throw abortReason(signal);
      await runTool('dpkg-deb', ['-x', join(work, deb), root], `Unpacking ${deb}`, { ...(signal && { signal }) });
    }
    const layout = locateKernel(root);
    await writeModulesDep(layout.modulesDir, layout.kernelRelease, signal);
    const manifest: Manifest = {
      package: chosen.pkg,
      version: chosen.version,
      suite: chosen.suite,
      packages: parts,
      kernelRelease: layout.kernelRelease,
      vmlinuz: relative(root, layout.vmlinuz),
      modulesDir: relative(root, layout.modulesDir),
    };
    writeFileSync(join(root, 'kernel.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const final = join(paths.kernels, kernelDirName(chosen.pkg, chosen.version));
    rmSync(final, { recursive: true, force: true });
    renameSync(root, final);
    log(`Kernel ${layout.kernelRelease} downloaded in ${(downloadedMs / 1000).toFixed(1)} s, unpacked in ${((Date.now() - started - downloadedMs) / 1000).toFixed(1)} s, into ${final}.`);
    return readManifest(final)!;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Debian's packages do not ship modules.dep (depmod makes it when a kernel is installed): make it
 * here with `depmod -b`, whose base is the directory above `lib/modules/KVER`.
 */
async function writeModulesDep(modulesDir: string, kernelRelease: string, signal?: AbortSignal): Promise<void> {
  if (existsSync(join(modulesDir, 'modules.dep'))) return;
  const base = dirname(dirname(dirname(modulesDir)));
  const depmod = ['/usr/sbin/depmod', '/sbin/depmod'].find((p) => existsSync(p)) ?? 'depmod';
  await runTool(depmod, ['-b', base, kernelRelease], `Indexing the modules of kernel ${kernelRelease}`, { ...(signal && { signal }) });
  if (!existsSync(join(modulesDir, 'modules.dep'))) throw new Error(`depmod did not write ${join(modulesDir, 'modules.dep')}.`);
}

async function resolvePackage(apt: PrivateApt, request: KernelRequest, signal?: AbortSignal): Promise<CandidatePackage | undefined> {
  const { alias } = request;
  if (alias) {
    const names = parsePkgnames(await apt.pkgnames(alias.prefix, signal)).filter((n) => alias.pattern.test(n));
    return newestCandidate(parseMadison(await apt.madison(names, signal)), (n) => alias.pattern.test(n), alias.suite);
  }
  return newestCandidate(parseMadison(await apt.madison([request.name], signal)), (n) => n === request.name);
}

/** The packages that make up the chosen kernel: itself, plus the parts of a split kernel. */
async function kernelParts(apt: PrivateApt, chosen: CandidatePackage, signal?: AbortSignal): Promise<string[]> {
  const parts = splitKernelParts(await apt.show(chosen.pkg, chosen.version, signal), chosen.version);
  const binary = /^linux-binary-(.+)$/.exec(chosen.pkg);
  if (binary) {
    // Named by its binary part: the modules come from its sibling package of the same build.
    const siblings = parseMadison(await apt.madison([`linux-modules-${binary[1]}`], signal)).filter((r) => r.version === chosen.version);
    for (const s of siblings) if (!parts.includes(s.pkg)) parts.push(s.pkg);
  }
  return [chosen.pkg, ...parts.filter((p) => p !== chosen.pkg)];
}
