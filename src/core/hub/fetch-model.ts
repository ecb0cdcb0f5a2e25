import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { INDEX_FILE } from '../safetensors/checkpoint';
import { resolveRevision } from './api';
import { findCachedSnapshot, isSafeRepoPath, listSnapshotFiles, snapshotDir } from './cache';
import { classifyRepo, filesToDownload, type OnnxDtype, type RepoKind, type SafetensorsIndex } from './classify';
import { downloadFile } from './download';
import { HubUnreachableError } from './http';
import { parseHubId } from './id';
import { resolveHubOptions, type HubOptions, type ResolvedHubOptions } from './options';

export interface FetchModelOptions extends HubOptions {
  /** Which ONNX variant of a transformers.js repo to fetch; default fp32. */
  dtype?: OnnxDtype | undefined;
}

export interface FetchedModel {
  /** The snapshot folder: a model folder transformers.js (or the exporter) can load. */
  dir: string;
  kind: 'transformers.js' | 'safetensors';
  commit: string;
  repo: string;
}

/** Refuse the kinds Tuneloop cannot use, saying why and what to pick instead. */
function usableKind(kind: RepoKind, files: string[], where: string): 'transformers.js' | 'safetensors' {
  if (kind === 'transformers.js' || kind === 'safetensors') return kind;
  if (kind === 'pickle-only') {
    const pickles = files.filter((f) => /\.(bin|pt|pth|ckpt)$/.test(f) && !f.includes('/'));
    throw new TuneloopError(
      `${where} has only pickled weights (${pickles.join(', ')}); Tuneloop never downloads or loads pickled weights, since unpickling can run arbitrary code`,
      {},
      'use a repo (or a revision) that has .safetensors weights, or an ONNX export for transformers.js',
    );
  }
  throw new TuneloopError(
    `${where} holds no model Tuneloop can use: neither onnx/*.onnx with config.json, tokenizer.json and tokenizer_config.json, nor .safetensors weights`,
    {},
    'check the repo id; Tuneloop runs transformers.js repos (such as onnx-community/…) and exports safetensors checkpoints',
  );
}

/** Parse a downloaded or cached `model.safetensors.index.json`; shard names must stay inside the snapshot. */
export function readSafetensorsIndex(file: string): SafetensorsIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TuneloopError(`cannot read the shard index: ${(e as Error).message}`, { file }, 'delete the file from the cache and download it again');
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new TuneloopError('must be an object mapping tensor names to shard files', { file, key: 'weight_map' });
  }
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !isSafeRepoPath(shard)) {
      throw new TuneloopError(`shard must be a file of the repo, found ${JSON.stringify(shard)}`, { file, key: `weight_map.${tensor}` });
    }
  }
  return { weight_map: weightMap as Record<string, string> };
}

/**
 * Use the snapshot already in the cache, checking that it holds every file the model needs (a
 * partial download, or one made with --include, may not).
 */
function fromCache(repo: string, revision: string, ro: ResolvedHubOptions, dtype: OnnxDtype | undefined, why: string): FetchedModel {
  const dir = findCachedSnapshot(repo, revision, ro.cacheDir);
  if (dir === undefined) {
    throw new TuneloopError(
      `${repo}@${revision} is not in the Hugging Face cache (${ro.cacheDir}) and ${why}`,
      {},
      `run again while online to download it (with HF_HUB_OFFLINE unset), or download it with \`huggingface-cli download ${repo} --revision ${revision}\``,
    );
  }
  const files = listSnapshotFiles(dir);
  const where = `the cached snapshot of ${repo}@${revision} (${dir})`;
  const kind = usableKind(classifyRepo(files), files, where);
  const index = files.includes(INDEX_FILE) ? readSafetensorsIndex(path.join(dir, INDEX_FILE)) : undefined;
  filesToDownload(kind, files, { dtype, index, source: where }); // throws when a needed file is missing
  return { dir, kind, commit: path.basename(dir), repo };
}

/**
 * Make a Hub model available locally and return its snapshot folder. Online: resolve the
 * revision, pick the files the model needs (never pickled weights) and download those not yet
 * cached. Offline, or when the endpoint cannot be reached: use what the cache holds.
 */
export async function fetchModel(id: string, opts: FetchModelOptions = {}): Promise<FetchedModel> {
  const { repo, revision } = parseHubId(id);
  const ro = resolveHubOptions(opts);
  if (ro.offline) return fromCache(repo, revision, ro, opts.dtype, 'offline mode is on (HF_HUB_OFFLINE)');
  let resolved: Awaited<ReturnType<typeof resolveRevision>>;
  try {
    resolved = await resolveRevision(repo, revision, ro);
  } catch (e) {
    if (e instanceof HubUnreachableError) return fromCache(repo, revision, ro, opts.dtype, `${ro.endpoint} cannot be reached (${e.message})`);
    throw e;
  }
  const { sha, files } = resolved;
  const where = `${repo}@${revision}`;
  const kind = usableKind(classifyRepo(files), files, where);
  let index: SafetensorsIndex | undefined;
  if (kind === 'safetensors' && files.includes(INDEX_FILE)) {
    // Only the index says which shards make up the checkpoint (a repo may also carry a
    // consolidated copy), so it comes first.
    index = readSafetensorsIndex(await downloadFile(repo, sha, INDEX_FILE, ro));
  }
  for (const file of filesToDownload(kind, files, { dtype: opts.dtype, index, source: where })) {
    await downloadFile(repo, sha, file, ro);
  }
  return { dir: snapshotDir(ro.cacheDir, repo, sha), kind, commit: sha, repo };
}
