import { type AttributeValue, DATA_TYPES, type Dim, type DType, type GraphDef, type ModelDef, type NodeDef, type TensorDef, type ValueInfo } from './model';
import { type Attr, type Attrs, inferShapes, type Known } from './shapes';

/**
 * Builds an ONNX graph from typed op calls. Values are named in the order they are made, so the same
 * sequence of calls always gives the same model, byte for byte.
 *
 * Shapes in comments use B = batch, S = new tokens, P = past tokens, T = P + S, H = hidden size.
 */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  /**
   * The static shape, where every dim is known when the graph is built (training graphs declare
   * numeric dims); absent where a symbolic dim is involved (inference graphs).
   */
  readonly shape?: readonly number[];
}

/** One op call as the builder recorded it: the Values it read and made, and its attributes (for autodiff). */
export interface RecordedNode {
  readonly opType: string;
  readonly domain: string;
  /** `undefined` for an omitted optional input. */
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

export interface GraphBuilderOptions {
  /**
   * Type of the constants `scalarF` makes (default float32). float64 builds the same graph code in
   * double precision, which gradient checks need.
   */
  readonly floatType?: 'float32' | 'float64';
  /**
   * Sizes for symbolic dims (`batch_size: 2`): inputs and outputs declared with these names get the
   * numeric dims, so their values get static shapes (a training graph is built for one batch shape).
   */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * Initializers to declare as graph inputs instead (trainable tensors, fed at each step). Their data
   * stays available, as the initial values, from `trainableTensors()`.
   */
  readonly trainable?: (name: string) => boolean;
}

function attribute(a: Attr): AttributeValue {
  if (typeof a === 'number') return { kind: 'int', value: a };
  if (typeof a === 'string') return { kind: 'string', value: a };
  if (Array.isArray(a)) return { kind: 'ints', value: a as readonly number[] };
  if ('floats' in a) return { kind: 'floats', value: a.floats };
  if ('float' in a) return { kind: 'float', value: a.float };
  return { kind: 'tensor', value: a as TensorDef };
}

function withShape(name: string, dtype: DType, k: Known | undefined): Value {
  return k?.shape ? { name, dtype, shape: k.shape } : { name, dtype };
}

export const OPSET = 18;
/** onnxruntime's own operators. */
export const CONTRIB_DOMAIN = 'com.microsoft';
export const IR_VERSION = 8;

export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly initializers: TensorDef[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, Value>();
  /** Values renamed by `output`; later uses of the old name are redirected. */
  private readonly renamed = new Map<string, string>();
  /** The same renames by the name the value had when renamed, applied to every node by `graph()`. */
  private readonly renamedAt = new Map<string, string>();
  /** Names made by nodes. */
  private readonly produced = new Set<string>();
  private counter = 0;
  private scopeStack: string[] = [];
  /** Every op call, in order, with its Values (the tape autodiff walks back). */
  private readonly tape: RecordedNode[] = [];
  /** What is known at build time (shape, small values) of each value, by its name when made. */
  private readonly facts = new Map<string, Known>();
  private readonly initializerNames = new Set<string>();
  private readonly trainables: TensorDef[] = [];
  /** The Value behind each graph output, by output name. */
  private readonly outputValues = new Map<string, Value>();
  private readonly floatType: 'float32' | 'float64';

  constructor(
    readonly name: string,
    private readonly options: GraphBuilderOptions = {},
  ) {
    this.floatType = options.floatType ?? 'float32';
  }

  // ---- naming ----------------------------------------------------------------------------------

  /** Prefix the names of the values and nodes made inside `body` (e.g. `layers.3/attn`). */
  scope<T>(prefix: string, body: () => T): T {
    this.scopeStack.push(prefix);
    try {
      return body();
    } finally {
      this.scopeStack.pop();
    }
  }

  private fresh(base: string): string {
    const scoped = this.scopeStack.length ? `/${this.scopeStack.join('/')}/${base}` : `/${base}`;
    let name = `${scoped}_${this.counter++}`;
    while (this.names.has(name)) name = `${scoped}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.names.add(name);
    return name;
  }

  /** Symbolic dims bound by `options.dims` become numbers. */
  private bind(dims: readonly Dim[]): readonly Dim[] {
    const sizes = this.options.dims;
    if (!sizes) return dims;
    return dims.map((d) => (typeof d === 'string' && sizes[d] !== undefined ? sizes[d] : d));
  }

  // ---- graph interface ---------------------------------------------------------------------------

  input(name: string, dtype: DType, dims: readonly Dim[]): Value {
    const bound = this.bind(dims);
    this.inputs.push({ name: this.claim(name), dtype, dims: bound });
    const numeric = bound.every((d): d is number => typeof d === 'number');
    const shape = numeric ? (bound as readonly number[]) : undefined;
    this.facts.set(name, shape ? { shape } : {});
    return withShape(name, dtype, { shape });
  }

  /**
   * Mark `v` as a graph output called `name`. A value made by a node here is renamed in place (no
   * extra node at run time); an input or initializer, or a value already an output, gets an Identity.
   */
  output(v: Value, name: string, dims: readonly Dim[]): void {
    // A value already renamed by an earlier output() is known by its new name now.
    const current = this.renamed.get(v.name) ?? v.name;
    if (current !== name) {
      this.claim(name);
      const isOutput = this.outputs.some((o) => o.name === current);
      if (this.produced.has(current) && !isOutput) {
        // Nodes made from now on read the new name; those made before are renamed by graph().
        this.renamed.set(v.name, name);
        this.renamedAt.set(current, name);
      } else {
        this.nodes.push({ opType: 'Identity', domain: '', name: `${name}/Identity`, inputs: [current], outputs: [name], attributes: [] });
      }
    }
    this.outputs.push({ name, dtype: v.dtype, dims: this.bind(dims) });
    this.outputValues.set(name, v);
  }

  /**
   * A named initializer (a weight). Where `options.trainable` accepts the name it is declared as a
   * graph input instead, with the data kept as its initial value.
   */
  initializer(name: string, dtype: DType, dims: readonly number[], data: Uint8Array): Value {
    if (this.options.trainable?.(name)) {
      this.inputs.push({ name: this.claim(name), dtype, dims });
      this.trainables.push({ name, dtype, dims, data });
    } else {
      this.initializers.push({ name: this.claim(name), dtype, dims, data });
      this.initializerNames.add(name);
    }
    this.facts.set(name, { shape: dims });
    return { name, dtype, shape: dims };
  }

  /** A small constant initializer, shared between identical uses. */
  constant(dtype: 'float32' | 'float64' | 'int64', values: readonly number[], dims: readonly number[] = [values.length]): Value {
    const key = `${dtype}:${dims.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const data =
      dtype === 'float32'
        ? new Uint8Array(new Float32Array(values).buffer)
        : dtype === 'float64'
          ? new Uint8Array(new Float64Array(values).buffer)
          : new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    const name = this.fresh(`const_${dtype === 'float32' ? 'f' : dtype === 'float64' ? 'd' : 'i'}`);
    this.names.delete(name);
    // Constants are never trainable, whatever their generated name.
    this.initializers.push({ name: this.claim(name), dtype, dims, data });
    this.initializerNames.add(name);
    // Keep the values (as stored: float32 rounds) so shape inference and backward rules can read them.
    this.facts.set(name, { shape: dims, values: dtype === 'float32' ? values.map(Math.fround) : values });
    const v: Value = { name, dtype, shape: dims };
    this.constants.set(key, v);
    return v;
  }

  i64(...values: number[]): Value {
    return this.constant('int64', values);
  }

  /** A float constant of the builder's float type (`options.floatType`, float32 by default). */
  scalarF(value: number): Value {
    return this.constant(this.floatType, [value], []);
  }

  scalarI(value: number): Value {
    return this.constant('int64', [value], []);
  }

  /** A scalar constant of the given type, so that code generic over float32/float64 emits matching constants. */
  scalar(dtype: DType, value: number): Value {
    if (dtype === 'float32' || dtype === 'float64' || dtype === 'int64') return this.constant(dtype, [value], []);
    throw new Error(`scalar: no constants of type ${dtype}`);
  }

  /**
   * Add a node; returns its outputs. `dtypes` gives each output's type (default: the first input's);
   * a null leaves that optional output out (an empty name in the node, as ONNX writes an omitted
   * output; contrib ops only), and the outputs returned are the others, in order.
   */
  node(opType: string, inputs: readonly (Value | undefined)[], attrs: Record<string, Attr> = {}, dtypes?: readonly (DType | null)[], domain = ''): Value[] {
    const declared = dtypes ?? [inputs[0]!.dtype];
    const outDtypes = declared.filter((d): d is DType => d !== null);
    if (outDtypes.length < declared.length && domain === '') throw new Error(`${opType}: outputs are left out only of contrib ops`);
    const names = outDtypes.map(() => this.fresh(opType));
    const facts = inferShapes(
      opType,
      domain,
      inputs.map((i) => (i ? this.knownOf(i) : undefined)),
      attrs,
      outDtypes,
    );
    const outputs = outDtypes.map((dtype, k) => withShape(names[k]!, dtype, facts[k]));
    outputs.forEach((o, k) => this.facts.set(o.name, facts[k]!));
    for (const o of outputs) this.produced.add(o.name);
    let made = 0;
    const nodeOutputs = declared.map((d) => (d === null ? '' : outputs[made++]!.name)); // the node's, omitted ones named ''
    this.nodes.push({
      opType,
      domain,
      name: `${outputs[0]!.name}/node`,
      inputs: inputs.map((i) => (i ? (this.renamed.get(i.name) ?? i.name) : '')),
      outputs: nodeOutputs,
      attributes: Object.entries(attrs).map(([k, v]) => [k, attribute(v)] as const),
    });
    this.tape.push({ opType, domain, inputs, outputs, attrs: { ...attrs } });
    return outputs;
  }

  op(opType: string, inputs: readonly (Value | undefined)[], attrs: Record<string, Attr> = {}, dtype?: DType): Value {
    return this.node(opType, inputs, attrs, dtype ? [dtype] : undefined)[0]!;
  }

  // ---- what is known at build time -----------------------------------------------------------------

  private knownOf(v: Value): Known {
    return this.facts.get(v.name) ?? (v.shape ? { shape: v.shape } : {});
  }

  /** The static shape of `v`, where known. */
  shapeOf(v: Value): readonly number[] | undefined {
    return this.knownOf(v).shape;
  }

  /** The elements of `v` where known at build time (constants, and shape arithmetic on small tensors). */
  valuesOf(v: Value): readonly number[] | undefined {
    return this.knownOf(v).values;
  }

  /** Whether `v` is an initializer (a constant of the graph, never differentiated). */
  isInitializer(v: Value): boolean {
    return this.initializerNames.has(v.name);
  }

  /** The Value marked as graph output `name` (to build a loss on graph code that declares its outputs). */
  outputValue(name: string): Value | undefined {
    return this.outputValues.get(name);
  }

  /** The op calls made so far, in order. */
  recorded(): readonly RecordedNode[] {
    return this.tape;
  }

  /** Initializers declared as inputs by `options.trainable`, with their data (the initial values). */
  trainableTensors(): readonly TensorDef[] {
    return this.trainables;
  }

  // ---- ops ---------------------------------------------------------------------------------------

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  neg(a: Value): Value {
    return this.op('Neg', [a]);
  }
  sqrt(a: Value): Value {
    return this.op('Sqrt', [a]);
  }
  reciprocal(a: Value): Value {
    return this.op('Reciprocal', [a]);
  }
  tanh(a: Value): Value {
    return this.op('Tanh', [a]);
  }
  sigmoid(a: Value): Value {
    return this.op('Sigmoid', [a]);
  }
  cos(a: Value): Value {
    return this.op('Cos', [a]);
  }
  sin(a: Value): Value {
    return this.op('Sin', [a]);
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  /** Y = A·Bᵀ + C for 2-D A [M, K] and B [N, K]. */
  gemmTransB(a: Value, b: Value, c?: Value): Value {
    return this.op('Gemm', c ? [a, b, c] : [a, b], { transB: 1 });
  }
  cast(a: Value, to: DType): Value {
    return this.op('Cast', [a], { to: DATA_TYPES[to] }, to);
  }
  reshape(a: Value, shape: Value | readonly number[]): Value {
    return this.op('Reshape', [a, Array.isArray(shape) ? this.i64(...(shape as number[])) : (shape as Value)]);
  }
  transpose(a: Value, perm: readonly number[]): Value {
    return this.op('Transpose', [a], { perm });
  }
  concat(values: readonly Value[], axis: number): Value {
    return this.op('Concat', values, { axis });
  }
  /** Split along `axis` into pieces of the given sizes. */
  split(a: Value, axis: number, sizes: readonly number[]): Value[] {
    return this.node(
      'Split',
      [a, this.i64(...sizes)],
      { axis },
      sizes.map(() => a.dtype),
    );
  }
  slice(a: Value, starts: readonly number[] | Value, ends: readonly number[] | Value, axes: readonly number[]): Value {
    const v = (x: readonly number[] | Value) => (Array.isArray(x) ? this.i64(...(x as number[])) : (x as Value));
    return this.op('Slice', [a, v(starts), v(ends), this.i64(...axes)]);
  }
  unsqueeze(a: Value, axes: readonly number[]): Value {
    return this.op('Unsqueeze', [a, this.i64(...axes)]);
  }
  squeeze(a: Value, axes: readonly number[]): Value {
    return this.op('Squeeze', [a, this.i64(...axes)]);
  }
  gather(data: Value, indices: Value, axis = 0): Value {
    return this.op('Gather', [data, indices], { axis });
  }
  shape(a: Value, start?: number, end?: number): Value {
    const attrs: Record<string, Attr> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.op('Shape', [a], attrs, 'int64');
  }
  /** Size of dimension `axis` as a 1-element int64 tensor. */
  dim(a: Value, axis: number): Value {
    return this.shape(a, axis, axis + 1);
  }
  range(start: Value, limit: Value, delta: Value): Value {
    return this.op('Range', [start, limit, delta]);
  }
  softmax(a: Value, axis = -1): Value {
    return this.op('Softmax', [a], { axis });
  }
  reduceMean(a: Value, axes: readonly number[], keepdims = 1): Value {
    return this.op('ReduceMean', [a, this.i64(...axes)], { keepdims });
  }
  where(cond: Value, a: Value, b: Value): Value {
    return this.op('Where', [cond, a, b], {}, a.dtype);
  }
  less(a: Value, b: Value): Value {
    return this.op('Less', [a, b], {}, 'bool');
  }
  lessOrEqual(a: Value, b: Value): Value {
    return this.op('LessOrEqual', [a, b], {}, 'bool');
  }
  greater(a: Value, b: Value): Value {
    return this.op('Greater', [a, b], {}, 'bool');
  }
  equal(a: Value, b: Value): Value {
    return this.op('Equal', [a, b], {}, 'bool');
  }
  and(a: Value, b: Value): Value {
    return this.op('And', [a, b], {}, 'bool');
  }
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
    return this.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: epsilon } });
  }

  // ---- result ------------------------------------------------------------------------------------

  /**
   * The graph, without the nodes no output depends on. onnxruntime runs every node it is given, and
   * schedules a node that leads nowhere whenever its walk from the outputs happens to reach it, which
   * keeps the node's inputs alive until then (a recomputed decoder layer's last ops, for one).
   */
  graph(): GraphDef {
    const r = (names: readonly string[]) => names.map((x) => this.renamedAt.get(x) ?? x);
    const nodes = this.renamedAt.size ? this.nodes.map((n) => ({ ...n, inputs: r(n.inputs), outputs: r(n.outputs) })) : this.nodes;
    const needed = new Set(this.outputs.map((o) => o.name));
    const live: NodeDef[] = [];
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i]!;
      if (!n.outputs.some((o) => needed.has(o))) continue;
      live.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
    return { name: this.name, nodes: live.reverse(), initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }

  model(meta: { producerName: string; producerVersion: string; metadata?: Record<string, string> }): ModelDef {
    const graph = this.graph();
    // onnxruntime's contrib ops (MatMulNBits, GatherBlockQuantized) are version 1 of their domain.
    const contrib = graph.nodes.some((n) => n.domain === CONTRIB_DOMAIN);
    return {
      irVersion: IR_VERSION,
      opsets: [{ domain: '', version: OPSET }, ...(contrib ? [{ domain: CONTRIB_DOMAIN, version: 1 }] : [])],
      producerName: meta.producerName,
      producerVersion: meta.producerVersion,
      graph,
      ...(meta.metadata ? { metadata: meta.metadata } : {}),
    };
  }
}
