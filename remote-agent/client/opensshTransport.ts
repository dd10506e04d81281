/**
 * The Transport over the user's own OpenSSH client, for what ssh2 cannot do: certificates (a
 * CertificateFile, `KEY-cert.pub`, hosts vouched for by `@cert-authority`). One master connection
 * (`ssh -M`, ControlPath in a private directory) carries every command as a multiplexed session,
 * so a command costs a channel, not a login. Whatever ssh asks (passphrase, password, an unknown
 * host key) comes through SSH_ASKPASS to our prompts (sshAskpass.ts). ssh reads the user's config
 * as it always does: choosing this client runs the user's ssh as their terminal would
 * (sshClientChoice.ts decides when). Keepalives as in sshTransport.ts: a silent link is noticed
 * within 15 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { abortReason } from './abortReason';
import { askForCredential, describeCredential, type CredentialKind, type CredentialPrompter, type CredentialRequest } from './credentialPrompt';
import type { HostKeyInfo } from './knownHosts';
import { AgentSessionError } from './sessionError';
import { AskpassBridge, classifyAskpassPrompt } from './sshAskpass';
import { effectiveConfigFile } from './sshConfigHosts';
import type { SshHostConfig } from './sshHostConfig';
import { commandOutput, exitAfterOutput, runToCompletion, underPosixShell, writeFileWithCat, type CommandResult, type ExitStatus, type RunningProcess, type Transport } from './transport';

export interface OpensshConnectOptions {
  /** The destination as the user named it (alias or host); ssh resolves it again itself. */
  host: string;
  user?: string;
  port?: number;
  /** What `host` resolves to (sshConfigHosts.ts): names the connection in messages. */
  resolved: SshHostConfig;
  knownHostsFile?: string;
  identityFile?: string;
  sshConfigFile?: string;
  confirmUnknownHostKey?: (info: HostKeyInfo) => Promise<boolean>;
  credentials?: CredentialPrompter;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** How often the master's control socket is looked for while ssh logs in (ms). */
const READY_POLL_MS = 20;
const DISPOSE_WAIT_MS = 2000;

export async function connectOpenssh(options: OpensshConnectOptions): Promise<OpensshTransport> {
  const { signal, resolved } = options;
  if (signal?.aborted) throw abortReason(signal);
  const description = `${resolved.user}@${resolved.hostName}:${resolved.port}`;
  // A short name: a Unix socket path has room for 107 bytes, and ssh adds a suffix while binding.
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ssh-'));
  const controlPath = join(dir, 'c');
  const questions = new AskpassQuestions(options, description);
  let bridge: AskpassBridge | undefined;
  let master: MasterProcess | undefined;
  try {
    bridge = await AskpassBridge.start(dir, (prompt, hint) => questions.answer(prompt, hint, signal));
    const common = commonArguments(options, controlPath);
    const env = { ...process.env, ...bridge.env };
    // -N: no session of its own, so the first command does not wait behind a second login shell.
    master = startMaster([...common, '-M', '-o', 'ControlPersist=no', ...linkLimits(resolved), '-N', '--', options.host], env);
    while (!existsSync(controlPath)) {
      const outcome = await Promise.race([master.exited, delay(READY_POLL_MS).then(() => undefined)]);
      if (signal?.aborted) throw abortReason(signal);
      if (outcome !== undefined) throw questions.failure(outcome, master.stderr());
    }
    questions.connected();
    options.log?.(`Connected to ${description} with the OpenSSH client (ssh -M, one connection for every command).`);
    return new OpensshTransport(description, options.host, common, env, master, bridge, dir);
  } catch (error) {
    master?.process.kill('SIGTERM');
    master?.watchdog.kill('SIGTERM');
    bridge?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

type SshExit = { code: number | null; error?: Error };

/** The `ssh -M` process that holds the connection, how it ended, the end of what it said, and its watchdog. */
interface MasterProcess {
  process: ChildProcess;
  exited: Promise<SshExit>;
  stderr: () => string;
  watchdog: ChildProcess;
}

function startMaster(args: string[], env: NodeJS.ProcessEnv): MasterProcess {
  // Its own process group: a Ctrl-C in the CLI's terminal reaches the CLI, which closes the session, not ssh first.
  const process = spawn('ssh', args, { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const exited = new Promise<SshExit>((resolve) => {
    process.once('error', (error) => resolve({ code: null, error }));
    process.once('exit', (code) => resolve({ code }));
  });
  return { process, exited, stderr: collectTail(process), watchdog: guardAgainstOrphan(process) };
}

/**
 * ssh -M -N outlives us if we die without closing it (killed, crashed): a shell that waits for its
 * stdin (our pipe) to end, which happens only when we are gone, then stops the master.
 */
function guardAgainstOrphan(master: ChildProcess): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', 'read -r _; kill -TERM "$1" 2>/dev/null', 'sh', String(master.pid)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  watchdog.on('error', () => {}); // no /bin/sh: the guard is lost, the connection still works
  return watchdog;
}

/**
 * The built-in client's defaults where the config sets none (sshTransport.ts): connect within 20 s,
 * a keepalive every 5 s, and the link given up after the third unanswered one.
 */
function linkLimits(config: SshHostConfig): string[] {
  const args: string[] = [];
  if (config.connectTimeoutMs === undefined) args.push('-o', 'ConnectTimeout=20');
  if (config.serverAliveIntervalMs === 0) args.push('-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2');
  return args;
}

/** The options every ssh run of this connection shares; each names the master's control socket. */
function commonArguments(options: OpensshConnectOptions, controlPath: string): string[] {
  const args = ['-T', '-o', `ControlPath=${controlPath}`, '-o', 'EscapeChar=none', '-o', 'RequestTTY=no', '-o', 'RemoteCommand=none', '-o', 'ClearAllForwardings=yes', '-o', 'PermitLocalCommand=no'];
  const configFile = effectiveConfigFile(options.sshConfigFile);
  if (configFile !== undefined) args.push('-F', existsSync(configFile) ? configFile : '/dev/null');
  if (options.user !== undefined) args.push('-l', options.user);
  if (options.port !== undefined) args.push('-p', String(options.port));
  if (options.identityFile !== undefined) args.push('-i', options.identityFile);
  // ssh takes ~ from the password database; with $HOME elsewhere (a confined editor, a test) the
  // files are those under $HOME, as the built-in client and sshConfigHosts.ts read them.
  const knownHosts = options.knownHostsFile ?? (homedir() !== userInfo().homedir ? options.resolved.knownHostsFiles.join(' ') : undefined);
  if (knownHosts !== undefined) args.push('-o', `UserKnownHostsFile=${knownHosts}`);
  if (homedir() !== userInfo().homedir) {
    for (const file of options.resolved.identityFiles) args.push('-i', file);
    for (const file of options.resolved.certificateFiles) args.push('-o', `CertificateFile=${file}`);
  }
  return args;
}

/**
 * ssh's questions during one login, asked of our prompts: counts attempts (ssh asks a refused
 * passphrase again), tells a prompter that keeps secrets which answers worked, and remembers a
 * question left unanswered so the failure says so rather than ssh's "Permission denied".
 */
class AskpassQuestions {
  private readonly attempts = new Map<string, number>();
  private readonly answered = new Map<string, CredentialRequest>();
  /** Why the last question went unanswered (declined, or the asking failed): the login's failure then. */
  private unanswered: AgentSessionError | undefined;

  constructor(
    private readonly options: OpensshConnectOptions,
    private readonly description: string,
  ) {}

  async answer(prompt: string, hint: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const question = classifyAskpassPrompt(prompt, hint);
    const { log, credentials, confirmUnknownHostKey } = this.options;
    if (question.kind === 'notice') {
      log?.(`ssh: ${question.text}`);
      return '';
    }
    if (question.kind === 'host-key') {
      const info: HostKeyInfo = {
        host: question.host,
        port: question.port,
        keyType: question.keyType,
        fingerprint: question.fingerprint,
        knownHostsFile: this.options.knownHostsFile ?? this.options.resolved.knownHostsFiles[0]!,
      };
      const trusted = confirmUnknownHostKey !== undefined && (await confirmUnknownHostKey(info));
      if (!trusted) {
        this.unanswered = new AgentSessionError(
          'unknown-host-key',
          `The host key of ${this.description} (${info.keyType} ${info.fingerprint}) is not in ${info.knownHostsFile}${confirmUnknownHostKey === undefined ? '' : ' and was not trusted'}. Check the fingerprint with the host's administrator, then connect again and trust it.`,
          { hostKey: info },
        );
      }
      return trusted ? 'yes' : 'no';
    }
    if (credentials === undefined) return undefined;
    const kind: CredentialKind = question.kind;
    const attempt = (this.attempts.get(prompt) ?? 0) + 1;
    this.attempts.set(prompt, attempt);
    const previous = this.answered.get(prompt);
    if (previous !== undefined) credentials.refused?.(previous);
    const request: CredentialRequest = {
      kind,
      target: this.description,
      prompt: question.kind === 'keyboard-interactive' ? question.prompt : prompt.trim(),
      echo: question.kind === 'keyboard-interactive' ? question.echo : false,
      attempt,
      ...(question.kind === 'key-passphrase' && { keyFile: question.keyFile }),
    };
    try {
      const text = await askForCredential(credentials, request, signal ?? new AbortController().signal);
      this.answered.set(prompt, request);
      return text;
    } catch (error) {
      // ssh hears "no answer" and gives up on this method; the failure says why in our words.
      this.unanswered = error instanceof AgentSessionError ? error : new AgentSessionError('connect', `Asking for ${describeCredential(request)} failed: ${(error as Error).message}`, { cause: error });
      return undefined;
    }
  }

  /** Logged in: every answer given last was accepted. */
  connected(): void {
    for (const request of this.answered.values()) this.options.credentials?.accepted?.(request);
  }

  /** Why ssh exited before logging in, in words a user can act on. */
  failure(outcome: SshExit, stderr: string): AgentSessionError {
    if (this.unanswered !== undefined) return this.unanswered;
    if (outcome.error !== undefined) {
      const missing = (outcome.error as NodeJS.ErrnoException).code === 'ENOENT';
      return new AgentSessionError(
        'connect',
        missing
          ? `Cannot reach ${this.description} with the OpenSSH client: no 'ssh' program on PATH (apt-get install openssh-client), or set ebpfStudio.sshClient to "builtin".`
          : `Cannot start ssh for ${this.description}: ${outcome.error.message}`,
        { cause: outcome.error },
      );
    }
    const said = stderr.trim() || `ssh exited with status ${outcome.code}`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(said)) {
      return new AgentSessionError('changed-host-key', `The host key of ${this.description} changed; ssh refused to connect. What ssh said (it names the known_hosts line to check):\n${said}`);
    }
    // Revoked as the built-in client says it (knownHosts.ts): a refusal, never an offer to trust.
    if (/REVOKED HOST KEY|is marked as revoked/i.test(said)) {
      return new AgentSessionError('changed-host-key', `The host key of ${this.description} is revoked in known_hosts; ssh refused to connect:\n${said}`);
    }
    if (/Host key verification failed|No .* host key is known/i.test(said)) {
      return new AgentSessionError('unknown-host-key', `ssh did not trust the host key of ${this.description}: ${said}`);
    }
    if (/Permission denied/i.test(said)) {
      const { identityFile } = this.options;
      const via = identityFile !== undefined ? `key ${identityFile}` : 'your ssh config, ssh-agent and default keys';
      return new AgentSessionError('auth', `${this.description} refused every way ssh tried to log in (${via}, certificates included): ${said}`);
    }
    return new AgentSessionError('connect', `Cannot connect to ${this.description} with the OpenSSH client: ${said}`);
  }
}

export class OpensshTransport implements Transport {
  readonly description: string;
  readonly lost: Promise<Error>;
  private readonly children = new Set<ChildProcess>();
  private lostReason: Error | undefined;
  private disposed = false;

  constructor(
    description: string,
    private readonly destination: string,
    private readonly common: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly master: MasterProcess,
    private readonly bridge: AskpassBridge,
    private readonly dir: string,
  ) {
    this.description = description;
    this.lost = master.exited.then((outcome) => {
      master.watchdog.kill('SIGTERM');
      const why = this.disposed ? 'the session was closed' : master.stderr().trim().split('\n').pop() || `ssh exited with status ${outcome.code}`;
      this.lostReason = new AgentSessionError('closed', `connection to ${description} lost: ${why}`);
      this.bridge.close();
      return this.lostReason;
    });
  }

  async run(command: string, options: { signal?: AbortSignal; stdin?: string } = {}): Promise<CommandResult> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    return runToCompletion(await this.spawn(command), options);
  }

  async spawn(command: string): Promise<RunningProcess> {
    if (this.lostReason !== undefined) throw new AgentSessionError('closed', `cannot run a command on ${this.description}: ${this.lostReason.message}`);
    // BatchMode: a session rides the master's login; should the master just have gone, ssh would
    // log in on its own, and that must fail rather than ask a person a second time.
    const child = spawn('ssh', [...this.common, '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', '--', this.destination, underPosixShell(command)], {
      env: this.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.add(child);
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('error', (error) => resolve({ exitCode: null, signal: null, failure: `cannot start ssh: ${error.message}` }));
      child.once('close', (code, signalName) => {
        this.children.delete(child);
        // 255 is ssh's own failure; with the master gone it is the link's, not the command's.
        if (code === 255 && this.lostReason !== undefined) resolve({ exitCode: null, signal: null, failure: this.lostReason.message });
        else resolve({ exitCode: code, signal: signalName });
      });
    });
    const stdout = commandOutput(child.stdout!);
    return { stdin: child.stdin!, stdout, stderr: child.stderr!, exited: exitAfterOutput(exited, stdout), kill: () => child.kill('SIGTERM') };
  }

  writeFile(path: string, content: Buffer, mode: number, signal?: AbortSignal): Promise<void> {
    return writeFileWithCat(this, path, content, mode, signal);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.kill('SIGTERM');
    this.master.process.kill('SIGTERM');
    await Promise.race([this.lost, delay(DISPOSE_WAIT_MS)]);
    this.master.process.kill('SIGKILL');
    this.bridge.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Keeps the last 8 KiB of a process's stderr, for the message when it fails. */
function collectTail(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-8192);
  });
  return () => text.replace(/\r/g, '');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
