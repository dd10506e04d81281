/**
 * A file's text as of a git revision, for comparing what the verifier thinks of the text as
 * committed with the text as it is now. Git runs in the file's own directory (so the repository
 * holding the file answers, whatever the working directory) as `git show COMMIT:./NAME`. Each way
 * this can fail is its own kind with a message that says what to do: git missing, the file outside
 * any repository, an unknown revision, the file untracked, or the file not in that revision.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export type GitRevisionProblem = 'git-missing' | 'not-a-repository' | 'bad-revision' | 'untracked' | 'not-in-revision';

export class GitRevisionError extends Error {
  override readonly name = 'GitRevisionError';

  constructor(
    readonly kind: GitRevisionProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface FileAtRevision {
  text: string;
  /** The revision's commit, abbreviated as git does. */
  commit: string;
}

export interface GitOptions {
  /** The git program; default `git` on PATH. */
  git?: string;
  signal?: AbortSignal;
}

/** Sources larger than this are not BPF programs anyone verifies. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** `file`'s text in `revision` (default HEAD); rejects with a GitRevisionError naming what is wrong. */
export async function fileAtRevision(file: string, revision = 'HEAD', options: GitOptions = {}): Promise<FileAtRevision> {
  const dir = path.dirname(file);
  const name = path.basename(file);
  const git = (args: string[]): Promise<string> => run(options.git ?? 'git', args, dir, options.signal);
  let commit: string;
  try {
    commit = (await git(['rev-parse', '--short', '--verify', '--end-of-options', `${revision}^{commit}`])).trim();
  } catch (error) {
    throw problemOf(error, file, () => {
      const noCommits = revision === 'HEAD' ? ' (the repository has no commit yet)' : '';
      return new GitRevisionError('bad-revision', `${revision} is not a commit in the repository of ${file}${noCommits}`);
    });
  }
  try {
    return { text: await git(['show', `${commit}:./${name}`]), commit };
  } catch (error) {
    const tracked = await git(['ls-files', '--error-unmatch', '--', name]).then(
      () => true,
      () => false,
    );
    throw problemOf(error, file, () =>
      tracked
        ? new GitRevisionError('not-in-revision', `${file} is not in ${revision} (${commit}): it was added since; commit it to compare against it`)
        : new GitRevisionError('untracked', `${file} is not tracked by git, so it has no committed version to compare with: add and commit it first`),
    );
  }
}

/** Git missing and no repository read the same in every call; anything else is the caller's to say. */
function problemOf(error: unknown, file: string, otherwise: () => GitRevisionError): Error {
  if (error instanceof GitFailure) {
    if (error.missing) return new GitRevisionError('git-missing', `git is needed to read the committed version of ${file}, and it is not installed (or not on PATH)`);
    if (/not a git repository/i.test(error.stderr)) return new GitRevisionError('not-a-repository', `${file} is not in a git repository, so it has no committed version to compare with`);
    return otherwise();
  }
  return error instanceof Error ? error : new Error(String(error));
}

class GitFailure extends Error {
  constructor(
    readonly missing: boolean,
    readonly stderr: string,
  ) {
    super(stderr.trim() || 'git failed');
  }
}

function run(git: string, args: string[], cwd: string, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(git, args, { cwd, encoding: 'utf8', maxBuffer: MAX_OUTPUT, ...(signal && { signal }) }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else if (signal?.aborted) reject(signal.reason);
      else reject(new GitFailure((error as NodeJS.ErrnoException).code === 'ENOENT', stderr));
    });
  });
}
