/**
 * Compiling a file for running rather than for checking: with a wrapper that anchors the record
 * types of its event maps in BTF (eventRecordTypes.ts), so their records decode into named fields.
 */
import * as path from 'node:path';
import type { AgentRequester, CompileResult } from '../protocol';
import { eventTypeAnchorSource, type EventTypeHint } from './eventRecordTypes';
import type { SourceBundle } from './sourceBundle';

const WRAPPER_NAME = '__ebpf_studio_run.c';

/** A compiled object with its id on the agent; `anchored` when its BTF carries the record types. */
export type CompiledForRun = CompileResult & { objectId: string; anchored: boolean };

/**
 * Compiles the wrapper that anchors the record types in BTF; when the hints do not compile at
 * file scope (a type local to a function, a typo in an annotation) the plain file is compiled
 * instead, its records stay hex, and `notes` says why.
 */
export async function compileForRun(
  agent: AgentRequester<'compile'>,
  bundle: SourceBundle,
  hints: Map<string, EventTypeHint>,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<CompiledForRun> {
  const dir = path.posix.dirname(bundle.main);
  const wrapper = dir === '.' ? WRAPPER_NAME : `${dir}/${WRAPPER_NAME}`;
  if (hints.size > 0) {
    const content = eventTypeAnchorSource(path.posix.basename(bundle.main), hints.values());
    const anchored = await agent.request('compile', bundle.compileParams(wrapper, [{ path: wrapper, content }]), signal);
    if (anchored.ok && anchored.objectId !== null) return { ...anchored, objectId: anchored.objectId, anchored: true };
    const firstError = anchored.stderr.split('\n').find((l) => /error:/.test(l)) ?? anchored.stderr.trim();
    notes.push(`The record types ${[...hints.values()].map((h) => `'${h.type}'`).join(', ')} do not compile at file scope (${firstError}); events are shown as hex.`);
  }
  const plain = await agent.request('compile', bundle.compileParams(), signal);
  if (!plain.ok || plain.objectId === null) throw new Error(`The file compiled for verifying but not for running: ${plain.stderr.trim()}`);
  return { ...plain, objectId: plain.objectId, anchored: false };
}
