/**
 * Compiling on the machine the client runs on, for a target that only loads: production hosts and
 * minimal VMs have no clang, and a kernel VM under emulation compiles ~20× slower than its host.
 * A local agent (the `compiler`, unprivileged) compiles against the TARGET's vmlinux.h — made from
 * the target's BTF, fetched once and cached by btfId (targetKnowledge.ts), handed over with
 * `btf.put` only when the compiler answers UnknownBtf — and with the target's `__TARGET_ARCH_*`;
 * the object then goes to the target with `object.put`, where `load` and `attach` take it as if
 * the target had compiled it. Every other request goes to the target unchanged.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { agentOffers, ErrorCode, type AgentMethod, type AgentRequester, type CompileParams, type CompileResult, type ParamsOf, type ResultOf } from '../protocol';
import { AgentError } from './agentClient';
import type { KnowledgeSource, TargetKnowledgeCache } from './targetKnowledge';

/** What compiling elsewhere needs of the target's session. */
export interface LoadingTarget<M extends AgentMethod> extends KnowledgeSource {
  readonly description: string;
  readonly client: AgentRequester<M | 'btf.vmlinux' | 'probe.helpers' | 'object.put'>;
}

/** The local agent that compiles. */
export type CompilingAgent = AgentRequester<'compile' | 'btf.put' | 'release'>;

/**
 * `target`'s requests, with `compile` done by `compiler` against the target's kernel. The result
 * is the compiler's CompileResult with the target's objectId (clang's output and timing unchanged).
 */
export function compileOnClient<M extends AgentMethod>(target: LoadingTarget<M>, compiler: CompilingAgent, knowledge: TargetKnowledgeCache): AgentRequester<M | 'compile'> {
  return {
    request: <K extends M | 'compile'>(method: K, params: ParamsOf<K>, signal?: AbortSignal): Promise<ResultOf<K>> => {
      if (method === 'compile') return compileForTarget(target, compiler, knowledge, params as CompileParams, signal) as Promise<ResultOf<K>>;
      return target.client.request(method as M, params as ParamsOf<M>, signal) as Promise<ResultOf<K>>;
    },
  };
}

async function compileForTarget(
  target: LoadingTarget<AgentMethod>,
  compiler: CompilingAgent,
  knowledge: TargetKnowledgeCache,
  params: CompileParams,
  signal: AbortSignal | undefined,
): Promise<CompileResult> {
  const { btfId, arch } = target.hello;
  if (!agentOffers(target.hello, 'object.put')) {
    throw new Error(`The agent on ${target.description} cannot take objects compiled elsewhere (it has no object.put): reconnect to deploy this version's agent.`);
  }
  if (btfId === null) {
    throw new Error(
      `${target.description} has no kernel BTF (/sys/kernel/btf/vmlinux), so its programs cannot be compiled elsewhere against its types. ` +
        `Install clang on it to compile there, or use a kernel built with CONFIG_DEBUG_INFO_BTF=y.`,
    );
  }
  const request: CompileParams = { ...params, btfId, arch };
  let compiled: CompileResult;
  try {
    compiled = await compiler.request('compile', request, signal);
  } catch (error) {
    if (!(error instanceof AgentError && error.code === ErrorCode.UnknownBtf)) throw error;
    // First compile for this kernel on this machine: hand the compiler the target's BTF, once.
    const btf = await knowledge.btf(target, signal);
    if (btf.path === null) throw new Error(`${target.description} did not give its kernel BTF (${btf.how}); it cannot be compiled for elsewhere.`);
    const data = await readFile(btf.path);
    await compiler.request('btf.put', { btfId, data: data.toString('base64') }, signal);
    compiled = await compiler.request('compile', request, signal);
  }
  if (!compiled.ok || compiled.objectId === null || compiled.object === null) return compiled;
  // The compiler keeps nothing: the object lives on the target from here on.
  await compiler.request('release', { objectId: compiled.objectId });
  const put = await target.client.request('object.put', { name: objectName(params.main), object: compiled.object }, signal);
  return { ...compiled, objectId: put.objectId };
}

/** libbpf's object name as the agent's compile gives it: the main file's name up to its first dot. */
function objectName(main: string): string {
  const base = path.posix.basename(main);
  const dot = base.indexOf('.');
  return (dot > 0 ? base.slice(0, dot) : base).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'object';
}
