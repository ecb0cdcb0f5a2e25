import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoModelForCausalLM, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { SUPPORTED_MODEL_TYPES } from '../models/config';
import { exportCheckpoint } from '../models/export';
import { assertFitsInMemory } from './memory';
import { loadTokenizer } from './tokenizer';
import { configureTransformers } from './transformers-env';

export interface LoadOptions {
  /** onnxruntime intra-op threads; 0 or absent lets it choose. */
  readonly threads?: number | undefined;
  /** Where exports of Hugging Face checkpoints are cached. */
  readonly cacheDir?: string | undefined;
  /** Tokens of context to budget memory for (default 2048). */
  readonly contextTokens?: number | undefined;
  /** Bytes available (tests pass a number; default: what the system reports). */
  readonly availableMemory?: number | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Resolves a Hub id to a local folder (the hub module, when the caller allows network access); `signal` cancels the download. */
  readonly fetchHubModel?: ((id: string, signal?: AbortSignal) => Promise<string>) | undefined;
}

export interface LoadedModel {
  /** The transformers.js model folder that was loaded. */
  readonly dir: string;
  /** What the caller asked for: a folder or a Hub id. */
  readonly source: string;
  readonly model: PreTrainedModel;
  readonly tokenizer: PreTrainedTokenizer;
  readonly eosTokenIds: readonly number[];
  dispose(): Promise<void>;
}

const ONNX_FILE = path.join('onnx', 'model.onnx');

function isTransformersJsFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, ONNX_FILE));
}

function isHubId(s: string): boolean {
  return /^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(s) && !s.startsWith('.') && !fs.existsSync(s);
}

/**
 * A transformers.js model folder for `source`: such a folder as it is; a Hugging Face checkpoint
 * folder exported (and cached); a Hub id fetched first, when the caller gives a way to fetch.
 */
export async function resolveModelFolder(source: string, options: LoadOptions = {}): Promise<string> {
  if (fs.existsSync(source)) {
    const dir = path.resolve(source);
    if (!fs.statSync(dir).isDirectory()) throw new TuneloopError('is a file; expected a model folder', { file: dir });
    if (isTransformersJsFolder(dir)) return dir;
    if (fs.existsSync(path.join(dir, 'config.json'))) {
      options.onProgress?.('exporting checkpoint to ONNX');
      const r = await exportCheckpoint(dir, {
        ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return r.dir;
    }
    throw new TuneloopError('no config.json in this folder', { file: dir }, 'point at a Hugging Face checkpoint folder or a transformers.js model folder');
  }
  if (isHubId(source)) {
    if (!options.fetchHubModel)
      throw new TuneloopError(
        `"${source}" looks like a Hub id, but downloading is not enabled here`,
        {},
        'download it once with network access, or use a local folder',
      );
    return resolveModelFolder(await options.fetchHubModel(source, options.signal), { ...options, fetchHubModel: undefined });
  }
  throw new TuneloopError('no such folder', { file: source }, 'give a local model folder or a Hub id such as org/name');
}

/** Load a causal language model and its tokenizer through transformers.js on onnxruntime-node. */
export async function loadCausalLM(source: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const dir = await resolveModelFolder(source, options);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { model_type?: string; eos_token_id?: number | number[] };
  if (config.model_type === undefined) throw new TuneloopError('missing model_type', { file: path.join(dir, 'config.json'), key: 'model_type' });
  assertFitsInMemory(dir, options.contextTokens ?? 2048, options.availableMemory);
  configureTransformers();
  // The export copies the tokenizer files unchanged: read them where the user keeps them, so that an
  // error names the user's tokenizer_config.json rather than the copy in the cache.
  const own = fs.existsSync(path.join(source, 'tokenizer_config.json')) && fs.existsSync(path.join(source, 'tokenizer.json'));
  const tokenizer = await loadTokenizer(own ? source : dir);
  options.onProgress?.('loading model');
  let model: PreTrainedModel;
  try {
    model = await AutoModelForCausalLM.from_pretrained(dir, {
      local_files_only: true,
      dtype: 'fp32',
      device: 'cpu',
      session_options: options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {},
    });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (/Unsupported model type|not supported/i.test(message)) {
      throw new TuneloopError(
        `transformers.js cannot run model_type "${config.model_type}": ${message}`,
        { file: path.join(dir, 'config.json'), key: 'model_type' },
        `Tuneloop exports ${SUPPORTED_MODEL_TYPES.join(', ')}`,
      );
    }
    throw new TuneloopError(
      `onnxruntime could not load the model: ${message.split('\n')[0]}`,
      { file: path.join(dir, ONNX_FILE) },
      'the file may be corrupt or truncated: export it again (tuneloop cache clear), or download it again',
    );
  }
  const gen = fs.existsSync(path.join(dir, 'generation_config.json'))
    ? (JSON.parse(fs.readFileSync(path.join(dir, 'generation_config.json'), 'utf8')) as { eos_token_id?: number | number[] })
    : {};
  const eos = gen.eos_token_id ?? config.eos_token_id;
  const eosTokenIds = eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
  return {
    dir,
    source,
    model,
    tokenizer,
    eosTokenIds,
    dispose: async () => {
      await model.dispose();
    },
  };
}
