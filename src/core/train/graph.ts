import { addGradients, crossEntropyWithGradient, softCrossEntropyWithGradient } from '../onnx/autodiff';
import { GraphBuilder, type Value } from '../onnx/builder';
import type { ModelDef } from '../onnx/model';
import { after } from '../onnx/sequence';
import type { ModelConfig } from '../models/config';
import { buildDecoderInto } from '../models/graph';
import type { LoraProvider } from '../models/graph/lora-branches';
import type { FrozenWeights } from '../models/graph/frozen';
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
  /**
   * Token-level distillation: inputs `soft_ids` [B, S, k] (int64) and `soft_q` [B, S, k] (the teacher's
   * top-k probabilities at temperature τ, weighted by α·τ², data.ts makeBatch), and the soft
   * cross-entropy added to the loss and its gradient.
   */
  readonly softTargets?: { readonly k: number; readonly temperature: number };
  /** PEFT's lora_dropout: a mask input per module when above 0. */
  readonly loraDropout?: number;
  readonly outputLogits?: boolean;
  /** Only the forward pass and the loss (validation). */
  readonly lossOnly?: boolean;
  /**
   * Activation recomputation per decoder layer (transformers' gradient_checkpointing): the backward
   * pass recomputes each layer's activations from the layer's input instead of keeping them.
   */
  readonly gradientCheckpointing?: boolean;
  /** Frozen weights as inputs fed from one held copy (shared by a process's sessions); initializers when absent. */
  readonly frozen?: FrozenWeights;
  /** Tokens per chunk of the LM head and the loss (default: `lossChunkTokens(vocab)`). */
  readonly chunkTokens?: number;
}

/**
 * The logits of a chunk of tokens take at most this many bytes: the head and the loss run chunk after
 * chunk, forward and backward, so that [B·S, V] logits never exist whole (a 151,936-token vocabulary
 * at 4 × 256 tokens: 622 MB per tensor, and the loss holds four such). Larger chunks cost less: with
 * the head's matrix fed rather than pre-packed, each chunk's MatMul packs it again.
 */
export const LOSS_CHUNK_BYTES = 128 * 2 ** 20;

export function lossChunkTokens(vocab: number): number {
  return Math.max(1, Math.floor(LOSS_CHUNK_BYTES / (4 * vocab)));
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

  const N = spec.batch * spec.seq;
  const perChunk = spec.chunkTokens ?? lossChunkTokens(cfg.vocabSize);
  // Chunks need a frozen head: a trained one (full fine-tuning, or LoRA on lm_head) takes the whole logits.
  const chunked = perChunk < N && spec.mode === 'lora' && !byModule.has('lm_head') && spec.outputLogits !== true;
  let logits: Value | undefined;
  let hidden: { x: Value; head: (rows: Value) => Value } | undefined;
  const layers: (readonly [number, number])[] = [];
  buildDecoderInto(g, cfg, weights, {
    ...(lora ? { lora } : {}),
    ...(spec.frozen ? { frozen: spec.frozen } : {}),
    weightsAsInputs: spec.mode === 'full',
    training: {
      batch: spec.batch,
      seq: spec.seq,
      outputLogits: spec.outputLogits === true,
      ...(chunked ? { onHidden: (x: Value, head: (rows: Value) => Value) => (hidden = { x, head }) } : { onLogits: (l: Value) => (logits = l) }),
      onLayer: (start, end) => layers.push([start, end]),
    },
  });
  if (spec.mode === 'full') {
    for (const i of g.graph().inputs) {
      if (i.dtype === 'float32')
        trainable.push({ name: i.name, shape: i.dims as number[], value: { name: i.name, dtype: 'float32', shape: i.dims as number[] } as Value });
    }
  }
  const targets = g.input('targets', 'int64', [spec.batch, spec.seq]);
  const weightsIn = g.input('weights', 'float32', [spec.batch, spec.seq]);
  const st = spec.softTargets;
  const soft = st
    ? {
        ids: g.input('soft_ids', 'int64', [spec.batch, spec.seq, st.k]),
        q: g.input('soft_q', 'float32', [spec.batch, spec.seq, st.k]),
        temperature: st.temperature,
      }
    : undefined;
  // Back-propagate from the logits, or from the final hidden states when the head ran in chunks.
  const { loss, from, seed } = hidden
    ? chunkedLoss(g, hidden, targets, weightsIn, { tokens: N, perChunk, hiddenSize: cfg.hiddenSize, lossOnly: spec.lossOnly === true, soft })
    : (() => {
        const l = lossWithGradient(g, logits!, targets, weightsIn, soft);
        return { loss: l.lossSum, from: logits!, seed: l.dlogits };
      })();
  g.output(loss, 'loss_sum', []);
  if (!spec.lossOnly) {
    const grads = addGradients(
      g,
      from,
      trainable.map((t) => t.value),
      { seed: seed!, ...(spec.gradientCheckpointing ? { recompute: layers } : {}) },
    );
    grads.forEach((grad, k) => g.output(grad, `grad.${trainable[k]!.name}`, trainable[k]!.shape));
  }
  return {
    model: g.model({ producerName: 'tuneloop', producerVersion: VERSION }),
    trainable: trainable.map(({ name, shape }) => ({ name, shape })),
    dropoutInputs,
  };
}

interface SoftInputs {
  readonly ids: Value;
  readonly q: Value;
  readonly temperature: number;
}

/** The next-token cross-entropy, plus the soft cross-entropy against the teacher's top-k when distilling token by token. */
function lossWithGradient(g: GraphBuilder, logits: Value, targets: Value, weights: Value, soft: SoftInputs | undefined): { lossSum: Value; dlogits: Value } {
  const hard = crossEntropyWithGradient(g, logits, targets, weights);
  if (!soft) return hard;
  const s = softCrossEntropyWithGradient(g, logits, soft.ids, soft.q, soft.temperature);
  return { lossSum: g.add(hard.lossSum, s.lossSum), dlogits: g.add(hard.dlogits, s.dlogits) };
}

/**
 * The LM head and the loss over chunks of `perChunk` tokens: per chunk, its logits [c, V], the summed
 * cross-entropy and (unless `lossOnly`) the gradient of the hidden rows [c, H] through the head. Each
 * chunk starts only once the one before has finished (see `after`), so one chunk's logits exist at a
 * time. Returns the summed loss and d loss / d hidden [B, S, H], to back-propagate from.
 */
function chunkedLoss(
  g: GraphBuilder,
  hidden: { x: Value; head: (rows: Value) => Value },
  targets: Value,
  weights: Value,
  o: { tokens: number; perChunk: number; hiddenSize: number; lossOnly: boolean; soft?: SoftInputs | undefined },
): { loss: Value; from: Value; seed?: Value } {
  return g.scope('chunked_loss', () => {
    const shape = g.shapeOf(hidden.x)!;
    const rows = g.reshape(hidden.x, [o.tokens, o.hiddenSize]); // [N, H]
    const t = g.reshape(targets, [o.tokens]); // [N]
    const w = g.reshape(weights, [o.tokens]); // [N]
    const k = o.soft ? (g.shapeOf(o.soft.ids)![2] as number) : 0;
    const softIds = o.soft ? g.reshape(o.soft.ids, [o.tokens, k]) : undefined; // [N, k]
    const softQ = o.soft ? g.reshape(o.soft.q, [o.tokens, k]) : undefined; // [N, k]
    const losses: Value[] = [];
    const grads: Value[] = [];
    let last: Value[] = [];
    for (let start = 0; start < o.tokens; start += o.perChunk) {
      const end = Math.min(o.tokens, start + o.perChunk);
      let h = g.slice(rows, [start], [end], [0]); // [c, H]
      // After the chunk before has finished: its loss (onnxruntime would otherwise compute the losses
      // last, holding every chunk's log-probabilities until then) and its gradient.
      if (last.length) h = after(g, h, ...last);
      const logits = hidden.head(h); // [c, V]
      const soft =
        o.soft && softIds && softQ
          ? { ids: g.slice(softIds, [start], [end], [0]), q: g.slice(softQ, [start], [end], [0]), temperature: o.soft.temperature }
          : undefined;
      const l = lossWithGradient(g, logits, g.slice(t, [start], [end], [0]), g.slice(w, [start], [end], [0]), soft);
      losses.push(l.lossSum);
      if (o.lossOnly) last = [l.lossSum];
      else {
        const [dh] = addGradients(g, logits, [h], { seed: l.dlogits }); // [c, H]
        grads.push(dh!);
        last = [l.lossSum, dh!];
      }
    }
    const loss = losses.length === 1 ? losses[0]! : g.op('Sum', losses);
    if (o.lossOnly) return { loss, from: hidden.x };
    // The backward pass starts once every chunk's loss is summed (onnxruntime would sum them last).
    return { loss, from: hidden.x, seed: after(g, g.reshape(g.concat(grads, 0), [...shape]), loss) };
  });
}
