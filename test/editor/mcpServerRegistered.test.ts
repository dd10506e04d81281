/**
 * eBPF Studio's MCP server in a real VS Code (code-server + headless chromium): with a target
 * configured, VS Code's own MCP server list ("MCP: List Servers", what agent mode draws its tools
 * from) names "eBPF Studio" with no mcp.json written by anyone, as extension/mcpServerProvider.ts
 * defines it; started from that list, it runs: VS Code spawned `ebpf-studio mcp` with the current
target and discovered its tools.
 *
 * Needs code-server with VS Code's MCP API (1.101+: scripts/install-code-server.sh) and chromium;
 * skipped without them, except on CI (CI=true) where that is a failure. Screenshots go to test-results/.
 */
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { editorTestSkipReason, openEditorSession, runCommand, type EditorSession } from '../support/codeServer';

const missing = editorTestSkipReason('editor tests');

let session: EditorSession;
let page: Page;

before(async () => {
  if (missing) return;
  session = await openEditorSession({
    name: 'mcp-server',
    // A .bpf.c file activates the extension (workspaceContains), which registers the provider.
    workspace: { files: { 'probe.bpf.c': '#include "vmlinux.h"\n' } },
    settings: { 'ebpfStudio.target': 'local', 'ebpfStudio.mcp.allowedTargets': ['local'] },
  });
  page = session.page;
});

after(async () => {
  await session?.close();
});

test("VS Code's MCP server list has eBPF Studio's server, and it starts from there", { skip: missing, timeout: 300_000 }, async () => {
  try {
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'eBPF Studio' });
    // The provider is registered once the extension has activated: until then the list lacks it.
    await untilListed(row, 'Stopped', 120_000);
    await session.screenshot('1-listed');

    await row.first().click();
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Start Server' }).first().click();
    // VS Code shows the server's Output ("MCP: eBPF Studio"): our stderr line, then the tools it
    // listed. The editor draws spaces as U+00A0, which a pattern's \s matches.
    await page.locator('.monaco-editor .view-line', { hasText: '[server stderr] ebpf-studio mcp: serving local on stdio' }).first().waitFor({ timeout: 60_000 });
    await page.locator('.monaco-editor .view-line', { hasText: /Discovered\s\d+\stools/ }).first().waitFor({ timeout: 30_000 });
    // The Output took the focus; the palette opens from the workbench.
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'probe.bpf.c' }).click();
    await untilListed(row, 'Running', 30_000);
    await session.screenshot('2-running');
  } catch (error) {
    await session.screenshot('failure');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- eBPF Studio output ---\n${await session.extensionOutput()}`);
  }
});

/** Opens "MCP: List Servers" until its eBPF Studio row says @state (the list is not live: it is asked again). */
async function untilListed(row: ReturnType<Page['locator']>, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runCommand(page, 'MCP: List Servers');
    try {
      await row.filter({ hasText: state }).first().waitFor({ timeout: 5_000 });
      return;
    } catch (error) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`"MCP: List Servers" never showed eBPF Studio as ${state} within ${timeoutMs} ms: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
