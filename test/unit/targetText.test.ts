/**
 * How the views show text that came from a target: reordering and invisible characters as
 * escapes, very long text cut with its length said.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutText, showHiddenCharacters, targetTextForDisplay } from '../../extension/targetText';

test('bidirectional overrides, embeddings, isolates and marks are shown as \\uXXXX escapes, so they cannot reorder a name', () => {
  assert.equal(showHiddenCharacters('invoice\u202Efdp.exe'), 'invoice\\u202Efdp.exe');
  assert.equal(showHiddenCharacters('\u2066a\u2067b\u2068c\u2069'), '\\u2066a\\u2067b\\u2068c\\u2069');
  assert.equal(showHiddenCharacters('\u202A\u202B\u202C\u202D\u200E\u200F\u061C'), '\\u202A\\u202B\\u202C\\u202D\\u200E\\u200F\\u061C');
});

test('control characters are escaped (newline and carriage return by name); tab and right-to-left letters stay text', () => {
  assert.equal(showHiddenCharacters('a\nb\rc\u0000d\u001be\u007ff\u0085g\u2028h\u2029'), 'a\\nb\\rc\\u0000d\\u001Be\\u007Ff\\u0085g\\u2028h\\u2029');
  assert.equal(showHiddenCharacters('col\tcol שלום مرحبا 🙂'), 'col\tcol שלום مرحبا 🙂');
});

test('markup characters are left as they are: the views set text, never HTML', () => {
  const markup = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>&amp;';
  assert.equal(showHiddenCharacters(markup), markup);
});

test('text over the limit is cut and says how long it was; text at the limit is whole', () => {
  assert.equal(cutText('abcdef', 6), 'abcdef');
  assert.equal(cutText('x'.repeat(1_048_575), 4), 'xxxx… (cut: 1,048,575 characters in all)');
});

test('text cut again says the length of the original, not of the text it was given', () => {
  const held = cutText('y'.repeat(1_048_575), 8192);
  assert.equal(cutText(held, 3), 'yyy… (cut: 1,048,575 characters in all)');
});

test('a cut never splits a surrogate pair', () => {
  assert.equal(cutText('ab🙂cd', 3), 'ab… (cut: 6 characters in all)');
});

test('for display, the text is cut first and then escaped, so escapes never count against the cut', () => {
  assert.equal(targetTextForDisplay('\u202E'.repeat(5), 2), '\\u202E\\u202E… (cut: 5 characters in all)');
});
