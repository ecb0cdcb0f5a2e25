/** One line of `tuneloop golden`: a golden key, the largest error found, and the tolerance it is held to. */
export interface CheckResult {
  readonly name: string;
  readonly maxAbsErr: number;
  readonly tol: number;
  readonly ok: boolean;
  readonly detail?: string;
}

/** max |a − b|; Infinity for different lengths or any NaN. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
