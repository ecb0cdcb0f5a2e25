import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../fs/json';
import { TuneloopError } from '../errors';
import { formatBytes } from '../format';
import { DEFAULT_DTYPE, DTYPE_SPECS, type ExportDtype } from '../dtypes';

/** The system's MemAvailable in bytes (page cache counts), or undefined where there is no /proc/meminfo. */
export function memAvailable(): number | undefined {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // not Linux
  }
}

/** Memory the system can give a new process now: MemAvailable on Linux, else free memory. */
export function availableMemory(): number {
  return memAvailable() ?? os.freemem();
}

export interface InferenceEstimate {
  readonly weightBytes: number;
  /** Cache bytes per token of context (all layers, keys and values). */
  readonly kvBytesPerToken: number;
  readonly totalBytes: number;
}

/**
 * What loading an exported model and generating `contextTokens` tokens needs: onnxruntime holds the
 * weights, briefly twice while it pre-packs the matrix operands, plus the KV cache (float32).
 */
const size = z.number().int().positive().optional();
const ModelSizes = z.looseObject({
  num_hidden_layers: size,
  n_layer: size,
  num_key_value_heads: size,
  num_attention_heads: size,
  n_head: size,
  hidden_size: size,
  n_embd: size,
  head_dim: size,
});

export function estimateInference(modelDir: string, contextTokens: number, dtype: ExportDtype = DEFAULT_DTYPE): InferenceEstimate {
  const onnx = path.join(modelDir, 'onnx');
  const file = DTYPE_SPECS[dtype].file;
  let weightBytes = 0;
  // The dtype's own file (and its external data), not the folder's other dtypes.
  for (const f of fs.existsSync(onnx) ? fs.readdirSync(onnx) : [])
    if (f === file || f.startsWith(`${file}_data`)) weightBytes += fs.statSync(path.join(onnx, f)).size;
  // Any transformers.js folder (a Hub export of an architecture Tuneloop does not build included): the
  // sizes it spells, whichever family's names they use, each a positive integer when present.
  const cfg = readJsonFile(path.join(modelDir, 'config.json'), ModelSizes, 'model config');
  const layers = cfg.num_hidden_layers ?? cfg.n_layer ?? 0;
  const heads = cfg.num_key_value_heads ?? cfg.num_attention_heads ?? cfg.n_head ?? 0;
  const hidden = cfg.hidden_size ?? cfg.n_embd ?? 0;
  const headDim = cfg.head_dim ?? (heads ? hidden / (cfg.num_attention_heads ?? cfg.n_head ?? heads) : 0);
  const kvBytesPerToken = 2 * layers * heads * headDim * 4;
  return { weightBytes, kvBytesPerToken, totalBytes: Math.ceil(2 * weightBytes + kvBytesPerToken * contextTokens + 64 * 2 ** 20) };
}

/** Refuse, with a message that says what to do, when the machine cannot hold the model. */
export function assertFitsInMemory(
  modelDir: string,
  contextTokens: number,
  available = availableMemory(),
  dtype: ExportDtype = DEFAULT_DTYPE,
): InferenceEstimate {
  const e = estimateInference(modelDir, contextTokens, dtype);
  if (e.totalBytes > available) {
    throw new TuneloopError(
      `the model needs about ${formatBytes(e.totalBytes)} (${formatBytes(e.weightBytes)} of weights, loaded with pre-packing, plus the cache for ${contextTokens} tokens) but ${formatBytes(available)} is available`,
      { file: modelDir },
      'close other programs, or pick a smaller model or a quantized export',
    );
  }
  return e;
}
