import { buildGpt2Graph } from '../graph/gpt2';
import type { ConfigReader } from '../config-reader';
import { ACTIVATIONS, type ModelConfig, type WeightSpec } from '../model-config';
import { type FamilySpec, specialTokens } from './spec';

/** GPT-2: LayerNorm, learned positions, a plain GELU MLP, and Conv1D weights. */

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

export const GPT2: FamilySpec = {
  family: 'gpt2',
  architecture: 'GPT2LMHeadModel',
  parse: parseGpt2,
  weights: gpt2Weights,
  basePrefix: 'transformer.',
  ignoredWeights: [/(^|\.)attn\.(masked_)?bias$/],
  weightLayout: 'conv1d',
  embeddings: /(^|\.)(wte|wpe)\.weight$/,
  buildGraph: buildGpt2Graph,
  exportedConfig: () => ({}),
};
