/**
 * The verifier log view's HTML page (in webviewPage.ts's frame and policy): toolbar, figures, the
 * list's scroll container. Imports neither vscode nor the DOM, so the bench serves the same page
 * to a browser.
 */
import { REGISTERS } from './verifierLogMessages';
import { webviewPage, type PageSources } from './webviewPage';

/** The page; `sources.styles` are controls.css and verifierLog.css. */
export function verifierLogPage(sources: PageSources): string {
  const registers = REGISTERS.map((r) => `<option value="${r}">${r}</option>`).join('');
  return webviewPage(
    sources,
    'Verifier Log',
    `
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
`,
  );
}
