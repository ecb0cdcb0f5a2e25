import { GraphBuilder } from '../../onnx/builder';
import type { ModelDef } from '../../onnx/model';
import { VERSION } from '../../version';
import type { Family, ModelConfig } from '../config';
import { buildGpt2Graph } from './gpt2';
import { buildLlamaGraph } from './llama';
import type { DecoderOptions } from './decoder';
import type { WeightReader } from './weights';

/** One graph builder per architecture family. */
const BUILDERS: Readonly<Record<Family, (g: GraphBuilder, cfg: ModelConfig, w: WeightReader, options: DecoderOptions) => void>> = {
  llama: buildLlamaGraph,
  mistral: buildLlamaGraph,
  qwen2: buildLlamaGraph,
  qwen3: buildLlamaGraph,
  gpt2: buildGpt2Graph,
};

/** Add the family's decoder graph to `g` (for training graphs, which add a loss and gradients after). */
export function buildDecoderInto(g: GraphBuilder, cfg: ModelConfig, weights: WeightReader, options: DecoderOptions = {}): void {
  BUILDERS[cfg.family](g, cfg, weights, options);
}

/** The inference graph (with KV cache) of a checkpoint, as transformers.js loads it. */
export function buildDecoderModel(cfg: ModelConfig, weights: WeightReader, options: DecoderOptions = {}): ModelDef {
  const g = new GraphBuilder(`tuneloop-${cfg.modelType}`);
  BUILDERS[cfg.family](g, cfg, weights, options);
  return g.model({ producerName: 'tuneloop', producerVersion: VERSION });
}
