import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedWeights, parseModelConfig } from '../models/config';
import { writeSafetensors } from '../safetensors';
import { fromFloat32 } from '../safetensors/dtype';
import { seededRandom } from '../random';

/**
 * The default model's architecture and its random starting point. A Llama-family decoder small
 * enough to train from scratch on two CPU cores in a few minutes, with the project's byte-level BPE
 * tokenizer (vocab 512, ChatML chat template) and tied input/output embeddings.
 */
export interface DefaultModelShape {
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
}

export const DEFAULT_SHAPE: DefaultModelShape = { hiddenSize: 256, layers: 4, heads: 8, kvHeads: 4, intermediateSize: 768, maxPositions: 512 };

/** A Hugging Face LlamaForCausalLM config for `shape`, with the tokenizer's special tokens. */
export function defaultModelConfig(shape: DefaultModelShape = DEFAULT_SHAPE): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: null,
    dtype: 'float32',
    eos_token_id: 2,
    head_dim: shape.hiddenSize / shape.heads,
    hidden_act: 'silu',
    hidden_size: shape.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: shape.intermediateSize,
    max_position_embeddings: shape.maxPositions,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    num_key_value_heads: shape.kvHeads,
    pad_token_id: 0,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
    tie_word_embeddings: true,
    use_cache: true,
    vocab_size: 512,
  };
}

export const GENERATION_CONFIG = { do_sample: false, eos_token_id: 2, pad_token_id: 0 };
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/** Seeded standard normal draws (Box–Muller over mulberry32), the same on every machine. */
export function normalSampler(seed: number): () => number {
  const u = seededRandom(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u1 = Math.max(u(), 1e-12);
    const u2 = u();
    const rad = Math.sqrt(-2 * Math.log(u1));
    spare = rad * Math.sin(2 * Math.PI * u2);
    return rad * Math.cos(2 * Math.PI * u2);
  };
}

/**
 * Initial weights as GPT-2 and Llama pretraining set them: normal(0, std) for every matrix, with the
 * projections that write into the residual stream (o_proj, down_proj) scaled by 1/√(2·layers), and
 * RMSNorm weights at 1. Returned in the order of `expectedWeights`, so the draws are reproducible.
 */
export function initialWeights(config: Record<string, unknown>, seed: number, std = 0.02): Map<string, { shape: number[]; data: Float32Array }> {
  const cfg = parseModelConfig(config);
  const normal = normalSampler(seed);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const residualStd = std / Math.sqrt(2 * cfg.numLayers);
  for (const w of expectedWeights(cfg)) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/norm\.weight$/.test(w.name)) data.fill(1);
    else {
      const s = /(o_proj|down_proj)\.weight$/.test(w.name) ? residualStd : std;
      for (let i = 0; i < n; i++) data[i] = normal() * s;
    }
    out.set(w.name, { shape: [...w.shape], data });
  }
  return out;
}

/**
 * Write a Hugging Face checkpoint folder with random weights: config.json, generation_config.json,
 * the tokenizer files copied from `tokenizerDir`, model.safetensors (float32).
 */
export function writeInitialCheckpoint(dir: string, options: { shape?: DefaultModelShape; seed: number; tokenizerDir: string }): void {
  fs.mkdirSync(dir, { recursive: true });
  const config = defaultModelConfig(options.shape);
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'generation_config.json'), `${JSON.stringify(GENERATION_CONFIG, null, 2)}\n`);
  for (const f of TOKENIZER_FILES) fs.copyFileSync(path.join(options.tokenizerDir, f), path.join(dir, f));
  const weights = initialWeights(config, options.seed);
  const tensors = new Map([...weights].map(([name, w]) => [name, { dtype: 'F32' as const, shape: w.shape, data: fromFloat32('F32', w.data) }]));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}
