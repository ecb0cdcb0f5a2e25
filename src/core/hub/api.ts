import { TuneloopError } from '../errors';
import { isCommitSha, isSafeRepoPath, writeRef } from './cache';
import { isRepoId, isSafeRevision } from './id';
import { discard, hubRequest, readJson, rethrowIfAborted, statusError, type RequestSubject } from './http';
import { resolveHubOptions, type HubOptions, type ResolvedHubOptions } from './options';

export interface ResolvedRevision {
  /** The commit the revision points at now. */
  sha: string;
  /** Every file of the repo at that commit (`config.json`, `onnx/model.onnx`, …). */
  files: string[];
}

/** Programming errors: ids reach these functions parsed by parseHubId. */
export function assertRepoAndRevision(repo: string, revision: string): void {
  if (!isRepoId(repo)) throw new TuneloopError(`"${repo}" is not a Hub repo id`, {}, 'a repo id looks like org/name');
  if (!isSafeRevision(revision)) throw new TuneloopError(`"${revision}" is not a valid revision of ${repo}`, {}, 'a revision is a branch, tag or commit sha');
}

/** Check the shape of `GET /api/models/{repo}/revision/{revision}`'s answer; a hostile one must not name files outside the repo. */
function parseModelInfo(body: unknown, subject: RequestSubject, ro: ResolvedHubOptions): ResolvedRevision {
  const info = body as { sha?: unknown; siblings?: unknown } | null;
  const where = `the Hub's answer about ${subject.repo}@${subject.revision} (${ro.endpoint})`;
  if (typeof info?.sha !== 'string' || !isCommitSha(info.sha)) {
    throw new TuneloopError(`${where} has no commit sha`, { key: 'sha' }, 'check HF_ENDPOINT');
  }
  if (!Array.isArray(info.siblings)) throw new TuneloopError(`${where} lists no files`, { key: 'siblings' }, 'check HF_ENDPOINT');
  const files: string[] = [];
  for (const s of info.siblings as unknown[]) {
    const name = (s as { rfilename?: unknown } | null)?.rfilename;
    if (typeof name !== 'string' || !isSafeRepoPath(name)) {
      throw new TuneloopError(
        `${where} lists a file with an unsafe name ${JSON.stringify(name)}`,
        { key: 'siblings' },
        'refusing to write outside the cache folder; check HF_ENDPOINT',
      );
    }
    files.push(name);
  }
  return { sha: info.sha, files };
}

/**
 * The commit a revision points at and the repo's files there, from the Hub's model API. A branch
 * or tag is recorded under refs/ in the cache so that it resolves offline next time.
 */
export async function resolveRevision(repo: string, revision: string, opts: HubOptions = {}): Promise<ResolvedRevision> {
  assertRepoAndRevision(repo, revision);
  const ro = resolveHubOptions(opts);
  const subject: RequestSubject = { repo, revision };
  // The revision is one path segment in this API: `refs/pr/1` is sent as refs%2Fpr%2F1.
  const url = `${ro.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const { res } = await hubRequest(url, 'GET', { Accept: 'application/json' }, ro, subject);
  if (!res.ok) {
    await discard(res);
    throw statusError(res, subject, ro);
  }
  let body: unknown;
  try {
    body = await readJson(res, subject);
  } catch (e) {
    rethrowIfAborted(ro, e);
    if (e instanceof TuneloopError) throw e;
    throw new TuneloopError(`reading the Hub's answer about ${repo}@${revision} failed: ${(e as Error).message}`, {}, 'try again');
  }
  const resolved = parseModelInfo(body, subject, ro);
  if (revision !== resolved.sha) writeRef(ro.cacheDir, repo, revision, resolved.sha);
  return resolved;
}
