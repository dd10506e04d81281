// The one build script: generates the helper table and the agent's protocol header, bundles the extension, the language server
// and the CLI with esbuild, and stages the agent's sources that get shipped and built on targets.
// Usage: node scripts/build.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
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

const bundles = [
  { entryPoints: ['extension/extension.ts'], outfile: 'out/extension.js', external: ['vscode', '*.node', 'cpu-features'] },
  { entryPoints: ['language-server/server.ts'], outfile: 'out/server.js' },
  { entryPoints: ['cli/main.ts'], outfile: 'out/cli.js', banner: { js: '#!/usr/bin/env node' } },
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

if (watch) {
  for (const b of bundles) await (await esbuild.context({ ...common, ...b })).watch();
} else {
  await Promise.all(bundles.map((b) => esbuild.build({ ...common, ...b })));
}
