/**
 * The Getting Started walkthrough as package.json contributes it: each step's page exists and is
 * shipped in the .vsix (.vscodeignore keeps it), and each command its buttons and completion
 * events name is one the extension registers (extension/commandIds.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Commands } from '../../extension/commandIds';

const root = join(import.meta.dirname, '..', '..');
interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string };
  completionEvents?: string[];
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { contributes: { walkthroughs: { id: string; steps: Step[] }[] } };
const [walkthrough] = pkg.contributes.walkthroughs;
const registered = new Set<string>(Object.values(Commands));

test('the walkthrough goes target → template → verify → attach, each step a page of its own', () => {
  assert.deepEqual(
    walkthrough.steps.map((s) => s.id),
    ['pickTarget', 'newProgram', 'verify', 'attach'],
  );
  for (const step of walkthrough.steps) {
    assert.ok(step.media.markdown, `${step.id} has a page`);
    assert.ok(existsSync(join(root, step.media.markdown)), `${step.media.markdown} exists`);
  }
});

test("the walkthrough's pages are shipped in the .vsix", () => {
  const kept = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n');
  for (const step of walkthrough.steps) {
    const dir = step.media.markdown!.split('/').slice(0, -1).join('/');
    assert.ok(kept.includes(`!${dir}/**`), `.vscodeignore keeps ${dir}/`);
  }
});

test('every command a step runs or completes on is registered', () => {
  for (const step of walkthrough.steps) {
    const linked = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
    const completing = (step.completionEvents ?? []).map((e) => e.replace(/^onCommand:/, ''));
    assert.ok(linked.length > 0, `${step.id} has a button`);
    for (const command of [...linked, ...completing]) assert.ok(registered.has(command), `${step.id}: ${command} is in commandIds.ts`);
  }
});
