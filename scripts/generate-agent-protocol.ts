// Writes remote-agent/agent/protocol_generated.h, the C agent's view of remote-agent/protocol.ts:
// protocol version, error codes, limits, notification names and the X-macro list of methods from
// which the agent builds its method table and declares its handlers. So a method added to
// protocol.ts stops the agent's build until a `method_<name>` handler exists.
// Run by scripts/build.mjs and by the agent tests before `make`; writes only when the text changed.
// Usage: node --import tsx scripts/generate-agent-protocol.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_PROTOCOL_VERSION, AgentLimits, CANCEL_NOTIFICATION, ErrorCode, agentMethods, agentNotifications } from '../remote-agent/protocol';

export const PROTOCOL_HEADER = join(import.meta.dirname, '..', 'remote-agent', 'agent', 'protocol_generated.h');

/** "streamDefaultBatchRecords" → "STREAM_DEFAULT_BATCH_RECORDS". */
function screamingSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[.\-]/g, '_').toUpperCase();
}

/** "probe.helpers" → "probe_helpers": the suffix of the C handler `method_probe_helpers`. */
function handlerSuffix(method: string): string {
  if (!/^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$/.test(method)) throw new Error(`method name '${method}' cannot become a C identifier`);
  return method.replace(/\./g, '_');
}

function cString(text: string): string {
  return JSON.stringify(text);
}

export function agentProtocolHeader(): string {
  const lines = [
    '/* SPDX-License-Identifier: MIT */',
    '/* GENERATED from remote-agent/protocol.ts by scripts/generate-agent-protocol.ts: do not edit.',
    ' * The agent\'s side of the one protocol definition (version, error codes, limits, messages). */',
    '#ifndef EBPF_AGENT_PROTOCOL_GENERATED_H',
    '#define EBPF_AGENT_PROTOCOL_GENERATED_H',
    '',
    `#define AGENT_PROTOCOL_VERSION ${AGENT_PROTOCOL_VERSION}`,
    '',
    'enum rpc_error_code {',
    ...Object.entries(ErrorCode).map(([name, code]) => `\tRPC_${screamingSnake(name)} = ${code},`),
    '};',
    '',
    ...Object.entries(AgentLimits).map(([name, value]) => `#define AGENT_${screamingSnake(name)} ${value}`),
    '',
    `#define AGENT_CANCEL_NOTIFICATION ${cString(CANCEL_NOTIFICATION)}`,
    ...Object.keys(agentNotifications).map((name) => `#define AGENT_NOTIFY_${screamingSnake(name)} ${cString(name)}`),
    '',
    '/* X(wire name, handler): one entry per request; the handler is method_<handler>(). */',
    '#define AGENT_METHODS(X) \\',
    ...Object.keys(agentMethods).map((name) => `\tX(${cString(name)}, ${handlerSuffix(name)}) \\`),
    '',
    '#endif',
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const text = agentProtocolHeader();
  let current = '';
  try {
    current = readFileSync(PROTOCOL_HEADER, 'utf8');
  } catch {
    // Not generated yet.
  }
  // Unchanged text keeps its mtime, so make rebuilds nothing.
  if (current !== text) writeFileSync(PROTOCOL_HEADER, text);
}
