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
 * divide once by the total count. Built from LogSoftmax and GatherElements, whose backward rules
 * give dlogits = w·(softmax − onehot(target)) without a one-hot tensor in the forward graph.
 * Any leading shape works ([..., V] logits with [...] targets and weights).
 */
export function crossEntropySum(g: GraphBuilder, logits: Value, targets: Value, weights: Value): Value {
  return g.scope('loss', () => {
    const logProbs = g.op('LogSoftmax', [logits], { axis: -1 }); // [B, S, V]
    const picked = g.op('GatherElements', [logProbs, g.unsqueeze(targets, [-1])], { axis: -1 }); // [B, S, 1]
    const nll = g.neg(g.squeeze(picked, [-1])); // [B, S]
    return g.op('ReduceSum', [g.mul(nll, weights)], { keepdims: 0 }); // [] (no axes: every axis)
  });
}
