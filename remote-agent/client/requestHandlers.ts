/**
 * An agent connection made of plain functions, one per method: in-process agents for tests, and
 * wrappers that answer some methods themselves and pass the rest on (compiling on the client for a
 * target that only loads). Typed by protocol.ts, so a handler cannot drift from the wire types.
 */
import type { AgentMethod, AgentRequester, ParamsOf, ResultOf } from '../protocol';

export type RequestHandlers<M extends AgentMethod> = {
  [K in M]: (params: ParamsOf<K>, signal?: AbortSignal) => Promise<ResultOf<K>>;
};

export function requesterOf<M extends AgentMethod>(handlers: RequestHandlers<M>): AgentRequester<M> {
  return {
    request: <K extends M>(method: K, params: ParamsOf<K>, signal?: AbortSignal): Promise<ResultOf<K>> => {
      const handler: RequestHandlers<M>[K] = handlers[method];
      return handler(params, signal);
    },
  };
}
