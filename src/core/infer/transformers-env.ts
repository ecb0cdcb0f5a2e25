import { env } from '@huggingface/transformers';

/**
 * transformers.js keeps its settings in one global object; this module is the only place that
 * changes them. Offline by default: models are local folders (absolute paths), and its own file
 * cache is off because it is consulted before a local folder.
 */
let configured = false;

export function configureTransformers(): typeof env {
  if (!configured) {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.useFSCache = false;
    env.useBrowserCache = false;
    // Model ids passed to from_pretrained are absolute folder paths, joined onto this.
    env.localModelPath = '/';
    configured = true;
  }
  return env;
}
