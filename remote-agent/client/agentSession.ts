/**
 * One working connection to an agent: reach the target (local or SSH), deploy the agent, start it
 * as root (directly, or through `sudo -n`), say hello. Every way this can fail ends in one
 * AgentSessionError whose `kind` a UI can act on; once running, the session's `closed` promise tells
 * the one reason it stopped (agent exit with its stderr tail, or the SSH link lost).
 */
import { AGENT_PROTOCOL_VERSION, type HelloResult } from '../protocol';
import { abortReason } from './abortReason';
import { AgentClient } from './agentClient';
import { deployAgent, readAgentBinaries, readAgentSources } from './deployAgent';
import type { HostKeyInfo } from './knownHosts';
import { LocalTransport } from './localTransport';
import { AgentSessionError } from './sessionError';
import { connectSsh } from './sshTransport';
import { describeTarget, type TargetSpec } from './targetSpec';
import { shellQuote, tailOf, type ExitStatus, type RunningProcess, type Transport } from './transport';
import { vmSshOptions } from './vm/vmTarget';

export { AgentError } from './agentClient';
export type { HostKeyInfo } from './knownHosts';
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
  /** Else ssh-agent (SSH_AUTH_SOCK), the default ~/.ssh/id_* keys and the ssh config's IdentityFile. */
  identityFile?: string;
  /** Default: OpenSSH's own (~/.ssh/config, /etc/ssh/ssh_config); an alias resolves as `ssh -G` resolves it. */
  sshConfigFile?: string;
  /** Absent → unknown host keys are refused; resolving true → trusted and appended to knownHostsFile. */
  confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean>;
  clientVersion: string;
  signal?: AbortSignal;
  /** Progress and background lines for an Output channel (never secrets). */
  log?: (line: string) => void;
  /**
   * Start the agent as the connecting user, never through sudo: enough for an agent that only
   * compiles (compileOnClient.ts), which needs no privilege. Default: root, through sudo -n if needed.
   */
  unprivileged?: boolean;
}

export interface AgentSession {
  readonly target: TargetSpec;
  /** 'local' or 'user@host:port'. */
  readonly description: string;
  readonly hello: HelloResult;
  readonly client: AgentClient;
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

  const transport: Transport =
    opts.target.kind === 'local'
      ? new LocalTransport()
      : opts.target.kind === 'vm'
        ? await connectSsh({ ...vmSshOptions(opts.target.name), ...(signal !== undefined && { signal }), log })
        : await connectSsh({
          host: opts.target.host,
          ...(opts.target.user !== undefined && { user: opts.target.user }),
          ...(opts.target.port !== undefined && { port: opts.target.port }),
          ...(opts.knownHostsFile !== undefined && { knownHostsFile: opts.knownHostsFile }),
          ...(opts.identityFile !== undefined && { identityFile: opts.identityFile }),
          ...(opts.sshConfigFile !== undefined && { sshConfigFile: opts.sshConfigFile }),
          ...(opts.confirmUnknownHostKey !== undefined && { confirmUnknownHostKey: opts.confirmUnknownHostKey }),
          ...(signal !== undefined && { signal }),
          log,
        });
  const where = opts.target.kind === 'vm' ? describeTarget(opts.target) : transport.description;

  let agent: RunningProcess | undefined;
  try {
    const deployed = await deployAgent(transport, sources, { ...(binaries !== undefined && { binaries }), ...(signal !== undefined && { signal }), log });
    const asRoot = deployed.uid === 0 || opts.unprivileged === true;
    log(`Starting the agent on ${where}${asRoot ? '' : ' with sudo -n'}.`);
    const started = await transport.spawn(`exec ${asRoot ? '' : 'sudo -n '}${shellQuote(deployed.agentPath)}`);
    agent = started;
    const stderr = collectStderr(started, log);

    let helloDone = false;
    const client = new AgentClient(started.stdout, started.stdin, {
      log,
      explainClose: async (cause) => {
        if (cause) started.kill();
        const status = await exitOrLinkLoss(started, transport.lost);
        if (status instanceof Error) return status;
        if (!helloDone) return startFailure(where, deployed.agentPath, deployed.userName, asRoot, status, stderr(), cause);
        const how = cause ? `broke the protocol (${cause.message})` : describeExit(status);
        return new AgentSessionError('closed', `The agent on ${where} ${how}.${stderrSuffix(stderr())}`);
      },
    });
    void transport.lost.then((reason) => client.close(reason));

    const hello = await helloWithTimeout(client, opts.clientVersion, where, signal, opts.target.kind === 'vm' ? VM_HELLO_TIMEOUT_MS : HELLO_TIMEOUT_MS);
    helloDone = true;
    if (hello.protocolVersion !== AGENT_PROTOCOL_VERSION) {
      throw new AgentSessionError(
        'agent-start',
        `The agent on ${where} speaks protocol ${hello.protocolVersion}, this client ${AGENT_PROTOCOL_VERSION}: its sources do not match this client. Reinstall the extension.`,
      );
    }
    log(`Agent ${hello.agentVersion} on ${where}: kernel ${hello.kernelRelease} (${hello.arch}), BTF ${hello.btf ? 'yes' : 'no'}, ${hello.clang ?? 'no clang'}.`);
    return makeSession(opts.target, where, hello, client, started, transport);
  } catch (error) {
    agent?.kill();
    await transport.dispose();
    throw error;
  }
}

function makeSession(target: TargetSpec, description: string, hello: HelloResult, client: AgentClient, agent: RunningProcess, transport: Transport): AgentSession {
  let disposing: Promise<void> | undefined;
  return {
    target,
    description,
    hello,
    client,
    closed: client.closed,
    dispose: () => {
      disposing ??= (async () => {
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

async function helloWithTimeout(client: AgentClient, clientVersion: string, where: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<HelloResult> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  try {
    return await client.request('hello', { clientVersion }, combined);
  } catch (error) {
    if (timeout.signal.aborted && !signal?.aborted) {
      throw new AgentSessionError('agent-start', `The agent on ${where} started but did not answer 'hello' within ${timeoutMs / 1000} s.`);
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

function startFailure(
  where: string,
  agentPath: string,
  userName: string,
  asRoot: boolean,
  status: ExitStatus,
  stderr: string,
  cause: Error | undefined,
): AgentSessionError {
  if (!asRoot && /sudo:.*(password is required|terminal is required|askpass)/i.test(stderr)) {
    return new AgentSessionError(
      'sudo-password',
      `The agent must run as root on ${where}, but sudo asks ${userName} for a password. Connect as root (e.g. ssh://root@…), ` +
        `or allow passwordless sudo for the agent: add '${userName} ALL=(root) NOPASSWD: ${agentPath}' with visudo on the target.`,
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

/** Forwards the agent's stderr lines to the log and keeps the last few KiB for failure messages. */
function collectStderr(agent: RunningProcess, log: (line: string) => void): () => string {
  let tail = '';
  let partial = '';
  agent.stderr.setEncoding('utf8');
  agent.stderr.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) log(`agent: ${line}`);
  });
  agent.stderr.on('end', () => {
    if (partial !== '') log(`agent: ${partial}`);
    partial = '';
  });
  return () => tail;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
