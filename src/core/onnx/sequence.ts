import type { GraphBuilder, Value } from './builder';

/**
 * `v` unchanged, as a value that exists only once every one of `deps` has been computed.
 *
 * onnxruntime runs a node as soon as its inputs exist, and merges nodes whose inputs and attributes
 * are the same (common-subexpression elimination). A chunked loss, or a decoder layer recomputed in
 * the backward pass, saves memory only if its nodes run late and stay separate from the forward
 * pass, so they read their inputs through this: Expand(v, [1]), where the [1] is computed from an
 * element of each dep by a comparison that holds for any value (NaN included), then reshaped back to v's
 * shape. The result equals v bit for bit.
 */
export function after(g: GraphBuilder, v: Value, ...deps: Value[]): Value {
  const shape = g.shapeOf(v);
  if (!shape) throw new Error(`after: ${v.name} has no static shape`);
  const truths = deps.map((dep) => {
    const element = g.slice(g.reshape(dep, [-1]), [0], [1], [0]); // [1]
    const same = g.op('Equal', [element, element], {}, 'bool'); // [1]
    return g.op('Or', [same, g.op('Not', [same])], {}, 'bool'); // [1], always true
  });
  const all = truths.reduce((a, b) => g.op('And', [a, b], {}, 'bool'));
  return g.reshape(g.op('Expand', [v, g.cast(all, 'int64')]), [...shape]); // [1] of ones: v's shape
}
