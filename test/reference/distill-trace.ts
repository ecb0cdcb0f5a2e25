import type { Batch } from '../../src/core/train/data';
import type { NaiveDecoder } from './naive-decoder';

/**
 * A float64 reference for token-level distillation's training, beside the naive decoder: the loss
 * of a batch (Σ w·−log p(target) + Σ q·−log softmax(z/τ)[id], the weights and q as makeBatch builds
 * them), and a trace of optimizer steps like the goldens' train2: each step's mean loss and gradient
 * norm, the gradients by central differences in float64, clipped and applied by AdamW as
 * core/train/optim.ts does, but in float64 throughout.
 */
export function distillLossSum(ref: NaiveDecoder, batch: Batch, temperature: number): number {
  let sum = 0;
  const { size: B, length: S } = batch;
  const K = batch.k ?? 0;
  for (let b = 0; b < B; b++) {
    const len = Array.from(batch.attentionMask.subarray(b * S, (b + 1) * S)).filter((m) => m === 1n).length;
    const logits = ref.forward(Array.from(batch.inputIds.subarray(b * S, b * S + len), Number));
    for (let t = 0; t < len; t++) {
      const row = logits[t]!;
      const logSoftmax = (scale: number) => {
        const x = Array.from(row, (v) => v * scale);
        const max = Math.max(...x);
        const z = Math.log(x.reduce((a, v) => a + Math.exp(v - max), 0));
        return x.map((v) => v - max - z);
      };
      const w = batch.weights[b * S + t]!;
      if (w !== 0) sum -= w * logSoftmax(1)[Number(batch.targets[b * S + t])]!;
      if (K) {
        const lp = logSoftmax(1 / temperature);
        for (let k = 0; k < K; k++) sum -= batch.softQ![(b * S + t) * K + k]! * lp[Number(batch.softIds![(b * S + t) * K + k])]!;
      }
    }
  }
  return sum;
}

export interface TraceModule {
  readonly name: string;
  readonly r: number;
  readonly scale: number;
}

export interface TraceStep {
  readonly loss: number;
  readonly gradNorm: number;
}

/**
 * `steps` optimizer steps from `params` (`<module>.lora_A` / `.lora_B`, float64 copies): loss and
 * gradients over the batch divided by its counted targets, the global norm clipped to `clip`,
 * AdamW (betas 0.9, 0.999, eps 1e-8, no weight decay) at a constant `lr`.
 */
export function referenceDistillTrace(
  base: NaiveDecoder,
  batch: Batch,
  modules: readonly TraceModule[],
  params: Map<string, Float64Array>,
  o: { readonly steps: number; readonly lr: number; readonly clip: number; readonly temperature: number },
): TraceStep[] {
  const lossOf = () =>
    distillLossSum(
      base.withLora(new Map(modules.map((m) => [m.name, { a: params.get(`${m.name}.lora_A`)!, b: params.get(`${m.name}.lora_B`)!, r: m.r, scale: m.scale }]))),
      batch,
      o.temperature,
    ) / batch.counted;
  const m = new Map([...params].map(([k, v]) => [k, new Float64Array(v.length)]));
  const v = new Map([...params].map(([k, x]) => [k, new Float64Array(x.length)]));
  const out: TraceStep[] = [];
  for (let step = 1; step <= o.steps; step++) {
    const loss = lossOf();
    const grads = new Map<string, Float64Array>();
    const h = 1e-5;
    for (const [name, p] of params) {
      const g = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const x = p[i]!;
        p[i] = x + h;
        const up = lossOf();
        p[i] = x - h;
        const down = lossOf();
        p[i] = x;
        g[i] = (up - down) / (2 * h);
      }
      grads.set(name, g);
    }
    let norm = 0;
    for (const g of grads.values()) for (const x of g) norm += x * x;
    norm = Math.sqrt(norm);
    const coef = Math.min(1, o.clip / (norm + 1e-6));
    const bc1 = 1 - 0.9 ** step;
    const bc2 = Math.sqrt(1 - 0.999 ** step);
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      const mm = m.get(name)!;
      const vv = v.get(name)!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! * coef;
        mm[i] = 0.9 * mm[i]! + 0.1 * gi;
        vv[i] = 0.999 * vv[i]! + 0.001 * gi * gi;
        p[i] = p[i]! - (o.lr / bc1) * (mm[i]! / (Math.sqrt(vv[i]!) / bc2 + 1e-8));
      }
    }
    out.push({ loss, gradNorm: norm });
  }
  return out;
}
