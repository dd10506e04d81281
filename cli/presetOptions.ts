/**
 * The load-preset flags `check` (and `run`) share: `--set NAME=VALUE` (a global), `--map-size
 * MAP=N`, `--attach-target PROG=FUNC`, each repeatable, as parseArgs options and as LoadPresets.
 */
import type { LoadPresets } from '../remote-agent/protocol';
import { presetsFromAssignments } from '../remote-agent/client/loadPresets';

export const PRESET_OPTIONS = {
  set: { type: 'string', multiple: true },
  'map-size': { type: 'string', multiple: true },
  'attach-target': { type: 'string', multiple: true },
} as const;

export function presetsOf(values: { set?: string[]; 'map-size'?: string[]; 'attach-target'?: string[] }): LoadPresets | undefined {
  return presetsFromAssignments(values.set ?? [], values['map-size'] ?? [], values['attach-target'] ?? []);
}
