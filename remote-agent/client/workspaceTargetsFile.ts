/**
 * Reads a workspace's `.ebpf-studio/targets.json` (namedTargets.ts parses it): the editor reads it
 * at a trusted workspace folder's root, the CLI in the current directory or the nearest one above,
 * as git finds its repository, so `ebpf-studio check --target staging` works anywhere in a project.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseTargetsFile, TARGETS_FILE, type NamedTargetList } from './namedTargets';

/** The targets file at `folder`'s root, or in the nearest folder above it when `upwards`; undefined when there is none. */
export function findTargetsFile(folder: string, upwards: boolean): string | undefined {
  for (let dir = folder; ; dir = dirname(dir)) {
    const file = join(dir, TARGETS_FILE);
    if (existsSync(file)) return file;
    if (!upwards || dirname(dir) === dir) return undefined;
  }
}

/** The file's targets; a file that cannot be read is one problem, not an exception. */
export function readTargetsFile(file: string): NamedTargetList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { targets: [], problems: [`${file} cannot be read (${(error as Error).message}); its targets are ignored.`] };
  }
  return parseTargetsFile(text, file);
}
