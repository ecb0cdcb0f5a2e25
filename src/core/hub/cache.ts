import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporaryNameFor, writeFileAtomic } from '../fs/atomic';
import { isSafeRevision } from './id';

/*
 * The cache layout huggingface_hub uses, so that models downloaded by either are found by both:
 *
 *   <cacheDir>/models--<org>--<name>/
 *     blobs/<etag>                     file contents, named by the Hub's ETag (sha256 for LFS files)
 *     snapshots/<commit>/<path>        relative symlinks into blobs/, one folder per commit
 *     refs/<revision>                  the commit a branch or tag pointed at when last resolved
 *
 * A snapshot folder is what model loaders are given: it looks like a plain model folder.
 */

export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, repoFolderName(repo));
}

export function snapshotDir(cacheDir: string, repo: string, commit: string): string {
  return path.join(repoCacheDir(cacheDir, repo), 'snapshots', commit);
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  return path.join(repoCacheDir(cacheDir, repo), 'blobs', etag);
}

export function isCommitSha(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}

/**
 * Names that come from a server or from files on disk (ETags, commits) become one path segment; a
 * hostile or broken server must not be able to make them climb out of the cache.
 */
export function isSafeSegment(s: string): boolean {
  return /^[A-Za-z0-9_.-]{1,200}$/.test(s) && s !== '.' && s !== '..';
}

/**
 * A file path inside a repo (`onnx/model.onnx`), as listed by the Hub, is joined onto a snapshot
 * folder: it must stay inside it. Backslashes and colons are refused too, since on Windows they
 * would name another folder or a stream.
 */
export function isSafeRepoPath(file: string): boolean {
  if (file.length === 0 || file.length > 1024 || /[\\:\x00-\x1f\x7f]/.test(file)) return false;
  return file.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The commit `refs/<revision>` holds, when it is there and well formed. */
export function readRef(cacheDir: string, repo: string, revision: string): string | undefined {
  if (!isSafeRevision(revision)) return undefined;
  const ref = path.join(repoCacheDir(cacheDir, repo), 'refs', ...revision.split('/'));
  let commit: string;
  try {
    commit = fs.readFileSync(ref, 'utf8').trim();
  } catch {
    return undefined;
  }
  return isSafeSegment(commit) ? commit : undefined;
}

/** Record what a branch or tag resolved to, so that it resolves offline next time. */
export function writeRef(cacheDir: string, repo: string, revision: string, commit: string): void {
  if (!isSafeRevision(revision) || !isSafeSegment(commit))
    throw new Error(`writeRef: unsafe revision ${JSON.stringify(revision)} or commit ${JSON.stringify(commit)}`);
  // huggingface_hub writes the bare sha with no newline; readers trim either way.
  writeFileAtomic(path.join(repoCacheDir(cacheDir, repo), 'refs', ...revision.split('/')), commit);
}

/**
 * The snapshot folder for `revision` (a branch or tag through refs/, or a commit sha), or
 * undefined when the cache does not hold it. Says nothing about which files the snapshot holds.
 */
export function findCachedSnapshot(repo: string, revision: string, cacheDir: string): string | undefined {
  const viaRef = readRef(cacheDir, repo, revision);
  if (viaRef !== undefined) {
    const dir = snapshotDir(cacheDir, repo, viaRef);
    if (isDirectory(dir)) return dir;
  }
  if (isSafeSegment(revision)) {
    const dir = snapshotDir(cacheDir, repo, revision);
    if (isDirectory(dir)) return dir;
  }
  return undefined;
}

/** The names `temporaryNameFor` gives (`.<name>.<pid>-<hex>.tmp`). */
function isTemporaryName(name: string): boolean {
  return /^\..*\.\d+-[0-9a-f]{8}\.tmp$/.test(name);
}

/** Files of a snapshot as repo paths (`onnx/model.onnx`), sorted; dangling links are left out. */
export function listSnapshotFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      if (isTemporaryName(name)) continue; // a link being made right now
      const relPath = rel === '' ? name : `${rel}/${name}`;
      let st: fs.Stats;
      try {
        st = fs.statSync(path.join(dir, relPath)); // follows the link into blobs/
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(relPath);
      else if (st.isFile()) out.push(relPath);
    }
  };
  if (isDirectory(dir)) walk('');
  return out.sort();
}

/**
 * Make `target` (a file in a snapshot) point at `blob`. A relative symlink as huggingface_hub
 * makes it, so the cache folder can be moved; where symlinks are not allowed (Windows without
 * developer mode) a hard link, else a copy. The link is made under a temporary name and renamed
 * into place, so the snapshot never holds a half-made file.
 */
export function linkIntoSnapshot(blob: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = temporaryNameFor(target);
  try {
    try {
      fs.symlinkSync(path.relative(path.dirname(target), blob), tmp, 'file');
    } catch {
      try {
        fs.linkSync(blob, tmp);
      } catch {
        fs.copyFileSync(blob, tmp);
      }
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export interface CachedRevision {
  /** A branch or tag (`main`, `refs/pr/1`). */
  name: string;
  commit: string;
}

export interface CachedModel {
  /** `org/name`. */
  repo: string;
  /** The repo's folder in the cache. */
  dir: string;
  revisions: CachedRevision[];
  /** Commit shas with a snapshot folder, sorted. */
  snapshots: string[];
  /** Size of the complete blobs (partial downloads not counted). */
  bytes: number;
}

function listRefs(refsDir: string, prefix = ''): CachedRevision[] {
  if (!isDirectory(refsDir)) return [];
  const out: CachedRevision[] = [];
  for (const e of fs.readdirSync(refsDir, { withFileTypes: true })) {
    if (isTemporaryName(e.name)) continue;
    const name = prefix + e.name;
    const p = path.join(refsDir, e.name);
    if (e.isDirectory()) out.push(...listRefs(p, `${name}/`));
    else if (e.isFile()) {
      const commit = fs.readFileSync(p, 'utf8').trim();
      if (isSafeSegment(commit)) out.push({ name, commit });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function blobBytes(blobsDir: string): number {
  if (!isDirectory(blobsDir)) return 0;
  let bytes = 0;
  for (const e of fs.readdirSync(blobsDir, { withFileTypes: true })) {
    if (e.isFile() && isSafeSegment(e.name) && !/\.(incomplete|lock)$/.test(e.name)) bytes += fs.statSync(path.join(blobsDir, e.name)).size;
  }
  return bytes;
}

/** The models in a Hugging Face cache folder, sorted by repo (an absent folder holds none). */
export function listCachedModels(cacheDir: string): CachedModel[] {
  if (!isDirectory(cacheDir)) return [];
  const models: CachedModel[] = [];
  for (const entry of fs.readdirSync(cacheDir)) {
    if (!entry.startsWith('models--')) continue;
    const dir = path.join(cacheDir, entry);
    if (!isDirectory(dir)) continue;
    const snapshotsDir = path.join(dir, 'snapshots');
    models.push({
      repo: entry.slice('models--'.length).split('--').join('/'),
      dir,
      revisions: listRefs(path.join(dir, 'refs')),
      snapshots: isDirectory(snapshotsDir)
        ? fs
            .readdirSync(snapshotsDir)
            .filter((c) => isDirectory(path.join(snapshotsDir, c)))
            .sort()
        : [],
      bytes: blobBytes(path.join(dir, 'blobs')),
    });
  }
  return models.sort((a, b) => a.repo.localeCompare(b.repo));
}
