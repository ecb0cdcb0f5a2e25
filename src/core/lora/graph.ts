import { TuneloopError } from '../errors';
import type { GraphBuilder } from '../onnx/builder';
import type { ModelConfig } from '../models/config';
import type { LoraProvider } from '../models/graph/lora-branches';
import { bytes } from '../models/graph/weights';
import { type Adapter, mergeInto } from './adapter';

/** The adapter kept as separate branches, its A and B as initializers (the unmerged path). */
export function initializerLora(adapter: Adapter): LoraProvider {
  return (g: GraphBuilder, module: string) => {
    const l = adapter.modules.get(module);
    if (!l) return undefined;
    return {
      a: g.initializer(`${module}.lora_A.weight`, 'float32', [l.r, l.module.inFeatures], bytes(l.a)),
      b: g.initializer(`${module}.lora_B.weight`, 'float32', [l.module.outFeatures, l.r], bytes(l.b)),
      scale: l.scale,
    };
  };
}

/** A WeightReader transform that merges the adapter into the weights it targets (merge_and_unload). */
export function mergeTransform(base: ModelConfig, adapter: Adapter): (name: string, data: Float32Array) => Float32Array {
  if (base.tieWordEmbeddings && adapter.modules.has('lm_head')) {
    throw new TuneloopError(
      'cannot merge an adapter on lm_head into a model whose head is tied to its input embedding',
      { file: adapter.dir, key: 'lm_head' },
      'apply it unmerged, or untie the head',
    );
  }
  return (name, data) => {
    if (!name.endsWith('.weight')) return data;
    const l = adapter.modules.get(name.slice(0, -'.weight'.length));
    return l ? mergeInto(data, l) : data;
  };
}
