/**
 * Asks where to attach a program whose section does not say (SEC("xdp"), SEC("tc"), a bare
 * SEC("uprobe"), SEC("perf_event"), cgroup programs, socket filters): one quick pick offering the
 * likely specs — the target's network interfaces, from its agent (host.interfaces) when the agent
 * offers that, else from this machine's /sys/class/net for the local target — and accepting any
 * typed spec, checked with the same parser as the CLI's --attach before it is accepted.
 */
import { readdir } from 'node:fs/promises';
import * as vscode from 'vscode';
import { ATTACH_SPEC_FORMS, parseAttachSpec, type AttachSpec } from '../remote-agent/client/attachSpec';
import type { AgentSession } from '../remote-agent/client/agentSession';
import type { ProgramReport } from '../remote-agent/client/checkReport';
import { agentOffers, type HostInterface } from '../remote-agent/protocol';
import { errorMessage } from './settings';

/** Specs worth offering for a program whose example spec (from explicitTargetNeeded) is `example`. */
export function suggestedSpecs(example: string, interfaces: readonly string[]): string[] {
  const kind = example.split(':')[0];
  const ifaces = interfaces.filter((i) => i !== 'lo').concat(interfaces.includes('lo') ? ['lo'] : []);
  switch (kind) {
    case 'xdp':
      return ifaces.flatMap((i) => [`xdp:${i}`, `xdp:${i}:generic`]);
    case 'tc':
      return ifaces.flatMap((i) => [`tc:${i}:ingress`, `tc:${i}:egress`]);
    case 'socket':
      return ifaces.map((i) => `socket:${i}`);
    case 'cgroup':
      return ['cgroup:/sys/fs/cgroup', 'cgroup:/sys/fs/cgroup/system.slice', 'cgroup:/sys/fs/cgroup/user.slice'];
    case 'perf_event':
      return ['perf_event:cpu-clock:freq=99', 'perf_event:cpu-clock:freq=999', 'perf_event:cpu-cycles:period=1000000', 'perf_event:instructions:period=1000000'];
    default:
      return [example];
  }
}

/** Network interfaces of this machine (for the local target), or none when they cannot be read. */
export async function localInterfaces(): Promise<string[]> {
  try {
    return (await readdir('/sys/class/net')).sort();
  } catch {
    return []; // not Linux, or no sysfs: the user types the name instead
  }
}

/** An agent's answer can take a moment over SSH, but must not hold the prompt back indefinitely. */
const INTERFACES_TIMEOUT_MS = 10_000;

/** The interfaces to offer, and a note for the placeholder when they are not the target's own. */
export interface TargetInterfaces {
  names: string[];
  /** Per interface name: what is worth knowing before attaching there ("down", "XDP attached"). */
  notes: Map<string, string>;
  /** Why the list is empty, for the placeholder; undefined when the interfaces were listed. */
  caveat?: string;
}

function interfaceNote(i: HostInterface): string {
  return [i.up ? '' : 'down', i.xdpAttached ? 'XDP attached' : ''].filter((n) => n !== '').join(', ');
}

/**
 * The target's interfaces: asked of its agent when `session` answers host.interfaces (local and SSH
 * alike), else read from /sys/class/net for the local target; an SSH target with an older agent
 * lists none. A failed request is said in the caveat, and the user types the name.
 */
export async function targetInterfaces(targetIsLocal: boolean, session: Pick<AgentSession, 'hello' | 'client'> | undefined): Promise<TargetInterfaces> {
  if (session && agentOffers(session.hello, 'host.interfaces')) {
    try {
      const { interfaces } = await session.client.request('host.interfaces', {}, AbortSignal.timeout(INTERFACES_TIMEOUT_MS));
      const names = interfaces.map((i) => i.name).sort();
      return { names, notes: new Map(interfaces.map((i) => [i.name, interfaceNote(i)])) };
    } catch (error) {
      return { names: [], notes: new Map(), caveat: `listing the target's interfaces failed (${errorMessage(error)}): type the name` };
    }
  }
  if (targetIsLocal) return { names: await localInterfaces(), notes: new Map() };
  const caveat = session ? "this target's agent does not list interfaces (eBPF: Reconnect redeploys it): type the name" : 'the interfaces of an SSH target are not listed: type the name';
  return { names: [], notes: new Map(), caveat };
}

interface SpecItem extends vscode.QuickPickItem {
  spec?: AttachSpec;
}

/**
 * Asks for the target of `program`; resolves with the spec (naming the program) or undefined when
 * the user cancels. `session` is the target's agent session, whose interfaces are offered.
 */
export async function promptAttachTarget(program: ProgramReport, needed: { why: string; example: string }, targetIsLocal: boolean, session?: Pick<AgentSession, 'hello' | 'client'>): Promise<AttachSpec | undefined> {
  const interfaces = ['xdp', 'tc', 'socket'].includes(needed.example.split(':')[0]) ? await targetInterfaces(targetIsLocal, session) : { names: [], notes: new Map<string, string>() };
  const suggestions = suggestedSpecs(needed.example, interfaces.names);
  const pick = vscode.window.createQuickPick<SpecItem>();
  pick.title = `Attach ${program.name} (SEC("${program.section}"))`;
  pick.placeholder = `${needed.why[0].toUpperCase()}${needed.why.slice(1)}: pick one or type a spec, e.g. ${needed.example}${interfaces.caveat ? ` (${interfaces.caveat})` : ''}`;
  pick.matchOnDescription = true;
  pick.ignoreFocusOut = true;

  const itemFor = (text: string, description?: string): SpecItem => {
    try {
      const spec = parseAttachSpec(text);
      return { label: text, description, spec: { program: spec.program ?? program.name, target: spec.target } };
    } catch (error) {
      return { label: text, description: '$(error) not a valid spec', detail: errorMessage(error), alwaysShow: true };
    }
  };
  const suggested = suggestions.map((s) => {
    const note = interfaces.notes.get(s.split(':')[1] ?? '');
    return itemFor(s, note ? `suggested (${note})` : 'suggested');
  });
  const update = (): void => {
    const typed = pick.value.trim();
    const typedItem = typed === '' || suggestions.includes(typed) ? [] : [{ ...itemFor(typed, 'typed'), alwaysShow: true }];
    pick.items = [...typedItem, ...suggested, { label: 'Forms', kind: vscode.QuickPickItemKind.Separator }, ...ATTACH_SPEC_FORMS.map((f) => ({ label: f, description: 'form', alwaysShow: false }))];
  };
  update();

  return new Promise<AttachSpec | undefined>((resolve) => {
    let settled = false;
    const finish = (spec: AttachSpec | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(spec);
      pick.dispose();
    };
    pick.onDidChangeValue(update);
    pick.onDidAccept(() => {
      const chosen = pick.selectedItems[0];
      if (chosen?.spec) {
        finish(chosen.spec);
        return;
      }
      // A form or an invalid spec: put it in the box to be completed instead of accepting it.
      if (chosen) pick.value = chosen.label.replace(/[A-Z][A-Z_|[\]=]*.*$/, '');
    });
    pick.onDidHide(() => finish(undefined));
    pick.show();
  });
}
