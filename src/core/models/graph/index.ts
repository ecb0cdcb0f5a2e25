import { GraphBuilder } from '../../onnx/builder';
import type { ModelDef } from '../../onnx/model';
import { VERSION } from '../../version';
import { familySpec, type ModelConfig } from '../config';
import type { DecoderOptions } from './decoder';
import type { WeightReader } from './weights';

/** Add the family's decoder graph to `g` (for training graphs, which add a loss and gradients after). */
export function buildDecoderInto(g: GraphBuilder, cfg: ModelConfig, weights: WeightReader, options: DecoderOptions = {}): void {
  familySpec(cfg).buildGraph(g, cfg, weights, options);
}

/** The inference graph (with KV cache) of a checkpoint, as transformers.js loads it. */
export function buildDecoderModel(cfg: ModelConfig, weights: WeightReader, options: DecoderOptions = {}): ModelDef {
  const g = new GraphBuilder(`tuneloop-${cfg.modelType}`);
  familySpec(cfg).buildGraph(g, cfg, weights, options);
  return g.model({ producerName: 'tuneloop', producerVersion: VERSION });
}
