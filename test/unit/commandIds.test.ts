/**
 * extension/commandIds.ts is the one table of our command ids: package.json contributes exactly
 * those commands, its menus and keybindings name no other, and the extension's sources take them
 * from the table rather than spelling them again.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Commands } from '../../extension/commandIds';

const root = join(import.meta.dirname, '..', '..');

interface Contributes {
  commands: { command: string }[];
  menus?: Record<string, { command?: string; alt?: string }[]>;
  keybindings?: { command: string }[];
}

const contributes = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { contributes: Contributes }).contributes;
const table: string[] = Object.values(Commands);

test('the command table has no id twice, and package.json contributes each command once', () => {
  assert.equal(new Set(table).size, table.length);
  const contributed = contributes.commands.map((c) => c.command);
  assert.equal(new Set(contributed).size, contributed.length);
});

test("package.json's contributes.commands are exactly the command table", () => {
  const contributed = new Set(contributes.commands.map((c) => c.command));
  assert.deepEqual(
    table.filter((id) => !contributed.has(id)),
    [],
    'in extension/commandIds.ts but not contributed: give it a title in package.json (hidden with a commandPalette "when": "false" if internal)',
  );
  assert.deepEqual(
    [...contributed].filter((id) => !table.includes(id)),
    [],
    'contributed but not in extension/commandIds.ts: add it to the table the extension registers from',
  );
});

test('menus and keybindings name only commands of the table', () => {
  const named = [
    ...Object.entries(contributes.menus ?? {}).flatMap(([menu, entries]) =>
      entries.flatMap((entry) => [entry.command, entry.alt].filter((id): id is string => id !== undefined).map((id) => ({ where: `menus.${menu}`, id }))),
    ),
    ...(contributes.keybindings ?? []).map((binding) => ({ where: 'keybindings', id: binding.command })),
  ];
  assert.ok(named.length > 0, 'package.json has menus');
  assert.deepEqual(
    named.filter(({ id }) => !table.includes(id)),
    [],
  );
});

test("the extension's sources take command ids from the table instead of spelling them", () => {
  const folder = join(root, 'extension');
  const spelled = readdirSync(folder)
    .filter((file) => file.endsWith('.ts') && file !== 'commandIds.ts')
    .flatMap((file) => {
      const text = readFileSync(join(folder, file), 'utf8');
      return table.filter((id) => new RegExp(`['"\`]${id.replaceAll('.', '\\.')}['"\`]`).test(text)).map((id) => `${file}: ${id}`);
    });
  assert.deepEqual(spelled, []);
});
