/**
 * The agent that runs as root is the one we shipped, from a place only its user controls.
 *
 * Every start of the agent is one remote shell command that (1) checks that the cache directory
 * (`~/.cache/ebpf-studio`) and the agent's `agent-<hash12>` directory are real directories (not
 * symbolic links) owned by the connecting user and writable by no one else, and drops any group or
 * other permission bits left on them (they are created 0700), (2) hashes the agent binary with
 * sha256sum and compares it with the hash this client expects, and (3) only then `exec`s that same
 * path, directly or through sudo. A mismatch moves the agent's directory aside (kept for
 * inspection; the next connection installs a fresh copy) and the session fails with
 * 'agent-integrity' instead of running it.
 *
 * Why verify-then-exec the path rather than exec a verified file descriptor: the agent often runs
 * through `sudo -n PATH`, which must name the path a sudoers rule allows and closes every inherited
 * descriptor, so `/proc/self/fd/N` cannot reach it. Instead, the directories holding the binary
 * are checked, in the same command, to be writable only by the user and root; no one else can swap
 * or rewrite the file between the hash and the exec, and anything that changed it at rest (another
 * user through a once-loose directory, a restored backup, a stray edit) is caught by the hash. A
 * process that already runs as the user could race the two steps, but it could as well wait for
 * the user's sudo password; for a sudo rule the error messages name sudo's own `sha256:` digest
 * match, which sudo checks on the file it executes.
 *
 * What this client expects: for a shipped binary the sha256 of the bytes we ship; for one built from
 * source on the target, the sha256 recorded right after this client built it (knownAgentBuilds.ts).
 */
import { AgentSessionError } from './sessionError';
import { shellQuote } from './transport';

/** Where the agent lives on the target, and the sha256 (hex) it must have to be run. */
export interface VerifiableAgent {
  /** `$HOME/.cache/ebpf-studio` on the target, or the named target's workDirectory (namedTargets.ts). */
  cacheDir: string;
  /** `cacheDir/agent-<hash12>`: what is moved aside when the binary does not match. */
  agentDir: string;
  agentPath: string;
  sha256: string;
}

/** Starts every line our remote checks write on stderr; the rest of the line says what they found. */
const MARKER = 'ebpf-studio-integrity:';
/** The exit status of a remote check that refused (not a status the agent, sudo or sh use). */
export const INTEGRITY_EXIT = 86;

/**
 * sh functions for the remote checks. `ebpf_private DIR` refuses (exit 86, a marker line on stderr)
 * a DIR that is a symbolic link, not a directory, owned by another uid or writable by group or
 * others, and makes one that is only readable by others private (chmod go-rwx).
 * `ebpf_private_dir_create DIR` first creates DIR (and its missing parents) 0700.
 */
export const PRIVATE_DIR_FUNCTIONS = [
  // Fields are tab-separated, so a path with spaces stays one field.
  `ebpf_refuse() { (IFS='\t'; printf '%s\\t%s\\n' ${shellQuote(MARKER)} "$*") >&2; exit ${INTEGRITY_EXIT}; }`,
  `ebpf_private() {`,
  `  if [ -L "$1" ]; then ebpf_refuse unsafe "$1" symlink; fi`,
  `  ebpf_s=$(stat -c '%u %A' "$1" 2>/dev/null) || ebpf_refuse unsafe "$1" missing`,
  `  ebpf_mode=\${ebpf_s#* }`,
  `  case $ebpf_mode in d*) ;; *) ebpf_refuse unsafe "$1" not-a-directory;; esac`,
  `  if [ "\${ebpf_s%% *}" != "$(id -u)" ]; then ebpf_refuse unsafe "$1" owner "\${ebpf_s%% *}"; fi`,
  `  case $ebpf_mode in ?????w*|????????w*) ebpf_refuse unsafe "$1" writable "$ebpf_mode";; esac`,
  `  case $ebpf_mode in d???------) ;; *) chmod go-rwx "$1" || ebpf_refuse unsafe "$1" chmod "$ebpf_mode";; esac`,
  `}`,
  `ebpf_private_dir_create() { (umask 077 && mkdir -p "$1") 2>/dev/null; ebpf_private "$1"; }`,
].join('\n');

/**
 * The command that verifies `agent` and then runs `execCommand` (which must `exec` the agent at
 * `agent.agentPath`). Run by /bin/sh whatever the user's login shell is.
 */
export function verifiedStartCommand(agent: VerifiableAgent, execCommand: string): string {
  const script = [
    PRIVATE_DIR_FUNCTIONS,
    ...agentVerificationLines({ cacheDir: shellQuote(agent.cacheDir), agentDir: shellQuote(agent.agentDir), agentPath: shellQuote(agent.agentPath) }, agent.sha256),
    execCommand,
  ].join('\n');
  return `exec /bin/sh -c ${shellQuote(script)} ebpf-studio-start`;
}

/**
 * sh lines (after PRIVATE_DIR_FUNCTIONS) that refuse, exit 86, unless the directories are private
 * and the binary has `sha256`; a binary that differs has its directory moved aside. The paths are
 * shell words (quoted, or "$variables" the script set).
 */
export function agentVerificationLines(words: { cacheDir: string; agentDir: string; agentPath: string }, sha256: string): string[] {
  const expected = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new Error(`agentVerificationLines: ${sha256} is not a sha256 in hex`);
  const { cacheDir, agentDir: dir, agentPath: file } = words;
  return [
    `ebpf_private ${cacheDir}`,
    `ebpf_private ${dir}`,
    `if [ -L ${file} ] || [ ! -f ${file} ]; then ebpf_refuse missing ${file}; fi`,
    `command -v sha256sum >/dev/null 2>&1 || ebpf_refuse no-sha256sum`,
    `ebpf_h=$(sha256sum < ${file}) || ebpf_refuse unreadable ${file}`,
    `ebpf_h=\${ebpf_h%% *}`,
    `if [ "$ebpf_h" != ${expected} ]; then`,
    `  ebpf_q=${dir}.tampered-$(date +%Y%m%d-%H%M%S)`,
    `  mv -T ${dir} "$ebpf_q" 2>/dev/null || ebpf_q=`,
    `  ebpf_refuse tampered "$ebpf_h" "$ebpf_q"`,
    `fi`,
  ];
}

/** Who is asking and about what, for the words of an integrity error. */
export interface IntegrityContext {
  /** 'user@host:port' (or 'local', 'vm:NAME'). */
  where: string;
  userName: string;
  agent?: VerifiableAgent;
}

/**
 * The error a remote check's refusal means, from the command's stderr (or undefined when it holds
 * no refusal): what was found, that nothing was run, and what to do.
 */
export function integrityFailure(stderr: string, context: IntegrityContext): AgentSessionError | undefined {
  const line = stderr.split('\n').find((text) => text.startsWith(`${MARKER}\t`));
  if (line === undefined) return undefined;
  const [what = '', ...details] = line.slice(MARKER.length + 1).split('\t');
  const { where, userName, agent } = context;
  if (what === 'unsafe') return new AgentSessionError('agent-integrity', unsafeDirMessage(details, where, userName));
  if (what === 'tampered' && agent !== undefined) {
    const [actual = '?', quarantine = ''] = details;
    const kept =
      quarantine === ''
        ? `It could not be moved aside: remove ${agent.agentDir} on ${where} to have a fresh copy installed.`
        : `It was moved to ${quarantine} for you to inspect, and the next connection installs a fresh copy.`;
    return new AgentSessionError(
      'agent-integrity',
      `The eBPF Studio agent at ${agent.agentPath} on ${where} was changed since it was installed ` +
        `(sha256 ${actual}, expected ${agent.sha256}), so it was not run. ${kept} ` +
        `Something with write access to ${userName}'s files on ${where} changed it: check that machine before connecting again.`,
    );
  }
  if (what === 'missing') return new AgentSessionError('agent-integrity', `The eBPF Studio agent ${details.join(' ')} on ${where} vanished or is not a regular file, so nothing was run. Connect again to reinstall it.`);
  if (what === 'no-sha256sum') {
    return new AgentSessionError('agent-integrity', `${where} has no sha256sum, which eBPF Studio needs to check the agent before running it as root. Install coreutils (or busybox) there.`);
  }
  return new AgentSessionError('agent-integrity', `eBPF Studio could not check the agent on ${where} before running it (${line.slice(MARKER.length + 1).replace(/\t/g, ' ')}), so it was not run.`);
}

function unsafeDirMessage(details: string[], where: string, userName: string): string {
  const [path = '?', reason = '', extra = ''] = details;
  if (reason === 'missing') {
    // Nothing unsafe is there: the directory could not be made (no home, a read-only or foreign parent).
    return (
      `eBPF Studio cannot create ${path} on ${where}, where it keeps the agent: ${userName} cannot make that directory there (its parent is missing, read-only, or not ${userName}'s). ` +
      `Give this target a "workDirectory" ${userName} can create (a named target in ebpfStudio.targets or .ebpf-studio/targets.json), and connect again.`
    );
  }
  const why =
    reason === 'symlink'
      ? 'is a symbolic link, which could lead anywhere'
      : reason === 'owner'
        ? `is owned by uid ${extra}, not by ${userName}`
        : reason === 'writable'
          ? `is writable by other users (${extra})`
          : reason === 'not-a-directory'
            ? 'is not a directory'
            : `cannot be made private (${extra})`;
  const fix =
    reason === 'writable' || reason === 'chmod'
      ? `Check that nobody changed what is in it, then make it private (chmod 700 ${path}) or remove it (rm -rf ${path})`
      : reason === 'owner'
        ? `Check that nobody changed what is in it, then remove it (rm -rf ${path}) or give it to ${userName} (chown -R ${userName} ${path}; chmod 700 ${path})`
        : `Remove it (rm -rf ${path}, or rm ${path} for a link)`;
  return (
    `eBPF Studio refuses to use ${path} on ${where}: it ${why}. The agent kept there runs as root, so anyone who can change that directory could run their own program as root. ` +
    `${fix}, and connect again; eBPF Studio then creates it private to ${userName} (mode 700).`
  );
}
