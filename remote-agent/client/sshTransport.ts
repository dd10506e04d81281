/**
 * The Transport over SSH (ssh2, pure JS): exec channels for commands and the agent, SFTP for
 * uploads. Connecting resolves the target as OpenSSH would (sshConfigHosts.ts), follows its route
 * (sshRoute.ts): ProxyJump hops of any length through forwarded channels, or a ProxyCommand's
 * stdio; checks every host's key against known_hosts as OpenSSH would (knownHosts.ts), and
 * authenticates each with its own config's keys, ssh-agent, and what a person is asked for
 * (sshAuthentication.ts: passphrases, keyboard-interactive, password). Keepalives notice a link
 * gone silent (a pulled cable, a paused VM, a NAT that forgot us: no FIN, no RST) within 15 s;
 * losing any hop closes every other.
 */
import { spawn } from 'node:child_process';
import { isIPv6 } from 'node:net';
import { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ParsedKey, type SFTPWrapper } from 'ssh2';
import { abortReason } from './abortReason';
import type { CredentialPrompter } from './credentialPrompt';
import { decideHostKey, knownKeyTypes, readKnownHostsFile, type HostKeyInfo } from './knownHosts';
import { AgentSessionError } from './sessionError';
import { planSshAuthentication } from './sshAuthentication';
import { resolveSshHost } from './sshConfigHosts';
import type { SshHostConfig } from './sshHostConfig';
import { planSshRoute, type SshHopRequest, type SshRouteStep } from './sshRoute';
import { commandOutput, exitAfterOutput, runToCompletion, tailOf, underPosixShell, writeFileWithCat, type CommandResult, type ExitStatus, type RunningProcess, type Transport } from './transport';

export interface SshConnectOptions {
  host: string;
  user?: string;
  port?: number;
  knownHostsFile?: string;
  identityFile?: string;
  sshConfigFile?: string;
  confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean>;
  /** What `host` (with `user` and `port`) resolves to, when the caller already asked: not asked of ssh -G again. */
  resolvedTarget?: SshHostConfig;
  /** Asked for key passphrases, passwords and keyboard-interactive answers; absent → keys without a passphrase and ssh-agent only. */
  credentials?: CredentialPrompter;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

const CONNECT_TIMEOUT_MS = 20_000;
/** A keepalive every 5 s; the third unanswered one ends the connection: a silent link is noticed within 15 s. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 2;
/** How long each connection may stay silent before its keepalives give up (ms), for the message that says so. */
const silenceLimits = new WeakMap<Client, number>();
/** Without ssh2's native binding, AES-GCM (AES-NI through Node's crypto) is the fastest cipher. */
const CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'];

export async function connectSsh(options: SshConnectOptions): Promise<SshTransport> {
  const { signal, log } = options;
  if (signal?.aborted) throw abortReason(signal);
  const resolve = async (request: SshHopRequest): Promise<SshHostConfig> => {
    if (options.resolvedTarget !== undefined && request.alias === options.host && request.user === options.user && request.port === options.port) return options.resolvedTarget;
    return resolveSshHost(request.alias, {
      ...(request.user !== undefined && { user: request.user }),
      ...(request.port !== undefined && { port: request.port }),
      ...(options.sshConfigFile !== undefined && { configFile: options.sshConfigFile }),
      ...(log !== undefined && { log }),
    });
  };
  let route: SshRouteStep[];
  try {
    route = await planSshRoute({ alias: options.host, ...(options.user !== undefined && { user: options.user }), ...(options.port !== undefined && { port: options.port }) }, resolve);
  } catch (error) {
    throw error instanceof AgentSessionError ? error : new AgentSessionError('connect', (error as Error).message, { cause: error });
  }

  // Everything opened so far, so a failure part-way (or, later, the loss of the link) closes all of it.
  const opened: JumpHost[] = [];
  // Shared by every hop, so a key the target and a jump host both use is unlocked once.
  const unlockedKeys = new Map<string, ParsedKey>();
  let proxy: ProxyCommandProcess | undefined;
  const closeRoute = (): void => {
    for (const hop of opened.reverse()) hop.client.destroy();
    proxy?.kill();
  };
  try {
    let sock: Duplex | undefined;
    for (const [index, step] of route.entries()) {
      if (signal?.aborted) throw abortReason(signal);
      const description = describeStep(step);
      if (step.via === 'previous-hop') sock = await forwardThrough(opened[index - 1]!, step.config, signal);
      if (step.via === 'proxy-command') {
        proxy = startProxyCommand(step.config.proxyCommand!, description, log);
        sock = proxy.sock;
      }
      // --identity and --known-hosts name the target's key and file, as `ssh -i` and `-o` do; each jump host uses its own config.
      const explicit = step.jumpHost ? {} : { identityFile: options.identityFile, knownHostsFile: options.knownHostsFile };
      const client = await openClient({
        config: step.config,
        description,
        sock,
        proxy,
        explicit,
        confirmUnknownHostKey: options.confirmUnknownHostKey,
        credentials: options.credentials,
        unlockedKeys,
        signal,
        log,
      });
      const hop: JumpHost = { client, description };
      // Kept for the message when the link is lost: a jump host's failure is why the target went away.
      client.on('error', (error: Error) => {
        hop.failure ??= error;
      });
      opened.push(hop);
    }
  } catch (error) {
    closeRoute();
    throw error;
  }
  const target = opened.pop()!;
  return new SshTransport(target.client, target.description, { jumpHosts: opened, ...(proxy !== undefined && { proxy }) });
}

interface JumpHost {
  client: Client;
  description: string;
  failure?: Error;
}

/** 'user@host:port' for the target, 'jump host ALIAS (user@host:port)' for a hop, as messages name them. */
function describeStep(step: SshRouteStep): string {
  const { config } = step;
  const address = `${config.user}@${isIPv6(config.hostName) ? `[${config.hostName}]` : config.hostName}:${config.port}`;
  return step.jumpHost ? `jump host ${config.alias} (${address})` : address;
}

/** A channel from `hop` to the next host's sshd (what `ssh -W host:port` asks for), to run SSH over. */
function forwardThrough(hop: JumpHost, next: SshHostConfig, signal: AbortSignal | undefined): Promise<Duplex> {
  const timeoutMs = next.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  return new Promise<Duplex>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AgentSessionError('connect', `${hop.description} did not open a connection to ${next.hostName}:${next.port} within ${timeoutMs / 1000} s.`)), timeoutMs);
    const onAbort = (): void => reject(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    try {
      hop.client.forwardOut('127.0.0.1', 0, next.hostName, next.port, (error, channel) => {
        done();
        if (error) {
          reject(
            new AgentSessionError(
              'connect',
              `${hop.description} could not connect onward to ${next.alias} (${next.hostName}:${next.port}): ${error.message}. ` +
                `Check that the host is reachable from there and that the jump host's sshd allows TCP forwarding (AllowTcpForwarding).`,
              { cause: error },
            ),
          );
        } else resolve(channel);
      });
    } catch (error) {
      done();
      reject(new AgentSessionError('connect', `${hop.description} is gone: ${(error as Error).message}.`, { cause: error }));
    }
  });
}

interface ProxyCommandProcess {
  sock: Duplex;
  /** How it ended, for an error message, once it has ('' while it runs). */
  outcome(): string;
  kill(): void;
}

/**
 * The config's ProxyCommand, whose stdin and stdout carry the SSH connection. `sh -c` only because
 * OpenSSH defines ProxyCommand as a shell command (the user wrote it for this host; tokens are
 * substituted in sshHostConfig.ts). Its stderr goes to the log, and its tail into error messages.
 */
function startProxyCommand(command: string, description: string, log: ((line: string) => void) | undefined): ProxyCommandProcess {
  log?.(`Reaching ${description} through ProxyCommand ${command}`);
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrTail = '';
  let ended = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-2000);
    for (const line of chunk.split('\n')) if (line.trim() !== '') log?.(`ProxyCommand: ${line}`);
  });
  child.on('error', (error) => {
    ended = `could not start: ${error.message}`;
  });
  child.on('exit', (code, signalName) => {
    ended = signalName !== null ? `was killed by ${signalName}` : `exited with status ${code}`;
  });
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  // Its streams fail when the command dies; the SSH client reports that as the connection's end.
  sock.on('error', () => {});
  return {
    sock,
    outcome: () => (ended === '' ? '' : `ProxyCommand '${command}' ${ended}${stderrTail.trim() === '' ? '' : `: ${tailOf(stderrTail, 3, 500)}`}`),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

interface OpenClientRequest {
  config: SshHostConfig;
  description: string;
  /** The stream to run SSH over (a forwarded channel or a ProxyCommand); absent → TCP to the host. */
  sock: Duplex | undefined;
  proxy: ProxyCommandProcess | undefined;
  explicit: { identityFile?: string | undefined; knownHostsFile?: string | undefined };
  confirmUnknownHostKey: ((info: HostKeyInfo) => Promise<boolean>) | undefined;
  credentials: CredentialPrompter | undefined;
  unlockedKeys: Map<string, ParsedKey>;
  signal: AbortSignal | undefined;
  log: ((line: string) => void) | undefined;
}

/** One authenticated SSH connection with its host key checked, over TCP or over `sock`. */
async function openClient(request: OpenClientRequest): Promise<Client> {
  const { config, description, signal, log } = request;
  const { hostName: host, port, user } = config;
  // An explicit file is the only one checked, as `ssh -o UserKnownHostsFile=…` would have it.
  const knownHostsFiles = request.explicit.knownHostsFile !== undefined ? [request.explicit.knownHostsFile] : config.knownHostsFiles;
  const knownHostsFile = knownHostsFiles[0]!;
  // Ends with the attempt: a prompt still open when it fails or times out is dismissed.
  const attempt = new AbortController();
  const agentSocket = process.env['SSH_AUTH_SOCK'];
  let fail: (error: Error) => void = () => {};
  let armTimer: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const authentication = planSshAuthentication(
    {
      username: user,
      description,
      hostName: host,
      explicitIdentityFile: request.explicit.identityFile,
      identityFiles: config.identityFiles,
      agentSocket: agentSocket && !config.identitiesOnly ? agentSocket : undefined,
      prompter: request.credentials,
      unlockedKeys: request.unlockedKeys,
      log,
    },
    {
      signal: attempt.signal,
      // A person is typing: do not time the connection out under them, as for a host key.
      askingPerson: (asking) => {
        if (asking) clearTimeout(timer);
        else if (!settled) armTimer();
      },
      fail: (error) => fail(error),
    },
  );
  const connectTimeoutMs = config.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const confirmUnknownHostKey = unknownHostKeyPolicy(config.strictHostKeyChecking, request.confirmUnknownHostKey, log);
  const knownTypes = [...new Set(knownHostsFiles.flatMap((file) => knownKeyTypes(readKnownHostsFile(file), host, port)))];
  /** What the ProxyCommand did, when the connection went through one that has ended. */
  const proxyNote = (): string => {
    const outcome = request.proxy?.outcome() ?? '';
    return outcome === '' ? '' : ` (${outcome})`;
  };

  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    let hostKeyFailure: AgentSessionError | undefined;
    armTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new AgentSessionError('connect', `Connecting to ${description} timed out after ${connectTimeoutMs / 1000} s. Check that the host is up and reachable, and that sshd listens on port ${port}.`)), connectTimeoutMs);
    };
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      attempt.abort(new Error(`the connection attempt to ${description} ended`));
      signal?.removeEventListener('abort', onAbort);
      client.off('error', onError);
      client.off('close', onClose);
    };
    fail = (error: Error): void => {
      if (settled) return;
      cleanup();
      // The attempt has failed with its reason; a destroyed client still reports its socket's loss
      // ('Connection lost before handshake' after 'close'), which must not become an uncaught error.
      client.on('error', () => {});
      client.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(abortReason(signal!));
    const onError = (error: Error & { level?: string }): void => {
      if (hostKeyFailure) return fail(hostKeyFailure);
      if (error.level === 'client-authentication') {
        return fail(
          new AgentSessionError(
            'auth',
            `${description} refused every way of logging in as ${user} that was tried (${authentication.describeTried()}). ` +
              `Add your public key to ~/.ssh/authorized_keys of ${user} there, or name the right key (identityFile setting, ` +
              `IdentityFile in ~/.ssh/config) or load it into ssh-agent.`,
            { cause: error },
          ),
        );
      }
      fail(new AgentSessionError('connect', `Cannot connect to ${description}: ${error.message}${proxyNote()}. Check the host name, the port and that sshd runs there.`, { cause: error }));
    };
    const onClose = (): void => fail(hostKeyFailure ?? new AgentSessionError('connect', `${description} closed the connection during the SSH handshake${proxyNote()}.`));

    const verifyHostKey = (key: Buffer, verify: (valid: boolean) => void): void => {
      const decision = decideHostKey({
        host,
        port,
        user,
        description,
        key,
        knownHostsFile,
        otherKnownHostsFiles: knownHostsFiles.slice(1),
        ...(confirmUnknownHostKey !== undefined && { confirmUnknownHostKey }),
        askingPerson: () => clearTimeout(timer), // a person is deciding: do not time the connection out under them
        ...(log !== undefined && { log }),
      });
      void decision.then((failure) => {
        if (settled) return;
        if (failure) {
          hostKeyFailure = failure;
          return verify(false);
        }
        armTimer();
        verify(true);
      });
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', onError);
    client.on('close', onClose);
    client.once('ready', () => {
      if (settled) return;
      cleanup();
      // Requests and answers are small messages, each waited for: with Nagle's algorithm, a message
      // that leaves in two writes waits for the first one's delayed ACK (40 ms on Linux), as
      // OpenSSH avoids by setting TCP_NODELAY for interactive sessions. A stream over a jump host
      // or a ProxyCommand has no such option: the hop's own TCP socket has it.
      client.setNoDelay(true);
      authentication.succeeded();
      log?.(`Connected to ${description}.`);
      resolve(client);
    });
    armTimer();
    // The config's ServerAlive settings when it has them; else ours, so a dead link is noticed (OpenSSH's default is none).
    const keepaliveInterval = config.serverAliveIntervalMs > 0 ? config.serverAliveIntervalMs : KEEPALIVE_INTERVAL_MS;
    const keepaliveCountMax = config.serverAliveIntervalMs > 0 ? config.serverAliveCountMax : KEEPALIVE_COUNT_MAX;
    // ssh2 gives up when a keepalive finds more than keepaliveCountMax unanswered before it.
    silenceLimits.set(client, keepaliveInterval * (keepaliveCountMax + 1));
    log?.(`Connecting to ${description}…`);
    client.connect({
      ...(request.sock !== undefined ? { sock: request.sock } : { host, port }),
      username: user,
      authHandler: authentication.handler,
      hostVerifier: verifyHostKey,
      readyTimeout: 0, // our own timer, paused while confirmUnknownHostKey waits for a person
      keepaliveInterval,
      keepaliveCountMax,
      algorithms: {
        cipher: CIPHERS as never,
        // Like OpenSSH: ask for the key types known_hosts already holds for this host first.
        serverHostKey: knownTypes.length > 0 ? ({ prepend: knownTypes.flatMap(hostKeyAlgorithms) } as never) : undefined,
      },
    });
  });
}

/** Signature algorithms that prove a key of this type (RSA keys sign with SHA-2 first). */
function hostKeyAlgorithms(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}

/**
 * StrictHostKeyChecking from the config: `yes` never asks (an unknown key is refused), `accept-new`
 * and `no` trust an unknown key and record it, `ask` asks the caller's person (if any). A changed or
 * revoked key is refused whatever it says (knownHosts.ts).
 */
function unknownHostKeyPolicy(
  strict: SshHostConfig['strictHostKeyChecking'],
  ask: ((info: HostKeyInfo) => Promise<boolean>) | undefined,
  log: ((line: string) => void) | undefined,
): ((info: HostKeyInfo) => Promise<boolean>) | undefined {
  if (strict === 'yes') return undefined;
  if (strict === 'ask') return ask;
  return async (info) => {
    log?.(`StrictHostKeyChecking ${strict}: trusting the new host key of ${info.host} (${info.keyType} ${info.fingerprint}).`);
    return true;
  };
}

/** What ended a connection, in words: ssh2 says only "Keepalive timeout" when the link went silent. */
function linkFailure(client: Client, error: Error & { level?: string }): string {
  const limit = silenceLimits.get(client);
  if (error.level !== 'client-timeout' || limit === undefined) return error.message;
  return `no answer from the host for ${limit / 1000} s (its keepalives went unanswered): the network or the host is down`;
}

export class SshTransport implements Transport {
  readonly description: string;
  readonly lost: Promise<Error>;
  private readonly client: Client;
  private sftpSession: Promise<SFTPWrapper | Error> | undefined;
  private disposed = false;

  /** `route` holds the jump hosts and ProxyCommand the connection runs through: closed with it. */
  constructor(client: Client, description: string, route: { jumpHosts: JumpHost[]; proxy?: ProxyCommandProcess } = { jumpHosts: [] }) {
    this.client = client;
    this.description = description;
    let lastError: Error | undefined;
    client.on('error', (error: Error) => {
      lastError = error;
    });
    this.lost = new Promise<Error>((resolve) => {
      client.once('close', () => {
        // Destroyed, not ended: ssh2's end() leaves the socket open until the server closes it, and the target is gone already.
        for (const hop of [...route.jumpHosts].reverse()) hop.client.destroy();
        route.proxy?.kill();
        const hopFailure = route.jumpHosts.find((hop) => hop.failure !== undefined);
        const cause = hopFailure?.failure ?? lastError;
        let why = route.proxy?.outcome() || 'the server closed the connection';
        if (this.disposed) why = 'the session was closed';
        else if (hopFailure !== undefined) why = `${hopFailure.description}: ${linkFailure(hopFailure.client, hopFailure.failure!)}`;
        else if (lastError !== undefined) why = linkFailure(client, lastError);
        resolve(new AgentSessionError('closed', `connection to ${description} lost: ${why}`, cause ? { cause } : undefined));
      });
    });
  }

  async run(command: string, options: { signal?: AbortSignal; stdin?: string } = {}): Promise<CommandResult> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    return runToCompletion(await this.spawn(command), options);
  }

  async spawn(command: string): Promise<RunningProcess> {
    const { channel, exited } = await this.exec(command);
    const stdout = commandOutput(channel);
    return { stdin: channel, stdout, stderr: channel.stderr, exited: exitAfterOutput(exited, stdout), kill: () => killChannel(channel) };
  }

  async writeFile(path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    // A server may have no SFTP subsystem (hardened configs drop it): then cat writes the file.
    this.sftpSession ??= new Promise<SFTPWrapper | Error>((resolve) => {
      this.client.sftp((error, sftp) => resolve(error ? new Error(`no SFTP on ${this.description}: ${error.message}`) : sftp));
    });
    const sftp = await this.untilLost(this.sftpSession, signal);
    if (sftp instanceof Error) {
      try {
        return await writeFileWithCat(this, path, content, mode, signal);
      } catch (error) {
        if (signal?.aborted || error instanceof AgentSessionError) throw error;
        throw new Error(`${(error as Error).message} (written with cat: ${sftp.message})`, { cause: error });
      }
    }
    await this.untilLost(
      new Promise<void>((resolve, reject) => {
        sftp.writeFile(path, content, { mode }, (error) => (error ? reject(new Error(`cannot write ${path} on ${this.description}: ${error.message}`)) : resolve()));
      }),
      signal,
    );
  }

  /**
   * `work`, unless the connection is lost (rejects with the `closed` reason) or `signal` aborts first.
   * ssh2 settles neither an SFTP open nor a write in flight when the connection goes away: an upload
   * cut off mid-transfer stayed pending for ever, and a CLI waiting on nothing else exited 0.
   */
  private untilLost<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.lost.then(reject);
      work.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.client.end();
    await Promise.race([this.lost, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    this.client.destroy();
  }

  /**
   * The channel, and its exit watched from the moment it exists: ssh2 handles every packet of a
   * chunk in one go, so a quick command's exit status can come in the same chunk as the channel's
   * opening (a relay or a busy link coalesces them) and be emitted before an awaiting caller runs.
   */
  private exec(command: string): Promise<{ channel: ClientChannel; exited: Promise<ExitStatus> }> {
    return new Promise((resolve, reject) => {
      const failed = (why: string): void => reject(new AgentSessionError('closed', `cannot run a command on ${this.description}: ${why}`));
      try {
        // sshd gives the command to the login shell, which may not be POSIX (fish): it only execs sh.
        this.client.exec(underPosixShell(command), (error, channel) => (error ? failed(error.message) : resolve({ channel, exited: exitOfChannel(channel) })));
      } catch (error) {
        failed((error as Error).message);
      }
    });
  }
}

function exitOfChannel(channel: ClientChannel): Promise<ExitStatus> {
  return new Promise<ExitStatus>((resolve) => {
    let status: ExitStatus | undefined;
    channel.on('exit', (code: number | null, signalName?: string) => {
      status = { exitCode: typeof code === 'number' ? code : null, signal: signalName ?? null };
    });
    channel.on('close', () => resolve(status ?? { exitCode: null, signal: null, failure: 'the SSH channel closed without an exit status' }));
  });
}

function killChannel(channel: ClientChannel): void {
  // OpenSSH honours signal requests since 7.9, but not for a root login (9.2 logs "session
  // signalling requires privilege separation"), and ssh2 sends none once our side of the channel
  // is ended; closing the channel covers the rest: the process loses its pipes. A process that
  // never touches them outlives its channel, so no caller may wait for its exit after a kill.
  channel.signal('KILL');
  channel.close();
}
