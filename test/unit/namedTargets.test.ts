/**
 * Named targets as users write them in `ebpfStudio.targets` and `.ebpf-studio/targets.json`: what
 * each field may hold, the exact message for each mistake (the entry is left out, the rest kept),
 * one name per destination, and what a typed name or destination resolves to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeNamedTargets, parseTargetsFile, parseTargetsSetting, parseWorkDirectory, resolveTargetText } from '../../remote-agent/client/namedTargets';

test('an entry with every field becomes a named target; sudo defaults to "auto"', () => {
  assert.deepEqual(
    parseTargetsSetting([
      { name: 'staging-6-1', destination: 'deploy@10.0.0.5:2222', sudo: 'never', workDirectory: '/srv/ebpf-studio/' },
      { name: 'bench', destination: 'bench-box' },
    ]),
    {
      targets: [
        { name: 'staging-6-1', destination: 'deploy@10.0.0.5:2222', spec: { kind: 'ssh', host: '10.0.0.5', user: 'deploy', port: 2222 }, sudo: 'never', workDirectory: '/srv/ebpf-studio', source: 'ebpfStudio.targets' },
        { name: 'bench', destination: 'bench-box', spec: { kind: 'ssh', host: 'bench-box' }, sudo: 'auto', source: 'ebpfStudio.targets' },
      ],
      problems: [],
    },
  );
});

test('each mistake leaves its entry out with a message naming the source, the entry and the fix', () => {
  const { targets, problems } = parseTargetsSetting([
    'staging',
    { destination: 'root@a' },
    { name: 'two words', destination: 'root@a' },
    { name: 'LOCAL', destination: 'root@a' },
    { name: 'a', destination: 'root@a', workdir: '/x' },
    { name: 'b' },
    { name: 'c', destination: 'ftp://host' },
    { name: 'd', destination: 'root@a', sudo: 'yes' },
    { name: 'e', destination: 'root@a', workDirectory: 'relative/dir' },
    { name: 'f', destination: 'vm:6.1', workDirectory: '~/x' },
    { name: 'ok', destination: 'local' },
  ]);
  assert.deepEqual(targets.map((t) => t.name), ['ok']);
  assert.deepEqual(problems, [
    'ebpfStudio.targets: entry 1 must be an object with "name" and "destination"; it is ignored.',
    'ebpfStudio.targets: entry 2 has no "name" (a word like "staging-6-1"); it is ignored.',
    `ebpfStudio.targets: target "two words" is not a target name: use a letter, then letters, digits, '-' and '_' (e.g. "staging-6-1"), and not "local"; it is ignored.`,
    `ebpfStudio.targets: target "LOCAL" is not a target name: use a letter, then letters, digits, '-' and '_' (e.g. "staging-6-1"), and not "local"; it is ignored.`,
    'ebpfStudio.targets: target "a" has "workdir", which is not one of "name", "destination", "sudo", "workDirectory"; it is ignored.',
    'ebpfStudio.targets: target "b" has no "destination" (e.g. "root@10.0.0.5", an ~/.ssh/config alias, "vm:6.1" or "local"); it is ignored.',
    "ebpfStudio.targets: target \"c\": Target 'ftp://host' uses the scheme 'ftp', but only ssh:// is supported. It is ignored.",
    'ebpfStudio.targets: target "d" has "sudo": "yes"; write "auto" (root, else sudo) or "never" (the login user, who must be root). It is ignored.',
    'ebpfStudio.targets: target "e": workDirectory "relative/dir" must be an absolute path or start with ~/. It is ignored.',
    'ebpfStudio.targets: target "f" is a kernel VM, whose agent lives where eBPF Studio puts it; remove "workDirectory". It is ignored.',
  ]);
});

test('a setting that is not an array is ignored with one message', () => {
  assert.deepEqual(parseTargetsSetting({ name: 'x' }), { targets: [], problems: ['ebpfStudio.targets must be an array of { "name", "destination" } entries; it is ignored.'] });
  assert.deepEqual(parseTargetsSetting(undefined), { targets: [], problems: [] });
});

test('work directories: absolute or under ~, normalized; nothing a shell or a traversal could read differently', () => {
  assert.equal(parseWorkDirectory('~/ebpf-studio/'), '~/ebpf-studio');
  assert.equal(parseWorkDirectory('/var/lib/ebpf-studio'), '/var/lib/ebpf-studio');
  assert.throws(() => parseWorkDirectory('~'), { message: 'workDirectory "~" must be an absolute path or start with ~/.' });
  assert.throws(() => parseWorkDirectory('~/'), { message: 'workDirectory "~/" must name a directory below your home directory, not ~ itself.' });
  assert.throws(() => parseWorkDirectory('/'), { message: 'workDirectory "/" must name a directory below /, not / itself.' });
  assert.throws(() => parseWorkDirectory('/srv//x'), { message: "workDirectory \"/srv//x\" has an empty path segment ('//')." });
  assert.throws(() => parseWorkDirectory('~/../root'), { message: "workDirectory \"~/../root\" may not contain '.' or '..' segments." });
  assert.throws(() => parseWorkDirectory('/srv/my dir'), { message: 'workDirectory "/srv/my dir" may hold only letters, digits and . _ + @ = , % - in its names (no spaces or quotes).' });
  assert.throws(() => parseWorkDirectory('/srv/$(id)'), { message: 'workDirectory "/srv/$(id)" may hold only letters, digits and . _ + @ = , % - in its names (no spaces or quotes).' });
});

test('the workspace file holds { "targets": [...] } only', () => {
  const file = '/ws/.ebpf-studio/targets.json';
  assert.deepEqual(parseTargetsFile('{"targets":[{"name":"ci","destination":"vm:6.1"}]}', file).targets.map((t) => [t.name, t.source]), [['ci', file]]);
  assert.deepEqual(parseTargetsFile('{"targets":[],"target":"x"}', file).problems, [`${file} holds only "targets"; "target" is ignored.`]);
  assert.deepEqual(parseTargetsFile('[]', file), { targets: [], problems: [`${file} must be an object { "targets": [ … ] }; its targets are ignored.`] });
  assert.match(parseTargetsFile('{', file).problems[0]!, /^\/ws\/\.ebpf-studio\/targets\.json is not valid JSON \(.+\); its targets are ignored\.$/);
});

test('a name defined twice: the first source wins; a destination that is a name is refused', () => {
  const setting = parseTargetsSetting([{ name: 'staging', destination: 'root@a' }, { name: 'alias', destination: 'staging' }]);
  const file = parseTargetsFile('{"targets":[{"name":"staging","destination":"root@b"},{"name":"ci","destination":"local"}]}', '/ws/t.json');
  const merged = mergeNamedTargets([setting, file]);
  assert.deepEqual(merged.targets.map((t) => [t.name, t.destination]), [['staging', 'root@a'], ['ci', 'local']]);
  assert.deepEqual(merged.problems, [
    '/ws/t.json: target "staging" is also defined in ebpfStudio.targets, which is used.',
    'ebpfStudio.targets: target "alias" has the destination "staging", which is the name of a target; a destination is an ssh destination, a ~/.ssh/config alias, vm:NAME or local, never another name.',
  ]);
});

test('a typed name resolves to its destination and session options; anything else is a destination', () => {
  const { targets } = parseTargetsSetting([{ name: 'staging', destination: 'deploy@10.0.0.5', sudo: 'never', workDirectory: '~/.ebpf' }]);
  assert.deepEqual(resolveTargetText('staging', targets), {
    spec: { kind: 'ssh', host: '10.0.0.5', user: 'deploy' },
    description: 'staging',
    session: { sudo: 'never', workDirectory: '~/.ebpf', chosenBy: 'target "staging" in ebpfStudio.targets' },
    named: targets[0],
  });
  assert.deepEqual(resolveTargetText('root@staging:22', targets), { spec: { kind: 'ssh', host: 'staging', user: 'root', port: 22 }, description: 'root@staging:22', session: { sudo: 'auto' } });
  assert.deepEqual(resolveTargetText('local', targets), { spec: { kind: 'local' }, description: 'local', session: { sudo: 'auto' } });
  assert.throws(() => resolveTargetText('ftp://x', targets), { message: "Target 'ftp://x' uses the scheme 'ftp', but only ssh:// is supported." });
});
