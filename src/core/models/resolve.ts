import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ErrorPlace, TuneloopError } from '../errors';
import { findCachedSnapshot } from '../hub/cache';
import { fetchModel } from '../hub/fetch-model';
import { looksLikeHubId, parseHubId } from '../hub/id';
import { defaultCacheDir as defaultHubCacheDir, type HubOptions, type HubProgress } from '../hub/options';
import { formatBytes } from '../format';
import type { ExportDtype } from '../dtypes';

/**
 * Where a model named by the user lives: a prompt's `model`, `--model`, a recipe's `base_model`, the
 * tuneloop.defaultModel setting, the panel's choice. One rule for every caller (the CLI, the panel
 * and its preview, the worker, the trainer): a local folder first (relative to the file that names
 * it), then a Hub id in the standard Hugging Face cache, offline; a download only where the user
 * allowed one. The path rule (core/fs/root.ts) is checked before, by the callers that read files: a
 * local folder stays inside the workspace root, and the Hugging Face cache is a trusted read.
 *
 * Nothing here loads a model (transformers.js stays out of the extension host), and `locateModel`
 * touches neither the network nor anything but the file system.
 */

/** A folder found for a model id without any download. `local`: the id named a folder (else a Hub snapshot). */
export interface LocatedModel {
  readonly dir: string;
  readonly local: boolean;
}

/** What `locateModel` reads; tests pass their own. */
export interface LocateDeps {
  readonly isDirectory?: ((p: string) => boolean) | undefined;
  /** A Hub id's snapshot in the local Hugging Face cache, if it is there (default: the standard cache). */
  readonly cachedHubModel?: ((id: string) => string | undefined) | undefined;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The folder an id names as a path: relative to `base` (`~/` expanded); without a base only an absolute path names one. */
function localPath(id: string, base: string | undefined): string | undefined {
  const expanded = id.startsWith('~/') ? path.join(os.homedir(), id.slice(2)) : id;
  return base !== undefined || path.isAbsolute(expanded) ? path.resolve(base ?? '', expanded) : undefined;
}

/** A Hub id's snapshot folder in the Hugging Face cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), if it holds one. */
export function cachedHubModel(id: string, cacheDir: string = defaultHubCacheDir()): string | undefined {
  if (!looksLikeHubId(id)) return undefined;
  const { repo, revision } = parseHubId(id);
  return findCachedSnapshot(repo, revision, cacheDir);
}

/**
 * Where a model id points without downloading anything: a local folder, relative to `base`, or a Hub
 * model already in the cache. Undefined for neither.
 */
export function locateModel(id: string, base: string | undefined, deps: LocateDeps = {}): LocatedModel | undefined {
  const local = localPath(id, base);
  if (local !== undefined && (deps.isDirectory ?? isDirectory)(local)) return { dir: local, local: true };
  const cached = looksLikeHubId(id) ? (deps.cachedHubModel ?? ((i: string) => cachedHubModel(i)))(id) : undefined;
  return cached !== undefined ? { dir: cached, local: false } : undefined;
}

/** The panel's and the preview's note when `locateModel` finds nothing. */
export function modelNotFound(id: string, from: 'prompt' | 'setting'): string {
  return `${from === 'prompt' ? "the prompt's model" : 'the setting tuneloop.defaultModel'} "${id}" is neither a local folder nor a downloaded Hub model`;
}

/** The message for a Hub id the cache does not hold where no download is allowed: the same in every caller. */
export function notInHubCache(id: string, cacheDir: string): string {
  return `model "${id}" looks like a Hub id, but downloading is not enabled here and the Hugging Face cache (${cacheDir}) does not hold it`;
}

/** How a caller's user allows a download, for the hint of that message. */
export const DEFAULT_DOWNLOAD_HINT = 'allow downloading it (it needs network access once)';

export interface ResolveOptions {
  /** The folder a relative path is relative to (the prompt file's, the recipe's, the current folder). */
  readonly base?: string | undefined;
  /** Download a Hub model the cache does not hold (the CLI's --download, the panel's consent). */
  readonly allowDownload?: boolean | undefined;
  /** How the user allows a download where the caller runs (`run with --download`), for the hint. */
  readonly downloadHint?: string | undefined;
  /** Where the id was written (the prompt file, the recipe and its key), for messages. */
  readonly place?: ErrorPlace | undefined;
  /** Cancels a download. */
  readonly signal?: AbortSignal | undefined;
  /** Which ONNX file a transformers.js repo must hold (and is downloaded); default fp32. */
  readonly dtype?: ExportDtype | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
  /** The Hub's settings (endpoint, token, cache folder); default: the environment's, as huggingface_hub reads them. */
  readonly hub?: Omit<HubOptions, 'signal' | 'onProgress'> | undefined;
}

export interface ResolvedModel {
  /** The model folder: the local folder, or the Hub snapshot. */
  readonly dir: string;
  /** For a Hub model: which repo and commit, and what it holds. */
  readonly hub?: { readonly repo: string; readonly commit: string; readonly kind: 'transformers.js' | 'safetensors' } | undefined;
}

/** Download progress as a few lines: a file's start, then at most one line a second. */
function progressLines(repo: string, say: (message: string) => void): (p: HubProgress) => void {
  let file = '';
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.file === file && now - last < 1000 && p.bytes !== p.total) return;
    file = p.file;
    last = now;
    say(`downloading ${repo}: ${p.file} ${formatBytes(p.bytes)}${p.total !== undefined ? ` of ${formatBytes(p.total)}` : ''}`);
  };
}

/**
 * The folder of the model `id` names: a local folder; else a Hub id's snapshot in the cache (checked
 * to hold every file the model needs); else, when allowed, downloaded into the cache. A TuneloopError
 * saying what to do otherwise.
 */
export async function resolveModel(id: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const local = localPath(id, options.base);
  if (local !== undefined && fs.existsSync(local)) {
    if (!isDirectory(local)) throw new TuneloopError('is a file; expected a model folder', { file: local });
    return { dir: local };
  }
  if (!looksLikeHubId(id)) {
    const hint = 'give a local model folder or a Hub id such as org/name';
    if (options.place) throw new TuneloopError(`model "${id}" is not a folder (looked for ${local ?? id})`, options.place, hint);
    throw new TuneloopError('no such folder', { file: local ?? id }, hint);
  }
  const hub = { ...options.hub, ...(options.signal ? { signal: options.signal } : {}), ...(options.dtype ? { dtype: options.dtype } : {}) };
  const cacheDir = hub.cacheDir !== undefined ? path.resolve(hub.cacheDir) : defaultHubCacheDir();
  const { repo } = parseHubId(id);
  if (cachedHubModel(id, cacheDir) !== undefined) {
    try {
      // Offline: the snapshot must hold what the model needs (a partial download may not).
      const m = await fetchModel(id, { ...hub, offline: true });
      return { dir: m.dir, hub: { repo: m.repo, commit: m.commit, kind: m.kind } };
    } catch (e) {
      if (!options.allowDownload) throw e;
      // Allowed to download: the missing files come next.
    }
  }
  if (!options.allowDownload) {
    throw new TuneloopError(notInHubCache(id, cacheDir), options.place ?? {}, `${options.downloadHint ?? DEFAULT_DOWNLOAD_HINT}, or give a local model folder`);
  }
  const m = await fetchModel(id, { ...hub, ...(options.onProgress ? { onProgress: progressLines(repo, options.onProgress) } : {}) });
  return { dir: m.dir, hub: { repo: m.repo, commit: m.commit, kind: m.kind } };
}
