import type { GraphBuilder } from '../../onnx/builder';
import type { ConfigReader } from '../config-reader';
import type { DecoderOptions } from '../graph/decoder';
import type { WeightReader } from '../graph/weights';
import type { Family, ModelConfig, WeightSpec } from '../model-config';

/**
 * Everything the engine knows about one architecture family, in one place: how its config.json
 * reads, which weights it has and how they are laid out, the graph that runs it, and what its
 * exported config must spell out. A new family is one file with its specs plus one entry in
 * families/index.ts; nothing else in the engine names a family.
 */
export interface FamilySpec {
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
  /** How 2-D weights are stored: `linear` [out, in] (nn.Linear), or `conv1d` [in, out] (GPT-2's Conv1D, PEFT's fan_in_fan_out). */
  readonly weightLayout: 'linear' | 'conv1d';
  /** The embedding tables among the 2-D weights: never LoRA targets. */
  readonly embeddings: RegExp;
  /** Adds the family's decoder graph to `g` (inference with a KV cache, or the forward of a training step). */
  buildGraph(g: GraphBuilder, cfg: ModelConfig, weights: WeightReader, options: DecoderOptions): void;
  /** Values transformers.js reads from config.json that this family's configs may leave to defaults. */
  exportedConfig(cfg: ModelConfig): Record<string, unknown>;
}

/** Special token ids, shared by every family: each may be a number or a list in config.json. */
export function specialTokens(c: ConfigReader): Pick<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'padTokenId'> {
  const bos = c.intList('bos_token_id');
  const pad = c.intList('pad_token_id');
  return { bosTokenId: bos[0], eosTokenIds: c.intList('eos_token_id'), padTokenId: pad[0] };
}
