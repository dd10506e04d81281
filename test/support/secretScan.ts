/**
 * Searches what a test run left behind for the test suite's secrets: every regular file under the
 * given roots, bytes as they are (logs, JSON, SQLite state, binaries alike), so a secret that
 * reached any log, setting, report or temp file is named by file and line. Symbolic links and
 * special files (a FIFO would block the reader) are not followed.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SecretFinding {
  /** The file, as found under its root (root joined with the relative path). */
  file: string;
  /** 1-based; for a binary file, the count of newline bytes before the secret, plus one. */
  line: number;
  /** The secret's name, never its value. */
  secret: string;
}

export interface SecretScan {
  findings: SecretFinding[];
  filesRead: number;
  bytesRead: number;
}

/**
 * Scans every regular file under `roots` (a missing root is skipped) for each of `secrets` (name →
 * value), in every directory `enter` accepts (all by default).
 */
export function scanForSecrets(roots: string[], secrets: Record<string, string>, enter: (dir: string) => boolean = () => true): SecretScan {
  const needles = Object.entries(secrets).map(([name, value]) => {
    if (value.length < 8) throw new Error(`the secret ${name} is too short to search for without false findings`);
    return { name, bytes: Buffer.from(value, 'utf8') };
  });
  const scan: SecretScan = { findings: [], filesRead: 0, bytesRead: 0 };
  const visit = (path: string): void => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walked
      throw error;
    }
    if (stat.isDirectory()) {
      if (!enter(path)) return;
      for (const name of readdirSync(path).sort()) visit(join(path, name));
      return;
    }
    if (!stat.isFile()) return;
    const content = readFileSync(path);
    scan.filesRead++;
    scan.bytesRead += content.length;
    for (const needle of needles) {
      for (let at = content.indexOf(needle.bytes); at !== -1; at = content.indexOf(needle.bytes, at + 1)) {
        scan.findings.push({ file: path, line: newlinesBefore(content, at) + 1, secret: needle.name });
      }
    }
  };
  for (const root of roots) visit(root);
  return scan;
}

function newlinesBefore(content: Buffer, end: number): number {
  let count = 0;
  for (let at = content.indexOf(10); at !== -1 && at < end; at = content.indexOf(10, at + 1)) count++;
  return count;
}
