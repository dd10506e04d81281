/**
 * The route to a host as OpenSSH takes it: ProxyJump chains in order, each hop resolved with its
 * own config, the first hop's own ProxyJump/ProxyCommand honoured and later hops' ignored, loops refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SshHostConfig } from '../../remote-agent/client/sshHostConfig';
import { MAX_HOPS, parseJumpHop, planSshRoute, type SshHopRequest } from '../../remote-agent/client/sshRoute';

/** A resolver over a table of aliases, recording what it was asked. */
function resolverOf(table: Record<string, Partial<SshHostConfig>>) {
  const asked: SshHopRequest[] = [];
  const resolve = async (request: SshHopRequest): Promise<SshHostConfig> => {
    asked.push(request);
    return {
      alias: request.alias,
      hostName: request.alias,
      user: request.user ?? 'me',
      port: request.port ?? 22,
      identityFiles: [],
      identitiesOnly: false,
      certificateFiles: [],
      knownHostsFiles: ['/k'],
      strictHostKeyChecking: 'ask',
      serverAliveIntervalMs: 0,
      serverAliveCountMax: 3,
      ...table[request.alias],
    };
  };
  return { resolve, asked };
}

const summary = (steps: Awaited<ReturnType<typeof planSshRoute>>) => steps.map((step) => `${step.config.user}@${step.config.hostName}:${step.config.port} ${step.via}${step.jumpHost ? ' jump' : ''}`);

test('a host without a proxy is one TCP step', async () => {
  const { resolve } = resolverOf({});
  assert.deepEqual(summary(await planSshRoute({ alias: 'box' }, resolve)), ['me@box:22 tcp']);
});

test('ProxyJump a,b: a over TCP, b through a, the target through b; hops resolved with their user and port', async () => {
  const { resolve, asked } = resolverOf({ target: { hostName: '10.0.0.9', proxyJump: ['ops@a:2222', 'b'] }, b: { hostName: '10.0.0.2', proxyJump: ['ignored'] } });
  assert.deepEqual(summary(await planSshRoute({ alias: 'target', user: 'root' }, resolve)), [
    'ops@a:2222 tcp jump',
    'me@10.0.0.2:22 previous-hop jump',
    'root@10.0.0.9:22 previous-hop',
  ]);
  assert.deepEqual(asked, [{ alias: 'target', user: 'root' }, { alias: 'a', user: 'ops', port: 2222 }, { alias: 'b' }]);
});

test("the first hop's own ProxyJump and ProxyCommand apply; a later hop's do not", async () => {
  const { resolve } = resolverOf({ target: { proxyJump: ['a', 'b'] }, a: { proxyJump: ['outer'] }, outer: { proxyCommand: 'nc outer 22' }, b: { proxyCommand: 'never' } });
  const steps = await planSshRoute({ alias: 'target' }, resolve);
  assert.deepEqual(summary(steps), ['me@outer:22 proxy-command jump', 'me@a:22 previous-hop jump', 'me@b:22 previous-hop jump', 'me@target:22 previous-hop']);
  assert.equal(steps[2]!.config.proxyCommand, undefined);
});

test('a ProxyJump loop is refused, naming the host and the limit', async () => {
  const { resolve } = resolverOf({ a: { proxyJump: ['a'] } });
  await assert.rejects(planSshRoute({ alias: 'a' }, resolve), new RegExp(`Reaching a takes more than ${MAX_HOPS} jump hosts`));
});

test('jump hops are written as ssh -J takes them', () => {
  assert.deepEqual(parseJumpHop('ssh://ops@bastion:2222', 't'), { alias: 'bastion', user: 'ops', port: 2222 });
  assert.deepEqual(parseJumpHop('[fe80::1]:22', 't'), { alias: 'fe80::1', port: 22 });
  assert.throws(() => parseJumpHop('a:b:c', 't'), /^Error: ProxyJump of t: /);
});
