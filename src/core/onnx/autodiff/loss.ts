import type { GraphBuilder, Value } from '../builder';

/**
 * Σ weights·(−log softmax(logits)[target]): the summed next-token cross-entropy.
 *
 *   logits  [B, S, V] float
 *   targets [B, S] int64, each in [0, V) (put any valid id, e.g. 0, where the weight is 0)
 *   weights [B, S] float, 1 where the target counts and 0 elsewhere (prompt tokens, padding)
 *
 * The caller shifts labels by one (the logits at position t predict token t + 1) and divides by the
 * number of counted targets; keeping the sum here lets gradient accumulation over micro-batches
 * divide once by the total count. Any leading shape works ([..., V] logits with [...] targets and
 * weights). The training step uses `crossEntropyWithGradient`, the same forward with its gradient
 * written by hand; the tests check that gradient against the autodiff of this function.
 */
export function crossEntropySum(g: GraphBuilder, logits: Value, targets: Value, weights: Value): Value {
  return g.scope('loss', () => forward(g, logits, targets, weights).lossSum);
}

/**
 * The loss and d lossSum / d logits = w · (softmax − onehot(target)), written directly: softmax is the
 * exp of the log-probabilities the forward already computed, and the one-hot part is a scatter-add of
 * −w at the target. Differentiating the forward's ops instead would build [B, S, V] selections several
 * times over.
 */
export function crossEntropyWithGradient(g: GraphBuilder, logits: Value, targets: Value, weights: Value): { lossSum: Value; dlogits: Value } {
  return g.scope('loss', () => {
    const { logProbs, idx, w, lossSum } = forward(g, logits, targets, weights);
    const dlogits = g.op('ScatterElements', [g.mul(g.op('Exp', [logProbs]), w), idx, g.neg(w)], { axis: -1, reduction: 'add' }); // [B, S, V]
    return { lossSum, dlogits };
  });
}

function forward(g: GraphBuilder, logits: Value, targets: Value, weights: Value): { logProbs: Value; idx: Value; w: Value; lossSum: Value } {
  const logProbs = g.op('LogSoftmax', [logits], { axis: -1 }); // [B, S, V]
  const idx = g.unsqueeze(targets, [-1]); // [B, S, 1]
  const w = g.unsqueeze(weights, [-1]); // [B, S, 1]
  const picked = g.op('GatherElements', [logProbs, idx], { axis: -1 }); // [B, S, 1]
  const lossSum = g.neg(g.op('ReduceSum', [g.mul(picked, w)], { keepdims: 0 })); // [] (no axes: every axis)
  return { logProbs, idx, w, lossSum };
}

/**
 * Token-level distillation's soft loss (Hinton et al. 2015, "Distilling the Knowledge in a Neural
 * Network"): Σ over positions and the teacher's top-k tokens of −q·log softmax(logits / τ)[id], the
 * soft cross-entropy against the teacher's top-k distribution. `q` carries the teacher's
 * probabilities (renormalised over its top k at temperature τ) already multiplied by each position's
 * weight (α·τ²·mask, folded in by the caller), so the graph is one gather and one sum.
 *
 *   logits [B, S, V] float
 *   ids    [B, S, K] int64: the teacher's top-k token ids at each position (any valid id where q is 0)
 *   q      [B, S, K] float: weighted teacher probabilities (0 where a position has no soft target)
 *
 * The soft CE and KL(teacher ‖ student) differ by the teacher's entropy, which does not depend on
 * the student: their gradients are the same.
 */
export function softCrossEntropySum(g: GraphBuilder, logits: Value, ids: Value, q: Value, temperature: number): Value {
  return g.scope('soft_loss', () => softForward(g, logits, ids, q, temperature).lossSum);
}

/**
 * The soft loss and its gradient, written directly: d/dlogits = (1/τ)·(softmax(logits/τ)·Σ_k q_k −
 * scatter(q at ids)). The tests check it against central differences of the same loss.
 */
export function softCrossEntropyWithGradient(g: GraphBuilder, logits: Value, ids: Value, q: Value, temperature: number): { lossSum: Value; dlogits: Value } {
  return g.scope('soft_loss', () => {
    const { logProbs, lossSum } = softForward(g, logits, ids, q, temperature);
    const mass = g.op('ReduceSum', [q, g.i64(-1)], { keepdims: 1 }); // [B, S, 1]
    const dense = g.op('ScatterElements', [g.mul(g.op('Exp', [logProbs]), mass), ids, g.neg(q)], { axis: -1, reduction: 'add' }); // [B, S, V]
    return { lossSum, dlogits: g.mul(dense, g.scalarF(1 / temperature)) };
  });
}

function softForward(g: GraphBuilder, logits: Value, ids: Value, q: Value, temperature: number): { logProbs: Value; lossSum: Value } {
  const logProbs = g.op('LogSoftmax', [temperature === 1 ? logits : g.mul(logits, g.scalarF(1 / temperature))], { axis: -1 }); // [B, S, V]
  const picked = g.op('GatherElements', [logProbs, ids], { axis: -1 }); // [B, S, K]
  const lossSum = g.neg(g.op('ReduceSum', [g.mul(picked, q)], { keepdims: 0 })); // []
  return { logProbs, lossSum };
}
