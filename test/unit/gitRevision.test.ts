/**
 * A file's committed text (remote-agent/client/gitRevision.ts) from a scratch repository: the
 * text as of HEAD or another revision, and each failure as its own kind with a message.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileAtRevision, GitRevisionError, type GitRevisionProblem } from '../../remote-agent/client/gitRevision';

let scratch: string;
let repo: string;
let first: string;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
}

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'git-revision-'));
  repo = path.join(scratch, 'repo');
  fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
  git('init', '-q');
  fs.writeFileSync(path.join(repo, 'src', 'probe.bpf.c'), 'int one;\n');
  git('add', '.');
  git('commit', '-qm', 'one');
  first = git('rev-parse', '--short', 'HEAD');
  fs.writeFileSync(path.join(repo, 'src', 'probe.bpf.c'), 'int two;\r\n');
  git('commit', '-qam', 'two');
  fs.writeFileSync(path.join(repo, 'src', 'probe.bpf.c'), 'int three; /* not committed */\n');
});

after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

async function problem(promise: Promise<unknown>): Promise<{ kind: GitRevisionProblem; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GitRevisionError, String(error));
    return { kind: error.kind, message: error.message };
  }
  assert.fail('expected a GitRevisionError');
}

test('the text as of HEAD, byte for byte, or as of an older revision, with its commit', async () => {
  const file = path.join(repo, 'src', 'probe.bpf.c');
  assert.deepEqual(await fileAtRevision(file), { text: 'int two;\r\n', commit: git('rev-parse', '--short', 'HEAD') });
  assert.deepEqual(await fileAtRevision(file, 'HEAD~1'), { text: 'int one;\n', commit: first });
});

test('an untracked file, a file added since the revision, and an unknown revision each say so', async () => {
  const untracked = path.join(repo, 'src', 'new.bpf.c');
  fs.writeFileSync(untracked, 'int x;\n');
  assert.deepEqual(await problem(fileAtRevision(untracked)), {
    kind: 'untracked',
    message: `${untracked} is not tracked by git, so it has no committed version to compare with: add and commit it first`,
  });
  git('add', 'src/new.bpf.c');
  const head = git('rev-parse', '--short', 'HEAD');
  assert.deepEqual(await problem(fileAtRevision(untracked)), {
    kind: 'not-in-revision',
    message: `${untracked} is not in HEAD (${head}): it was added since; commit it to compare against it`,
  });
  assert.equal((await problem(fileAtRevision(path.join(repo, 'src', 'probe.bpf.c'), 'no-such-branch'))).kind, 'bad-revision');
});

test('a file outside any repository, and git missing, each say so', async () => {
  const outside = path.join(scratch, 'loose.bpf.c');
  fs.writeFileSync(outside, 'int x;\n');
  assert.deepEqual(await problem(fileAtRevision(outside)), {
    kind: 'not-a-repository',
    message: `${outside} is not in a git repository, so it has no committed version to compare with`,
  });
  assert.equal((await problem(fileAtRevision(outside, 'HEAD', { git: path.join(scratch, 'no-git-here') }))).kind, 'git-missing');
});
