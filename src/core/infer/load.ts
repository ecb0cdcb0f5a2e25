import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../fs/json';
import { AutoModelForCausalLM, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { SUPPORTED_MODEL_TYPES } from '../models/config';
import { exportCheckpoint } from '../export/export';
import { DEFAULT_DTYPE, DTYPE_SPECS, EXPORT_DTYPES, type ExportDtype } from '../dtypes';
import { resolveModel } from '../models/resolve';
import { assertFitsInMemory } from './memory';
import { loadTokenizer } from './tokenizer';
import { configureTransformers } from './transformers-env';

export interface LoadOptions {
  /** onnxruntime intra-op threads; 0 or absent lets it choose. */
  readonly threads?: number | undefined;
  /** The weights' dtype: fp32 (default), q8 or q4 (a checkpoint is exported in it; a transformers.js folder must hold its file). */
  readonly dtype?: ExportDtype | undefined;
  /** Where exports of Hugging Face checkpoints are cached. */
  readonly cacheDir?: string | undefined;
  /** Tokens of context to budget memory for (default 2048). */
  readonly contextTokens?: number | undefined;
  /** Bytes available (tests pass a number; default: what the system reports). */
  readonly availableMemory?: number | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Download a Hub model the Hugging Face cache does not hold (the caller has the user's consent); `signal` cancels it. */
  readonly allowDownload?: boolean | undefined;
  /** How the user allows a download where the caller runs, for the message when it is not allowed. */
  readonly downloadHint?: string | undefined;
}

export interface LoadedModel {
  /** The transformers.js model folder that was loaded. */
  readonly dir: string;
  /** What the caller asked for: a folder or a Hub id. */
  readonly source: string;
  readonly dtype: ExportDtype;
  readonly model: PreTrainedModel;
  readonly tokenizer: PreTrainedTokenizer;
  readonly eosTokenIds: readonly number[];
  dispose(): Promise<void>;
}

/** The model files of a transformers.js folder, by dtype, that it holds. */
export function dtypesIn(dir: string): ExportDtype[] {
  return EXPORT_DTYPES.filter((d) => fs.existsSync(path.join(dir, 'onnx', DTYPE_SPECS[d].file)));
}

function isTransformersJsFolder(dir: string): boolean {
  return (
    fs.existsSync(path.join(dir, 'config.json')) &&
    fs.existsSync(path.join(dir, 'onnx')) &&
    fs.readdirSync(path.join(dir, 'onnx')).some((f) => /^model.*\.onnx$/.test(f))
  );
}

/**
 * The folder `source` names (`located`: a folder, relative to the current one, or a Hub id, found by
 * models/resolve.ts in the Hugging Face cache or downloaded where allowed) and the transformers.js
 * folder made of it (`dir`): such a folder as it is, a Hugging Face checkpoint exported (and cached).
 */
export async function resolveModelFolder(source: string, options: LoadOptions): Promise<{ located: string; dir: string }> {
  const { dir: located } = await resolveModel(source, {
    base: process.cwd(),
    allowDownload: options.allowDownload,
    downloadHint: options.downloadHint,
    signal: options.signal,
    onProgress: options.onProgress,
    dtype: options.dtype,
  });
  if (isTransformersJsFolder(located)) return { located, dir: located };
  if (!fs.existsSync(path.join(located, 'config.json')))
    throw new TuneloopError('no config.json in this folder', { file: located }, 'point at a Hugging Face checkpoint folder or a transformers.js model folder');
  options.onProgress?.('exporting checkpoint to ONNX');
  const r = await exportCheckpoint(located, {
    ...(options.dtype ? { dtype: options.dtype } : {}),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { located, dir: r.dir };
}

/** Load a causal language model and its tokenizer through transformers.js on onnxruntime-node. */
/** The end-of-sequence id(s) a config may name: one id or a list. */
const TokenIds = z.looseObject({ eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish() });

export async function loadCausalLM(source: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const { located, dir } = await resolveModelFolder(source, options);
  const dtype = options.dtype ?? DEFAULT_DTYPE;
  const onnxFile = path.join(dir, 'onnx', DTYPE_SPECS[dtype].file);
  if (!fs.existsSync(onnxFile)) {
    const has = dtypesIn(dir);
    throw new TuneloopError(
      `this model folder has no ${dtype} weights (onnx/${DTYPE_SPECS[dtype].file})`,
      { file: dir },
      has.length
        ? `it holds ${has.join(', ')}: choose one of those (dtype in the prompt file, tuneloop.dtype, or --dtype), or point at the Hugging Face checkpoint to export ${dtype}`
        : 'point at the Hugging Face checkpoint, which Tuneloop exports in any dtype',
    );
  }
  const config = readJsonFile(path.join(dir, 'config.json'), TokenIds.extend({ model_type: z.string().optional() }), 'model config');
  if (config.model_type === undefined) throw new TuneloopError('missing model_type', { file: path.join(dir, 'config.json'), key: 'model_type' });
  assertFitsInMemory(dir, options.contextTokens ?? 2048, options.availableMemory, dtype);
  configureTransformers();
  // The export copies the tokenizer files unchanged: read them where the user keeps them, so that an
  // error names the user's tokenizer_config.json rather than the copy in the cache.
  const own = fs.existsSync(path.join(located, 'tokenizer_config.json')) && fs.existsSync(path.join(located, 'tokenizer.json'));
  const tokenizer = await loadTokenizer(own ? located : dir);
  options.onProgress?.('loading model');
  let model: PreTrainedModel;
  try {
    model = await AutoModelForCausalLM.from_pretrained(dir, {
      local_files_only: true,
      dtype,
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
      { file: onnxFile },
      'the file may be corrupt or truncated: export it again (tuneloop cache clear), or download it again',
    );
  }
  const gen = fs.existsSync(path.join(dir, 'generation_config.json'))
    ? readJsonFile(path.join(dir, 'generation_config.json'), TokenIds, 'generation config')
    : {};
  const eos = gen.eos_token_id ?? config.eos_token_id;
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  return {
    dir,
    source,
    dtype,
    model,
    tokenizer,
    eosTokenIds,
    dispose: async () => {
      await model.dispose();
    },
  };
}
