import { buildLlamaGraph } from '../graph/llama';
import type { ConfigReader } from '../config-reader';
import { ACTIVATIONS, type Family, type ModelConfig, ROPE_TYPES, type RopeConfig, type WeightSpec } from '../model-config';
import { type FamilySpec, specialTokens } from './spec';

/** The llama-like families (llama, mistral, qwen2, qwen3): one decoder with per-family options. */

interface LlamaLikeOptions {
  family: Family;
  /** Biases on q/k/v: from `attention_bias` (which also puts one on o_proj), or always (qwen2, q/k/v only). */
  qkvBias: 'attention_bias' | 'always';
  qkNorm: boolean;
  /** Which layers use the sliding window. */
  sliding: 'none' | 'all' | 'qwen';
  defaults: { numKvHeads?: number; headDim?: number; rmsEps: number; maxPositions: number; slidingWindow?: number };
}

function parseLlamaLike(c: ConfigReader, modelType: string, o: LlamaLikeOptions): ModelConfig {
  const hiddenSize = c.int('hidden_size', undefined, 1);
  const numLayers = c.int('num_hidden_layers', undefined, 1);
  const numHeads = c.int('num_attention_heads', undefined, 1);
  const numKvHeads = c.int('num_key_value_heads', o.defaults.numKvHeads ?? numHeads, 1);
  if (numHeads % numKvHeads !== 0) {
    c.error(
      'num_key_value_heads',
      `${numKvHeads} does not divide num_attention_heads ${numHeads}`,
      'grouped-query attention shares each key/value head among an equal number of query heads',
    );
  }
  let headDim: number;
  if (c.has('head_dim')) headDim = c.int('head_dim', undefined, 1);
  else if (o.defaults.headDim !== undefined) headDim = o.defaults.headDim;
  else {
    if (hiddenSize % numHeads !== 0)
      c.error('head_dim', `missing, and hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`, 'add "head_dim" to the config');
    headDim = hiddenSize / numHeads;
  }
  const attentionBias = c.bool('attention_bias', false);
  const window = slidingWindows(c, numLayers, o);
  return {
    family: o.family,
    modelType,
    vocabSize: c.int('vocab_size', undefined, 1),
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: c.int('intermediate_size', undefined, 1),
    maxPositionEmbeddings: c.int('max_position_embeddings', o.defaults.maxPositions, 1),
    norm: { type: 'rms', eps: c.positive('rms_norm_eps', o.defaults.rmsEps) },
    activation: c.oneOf('hidden_act', ACTIVATIONS, 'silu', 'activation'),
    positions: { type: 'rope', rope: parseRope(c, 10000) },
    attention: {
      qkvBias: o.qkvBias === 'always' || attentionBias,
      outputBias: o.qkvBias === 'attention_bias' && attentionBias,
      qkNorm: o.qkNorm,
      slidingWindow: window,
      scale: Array.from({ length: numLayers }, () => 1 / Math.sqrt(headDim)),
    },
    mlp: { gated: true, bias: c.bool('mlp_bias', false) },
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    ...specialTokens(c),
  };
}

function slidingWindows(c: ConfigReader, numLayers: number, o: LlamaLikeOptions): (number | null)[] {
  if (o.sliding === 'none') return new Array<number | null>(numLayers).fill(null);
  if (o.sliding === 'all') {
    const w = c.has('sliding_window') ? c.int('sliding_window', undefined, 1) : c.raw.sliding_window === null ? null : (o.defaults.slidingWindow ?? null);
    return new Array<number | null>(numLayers).fill(w);
  }
  // qwen2 / qwen3: `layer_types` when written (transformers ≥ 4.53), else use_sliding_window from max_window_layers on.
  const useSliding = c.bool('use_sliding_window', false);
  const w = useSliding ? c.int('sliding_window', o.defaults.slidingWindow, 1) : null;
  const types = c.stringList('layer_types');
  if (types) {
    if (types.length !== numLayers) c.error('layer_types', `has ${types.length} entries for ${numLayers} layers`);
    return types.map((t, i) => {
      if (t === 'full_attention') return null;
      // As in transformers: without use_sliding_window the config's window is None, so the layer is full.
      if (t === 'sliding_attention') return w;
      return c.error('layer_types', `entry ${i} is ${JSON.stringify(t)}`, 'supported: full_attention, sliding_attention');
    });
  }
  const maxWindowLayers = c.int('max_window_layers', 28);
  return Array.from({ length: numLayers }, (_, i) => (w !== null && i >= maxWindowLayers ? w : null));
}

/** Both spellings: transformers 5's `rope_parameters`, and the older `rope_theta` + `rope_scaling`. */
function parseRope(c: ConfigReader, defaultTheta: number): RopeConfig {
  const params = c.object('rope_parameters');
  let theta: number;
  let scaling: ConfigReader | undefined;
  if (params) {
    theta = params.positive('rope_theta', c.has('rope_theta') ? c.positive('rope_theta') : defaultTheta);
    scaling = params;
  } else {
    theta = c.positive('rope_theta', defaultTheta);
    scaling = c.object('rope_scaling');
  }
  if (!scaling) return { type: 'default', theta };
  const typeKey = scaling.has('rope_type') ? 'rope_type' : scaling.has('type') ? 'type' : 'rope_type';
  const type = scaling.oneOf(typeKey, ROPE_TYPES, 'default', 'rope type');
  switch (type) {
    case 'default':
      return { type, theta };
    case 'linear':
      return { type, theta, factor: scaling.positive('factor') };
    case 'llama3': {
      const r: RopeConfig = {
        type,
        theta,
        factor: scaling.positive('factor'),
        lowFreqFactor: scaling.positive('low_freq_factor'),
        highFreqFactor: scaling.positive('high_freq_factor'),
        originalMaxPositionEmbeddings: scaling.int('original_max_position_embeddings', undefined, 1),
      };
      if (!(r.highFreqFactor > r.lowFreqFactor)) scaling.error('high_freq_factor', `must exceed low_freq_factor (${r.lowFreqFactor})`);
      return r;
    }
  }
}

function llamaLikeWeights(cfg: ModelConfig): WeightSpec[] {
  const { hiddenSize: h, numHeads, numKvHeads, headDim: d, intermediateSize: m, vocabSize: v } = cfg;
  const w: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [v, h] }];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const linear = (name: string, out: number, inp: number, bias: boolean) => {
      w.push({ name: `${p}.${name}.weight`, shape: [out, inp] });
      if (bias) w.push({ name: `${p}.${name}.bias`, shape: [out] });
    };
    w.push({ name: `${p}.input_layernorm.weight`, shape: [h] });
    linear('self_attn.q_proj', numHeads * d, h, cfg.attention.qkvBias);
    linear('self_attn.k_proj', numKvHeads * d, h, cfg.attention.qkvBias);
    linear('self_attn.v_proj', numKvHeads * d, h, cfg.attention.qkvBias);
    linear('self_attn.o_proj', h, numHeads * d, cfg.attention.outputBias);
    if (cfg.attention.qkNorm) {
      w.push({ name: `${p}.self_attn.q_norm.weight`, shape: [d] });
      w.push({ name: `${p}.self_attn.k_norm.weight`, shape: [d] });
    }
    w.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h] });
    linear('mlp.gate_proj', m, h, cfg.mlp.bias);
    linear('mlp.up_proj', m, h, cfg.mlp.bias);
    linear('mlp.down_proj', h, m, cfg.mlp.bias);
  }
  w.push({ name: 'model.norm.weight', shape: [h] });
  if (!cfg.tieWordEmbeddings) w.push({ name: 'lm_head.weight', shape: [v, h] });
  return w;
}

/** What the llama-like families share: their weights, their graph, how they export. */
const LLAMA_LIKE = {
  weights: llamaLikeWeights,
  basePrefix: 'model.',
  ignoredWeights: [/\.rotary_emb\.inv_freq$/],
  weightLayout: 'linear',
  embeddings: /(^|\.)embed_tokens\.weight$/,
  buildGraph: buildLlamaGraph,
  // transformers.js reads these directly; configs may leave them to their class defaults.
  exportedConfig: (cfg: ModelConfig) => ({ num_key_value_heads: cfg.numKvHeads, head_dim: cfg.headDim }),
} as const satisfies Partial<FamilySpec>;

export const LLAMA: FamilySpec = {
  family: 'llama',
  architecture: 'LlamaForCausalLM',
  parse: (c, t) =>
    parseLlamaLike(c, t, { family: 'llama', qkvBias: 'attention_bias', qkNorm: false, sliding: 'none', defaults: { rmsEps: 1e-6, maxPositions: 2048 } }),
  ...LLAMA_LIKE,
};

export const MISTRAL: FamilySpec = {
  family: 'mistral',
  architecture: 'MistralForCausalLM',
  parse: (c, t) =>
    parseLlamaLike(c, t, {
      family: 'mistral',
      qkvBias: 'attention_bias',
      qkNorm: false,
      sliding: 'all',
      defaults: { numKvHeads: 8, rmsEps: 1e-6, maxPositions: 4096 * 32, slidingWindow: 4096 },
    }),
  ...LLAMA_LIKE,
};

export const QWEN2: FamilySpec = {
  family: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  parse: (c, t) =>
    parseLlamaLike(c, t, {
      family: 'qwen2',
      qkvBias: 'always',
      qkNorm: false,
      sliding: 'qwen',
      defaults: { rmsEps: 1e-6, maxPositions: 32768, slidingWindow: 4096 },
    }),
  ...LLAMA_LIKE,
};

export const QWEN3: FamilySpec = {
  family: 'qwen3',
  architecture: 'Qwen3ForCausalLM',
  parse: (c, t) =>
    parseLlamaLike(c, t, {
      family: 'qwen3',
      qkvBias: 'attention_bias',
      qkNorm: true,
      sliding: 'qwen',
      defaults: { headDim: 128, rmsEps: 1e-6, maxPositions: 32768, slidingWindow: 4096 },
    }),
  ...LLAMA_LIKE,
};
