import * as ort from 'onnxruntime-node';
import { GraphBuilder, type GraphBuilderOptions, type Value } from '../src/core/onnx/builder';
import type { AttributeValue, DType, ModelDef, TensorDef } from '../src/core/onnx/model';
import { openSessionFromModel } from '../src/core/onnx/session';
import { addGradients } from '../src/core/onnx/autodiff/grad';
import { seededRandom } from '../src/core/random';

/**
 * Gradient checks by central finite differences, run through onnxruntime (as torch.autograd.gradcheck
 * does for PyTorch): the graph's gradients against (f(x + h) − f(x − h)) / 2h, element by element.
 *
 * `build` makes the forward graph on a fresh builder (declaring inputs with numeric dims) and returns
 * the value to check and the inputs to differentiate. The checked value is projected to a scalar
 * with a random tensor R (loss = Σ y·R), so that every element of y contributes with its own weight
 * and a rule that mixes up elements cannot pass by symmetry.
 */

export interface GradcheckGraph {
  /** The value to check, any floating-point shape. */
  readonly output: Value;
  /** Graph inputs (or trainable initializers) to differentiate. */
  readonly wrt: readonly Value[];
}

export interface GradcheckOptions {
  /** Builder options (default `{ floatType: 'float64' }`). */
  readonly builder?: GraphBuilderOptions;
  /** Values for some inputs (integer inputs must be given); other float inputs get uniform(−1, 1). */
  readonly feeds?: Readonly<Record<string, ort.Tensor>>;
  /** Run the model with every float32 tensor retyped to float64 (for graph code that writes float32). */
  readonly toFloat64?: boolean;
  /** Step (default 1e-6 in float64, 1e-2 in float32). */
  readonly h?: number;
  /** Elements perturbed per differentiated tensor, sampled at random beyond this (default 48). */
  readonly maxPerTensor?: number;
  readonly seed?: number;
}

export interface GradcheckTensorResult {
  readonly name: string;
  /** max over checked elements of |a − n| / max(|a|, |n|, 1e-2·max|a|) */
  readonly maxError: number;
  readonly worst: { readonly index: number; readonly analytic: number; readonly numeric: number };
  readonly checked: number;
}

export interface GradcheckResult {
  readonly maxError: number;
  readonly tensors: readonly GradcheckTensorResult[];
  /** The loss at the unperturbed point (a sanity value for callers). */
  readonly loss: number;
}

const PROJECTION = 'gradcheck.projection';

type FloatArray = Float32Array | Float64Array;

function float32Of(data: Uint8Array): Float32Array {
  return new Float32Array(data.slice().buffer);
}

/** The same model with every float32 tensor, input, output and Cast made float64. */
export function toFloat64(m: ModelDef): ModelDef {
  const tensor = (t: TensorDef): TensorDef =>
    t.dtype === 'float32' ? { ...t, dtype: 'float64', data: new Uint8Array(Float64Array.from(float32Of(t.data)).buffer) } : t;
  const dtype = (d: DType): DType => (d === 'float32' ? 'float64' : d);
  const attribute = (op: string, name: string, a: AttributeValue): AttributeValue => {
    if (op === 'Cast' && name === 'to' && a.kind === 'int' && a.value === 1) return { kind: 'int', value: 11 };
    if (a.kind === 'tensor') return { kind: 'tensor', value: tensor(a.value) };
    return a;
  };
  const g = m.graph;
  return {
    ...m,
    graph: {
      ...g,
      nodes: g.nodes.map((n) => ({ ...n, attributes: n.attributes.map(([k, a]) => [k, attribute(n.opType, k, a)] as const) })),
      initializers: g.initializers.map(tensor),
      inputs: g.inputs.map((v) => ({ ...v, dtype: dtype(v.dtype) })),
      outputs: g.outputs.map((v) => ({ ...v, dtype: dtype(v.dtype) })),
    },
  };
}

async function session(m: ModelDef): Promise<ort.InferenceSession> {
  // 'basic' leaves out onnxruntime's fusions: some fused kernels are float32-only (x·sigmoid(x)
  // becomes QuickGelu, which has no float64 kernel), and the check is of the rules, not the fusions.
  return openSessionFromModel(m, 1, { graphOptimizationLevel: 'basic' });
}

function scalarOf(t: ort.Tensor | undefined): number {
  if (!t) throw new Error('gradcheck: missing output');
  return Number((t.data as FloatArray)[0]);
}

/** Build the checked graph: forward, projection to a scalar loss, and (with `grads`) the gradients. */
function buildModel(build: (g: GraphBuilder) => GradcheckGraph, o: GradcheckOptions, grads: boolean) {
  const g = new GraphBuilder('gradcheck', o.builder ?? { floatType: 'float64' });
  const { output, wrt } = build(g);
  const shape = output.shape ?? g.shapeOf(output);
  if (!shape) throw new Error('gradcheck: the checked value has no static shape');
  const r = g.input(PROJECTION, output.dtype, shape);
  const loss = g.op('ReduceSum', [g.mul(output, r)], { keepdims: 0 }); // []
  g.output(loss, 'loss', []);
  if (grads) addGradients(g, loss, wrt).forEach((d, i) => g.output(d, `grad.${i}`, d.shape ?? []));
  let m = g.model({ producerName: 'tuneloop-gradcheck', producerVersion: '0' });
  if (o.toFloat64) m = toFloat64(m);
  return { g, m, wrt };
}

export async function gradcheck(build: (g: GraphBuilder) => GradcheckGraph, options: GradcheckOptions = {}): Promise<GradcheckResult> {
  const full = buildModel(build, options, true);
  const fwd = buildModel(build, options, false);
  const random = seededRandom(options.seed ?? 1);

  // Feeds: given ones, trainable initializers' own data, uniform(−1, 1) for other float inputs.
  const trainables = new Map(full.g.trainableTensors().map((t) => [t.name, t]));
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of full.m.graph.inputs) {
    const given = options.feeds?.[input.name];
    if (given) {
      feeds[input.name] = given;
      continue;
    }
    if (!input.dims.every((d): d is number => typeof d === 'number')) throw new Error(`gradcheck: input ${input.name} has symbolic dims`);
    const dims = input.dims as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    const t = trainables.get(input.name);
    let data: FloatArray;
    if (input.dtype === 'float64') data = t ? Float64Array.from(float32Of(t.data)) : Float64Array.from({ length: n }, () => random() * 2 - 1);
    else if (input.dtype === 'float32') data = t ? float32Of(t.data) : Float32Array.from({ length: n }, () => random() * 2 - 1);
    else throw new Error(`gradcheck: give a value for the ${input.dtype} input ${input.name}`);
    feeds[input.name] = new ort.Tensor(input.dtype, data, dims);
  }

  const [sFull, sFwd] = [await session(full.m), await session(fwd.m)];
  try {
    const out = await sFull.run(feeds);
    const f = async () => scalarOf((await sFwd.run(feeds, ['loss'])).loss);
    const isF32 = full.m.graph.inputs.find((v) => v.name === PROJECTION)?.dtype === 'float32';
    const h = options.h ?? (isF32 ? 1e-2 : 1e-6);
    const maxPer = options.maxPerTensor ?? 48;
    const tensors: GradcheckTensorResult[] = [];
    for (const [i, w] of full.wrt.entries()) {
      const feed = feeds[w.name];
      if (!feed) throw new Error(`gradcheck: ${w.name} is not a graph input`);
      const x = feed.data as FloatArray;
      const analytic = out[`grad.${i}`]!.data as FloatArray;
      const n = x.length;
      const picks = n <= maxPer ? Array.from({ length: n }, (_, k) => k) : Array.from({ length: maxPer }, () => Math.floor(random() * n));
      let top = 0;
      for (const v of analytic) top = Math.max(top, Math.abs(v));
      const scale = 1e-2 * top;
      let worst = { index: -1, analytic: 0, numeric: 0 };
      let maxError = 0;
      for (const k of picks) {
        const x0 = x[k]!;
        // the perturbed values as stored (float32 rounds them), so the step is the one taken
        x[k] = x0 + h;
        const xp = x[k]!;
        const fp = await f();
        x[k] = x0 - h;
        const xm = x[k]!;
        const fm = await f();
        x[k] = x0;
        const numeric = (fp - fm) / (xp - xm);
        const a = analytic[k]!;
        const err = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), scale, 1e-300);
        if (worst.index < 0 || err > maxError) {
          maxError = err;
          worst = { index: k, analytic: a, numeric };
        }
      }
      tensors.push({ name: w.name, maxError, worst, checked: picks.length });
    }
    return { maxError: Math.max(0, ...tensors.map((t) => t.maxError)), tensors, loss: scalarOf(out.loss) };
  } finally {
    await sFull.release();
    await sFwd.release();
  }
}
