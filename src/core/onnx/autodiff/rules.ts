import type { GraphBuilder, RecordedNode, Value } from '../builder';
import type { DType } from '../model';
import { attrFloat, attrInt, attrInts, normAxis, sameShape, sizeOf, sliceAxis } from '../shapes';

/**
 * Backward rules, one per op type: given dL/dy for a node's outputs, emit the nodes that compute
 * dL/dx for each input that needs it. Each rule is the backward half of its forward op, in the style
 * of llm.c (paired forward/backward, shapes spelled out). Rules run on static shapes: training graphs
 * are built with every input dim numeric (see GraphBuilderOptions.dims).
 *
 * Conventions: `dy` is dL/d(output 0) and has the output's shape; a rule returns one entry per node
 * input, `undefined` where the input needs no gradient (integer inputs, constants, values that do not
 * depend on a trained tensor). Broadcasting forward means summing backward (`sumTo`).
 */

export const FLOAT_TYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

export interface BackwardArgs {
  readonly g: GraphBuilder;
  /** The forward node: its inputs, outputs and attributes. */
  readonly node: RecordedNode;
  /** dL/d(output k), shaped as output k; `undefined` where no gradient reaches that output. */
  readonly dys: readonly (Value | undefined)[];
  /** Whether input k needs its gradient (it is floating-point and depends on a trained value). */
  readonly needs: readonly boolean[];
}

export type BackwardRule = (a: BackwardArgs) => readonly (Value | undefined)[];

/** An op through which no gradient flows (comparisons, shape arithmetic, piecewise constant ops). */
export const NO_GRADIENT = 'no gradient';

// ---- helpers ---------------------------------------------------------------------------------------

export function shapeOf(g: GraphBuilder, v: Value): readonly number[] {
  const s = v.shape ?? g.shapeOf(v);
  if (!s) throw new Error(`autodiff: ${v.name} has no static shape; build a training graph with every input dim numeric (GraphBuilderOptions.dims)`);
  return s;
}

/** Reshape that treats 0 as a real size (allowzero), for gradients of empty tensors. */
export function reshapeTo(g: GraphBuilder, x: Value, shape: readonly number[]): Value {
  if (sameShape(shapeOf(g, x), shape)) return x;
  return g.op('Reshape', [x, g.i64(...shape)], shape.includes(0) ? { allowzero: 1 } : {});
}

/**
 * Undo numpy broadcasting: sum `dy` over the axes along which a tensor of shape `to` was broadcast
 * (leading axes it lacks, and its size-1 axes), then drop the leading axes.
 */
export function sumTo(g: GraphBuilder, dy: Value, to: readonly number[]): Value {
  const from = shapeOf(g, dy);
  if (sameShape(from, to)) return dy;
  const lead = from.length - to.length;
  if (lead < 0) throw new Error(`autodiff: cannot sum [${from.join(', ')}] down to [${to.join(', ')}]`);
  const axes: number[] = [];
  from.forEach((d, i) => {
    const t = i < lead ? undefined : to[i - lead];
    if (t === undefined || (t === 1 && d !== 1)) axes.push(i);
    else if (t !== d) throw new Error(`autodiff: cannot sum [${from.join(', ')}] down to [${to.join(', ')}]`);
  });
  const summed = axes.length ? g.op('ReduceSum', [dy, g.i64(...axes)], { keepdims: 1 }) : dy; // [from with 1 on axes]
  return reshapeTo(g, summed, to);
}

/** A zero tensor of the given shape (a broadcast scalar: no data in the model). */
export function zeros(g: GraphBuilder, dtype: DType, shape: readonly number[]): Value {
  const zero = g.scalar(dtype, 0);
  return shape.length === 0 ? zero : g.op('Expand', [zero, g.i64(...shape)]);
}

function dyOf(a: BackwardArgs): Value {
  const dy = a.dys[0];
  if (!dy) throw new Error(`autodiff: ${a.node.opType} called without an output gradient`);
  return dy;
}

function inputOf(a: BackwardArgs, i: number): Value {
  const v = a.node.inputs[i];
  if (!v) throw new Error(`autodiff: ${a.node.opType} is missing input ${i}`);
  return v;
}

function constValues(a: BackwardArgs, i: number, what: string): readonly number[] {
  const v = a.node.inputs[i];
  const values = v ? a.g.valuesOf(v) : undefined;
  if (!values) throw new Error(`autodiff: ${a.node.opType} needs its ${what} known at build time (a constant)`);
  return values;
}

/** The axes a Reduce* node reduced: input 1 (opset 18), else the `axes` attribute, else all. */
function reducedAxes(a: BackwardArgs, rank: number): number[] | 'none' {
  const axesInput = a.node.inputs[1];
  const axes = axesInput ? constValues(a, 1, 'axes') : attrInts(a.node.attrs, 'axes');
  if (!axes || axes.length === 0) return attrInt(a.node.attrs, 'noop_with_empty_axes', 0) === 1 ? 'none' : Array.from({ length: rank }, (_, i) => i);
  return axes.map((x) => normAxis(x, rank));
}

/** Transpose of the last two axes. */
function swapLast(g: GraphBuilder, x: Value): Value {
  const r = shapeOf(g, x).length;
  return g.transpose(
    x,
    Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)),
  ); // [..., N, M]
}

const when = <T>(need: boolean | undefined, f: () => T): T | undefined => (need ? f() : undefined);

// ---- rules -----------------------------------------------------------------------------------------

/** Ops whose gradient is `dy` reshaped to the input's shape. */
const reshapeBack: BackwardRule = (a) => [reshapeTo(a.g, dyOf(a), shapeOf(a.g, inputOf(a, 0)))];

/** dy·f'(x) for unary elementwise ops, with f' given in terms of x and y. */
const unary =
  (derivative: (g: GraphBuilder, dy: Value, x: Value, y: Value) => Value): BackwardRule =>
  (a) => [derivative(a.g, dyOf(a), inputOf(a, 0), a.node.outputs[0]!)];

const reductions =
  (mean: boolean): BackwardRule =>
  (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [x with the reduced axes dropped, or kept as 1]
    const x = inputOf(a, 0);
    const sx = shapeOf(g, x); // x: [..., N, ...]
    const axes = reducedAxes(a, sx.length);
    if (axes === 'none') return [dy];
    const kept = sx.map((d, i) => (axes.includes(i) ? 1 : d)); // [..., 1, ...]
    let d = reshapeTo(g, dy, kept);
    // mean: each input element contributed 1/N of the output
    if (mean) d = g.mul(d, g.scalar(dy.dtype, 1 / sizeOf(axes.map((i) => sx[i]!))));
    return [sameShape(kept, sx) ? d : g.op('Expand', [d, g.i64(...sx)])]; // dx: [..., N, ...]
  };

export const BACKWARD: Readonly<Record<string, BackwardRule | typeof NO_GRADIENT>> = {
  // ---- elementwise arithmetic, numpy broadcasting --------------------------------------------------
  // y = a + b
  Add: (a) => {
    const dy = dyOf(a); // dy: broadcast(a, b)
    return [when(a.needs[0], () => sumTo(a.g, dy, shapeOf(a.g, inputOf(a, 0)))), when(a.needs[1], () => sumTo(a.g, dy, shapeOf(a.g, inputOf(a, 1))))];
  },
  // y = a − b
  Sub: (a) => {
    const dy = dyOf(a); // dy: broadcast(a, b)
    return [when(a.needs[0], () => sumTo(a.g, dy, shapeOf(a.g, inputOf(a, 0)))), when(a.needs[1], () => a.g.neg(sumTo(a.g, dy, shapeOf(a.g, inputOf(a, 1)))))];
  },
  // y = a·b: da = dy·b, db = dy·a
  Mul: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: broadcast(a, b)
    const [x, w] = [inputOf(a, 0), inputOf(a, 1)];
    return [when(a.needs[0], () => sumTo(g, g.mul(dy, w), shapeOf(g, x))), when(a.needs[1], () => sumTo(g, g.mul(dy, x), shapeOf(g, w)))];
  },
  // y = a / b: da = dy / b, db = −dy·a/b² = −dy·y/b
  Div: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: broadcast(a, b)
    const [x, w, y] = [inputOf(a, 0), inputOf(a, 1), a.node.outputs[0]!];
    return [when(a.needs[0], () => sumTo(g, g.div(dy, w), shapeOf(g, x))), when(a.needs[1], () => g.neg(sumTo(g, g.div(g.mul(dy, y), w), shapeOf(g, w))))];
  },
  // y = Σ inputs
  Sum: (a) => a.node.inputs.map((v, i) => when(a.needs[i], () => sumTo(a.g, dyOf(a), shapeOf(a.g, v!)))),
  // y = x^p: dx = dy·p·x^(p−1) (p a constant in the forward graphs: RMSNorm's square); dp = dy·y·ln x
  Pow: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: broadcast(x, p)
    const [x, p, y] = [inputOf(a, 0), inputOf(a, 1), a.node.outputs[0]!];
    const dx = when(a.needs[0], () => {
      const pv = g.valuesOf(p);
      let local: Value; // p·x^(p−1): [broadcast(x, p)]
      if (pv && pv.length === 1) {
        const c = pv[0]!;
        if (c === 1) local = g.scalar(x.dtype, 1);
        else if (c === 2)
          local = g.mul(x, g.scalar(x.dtype, 2)); // x² → 2x, without a Pow
        else local = g.mul(g.op('Pow', [x, g.scalar(x.dtype, c - 1)]), g.scalar(x.dtype, c));
      } else {
        const pc = p.dtype === x.dtype ? p : g.cast(p, x.dtype);
        local = g.mul(g.op('Pow', [x, g.sub(pc, g.scalar(x.dtype, 1))]), pc);
      }
      return sumTo(g, g.mul(dy, local), shapeOf(g, x));
    });
    const dp = when(a.needs[1], () => sumTo(g, g.mul(g.mul(dy, y), g.op('Log', [x])), shapeOf(g, p)));
    return [dx, dp];
  },
  // y = cond ? a : b: the gradient goes to the branch that was selected; the condition has none
  Where: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: broadcast(cond, a, b)
    const cond = inputOf(a, 0);
    const zero = g.scalar(dy.dtype, 0);
    return [
      undefined,
      when(a.needs[1], () => sumTo(g, g.where(cond, dy, zero), shapeOf(g, inputOf(a, 1)))),
      when(a.needs[2], () => sumTo(g, g.where(cond, zero, dy), shapeOf(g, inputOf(a, 2)))),
    ];
  },

  // ---- elementwise, one input ----------------------------------------------------------------------
  Identity: (a) => [dyOf(a)],
  Neg: (a) => [a.g.neg(dyOf(a))],
  // y = √x: dx = dy / (2y)
  Sqrt: unary((g, dy, _x, y) => g.div(g.mul(dy, g.scalar(dy.dtype, 0.5)), y)),
  // y = 1/x: dx = −dy·y²
  Reciprocal: unary((g, dy, _x, y) => g.neg(g.mul(dy, g.mul(y, y)))),
  // y = eˣ: dx = dy·y
  Exp: unary((g, dy, _x, y) => g.mul(dy, y)),
  // y = ln x: dx = dy / x
  Log: unary((g, dy, x) => g.div(dy, x)),
  // y = tanh x: dx = dy·(1 − y²)
  Tanh: unary((g, dy, _x, y) => g.mul(dy, g.sub(g.scalar(dy.dtype, 1), g.mul(y, y)))),
  // y = σ(x): dx = dy·y·(1 − y)
  Sigmoid: unary((g, dy, _x, y) => g.mul(g.mul(dy, y), g.sub(g.scalar(dy.dtype, 1), y))),
  // y = max(x, 0): dx = dy where x > 0 (0 at the kink, as PyTorch)
  Relu: unary((g, dy, _x, y) => g.where(g.greater(y, g.scalar(y.dtype, 0)), dy, g.scalar(dy.dtype, 0))),
  // y = erf x: dx = dy·(2/√π)·e^(−x²)
  Erf: unary((g, dy, x) => g.mul(dy, g.mul(g.op('Exp', [g.neg(g.mul(x, x))]), g.scalar(dy.dtype, 2 / Math.sqrt(Math.PI))))),
  // y = cos x: dx = −dy·sin x
  Cos: unary((g, dy, x) => g.neg(g.mul(dy, g.sin(x)))),
  // y = sin x: dx = dy·cos x
  Sin: unary((g, dy, x) => g.mul(dy, g.cos(x))),
  // float → float: the gradient is cast back (integer casts never carry gradients: see FLOAT_TYPES)
  Cast: unary((g, dy, x) => g.cast(dy, x.dtype)),

  // ---- softmax -------------------------------------------------------------------------------------
  // y = softmax(x) along axis: dx = y·(dy − Σ dy·y)
  Softmax: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [..., N, ...]
    const y = a.node.outputs[0]!; // y: [..., N, ...]
    const axis = normAxis(attrInt(a.node.attrs, 'axis', -1), shapeOf(g, y).length);
    const dot = g.op('ReduceSum', [g.mul(dy, y), g.i64(axis)], { keepdims: 1 }); // [..., 1, ...]
    return [g.mul(y, g.sub(dy, dot))];
  },
  // y = x − log Σ eˣ along axis: dx = dy − softmax(x)·Σ dy, with softmax(x) = e^y
  LogSoftmax: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [..., N, ...]
    const y = a.node.outputs[0]!;
    const axis = normAxis(attrInt(a.node.attrs, 'axis', -1), shapeOf(g, y).length);
    const total = g.op('ReduceSum', [dy, g.i64(axis)], { keepdims: 1 }); // [..., 1, ...]
    return [g.sub(dy, g.mul(g.op('Exp', [y]), total))];
  },

  // ---- reductions ----------------------------------------------------------------------------------
  ReduceSum: reductions(false),
  ReduceMean: reductions(true),

  // ---- matrix products -----------------------------------------------------------------------------
  // y [..., M, N] = a [..., M, K] · b [..., K, N]: da = dy·bᵀ, db = aᵀ·dy, summed over broadcast batch axes
  MatMul: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [..., M, N]
    const [x, w] = [inputOf(a, 0), inputOf(a, 1)];
    const [sx, sw] = [shapeOf(g, x), shapeOf(g, w)]; // x: [..., M, K], w: [..., K, N]
    if (sx.length < 2 || sw.length < 2) throw new Error('autodiff: MatMul with a 1-D operand has no backward rule');
    if (sw.length === 2) {
      // A 2-D weight shared by every batch row (a projection): fold the leading axes into rows so
      // that each gradient is one GEMM, and the weight's gradient needs no reduction afterwards.
      const [K, N] = [sw[0]!, sw[1]!];
      const rows = sizeOf(sx) / K;
      const dy2 = reshapeTo(g, dy, [rows, N]); // [R, N], R = (...)·M
      return [
        when(a.needs[0], () => reshapeTo(g, g.op('Gemm', [dy2, w], { transB: 1 }), sx)), // [R, K] → [..., M, K]
        when(a.needs[1], () => g.op('Gemm', [reshapeTo(g, x, [rows, K]), dy2], { transA: 1 })), // [K, N]
      ];
    }
    return [
      when(a.needs[0], () => sumTo(g, g.matmul(dy, swapLast(g, w)), sx)), // [..., M, K]
      when(a.needs[1], () => sumTo(g, g.matmul(swapLast(g, x), dy), sw)), // [..., K, N]
    ];
  },
  // y [M, N] = α·A'·B' + β·C, with A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B (lm head: A·Eᵀ)
  Gemm: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [M, N]
    const [A, B] = [inputOf(a, 0), inputOf(a, 1)];
    const tA = attrInt(a.node.attrs, 'transA', 0) === 1;
    const tB = attrInt(a.node.attrs, 'transB', 0) === 1;
    const alpha = attrFloat(a.node.attrs, 'alpha', 1);
    const beta = attrFloat(a.node.attrs, 'beta', 1);
    const scaled = (attrs: Record<string, number>) => (alpha === 1 ? attrs : { ...attrs, alpha: { float: alpha } });
    const gemm = (p: Value, q: Value, ta: boolean, tb: boolean) => g.op('Gemm', [p, q], scaled({ ...(ta ? { transA: 1 } : {}), ...(tb ? { transB: 1 } : {}) }));
    // dA' = dy·B'ᵀ and dB' = A'ᵀ·dy, transposed back where A or B was transposed
    const dA = when(a.needs[0], () => (tA ? gemm(B, dy, tB, true) : gemm(dy, B, false, !tB))); // A: [M, K] or [K, M]
    const dB = when(a.needs[1], () => (tB ? gemm(dy, A, true, tA) : gemm(A, dy, !tA, false))); // B: [K, N] or [N, K]
    const dC = when(a.needs[2], () => {
      const s = sumTo(g, dy, shapeOf(g, inputOf(a, 2)));
      return beta === 1 ? s : g.mul(s, g.scalar(dy.dtype, beta));
    });
    return [dA, dB, dC];
  },

  // ---- layout --------------------------------------------------------------------------------------
  Reshape: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Flatten: reshapeBack,
  // y = transpose(x, perm): dx = transpose(dy, perm⁻¹)
  Transpose: (a) => {
    const dy = dyOf(a);
    const r = shapeOf(a.g, dy).length;
    const perm = attrInts(a.node.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inverse = new Array<number>(r);
    perm.forEach((p, i) => (inverse[p] = i));
    return [a.g.transpose(dy, inverse)];
  },
  // y = expand(x, shape): broadcasting, so dx sums over the expanded axes
  Expand: (a) => [sumTo(a.g, dyOf(a), shapeOf(a.g, inputOf(a, 0)))],
  // pieces = split(x): dx = concat(dpieces), zeros for pieces no gradient reached
  Split: (a) => {
    const { g } = a;
    const x = inputOf(a, 0);
    const axis = normAxis(attrInt(a.node.attrs, 'axis', 0), shapeOf(g, x).length);
    const pieces = a.node.outputs.map((o, k) => a.dys[k] ?? zeros(g, o.dtype, shapeOf(g, o))); // each [..., n_k, ...]
    return [g.concat(pieces, axis)]; // [..., Σ n_k, ...]
  },
  // y = concat(xs): each dx is its slice of dy
  Concat: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: [..., Σ n_k, ...]
    const axis = normAxis(attrInt(a.node.attrs, 'axis', 0), shapeOf(g, dy).length);
    let offset = 0;
    return a.node.inputs.map((v, k) => {
      const n = shapeOf(g, v!)[axis]!;
      const start = offset;
      offset += n;
      return when(a.needs[k], () => g.slice(dy, [start], [start + n], [axis])); // [..., n_k, ...]
    });
  },
  // y = x[starts:ends] (step 1): dx = dy padded with zeros back to x's shape
  Slice: (a) => {
    const { g } = a;
    const dy = dyOf(a);
    const sx = shapeOf(g, inputOf(a, 0));
    const starts = constValues(a, 1, 'starts');
    const ends = constValues(a, 2, 'ends');
    const axes = a.node.inputs[3] ? constValues(a, 3, 'axes') : starts.map((_, i) => i);
    const steps = a.node.inputs[4] ? constValues(a, 4, 'steps') : starts.map(() => 1);
    const before = sx.map(() => 0);
    const after = sx.map(() => 0);
    axes.forEach((ax, k) => {
      if (steps[k] !== 1) throw new Error('autodiff: Slice with a step other than 1 has no backward rule');
      const i = normAxis(ax, sx.length);
      const r = sliceAxis(sx[i]!, starts[k]!, ends[k]!, 1);
      before[i] = r.start;
      after[i] = sx[i]! - r.start - r.count;
    });
    if ([...before, ...after].every((p) => p === 0)) return [dy];
    return [g.op('Pad', [dy, g.i64(...before, ...after)])]; // zeros around: x's shape
  },

  // ---- indexing ------------------------------------------------------------------------------------
  // y = data[indices] along axis (embedding lookup: E [V, H] at ids [B, S] → [B, S, H]).
  // dE = zeros with each dy row added at its index: ScatterND with reduction 'add', so repeated
  // ids accumulate; onnxruntime's CPU provider runs it for float32 and float64. Chosen over a
  // one-hot MatMul, which builds a [B·S, V] matrix and costs B·S·V·H multiply-adds (V = 50k and
  // more), and over ScatterElements, which needs the indices expanded to dy's shape. The cost:
  // onnxruntime constant-folds the [V, H] zeros into an initializer (the size of E, held by the
  // session) and copies it each run, which is cheaper than the one-hot product.
  Gather: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: D[:axis] ++ I ++ D[axis+1:]
    const [data, indices] = [inputOf(a, 0), inputOf(a, 1)];
    const sd = shapeOf(g, data); // data: D
    const si = shapeOf(g, indices); // indices: I
    const axis = normAxis(attrInt(a.node.attrs, 'axis', 0), sd.length);
    const n = sizeOf(si);
    const idx = reshapeTo(g, indices, [n, 1]); // [N, 1]
    const rest = [...sd.slice(0, axis), ...sd.slice(axis + 1)]; // D without the gathered axis
    let rows = dy;
    if (axis > 0) {
      // bring the index axes to the front: [I..., D[:axis]..., D[axis+1:]...]
      const q = si.length;
      const r = sd.length - 1 + q;
      const perm = [
        ...Array.from({ length: q }, (_, i) => axis + i),
        ...Array.from({ length: axis }, (_, i) => i),
        ...Array.from({ length: r - axis - q }, (_, i) => axis + q + i),
      ];
      rows = g.transpose(dy, perm);
    }
    const updates = reshapeTo(g, rows, [n, ...rest]); // [N, ...rest]
    const scattered = g.op('ScatterND', [zeros(g, data.dtype, [sd[axis]!, ...rest]), idx, updates], { reduction: 'add' }); // [D[axis], ...rest]
    if (axis === 0) return [scattered, undefined];
    // move the gathered axis back into place
    const back = [...Array.from({ length: axis }, (_, i) => i + 1), 0, ...Array.from({ length: sd.length - axis - 1 }, (_, i) => axis + 1 + i)];
    return [g.transpose(scattered, back), undefined];
  },
  // y[i][j] = x[i][idx[i][j]] along axis (the loss picking each target's log-probability):
  // dx = zeros with dy added at the picked positions.
  GatherElements: (a) => {
    const { g } = a;
    const dy = dyOf(a); // dy: shape of indices, [B, S, 1] for the loss
    const [data, indices] = [inputOf(a, 0), inputOf(a, 1)];
    const sd = shapeOf(g, data); // data: [B, S, V] for the loss
    const axis = normAxis(attrInt(a.node.attrs, 'axis', 0), sd.length);
    if (shapeOf(g, indices)[axis] === 1 && indices.dtype === 'int64') {
      // One index per row (the loss): dx = where(iota == idx, dy, 0), broadcast along the axis.
      // Not ScatterElements into zeros: onnxruntime constant-folds the zeros into a B·S·V
      // initializer (hundreds of MB for a real vocabulary) and copies it on every run. Indices
      // must be non-negative here (targets are).
      const iota = g.reshape(
        g.range(g.scalarI(0), g.scalarI(sd[axis]!), g.scalarI(1)),
        sd.map((d, i) => (i === axis ? d : 1)),
      ); // [1, 1, V]
      const picked = g.equal(iota, indices); // [B, S, V] bool
      return [g.where(picked, dy, g.scalar(dy.dtype, 0)), undefined]; // [B, S, V]
    }
    // General case: ScatterElements with reduction 'add', so repeated indices accumulate.
    return [g.op('ScatterElements', [zeros(g, data.dtype, sd), indices, dy], { axis, reduction: 'add' }), undefined]; // data's shape
  },

  // ---- normalization -------------------------------------------------------------------------------
  // y = (x − μ)·rstd·scale + bias over the axes from `axis` on, rstd = 1/√(var + eps).
  // The forward node keeps onnxruntime's fused kernel for the forward pass; the backward pass
  // recomputes μ and rstd (one extra pass over x) instead of changing the forward node's outputs.
  //   dx̂ = dy·scale;  dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂));  dscale = Σ dy·x̂;  dbias = Σ dy
  LayerNormalization: (a) => {
    const { g } = a;
    if (a.dys[1] || a.dys[2]) throw new Error('autodiff: LayerNormalization Mean/InvStdDev outputs have no backward rule');
    const dy = dyOf(a); // dy: [..., N]
    const [x, scale] = [inputOf(a, 0), inputOf(a, 1)];
    const sx = shapeOf(g, x);
    const axis = normAxis(attrInt(a.node.attrs, 'axis', -1), sx.length);
    const axes = Array.from({ length: sx.length - axis }, (_, i) => axis + i);
    const eps = attrFloat(a.node.attrs, 'epsilon', 1e-5);
    const mean = (v: Value) => g.reduceMean(v, axes); // [..., 1]
    const xc = g.sub(x, mean(x)); // [..., N]
    const rstd = g.reciprocal(g.sqrt(g.add(mean(g.mul(xc, xc)), g.scalar(x.dtype, eps)))); // [..., 1]
    const xhat = g.mul(xc, rstd); // [..., N]
    const dx = when(a.needs[0], () => {
      const dxhat = g.mul(dy, scale); // [..., N]
      return g.mul(g.sub(g.sub(dxhat, mean(dxhat)), g.mul(xhat, mean(g.mul(dxhat, xhat)))), rstd); // [..., N]
    });
    const dscale = when(a.needs[1], () => sumTo(g, g.mul(dy, xhat), shapeOf(g, scale))); // scale's shape, [N]
    const dbias = when(a.needs[2], () => sumTo(g, dy, shapeOf(g, inputOf(a, 2)))); // bias's shape, [N]
    return [dx, dscale, dbias];
  },

  // ---- no gradient ---------------------------------------------------------------------------------
  Shape: NO_GRADIENT,
  Size: NO_GRADIENT,
  Range: NO_GRADIENT,
  Equal: NO_GRADIENT,
  Less: NO_GRADIENT,
  LessOrEqual: NO_GRADIENT,
  Greater: NO_GRADIENT,
  GreaterOrEqual: NO_GRADIENT,
  And: NO_GRADIENT,
  Or: NO_GRADIENT,
  Not: NO_GRADIENT,
  Xor: NO_GRADIENT,
  Constant: NO_GRADIENT,
  ConstantOfShape: NO_GRADIENT,
  ArgMax: NO_GRADIENT,
  ArgMin: NO_GRADIENT,
  // piecewise constant: the derivative is 0 wherever it exists
  Sign: NO_GRADIENT,
  Floor: NO_GRADIENT,
  Ceil: NO_GRADIENT,
  Round: NO_GRADIENT,
};
