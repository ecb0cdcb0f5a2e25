/**
 * Confidence from the per-token log-probabilities generation already records: how sure a variant
 * was of each answer (the mean and the lowest probability of its tokens, under the model's own
 * distribution), and whether that sureness tracks passing, as a reliability table over equal-width
 * bins of mean token probability with the expected calibration error (ECE: the bins' gaps between
 * pass rate and mean confidence, weighted by their share of the answers).
 */

export interface AnswerConfidence {
  /** Mean over the answer's tokens of p(token). */
  readonly mean: number;
  /** The lowest p(token): the answer's least sure step. */
  readonly min: number;
}

export interface ReliabilityBin {
  /** [lo, hi) of mean token probability; the last bin includes 1. */
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  readonly meanConfidence: number;
  readonly passRate: number;
}

export interface Reliability {
  /** The bins that hold answers, in order. */
  readonly bins: readonly ReliabilityBin[];
  readonly ece: number;
  readonly answers: number;
}

export const RELIABILITY_BINS = 10;

/** An answer's confidence from its tokens' log-probabilities; undefined for an answer without tokens (or only unknown ones). */
export function answerConfidence(tokens: readonly { readonly logprob: number }[]): AnswerConfidence | undefined {
  const ps = tokens.map((t) => Math.exp(t.logprob)).filter((p) => Number.isFinite(p));
  if (ps.length === 0) return undefined;
  return { mean: ps.reduce((a, b) => a + b, 0) / ps.length, min: Math.min(...ps) };
}

/** The reliability table and ECE of (confidence, passed) pairs; undefined with none. */
export function reliability(points: readonly { readonly confidence: number; readonly passed: boolean }[], bins = RELIABILITY_BINS): Reliability | undefined {
  if (points.length === 0) return undefined;
  const groups = Array.from({ length: bins }, () => [] as { confidence: number; passed: boolean }[]);
  for (const p of points) groups[Math.min(bins - 1, Math.floor(p.confidence * bins))]!.push(p);
  const out: ReliabilityBin[] = [];
  let ece = 0;
  groups.forEach((g, i) => {
    if (g.length === 0) return;
    const meanConfidence = g.reduce((a, p) => a + p.confidence, 0) / g.length;
    const passRate = g.filter((p) => p.passed).length / g.length;
    ece += (g.length / points.length) * Math.abs(passRate - meanConfidence);
    out.push({ lo: i / bins, hi: (i + 1) / bins, count: g.length, meanConfidence, passRate });
  });
  return { bins: out, ece, answers: points.length };
}

/** Each variant's answer confidences (by case index) and reliability over its completed cells. */
export function matrixConfidence(
  cases: readonly { readonly index: number }[],
  variants: readonly string[],
  results: Readonly<
    Record<string, Readonly<Record<number, { readonly tokens: readonly { readonly logprob: number }[]; readonly passed: boolean; readonly finish: string }>>>
  >,
): Readonly<Record<string, { readonly answers: Readonly<Record<number, AnswerConfidence>>; readonly reliability: Reliability | undefined }>> {
  const out: Record<string, { answers: Record<number, AnswerConfidence>; reliability: Reliability | undefined }> = {};
  for (const v of variants) {
    const answers: Record<number, AnswerConfidence> = {};
    const points: { confidence: number; passed: boolean }[] = [];
    for (const c of cases) {
      const cell = results[v]?.[c.index];
      if (!cell || cell.finish === 'cancelled') continue;
      const a = answerConfidence(cell.tokens);
      if (!a) continue;
      answers[c.index] = a;
      points.push({ confidence: a.mean, passed: cell.passed });
    }
    out[v] = { answers, reliability: reliability(points) };
  }
  return out;
}
