/**
 * The last step of `npm test`: no test secret (test/support/testSecrets.ts) may appear in anything
 * the run produced — the run's own TMPDIR (the sessions', agents' and code-server user-data
 * directories), out/ (the bundles and the test logs in out/test-logs) and test-results/, which
 * scripts/test.sh passes as `node --import tsx scripts/check-test-secrets.ts DIR…` (no DIR: out/
 * and test-results/). Exit 1 naming each file and line holding a secret (by the secret's name,
 * never its value).
 */
import { relative } from 'node:path';
import { scanForSecrets } from '../test/support/secretScan';
import { TEST_SECRETS } from '../test/support/testSecrets';

const root = new URL('..', import.meta.url).pathname;
const roots = process.argv.length > 2 ? process.argv.slice(2) : [`${root}out`, `${root}test-results`];
// tsx's cache of transpiled modules (`tsx-<uid>` in TMPDIR) holds testSecrets.ts itself: the
// definitions, not a leak.
const transpileCaches = /\/tsx-\d+$/;
const scan = scanForSecrets(roots, TEST_SECRETS, (dir) => !transpileCaches.test(dir));
const shown = (file: string): string => (file.startsWith(root) ? relative(root, file) : file);
for (const finding of scan.findings) {
  process.stderr.write(`check-test-secrets: ${shown(finding.file)}:${finding.line}: holds the test secret ${finding.secret} (test/support/testSecrets.ts)\n`);
}
const summary = `${scan.filesRead} files (${(scan.bytesRead / 1e6).toFixed(1)} MB) under ${roots.map(shown).join(', ')}`;
if (scan.findings.length > 0) {
  process.stderr.write(`check-test-secrets: ${scan.findings.length} test secret(s) found in ${summary}: a secret reached a log or file.\n`);
  process.exit(1);
}
process.stdout.write(`check-test-secrets: no test secret in ${summary}.\n`);
