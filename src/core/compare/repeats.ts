import { cellCompleted } from './scores';

/**
 * `tuneloop eval --repeat N`: a sampled variant (temperature > 0) runs each test case N times, run r
 * with seed `seed + r` (the prompt's seed, else 0), so that the N outputs differ and the whole run is
 * reproducible. A pass rate over N × cases runs is then a proportion with an interval, and a case
 * that passes in some runs and fails in others is *flaky*: one run of it says little.
 *
 * - The rate is passed ÷ completed runs over all cases (a cancelled run does not count, as in
 *   scores.ts).
 * - The interval is the 95% Wilson score interval on those runs. It treats the runs as independent,
 *   which they are within a case (fresh seeds) but not across one case's runs (a hard case fails
 *   more often), so the interval is narrower than one that accounts for that; with one run per case
 *   it is the usual interval for a pass rate over the cases.
 * - Gates (minPassRate) compare the interval's lower bound: "passes at least this often", with 95%
 *   confidence. A minPassRate of 1 cannot be met that way (no finite number of runs proves 100%).
 */

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** The Wilson score interval of `passed` successes in `n` trials; [0, 1] for n = 0. */
export function wilsonInterval(passed: number, n: number, z = Z95): { readonly low: number; readonly high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const p = passed / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  // Exact at p = 0 and 1, where rounding would leave the bound a hair inside.
  return { low: passed === 0 ? 0 : Math.max(0, centre - half), high: passed === n ? 1 : Math.min(1, centre + half) };
}

/** What repeats read of a run: whether it passed, and whether it completed. */
export interface RepeatedCell {
  readonly passed: boolean;
  readonly finish: Parameters<typeof cellCompleted>[0]['finish'];
}

export interface RepeatScores {
  /** Runs asked for per case. */
  readonly repeat: number;
  /** Completed runs passed, over all cases; and the completed runs. */
  readonly passed: number;
  readonly completed: number;
  /** passed ÷ completed, and its 95% Wilson interval; undefined with no completed run. */
  readonly rate?: number | undefined;
  readonly low?: number | undefined;
  readonly high?: number | undefined;
  /** Cases with a pass and a fail among their completed runs, in case order. */
  readonly flaky: readonly number[];
  /** Per case: completed runs passed, and completed runs. */
  readonly byCase: Readonly<Record<number, { readonly passed: number; readonly runs: number }>>;
}

/** A variant's runs by case index → its repeat scores. */
export function repeatScores(repeat: number, runs: Readonly<Record<number, readonly RepeatedCell[]>>): RepeatScores {
  let passed = 0;
  let completed = 0;
  const flaky: number[] = [];
  const byCase: Record<number, { passed: number; runs: number }> = {};
  const indices = Object.keys(runs)
    .map(Number)
    .sort((a, b) => a - b);
  for (const i of indices) {
    const done = (runs[i] ?? []).filter(cellCompleted);
    const p = done.filter((c) => c.passed).length;
    byCase[i] = { passed: p, runs: done.length };
    passed += p;
    completed += done.length;
    if (p > 0 && p < done.length) flaky.push(i);
  }
  if (completed === 0) return { repeat, passed, completed, flaky, byCase };
  const { low, high } = wilsonInterval(passed, completed);
  return { repeat, passed, completed, rate: passed / completed, low, high, flaky, byCase };
}

/** The seed of run `r` of a case: the prompt's seed (else 0) plus r. */
export function repeatSeed(seed: number | undefined, run: number): number {
  return (seed ?? 0) + run;
}
