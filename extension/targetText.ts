/**
 * Text that came from a target (event strings, map contents, comm names, log lines, file names),
 * made safe to show: the characters that would change how the text around them is drawn, or that
 * a reader cannot see, are shown as escapes, and very long text is cut with its length said.
 *
 * Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) reorder what follows them, so
 * `a\u202Eexe.txt` reads as `atxt.exe`: a row of the Events view or a map key must never say
 * something other than what the kernel sent. They, the C0 and C1 control characters (tab aside)
 * and the line and paragraph separators are shown as `\uXXXX` escapes (`\n`, `\r` as such), so a
 * person sees that they are there and where. Right-to-left letters themselves are text, and stay.
 * The escapes are for display only: filters, search and export work on the text as received
 * (which the Events view holds cut at 8,192 characters, eventsView.ts).
 *
 * Used by the webviews (which set text, never HTML) and the Maps tree; imports neither vscode nor
 * the DOM.
 */

/** Characters shown as escapes: C0 controls but tab, DEL and C1, ALM, LRM/RLM, LRE…RLO, LS/PS, LRI…PDI. */
const HIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/g;
const HIDDEN_TEST = new RegExp(HIDDEN.source);

function escapeOf(character: string): string {
  if (character === '\n') return '\\n';
  if (character === '\r') return '\\r';
  return `\\u${character.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `text` with every invisible or reordering character shown as an escape (see the header). */
export function showHiddenCharacters(text: string): string {
  return HIDDEN_TEST.test(text) ? text.replace(HIDDEN, escapeOf) : text;
}

/** What cutText appends; a text cut again keeps saying how long the original was. */
const CUT_MARK = /… \(cut: ([\d,]+) characters in all\)$/;

/**
 * `text` cut to at most `max` UTF-16 units (never inside a surrogate pair), followed by how long it
 * was, so a cut value never passes for the whole one. Text that was cut before (the Events view
 * holds values cut, its cells show less) says the original length.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const earlier = CUT_MARK.exec(text);
  const length = earlier ? earlier[1] : text.length.toLocaleString('en-US');
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (cut: ${length} characters in all)`;
}

/** What a view shows of a target's text: cut to `max`, then its hidden characters escaped. */
export function targetTextForDisplay(text: string, max: number): string {
  return showHiddenCharacters(cutText(text, max));
}
