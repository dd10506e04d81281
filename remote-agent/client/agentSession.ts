/**
 * One working connection to an agent: reach the target (local or SSH), deploy the agent, start it
 * as root (directly, through `sudo -n`, or through a sudo that is given the password a person typed:
 * sudoPassword.ts), say hello. Every way this can fail ends in one
 * AgentSessionError whose `kind` a UI can act on; once running, the session's `closed` promise tells
 * the one reason it stopped (agent exit with its stderr tail, or the SSH link lost).
 */
import { AGENT_PROTOCOL_VERSION, ErrorCode, type HelloResult, type ResumeTicket, type SessionResumeResult } from '../protocol';
import { abortReason } from './abortReason';
import { AgentClient, AgentError } from './agentClient';
import type { CredentialPrompter } from './credentialPrompt';
import { integrityFailure, verifiedStartCommand } from './agentIntegrity';
import { deployAgent, lackingWarning, readAgentBinaries, readAgentSources, type DeployedAgent } from './deployAgent';
import type { KnownAgentBuilds } from './knownAgentBuilds';
import type { HostKeyInfo } from './knownHosts';
import { LocalTransport } from './localTransport';
import { AgentSessionError } from './sessionError';
import type { SshClientSetting } from './sshClientChoice';
import { missingPrivilege, privilegeWarnings } from './targetPrivileges';
import type { SudoMode } from './namedTargets';
import { quickStart } from './quickStart';
import { describeTarget, type TargetSpec } from './targetSpec';
import { answerSudoPrompts, newSudoMarkers, sudoWithPasswordCommand, withoutSudoMarkers, wrongPassword, type SudoMarkers } from './sudoPassword';
import { shellQuote, tailOf, type ExitStatus, type RunningProcess, type Transport } from './transport';
import { vmSshOptions } from './vm/vmTarget';

export { AgentError } from './agentClient';
export type { HostKeyInfo } from './knownHosts';
export type { CredentialPrompter, CredentialRequest } from './credentialPrompt';
export { AgentSessionError, type AgentSessionErrorKind } from './sessionError';

export interface OpenSessionOptions {
  target: TargetSpec;
  /** Directory holding the agent's C sources and Makefile (in the vsix: out/agent-src; in the repo: remote-agent/agent). */
  agentSourceDir: string;
  /**
   * Directory of the statically linked agents, `<uname -m>/ebpf-agent` (in the vsix: out/agent-bin;
   * in the repo: remote-agent/agent/build/static). A target of a listed architecture gets that binary
   * and needs no build tools; absent → the agent is always built from agentSourceDir on the target.
   */
  agentBinaryDir?: string;
  /** Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Which SSH client reaches an SSH target (sshClientChoice.ts); default 'auto'. VM targets always use the built-in one. */
  sshClient?: SshClientSetting;
  /** Else ssh-agent (SSH_AUTH_SOCK), the default ~/.ssh/id_* keys and the ssh config's IdentityFile. */
  identityFile?: string;
  /** Default: OpenSSH's own (~/.ssh/config, /etc/ssh/ssh_config); an alias resolves as `ssh -G` resolves it. */
  sshConfigFile?: string;
  /** Absent → unknown host keys are refused; resolving true → trusted and appended to knownHostsFile. */
  confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean>;
  /**
   * Asked for what a person must type: key passphrases, SSH passwords and keyboard-interactive
   * answers, and the sudo password when `sudo -n` says one is required. Absent (headless) → keys
   * without a passphrase and ssh-agent only, and a sudo that wants a password is a 'sudo-password' error.
   */
  credentials?: CredentialPrompter;
  clientVersion: string;
  signal?: AbortSignal;
  /** Progress and background lines for an Output channel (never secrets). */
  log?: (line: string) => void;
  /**
   * Start the agent as the connecting user, never through sudo: enough for an agent that only
   * compiles (compileOnClient.ts), which needs no privilege. Default: root, through sudo -n if needed.
   */
  unprivileged?: boolean;
  /** Where the sha256 of agents built from source is recorded; default knownAgentBuilds.ts's file. */
  knownAgentBuilds?: KnownAgentBuilds;
  /**
   * 'auto' (default): root, else `sudo -n`, else sudo with a password. 'never': the agent runs as
   * the login user, who must be root, else a 'privilege' error naming `chosenBy`.
   */
  sudo?: SudoMode;
  /** Where the agent's files live on the target ('/abs' or '~/rel'); default ~/.cache/ebpf-studio. */
  workDirectory?: string;
  /** The setting that chose `sudo` and `workDirectory` (namedTargets.ts), named in errors about them. */
  chosenBy?: string;
  /**
   * A connected transport to the target, used instead of connecting (and disposed with the session):
   * for wrappers around the agent's start, e.g. a test that drops capabilities.
   */
  transport?: Transport;
  /**
   * Keep what this session attaches running this many seconds after its link drops, so `resume`
   * can carry on with it (hello's graceSeconds; 0 or absent: everything is released at once).
   */
  graceSeconds?: number;
  /**
   * Instead of a new session: the session of this ticket, whose link dropped, on a freshly started
   * agent that relays to the one still holding it (session.resume), with the records each of its
   * streams delivered to this client.
   */
  resume?: {
    ticket: ResumeTicket;
    streams: { streamId: string; decoded: number }[];
    /** Called with the new connection before session.resume is sent: subscribe here, the agent sends what it queued right after its answer. */
    listen?: (client: AgentClient) => void;
  };
}

/** What the agent of a resumed session still runs. */
export type ResumedState = Pick<SessionResumeResult, 'streams' | 'objects'>;

export interface AgentSession {
  readonly target: TargetSpec;
  /** 'local' or 'user@host:port'. */
  readonly description: string;
  /** The agent's hello; its `resume` is always null here: the ticket is `resumeTicket`. */
  readonly hello: HelloResult;
  readonly client: AgentClient;
  /**
   * How to resume this session after its link drops (openAgentSession's `resume`), within its grace
   * period; null without one. A secret: kept in memory, never logged or stored.
   */
  readonly resumeTicket: ResumeTicket | null;
  /** Set when this session resumed a dropped one: the streams and objects the agent still holds. */
  readonly resumed?: ResumedState;
  /** Resolves (never rejects) with the reason the session stopped working. */
  readonly closed: Promise<Error>;
  dispose(): Promise<void>;
}

const HELLO_TIMEOUT_MS = 30_000;
/** An emulated kernel VM runs the agent's feature probes ~50× slower than a real machine. */
const VM_HELLO_TIMEOUT_MS = 180_000;
const STDERR_TAIL_BYTES = 8192;
/** How long a clean stop may take before the agent is killed. */
const STOP_GRACE_MS = 2000;

export async function openAgentSession(opts: OpenSessionOptions): Promise<AgentSession> {
  const { signal } = opts;
  const log = opts.log ?? (() => {});
  if (signal?.aborted) throw abortReason(signal);
  const sources = readAgentSources(opts.agentSourceDir);
  const binaries = opts.agentBinaryDir === undefined ? undefined : readAgentBinaries(opts.agentBinaryDir);

  const transport: Transport = opts.transport ?? (await connectToTarget(opts));
  const where = opts.target.kind === 'vm' ? describeTarget(opts.target) : transport.description;

  let agent: RunningProcess | undefined;
  try {
    const helloTimeoutMs = opts.target.kind === 'vm' ? VM_HELLO_TIMEOUT_MS : HELLO_TIMEOUT_MS;
    // One exec when the shipped agent is already there (quickStart.ts); else deploy, then start.
    const quick =
      binaries !== undefined && binaries.size > 0
        ? await quickStart(transport, binaries, {
            ...(opts.workDirectory !== undefined && { workDirectory: opts.workDirectory }),
            notRoot: opts.unprivileged === true ? 'exec' : opts.sudo === 'never' ? 'fall back' : 'sudo -n',
            where,
            timeoutMs: helloTimeoutMs,
            ...(signal !== undefined && { signal }),
          })
        : undefined;
    if (quick !== undefined) {
      agent = quick.process;
      if (opts.workDirectory !== undefined) log(`The agent's files on ${where} live in ${quick.deployed.cacheDir} (workDirectory ${opts.workDirectory}).`);
      log(`Using the shipped ${quick.arch} agent ${quick.deployed.agentDir.slice(quick.deployed.cacheDir.length + 1)}, already on ${where}.`);
      if (quick.lacking.length > 0) log(lackingWarning(where, quick.lacking));
    }
    const deployed = quick?.deployed ?? await deployAgent(transport, sources, {
      ...(binaries !== undefined && { binaries }),
      ...(signal !== undefined && { signal }),
      ...(opts.knownAgentBuilds !== undefined && { knownBuilds: opts.knownAgentBuilds }),
      // Builds recorded per work directory: another one holds none of this one's builds.
      targetKey: opts.workDirectory === undefined ? where : `${where} ${opts.workDirectory}`,
      ...(opts.workDirectory !== undefined && { workDirectory: opts.workDirectory }),
      ...(opts.sudo === 'never' && opts.unprivileged !== true && {
        unlessRoot: ({ uid, userName }: { uid: number; userName: string }) =>
          new AgentSessionError(
            'privilege',
            `The agent on ${where} must run as root, but ${opts.chosenBy ?? 'this session'} says "sudo": "never" and ${userName} is not root (uid ${uid}). ` +
              `Connect as root (e.g. "destination": "root@…"), or set "sudo": "auto" to start the agent through sudo.`,
          ),
      }),
      log,
    });
    const asRoot = deployed.uid === 0 || opts.unprivileged === true;
    /** Starts the agent with `privilege`, or takes over `running`, the one the quick start exec'd that way. */
    const start = async (privilege: Privilege, running?: RunningProcess): Promise<AgentSession> => {
      log(`Starting the agent on ${where}${privilege === 'root' ? '' : privilege === 'sudo -n' ? ' with sudo -n' : ' with sudo and the password given'}.`);
      const markers = privilege === 'sudo with password' ? newSudoMarkers() : undefined;
      const execAgent =
        markers !== undefined ? sudoWithPasswordCommand(deployed.agentPath, markers) : `exec ${privilege === 'sudo -n' ? 'sudo -n ' : ''}${shellQuote(deployed.agentPath)}`;
      // The binary's directories and its sha256 are checked in the same command, right before the exec.
      const started = running ?? (await transport.spawn(verifiedStartCommand(deployed, execAgent)));
      agent = started;
      const stderr = collectStderr(started, log, markers);
      const startFailed = async (status: ExitStatus, cause?: Error): Promise<AgentSessionError> =>
        startFailure(where, deployed, privilege, status, await stderr(), cause);

      if (markers !== undefined) {
        // Nothing of the protocol is sent until sudo has read the password and let the agent run.
        const sudo = await answerSudoPrompts(started, {
          markers,
          prompter: opts.credentials!,
          target: where,
          userName: deployed.userName,
          signal,
          timeoutMs: helloTimeoutMs,
        });
        if (sudo.outcome === 'exited') throw sudo.passwordRefused ? wrongPassword({ target: where, userName: deployed.userName }) : await startFailed(sudo.status);
      }

      let helloDone = false;
      const client = new AgentClient(started.stdout, started.stdin, {
        log,
        explainClose: async (cause) => {
          if (cause) started.kill();
          const status = await exitOrLinkLoss(started, transport.lost);
          if (status instanceof Error) return status;
          if (!helloDone) return startFailed(status, cause);
          const how = cause ? `broke the protocol (${cause.message})` : describeExit(status);
          return new AgentSessionError('closed', `The agent on ${where} ${how}.${stderrSuffix(await stderr())}`);
        },
      });
      void transport.lost.then((reason) => client.close(reason));

      let hello: HelloResult;
      let ticket: ResumeTicket | null;
      let resumed: ResumedState | undefined;
      if (opts.resume !== undefined) {
        opts.resume.listen?.(client);
        const result = await resumeWithTimeout(client, opts.resume, where, signal, helloTimeoutMs);
        ({ hello } = result);
        ticket = opts.resume.ticket;
        resumed = { streams: result.streams, objects: result.objects };
      } else {
        const answer = await helloWithTimeout(client, { clientVersion: opts.clientVersion, ...(opts.graceSeconds !== undefined && { graceSeconds: opts.graceSeconds }) }, where, signal, helloTimeoutMs);
        ticket = answer.resume ?? null;
        hello = { ...answer, resume: null };
      }
      helloDone = true;
      if (hello.protocolVersion !== AGENT_PROTOCOL_VERSION) {
        throw new AgentSessionError(
          'agent-start',
          `The agent on ${where} speaks protocol ${hello.protocolVersion}, this client ${AGENT_PROTOCOL_VERSION}: its sources do not match this client. Reinstall the extension.`,
        );
      }
      log(`Agent ${hello.agentVersion} on ${where}: kernel ${hello.kernelRelease} (${hello.arch}), BTF ${hello.btf ? 'yes' : 'no'}, ${hello.clang ?? 'no clang'}.`);
      // An agent that only compiles needs no privilege; one that loads must be able to.
      if (opts.unprivileged !== true) {
        const missing = missingPrivilege(hello, where);
        if (missing !== undefined) {
          client.close(missing);
          throw missing;
        }
        for (const warning of privilegeWarnings(hello, where)) log(warning);
      }
      if (resumed !== undefined) log(`Resumed the session on ${where}: ${resumed.objects.length} object(s), ${resumed.streams.length} stream(s) still running.`);
      return makeSession({ target: opts.target, description: where, hello, client, agent: started, transport, ticket, resumed, log });
    };

    if (asRoot) return await start('root', quick?.process);
    try {
      return await start('sudo -n', quick?.process);
    } catch (error) {
      // sudo wants a password: ask for it (once someone can be asked) and start again with it.
      if (!(error instanceof AgentSessionError && error.kind === 'sudo-password' && opts.credentials !== undefined)) throw error;
      log(`sudo on ${where} wants ${deployed.userName}'s password.`);
      return await start('sudo with password');
    }
  } catch (error) {
    agent?.kill();
    await transport.dispose();
    throw error;
  }
}

/**
 * The link to the target an agent session runs over: this machine, or an SSH connection made with
 * the options' host-key policy and credentials. The session process (cli/sessionProcess.ts) makes one
 * per target and starts several agents over it, each through `transport`.
 */
export async function connectToTarget(opts: Omit<OpenSessionOptions, 'clientVersion'>): Promise<Transport> {
  const { signal } = opts;
  const log = opts.log ?? (() => {});
  if (opts.target.kind === 'local') return new LocalTransport();
  // ssh2 is loaded only for a remote target: evaluating it costs a local check ~50 ms at start.
  const { connectSshTarget } = await import('./sshClientChoice');
  return opts.target.kind === 'vm'
    ? await connectSshTarget({ ...vmSshOptions(opts.target.name), sshClient: 'builtin', ...(signal !== undefined && { signal }), log })
    : await connectSshTarget({
        ...(opts.sshClient !== undefined && { sshClient: opts.sshClient }),
        host: opts.target.host,
        ...(opts.target.user !== undefined && { user: opts.target.user }),
        ...(opts.target.port !== undefined && { port: opts.target.port }),
        ...(opts.knownHostsFile !== undefined && { knownHostsFile: opts.knownHostsFile }),
        ...(opts.identityFile !== undefined && { identityFile: opts.identityFile }),
        ...(opts.sshConfigFile !== undefined && { sshConfigFile: opts.sshConfigFile }),
        ...(opts.confirmUnknownHostKey !== undefined && { confirmUnknownHostKey: opts.confirmUnknownHostKey }),
        ...(opts.credentials !== undefined && { credentials: opts.credentials }),
        ...(signal !== undefined && { signal }),
        log,
      });
}

/** How the agent gets root: it has it, `sudo -n` (no password needed), or sudo given a password. */
type Privilege = 'root' | 'sudo -n' | 'sudo with password';

interface SessionParts {
  target: TargetSpec;
  description: string;
  hello: HelloResult;
  client: AgentClient;
  agent: RunningProcess;
  transport: Transport;
  ticket: ResumeTicket | null;
  resumed: ResumedState | undefined;
  log: (line: string) => void;
}

function makeSession(parts: SessionParts): AgentSession {
  const { target, description, hello, client, agent, transport, ticket, log } = parts;
  let disposing: Promise<void> | undefined;
  return {
    target,
    description,
    hello,
    client,
    resumeTicket: ticket,
    ...(parts.resumed !== undefined && { resumed: parts.resumed }),
    closed: client.closed,
    dispose: () => {
      disposing ??= (async () => {
        // Ended on purpose: no grace period, so the agent releases everything when its input ends.
        // Over a dead link this cannot arrive, and the agent waits out the grace period first.
        if (ticket !== null) await endGracePeriod(client, description, log);
        // Closing the client ends the agent's stdin; the agent exits on EOF, which releases everything it holds.
        client.close(new AgentSessionError('closed', `The session to ${description} was closed.`));
        const exited = await Promise.race([agent.exited.then(() => true), delay(STOP_GRACE_MS).then(() => false)]);
        if (!exited) agent.kill();
        await transport.dispose();
      })();
      return disposing;
    },
  };
}

async function endGracePeriod(client: AgentClient, description: string, log: (line: string) => void): Promise<void> {
  const timeout = AbortSignal.timeout(STOP_GRACE_MS);
  try {
    await client.request('session.end', {}, timeout);
  } catch (error) {
    log(`Could not end the grace period of the session on ${description} (${error instanceof Error ? error.message : String(error)}): its agent releases what it holds when the grace period ends.`);
  }
}

async function helloWithTimeout(
  client: AgentClient,
  params: { clientVersion: string; graceSeconds?: number },
  where: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<HelloResult> {
  return withStartTimeout((combined) => client.request('hello', params, combined), 'hello', where, signal, timeoutMs);
}

/** session.resume, its refusals as the session errors a UI acts on. */
async function resumeWithTimeout(
  client: AgentClient,
  resume: NonNullable<OpenSessionOptions['resume']>,
  where: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<SessionResumeResult> {
  const { agentId, token } = resume.ticket;
  try {
    return await withStartTimeout((combined) => client.request('session.resume', { agentId, token, streams: resume.streams }, combined), 'session.resume', where, signal, timeoutMs);
  } catch (error) {
    if (error instanceof AgentError && error.code === ErrorCode.SessionExpired) {
      throw new AgentSessionError('session-expired', `The session on ${where} cannot be resumed: ${error.message}`, { cause: error });
    }
    if (error instanceof AgentError && error.code === ErrorCode.SessionRefused) {
      throw new AgentSessionError('session-refused', `The session on ${where} cannot be resumed: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

async function withStartTimeout<T>(
  request: (signal: AbortSignal) => Promise<T>,
  method: string,
  where: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  try {
    return await request(combined);
  } catch (error) {
    if (timeout.signal.aborted && !signal?.aborted) {
      throw new AgentSessionError('agent-start', `The agent on ${where} started but did not answer '${method}' within ${timeoutMs / 1000} s.`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The agent's exit status, or the link-loss reason when its channel vanished with the connection. */
async function exitOrLinkLoss(agent: RunningProcess, lost: Promise<Error>): Promise<ExitStatus | Error> {
  let first = await Promise.race([agent.exited, lost, delay(STOP_GRACE_MS).then(() => undefined)]);
  if (first === undefined) {
    // It closed its stdout but lingers: stop it, so the reason below is final and nothing waits on it.
    agent.kill();
    first = await Promise.race([agent.exited, lost]);
  }
  if (first instanceof Error || first.failure === undefined) return first;
  // No exit status: the SSH channel went away, normally because the whole connection did.
  const reason = await Promise.race([lost, delay(STOP_GRACE_MS).then(() => undefined)]);
  return reason ?? first;
}

function startFailure(where: string, deployed: DeployedAgent, privilege: Privilege, status: ExitStatus, stderr: string, cause: Error | undefined): AgentSessionError {
  const { agentPath, userName } = deployed;
  const refused = integrityFailure(stderr, { where, userName, agent: deployed });
  if (refused !== undefined) return refused;
  const asRoot = privilege === 'root';
  if (privilege === 'sudo -n' && /sudo:.*(password is required|terminal is required|askpass)/i.test(stderr)) {
    return new AgentSessionError(
      'sudo-password',
      `The agent must run as root on ${where}, but sudo asks ${userName} for a password. Connect as root (e.g. ssh://root@…), ` +
        `or allow passwordless sudo for the agent: add '${userName} ALL=(root) NOPASSWD: sha256:${deployed.sha256} ${agentPath}' with visudo on the target ` +
        `(sudo then runs that path only while it holds these bytes).`,
    );
  }
  if (!asRoot && /sudo: sorry, you must have a tty to run sudo/.test(stderr)) {
    return new AgentSessionError(
      'agent-start',
      `The agent must run as root on ${where}, but sudo there runs only from a terminal ("Defaults requiretty") and eBPF Studio's commands have none. ` +
        `Connect as root, or exempt ${userName} with visudo on the target: 'Defaults:${userName} !requiretty'.`,
    );
  }
  if (!asRoot && status.exitCode === 127 && /sudo/.test(stderr)) {
    return new AgentSessionError('agent-start', `The agent must run as root on ${where}, but sudo is not installed there. Connect as root or install sudo.`);
  }
  const how = cause ? `broke the protocol before answering 'hello' (${cause.message})` : `${describeExit(status)} before answering 'hello'`;
  return new AgentSessionError('agent-start', `The agent on ${where} ${how}.${stderrSuffix(stderr)}`);
}

function describeExit(status: ExitStatus): string {
  if (status.failure !== undefined) return `stopped: ${status.failure}`;
  if (status.signal !== null) return `was killed by signal ${status.signal}`;
  return `exited with status ${status.exitCode}`;
}

function stderrSuffix(stderr: string): string {
  const tail = tailOf(stderr, 15, 2000);
  return tail === '' ? ' It wrote nothing on stderr.' : ` Its stderr ended with:\n${tail}`;
}

/**
 * Forwards the agent's stderr lines to the log and keeps the last few KiB for failure messages;
 * sudo's markers (when it was asked for a password) are left out of both.
 */
function collectStderr(agent: RunningProcess, log: (line: string) => void, markers: SudoMarkers | undefined): () => Promise<string> {
  let tail = '';
  let partial = '';
  const scrub = (text: string): string => (markers === undefined ? text : withoutSudoMarkers(text, markers));
  agent.stderr.setEncoding('utf8');
  agent.stderr.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines.map(scrub)) if (line.trim() !== '') log(`agent: ${line}`);
  });
  const ended = new Promise<void>((resolve) => {
    agent.stderr.on('end', () => {
      if (scrub(partial).trim() !== '') log(`agent: ${scrub(partial)}`);
      partial = '';
      resolve();
    });
    agent.stderr.on('close', resolve);
  });
  // Asked once the agent is gone: its last words may still be on their way (the exit status and
  // stderr reach us through separate streams), so up to the end of stderr, but never longer than a
  // clean stop may take (a child the agent left behind can hold stderr open).
  return async () => {
    await Promise.race([ended, delay(STOP_GRACE_MS)]);
    return scrub(tail);
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
