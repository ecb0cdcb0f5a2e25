import { TuneloopError } from '../errors';
import { INDEX_FILE, SINGLE_FILE } from '../safetensors/checkpoint';
import { DTYPE_SPECS, type ExportDtype } from '../dtypes';

/** What a repo holds, judged by its file names. */
export type RepoKind = 'transformers.js' | 'safetensors' | 'pickle-only' | 'none';

/** The ONNX variants transformers.js picks by `dtype`: Tuneloop's three (export/dtypes.ts), and fp16. */
export type OnnxDtype = ExportDtype | 'fp16';

/** A sharded checkpoint's index, as `save_pretrained` writes it. */
export interface SafetensorsIndex {
  weight_map: Record<string, string>;
}

export interface FilesToDownloadOptions {
  /** Which ONNX file of a transformers.js repo; default fp32 (`onnx/model.onnx`). */
  dtype?: OnnxDtype | undefined;
  /**
   * The repo's `model.safetensors.index.json`, once downloaded: only the shards it names are
   * wanted. Without it, every top-level `.safetensors` file of a sharded repo is listed.
   */
  index?: SafetensorsIndex | undefined;
  /** Names the file list in error messages (`repo org/name`); default "the repo". */
  source?: string | undefined;
}

const ONNX_FILE: Record<OnnxDtype, string> = {
  fp32: DTYPE_SPECS.fp32.file,
  q8: DTYPE_SPECS.q8.file,
  q4: DTYPE_SPECS.q4.file,
  fp16: 'model_fp16.onnx',
};

/** transformers.js reads tokenizer.json only when tokenizer_config.json is there too: both are required. */
const REQUIRED_TOKENIZER = ['tokenizer.json', 'tokenizer_config.json'];
/** Tokenizer files taken when present (slow-tokenizer vocabularies are what an export may need). */
const OPTIONAL_TOKENIZER = ['special_tokens_map.json', 'added_tokens.json', 'tokenizer.model', 'vocab.json', 'merges.txt'];
const PICKLE = /\.(bin|pt|pth|ckpt)$/;

function isTopLevel(f: string): boolean {
  return !f.includes('/');
}

/**
 * Which kind of model a repo holds, by its file list: a ready transformers.js folder (ONNX under
 * onnx/, a config and a tokenizer), safetensors weights (to be exported), pickled weights only
 * (never loaded: unpickling runs code), or nothing usable.
 */
export function classifyRepo(files: string[]): RepoKind {
  const has = new Set(files);
  const onnx = files.some((f) => /^onnx\/[^/]+\.onnx$/.test(f));
  if (onnx && has.has('config.json') && REQUIRED_TOKENIZER.every((f) => has.has(f))) return 'transformers.js';
  if (has.has(INDEX_FILE) || files.some((f) => isTopLevel(f) && f.endsWith('.safetensors'))) return 'safetensors';
  if (files.some((f) => isTopLevel(f) && PICKLE.test(f))) return 'pickle-only';
  return 'none';
}

/** `onnx/model.onnx` plus its external data (`model.onnx_data`, or chunks `model.onnx_data_1`, …) when the repo has them. */
function onnxFiles(files: string[], dtype: OnnxDtype, source: string): string[] {
  const graph = `onnx/${ONNX_FILE[dtype]}`;
  if (!files.includes(graph)) {
    const available = files.filter((f) => /^onnx\/[^/]+\.onnx$/.test(f));
    throw new TuneloopError(
      `${source} has no ${graph} (dtype ${dtype})`,
      {},
      `it has ${available.join(', ') || 'no ONNX file'}; pick the dtype that matches (${Object.entries(ONNX_FILE)
        .map(([d, f]) => `${d}: ${f}`)
        .join(', ')})`,
    );
  }
  const data = new RegExp(`^${graph.replace(/[.]/g, '\\.')}_data(?:_\\d+)?$`);
  return [graph, ...files.filter((f) => data.test(f)).sort()];
}

function present(files: string[], wanted: string[]): string[] {
  const has = new Set(files);
  return wanted.filter((f) => has.has(f));
}

/** The shards of a sharded checkpoint: those the index names, each of which must be in the repo. */
function safetensorsShards(files: string[], index: SafetensorsIndex | undefined, source: string): string[] {
  if (!files.includes(INDEX_FILE)) {
    return files.includes(SINGLE_FILE) ? [SINGLE_FILE] : files.filter((f) => isTopLevel(f) && f.endsWith('.safetensors')).sort();
  }
  if (index === undefined) return files.filter((f) => isTopLevel(f) && f.endsWith('.safetensors')).sort();
  const shards = [...new Set(Object.values(index.weight_map))].sort();
  const missing = shards.filter((s) => !files.includes(s));
  if (missing.length > 0) {
    throw new TuneloopError(
      `${INDEX_FILE} names shards that ${source} does not have: ${missing.join(', ')}`,
      { key: 'weight_map' },
      'pick another revision or repo, or download it again',
    );
  }
  return shards;
}

/**
 * The subset of a repo's files needed to use it: config, generation config, tokenizer, and the
 * weights (one ONNX variant; or the safetensors shards). Never pickled weights.
 */
export function filesToDownload(kind: RepoKind, files: string[], opts: FilesToDownloadOptions = {}): string[] {
  const source = opts.source ?? 'the repo';
  const common = present(files, ['config.json', 'generation_config.json', ...REQUIRED_TOKENIZER]);
  if (kind === 'transformers.js') {
    return [...common, ...present(files, ['special_tokens_map.json']), ...onnxFiles(files, opts.dtype ?? 'fp32', source)];
  }
  if (kind === 'safetensors') {
    return [...common, ...present(files, [...OPTIONAL_TOKENIZER, INDEX_FILE]), ...safetensorsShards(files, opts.index, source)];
  }
  return [];
}
