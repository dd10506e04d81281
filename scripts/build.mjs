// The one build script: generates the helper table and the agent's protocol header, bundles the extension, the language server
// and the CLI with esbuild, and stages the agent's sources that get shipped and built on targets.
// Usage: node scripts/build.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

execFileSync(process.execPath, [join(root, 'scripts/generate-helper-table.mjs')], { stdio: 'inherit' });
// The C agent's protocol_generated.h, from remote-agent/protocol.ts (before the agent's sources are staged).
execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/generate-agent-protocol.ts')], { stdio: 'inherit' });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
  // ssh2 tries its optional native crypto binding and cpu-features inside try/catch; without them
  // it runs on pure JS + Node's crypto, so leave them out of the bundle.
  external: ['*.node', 'cpu-features'],
};

// The CLI starts small: cli/main.ts loads each command's module with a dynamic import, and each
// of those modules is a bundle of its own beside out/cli.js (out/cli-NAME.js; the modules find
// out/agent-bin and the templates from __dirname, so they stay in out/). A `check` then reads and
// compiles what checking needs, not the MCP SDK, zod and the language server as well.
const cliMain = join(root, 'cli/main.ts');
const cliCommandModules = [...new Set([...readFileSync(cliMain, 'utf8').matchAll(/import\('\.\/(\w+)'\)/g)].map((m) => m[1]))];
const cliCommandsApart = {
  name: 'cli-commands-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/\w+$/ }, (args) =>
      args.kind === 'dynamic-import' && args.importer === cliMain ? { path: `./cli-${args.path.slice(2)}.js`, external: true } : undefined,
    );
  },
};

const bundles = [
  { entryPoints: ['extension/extension.ts'], outfile: 'out/extension.js', external: ['vscode', '*.node', 'cpu-features'] },
  { entryPoints: ['language-server/server.ts'], outfile: 'out/server.js' },
  // Dynamic imports as require(): Node's import() of a CommonJS file first scans it for its exports (~0.1 s for a check bundle).
  { entryPoints: ['cli/main.ts'], outfile: 'out/cli.js', banner: { js: '#!/usr/bin/env node' }, plugins: [cliCommandsApart], supported: { 'dynamic-import': false } },
  ...cliCommandModules.map((name) => ({ entryPoints: [`cli/${name}.ts`], outfile: `out/cli-${name}.js` })),
  // The webviews (Events view, verifier log view): browser scripts and their stylesheets, loaded from out/webview/ under a strict CSP.
  { entryPoints: ['extension/webview/controls.css', 'extension/webview/events.ts', 'extension/webview/events.css', 'extension/webview/verifierLog.ts', 'extension/webview/verifierLog.css'], outdir: 'out/webview', platform: 'browser', format: 'iife', target: 'chrome114', external: [] },
];

// The agent is built on each target from these sources (see remote-agent/client/deployAgent.ts).
const agentSrc = join(root, 'remote-agent/agent');
const agentOut = join(root, 'out/agent-src');
rmSync(agentOut, { recursive: true, force: true });
mkdirSync(agentOut, { recursive: true });
for (const f of readdirSync(agentSrc)) {
  if (/\.(c|h)$/.test(f) || f === 'Makefile') cpSync(join(agentSrc, f), join(agentOut, f));
}
// Static agents for x86_64 and aarch64 (out/agent-bin/<arch>/ebpf-agent): targets of those need no build tools.
// A package must hold both; a development build may skip a foreign architecture whose cross tools are missing.
execFileSync(join(root, 'scripts/build-agent-binaries.sh'), production ? ['--require-all'] : [], { stdio: 'inherit' });

// The CLI's build id (read by remote-agent/client/sessionProcessDirectory.ts buildId()): a hash of what the CLI runs, so
// a session process of another build is never used. A watch build cannot keep it true, so it
// removes it and the CLI hashes its entry file instead.
const buildIdFile = join(root, 'out/cli-build-id');
rmSync(buildIdFile, { force: true });
if (watch) {
  for (const b of bundles) await (await esbuild.context({ ...common, ...b })).watch();
} else {
  await Promise.all(bundles.map((b) => esbuild.build({ ...common, ...b })));
  const hash = createHash('sha256');
  const agentBin = join(root, 'out/agent-bin');
  const agents = existsSync(agentBin) ? readdirSync(agentBin).sort().map((arch) => join('agent-bin', arch, 'ebpf-agent')) : [];
  const cliBundles = readdirSync(join(root, 'out')).filter((f) => /^cli(-\w+)?\.js$/.test(f)).sort();
  for (const file of [...cliBundles, ...agents].filter((f) => existsSync(join(root, 'out', f)))) {
    hash.update(`${file}\0`).update(readFileSync(join(root, 'out', file)));
  }
  writeFileSync(buildIdFile, `${hash.digest('hex')}\n`);
}
