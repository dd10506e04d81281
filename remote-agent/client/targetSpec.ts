/**
 * Where the agent runs: this machine, a host reached over SSH, or a kernel VM of ours (`vm:NAME`,
 * remote-agent/client/vm/). Parses what a user types in a setting, a target picker or on the CLI
 * (`local`, `ssh://root@vm1:2222`, `vm1`, `[fe80::1]:22`, `vm:6.1`).
 */
import { isIPv6 } from 'node:net';

export type TargetSpec = { kind: 'local' } | { kind: 'ssh'; host: string; user?: string; port?: number } | { kind: 'vm'; name: string };

const EXAMPLES = "'local', 'vm:NAME', 'ssh://user@host:port', 'user@host', 'host:port', '[::1]:22' or a Host alias from ~/.ssh/config";
/** Host names, IPv4 addresses and ssh config aliases; a leading '-' is refused so no value can pass as an option. */
const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/;
/** As `ebpf-studio vm start --name` accepts them (vm/vmState.ts). */
const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function parseTarget(text: string): TargetSpec {
  const input = text.trim();
  if (input === '') throw new Error(`The target is empty: give ${EXAMPLES}.`);
  if (input.toLowerCase() === 'local') return { kind: 'local' };
  if (/^vm:/i.test(input)) {
    const name = input.slice(3);
    if (!VM_NAME.test(name)) throw new Error(`Target '${input}' does not name a kernel VM: write vm:NAME, as 'ebpf-studio vm list' shows it (e.g. vm:6.1).`);
    return { kind: 'vm', name };
  }

  let rest = input;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    if (!rest.toLowerCase().startsWith('ssh://')) {
      throw new Error(`Target '${input}' uses the scheme '${rest.slice(0, rest.indexOf(':'))}', but only ssh:// is supported.`);
    }
    rest = rest.slice('ssh://'.length).replace(/\/$/, '');
    if (rest.includes('/')) throw new Error(`Target '${input}' has a path after the host; write it as ssh://[user@]host[:port].`);
  }

  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER_NAME.test(user)) {
      throw new Error(`Target '${input}' has an invalid user name '${user}' (letters, digits, '.', '_' and '-', not starting with '-').`);
    }
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) throw new Error(`Target '${input}' opens '[' for an IPv6 address but never closes it.`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (!isIPv6(host)) throw new Error(`Target '${input}': '${host}' in brackets is not an IPv6 address.`);
    if (after !== '') {
      if (!after.startsWith(':')) throw new Error(`Target '${input}' has '${after}' after ']'; only ':port' may follow.`);
      portText = after.slice(1);
    }
  } else if (isIPv6(rest)) {
    host = rest;
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) throw new Error(`Target '${input}' is not a valid address; write IPv6 addresses in brackets, e.g. '[fe80::1]:22'.`);
    const colon = rest.indexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    if (colon !== -1) portText = rest.slice(colon + 1);
    if (host === '') throw new Error(`Target '${input}' has no host name: give ${EXAMPLES}.`);
    if (!HOST_NAME.test(host)) {
      throw new Error(`Target '${input}' has an invalid host name '${host}' (letters, digits, '.', '_' and '-', not starting with '-').`);
    }
  }

  const spec: TargetSpec = { kind: 'ssh', host };
  if (user !== undefined) spec.user = user;
  if (portText !== undefined) spec.port = parsePort(portText, input);
  return spec;
}

function parsePort(text: string, input: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`Target '${input}' has an invalid port '${text}'; a port is a number from 1 to 65535.`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new Error(`Target '${input}' has port ${port}, outside 1–65535.`);
  return port;
}

/** 'local', 'vm:NAME', or 'user@host:port' with whatever parts the spec has (IPv6 hosts in brackets). */
export function describeTarget(t: TargetSpec): string {
  if (t.kind === 'local') return 'local';
  if (t.kind === 'vm') return `vm:${t.name}`;
  const host = isIPv6(t.host) ? `[${t.host}]` : t.host;
  return `${t.user !== undefined ? `${t.user}@` : ''}${host}${t.port !== undefined ? `:${t.port}` : ''}`;
}
