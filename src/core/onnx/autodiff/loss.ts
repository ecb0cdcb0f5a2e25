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
