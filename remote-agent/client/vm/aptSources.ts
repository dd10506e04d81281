/**
 * The Debian mirror this machine already uses, read from its apt sources (one-line
 * `/etc/apt/sources.list*.list` and deb822 `*.sources`), and the private sources list that points
 * apt at the suites kernel VMs come from on that same mirror. Nothing here touches the host's apt.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AptSourceEntry {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

export interface DebianMirror {
  uri: string;
  /** The keyring the host's entry names, when it names one. */
  signedBy?: string;
}

const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Entries of a one-line format file (`deb [opts] URI SUITE COMPONENT…`); deb-src and comments skipped. */
export function parseOneLineSources(text: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const options = m[1] ?? '';
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(options)?.[1];
    entries.push({ uri: m[2]!, suites: [m[3]!], components: m[4]!.split(/\s+/).filter(Boolean), ...(signedBy && { signedBy }) });
  }
  return entries;
}

/** Entries of a deb822 `.sources` file (stanzas separated by blank lines; `Enabled: no` skipped). */
export function parseDeb822Sources(text: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last !== undefined) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || fields.get('enabled')?.toLowerCase() === 'no') continue;
    const words = (key: string): string[] => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    const signedBy = fields.get('signed-by');
    for (const uri of words('uris')) {
      // An inline key block is not a path: leave the keyring to the default then.
      entries.push({ uri, suites: words('suites'), components: words('components'), ...(signedBy && !signedBy.includes('BEGIN PGP') && { signedBy }) });
    }
  }
  return entries;
}

/**
 * The mirror of the Debian archive proper among the entries: one serving the `main` component of a
 * release suite (not -security, -updates, -backports), such as `http://deb.debian.org/debian`.
 */
export function pickDebianMirror(entries: AptSourceEntry[]): DebianMirror | undefined {
  const isRelease = (suite: string): boolean => !/-(security|updates|backports|proposed-updates)$|\/updates$/.test(suite);
  const found = entries.find(
    (e) => !/security/.test(e.uri) && e.components.includes('main') && e.suites.some(isRelease) && /debian/i.test(e.uri),
  ) ?? entries.find((e) => !/security/.test(e.uri) && e.components.includes('main') && e.suites.some(isRelease));
  if (!found) return undefined;
  return { uri: found.uri.replace(/\/+$/, ''), ...(found.signedBy && { signedBy: found.signedBy }) };
}

/** Reads /etc/apt/sources.list and sources.list.d/ (`.list` and `.sources`) of this machine. */
export function readHostAptSources(etcApt = '/etc/apt'): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  const main = join(etcApt, 'sources.list');
  if (existsSync(main)) entries.push(...parseOneLineSources(readFileSync(main, 'utf8')));
  const dir = join(etcApt, 'sources.list.d');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.list')) entries.push(...parseOneLineSources(readFileSync(join(dir, name), 'utf8')));
      else if (name.endsWith('.sources')) entries.push(...parseDeb822Sources(readFileSync(join(dir, name), 'utf8')));
    }
  }
  return entries;
}

export function hostDebianMirror(etcApt = '/etc/apt'): DebianMirror {
  const mirror = pickDebianMirror(readHostAptSources(etcApt));
  if (!mirror) {
    throw new Error(
      `No Debian mirror found in ${etcApt}/sources.list or ${etcApt}/sources.list.d/: kernel VMs download Debian's kernel packages from the mirror this machine uses. Add a Debian 'main' entry (e.g. http://deb.debian.org/debian).`,
    );
  }
  return mirror;
}

/** One-line sources for the private apt: each suite's `main`, amd64 only, with the host's keyring. */
export function privateSourcesList(mirror: DebianMirror, suites: readonly string[], arch = 'amd64'): string {
  const keyring = mirror.signedBy ?? DEFAULT_KEYRING;
  return suites.map((suite) => `deb [arch=${arch} signed-by=${keyring}] ${mirror.uri} ${suite} main\n`).join('');
}
