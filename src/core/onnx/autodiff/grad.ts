import type { GraphBuilder, RecordedNode, Value } from '../builder';
import { after } from '../sequence';
import { sameShape } from '../shapes';
import { BACKWARD, FLOAT_TYPES, NO_GRADIENT, shapeOf, zeros } from './rules';

/**
 * Reverse-mode automatic differentiation over the builder's recorded op calls.
 *
 * The forward graph is whatever has been built so far; `addGradients` appends the backward graph to
 * the same builder, so a training step is one ONNX model: forward, loss, backward, with the
 * gradients marked as outputs by the caller. Frozen weights are initializers (constants, never
 * differentiated); trained tensors are graph inputs (or any floating-point value made by a node).
 */

export interface GradientOptions {
  /** dL/dloss, shaped as `loss` (default: ones, i.e. the gradient of Σ loss). */
  readonly seed?: Value;
  /**
   * Ranges [start, end) of the tape (decoder layers) whose activations the backward pass recomputes
   * instead of reading the forward pass's: activation checkpointing. See `recomputation`.
   */
  readonly recompute?: readonly (readonly [number, number])[];
}

/**
 * Append nodes computing d(loss)/d(w) for each `w` in `wrt`, and return them (each shaped as its `w`).
 *
 * Only nodes on a path from a `wrt` value to `loss` are differentiated: a forward sweep marks the
 * values that depend on some `w`, then a reverse sweep over the tape carries gradients from `loss`
 * back through the marked nodes. A value used by several nodes gets the sum of their contributions
 * (one Add, or one Sum for three and more). A `w` that `loss` does not depend on gets zeros.
 */
export function addGradients(g: GraphBuilder, loss: Value, wrt: readonly Value[], options: GradientOptions = {}): Value[] {
  // Snapshot: the backward nodes appended below are not part of the graph being differentiated.
  const tape: readonly RecordedNode[] = g.recorded().slice();
  if (!FLOAT_TYPES.has(loss.dtype)) throw new Error(`autodiff: the loss ${loss.name} is ${loss.dtype}, not floating-point`);
  const lossShape = shapeOf(g, loss);
  for (const w of wrt) {
    if (!FLOAT_TYPES.has(w.dtype)) throw new Error(`autodiff: cannot differentiate with respect to ${w.name}: it is ${w.dtype}`);
    if (g.isInitializer(w)) throw new Error(`autodiff: ${w.name} is an initializer (a constant); declare a trained tensor as a graph input`);
    shapeOf(g, w);
  }

  // Forward sweep: values that depend on some w (only floating-point values carry gradients).
  const active = new Set(wrt.map((w) => w.name));
  for (const n of tape) {
    if (n.inputs.some((v) => v !== undefined && active.has(v.name))) {
      for (const o of n.outputs) if (FLOAT_TYPES.has(o.dtype)) active.add(o.name);
    }
  }

  return g.scope('grad', () => {
    /** Gradient contributions per value name, summed once every consumer has contributed. */
    const parts = new Map<string, Value[]>();
    const totals = new Map<string, Value>();
    /** The summed gradient of the value called `name`, or undefined where none reached it. */
    const total = (name: string): Value | undefined => {
      const done = totals.get(name);
      if (done) return done;
      const list = parts.get(name);
      if (!list) return undefined;
      const sum = list.length === 1 ? list[0]! : list.length === 2 ? g.add(list[0]!, list[1]!) : g.op('Sum', list);
      totals.set(name, sum);
      return sum;
    };
    const contribute = (v: Value, d: Value, from: RecordedNode) => {
      const want = shapeOf(g, v);
      const got = d.shape ?? g.shapeOf(d);
      if (!got || !sameShape(got, want) || d.dtype !== v.dtype) {
        throw new Error(
          `autodiff: the ${from.opType} rule gave ${v.name} a gradient of ${d.dtype} [${got?.join(', ') ?? '?'}], expected ${v.dtype} [${want.join(', ')}]`,
        );
      }
      if (totals.has(v.name)) throw new Error(`autodiff: ${v.name} received a gradient after it was summed (tape out of order)`);
      const list = parts.get(v.name);
      if (list) list.push(d);
      else parts.set(v.name, [d]);
    };

    const seed = options.seed ?? onesLike(g, loss, lossShape); // dL/dL: loss's shape
    const seedShape = seed.shape ?? g.shapeOf(seed);
    if (!seedShape || !sameShape(seedShape, lossShape) || seed.dtype !== loss.dtype)
      throw new Error(`autodiff: the seed must be ${loss.dtype} [${lossShape.join(', ')}]`);
    parts.set(loss.name, [seed]);

    // Where each w is first read: its gradient is complete once the sweep has passed that node.
    const firstUse = new Map<string, number>();
    tape.forEach((n, i) => {
      for (const v of n.inputs) if (v && !firstUse.has(v.name)) firstUse.set(v.name, i);
    });
    const pending = new Set(wrt.map((w) => w.name));
    /** The gradients of the w complete before tape index i that no recomputed range has waited for yet. */
    const completed = (i: number): Value[] => {
      const done: Value[] = [];
      for (const name of pending) {
        if ((firstUse.get(name) ?? -1) <= i) continue;
        pending.delete(name);
        const t = total(name);
        if (t) done.push(t);
      }
      return done;
    };
    const recompute = recomputation(g, tape, options.recompute ?? [], completed);
    // Reverse sweep: every consumer of a value comes after it on the tape, so by the time its
    // producer is reached, its gradient is complete.
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i]!;
      const needs = node.inputs.map((v) => v !== undefined && active.has(v.name));
      if (!needs.some(Boolean)) continue;
      const dys = node.outputs.map((o) => (active.has(o.name) ? total(o.name) : undefined));
      if (dys.every((d) => d === undefined)) continue;
      const rule = BACKWARD[node.opType];
      if (rule === undefined || node.domain !== '')
        throw new Error(`autodiff: no backward rule for ${node.domain ? `${node.domain}.` : ''}${node.opType} (making ${node.outputs[0]?.name})`);
      if (rule === NO_GRADIENT) continue;
      // In a recomputed range, the rule reads the recomputed values (made now, after this gradient).
      const dxs = rule({ g, node: recompute(i, dys.find((d) => d !== undefined)!), dys, needs });
      node.inputs.forEach((v, k) => {
        const d = dxs[k];
        if (v && needs[k] && d) contribute(v, d, node);
      });
    }
    return wrt.map((w) => total(w.name) ?? zeros(g, w.dtype, shapeOf(g, w)));
  });
}

function onesLike(g: GraphBuilder, v: Value, shape: readonly number[]): Value {
  const one = g.scalar(v.dtype, 1);
  return shape.length === 0 ? one : g.op('Expand', [one, g.i64(...shape)]);
}

/**
 * Activation checkpointing over ranges of the tape. The first time the reverse sweep reaches a node
 * of a range, the whole range is built again (same ops, same attributes) on the same inputs, and the
 * range's backward rules read the new values: the forward pass's own values inside the range are then
 * read by nothing after the forward pass, and onnxruntime frees them as it goes.
 *
 * The copy must neither run early nor be merged with the original, so every node of the copy that
 * reads no other copied value (the range's first ops, the dequantization of frozen weights) reads one
 * input through `after(…, gradient, …)`: the gradient reaching the range, complete by then (and the
 * trained tensors' gradients completed above the range, so that they are computed before). Everything
 * else in the copy descends from those. Nodes with constant inputs only are not copied. The copy
 * computes the forward pass's values (to float32 rounding, where onnxruntime fuses its ops a little
 * differently), so the gradients are those without checkpointing.
 *
 * Returns, for a tape index, the node whose values its rule should read.
 */
function recomputation(
  g: GraphBuilder,
  tape: readonly RecordedNode[],
  ranges: readonly (readonly [number, number])[],
  completed: (index: number) => Value[],
): (index: number, gradient: Value) => RecordedNode {
  const rangeOf = new Map<number, number>();
  ranges.forEach(([start, end], r) => {
    for (let i = start; i < end; i++) rangeOf.set(i, r);
  });
  const copies = new Map<number, Map<string, Value>>();
  const build = (r: number, index: number, gradient: Value): Map<string, Value> => {
    const [start, end] = ranges[r]!;
    const made = new Map<string, Value>();
    // Also after the trained tensors' gradients the ranges above have completed: onnxruntime would
    // otherwise compute them last, keeping each one's inputs (a layer's activations) alive till then.
    const deps = [gradient, ...completed(index)];
    g.scope(`recompute_${r}`, () => {
      for (let i = start; i < end; i++) {
        const node = tape[i]!;
        const present = node.inputs.filter((v): v is Value => v !== undefined);
        if (present.every((v) => g.isInitializer(v))) continue;
        let inputs = node.inputs.map((v) => (v ? (made.get(v.name) ?? v) : undefined));
        if (!present.some((v) => made.has(v.name))) {
          // A root of the copy: its smallest non-constant input waits for the gradient.
          const size = (v: Value) => (g.shapeOf(v) ?? []).reduce((a, b) => a * b, 1);
          const k = node.inputs
            .map((v, j) => ({ v, j }))
            .filter((e): e is { v: Value; j: number } => e.v !== undefined && !g.isInitializer(e.v))
            .sort((a, b) => size(a.v) - size(b.v))[0]!.j;
          inputs = inputs.map((v, j) => (j === k ? after(g, v!, ...deps) : v));
        }
        const outs = g.node(
          node.opType,
          inputs,
          node.attrs,
          node.outputs.map((o) => o.dtype),
          node.domain,
        );
        node.outputs.forEach((o, k) => made.set(o.name, outs[k]!));
      }
    });
    return made;
  };
  return (index, gradient) => {
    const node = tape[index]!;
    const r = rangeOf.get(index);
    if (r === undefined) return node;
    let made = copies.get(r);
    if (!made) copies.set(r, (made = build(r, index, gradient)));
    const m = made;
    return {
      ...node,
      inputs: node.inputs.map((v) => (v ? (m.get(v.name) ?? v) : undefined)),
      outputs: node.outputs.map((o) => m.get(o.name) ?? o),
    };
  };
}
