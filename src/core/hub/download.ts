import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TuneloopError } from '../errors';
import { assertRepoAndRevision } from './api';
import { blobPath, findCachedSnapshot, isCommitSha, isSafeRepoPath, isSafeSegment, linkIntoSnapshot, snapshotDir, writeRef } from './cache';
import { HubUnreachableError, describeSubject, discard, hubRequest, rethrowIfAborted, statusError, type RequestSubject } from './http';
import { resolveHubOptions, type HubOptions, type ResolvedHubOptions } from './options';

/** What the Hub says about a file before its bytes are fetched. */
interface FileMeta {
  /** Names the blob: `X-Linked-Etag` (the sha256 of an LFS file) if present, else `ETag`. */
  etag: string;
  /** The commit the file was served from (`X-Repo-Commit`), which names the snapshot folder. */
  commit: string | undefined;
  /** Bytes, when the Hub says (`X-Linked-Size` for LFS files, else Content-Length). */
  size: number | undefined;
  /** The sha256 the content must have: known for LFS files, whose ETag is their sha256. */
  sha256: string | undefined;
}

/** Attempts per file when the connection drops or stalls; each retry resumes where the last one stopped. */
const MAX_ATTEMPTS = 4;
const RETRY_DELAY_MS = 200;

/** The connection broke in the middle of a transfer: retried, and resumable later. */
class TransferInterrupted extends TuneloopError {}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  // As huggingface_hub does: the revision is one segment, the file keeps its slashes.
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

function normalizeEtag(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  return raw
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

function parseSize(raw: string | null): number | undefined {
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

function firstHeader(hops: Headers[], name: string): string | null {
  for (const h of hops) {
    const v = h.get(name);
    if (v !== null) return v;
  }
  return null;
}

/**
 * HEAD the file. For an LFS file the Hub answers with a redirect to its CDN carrying
 * X-Linked-Etag, X-Linked-Size and X-Repo-Commit; that redirect is not followed, since the CDN's
 * own ETag is not the file's hash. Other redirects (a renamed repo) are followed.
 */
async function headFile(url: string, ro: ResolvedHubOptions, subject: RequestSubject): Promise<FileMeta> {
  const { res, hops } = await hubRequest(url, 'HEAD', {}, ro, subject, (r) => r.headers.has('x-linked-etag'));
  await discard(res);
  const linked = firstHeader(hops, 'x-linked-etag');
  if (!res.ok && linked === null) throw statusError(res, subject, ro);
  const etag = normalizeEtag(linked ?? res.headers.get('etag'));
  if (etag === undefined || !isSafeSegment(etag)) {
    throw new TuneloopError(
      `the Hub sent ${etag === undefined ? 'no' : `an unusable (${JSON.stringify(etag)})`} ETag for ${describeSubject(subject)}, so it cannot be cached`,
      {},
      'check HF_ENDPOINT',
    );
  }
  const commit = firstHeader(hops, 'x-repo-commit')?.trim();
  if (commit !== undefined && !isCommitSha(commit)) {
    throw new TuneloopError(`the Hub sent an invalid commit ${JSON.stringify(commit)} for ${describeSubject(subject)}`, {}, 'check HF_ENDPOINT');
  }
  const size = linked !== null ? parseSize(firstHeader(hops, 'x-linked-size')) : parseSize(res.headers.get('content-length'));
  return { etag, commit, size, sha256: linked !== null && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined };
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/** `bytes 100-199/200` → 100. */
function contentRangeStart(raw: string | null): number | undefined {
  const m = raw === null ? null : /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(raw.trim());
  return m ? Number(m[1]) : undefined;
}

function contentRangeTotal(raw: string | null): number | undefined {
  const m = raw === null ? null : /^bytes \d+-\d+\/(\d+)$/.exec(raw.trim());
  return m ? Number(m[1]) : undefined;
}

/** A running sha256 of the partial file, kept in step with its length across attempts. */
interface RunningHash {
  hash: crypto.Hash;
  bytes: number;
}

/** A hash of the first `bytes` of `file`, for resuming a transfer that an earlier process started. */
async function hashPrefix(file: string, bytes: number): Promise<RunningHash> {
  const hash = crypto.createHash('sha256');
  if (bytes > 0) {
    for await (const chunk of fs.createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  }
  return { hash, bytes };
}

async function writeAll(fh: fsp.FileHandle, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.byteLength; ) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done);
    done += bytesWritten;
  }
}

interface Transfer {
  url: string;
  incomplete: string;
  meta: FileMeta;
  ro: ResolvedHubOptions;
  subject: RequestSubject & { file: string };
  /** Present when the content's sha256 is known and checked. */
  running: RunningHash | undefined;
}

/** Stream a response body onto the end of the partial file (or over it from `offset` 0), hashing and reporting as it goes. */
async function writeBody(t: Transfer, res: Response, offset: number, total: number | undefined): Promise<void> {
  const fh = await fsp.open(t.incomplete, offset > 0 ? 'a' : 'w');
  let bytes = offset;
  const report = (): void => t.ro.onProgress?.({ file: t.subject.file, bytes, total });
  try {
    report();
    if (res.body !== null) {
      for await (const chunk of res.body) {
        await writeAll(fh, chunk);
        t.running?.hash.update(chunk);
        bytes += chunk.byteLength;
        if (t.running) t.running.bytes = bytes;
        report();
      }
    }
    await fh.sync();
  } catch (e) {
    rethrowIfAborted(t.ro, e);
    // A TuneloopError, or a failed write (it names its syscall), is not a broken connection: no retry.
    if (e instanceof TuneloopError || (e as NodeJS.ErrnoException).syscall !== undefined) throw e;
    throw new TransferInterrupted(
      `the download of ${describeSubject(t.subject)} was interrupted after ${bytes}${total !== undefined ? ` of ${total}` : ''} bytes (${(e as Error).message})`,
      {},
      'run the same command again to resume from there',
    );
  } finally {
    await fh.close();
  }
}

/**
 * One GET of the file into `<blob>.incomplete`, resuming with a Range header when a partial file
 * is there. A server that answers 200 to a Range request sends the whole file, which then
 * replaces the partial one. Returns the size the file should have, when known.
 */
async function transferOnce(t: Transfer): Promise<number | undefined> {
  let start = fileSize(t.incomplete);
  if (t.meta.size !== undefined && start > t.meta.size) start = 0; // not this file's bytes: start over
  if (t.meta.size !== undefined && start === t.meta.size && start > 0) return t.meta.size; // complete, never renamed
  const { res } = await hubRequest(t.url, 'GET', start > 0 ? { Range: `bytes=${start}-` } : {}, t.ro, t.subject);
  if (res.status === 416 && start > 0) {
    // The partial file does not fit what the server has: drop it and start over.
    await discard(res);
    fs.rmSync(t.incomplete, { force: true });
    return transferOnce(t);
  }
  if (!res.ok) {
    await discard(res);
    throw statusError(res, t.subject, t.ro);
  }
  const offset = res.status === 206 ? contentRangeStart(res.headers.get('content-range')) : 0;
  if (offset !== 0 && offset !== start) {
    await discard(res);
    fs.rmSync(t.incomplete, { force: true });
    throw new TransferInterrupted(
      `the server answered a resumed download of ${describeSubject(t.subject)} with the wrong range`,
      {},
      'run again to download it from the start',
    );
  }
  const total = t.meta.size ?? (res.status === 206 ? contentRangeTotal(res.headers.get('content-range')) : parseSize(res.headers.get('content-length')));
  if (t.meta.sha256 !== undefined && t.running?.bytes !== offset) t.running = await hashPrefix(t.incomplete, offset);
  await writeBody(t, res, offset, total);
  return total;
}

/** Retry interrupted transfers, each resuming the last; aborting stops at once and keeps the partial file. */
async function transferWithRetries(t: Transfer): Promise<number | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transferOnce(t);
    } catch (e) {
      const retryable = e instanceof TransferInterrupted || e instanceof HubUnreachableError;
      if (!retryable || attempt >= MAX_ATTEMPTS) throw e;
      await sleep(RETRY_DELAY_MS * attempt, undefined, { signal: t.ro.signal }).catch((err: unknown) => {
        rethrowIfAborted(t.ro, err); // the caller's own abort reason, as everywhere else
        throw err;
      });
    }
  }
}

/** Check the finished partial file against the announced size and hash, then give it its blob name. */
async function finishBlob(t: Transfer, blob: string, expected: number | undefined): Promise<void> {
  const size = fileSize(t.incomplete);
  const what = describeSubject(t.subject);
  if (expected !== undefined && size !== expected) {
    fs.rmSync(t.incomplete, { force: true });
    throw new TuneloopError(
      `received ${size} bytes of ${what} where the Hub announced ${expected}; the partial file was deleted`,
      {},
      'run again to download it afresh',
    );
  }
  if (t.meta.sha256 !== undefined) {
    // In step unless the file was already whole when this process came to it.
    const running = t.running?.bytes === size ? t.running : await hashPrefix(t.incomplete, size);
    const actual = running.hash.digest('hex');
    if (actual !== t.meta.sha256) {
      fs.rmSync(t.incomplete, { force: true });
      throw new TuneloopError(
        `the download of ${what} has sha256 ${actual}, not ${t.meta.sha256} as the Hub announced; the file was deleted`,
        {},
        'run again to download it afresh',
      );
    }
  }
  fs.renameSync(t.incomplete, blob);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Two processes (the extension and a CLI, say) appending to the same partial file would corrupt
 * it, so a blob is downloaded under `<blob>.lock` holding the downloader's pid. A lock whose
 * process is gone is taken over.
 */
async function withBlobLock<T>(blob: string, subject: RequestSubject, fn: () => Promise<T>): Promise<T> {
  const lock = `${blob}.lock`;
  for (let tries = 0; ; tries++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw e;
    }
    const holder = Number(fs.readFileSync(lock, 'utf8').trim());
    if (isAlive(holder)) {
      throw new TuneloopError(
        `${describeSubject(subject)} is being downloaded by process ${holder}`,
        { file: lock },
        'wait for that download to finish, or delete the lock file if no such download is running',
      );
    }
    fs.rmSync(lock, { force: true });
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** Download the blob unless it is there; under the lock, since another process may have just finished it. */
async function ensureBlob(url: string, blob: string, meta: FileMeta, ro: ResolvedHubOptions, subject: RequestSubject & { file: string }): Promise<void> {
  if (fs.existsSync(blob)) return;
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  await withBlobLock(blob, subject, async () => {
    if (fs.existsSync(blob)) return;
    const t: Transfer = { url, incomplete: `${blob}.incomplete`, meta, ro, subject, running: undefined };
    const expected = await transferWithRetries(t);
    await finishBlob(t, blob, expected);
  });
}

function notCachedOffline(subject: RequestSubject, ro: ResolvedHubOptions): TuneloopError {
  return new TuneloopError(
    `${describeSubject(subject)} is not in the Hugging Face cache (${ro.cacheDir}) and offline mode is on`,
    {},
    'unset HF_HUB_OFFLINE and run again while online to download it',
  );
}

/**
 * Make `file` of `repo` at `commit` (a commit sha, or a branch or tag) present in the cache and
 * return its absolute path in the snapshot folder. Nothing is requested when the snapshot holds
 * it already. The bytes go to `blobs/<etag>.incomplete` (resumed with a Range request when a
 * previous attempt left one), are checked against the announced size (and sha256 for LFS files),
 * renamed to `blobs/<etag>`, and only then linked into the snapshot.
 */
export async function downloadFile(repo: string, commit: string, file: string, opts: HubOptions = {}): Promise<string> {
  assertRepoAndRevision(repo, commit);
  if (!isSafeRepoPath(file))
    throw new TuneloopError(`"${file}" is not a file path inside a repo`, {}, `file paths in ${repo} are relative, with / between folders and no ..`);
  const ro = resolveHubOptions(opts);
  const subject = { repo, revision: commit, file };
  if (ro.offline) {
    const snap = findCachedSnapshot(repo, commit, ro.cacheDir);
    const cached = snap !== undefined ? path.join(snap, ...file.split('/')) : undefined;
    if (cached !== undefined && fs.existsSync(cached)) return cached;
    throw notCachedOffline(subject, ro);
  }
  if (isCommitSha(commit)) {
    const cached = path.join(snapshotDir(ro.cacheDir, repo, commit), ...file.split('/'));
    if (fs.existsSync(cached)) return cached;
  }
  ro.signal?.throwIfAborted();
  const url = resolveUrl(ro.endpoint, repo, commit, file);
  const meta = await headFile(url, ro, subject);
  const snapshotCommit = meta.commit ?? (isCommitSha(commit) ? commit : undefined);
  if (snapshotCommit === undefined) {
    throw new TuneloopError(
      `the Hub did not say which commit ${describeSubject(subject)} comes from`,
      {},
      'pass a commit sha instead of a branch name, or check HF_ENDPOINT',
    );
  }
  if (snapshotCommit !== commit && !isCommitSha(commit)) writeRef(ro.cacheDir, repo, commit, snapshotCommit);
  const target = path.join(snapshotDir(ro.cacheDir, repo, snapshotCommit), ...file.split('/'));
  const blob = blobPath(ro.cacheDir, repo, meta.etag);
  await ensureBlob(url, blob, meta, ro, subject);
  linkIntoSnapshot(blob, target);
  return target;
}
