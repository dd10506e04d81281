/**
 * Values a template parameter could take on a target, for the New Program wizard to offer: its
 * tracepoints (tracefs, `host.tracepoints`), kernel functions, syscalls and LSM hooks (its BTF,
 * through the knowledge cache, so nothing is fetched twice), its network interfaces
 * (`host.interfaces`) and executables (`host.executables`). Only values the parameter's kind
 * accepts are offered, so a suggestion never fails the template's own validation.
 */
import { readFile } from 'node:fs/promises';
import { parameterValueError, type ParameterKind } from '../../bpf-templates/templateCatalog';
import { agentOffers, type AgentRequester } from '../protocol';
import { parseBtf } from './btf';
import { btfAttachPoints, type BtfAttachPointKind } from './btfAttachPoints';
import type { KnowledgeSource, TargetKnowledgeCache } from './targetKnowledge';

/** What the suggestions need of a session to the target. */
export interface SuggestionSource extends Omit<KnowledgeSource, 'client'> {
  readonly description: string;
  readonly client: AgentRequester<'btf.vmlinux' | 'probe.helpers' | 'host.tracepoints' | 'host.executables' | 'host.interfaces'>;
}

export interface ParameterSuggestions {
  /** Sorted, each one valid for the kind. */
  values: string[];
  /** Why there are none or not all (no BTF, an older agent, a capped list), for the picker to say; undefined when complete. */
  note?: string;
}

const BTF_KINDS: Partial<Record<ParameterKind, BtfAttachPointKind>> = {
  kernelFunction: 'function',
  syscall: 'syscall',
  lsmHook: 'lsm',
};

/** The kinds the target can suggest values for; the others (ports, symbols, USDT names, identifiers) are typed. */
export function suggestsValues(kind: ParameterKind): boolean {
  return kind === 'tracepoint' || kind === 'interface' || kind === 'binary' || BTF_KINDS[kind] !== undefined;
}

export async function parameterSuggestions(kind: ParameterKind, source: SuggestionSource, knowledge: TargetKnowledgeCache, signal?: AbortSignal): Promise<ParameterSuggestions> {
  const { hello, client } = source;
  const offered = (method: 'host.tracepoints' | 'host.executables' | 'host.interfaces'): string | undefined =>
    agentOffers(hello, method) ? undefined : `the agent on ${source.description} is too old to list them (no ${method}); reconnect to update it`;
  const btfKind = BTF_KINDS[kind];
  if (btfKind !== undefined) {
    const btf = await knowledge.btf(source, signal);
    if (btf.path === null) return { values: [], note: `${source.description} has no kernel BTF (${btf.how}) to list them from` };
    const parsed = parseBtf(await readFile(btf.path));
    return valid(kind, [...btfAttachPoints(parsed, btfKind).keys()]);
  }
  switch (kind) {
    case 'tracepoint': {
      const old = offered('host.tracepoints');
      if (old !== undefined) return { values: [], note: old };
      const answer = await client.request('host.tracepoints', {}, signal);
      return valid(kind, answer.tracepoints, answer.truncated ? `the first ${answer.tracepoints.length} of the target's tracepoints` : undefined);
    }
    case 'binary': {
      const old = offered('host.executables');
      if (old !== undefined) return { values: [], note: old };
      const answer = await client.request('host.executables', {}, signal);
      return valid(kind, answer.executables, answer.truncated ? `the first ${answer.executables.length} executables found on the target` : undefined);
    }
    case 'interface': {
      const old = offered('host.interfaces');
      if (old !== undefined) return { values: [], note: old };
      const answer = await client.request('host.interfaces', {}, signal);
      return valid(kind, answer.interfaces.map((i) => i.name));
    }
    default:
      return { values: [], note: 'the target cannot suggest these: type a value' };
  }
}

function valid(kind: ParameterKind, names: string[], note?: string): ParameterSuggestions {
  const values = [...new Set(names.filter((name) => parameterValueError(kind, name) === undefined))].sort();
  return note === undefined ? { values } : { values, note };
}
