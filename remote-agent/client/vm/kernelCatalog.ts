/**
 * Which Debian package a kernel name means, decided from apt's own answers: the aliases users type
 * (`6.1`, `6.12`, `7.2`, `7.3`) are a suite and a package-name pattern, and the newest matching
 * version in that suite wins. Split kernels (sid and experimental ship `linux-image-X` as a
 * metapackage over `linux-binary-X`, `linux-modules-X`, `linux-base-X`) bring those along.
 * Pure functions of apt-cache's output; privateApt.ts runs apt.
 */
import { compareDebianVersions } from './debianVersion';

export interface KernelAlias {
  alias: string;
  suite: string;
  /** What apt-cache pkgnames is asked for. */
  prefix: string;
  pattern: RegExp;
}

export const KERNEL_ALIASES: readonly KernelAlias[] = [
  { alias: '6.1', suite: 'bookworm', prefix: 'linux-image-6.1.', pattern: /^linux-image-6\.1\.\d+-\d+-amd64$/ },
  { alias: '6.12', suite: 'trixie', prefix: 'linux-image-6.12.', pattern: /^linux-image-6\.12\.\d+\+deb13-amd64$/ },
  { alias: '7.2', suite: 'sid', prefix: 'linux-image-7.2.', pattern: /^linux-image-7\.2\.\d+\+deb\d+-amd64$/ },
  { alias: '7.3', suite: 'experimental', prefix: 'linux-image-7.3', pattern: /^linux-image-7\.3(\.\d+\+deb\d+)?-amd64$/ },
];

/** Every suite an alias names, in the order the private sources list carries them. */
export const KERNEL_SUITES: readonly string[] = [...new Set(KERNEL_ALIASES.map((a) => a.suite))];

export interface KernelRequest {
  /** What the user typed: an alias or a package name. */
  name: string;
  alias?: KernelAlias;
}

export interface CandidatePackage {
  pkg: string;
  version: string;
  suite: string;
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export function kernelRequest(name: string): KernelRequest {
  const alias = KERNEL_ALIASES.find((a) => a.alias === name);
  if (alias) return { name, alias };
  if (!PACKAGE_NAME.test(name) || !name.startsWith('linux-')) {
    throw new Error(
      `'${name}' is neither a kernel alias (${KERNEL_ALIASES.map((a) => a.alias).join(', ')}) nor a Debian kernel package name (e.g. linux-image-6.1.0-50-amd64).`,
    );
  }
  return { name };
}

/** `apt-cache pkgnames PREFIX`: one name a line. */
export function parsePkgnames(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => PACKAGE_NAME.test(l));
}

/** `apt-cache madison PKG…`: `pkg | version | URI suite/component arch Packages` per line. */
export function parseMadison(stdout: string): CandidatePackage[] {
  const rows: CandidatePackage[] = [];
  for (const line of stdout.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 3) continue;
    const where = /\s(\S+?)\/\S+\s+\S+\s+Packages$/.exec(cells[2]!);
    if (!where) continue;
    rows.push({ pkg: cells[0]!, version: cells[1]!, suite: where[1]! });
  }
  return rows;
}

/** The newest candidate whose name matches (and whose suite is `suite`, when given). */
export function newestCandidate(rows: CandidatePackage[], matches: (pkg: string) => boolean, suite?: string): CandidatePackage | undefined {
  let best: CandidatePackage | undefined;
  for (const row of rows) {
    if (!matches(row.pkg) || (suite !== undefined && row.suite !== suite)) continue;
    if (best === undefined || compareDebianVersions(row.version, best.version) > 0) best = row;
  }
  return best;
}

/**
 * From `apt-cache show PKG=VERSION`: the packages of the same kernel build the package depends on
 * exactly (`linux-binary-X (= V)`, `linux-modules-X (= V)`, `linux-base-X (= V)`): what a split
 * kernel is made of. Empty for a classic `linux-image-*` package that holds everything itself.
 */
export function splitKernelParts(showStanza: string, version: string): string[] {
  const depends = /^Depends:\s*(.*(?:\n\s+.*)*)/m.exec(showStanza)?.[1] ?? '';
  const parts: string[] = [];
  for (const alternative of depends.replace(/\n\s+/g, ' ').split(',')) {
    const m = /^\s*(linux-(?:binary|modules|base)-\S+)\s*\(\s*=\s*([^)\s]+)\s*\)\s*$/.exec(alternative);
    if (m && m[2] === version && !parts.includes(m[1]!)) parts.push(m[1]!);
  }
  return parts;
}
