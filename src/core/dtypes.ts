import { TuneloopError } from './errors';

/**
 * The dtypes an inference export comes in, one entry each: the file transformers.js (and
 * onnx-community's Hub folders) name it by, and how its weights are quantized.
 *
 * - fp32: every weight float32 (`onnx/model.onnx`).
 * - q8: linear layers, the LM head and the token embedding in 8-bit blocks of 32, symmetric
 *   (`onnx/model_quantized.onnx`, what transformers.js loads for dtype q8).
 * - q4: the same in 4-bit blocks of 32, asymmetric (`onnx/model_q4.onnx`). At 4 bits a zero point
 *   per block pays: on Gaussian weights it measured 8.1% relative output error against 9.7% for
 *   symmetric blocks, at the same speed; at 8 bits the difference is 0.60% against 0.64%, and
 *   symmetric blocks need no zero points.
 *
 * Blocks of 32 (rather than 64 or 128) keep q4's error lowest (8.1% against 9.1% and 10.0%) for
 * 1.0 bit per weight of scales and zero points: 5.0 bits a weight at q4, 9.0 at q8.
 */
/** How a linear layer's weights are quantized: per row, in blocks of `blockSize` along the input. */
export interface QuantSpec {
  readonly bits: 4 | 8;
  /** A power of two, at least 16 (what the kernels accept). */
  readonly blockSize: number;
  readonly symmetric: boolean;
}

export const EXPORT_DTYPES = ['fp32', 'q8', 'q4'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export interface DtypeSpec {
  /** The model file under `onnx/`, as transformers.js names it for this dtype. */
  readonly file: string;
  readonly quantize?: QuantSpec;
  /** Bytes per weight of a linear layer as stored (scales and zero points included). */
  readonly bytesPerWeight: number;
}

export const DTYPE_SPECS: Readonly<Record<ExportDtype, DtypeSpec>> = {
  fp32: { file: 'model.onnx', bytesPerWeight: 4 },
  q8: { file: 'model_quantized.onnx', quantize: { bits: 8, blockSize: 32, symmetric: true }, bytesPerWeight: 1 + 4 / 32 },
  q4: { file: 'model_q4.onnx', quantize: { bits: 4, blockSize: 32, symmetric: false }, bytesPerWeight: 0.5 + 4 / 32 + 0.5 / 32 },
};

export const DEFAULT_DTYPE: ExportDtype = 'fp32';

export function isExportDtype(s: string): s is ExportDtype {
  return (EXPORT_DTYPES as readonly string[]).includes(s);
}

/** `s` as a dtype, or an error that names where it came from and the choices. */
export function parseDtype(s: string, where: { file?: string; key?: string; line?: number } = {}): ExportDtype {
  if (isExportDtype(s)) return s;
  throw new TuneloopError(`unknown dtype "${s}"`, where, `use one of ${EXPORT_DTYPES.join(', ')}`);
}
