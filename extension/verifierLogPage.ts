/**
 * The verifier log view's HTML page: toolbar, figures, the list's scroll container and the
 * script, under a Content-Security-Policy that lets in only our stylesheet and the one script
 * carrying the page's nonce (no inline script or style, nothing else loaded). The page holds no
 * data: the script fills it in with textContent. Imports neither vscode nor the DOM, so the bench
 * serves the same page to a browser.
 */
import { REGISTERS } from './verifierLogMessages';

export interface PageSources {
  /** Fresh per page: only the script tag carrying it runs. */
  nonce: string;
  /** Where the webview's own resources come from (vscode.Webview.cspSource). */
  cspSource: string;
  script: string;
  style: string;
}

export function verifierLogPage({ nonce, cspSource, script, style }: PageSources): string {
  const csp = [`default-src 'none'`, `style-src ${cspSource}`, `script-src 'nonce-${nonce}'`, `font-src ${cspSource}`].join('; ');
  const registers = REGISTERS.map((r) => `<option value="${r}">${r}</option>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Verifier Log</title>
</head>
<body>
<div class="toolbar">
  <input id="search" type="text" spellcheck="false" placeholder="Search the log" aria-label="Search the log" title="Enter: next match, Shift+Enter: previous">
  <span id="count" class="count" aria-live="polite"></span>
  <button id="previous" type="button" title="Previous match (Shift+Enter)" aria-label="Previous match">↑</button>
  <button id="next" type="button" title="Next match (Enter)" aria-label="Next match">↓</button>
  <select id="register" aria-label="Filter by register" title="Show only the lines whose instruction or state mentions this register, under their source lines"><option value="">All registers</option>${registers}</select>
  <button id="failing" type="button" title="Scroll to the instruction the verifier rejected">Failing Instruction</button>
  <button id="open-text" type="button" title="Open the raw log in an editor, to copy or save it">Open as Text</button>
</div>
<div class="heading"><span id="title" class="title"></span> <span id="subtitle" class="subtitle"></span></div>
<div id="stats" class="stats"></div>
<div id="notice" class="notice" hidden></div>
<div id="scroller" class="scroller" tabindex="0" role="listbox" aria-label="Verifier log">
  <div id="viewport" class="viewport"><div id="rows" class="rows"></div></div>
  <div id="spacer"></div>
</div>
<div id="detail" class="detail"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
