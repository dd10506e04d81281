/**
 * A real VS Code for editor tests: code-server (installed by scripts/install-code-server.sh) on a
 * free loopback port with its own user-data and extensions directories, and Debian's chromium
 * driven by playwright-core to use it the way a person does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const codeServerEntry = join(repoRoot, '.tools/code-server/node_modules/code-server/out/node/entry.js');
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why editor tests cannot run here, or undefined when code-server and chromium are both present. */
export function missingEditorTools(): string | undefined {
  if (!existsSync(codeServerEntry)) return `code-server is not installed at ${codeServerEntry}: run scripts/install-code-server.sh`;
  if (!existsSync(chromiumPath)) return `chromium is not installed at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH)`;
  return undefined;
}

/** The settings a fresh profile needs so that nothing (walkthrough, trust dialog) takes the focus. */
export const quietWorkbenchSettings = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
};

export async function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): Promise<void> {
  await mkdir(join(userDataDir, 'User'), { recursive: true });
  await writeFile(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Installs a .vsix into `extensionsDir` with code-server's own installer (works offline). */
export async function installVsix(vsix: string, extensionsDir: string, signal?: AbortSignal): Promise<void> {
  const child = spawn(process.execPath, [codeServerEntry, '--extensions-dir', extensionsDir, '--install-extension', vsix], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(signal ? { signal } : {}),
  });
  const output = collect(child);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`code-server --install-extension ${vsix} failed (exit ${code}):\n${output()}`);
}

export interface CodeServer {
  url: string;
  /** Everything code-server printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartCodeServerOptions {
  folder: string;
  userDataDir: string;
  extensionsDir: string;
  port?: number;
  /** HOME of code-server and so of the extension host: keeps ~/.ssh and ~/.cache of the machine out of tests. */
  home?: string;
  /** How long to wait for the HTTP server; default 60 s. */
  timeoutMs?: number;
}

export async function startCodeServer(opts: StartCodeServerOptions): Promise<CodeServer> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [
      codeServerEntry,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--config', join(opts.userDataDir, 'code-server.yaml'), // else it writes ~/.config/code-server
      '--user-data-dir', opts.userDataDir,
      '--extensions-dir', opts.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      opts.folder,
    ],
    // Its own process group, so that stopping it also ends the extension host and the agents it started.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...(opts.home ? { HOME: opts.home } : {}) } },
  );
  const output = collect(child);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // ESRCH: the group is gone already
      }
    };
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    signalGroup('SIGKILL'); // whatever of the group outlived code-server itself
  };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not listen within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
      const onData = (): void => {
        if (output().includes('HTTP server listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`code-server exited (${code}) before listening:\n${output()}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/`, output, stop };
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Opens the workbench and waits until the Explorer lists the folder's files. */
export async function openWorkbench(browser: Browser, url: string, timeoutMs = 60_000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url, { timeout: timeoutMs });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
  return page;
}

/** The .vsix under test: EBPF_STUDIO_VSIX when set, else a fresh `npm run package`. */
export async function vsixUnderTest(): Promise<string> {
  if (process.env.EBPF_STUDIO_VSIX) return process.env.EBPF_STUDIO_VSIX;
  try {
    await promisify(execFile)('npm', ['run', '--silent', 'package'], { cwd: repoRoot, maxBuffer: 16 << 20 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run package failed:\n${stdout}\n${stderr}`);
  }
  return join(repoRoot, 'out/ebpf-studio.vsix');
}

/** An Output channel's text as code-server logged it (the longest copy: it is logged on both sides of the remote connection). */
export async function outputChannelLog(userDataDir: string, channel: string): Promise<string> {
  const logs = join(userDataDir, 'logs');
  const files = (await readdir(logs, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith(`${channel}.log`));
  const texts = await Promise.all(files.map((f) => readFile(join(logs, f), 'utf8')));
  return texts.sort((a, b) => b.length - a.length)[0] ?? `(no log of the "${channel}" Output channel found)`;
}

function collect(child: ChildProcess): () => string {
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  return () => chunks.join('');
}
