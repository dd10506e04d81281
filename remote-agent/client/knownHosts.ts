/**
 * OpenSSH known_hosts checking for ssh2's hostVerifier: the same file, the same matching rules and
 * the same fingerprints as `ssh`, so a host trusted in a terminal is trusted here and a changed or
 * revoked key is refused here as it is there.
 *
 * Supported: plain names and comma lists with `*`/`?` wildcards and `!` negation, `[host]:port` for
 * ports other than 22, hashed names (`|1|salt|hash`, HMAC-SHA1), `@revoked`. `@cert-authority` lines
 * are read but never trust a key here (ssh2 cannot check host certificates): a host they cover is
 * reached through the OpenSSH client instead (sshClientChoice.ts). `decideHostKey` is the whole decision
 * a connection makes (trust, refuse with the way out, or ask a person), testable without a server.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentSessionError } from './sessionError';

export interface HostKeyInfo {
  host: string;
  port: number;
  keyType: string;
  /** 'SHA256:…' (unpadded base64), as OpenSSH prints it. */
  fingerprint: string;
  knownHostsFile: string;
}

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  /** `@revoked`: never trusted; `@cert-authority`: a CA whose host certificates are trusted (OpenSSH client only). */
  marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: a comma list of patterns, or one hashed name. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export interface KnownHostsFile {
  entries: KnownHostEntry[];
  /** Lines that are neither entries, comments nor blank, with why; OpenSSH skips them too. */
  invalid: Array<{ line: number; reason: string }>;
}

export type HostKeyCheck =
  | { status: 'known'; line: number }
  | { status: 'unknown' }
  | { status: 'changed'; line: number; knownKeyType: string }
  | { status: 'revoked'; line: number };

export function parseKnownHosts(text: string): KnownHostsFile {
  const entries: KnownHostEntry[] = [];
  const invalid: KnownHostsFile['invalid'] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const content = lines[index]!.trim();
    if (content === '' || content.startsWith('#')) continue;
    const fields = content.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]!.startsWith('@')) {
      const name = fields.shift()!;
      if (name !== '@revoked' && name !== '@cert-authority') {
        invalid.push({ line: lineNumber, reason: `unknown marker ${name}` });
        continue;
      }
      marker = name === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [hosts, keyType, keyBase64] = fields;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) {
      invalid.push({ line: lineNumber, reason: 'expected: hosts key-type base64-key' });
      continue;
    }
    const key = Buffer.from(keyBase64, 'base64');
    let blobType: string;
    try {
      blobType = hostKeyType(key);
    } catch (error) {
      invalid.push({ line: lineNumber, reason: (error as Error).message });
      continue;
    }
    if (blobType !== keyType) {
      invalid.push({ line: lineNumber, reason: `key type ${keyType} does not match the key's own type ${blobType}` });
      continue;
    }
    entries.push({ line: lineNumber, marker, hosts, keyType, key });
  }
  return { entries, invalid };
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function hostKeyType(key: Buffer): string {
  if (key.length < 4) throw new Error('the key is too short to be an SSH public key');
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > key.length) throw new Error('the key does not start with a key type');
  const type = key.subarray(4, 4 + length).toString('latin1');
  if (!/^[a-z0-9@.-]+$/.test(type)) throw new Error('the key does not start with a key type');
  return type;
}

export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The name OpenSSH looks a host up by: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function checkHostKey(file: KnownHostsFile, host: string, port: number, key: Buffer): HostKeyCheck {
  const name = knownHostsName(host, port).toLowerCase();
  const keyType = hostKeyType(key);
  const sameKey = (entry: KnownHostEntry): boolean => entry.keyType === keyType && entry.key.equals(key);
  const forHost = file.entries.filter((entry) => hostFieldMatches(entry.hosts, name));

  const revoked = forHost.find((entry) => entry.marker === 'revoked' && sameKey(entry));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const trusted = forHost.filter((entry) => entry.marker === null);
  const known = trusted.find(sameKey);
  if (known) return { status: 'known', line: known.line };
  // The host is known but presents none of its known keys. A different type counts too: the client
  // offers the known types first (see knownKeyTypes), so a genuine server would have used one.
  const different = trusted.find((entry) => entry.keyType === keyType) ?? trusted[0];
  if (different) return { status: 'changed', line: different.line, knownKeyType: different.keyType };
  return { status: 'unknown' };
}

/** Whether a `@cert-authority` line covers the host: its key is vouched for by a CA, not listed. */
export function hasCertAuthorityFor(file: KnownHostsFile, host: string, port: number): boolean {
  const name = knownHostsName(host, port).toLowerCase();
  return file.entries.some((entry) => entry.marker === 'cert-authority' && hostFieldMatches(entry.hosts, name));
}

/** Key types recorded for a host, in file order, to prefer them when negotiating the host key. */
export function knownKeyTypes(file: KnownHostsFile, host: string, port: number): string[] {
  const name = knownHostsName(host, port).toLowerCase();
  const types = file.entries.filter((entry) => entry.marker === null && hostFieldMatches(entry.hosts, name)).map((entry) => entry.keyType);
  return [...new Set(types)];
}

function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) return hashedNameMatches(hosts, name);
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    if (pattern === '') continue;
    const negated = pattern.startsWith('!');
    if (wildcardMatches(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function hashedNameMatches(field: string, name: string): boolean {
  const [, , saltBase64, hashBase64] = field.split('|');
  if (!saltBase64 || !hashBase64) return false;
  const salt = Buffer.from(saltBase64, 'base64');
  const digest = createHmac('sha1', salt).update(name).digest();
  return digest.equals(Buffer.from(hashBase64, 'base64'));
}

/** OpenSSH's match_pattern: `*` any run, `?` one character, nothing else special. */
function wildcardMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP !== -1) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function knownHostsLine(host: string, port: number, key: Buffer): string {
  return `${knownHostsName(host, port)} ${hostKeyType(key)} ${key.toString('base64')}`;
}

/** Reads a known_hosts file; a missing file is an empty one (first connection ever). */
export function readKnownHostsFile(path: string): KnownHostsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], invalid: [] };
    throw new Error(`cannot read the known hosts file ${path}: ${(error as Error).message}`);
  }
  return parseKnownHosts(text);
}

/** Appends a plain (unhashed) entry, as `ssh` does with HashKnownHosts off; creates ~/.ssh as 0700. */
export function appendKnownHost(path: string, host: string, port: number, key: Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const size = statSync(path).size;
    if (size > 0 && !readFileSync(path, 'utf8').endsWith('\n')) prefix = '\n';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  appendFileSync(path, `${prefix}${knownHostsLine(host, port, key)}\n`, { mode: 0o600 });
}

export interface HostKeyDecisionRequest {
  host: string;
  port: number;
  user: string;
  /** 'user@host:port', as the messages name the target. */
  description: string;
  /** The key the server presented (SSH wire format). */
  key: Buffer;
  /** Checked first, and where a newly trusted key is recorded. */
  knownHostsFile: string;
  /** Checked too but never written, as OpenSSH treats UserKnownHostsFile's later files (~/.ssh/known_hosts2). */
  otherKnownHostsFiles?: string[];
  /** Absent → an unknown key is refused; resolving true → it is trusted and appended to knownHostsFile. */
  confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean>;
  /** Called right before a person is asked, so the caller can stop timing the connection out. */
  askingPerson?: () => void;
  log?: (line: string) => void;
}

/**
 * Decides, as OpenSSH does, whether to go on with a server that presented `key`: a known key is
 * trusted; a changed or @revoked one is refused with the way out; an unknown one is refused with
 * its fingerprint and the ssh-keyscan line, unless the person asked trusts it (it is then recorded).
 * Resolves null to go on, else the error to fail the connection with; never rejects.
 */
export async function decideHostKey(req: HostKeyDecisionRequest): Promise<AgentSessionError | null> {
  const { host, port, description, knownHostsFile } = req;
  let info: HostKeyInfo;
  let check: HostKeyCheck;
  // The file whose line the decision rests on, for the messages.
  let checkedFile = knownHostsFile;
  try {
    info = { host, port, keyType: hostKeyType(req.key), fingerprint: sha256Fingerprint(req.key), knownHostsFile };
    const checks = [knownHostsFile, ...(req.otherKnownHostsFiles ?? [])].map((file) => ({ file, check: checkHostKey(readKnownHostsFile(file), host, port, req.key) }));
    // As OpenSSH: revoked anywhere refuses, known anywhere trusts, and only then does another key mean a change.
    const decisive = (['revoked', 'known', 'changed'] as const).map((status) => checks.find((entry) => entry.check.status === status)).find((entry) => entry !== undefined);
    check = decisive?.check ?? { status: 'unknown' };
    if (decisive !== undefined) checkedFile = decisive.file;
  } catch (error) {
    return new AgentSessionError('connect', `Cannot check the host key of ${description}: ${(error as Error).message}.`, { cause: error });
  }
  const name = knownHostsName(host, port);
  switch (check.status) {
    case 'known':
      return null;
    case 'revoked':
      return new AgentSessionError(
        'changed-host-key',
        `The host key of ${description} (${info.keyType} ${info.fingerprint}) is marked @revoked in ${checkedFile} line ${check.line}. Refusing to connect.`,
        { hostKey: info },
      );
    case 'changed':
      return new AgentSessionError(
        'changed-host-key',
        `The host key of ${description} has changed: it now presents ${info.keyType} ${info.fingerprint}, but ${checkedFile} line ${check.line} ` +
          `holds a different ${check.knownKeyType} key for ${name}. Someone may be intercepting the connection, or the host was reinstalled. ` +
          `If you know the key changed legitimately, remove the old entry (ssh-keygen -R '${name}' -f ${checkedFile}) and connect again.`,
        { hostKey: info },
      );
    case 'unknown':
      break;
  }
  const unknown = new AgentSessionError(
    'unknown-host-key',
    `The host key of ${description} is not known: ${info.keyType} ${info.fingerprint}. If that fingerprint is right, add it with ` +
      `'ssh-keyscan -p ${port} ${host} >> ${knownHostsFile}' (then compare with 'ssh-keygen -lf ${knownHostsFile}') or connect once with 'ssh -p ${port} ${req.user}@${host}'.`,
    { hostKey: info },
  );
  if (!req.confirmUnknownHostKey) return unknown;
  req.askingPerson?.();
  let trusted: boolean;
  try {
    trusted = await req.confirmUnknownHostKey(info);
  } catch (error) {
    return new AgentSessionError('unknown-host-key', `${unknown.message} (asking whether to trust it failed: ${String(error)})`, { hostKey: info });
  }
  if (!trusted) return unknown;
  try {
    appendKnownHost(knownHostsFile, host, port, req.key);
  } catch (error) {
    return new AgentSessionError('connect', `Cannot add the host key of ${description} to ${knownHostsFile}: ${(error as Error).message}.`, { cause: error });
  }
  req.log?.(`Added ${name} ${info.keyType} ${info.fingerprint} to ${knownHostsFile}.`);
  return null;
}
