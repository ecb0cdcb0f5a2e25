import { LogitsProcessor, type Tensor } from '@huggingface/transformers';

/**
 * Logits processors with Hugging Face's semantics, applied in Hugging Face's order (repetition
 * penalty, temperature, top-k, top-p). transformers.js 4.3 declares top-k/top-p warpers without
 * implementing them and samples top-k only, so Tuneloop applies all four itself; the first
 * processor records the model's own distribution, for the log-probability of each chosen token.
 */
type Row = Float32Array;

function rows(logits: Tensor): Row[] {
  const [batch, vocab] = logits.dims as [number, number];
  const data = logits.data as Float32Array;
  return Array.from({ length: batch }, (_, b) => data.subarray(b * vocab, (b + 1) * vocab));
}

abstract class RowProcessor extends LogitsProcessor {
  abstract process(ids: readonly bigint[], row: Row): void;
  override _call(inputIds: bigint[][], logits: Tensor): Tensor {
    rows(logits).forEach((row, b) => this.process(inputIds[b]!, row));
    return logits;
  }
}

/** log Σ exp(row), computed stably. Indexed loops: this runs over the vocabulary at every token. */
export function logSumExp(row: Row): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** log softmax(row)[i] for every i. */
export function logSoftmax(row: Row): Float64Array {
  const lse = logSumExp(row);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** Keeps the model's logits of the last step, before any other processor touches them. */
export class RecordLogProbs extends RowProcessor {
  /**
   * The last step's rows, copied into buffers kept from step to step: a fresh copy of a 128k-entry
   * row each token cost 0.87 ms (its pages touched anew), as much as a third of the log-sum-exp.
   */
  private last: Float32Array[] = [];
  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const now = rows(logits);
    this.lse = [];
    this.last = now.map((r, b) => {
      const kept = this.last[b]?.length === r.length ? this.last[b]! : new Float32Array(r.length);
      kept.set(r);
      return kept;
    });
    return logits;
  }
  /** Each row's log-sum-exp at the last step, computed once for logprob and top. */
  private lse: (number | undefined)[] = [];
  process(): void {}
  private logZ(b: number): number {
    const row = this.last[b]!;
    this.lse[b] ??= logSumExp(row);
    return this.lse[b]!;
  }
  /** log p(token) at the last step for batch row `b`. */
  logprob(b: number, token: number): number {
    const row = this.last[b];
    return row ? row[token]! - this.logZ(b) : Number.NaN;
  }
  /**
   * The k most likely tokens at the last step for batch row `b`, most likely first, with their log
   * probabilities (under the model's own distribution, as `logprob`). One pass over the row keeping
   * the k best: no sort of the vocabulary.
   */
  top(b: number, k: number): { id: number; logprob: number }[] {
    const row = this.last[b];
    if (!row || k <= 0) return [];
    const ids: number[] = [];
    for (let i = 0; i < row.length; i++) {
      if (ids.length === k && row[i]! <= row[ids[k - 1]!]!) continue;
      let at = ids.length < k ? ids.length : k - 1;
      if (ids.length < k) ids.push(i);
      // Insertion into the kept k, largest first (ties keep the lower id first).
      while (at > 0 && row[ids[at - 1]!]! < row[i]!) {
        ids[at] = ids[at - 1]!;
        at--;
      }
      ids[at] = i;
    }
    const z = this.logZ(b);
    return ids.map((id) => ({ id, logprob: row[id]! - z }));
  }
}

export class RepetitionPenalty extends RowProcessor {
  constructor(readonly penalty: number) {
    super();
  }
  process(ids: readonly bigint[], row: Row): void {
    for (const id of new Set(ids)) {
      const i = Number(id);
      const v = row[i]!;
      row[i] = v < 0 ? v * this.penalty : v / this.penalty;
    }
  }
}

export class Temperature extends RowProcessor {
  constructor(readonly temperature: number) {
    super();
  }
  process(_: readonly bigint[], row: Row): void {
    for (let i = 0; i < row.length; i++) row[i] = row[i]! / this.temperature;
  }
}

/** Keep the k largest logits (and any equal to the k-th), as TopKLogitsWarper does. */
export class TopK extends RowProcessor {
  constructor(readonly k: number) {
    super();
  }
  process(_: readonly bigint[], row: Row): void {
    if (this.k >= row.length) return;
    const kth = Float32Array.from(row).sort().at(-this.k)!;
    for (let i = 0; i < row.length; i++) if (row[i]! < kth) row[i] = -Infinity;
  }
}

/** Keep the smallest set of most probable tokens whose probabilities add up to at least p. */
export class TopP extends RowProcessor {
  constructor(readonly p: number) {
    super();
  }
  process(_: readonly bigint[], row: Row): void {
    if (this.p >= 1) return;
    const order = Array.from(row.keys()).sort((a, b) => row[a]! - row[b]!); // ascending, as HF sorts
    const logp = logSoftmax(row);
    // HF removes tokens whose ascending cumulative probability is <= 1 - p, keeping at least one.
    let cum = 0;
    for (let j = 0; j < order.length - 1; j++) {
      cum += Math.exp(logp[order[j]!]!);
      if (cum <= 1 - this.p) row[order[j]!] = -Infinity;
      else break;
    }
  }
}
