import type { FAMILIES } from './families';

/**
 * The normalised description of a model that every part of the engine reads, whatever family its
 * checkpoint comes from (families/ turns each family's config.json into it).
 */
/** The supported families, one per `model_type` (the keys of the table in families/index.ts). */
export type Family = keyof typeof FAMILIES;

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
