import { addGradients, crossEntropyWithGradient } from '../onnx/autodiff';
import { GraphBuilder, type Value } from '../onnx/builder';
import type { ModelDef } from '../onnx/model';
import type { ModelConfig } from '../models/config';
import { buildDecoderInto } from '../models/graph';
import type { LoraProvider } from '../models/graph/decoder';
import type { WeightReader } from '../models/graph/weights';
import type { LinearModule } from '../lora/modules';
import { VERSION } from '../version';

/**
 * The training-step graph: the decoder's forward pass on a [batch, seq] batch without a cache, the
 * summed next-token cross-entropy over counted targets, and the gradient of that sum with respect to
 * every trainable tensor, all in one ONNX model. Frozen weights are initializers; trainable tensors
 * (LoRA's A and B, or every weight for full fine-tuning) are inputs; gradients are outputs named
 * `grad.<input>`.
 *
 * Inputs: input_ids, attention_mask, position_ids, targets [B, S] int64; weights [B, S] float32
 * (1 where the target counts); per LoRA module with dropout, `<module>.dropout` [B, S, in] float32
 * (0 or 1/(1−p)). Outputs: loss_sum [], grad.* (each shaped as its tensor), logits if asked.
 */
export interface LoraTrainModule {
  readonly module: LinearModule;
  readonly r: number;
  readonly scale: number;
}

export interface TrainingGraphSpec {
  readonly batch: number;
  readonly seq: number;
  readonly mode: 'lora' | 'full';
  readonly lora?: readonly LoraTrainModule[];
  /** PEFT's lora_dropout: a mask input per module when above 0. */
  readonly loraDropout?: number;
  readonly outputLogits?: boolean;
  /** Only the forward pass and the loss (validation). */
  readonly lossOnly?: boolean;
}

export interface TrainingGraph {
  readonly model: ModelDef;
  /** Trainable inputs, in order, with their shapes (LoRA: `<module>.lora_A` [r, in] / `.lora_B` [out, r]). */
  readonly trainable: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly dropoutInputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

export function loraInputName(module: string, which: 'A' | 'B'): string {
  return `${module}.lora_${which}`;
}

export function buildTrainingGraph(cfg: ModelConfig, weights: WeightReader, spec: TrainingGraphSpec): TrainingGraph {
  const g = new GraphBuilder(`tuneloop-train-${cfg.modelType}`);
  const trainable: { name: string; shape: number[]; value: Value }[] = [];
  const dropoutInputs: { name: string; shape: number[] }[] = [];
  const byModule = new Map((spec.lora ?? []).map((m) => [m.module.name, m]));
  const lora: LoraProvider | undefined =
    spec.mode === 'lora'
      ? (gb, module) => {
          const m = byModule.get(module);
          if (!m) return undefined;
          const aShape = [m.r, m.module.inFeatures];
          const bShape = [m.module.outFeatures, m.r];
          const a = gb.input(loraInputName(module, 'A'), 'float32', aShape);
          const b = gb.input(loraInputName(module, 'B'), 'float32', bShape);
          trainable.push({ name: a.name, shape: aShape, value: a }, { name: b.name, shape: bShape, value: b });
          if (spec.loraDropout && spec.loraDropout > 0) {
            const shape = [spec.batch, spec.seq, m.module.inFeatures];
            const mask = gb.input(`${module}.dropout`, 'float32', shape);
            dropoutInputs.push({ name: mask.name, shape });
            return { a, b, scale: m.scale, inputMask: mask };
          }
          return { a, b, scale: m.scale };
        }
      : undefined;

  let logits: Value | undefined;
  buildDecoderInto(g, cfg, weights, {
    ...(lora ? { lora } : {}),
    weightsAsInputs: spec.mode === 'full',
    training: { batch: spec.batch, seq: spec.seq, onLogits: (l) => (logits = l), outputLogits: spec.outputLogits === true },
  });
  if (spec.mode === 'full') {
    for (const i of g.graph().inputs) {
      if (i.dtype === 'float32')
        trainable.push({ name: i.name, shape: i.dims as number[], value: { name: i.name, dtype: 'float32', shape: i.dims as number[] } as Value });
    }
  }
  const targets = g.input('targets', 'int64', [spec.batch, spec.seq]);
  const weightsIn = g.input('weights', 'float32', [spec.batch, spec.seq]);
  const { lossSum: loss, dlogits } = crossEntropyWithGradient(g, logits!, targets, weightsIn);
  g.output(loss, 'loss_sum', []);
  if (!spec.lossOnly) {
    // Back-propagate from the logits, seeded with the loss gradient computed above.
    const grads = addGradients(
      g,
      logits!,
      trainable.map((t) => t.value),
      { seed: dlogits },
    );
    grads.forEach((grad, k) => g.output(grad, `grad.${trainable[k]!.name}`, trainable[k]!.shape));
  }
  return {
    model: g.model({ producerName: 'tuneloop', producerVersion: VERSION }),
    trainable: trainable.map(({ name, shape }) => ({ name, shape })),
    dropoutInputs,
  };
}
