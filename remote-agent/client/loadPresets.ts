/**
 * Load presets on the client side: `NAME=VALUE` assignments from the CLI (`--set`, `--map-size`,
 * `--attach-target`) and the editor's `ebpfStudio.loadPresets` setting (glob → presets) turned into
 * the `presets` of a `load` request, checked as the agent will check them so a typo is reported
 * before connecting. Pure.
 */
import { AgentLimits, type LoadPresets } from '../protocol';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string, what: string): void {
  if (!IDENTIFIER.test(name) || name.length > AgentLimits.presetMaxNameBytes) {
    throw new Error(`${what}: '${name}' is not a C identifier of at most ${AgentLimits.presetMaxNameBytes} bytes`);
  }
}

function split(assignment: string, flag: string): [string, string] {
  const eq = assignment.indexOf('=');
  if (eq <= 0 || eq === assignment.length - 1) throw new Error(`${flag} takes NAME=VALUE, not '${assignment}'`);
  return [assignment.slice(0, eq).trim(), assignment.slice(eq + 1).trim()];
}

/** A global's value as the agent takes it: an integer (decimal or 0x, negative allowed), true/false, or an enumerator. */
function checkGlobalValue(name: string, value: string, what: string): void {
  if (!/^(-?(0x[0-9a-fA-F]+|\d+)|true|false|[A-Za-z_]\w*)$/.test(value) || value.length > AgentLimits.presetMaxNameBytes) {
    throw new Error(`${what}: the value of ${name} must be an integer, true/false or an enumerator, not '${value}'`);
  }
}

function checkMapSize(name: string, size: number, what: string): void {
  if (!Number.isInteger(size) || size < 1 || size > AgentLimits.presetMaxMapSize) {
    throw new Error(`${what}: the size of map ${name} must be an integer from 1 to ${AgentLimits.presetMaxMapSize}`);
  }
}

/** Presets from CLI assignments; undefined when none were given. Throws on a malformed one. */
export function presetsFromAssignments(set: readonly string[], mapSize: readonly string[], attachTarget: readonly string[]): LoadPresets | undefined {
  const presets: LoadPresets = {};
  for (const a of set) {
    const [name, value] = split(a, '--set');
    checkName(name, '--set');
    checkGlobalValue(name, value, '--set');
    (presets.globals ??= {})[name] = value;
  }
  for (const a of mapSize) {
    const [name, value] = split(a, '--map-size');
    checkName(name, '--map-size');
    const size = /^\d+$/.test(value) ? Number(value) : NaN;
    checkMapSize(name, size, '--map-size');
    (presets.mapSizes ??= {})[name] = size;
  }
  for (const a of attachTarget) {
    const [name, value] = split(a, '--attach-target');
    checkName(name, '--attach-target');
    checkName(value, `--attach-target ${name}`);
    (presets.attachTargets ??= {})[name] = value;
  }
  return Object.keys(presets).length > 0 ? presets : undefined;
}

/** One entry of `ebpfStudio.loadPresets` as a user writes it (values of globals may be numbers too). */
export interface PresetSetting {
  globals?: Record<string, string | number | boolean>;
  mapSizes?: Record<string, number>;
  attachTargets?: Record<string, string>;
}

/**
 * The presets for `relativePath` (workspace-relative, '/'-separated) from the setting: every glob
 * that matches it, in order, later ones overriding earlier ones name by name. Throws on a malformed
 * entry, naming its glob.
 */
export function presetsForFile(setting: Readonly<Record<string, PresetSetting>>, relativePath: string): LoadPresets | undefined {
  const merged: LoadPresets = {};
  for (const [glob, entry] of Object.entries(setting)) {
    if (!globMatches(glob, relativePath)) continue;
    const what = `ebpfStudio.loadPresets["${glob}"]`;
    for (const [name, value] of Object.entries(entry.globals ?? {})) {
      checkName(name, `${what}.globals`);
      checkGlobalValue(name, String(value), `${what}.globals`);
      (merged.globals ??= {})[name] = String(value);
    }
    for (const [name, size] of Object.entries(entry.mapSizes ?? {})) {
      checkName(name, `${what}.mapSizes`);
      checkMapSize(name, size, `${what}.mapSizes`);
      (merged.mapSizes ??= {})[name] = size;
    }
    for (const [name, target] of Object.entries(entry.attachTargets ?? {})) {
      checkName(name, `${what}.attachTargets`);
      checkName(String(target), `${what}.attachTargets.${name}`);
      (merged.attachTargets ??= {})[name] = target;
    }
  }
  return Object.keys(merged).length > 0 ? merged : undefined;
}

/**
 * Glob match as in VS Code's settings: `**` any number of path segments, `*` and `?` within one
 * segment. A glob without '/' matches the file's name in any folder.
 */
export function globMatches(glob: string, relativePath: string): boolean {
  const pattern = glob.includes('/') ? glob : `**/${glob}`;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(relativePath);
}
