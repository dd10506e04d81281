/**
 * A private apt that knows Debian's kernel suites without touching this machine's apt: its own
 * sources list (the host's mirror, suites bookworm/trixie/sid/experimental), package lists and
 * download cache under the VM cache, passed to apt-get/apt-cache with `-o Dir::…`. It only ever
 * queries and downloads; nothing is installed.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { privateSourcesList, type DebianMirror } from './aptSources';
import { runTool } from './hostTools';

/** Package lists older than this are refreshed before a kernel is looked up. */
const LISTS_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How long an update waits for another apt-get holding the lists' lock (a fetch takes seconds). */
const LOCK_WAIT_MS = 5 * 60_000;
const LOCK_POLL_MS = 500;

export class PrivateApt {
  private readonly sourcesFile: string;
  private readonly listsDir: string;
  private readonly cacheDir: string;
  private readonly stampFile: string;
  private readonly sources: string;

  constructor(
    readonly dir: string,
    mirror: DebianMirror,
    suites: readonly string[],
  ) {
    this.sourcesFile = join(dir, 'sources.list');
    this.listsDir = join(dir, 'lists');
    this.cacheDir = join(dir, 'cache');
    this.stampFile = join(dir, 'lists-updated');
    this.sources = privateSourcesList(mirror, suites);
  }

  /** The `-o` options that make apt use only our files. */
  options(): string[] {
    return [
      '-o', `Dir::Etc::sourcelist=${this.sourcesFile}`,
      '-o', 'Dir::Etc::sourceparts=-',
      '-o', `Dir::State::Lists=${this.listsDir}`,
      '-o', `Dir::Cache=${this.cacheDir}`,
      '-o', `APT::Sandbox::User=${userInfo().username}`,
      '-o', 'Acquire::Languages=none',
      '-o', 'Acquire::Retries=2',
    ];
  }

  /** True when the lists exist, are for the current sources and younger than a day. */
  listsFresh(now = Date.now()): boolean {
    if (!existsSync(this.stampFile) || !existsSync(this.sourcesFile)) return false;
    if (readFileSync(this.sourcesFile, 'utf8') !== this.sources) return false;
    return now - statSync(this.stampFile).mtimeMs < LISTS_MAX_AGE_MS;
  }

  /**
   * `apt-get update` on the private lists (about 40 MB from the mirror, seconds). When another
   * process of ours holds the lists' lock (two VMs started at once on an empty cache), it waits for
   * that one and takes the lists it fetched, or fetches once the lock is free.
   */
  async update(signal?: AbortSignal, lockWaitMs = LOCK_WAIT_MS): Promise<void> {
    for (const d of [join(this.listsDir, 'partial'), join(this.cacheDir, 'archives', 'partial')]) mkdirSync(d, { recursive: true });
    writeFileSync(this.sourcesFile, this.sources);
    const what = `Fetching Debian's package lists (${this.suitesText()})`;
    const deadline = Date.now() + lockWaitMs;
    let stderr: string;
    for (;;) {
      try {
        ({ stderr } = await runTool('apt-get', [...this.options(), '-qq', 'update'], what, { ...(signal && { signal }) }));
        break;
      } catch (error) {
        if (!(error instanceof Error) || !/Could not get lock/.test(error.message) || Date.now() > deadline) throw error;
        await setTimeout(LOCK_POLL_MS, undefined, signal ? { signal } : {});
        if (this.listsFresh()) return;
      }
    }
    // apt-get update exits 0 when some index could not be fetched; such a list is then missing.
    const failed = stderr.split('\n').filter((l) => /^(E|W): Failed to fetch/.test(l));
    if (failed.length > 0) throw new Error(`Fetching Debian's package lists failed (is the mirror reachable?):\n${failed.join('\n')}`);
    writeFileSync(this.stampFile, `${new Date().toISOString()}\n`);
  }

  async ensureFresh(signal?: AbortSignal): Promise<boolean> {
    if (this.listsFresh()) return false;
    await this.update(signal);
    return true;
  }

  async pkgnames(prefix: string, signal?: AbortSignal): Promise<string> {
    return (await runTool('apt-cache', [...this.options(), 'pkgnames', prefix], `Listing packages named ${prefix}*`, { ...(signal && { signal }) })).stdout.toString('utf8');
  }

  async madison(packages: string[], signal?: AbortSignal): Promise<string> {
    if (packages.length === 0) return '';
    return (await runTool('apt-cache', [...this.options(), 'madison', ...packages], `Looking up versions of ${packages.join(', ')}`, { ...(signal && { signal }) })).stdout.toString('utf8');
  }

  async show(pkg: string, version: string, signal?: AbortSignal): Promise<string> {
    return (await runTool('apt-cache', [...this.options(), 'show', `${pkg}=${version}`], `Reading the record of ${pkg} ${version}`, { ...(signal && { signal }) })).stdout.toString('utf8');
  }

  /** `apt-get download PKG=VERSION…` into `destDir` (the .deb files land there). */
  async download(packages: { pkg: string; version: string }[], suite: string, destDir: string, signal?: AbortSignal): Promise<void> {
    const specs = packages.map((p) => `${p.pkg}=${p.version}`);
    await runTool('apt-get', [...this.options(), '-qq', 'download', ...specs], `Downloading ${specs.join(', ')} from Debian ${suite}`, {
      cwd: destDir,
      ...(signal && { signal }),
    });
  }

  private suitesText(): string {
    return this.sources.split('\n').filter(Boolean).map((l) => l.split(' ').at(-2)).join(', ');
  }
}
