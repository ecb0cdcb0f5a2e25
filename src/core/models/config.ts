import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { ConfigReader } from './config-reader';

/**
 * Hugging Face `config.json` → one normalised description of the model, for every family the engine
 * supports. Each family's entry in `FAMILIES` applies the defaults that its transformers config class
 * applies, so that a checkpoint loads here exactly as `AutoConfig.from_pretrained` would read it.
 *
 * Keys that fix the shapes of the weights (sizes, layer and head counts) are required: transformers
 * would fill in the defaults of a 7B model, which can only disagree with the weights on disk.
 */

export type Family = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gpt2';

export const ACTIVATIONS = ['silu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

export type RopeConfig =
  | { readonly type: 'default'; readonly theta: number }
  | { readonly type: 'linear'; readonly theta: number; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly theta: number;
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    };

export interface ModelConfig {
  readonly family: Family;
  /** `model_type` as written in the file. */
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Key/value heads; fewer than `numHeads` is grouped-query attention. */
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly maxPositionEmbeddings: number;
  readonly norm: { readonly type: 'rms' | 'layer'; readonly eps: number };
  readonly activation: Activation;
  /** Rotary embeddings, or learned absolute positions (gpt2). */
  readonly positions: { readonly type: 'rope'; readonly rope: RopeConfig } | { readonly type: 'learned' };
  readonly attention: {
    readonly qkvBias: boolean;
    readonly outputBias: boolean;
    /** Per-head RMSNorm of queries and keys before RoPE (qwen3). */
    readonly qkNorm: boolean;
    /** Per layer: the sliding window in tokens, or null for full causal attention. */
    readonly slidingWindow: readonly (number | null)[];
    /** Per layer: the factor multiplying q·k (1/sqrt(head_dim) unless the config says otherwise). */
    readonly scale: readonly number[];
  };
  /** Gated (SwiGLU: down(act(gate) * up)) or plain (gpt2: proj(act(fc))); with or without biases. */
  readonly mlp: { readonly gated: boolean; readonly bias: boolean };
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

interface FamilySpec {
  readonly family: Family;
  /** The transformers class a checkpoint of this family loads as. */
  readonly architecture: string;
  parse(c: ConfigReader, modelType: string): ModelConfig;
  /** Every weight tensor of the checkpoint, with Hugging Face's names and shapes. */
  weights(cfg: ModelConfig): WeightSpec[];
  /** Prefix of the base model's weights, which some checkpoints save without (`h.0...` for `transformer.h.0...`). */
  readonly basePrefix: string;
  /** Buffers that older checkpoints saved and transformers ignores on load. */
  readonly ignoredWeights: readonly RegExp[];
}

// ---- shared by the llama-like families --------------------------------------------------------

interface LlamaLikeOptions {
  family: Exclude<Family, 'gpt2'>;
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

function specialTokens(c: ConfigReader): Pick<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'padTokenId'> {
  const bos = c.intList('bos_token_id');
  const pad = c.intList('pad_token_id');
  return { bosTokenId: bos[0], eosTokenIds: c.intList('eos_token_id'), padTokenId: pad[0] };
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

// ---- gpt2 ------------------------------------------------------------------------------------

function parseGpt2(c: ConfigReader, modelType: string): ModelConfig {
  const hiddenSize = c.int('n_embd', undefined, 1);
  const numHeads = c.int('n_head', undefined, 1);
  const numLayers = c.int('n_layer', undefined, 1);
  if (hiddenSize % numHeads !== 0) c.error('n_head', `${numHeads} does not divide n_embd ${hiddenSize}`);
  const headDim = hiddenSize / numHeads;
  const scaleWeights = c.bool('scale_attn_weights', true);
  const byLayer = c.bool('scale_attn_by_inverse_layer_idx', false);
  return {
    family: 'gpt2',
    modelType,
    vocabSize: c.int('vocab_size', undefined, 1),
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads: numHeads,
    headDim,
    intermediateSize: c.int('n_inner', 4 * hiddenSize, 1),
    maxPositionEmbeddings: c.int('n_positions', undefined, 1),
    norm: { type: 'layer', eps: c.positive('layer_norm_epsilon', 1e-5) },
    activation: c.oneOf('activation_function', ACTIVATIONS, 'gelu_new', 'activation'),
    positions: { type: 'learned' },
    attention: {
      qkvBias: true,
      outputBias: true,
      qkNorm: false,
      slidingWindow: new Array<number | null>(numLayers).fill(null),
      scale: Array.from({ length: numLayers }, (_, i) => (scaleWeights ? 1 / Math.sqrt(headDim) : 1) / (byLayer ? i + 1 : 1)),
    },
    mlp: { gated: false, bias: true },
    // PretrainedConfig's default, which GPT2Config keeps.
    tieWordEmbeddings: c.bool('tie_word_embeddings', true),
    ...specialTokens(c),
  };
}

/** GPT-2 stores its linear layers as Conv1D, weights `[in, out]`, with q, k and v fused in `c_attn`. */
function gpt2Weights(cfg: ModelConfig): WeightSpec[] {
  const { hiddenSize: h, intermediateSize: m, vocabSize: v } = cfg;
  const w: WeightSpec[] = [
    { name: 'transformer.wte.weight', shape: [v, h] },
    { name: 'transformer.wpe.weight', shape: [cfg.maxPositionEmbeddings, h] },
  ];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    const conv = (name: string, inp: number, out: number) => {
      w.push({ name: `${p}.${name}.weight`, shape: [inp, out] });
      w.push({ name: `${p}.${name}.bias`, shape: [out] });
    };
    w.push({ name: `${p}.ln_1.weight`, shape: [h] }, { name: `${p}.ln_1.bias`, shape: [h] });
    conv('attn.c_attn', h, 3 * h);
    conv('attn.c_proj', h, h);
    w.push({ name: `${p}.ln_2.weight`, shape: [h] }, { name: `${p}.ln_2.bias`, shape: [h] });
    conv('mlp.c_fc', h, m);
    conv('mlp.c_proj', m, h);
  }
  w.push({ name: 'transformer.ln_f.weight', shape: [h] }, { name: 'transformer.ln_f.bias', shape: [h] });
  if (!cfg.tieWordEmbeddings) w.push({ name: 'lm_head.weight', shape: [v, h] });
  return w;
}

const LLAMA_IGNORED = [/\.rotary_emb\.inv_freq$/];

// ---- the table -------------------------------------------------------------------------------

/** One entry per supported `model_type`, with the defaults of its transformers config class. */
export const FAMILIES: Readonly<Record<string, FamilySpec>> = {
  llama: {
    family: 'llama',
    architecture: 'LlamaForCausalLM',
    parse: (c, t) =>
      parseLlamaLike(c, t, { family: 'llama', qkvBias: 'attention_bias', qkNorm: false, sliding: 'none', defaults: { rmsEps: 1e-6, maxPositions: 2048 } }),
    weights: llamaLikeWeights,
    basePrefix: 'model.',
    ignoredWeights: LLAMA_IGNORED,
  },
  mistral: {
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
    weights: llamaLikeWeights,
    basePrefix: 'model.',
    ignoredWeights: LLAMA_IGNORED,
  },
  qwen2: {
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
    weights: llamaLikeWeights,
    basePrefix: 'model.',
    ignoredWeights: LLAMA_IGNORED,
  },
  qwen3: {
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
    weights: llamaLikeWeights,
    basePrefix: 'model.',
    ignoredWeights: LLAMA_IGNORED,
  },
  gpt2: {
    family: 'gpt2',
    architecture: 'GPT2LMHeadModel',
    parse: parseGpt2,
    weights: gpt2Weights,
    basePrefix: 'transformer.',
    ignoredWeights: [/(^|\.)attn\.(masked_)?bias$/],
  },
};

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

function familyOf(c: ConfigReader): { spec: FamilySpec; modelType: string } {
  const modelType = c.string('model_type');
  const spec = FAMILIES[modelType];
  if (!spec || !Object.hasOwn(FAMILIES, modelType)) {
    c.error('model_type', `unsupported architecture ${JSON.stringify(modelType)}`, `Tuneloop supports ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  return { spec, modelType };
}

/** Parse a config object (already read from `file`, which is named in errors). */
export function parseModelConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TuneloopError('must be a JSON object', { file });
  }
  const c = new ConfigReader(raw as Record<string, unknown>, file);
  const { spec, modelType } = familyOf(c);
  return spec.parse(c, modelType);
}

/** Read and parse `config.json` from a checkpoint folder (or a path to the file itself). */
export function loadModelConfig(dirOrFile: string): ModelConfig {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TuneloopError(
      `cannot read the model config: ${(e as NodeJS.ErrnoException).code ?? e}`,
      { file },
      'a Hugging Face checkpoint folder holds config.json beside its weights',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TuneloopError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  return parseModelConfig(raw, file);
}

export function architectureOf(cfg: ModelConfig): string {
  return FAMILIES[cfg.modelType]!.architecture;
}

/** The checkpoint's weight tensors, by Hugging Face name, with their shapes. */
export function expectedWeights(cfg: ModelConfig): WeightSpec[] {
  return FAMILIES[cfg.modelType]!.weights(cfg);
}

/** Parameters of the model (tied embeddings counted once), from the config alone. */
export function parameterCount(cfg: ModelConfig): number {
  let n = 0;
  for (const w of expectedWeights(cfg)) n += w.shape.reduce((a, b) => a * b, 1);
  return n;
}

export interface WeightMatch {
  /** Expected (canonical) name → the name in the checkpoint. */
  readonly names: ReadonlyMap<string, string>;
  readonly missing: readonly WeightSpec[];
  /** In the checkpoint, not expected, and not a known ignorable buffer. */
  readonly unexpected: readonly string[];
  /** In the checkpoint and ignored as transformers ignores them (old buffers, a tied head saved anyway). */
  readonly ignored: readonly string[];
}

/** Match a checkpoint's tensor names to the weights the config implies, as transformers' loader does. */
export function matchWeights(cfg: ModelConfig, available: readonly string[]): WeightMatch {
  const spec = FAMILIES[cfg.modelType]!;
  const have = new Set(available);
  const names = new Map<string, string>();
  const missing: WeightSpec[] = [];
  for (const w of spec.weights(cfg)) {
    const short = w.name.startsWith(spec.basePrefix) ? w.name.slice(spec.basePrefix.length) : undefined;
    if (have.has(w.name)) names.set(w.name, w.name);
    else if (short !== undefined && have.has(short)) names.set(w.name, short);
    else missing.push(w);
  }
  const used = new Set(names.values());
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const n of available) {
    if (used.has(n)) continue;
    const tiedHead = cfg.tieWordEmbeddings && n === 'lm_head.weight';
    if (tiedHead || spec.ignoredWeights.some((re) => re.test(n))) ignored.push(n);
    else unexpected.push(n);
  }
  return { names, missing, unexpected, ignored };
}
