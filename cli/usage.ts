/**
 * What `ebpf-studio --help` and `ebpf-studio COMMAND --help` print. main.ts answers --help from
 * here before a command parses its arguments, since a command's strict option parser would call
 * --help an unknown option. A new command adds its usage to COMMAND_USAGE (the unit test
 * cliHelp.test.ts fails for a command main.ts dispatches without one).
 */
import { ATTACH_SPEC_FORMS } from '../remote-agent/client/attachSpec';

const CONNECTION = `  --target local|ssh://[user@]host[:port]|vm:NAME|TARGET-NAME
                         where to compile and load (default: local); an ~/.ssh/config alias works too;
                         vm:NAME is a kernel VM started with 'ebpf-studio vm start'; a TARGET-NAME is one
                         of .ebpf-studio/targets.json (here or in a folder above) or $EBPF_STUDIO_TARGETS
  --identity KEYFILE     private key for an SSH target; a passphrase, an SSH password and a sudo password
                         are asked on the terminal (echo off), else through the SSH_ASKPASS program
  --known-hosts FILE     known_hosts to check the host key against (default ~/.ssh/known_hosts);
                         an unknown or changed key is refused with its fingerprint
  --ssh-client auto|builtin|openssh
                         which SSH client connects (default auto: the built-in one, except for a target
                         that uses OpenSSH certificates, which goes through your ssh program)
  --no-session           connect directly instead of through the session process, which otherwise keeps
                         the SSH connection and an agent warm for the next run (10 min after the last;
                         EBPF_STUDIO_SESSION=off does the same, EBPF_STUDIO_SESSION_IDLE_SECONDS sets the time)`;

const CFLAGS = `  --cflags "FLAGS"       the project's -I/-iquote/-isystem/-D/-U flags, when it has no compile_commands.json
                         or .clangd (those are read first); workspace headers they reach are sent and win
                         over the target's`;

const PRESETS = `  --set NAME=VALUE       a global variable's value as the programs' loader sets it before load
                         (a const volatile filter such as targ_pid=4242; an integer, true/false or an enumerator)
  --map-size MAP=N       a map's max_entries as the loader sets it (maps defined with size 0)
  --attach-target PROG=FUNC
                         the kernel function a fentry/fexit/lsm program attaches to, when its loader
                         retargets it (SEC("fentry/dummy_file_read")); each flag may be repeated`;

/** The usage of each command, first line `usage: ebpf-studio COMMAND …`. */
export const COMMAND_USAGE: Record<string, string> = {
  check: `usage: ebpf-studio check FILE... [--target …]... [--targets-from FILE] [--identity KEYFILE] [--known-hosts FILE]
                          [--compile-on auto|target|client] [--cflags "FLAGS"] [--format text|json|sarif]
                          [--top-src-lines N] [--set NAME=VALUE]... [--map-size MAP=N]... [--attach-target PROG=FUNC]...

Compiles each FILE against the target kernel's own vmlinux.h and loads every program so the target's
verifier judges it; prints diagnostics as FILE:LINE:COL lines. Several targets (a kernel matrix) are
checked concurrently, followed by a table of verdicts, one row per program and one column per target,
and the programs that pass on one kernel but not another.

${CONNECTION}
                         repeat --target for a kernel matrix
  --targets-from FILE    more targets, one per line ('#' starts a comment)
  --compile-on auto|target|client
                         where clang runs: auto (default) compiles on the target when it has clang,
                         else here against its BTF; kernel VMs always compile here
${CFLAGS}
  --format text|json|sarif
                         text (default), JSON {diagnostics, programs, unreachable}, each entry naming its
                         target, or SARIF 2.1.0 for code scanning (one run per target)
  --top-src-lines N      each program's N costliest source lines by instructions the verifier
                         processed (as veristat -S), and the lines it never reached; the JSON
                         programs gain topSourceLines and unreachedLines
${PRESETS}

exit status: 0 every program compiled and passed on every target, 1 any error or rejection,
2 usage, connection or host-key problems (a matrix still reports the targets it reached)`,
  compare: `usage: ebpf-studio compare FILE... [--base REV] [--target …] [--identity KEYFILE] [--known-hosts FILE]
                            [--compile-on auto|target|client] [--cflags "FLAGS"] [--format text|json]
                            [--set NAME=VALUE]... [--map-size MAP=N]... [--attach-target PROG=FUNC]...
       ebpf-studio compare FILE... --target A --target B [options as above]

Compares what verifying each program costs, like veristat -C: instructions processed, states (total
and peak), verification time, stack depth and program size, side A against side B, with the
difference ("+12 (+3.4%)"). With one target (default local), A is each FILE as committed in REV and
B is the FILE as it is now, both checked there (only FILE's own text comes from REV; the headers it
includes are the ones on disk). With two targets, A and B are the files as they are on each target.
Programs on one side only and changed verdicts are marked; a program is flagged when it is no longer
accepted, its processed instructions at least doubled, or they came within 10% of the limit.

  --base REV             the git revision side A is taken from (default HEAD); one target only
${CONNECTION}
  --compile-on auto|target|client
                         where clang runs, as for check
${CFLAGS}
  --format text|json     the table (default), or JSON {base, current, rows}: each row's file, program,
                         verdicts and per figure {base, current, diff, percent}, and its flags
${PRESETS}

exit status: 0 compared and nothing flagged, 1 a program flagged, 2 usage, git or connection problems`,
  run: `usage: ebpf-studio run FILE [--target …] [--identity KEYFILE] [--known-hosts FILE] [--format text|json]
                        [--attach [PROGRAM=]SPEC]... [--duration SECONDS] [--cflags "FLAGS"]
                        [--set NAME=VALUE]... [--map-size MAP=N]... [--attach-target PROG=FUNC]...

Verifies FILE as check does, attaches its programs, prints decoded ring/perf buffer records and
bpf_printk lines until Ctrl-C or --duration, then detaches everything and prints per-stream counters.
For a kernel VM or a target without clang, FILE is compiled here against the target kernel's BTF.

${CONNECTION}
${CFLAGS}
  --format text|json     text (default) or one JSON object per line
  --attach [PROGRAM=]SPEC
                         where to attach a program whose section names no target; repeatable. SPECs:
                           ${ATTACH_SPEC_FORMS.join('\n                           ')}
  --duration SECONDS     stop after this long (default: until Ctrl-C)

exit status: 0 ran and stopped, 1 rejected or could not attach, 2 usage or connection problems`,
  explain: `usage: ebpf-studio explain MESSAGE... | --log FILE

Explains a verifier message (quote it, or pass its words) from eBPF Studio's knowledge base: what
it means, the usual fix and where it is documented. With --log FILE, reads a saved verifier log
(e.g. from bpftool or a loader at log level 1 or 2) and prints its error, the explanation, the
kernel's own reason and suggestion on 7.3+, and the instructions that led to it.

exit status: 0 explained, 1 the message is not known (report it) or the log holds no error, 2 usage`,
  vm: `usage: ebpf-studio vm start 6.1|6.12|7.2|7.3|PACKAGE [--name NAME] | list | stop NAME...|--all | logs NAME

Throwaway kernel VMs to verify and run on: a Debian kernel (bookworm's 6.1, trixie's 6.12, sid's 7.2,
experimental's 7.3, or any Debian kernel package by name) downloaded once into ~/.cache/ebpf-studio,
booted in QEMU with this machine's root file system read-only under a RAM overlay. The guest is
reached only by SSH on 127.0.0.1 with per-VM keys, and has no route out.

  vm start KERNEL        boot it (no-op when it runs) and print its target, vm:NAME, for --target
    --name NAME          the VM's name (default: KERNEL)
    --refresh            look for a newer build in Debian's archive (default: boot the cached kernel)
    --memory MIB         guest memory (default 2048)    --cpus N   guest CPUs (default 2)
    --timeout SECONDS    how long boot may take until SSH answers (default 180)
    -v, --verbose        also print the QEMU command line and SSH polling
  vm list [--format text|json]   the VMs with their kernel, state and port
  vm stop NAME...|--all  stop (SIGTERM, then SIGKILL) and remove their state
  vm logs NAME           the VM's serial console log

Needs qemu-system-x86, busybox-static, openssh-server, kmod and xz-utils (scripts/bootstrap.sh).
exit status: 0 done, 2 usage or failure (the reason on stderr; a failed boot shows the console's end)`,
  templates: `usage: ebpf-studio templates [--format text|json] [--target …] [--identity KEYFILE] [--known-hosts FILE]

Lists the program templates (bpf-templates/ in the package), grouped by hook kind: each one's id,
title, description and parameters with their defaults. Each template is a BPF program, its event
header, a standalone loader on a libbpf skeleton with a Makefile, and a README; 'ebpf-studio new'
writes one. With --target, the target's agent probes its kernel and each template is marked with
whether that kernel can run it, and if not, what it lacks.

${CONNECTION}
  --format text|json     text (default), or a JSON array of {id, title, description, hook, programTypes,
                         parameters, minKernel}, with runnable and notRunnableReason when --target is given

exit status: 0 listed, 2 usage or connection problems`,
  new: `usage: ebpf-studio new TEMPLATE DIR [--param NAME=VALUE]...

Writes the template TEMPLATE (see ebpf-studio templates) into DIR, created if needed: the program,
its event header, the standalone loader, its Makefile and README, with each parameter substituted
(its default unless given). Also writes DIR/.clangd with the flags clangd needs for *.bpf.c, with a
vmlinux.h from this machine's BTF in ~/.cache/ebpf-studio (the rest of an existing .clangd is kept). Refuses, writing nothing, when any of the template's files
already exists in DIR. Prints the files written and what to run next.

  --param NAME=VALUE     a parameter's value (e.g. --param tracepoint=syscalls/sys_enter_openat);
                         checked against the parameter's kind before it is written; repeatable

exit status: 0 written, 2 an unknown template or parameter, a bad value, or files already in DIR`,
  lsp: `usage: ebpf-studio lsp [--stdio | --node-ipc | --socket=PORT] [--target …] [--identity KEYFILE] [--known-hosts FILE]

Runs the eBPF language server for any LSP client (Neovim, Helix, Emacs …; see docs/editors.md).
Without a transport option it speaks LSP over stdin/stdout. With a target, completion, hover and
diagnostics describe that target's kernel (its BTF, kfuncs and helper probe), not this machine's;
clients may also send {"ebpfStudio": {"target", "identityFile", "knownHostsFile", "sshClient"}} as
initializationOptions or in workspace/didChangeConfiguration settings.

${CONNECTION}`,
  mcp: `usage: ebpf-studio mcp [--target …]... [--allow-target TARGET]... [--idle-seconds N] [--identity KEYFILE] [--known-hosts FILE]

A Model Context Protocol server on stdin/stdout for coding agents (VS Code's agent mode, any MCP
client): tools list_targets, kernel_features, check (verify a file or a source text: diagnostics with
explanations, causal chains and quick-fix edits), run, explain, templates and new_program (write a
template into a directory the agent names; never overwrites). Agents only get the targets named with
--target (default: local; the first is the default target). The first use of each target in a
session asks the user through the client (MCP elicitation) unless it is named with --allow-target;
a client that cannot ask is refused with what to configure. Each call is logged on stderr.

  --target local|ssh://[user@]host[:port]|vm:NAME
                         a target agents may use (repeat for several; an ~/.ssh/config alias works too)
  --allow-target TARGET  one of those that agents may use without the user being asked
  --idle-seconds N       keep each target's agent session open N seconds after a call, for the
                         next one (default 60; 0 closes it after each call)
  --identity KEYFILE     private key for SSH targets
  --known-hosts FILE     known_hosts to check host keys against (default ~/.ssh/known_hosts)
  --ssh-client auto|builtin|openssh
                         which SSH client connects (default auto: OpenSSH only for certificates)`,
  session: `usage: ebpf-studio session --socket PATH [--idle-seconds N]   (internal: the session process)
The per-user session process the CLI starts by itself for a remote target: it keeps one SSH connection
and warm agents per target for successive runs, listening on PATH in a private directory
($XDG_RUNTIME_DIR/ebpf-studio, else /tmp/ebpf-studio-UID, or $EBPF_STUDIO_SESSION_DIR), and exits after
N seconds without a run (default 600). It never asks for passphrases or passwords: a run that needs one
connects directly. Not meant to be started by hand.`,
};

/** True when the arguments ask for help (before a `--` that ends the options). */
export function helpRequested(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** `ebpf-studio --help`: every command's usage line, then how to get more. */
export function overallUsage(): string {
  const lines = Object.values(COMMAND_USAGE).map((usage, i) => `${i === 0 ? '' : '       '}${usage.split('\n')[0].replace(/^usage: /, '')}`);
  lines[0] = `usage: ${lines[0]}`;
  return [...lines, '       ebpf-studio --version', '', 'ebpf-studio COMMAND --help describes a command.'].join('\n');
}
