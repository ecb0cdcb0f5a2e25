/** Hugging Face Hub downloads into the standard Hugging Face cache. */
export { parseHubId, looksLikeHubId, isRepoId, DEFAULT_REVISION, type HubId } from './id';
export { resolveHubOptions, defaultCacheDir, DEFAULT_ENDPOINT, type HubOptions, type HubProgress, type ResolvedHubOptions } from './options';
export { HubStalledError, HubUnreachableError } from './http';
export { resolveRevision, type ResolvedRevision } from './api';
export {
  findCachedSnapshot,
  listCachedModels,
  listSnapshotFiles,
  repoCacheDir,
  snapshotDir,
  type CachedModel,
  type CachedRevision,
} from './cache';
export { downloadFile } from './download';
export { classifyRepo, filesToDownload, type FilesToDownloadOptions, type OnnxDtype, type RepoKind, type SafetensorsIndex } from './classify';
export { fetchModel, readSafetensorsIndex, type FetchModelOptions, type FetchedModel } from './fetch-model';
