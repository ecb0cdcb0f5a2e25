import type { GraphBuilder, Value } from '../../onnx/builder';
import { after } from '../../onnx/sequence';
import type { BaseDtype } from '../../recipes/vocabulary';
import { fromFloat32 } from '../../safetensors/dtype';
import { bytes } from './weights';

/**
 * The frozen weights of a training process, held once and fed to every session that needs them.
 *
 * onnxruntime copies an initializer into each session (and again when it pre-packs a MatMul operand),
 * so a trainer with a training, a validation and a sampling session held the base weights three to
 * five times. Fed as graph inputs instead, each session reads the same JS buffers without a copy
 * (measured here: two sessions over 400 MB of weights grew the process by 1.7 GB as initializers and
 * by 0 as fed inputs, at the same MatMul speed for 1024-row operands).
 *
 * The linear layers' matrices can be held in a smaller type and dequantized in the graph where a step
 * needs them (QLoRA's idea, on a CPU):
 * - `bf16`: the bfloat16 bits (uint16), turned back into float32 by a 65,536-entry table (a Gather),
 *   exact for every bf16 value;
 * - `int8`: symmetric per-channel quantization, q = round(w / s) in [−127, 127] with s = max|w| / 127
 *   per output channel, dequantized by DequantizeLinear.
 * Embeddings, the LM head, norm weights and biases stay float32, as QLoRA keeps them: a dequantized
 * [vocab, hidden] copy would be the largest tensor of the step (519 MB at the 0.5B shape, held across
 * the loss chunks). A dequantized matrix is a transient of its layer: with gradient checkpointing the
 * layer dequantizes it again in the backward pass.
 */
export type { BaseDtype };

export interface FrozenTensor {
  readonly name: string;
  readonly dtype: 'float32' | 'uint16' | 'int8';
  readonly dims: readonly number[];
  readonly data: Float32Array | Uint16Array | Int8Array;
}

/** The float32 values of every bfloat16 bit pattern (256 KiB). */
function bf16Table(): Float32Array {
  const bits = new Uint32Array(65536);
  for (let i = 0; i < 65536; i++) bits[i] = i << 16;
  return new Float32Array(bits.buffer);
}

let lut: Float32Array | undefined;

export class FrozenWeights {
  /** Every tensor held, by its name (a matrix's int8 scales are `<name>.scale`). */
  private readonly held = new Map<string, FrozenTensor>();
  /** Per graph: the input declared for each held tensor, and the bf16 table (each once per graph). */
  private readonly declared = new WeakMap<GraphBuilder, Map<string, Value>>();

  constructor(readonly dtype: BaseDtype = 'fp32') {}

  /** Every tensor held, to feed (the same objects for every session). */
  tensors(): FrozenTensor[] {
    return [...this.held.values()];
  }

  /** Bytes held. */
  bytes(): number {
    return this.tensors().reduce((a, t) => a + t.data.byteLength, 0);
  }

  /**
   * A float32 tensor kept as it is (norm weights, biases, embeddings): a graph input fed from the
   * held copy. `make` gives the values in the graph's layout the first time the name is asked for.
   */
  plain(g: GraphBuilder, name: string, dims: readonly number[], make: () => Float32Array): Value {
    this.hold(name, () => [{ name, dtype: 'float32', dims, data: make() }]);
    return this.input(g, name);
  }

  /**
   * A matrix held in the base dtype, dequantized to float32 in the graph. `channelAxis` is the axis
   * of its output channels (0 for a Linear weight as stored, [out, in]; 1 for GPT-2's Conv1D,
   * [in, out]): int8 keeps one scale per index of that axis. `use` is the activation it is applied to.
   */
  matrix(g: GraphBuilder, name: string, dims: readonly [number, number], make: () => Float32Array, channelAxis: 0 | 1, use?: Value): Value {
    this.holdMatrix(name, dims, make, channelAxis);
    // The dequantized copy is made once `use` (the activation it multiplies) exists: its inputs are all
    // graph inputs, and onnxruntime would otherwise make every layer's copy at the start of the step.
    const when = (v: Value) => (use ? after(g, v, use) : v);
    switch (this.dtype) {
      case 'fp32':
        return this.input(g, name);
      case 'bf16':
        return g.gather(this.table(g), g.cast(when(this.input(g, name)), 'int32')); // [rows, cols]
      case 'int8':
        return g.op('DequantizeLinear', [this.input(g, name), when(this.input(g, `${name}.scale`))], { axis: channelAxis }, 'float32');
    }
  }

  private holdMatrix(name: string, dims: readonly [number, number], make: () => Float32Array, channelAxis: 0 | 1): void {
    this.hold(name, () => {
      const w = make();
      switch (this.dtype) {
        case 'fp32':
          return [{ name, dtype: 'float32', dims, data: w }];
        case 'bf16': {
          const bits = fromFloat32('BF16', w); // a loop: Uint16Array.from(w, f) is 18 times slower
          const held = new Uint16Array(bits.buffer, bits.byteOffset, w.length);
          // The error, in a plain loop (a callback per element doubled the time to hold the base).
          const wide = new Int32Array(1);
          const asFloat = new Float32Array(wide.buffer);
          let err = 0;
          let norm = 0;
          for (let i = 0; i < w.length; i++) {
            wide[0] = held[i]! << 16;
            const d = w[i]! - asFloat[0]!;
            err += d * d;
            norm += w[i]! * w[i]!;
          }
          this.errors.set(name, { err, norm });
          return [{ name, dtype: 'uint16', dims, data: held }];
        }
        case 'int8': {
          const { q, scale } = quantizeInt8(w, dims, channelAxis);
          const [rows, cols] = dims;
          let err = 0;
          let norm = 0;
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++) {
              const i = r * cols + c;
              const d = w[i]! - q[i]! * scale[channelAxis === 1 ? c : r]!;
              err += d * d;
              norm += w[i]! * w[i]!;
            }
          this.errors.set(name, { err, norm });
          return [
            { name, dtype: 'int8', dims, data: q },
            { name: `${name}.scale`, dtype: 'float32', dims: [scale.length], data: scale },
          ];
        }
      }
    });
  }

  /**
   * The error the base dtype puts in the linear layers' weights: over all of them, the relative RMS
   * error ‖W − Q(W)‖ / ‖W‖, and the matrix where it is largest. Undefined for fp32 (none).
   */
  quantizationError(): { readonly relative: number; readonly worst: { readonly name: string; readonly relative: number } } | undefined {
    if (this.dtype === 'fp32' || this.errors.size === 0) return undefined;
    let err = 0;
    let norm = 0;
    let worst = { name: '', relative: -1 };
    for (const [name, e] of this.errors) {
      err += e.err;
      norm += e.norm;
      const relative = e.norm > 0 ? Math.sqrt(e.err / e.norm) : 0;
      if (relative > worst.relative) worst = { name, relative };
    }
    return { relative: norm > 0 ? Math.sqrt(err / norm) : 0, worst };
  }

  private readonly errors = new Map<string, { err: number; norm: number }>();

  private hold(name: string, make: () => FrozenTensor[]): void {
    if (!this.held.has(name)) for (const t of make()) this.held.set(t.name, t);
  }

  /** The graph input of a held tensor, declared once per graph. */
  private input(g: GraphBuilder, name: string): Value {
    return this.once(g, name, () => {
      const t = this.held.get(name);
      if (!t) throw new Error(`no frozen tensor ${name}`);
      return g.input(name, t.dtype, t.dims);
    });
  }

  /** The bf16 → float32 table, one initializer per graph. */
  private table(g: GraphBuilder): Value {
    return this.once(g, '\0bf16', () => g.initializer('bf16_to_float32', 'float32', [65536], bytes((lut ??= bf16Table()))));
  }

  private once(g: GraphBuilder, key: string, make: () => Value): Value {
    let inGraph = this.declared.get(g);
    if (!inGraph) this.declared.set(g, (inGraph = new Map()));
    let v = inGraph.get(key);
    if (!v) inGraph.set(key, (v = make()));
    return v;
  }
}

/**
 * Symmetric per-channel int8: for each index c of `axis`, s_c = max |w| / 127 over the channel
 * (1 where the channel is all zeros) and q = round(w / s_c), ties to even, in [−127, 127].
 */
export function quantizeInt8(w: Float32Array, dims: readonly [number, number], axis: 0 | 1): { q: Int8Array; scale: Float32Array } {
  const [rows, cols] = dims;
  const n = axis === 1 ? cols : rows;
  const max = new Float32Array(n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[r * cols + c]!);
      const k = axis === 1 ? c : r;
      if (a > max[k]!) max[k] = a;
    }
  const scale = Float32Array.from(max, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const x = w[r * cols + c]! / scale[axis === 1 ? c : r]!;
      const f = Math.floor(x);
      const d = x - f;
      const rounded = d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
      q[r * cols + c] = Math.max(-127, Math.min(127, rounded));
    }
  return { q, scale };
}
