/**
 * The hops a connection takes to a host, as OpenSSH takes them: `ProxyJump a,b` reaches the
 * target through b, b through a (b's own ProxyJump and ProxyCommand do not apply: ssh reaches it
 * with `-J a`), and a as its own config says, so a's ProxyJump or ProxyCommand applies in turn.
 * Every hop is resolved with its own config (`ssh -G` per hop, through the resolver passed in).
 */
import type { SshHostConfig } from './sshHostConfig';
import { parseTarget } from './targetSpec';

export interface SshHopRequest {
  alias: string;
  user?: string;
  port?: number;
}

export interface SshRouteStep {
  config: SshHostConfig;
  /** How this step is reached: straight over TCP, through the previous step's forwarded channel, or through its ProxyCommand. */
  via: 'tcp' | 'previous-hop' | 'proxy-command';
  /** True for every step but the last (the target). */
  jumpHost: boolean;
}

export type SshHostResolver = (request: SshHopRequest) => Promise<SshHostConfig>;

/** More hops than any real network needs: past this, the chain is a loop (a's ProxyJump names a). */
export const MAX_HOPS = 16;

/** The steps from this machine to `target`, first hop first; the last step is the target. */
export async function planSshRoute(target: SshHopRequest, resolve: SshHostResolver): Promise<SshRouteStep[]> {
  const steps = await routeTo(target, resolve, 0);
  return steps.map((step, index) => ({ ...step, jumpHost: index < steps.length - 1 }));
}

async function routeTo(request: SshHopRequest, resolve: SshHostResolver, depth: number): Promise<Array<Omit<SshRouteStep, 'jumpHost'>>> {
  const config = await resolve(request);
  if (config.proxyJump === undefined) return [{ config, via: config.proxyCommand !== undefined ? 'proxy-command' : 'tcp' }];
  const hops = config.proxyJump.map((hop) => parseJumpHop(hop, config.alias));
  if (depth + hops.length >= MAX_HOPS) {
    throw tooManyHops(config.alias);
  }
  const steps = await routeTo(hops[0]!, resolve, depth + 1);
  for (const hop of hops.slice(1)) steps.push({ config: reachedThroughPrevious(await resolve(hop)), via: 'previous-hop' });
  steps.push({ config: reachedThroughPrevious(config), via: 'previous-hop' });
  if (steps.length > MAX_HOPS) {
    throw tooManyHops(config.alias);
  }
  return steps;
}

function tooManyHops(alias: string): Error {
  return new Error(`Reaching ${alias} takes more than ${MAX_HOPS} jump hosts: check ProxyJump in your ssh config for a loop (a host that jumps through itself).`);
}

/** A host reached through the hop before it: its own ProxyJump/ProxyCommand do not apply. */
function reachedThroughPrevious(config: SshHostConfig): SshHostConfig {
  const { proxyJump: _jump, proxyCommand: _command, ...rest } = config;
  return rest;
}

/** One ProxyJump entry: `[user@]host[:port]` or `ssh://[user@]host[:port]`, as ssh -J takes it. */
export function parseJumpHop(text: string, forAlias: string): SshHopRequest {
  let spec;
  try {
    spec = parseTarget(text);
  } catch (error) {
    throw new Error(`ProxyJump of ${forAlias}: ${(error as Error).message}`);
  }
  if (spec.kind !== 'ssh') throw new Error(`ProxyJump of ${forAlias}: '${text}' is not a host ([user@]host[:port]).`);
  return { alias: spec.host, ...(spec.user !== undefined && { user: spec.user }), ...(spec.port !== undefined && { port: spec.port }) };
}
