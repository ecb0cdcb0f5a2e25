import { TuneloopError } from '../errors';

/** The index of the first NaN or ±Inf in `data`, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is 0 for every finite x, NaN for NaN and ±Inf: one comparison a value.
    if (x - x !== 0) return i;
  }
  return -1;
}

/**
 * Weights are loaded only when every value is finite: a NaN or Inf weight (a diverged run, a broken
 * conversion) otherwise loads silently and generates empty text. The error names the tensor.
 */
export function assertFinite(data: Float32Array, where: { readonly file: string; readonly key: string }): Float32Array {
  const i = firstNonFinite(data);
  if (i >= 0) {
    throw new TuneloopError(
      `holds a non-finite value (${data[i]} at index ${i})`,
      where,
      'the weights are broken, e.g. by a run that diverged: train again with a lower learning_rate, or use another checkpoint',
    );
  }
  return data;
}
