/**
 * protocol.ts is the one definition of the agent protocol: the C agent's header is generated from
 * it, and PROTOCOL.md must describe exactly what it defines. These tests fail on any drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AGENT_PROTOCOL_VERSION, AgentLimits, ErrorCode, agentMethods, agentNotifications } from '../../remote-agent/protocol';
import { agentProtocolHeader } from '../../scripts/generate-agent-protocol';

const protocolMd = readFileSync(path.join(import.meta.dirname, '..', '..', 'remote-agent', 'PROTOCOL.md'), 'utf8');

/** Names in the `## a / b (client → agent), c (agent → client)` headings, by direction. */
function documentedMessages(): { requests: string[]; notifications: string[] } {
  const requests: string[] = [];
  const notifications: string[] = [];
  for (const heading of protocolMd.matchAll(/^## (.+)$/gm)) {
    for (const part of heading[1].matchAll(/([^,()]+?) \((client → agent|agent → client)\)/g)) {
      const names = part[1].split(/ \/ | and /).map((n) => n.trim());
      (part[2] === 'client → agent' ? requests : notifications).push(...names);
    }
  }
  return { requests, notifications };
}

test('PROTOCOL.md has a section for every request and notification of protocol.ts, and for no other', () => {
  const { requests, notifications } = documentedMessages();
  assert.deepEqual([...requests].sort(), Object.keys(agentMethods).sort());
  assert.deepEqual([...notifications].sort(), Object.keys(agentNotifications).sort());
});

test('PROTOCOL.md states the protocol version of protocol.ts', () => {
  assert.match(protocolMd, new RegExp(`^# ebpf-agent wire protocol \\(version ${AGENT_PROTOCOL_VERSION}\\)$`, 'm'));
});

test("PROTOCOL.md's error table lists every error code with protocol.ts's name and number", () => {
  const rows = [...protocolMd.matchAll(/^\| (-\d+) \| (\w+) \|/gm)].map((m) => [m[2], Number(m[1])]);
  assert.deepEqual(rows, Object.entries(ErrorCode));
});

test("PROTOCOL.md's limits table lists every limit with protocol.ts's value", () => {
  const rows = [...protocolMd.matchAll(/^\| `(\w+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(rows, Object.entries(AgentLimits));
});

test('the agent header declares one handler per method, named after the wire name', () => {
  const header = agentProtocolHeader();
  const listed = [...header.matchAll(/^\tX\("([^"]+)", (\w+)\) \\$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(listed, Object.keys(agentMethods).map((m) => [m, m.replace(/\./g, '_')]));
  assert.match(header, /^\tRPC_KERNEL_FEATURE_MISSING = -32006,$/m);
  assert.match(header, /^#define AGENT_COMPILE_MAX_FILES 64$/m);
  assert.match(header, /^#define AGENT_NOTIFY_STREAM_ENDED "stream\.ended"$/m);
});

