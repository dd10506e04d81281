/**
 * What the kernel itself says about BPF links, through bpftool: the tests' independent witness that
 * a program is attached (and how many times), whatever the agent reports.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** bpftool's path on this machine, if it is installed. */
export const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool'].find((p) => existsSync(p));

/** How many links the kernel holds for program `progId` (bpftool link show). */
export function linksOf(progId: number): number {
  if (BPFTOOL === undefined) throw new Error('bpftool is not installed (apt-get install bpftool)');
  const links = JSON.parse(execFileSync(BPFTOOL, ['-j', 'link', 'show'], { encoding: 'utf8' })) as { prog_id: number }[];
  return links.filter((l) => l.prog_id === progId).length;
}

/** Why an editor test that attaches programs and checks them with bpftool cannot run here: a reason per missing thing. */
export function attachPrerequisitesMissing(): (string | undefined)[] {
  return [
    process.getuid?.() !== 0 ? 'attaching programs needs root (the agent loads them)' : undefined,
    BPFTOOL ? undefined : 'bpftool is not installed (apt-get install bpftool): the test checks the kernel with it',
  ];
}
