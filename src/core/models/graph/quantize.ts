import type { QuantSpec } from '../../dtypes';
import { CONTRIB_DOMAIN, type GraphBuilder, type Value } from '../../onnx/builder';

/**
 * Block quantization of weight matrices for inference exports, in the layout of onnxruntime's
 * `MatMulNBits` and `GatherBlockQuantized` (com.microsoft), which read the same bytes:
 *
 * - W [rows, cols] as Hugging Face stores a Linear ([out, in]) is cut along each row into blocks of
 *   `blockSize` columns (the last block padded); each block has one float32 scale and, when
 *   asymmetric, one zero point.
 * - codes: uint8 [rows, blocks, blockSize·bits/8], packed low bits first (two 4-bit codes a byte).
 * - scales: float32 [rows · blocks]; zero points: uint8 [rows · ⌈blocks·bits/8⌉], packed the same way.
 *   Without zero points the kernels use 2^(bits−1) (8 or 128), which is the symmetric case.
 * - w ≈ (code − zero) · scale.
 *
 * Symmetric: scale = max|w| / (2^(bits−1) − 1), zero = 2^(bits−1) (codes use 2^bits − 1 of the levels).
 * Asymmetric: scale = (max − min) / (2^bits − 1) over the block with 0 included, zero = round(−min/scale),
 * so that w = 0 is exact (padding, and weights that are zero).
 */

export type { QuantSpec };

export interface QuantizedRows {
  readonly rows: number;
  readonly cols: number;
  readonly spec: QuantSpec;
  /** [rows, blocks, blockSize·bits/8] */
  readonly codes: Uint8Array;
  /** [rows · blocks] */
  readonly scales: Float32Array;
  /** [rows · ⌈blocks·bits/8⌉], absent when symmetric */
  readonly zeroPoints?: Uint8Array;
}

export function blocksOf(cols: number, spec: QuantSpec): number {
  return Math.ceil(cols / spec.blockSize);
}

function zeroPointBytesPerRow(blocks: number, spec: QuantSpec): number {
  return Math.ceil((blocks * spec.bits) / 8);
}

/** Stored bytes of a quantized [rows, cols] matrix: codes, scales and zero points. */
export function quantizedBytes(rows: number, cols: number, spec: QuantSpec): number {
  const blocks = blocksOf(cols, spec);
  return rows * (blocks * ((spec.blockSize * spec.bits) / 8) + blocks * 4 + (spec.symmetric ? 0 : zeroPointBytesPerRow(blocks, spec)));
}

function put(buf: Uint8Array, byteBase: number, index: number, code: number, bits: 4 | 8): void {
  if (bits === 8) buf[byteBase + index] = code;
  else buf[byteBase + (index >> 1)]! |= index & 1 ? code << 4 : code;
}

function get(buf: Uint8Array, byteBase: number, index: number, bits: 4 | 8): number {
  if (bits === 8) return buf[byteBase + index]!;
  const b = buf[byteBase + (index >> 1)]!;
  return index & 1 ? b >> 4 : b & 15;
}

/**
 * Quantize W [rows, cols] (row-major) block by block along each row. The inner loops are written per
 * bit width (two codes a byte at 4 bits) and round by floor(x + 0.5) on the zero-shifted value, clamped
 * (Math.round's rule), multiplying by 1/scale: an export of a 1B model quantizes 1.2 billion weights here.
 */
export function quantizeRows(w: Float32Array, rows: number, cols: number, spec: QuantSpec): QuantizedRows {
  if (w.length !== rows * cols) throw new Error(`quantizeRows: ${w.length} values for [${rows}, ${cols}]`);
  const { bits, blockSize } = spec;
  const blocks = blocksOf(cols, spec);
  const blob = (blockSize * bits) / 8;
  const levels = 2 ** bits;
  const top = levels - 1;
  const half = levels / 2;
  const codes = new Uint8Array(rows * blocks * blob);
  const scales = new Float32Array(rows * blocks);
  const zpRow = zeroPointBytesPerRow(blocks, spec);
  const zeroPoints = spec.symmetric ? undefined : new Uint8Array(rows * zpRow);
  for (let r = 0; r < rows; r++) {
    const rowOff = r * cols;
    for (let b = 0; b < blocks; b++) {
      const start = rowOff + b * blockSize;
      const end = rowOff + Math.min(cols, (b + 1) * blockSize);
      let lo = 0;
      let hi = 0;
      for (let k = start; k < end; k++) {
        const v = w[k]!;
        if (v < lo) lo = v;
        else if (v > hi) hi = v;
      }
      let scale: number;
      let zero: number;
      if (spec.symmetric) {
        scale = Math.max(hi, -lo) / (half - 1);
        zero = half;
      } else {
        scale = (hi - lo) / top;
        zero = scale > 0 ? Math.min(top, Math.max(0, Math.round(-lo / scale))) : 0;
      }
      scale = Math.fround(scale);
      if (scale === 0) scale = 1; // an all-zero block: every code is the zero point
      scales[r * blocks + b] = scale;
      if (zeroPoints) put(zeroPoints, r * zpRow, b, zero, bits);
      // code = clamp(round(w / scale) + zero, 0, top); the padding of a partial block gets the zero point.
      const inv = 1 / scale;
      const shift = zero + 0.5;
      let out = (r * blocks + b) * blob;
      if (end - start === blockSize) {
        if (bits === 8) {
          for (let k = start; k < end; k++) {
            const x = w[k]! * inv + shift;
            codes[out++] = x <= 0 ? 0 : x >= top ? top : x | 0;
          }
        } else {
          for (let k = start; k < end; k += 2) {
            const x0 = w[k]! * inv + shift;
            const x1 = w[k + 1]! * inv + shift;
            const c0 = x0 <= 0 ? 0 : x0 >= top ? top : x0 | 0;
            const c1 = x1 <= 0 ? 0 : x1 >= top ? top : x1 | 0;
            codes[out++] = c0 | (c1 << 4);
          }
        }
      } else {
        for (let j = 0; j < blockSize; j++) {
          const k = start + j;
          const x = k < end ? w[k]! * inv + shift : zero;
          put(codes, out, j, x <= 0 ? 0 : x >= top ? top : x | 0, bits);
        }
      }
    }
  }
  return { rows, cols, spec, codes, scales, ...(zeroPoints ? { zeroPoints } : {}) };
}

/** The float32 values a quantized matrix stands for, [rows, cols] (what the kernels compute with). */
export function dequantizeRows(q: QuantizedRows): Float32Array {
  const { rows, cols, spec } = q;
  const blocks = blocksOf(cols, spec);
  const blob = (spec.blockSize * spec.bits) / 8;
  const zpRow = zeroPointBytesPerRow(blocks, spec);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const scale = q.scales[r * blocks + b]!;
      const zero = q.zeroPoints ? get(q.zeroPoints, r * zpRow, b, spec.bits) : 2 ** (spec.bits - 1);
      const base = (r * blocks + b) * blob;
      for (let j = 0; j < spec.blockSize; j++) {
        const k = b * spec.blockSize + j;
        if (k >= cols) break;
        out[r * cols + k] = Math.fround((get(q.codes, base, j, spec.bits) - zero) * scale);
      }
    }
  }
  return out;
}

const u8 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function initializers(
  g: GraphBuilder,
  name: string,
  q: QuantizedRows,
  dims: { codes: number[]; scales: number[]; zeroPoints: number[] },
): (Value | undefined)[] {
  const zp = q.zeroPoints;
  return [
    g.initializer(`${name}.q${q.spec.bits}`, 'uint8', dims.codes, q.codes),
    g.initializer(`${name}.scales`, 'float32', dims.scales, u8(q.scales)),
    zp ? g.initializer(`${name}.zero_points`, 'uint8', dims.zeroPoints, zp) : undefined,
  ];
}

/**
 * x [.., cols] · Wᵀ [.., rows] for the quantized W [rows, cols]: onnxruntime's MatMulNBits, with
 * accuracy_level 4 (activations quantized to int8 per block inside the kernel, integer dot products:
 * measured here 3 to 800× faster than levels 0/1 at batch 1, with the error dominated by the weights').
 */
export function matMulNBits(g: GraphBuilder, x: Value, name: string, q: QuantizedRows): Value {
  const blocks = blocksOf(q.cols, q.spec);
  const [codes, scales, zp] = initializers(g, name, q, {
    codes: [q.rows, blocks, (q.spec.blockSize * q.spec.bits) / 8],
    scales: [q.rows * blocks],
    zeroPoints: [q.rows * zeroPointBytesPerRow(blocks, q.spec)],
  });
  return g.node(
    'MatMulNBits',
    [x, codes, scales, zp],
    { K: q.cols, N: q.rows, bits: q.spec.bits, block_size: q.spec.blockSize, accuracy_level: 4 },
    ['float32'],
    CONTRIB_DOMAIN,
  )[0]!;
}

/** Whether GatherBlockQuantized can hold a [rows, cols] table: its rows must be whole blocks. */
export function gatherable(cols: number, spec: QuantSpec): boolean {
  return cols % spec.blockSize === 0;
}

/** Rows `ids` of the quantized table, dequantized: [.., cols] (onnxruntime's GatherBlockQuantized). */
export function gatherBlockQuantized(g: GraphBuilder, ids: Value, name: string, q: QuantizedRows): Value {
  if (!gatherable(q.cols, q.spec)) throw new Error(`GatherBlockQuantized: ${q.cols} columns are not whole blocks of ${q.spec.blockSize}`);
  const blocks = blocksOf(q.cols, q.spec);
  const [codes, scales, zeroPoints] = initializers(g, name, q, {
    codes: [q.rows, (q.cols * q.spec.bits) / 8],
    scales: [q.rows, blocks],
    zeroPoints: [q.rows, zeroPointBytesPerRow(blocks, q.spec)],
  });
  return g.node(
    'GatherBlockQuantized',
    [codes, ids, scales, zeroPoints],
    { gather_axis: 0, quantize_axis: 1, block_size: q.spec.blockSize, bits: q.spec.bits },
    ['float32'],
    CONTRIB_DOMAIN,
  )[0]!;
}
