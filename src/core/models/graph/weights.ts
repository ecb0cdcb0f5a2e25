import { TuneloopError } from '../../errors';
import type { TensorStore } from '../../safetensors/checkpoint';
import { toFloat32Into } from '../../safetensors/dtype';
import { assertFinite } from '../../safetensors/finite';
import { type ModelConfig, matchWeights } from '../config';

/**
 * The checkpoint's weights as float32, by their canonical Hugging Face names (whatever prefix the
 * file used), with the layout conversions the graphs need.
 */
export class WeightReader {
  private readonly names: ReadonlyMap<string, string>;

  constructor(
    readonly config: ModelConfig,
    private readonly store: TensorStore,
    /** Applied to each tensor as read, in its stored layout (merging an adapter, for one). */
    private readonly transform?: (name: string, data: Float32Array) => Float32Array,
  ) {
    const m = matchWeights(config, store.names());
    const missing = m.missing[0];
    if (missing) throw new TuneloopError('weight missing from the checkpoint', { file: store.source, key: missing.name });
    if (m.unexpected.length > 0) throw new TuneloopError(`unexpected tensor for this architecture`, { file: store.source, key: m.unexpected[0]! });
    this.names = m.names;
  }

  shape(name: string): readonly number[] {
    return this.store.info(this.resolve(name)).shape;
  }

  /** The tensor as float32 (converted from F16/BF16/... where needed), checked against `shape`. */
  f32(name: string, shape: readonly number[]): Float32Array {
    this.checkShape(name, shape);
    // A view of the read buffer is fine: each read allocates its own buffer.
    const key = this.resolve(name);
    const data = assertFinite(this.store.readFloat32(key), { file: this.store.info(key).file, key });
    return this.transform ? this.transform(name, data) : data;
  }

  /**
   * Matrices of the same width stacked by rows into one float32 array [Σ rows, cols], each converted
   * straight into its place (fused projections: no array per part, no copy after).
   */
  rowsOf(parts: readonly { readonly name: string; readonly rows: number }[], cols: number): Float32Array {
    if (parts.length === 1) return this.f32(parts[0]!.name, [parts[0]!.rows, cols]);
    const out = new Float32Array(parts.reduce((a, p) => a + p.rows, 0) * cols);
    let off = 0;
    for (const p of parts) {
      const dest = out.subarray(off, off + p.rows * cols);
      if (this.transform) dest.set(this.f32(p.name, [p.rows, cols]));
      else {
        this.checkShape(p.name, [p.rows, cols]);
        const key = this.resolve(p.name);
        toFloat32Into(this.store.info(key).dtype, this.store.readBytes(key), dest);
        assertFinite(dest, { file: this.store.info(key).file, key });
      }
      off += p.rows * cols;
    }
    return out;
  }

  /** A `[rows, cols]` matrix transposed to `[cols, rows]` (Hugging Face Linear weights are [out, in]). */
  transposed(name: string, rows: number, cols: number): Float32Array {
    return transpose(this.f32(name, [rows, cols]), rows, cols);
  }

  private checkShape(name: string, shape: readonly number[]): void {
    const actual = this.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new TuneloopError(`has shape [${actual.join(', ')}], expected [${shape.join(', ')}]`, { file: this.store.source, key: name });
    }
  }

  private resolve(name: string): string {
    const n = this.names.get(name);
    if (n === undefined) throw new TuneloopError('no such weight', { file: this.store.source, key: name });
    return n;
  }
}

/** Transpose a row-major [rows, cols] matrix, in cache-friendly blocks. */
export function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const rowOff = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[rowOff + c]!;
      }
    }
  }
  return out;
}

/** Concatenate [in, out_k] matrices along their columns into [in, Σ out_k]. */
export function concatColumns(parts: readonly Float32Array[], rows: number, widths: readonly number[]): Float32Array {
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  let col = 0;
  parts.forEach((p, k) => {
    const w = widths[k]!;
    for (let r = 0; r < rows; r++) out.set(p.subarray(r * w, (r + 1) * w), r * total + col);
    col += w;
  });
  return out;
}

export function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
