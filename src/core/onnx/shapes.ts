import type { DType, TensorDef } from './model';

/**
 * Static shape inference for the builder's ops, one rule per op type.
 *
 * Inference graphs have symbolic dims (batch_size, sequence_length), so most of their values have no
 * static shape and nothing here applies; that is fine, they never need one. Training graphs are built
 * with every input dim numeric, and the backward rules need each value's shape to undo broadcasting,
 * to build zero tensors and to reshape gradients back. Small integer tensors (constants, Shape of a
 * static value, and arithmetic on them) also carry their values, so that Reshape targets with 0/−1,
 * Split sizes, Slice bounds, Unsqueeze axes and Range bounds resolve.
 *
 * A rule returns {} for what it cannot know; it throws only when the known shapes contradict each
 * other, which is a bug in the graph code worth hearing about at build time rather than at run time.
 */

/** An attribute as the builder takes it (see `GraphBuilder.node`). */
export type Attr = number | string | readonly number[] | { readonly floats: readonly number[] } | { readonly float: number } | TensorDef;
export type Attrs = Readonly<Record<string, Attr>>;

/** What is known about a value at build time. */
export interface Known {
  readonly shape?: readonly number[] | undefined;
  /** Elements, row-major, for small tensors whose contents are known (constants, shape arithmetic). */
  readonly values?: readonly number[];
}

/** Tensors of at most this many elements carry their values through shape arithmetic. */
const MAX_VALUES = 64;

export function attrInt(attrs: Attrs, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (typeof a !== 'number') throw new Error(`attribute ${name} is not an int`);
  return a;
}

export function attrInts(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (!Array.isArray(a)) throw new Error(`attribute ${name} is not a list of ints`);
  return a as readonly number[];
}

export function attrFloat(attrs: Attrs, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (typeof a === 'object' && 'float' in a) return a.float;
  if (typeof a === 'number') return a;
  throw new Error(`attribute ${name} is not a float`);
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An axis in [−rank, rank) as an index in [0, rank). */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** numpy broadcasting of several shapes. */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    s.forEach((d, i) => {
      const o = out[off + i]!;
      if (d === o || d === 1) return;
      if (o === 1) out[off + i] = d;
      else throw new Error(`shapes [${shapes.map((x) => x.join(', ')).join('], [')}] do not broadcast`);
    });
  }
  return out;
}

/**
 * One axis of ONNX Slice: the first index and the count taken from a dim of size `dim`, with ONNX's
 * clamping (negative bounds count from the end; out-of-range bounds are clamped).
 */
export function sliceAxis(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  if (step === 0) throw new Error('Slice step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

interface Ctx {
  readonly inputs: readonly (Known | undefined)[];
  readonly attrs: Attrs;
  readonly outDtypes: readonly DType[];
}

type ShapeRule = (c: Ctx) => readonly Known[];

const shapeAt = (c: Ctx, i: number): readonly number[] | undefined => c.inputs[i]?.shape;
const valuesAt = (c: Ctx, i: number): readonly number[] | undefined => c.inputs[i]?.values;
const small = (shape: readonly number[]): boolean => sizeOf(shape) <= MAX_VALUES;
const known = (shape: readonly number[] | undefined, values?: readonly number[]): Known =>
  shape === undefined ? {} : values !== undefined && small(shape) ? { shape, values } : { shape };

/** Row-major strides. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Elementwise `f` over broadcast inputs whose values are all known. */
function elementwiseValues(
  shapes: readonly (readonly number[])[],
  values: readonly (readonly number[])[],
  out: readonly number[],
  f: (xs: number[]) => number,
): number[] {
  const n = sizeOf(out);
  const outStrides = strides(out);
  const inStrides = shapes.map((s) => {
    const st = strides(s);
    // a broadcast axis (size 1, or missing on the left) contributes nothing to the index
    return out.map((_, i) => {
      const j = i - (out.length - s.length);
      return j < 0 || s[j] === 1 ? 0 : st[j]!;
    });
  });
  const result = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    const xs = values.map((v, t) => {
      let idx = 0;
      let rem = k;
      for (let i = 0; i < out.length; i++) {
        const q = Math.floor(rem / outStrides[i]!);
        rem -= q * outStrides[i]!;
        idx += q * inStrides[t]![i]!;
      }
      return v[idx]!;
    });
    result[k] = f(xs);
  }
  return result;
}

/** Broadcasting n-ary op; `f` computes values when every input's values are known (integer arithmetic). */
function broadcasting(f?: (xs: number[]) => number): ShapeRule {
  return (c) => {
    const shapes = c.inputs.map((k) => k?.shape);
    if (shapes.some((s) => s === undefined)) return c.outDtypes.map(() => ({}));
    const ss = shapes as (readonly number[])[];
    const out = broadcastShapes(ss);
    const vals = c.inputs.map((k) => k?.values);
    const isInt = c.outDtypes[0] === 'int64' || c.outDtypes[0] === 'int32';
    if (f && isInt && small(out) && vals.every((v) => v !== undefined)) return [known(out, elementwiseValues(ss, vals as number[][], out, f))];
    return [known(out)];
  };
}

/** Every output has the first input's shape (unary elementwise ops, normalizations' main output). */
const sameAsInput: ShapeRule = (c) => c.outDtypes.map(() => known(shapeAt(c, 0)));

/** Reductions: axes from input 1 (opset 18) or the `axes` attribute; none means all, unless noop_with_empty_axes. */
const reduce: ShapeRule = (c) => {
  const s = shapeAt(c, 0);
  if (!s) return [{}];
  const keep = attrInt(c.attrs, 'keepdims', 1) === 1;
  let axes = c.inputs.length > 1 && c.inputs[1] ? valuesAt(c, 1) : attrInts(c.attrs, 'axes');
  if (c.inputs.length > 1 && c.inputs[1] && axes === undefined) return [{}];
  if (!axes || axes.length === 0) {
    if (attrInt(c.attrs, 'noop_with_empty_axes', 0) === 1) return [known(s)];
    axes = s.map((_, i) => i);
  }
  const set = new Set(axes.map((a) => normAxis(a, s.length)));
  const out: number[] = [];
  s.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return [known(out)];
};

function matmulShape(a: readonly number[], b: readonly number[]): number[] {
  // 1-D operands are promoted (a: prepend 1, b: append 1) and the added axis removed afterwards.
  const A = a.length === 1 ? [1, a[0]!] : a;
  const B = b.length === 1 ? [b[0]!, 1] : b;
  const [M, K] = [A[A.length - 2]!, A[A.length - 1]!];
  const [K2, N] = [B[B.length - 2]!, B[B.length - 1]!];
  if (K !== K2) throw new Error(`MatMul of [${a.join(', ')}] and [${b.join(', ')}]: inner dims differ`);
  const batch = broadcastShapes([A.slice(0, -2), B.slice(0, -2)]);
  const out = [...batch, M, N];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.splice(out.length - 1, 1);
  return out;
}

const RULES: Readonly<Record<string, ShapeRule>> = {
  // ---- elementwise, broadcasting
  Add: broadcasting(([a, b]) => a! + b!),
  Sub: broadcasting(([a, b]) => a! - b!),
  Mul: broadcasting(([a, b]) => a! * b!),
  Div: broadcasting(([a, b]) => Math.trunc(a! / b!)),
  Pow: broadcasting(),
  Sum: broadcasting((xs) => xs.reduce((p, q) => p + q, 0)),
  Max: broadcasting((xs) => Math.max(...xs)),
  Min: broadcasting((xs) => Math.min(...xs)),
  Mean: broadcasting(),
  Where: broadcasting(([c, a, b]) => (c ? a! : b!)),
  Equal: broadcasting(),
  Less: broadcasting(),
  LessOrEqual: broadcasting(),
  Greater: broadcasting(),
  GreaterOrEqual: broadcasting(),
  And: broadcasting(),
  Or: broadcasting(),
  Xor: broadcasting(),
  Mod: broadcasting(),
  PRelu: broadcasting(),

  // ---- elementwise, one input
  Neg: (c) => [
    known(
      shapeAt(c, 0),
      valuesAt(c, 0)?.map((v) => -v),
    ),
  ],
  Identity: (c) => [known(shapeAt(c, 0), valuesAt(c, 0))],
  Cast: (c) => {
    const to = c.outDtypes[0];
    const v = valuesAt(c, 0);
    return [known(shapeAt(c, 0), to === 'int64' || to === 'int32' ? v?.map(Math.trunc) : to === 'float64' ? v : undefined)];
  },
  // y = (x − zero point) · scale, shaped as x
  DequantizeLinear: (c) => [known(shapeAt(c, 0))],
  Sqrt: sameAsInput,
  Reciprocal: sameAsInput,
  Tanh: sameAsInput,
  Sigmoid: sameAsInput,
  Cos: sameAsInput,
  Sin: sameAsInput,
  Erf: sameAsInput,
  Relu: sameAsInput,
  Exp: sameAsInput,
  Log: sameAsInput,
  Abs: sameAsInput,
  Sign: sameAsInput,
  Not: sameAsInput,
  Floor: sameAsInput,
  Ceil: sameAsInput,
  Round: sameAsInput,
  IsNaN: sameAsInput,
  Softplus: sameAsInput,
  LeakyRelu: sameAsInput,
  Softmax: sameAsInput,
  LogSoftmax: sameAsInput,
  Trilu: sameAsInput,
  Dropout: sameAsInput,
  SimplifiedLayerNormalization: (c) => [known(shapeAt(c, 0))],
  LayerNormalization: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return c.outDtypes.map(() => ({}));
    // Mean and InvStdDev keep the leading axes and have 1 on the normalized ones.
    const axis = normAxis(attrInt(c.attrs, 'axis', -1), s.length);
    const stat = s.map((d, i) => (i < axis ? d : 1));
    return c.outDtypes.map((_, k) => known(k === 0 ? s : stat));
  },

  // ---- linear algebra
  MatMul: (c) => {
    const [a, b] = [shapeAt(c, 0), shapeAt(c, 1)];
    return [a && b ? known(matmulShape(a, b)) : {}];
  },
  Gemm: (c) => {
    const [a, b] = [shapeAt(c, 0), shapeAt(c, 1)];
    if (!a || !b) return [{}];
    const M = attrInt(c.attrs, 'transA', 0) ? a[1]! : a[0]!;
    const N = attrInt(c.attrs, 'transB', 0) ? b[0]! : b[1]!;
    return [known([M, N])];
  },

  // ---- layout
  Reshape: (c) => {
    const s = shapeAt(c, 0);
    const target = valuesAt(c, 1);
    if (!target) return [{}];
    const allowZero = attrInt(c.attrs, 'allowzero', 0) === 1;
    const out: number[] = [];
    let infer = -1;
    for (let i = 0; i < target.length; i++) {
      const t = target[i]!;
      if (t === 0 && !allowZero) {
        if (!s || i >= s.length) return [{}];
        out.push(s[i]!);
      } else if (t === -1) {
        infer = i;
        out.push(-1);
      } else out.push(t);
    }
    if (infer >= 0) {
      if (!s) return [{}];
      const rest = sizeOf(out.filter((_, i) => i !== infer));
      if (rest === 0 || sizeOf(s) % rest !== 0) throw new Error(`Reshape [${s.join(', ')}] to [${target.join(', ')}]: sizes do not divide`);
      out[infer] = sizeOf(s) / rest;
    }
    if (s && sizeOf(s) !== sizeOf(out)) throw new Error(`Reshape [${s.join(', ')}] to [${out.join(', ')}]: sizes differ`);
    return [known(out, valuesAt(c, 0))];
  },
  Flatten: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return [{}];
    const axis = attrInt(c.attrs, 'axis', 1);
    const a = axis < 0 ? axis + s.length : axis;
    return [known([sizeOf(s.slice(0, a)), sizeOf(s.slice(a))], valuesAt(c, 0))];
  },
  Transpose: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return [{}];
    const perm = attrInts(c.attrs, 'perm') ?? s.map((_, i) => s.length - 1 - i);
    return [known(perm.map((p) => s[p]!))];
  },
  Squeeze: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return [{}];
    const axes = c.inputs[1] ? valuesAt(c, 1) : attrInts(c.attrs, 'axes');
    if (c.inputs[1] && !axes) return [{}];
    const set = new Set((axes ?? s.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, s.length)));
    for (const a of set) if (s[a] !== 1) throw new Error(`Squeeze axis ${a} of [${s.join(', ')}] is not 1`);
    return [
      known(
        s.filter((_, i) => !set.has(i)),
        valuesAt(c, 0),
      ),
    ];
  },
  Unsqueeze: (c) => {
    const s = shapeAt(c, 0);
    const axes = c.inputs[1] ? valuesAt(c, 1) : attrInts(c.attrs, 'axes');
    if (!s || !axes) return [{}];
    const rank = s.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(a, rank)));
    const out: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : s[j++]!);
    return [known(out, valuesAt(c, 0))];
  },
  Concat: (c) => {
    const shapes = c.inputs.map((k) => k?.shape);
    if (shapes.some((s) => !s)) return [{}];
    const ss = shapes as (readonly number[])[];
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), ss[0]!.length);
    const out = [...ss[0]!];
    out[axis] = 0;
    for (const s of ss) {
      if (s.length !== out.length || s.some((d, i) => i !== axis && d !== out[i]))
        throw new Error(`Concat on axis ${axis} of [${ss.map((x) => x.join(', ')).join('], [')}]`);
      out[axis]! += s[axis]!;
    }
    const vals = c.inputs.map((k) => k?.values);
    // values only for 1-D concatenation (shape arithmetic)
    const v = out.length === 1 && vals.every((x) => x) ? (vals as number[][]).flat() : undefined;
    return [known(out, v)];
  },
  Split: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return c.outDtypes.map(() => ({}));
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), s.length);
    const n = c.outDtypes.length;
    let sizes = c.inputs[1] ? valuesAt(c, 1) : attrInts(c.attrs, 'split');
    if (c.inputs[1] && !sizes) return c.outDtypes.map(() => ({}));
    if (!sizes) {
      // equal pieces, the last one smaller (opset 18's num_outputs)
      const piece = Math.ceil(s[axis]! / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(piece, s[axis]! - i * piece)));
    }
    if (sizes.length !== n || sizes.reduce((a, b) => a + b, 0) !== s[axis])
      throw new Error(`Split of [${s.join(', ')}] on axis ${axis} into [${sizes.join(', ')}]`);
    return sizes.map((d) => known(s.map((x, i) => (i === axis ? d : x))));
  },
  Slice: (c) => {
    const s = shapeAt(c, 0);
    const [starts, ends] = [valuesAt(c, 1), valuesAt(c, 2)];
    if (!s || !starts || !ends) return [{}];
    const axes = c.inputs[3] ? valuesAt(c, 3) : s.map((_, i) => i).slice(0, starts.length);
    const steps = c.inputs[4] ? valuesAt(c, 4) : starts.map(() => 1);
    if (!axes || !steps) return [{}];
    const out = [...s];
    const ranges = s.map((d) => ({ start: 0, count: d, step: 1 }));
    axes.forEach((a, k) => {
      const ax = normAxis(a, s.length);
      const r = sliceAxis(s[ax]!, starts[k]!, ends[k]!, steps[k]!);
      out[ax] = r.count;
      ranges[ax] = { ...r, step: steps[k]! };
    });
    const v = valuesAt(c, 0);
    const sliced = v && s.length === 1 ? Array.from({ length: out[0]! }, (_, i) => v[ranges[0]!.start + i * ranges[0]!.step]!) : undefined;
    return [known(out, sliced)];
  },
  Expand: (c) => {
    const s = shapeAt(c, 0);
    const target = valuesAt(c, 1);
    if (!s || !target) return [{}];
    const out = broadcastShapes([s, target]);
    const v = valuesAt(c, 0);
    return [known(out, v && small(out) ? elementwiseValues([s], [v], out, ([x]) => x!) : undefined)];
  },
  Tile: (c) => {
    const s = shapeAt(c, 0);
    const reps = valuesAt(c, 1);
    return [s && reps ? known(s.map((d, i) => d * reps[i]!)) : {}];
  },
  Pad: (c) => {
    const s = shapeAt(c, 0);
    const pads = valuesAt(c, 1);
    if (!s || !pads) return [{}];
    const axes = c.inputs[3] ? valuesAt(c, 3) : s.map((_, i) => i);
    if (!axes) return [{}];
    const out = [...s];
    axes.forEach((a, k) => {
      const ax = normAxis(a, s.length);
      out[ax] = s[ax]! + pads[k]! + pads[k + axes.length]!;
    });
    return [known(out)];
  },

  // ---- indexing
  Gather: (c) => {
    const [d, i] = [shapeAt(c, 0), shapeAt(c, 1)];
    if (!d || !i) return [{}];
    const axis = normAxis(attrInt(c.attrs, 'axis', 0), d.length);
    const out = [...d.slice(0, axis), ...i, ...d.slice(axis + 1)];
    const [dv, iv] = [valuesAt(c, 0), valuesAt(c, 1)];
    const v = dv && iv && d.length === 1 ? iv.map((k) => dv[k < 0 ? k + d[0]! : k]!) : undefined;
    return [known(out, v)];
  },
  GatherElements: (c) => [known(shapeAt(c, 1))],
  ScatterND: (c) => [known(shapeAt(c, 0))],
  ScatterElements: (c) => [known(shapeAt(c, 0))],
  ArgMax: (c) => reduce({ ...c, inputs: [c.inputs[0]], attrs: { ...c.attrs, axes: [attrInt(c.attrs, 'axis', 0)] } }),
  ArgMin: (c) => reduce({ ...c, inputs: [c.inputs[0]], attrs: { ...c.attrs, axes: [attrInt(c.attrs, 'axis', 0)] } }),

  // ---- reductions
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  ReduceL2: reduce,
  ReduceSumSquare: reduce,
  ReduceLogSumExp: reduce,

  // ---- shape arithmetic
  Shape: (c) => {
    const s = shapeAt(c, 0);
    if (!s) return [{}];
    const r = s.length;
    const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
    const start = clamp(attrInt(c.attrs, 'start', 0));
    const end = clamp(attrInt(c.attrs, 'end', r));
    const v = s.slice(start, Math.max(start, end));
    return [known([v.length], v)];
  },
  Size: (c) => {
    const s = shapeAt(c, 0);
    return [s ? known([], [sizeOf(s)]) : known([])];
  },
  Range: (c) => {
    const [start, limit, delta] = [valuesAt(c, 0), valuesAt(c, 1), valuesAt(c, 2)];
    if (!start || !limit || !delta) return [{}];
    const n = Math.max(0, Math.ceil((limit[0]! - start[0]!) / delta[0]!));
    return [
      known(
        [n],
        Array.from({ length: n }, (_, i) => start[0]! + i * delta[0]!),
      ),
    ];
  },
  ConstantOfShape: (c) => {
    const v = valuesAt(c, 0);
    return [v ? known(v) : {}];
  },
};

/**
 * Shapes (and small values) of a node's outputs from what is known of its inputs. An op without a
 * rule gives unknown shapes: the inference graphs use ops freely, only training graphs need shapes.
 */
export function inferShapes(
  opType: string,
  domain: string,
  inputs: readonly (Known | undefined)[],
  attrs: Attrs,
  outDtypes: readonly DType[],
): readonly Known[] {
  const rule = domain === '' ? RULES[opType] : undefined;
  if (!rule) return outDtypes.map(() => ({}));
  try {
    const out = rule({ inputs, attrs, outDtypes });
    return outDtypes.map((_, i) => out[i] ?? {});
  } catch (e) {
    throw new Error(`${opType}: ${(e as Error).message}`);
  }
}
