/**
 * A private OpenSSH server for integration tests: 127.0.0.1 on a free port, its own temp dir with
 * a fresh ed25519 host key, a client key allowed to log in as root, and a known_hosts file listing
 * the real host key as `[127.0.0.1]:PORT`. Keys only by default; on request it also takes passwords
 * (checked against /etc/shadow) or keyboard-interactive (through PAM, with a PAM service of its own
 * that only runs pam_unix). Without sshd or root it throws in CI (CI=true), and elsewhere tells
 * tests why to skip (sshdUnavailableReason), never skipping silently.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from './freePort';

const SSHD = '/usr/sbin/sshd';

export interface PrivateSshd {
  host: string;
  port: number;
  user: 'root';
  identityFile: string;
  /** Lists the server's real host key as `[127.0.0.1]:PORT ssh-ed25519 …`. */
  knownHostsFile: string;
  /** 'SHA256:…' of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** The temp dir holding config, keys and the log (sshd.log). */
  dir: string;
  /** Kills the per-connection sshd processes (drops every live SSH connection); the server keeps listening. */
  dropConnections(): void;
  /** SIGSTOPs (true) or SIGCONTs (false) the per-connection sshd processes: a transfer in flight holds still. */
  pauseConnections(paused: boolean): void;
  /** With `certificates`: what a client that trusts the server's CA needs. */
  certificates?: SshdCertificates;
  /** Lets the holder of this public key (an OpenSSH .pub line) log in too. */
  authorizeKey(publicKeyLine: string): void;
  stop(): Promise<void>;
}

/** Why this machine cannot run the private sshd, or null when it can. Throws instead when CI=true. */
export function sshdUnavailableReason(): string | null {
  let reason: string | null = null;
  if (!existsSync(SSHD)) reason = `${SSHD} is missing (apt-get install openssh-server)`;
  else if (process.getuid?.() !== 0) reason = 'the private sshd logs in as root, so the tests must run as root';
  else if (!existsSync('/usr/bin/ssh-keygen')) reason = 'ssh-keygen is missing (apt-get install openssh-client)';
  if (reason !== null && process.env['CI'] === 'true') throw new Error(`SSH integration tests cannot run: ${reason}.`);
  return reason;
}

export interface SshdCertificates {
  /** The CA's private key, to certify more client keys (`certifyKey`). */
  caKey: string;
  /** Lists only `@cert-authority [127.0.0.1]:PORT <CA key>`: the host is known by its certificate alone. */
  knownHostsFile: string;
  /** A client key that is in no authorized_keys: it logs in as root by its certificate (`KEY-cert.pub` beside it). */
  certifiedIdentityFile: string;
  /** Signs `publicKeyFile` for `principal` with the CA: writes `…-cert.pub` beside it. */
  certifyKey(publicKeyFile: string, principal: string): void;
}

export interface SshdOptions {
  /** An SSH CA: the server presents a host certificate and trusts user certificates it signed (TrustedUserCAKeys). */
  certificates?: boolean;
  /** PasswordAuthentication yes: sshd checks passwords against /etc/shadow itself (no PAM). */
  passwordAuthentication?: boolean;
  /** KbdInteractiveAuthentication yes through PAM (sshd has no other keyboard-interactive device on Linux); passwords off. */
  keyboardInteractive?: boolean;
  /** With keyboardInteractive: PAM may change an expired password (pam_unix for `password`, not pam_deny). */
  passwordChange?: boolean;
  /** No SFTP subsystem, as some hardened servers are configured: files must be written another way. */
  noSftp?: boolean;
}

/**
 * The PAM service a keyboard-interactive sshd runs as, one per instance (two may run at once with
 * different rules): pam_unix only, so no login-session module can fail in a sandbox.
 */
const PAM_SERVICE_PREFIX = 'ebpfstudio-test-sshd-';

export async function startSshd(options: SshdOptions = {}): Promise<PrivateSshd> {
  const unavailable = sshdUnavailableReason();
  if (unavailable !== null) throw new Error(`cannot start the private sshd: ${unavailable}`);
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-studio-sshd-'));
  const pamService = `${PAM_SERVICE_PREFIX}${basename(dir).slice('ebpf-studio-sshd-'.length)}`;
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'private-sshd-host', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'private-sshd-client', '-f', clientKey]);
  // sshd reads authorized_keys as the user logging in: non-root test users need to read it too.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o644 });

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  const log = join(dir, 'sshd.log');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `UsePAM ${options.keyboardInteractive ? 'yes' : 'no'}`,
      'StrictModes no',
      `PasswordAuthentication ${options.passwordAuthentication && !options.keyboardInteractive ? 'yes' : 'no'}`,
      `KbdInteractiveAuthentication ${options.keyboardInteractive ? 'yes' : 'no'}`,
      'PermitRootLogin prohibit-password',
      ...(options.noSftp ? [] : ['Subsystem sftp internal-sftp']),
      '',
    ].join('\n'),
  );
  if (options.certificates) {
    const caKey = join(dir, 'ca_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'private-sshd-ca', '-f', caKey]);
    execFileSync('ssh-keygen', ['-q', '-s', caKey, '-I', 'private-sshd-host', '-h', '-n', '127.0.0.1', `${hostKey}.pub`]);
    appendFileSync(config, `HostCertificate ${hostKey}-cert.pub\nTrustedUserCAKeys ${caKey}.pub\n`);
  }
  mkdirSync('/run/sshd', { recursive: true });
  // sshd names its PAM service after the program it was started as (argv[0], also what it re-executes).
  let program = SSHD;
  if (options.keyboardInteractive) {
    const password = options.passwordChange ? 'password required pam_unix.so' : 'password required pam_deny.so';
    writeFileSync(`/etc/pam.d/${pamService}`, ['auth required pam_unix.so', 'account required pam_unix.so', 'session required pam_permit.so', password, ''].join('\n'));
    program = join(dir, pamService);
    symlinkSync(SSHD, program);
  }
  // -D keeps sshd in the foreground as our child, so it cannot outlive the test run by accident.
  const server = spawn(program, ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  try {
    await waitForBanner(port, server, log);
  } catch (error) {
    server.kill('SIGKILL');
    throw error;
  }

  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], { encoding: 'utf8' }).split(/\s+/)[1]!;

  let certificates: SshdCertificates | undefined;
  if (options.certificates) {
    const caKey = join(dir, 'ca_ed25519');
    const certifyKey = (publicKeyFile: string, principal: string): void => {
      execFileSync('ssh-keygen', ['-q', '-s', caKey, '-I', `certified-${principal}`, '-n', principal, '-V', '-5m:+1h', publicKeyFile]);
    };
    const certifiedIdentityFile = join(dir, 'certified_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'certified-client', '-f', certifiedIdentityFile]);
    certifyKey(`${certifiedIdentityFile}.pub`, 'root');
    const caPub = readFileSync(`${caKey}.pub`, 'utf8').trim().split(/\s+/);
    const caKnownHosts = join(dir, 'known_hosts_ca');
    writeFileSync(caKnownHosts, `@cert-authority [127.0.0.1]:${port} ${caPub[0]} ${caPub[1]}\n`);
    certificates = { caKey, knownHostsFile: caKnownHosts, certifiedIdentityFile, certifyKey };
  }

  return {
    host: '127.0.0.1',
    port,
    user: 'root',
    identityFile: clientKey,
    knownHostsFile,
    hostKeyFingerprint: fingerprint,
    dir,
    ...(certificates !== undefined && { certificates }),
    dropConnections: () => signalChildren(server, 'SIGKILL'),
    pauseConnections: (paused) => signalChildren(server, paused ? 'SIGSTOP' : 'SIGCONT'),
    authorizeKey: (publicKeyLine) => appendFileSync(join(dir, 'authorized_keys'), `${publicKeyLine.trim()}\n`),
    stop: async () => {
      signalChildren(server, 'SIGKILL');
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      if (options.keyboardInteractive) rmSync(`/etc/pam.d/${pamService}`, { force: true });
    },
  };
}

/** Writes a known_hosts file that lists a DIFFERENT ed25519 key for this sshd's `[host]:port`. */
export function writeKnownHostsWithWrongKey(sshd: PrivateSshd, path: string): void {
  const other = join(sshd.dir, `other_ed25519_${Date.now()}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'not-the-host', '-f', other]);
  const pub = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/);
  writeFileSync(path, `[${sshd.host}]:${sshd.port} ${pub[0]} ${pub[1]}\n`);
}

/** Polls until the server sends its SSH banner (it accepts and speaks), for at most 10 s. */
async function waitForBanner(port: number, server: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(`the private sshd exited with status ${server.exitCode}: ${existsSync(log) ? readFileSync(log, 'utf8').trim() : 'no log'}`);
    }
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1000);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1'));
      });
      socket.once('error', () => resolve(''));
      socket.once('timeout', () => {
        socket.destroy();
        resolve('');
      });
    });
    if (banner.startsWith('SSH-2.0-')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the private sshd on 127.0.0.1:${port} did not accept connections within 10 s: ${existsSync(log) ? readFileSync(log, 'utf8').trim() : 'no log'}`);
}

/** Signals the per-connection processes of our sshd (its direct children and theirs), found via /proc. */
function signalChildren(server: ChildProcess, signal: NodeJS.Signals): void {
  if (server.pid === undefined) return;
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') continue; // exited meanwhile
      throw error;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const victims: number[] = [];
  const collect = (pid: number): void => {
    for (const child of parents.get(pid) ?? []) {
      victims.push(child);
      collect(child);
    }
  };
  collect(server.pid);
  for (const pid of victims) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/**
 * A local account that can log in to the private sshd with a key: created once (with a home and
 * /bin/sh), and unlocked — useradd leaves it locked ('!'), which sshd without PAM refuses even for
 * key logins; '*' means "no password". Returns its home directory.
 */
export function ensureLoginUser(name: string): string {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  }
  execFileSync('usermod', ['-p', '*', name]);
  return execFileSync('sh', ['-c', `getent passwd ${name} | cut -d: -f6`], { encoding: 'utf8' }).trim();
}
