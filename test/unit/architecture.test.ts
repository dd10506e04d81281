/**
 * ARCHITECTURE.md stays true: every source file of the product is on its codemap, and `vscode` is
 * imported only under extension/ (everything else must run headless: CLI, language server, agent
 * client, benches). A file counts as on the codemap when the codemap names it (`agentClient.ts`),
 * when it is a header whose .c file is named (`rpc.h` with `rpc.c`), or when a backticked glob
 * covers its folder (`remote-agent/client/vm/*`, `bench/native/**`). A new file is added with one
 * line there. In the extension, the current target has one owner (agentSessions.ts): a feature that
 * read the setting itself would miss the picker's announcement and disagree with the others.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const SOURCE_FOLDERS = ['extension', 'language-server', 'remote-agent', 'cli', 'scripts', 'bench'];
const SOURCE_FILE = /\.(ts|c|h)$/;

/** The files under `folder` that git tracks or would (generated and build output are ignored), recursively. */
function filesUnder(folder: string): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', folder], { cwd: root, encoding: 'utf8' });
  return listed.split('\n').filter((path) => path !== '' && existsSync(join(root, path))).sort();
}

const sources = SOURCE_FOLDERS.flatMap(filesUnder).filter((path) => SOURCE_FILE.test(path));
const architecture = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
const codemap = architecture.slice(architecture.indexOf('## Codemap'));
/** Backticked folder globs: `dir/*` covers the files in dir, `dir/**` everything below it. */
const globs = [...codemap.matchAll(/`([\w./-]+)\/(\*\*?)`/g)].map(([, folder, stars]) => ({ folder, recursive: stars === '**' }));

function named(file: string): boolean {
  return new RegExp(`(^|[^\\w.-])${file.replaceAll('.', '\\.')}($|[^\\w-])`).test(codemap);
}

function onCodemap(path: string): boolean {
  const file = basename(path);
  if (named(file) || (file.endsWith('.h') && named(file.replace(/\.h$/, '.c')))) return true;
  const folder = dirname(path);
  return globs.some((glob) => folder === glob.folder || (glob.recursive && folder.startsWith(`${glob.folder}/`)));
}

test('ARCHITECTURE.md has a codemap and the source folders hold sources', () => {
  assert.ok(architecture.includes('## Codemap'));
  for (const folder of SOURCE_FOLDERS) assert.ok(sources.some((path) => path.startsWith(`${folder}/`)), `no source file under ${folder}/`);
});

test('every source file under extension/, language-server/, remote-agent/, cli/, scripts/ and bench/ is on the codemap', () => {
  const missing = sources.filter((path) => !onCodemap(path));
  assert.deepEqual(missing, [], `name these files (or a \`folder/*\` glob) in ARCHITECTURE.md's codemap:\n${missing.join('\n')}`);
});

test('only extension/ imports vscode: the CLI, the language server, the agent client, scripts, benches and tests run without VS Code', () => {
  const outside = [...SOURCE_FOLDERS.filter((folder) => folder !== 'extension').flatMap(filesUnder), ...filesUnder('test')].filter((path) => /\.(ts|mjs|js)$/.test(path));
  const importing = outside.filter((path) => /\bfrom\s+['"]vscode['"]|\b(require|import)\(\s*['"]vscode['"]\s*\)/.test(readFileSync(join(root, path), 'utf8')));
  assert.deepEqual(importing, [], `vscode imported outside extension/ by:\n${importing.join('\n')}`);
});

test('in extension/, only agentSessions.ts turns the target setting into a target; every other feature asks it', () => {
  const owners = new Set(['extension/agentSessions.ts', 'extension/settings.ts']);
  const readers = filesUnder('extension').filter((path) => path.endsWith('.ts') && !owners.has(path) && /\bresolveTarget\(|readSettings\(\)\.target\b|\bstoreTarget\(/.test(readFileSync(join(root, path), 'utf8')));
  assert.deepEqual(readers, [], `ask AgentSessions (currentTarget, onDidChangeTarget, selectTarget) instead of reading the setting in:\n${readers.join('\n')}`);
});
