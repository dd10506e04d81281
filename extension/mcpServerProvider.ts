/**
 * Offers eBPF Studio's MCP server (`ebpf-studio mcp`, cli/mcpServer.ts) to VS Code's agent mode
 * through the MCP server definition provider API, so agents get check/explain/… with no
 * configuration: the server runs the bundled CLI with the current target and the targets the user
 * lets agents use without asking (`ebpfStudio.mcp.allowedTargets`); it is redefined when either
 * changes. VS Code before 1.101 has no such API: the feature is then absent, and `npx ebpf-studio
 * mcp` can still be configured by hand.
 */
import type { NamedTarget } from '../remote-agent/client/namedTargets';
import type { SshClientSetting } from '../remote-agent/client/sshClientChoice';
import * as vscode from 'vscode';
import type { AgentSessions } from './agentSessions';
import type { ExtensionLog } from './extensionLog';
import { readSettings, SETTINGS_SECTION } from './settings';

/** The provider id in package.json's contributes.mcpServerDefinitionProviders. */
export const MCP_PROVIDER_ID = 'ebpfStudio.mcp';

/** The parts of VS Code 1.101's MCP API used here (@types/vscode of our engine predates them). */
interface McpApi {
  registerMcpServerDefinitionProvider(id: string, provider: { onDidChangeMcpServerDefinitions: vscode.Event<void>; provideMcpServerDefinitions(): unknown[] }): vscode.Disposable;
}
type McpStdioServerDefinitionClass = new (label: string, command: string, args: string[], env: Record<string, string>, version: string) => unknown;

/** The `ebpf-studio mcp` arguments for the current settings; no target, no server. */
export function mcpServerArgs(
  cliPath: string,
  target: string | undefined,
  allowed: readonly string[],
  ssh: { identityFile?: string | undefined; knownHostsFile?: string | undefined; sshClient?: SshClientSetting },
): string[] | undefined {
  if (target === undefined) return undefined;
  return [
    cliPath,
    'mcp',
    '--target',
    target,
    ...allowed.filter((t) => t === target).flatMap((t) => ['--allow-target', t]),
    ...(ssh.identityFile ? ['--identity', ssh.identityFile] : []),
    ...(ssh.knownHostsFile ? ['--known-hosts', ssh.knownHostsFile] : []),
    ...(ssh.sshClient !== undefined && ssh.sshClient !== 'auto' ? ['--ssh-client', ssh.sshClient] : []),
  ];
}

/** EBPF_STUDIO_TARGETS for the CLI: the named targets as the setting writes them; none, no variable. */
export function namedTargetsEnv(named: readonly NamedTarget[]): Record<string, string> {
  if (named.length === 0) return {};
  const entries = named.map(({ name, destination, sudo, workDirectory }) => ({ name, destination, sudo, ...(workDirectory !== undefined && { workDirectory }) }));
  return { EBPF_STUDIO_TARGETS: JSON.stringify(entries) };
}

export function registerMcpServerProvider(context: vscode.ExtensionContext, sessions: AgentSessions, version: string, log: ExtensionLog): vscode.Disposable {
  const lm = (vscode as unknown as { lm?: Partial<McpApi> }).lm;
  const Definition = (vscode as unknown as { McpStdioServerDefinition?: McpStdioServerDefinitionClass }).McpStdioServerDefinition;
  const absent = new vscode.Disposable(() => {});
  if (typeof lm?.registerMcpServerDefinitionProvider !== 'function' || Definition === undefined) return absent;
  const changed = new vscode.EventEmitter<void>();
  let provider: vscode.Disposable;
  try {
    provider = registerProvider(lm.registerMcpServerDefinitionProvider.bind(lm), Definition, changed.event);
  } catch (error) {
    // VS Code 1.100 and older have the function as a proposed API that throws for extensions.
    changed.dispose();
    log.info(`agent mode does not get eBPF Studio's MCP server from this VS Code ${vscode.version} (${error instanceof Error ? error.message : String(error)}); \`npx ebpf-studio mcp\` can be configured by hand`);
    return absent;
  }
  return vscode.Disposable.from(
    provider,
    changed,
    sessions.onDidChangeTarget(() => changed.fire()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // What the server's arguments are made of (mcpServerArgs).
      if (['mcp.allowedTargets', 'identityFile', 'knownHostsFile', 'sshClient'].some((name) => e.affectsConfiguration(`${SETTINGS_SECTION}.${name}`))) changed.fire();
    }),
  );

  function registerProvider(register: McpApi['registerMcpServerDefinitionProvider'], Server: McpStdioServerDefinitionClass, onChange: vscode.Event<void>): vscode.Disposable {
    return register(MCP_PROVIDER_ID, {
      onDidChangeMcpServerDefinitions: onChange,
      provideMcpServerDefinitions: () => {
        const resolved = sessions.currentTarget();
        const target = resolved.ok ? sessions.currentTargetSetting() || 'local' : undefined;
        const allowed = vscode.workspace.getConfiguration(SETTINGS_SECTION).get<string[]>('mcp.allowedTargets', []);
        const args = mcpServerArgs(context.asAbsolutePath('out/cli.js'), target, allowed, readSettings());
        // The extension host's executable is Electron's: ELECTRON_RUN_AS_NODE makes it a plain Node.
        // The named targets the editor knows go along, so a name as the target means the same there.
        const env = { ELECTRON_RUN_AS_NODE: '1', ...namedTargetsEnv(sessions.namedTargets()) };
        return args ? [new Server('eBPF Studio', process.execPath, args, env, version)] : [];
      },
    });
  }
}
