import { type CellResult, type MatrixEvent, type MatrixOptions, runMatrix } from '../core/compare/matrix';
import type { MatrixPlan } from '../core/compare/plan';
import { scoreMatrix, type VariantScores } from '../core/compare/scores';
import type { ExportDtype } from '../core/dtypes';
import { type RepeatScores, repeatScores } from '../core/compare/repeats';

/**
 * The matrix as a command runs it: the core's events (core/compare/matrix.ts) collected into a table
 * for the reports, each shown to `onEvent` as it comes. The first error stops the command, as it
 * should in a terminal or CI (the panel shows each instead and goes on): the variant's or cell's own
 * error is thrown, so that its message and exit status are those it has everywhere.
 */
export interface Matrix extends MatrixPlan {
  /** results[variant][caseIndex] */
  readonly results: Readonly<Record<string, Readonly<Record<number, CellResult>>>>;
  /** Passed ÷ completed cells; a variant with none completed has none. */
  readonly passRates: Readonly<Record<string, number>>;
  /** Each evaluator's pass rate for each variant, and each adapter's regressions against the base (core/compare/scores.ts); in the variants' order. */
  readonly scores: readonly VariantScores[];
  readonly modelSha256?: string | undefined;
  /** The dtype each variant's model was loaded in, as the loader reports it. */
  readonly dtypes: Readonly<Record<string, ExportDtype>>;
  /** With repeats (the spec's `repeat` above 1): every run of each cell, runs[variant][caseIndex][run], and each variant's repeat scores. `results` holds run 0. */
  readonly runs?: Readonly<Record<string, Readonly<Record<number, readonly CellResult[]>>>> | undefined;
  readonly repeats?: Readonly<Record<string, RepeatScores>> | undefined;
}

/**
 * With repeats, each evaluator's pass rate counts every run (as the overall rate does); regressions
 * stay those of run 0, which pairs the base's and the variant's outputs at one seed.
 */
function withEvaluatorsOverRuns(
  scores: readonly VariantScores[],
  plan: MatrixPlan,
  runs: Readonly<Record<string, Readonly<Record<number, readonly CellResult[]>>>>,
  repeat: number,
): VariantScores[] {
  // Each run as a cell of its own: case i's run r at i × repeat + r.
  const flat = Object.fromEntries(
    Object.entries(runs).map(([v, byCase]) => [
      v,
      Object.fromEntries(Object.entries(byCase).flatMap(([i, cells]) => cells.map((c, r) => [Number(i) * repeat + r, c]))),
    ]),
  );
  const all = scoreMatrix({ evaluators: plan.prompt.evaluators, variants: plan.variants.map((v) => v.name), results: flat });
  return scores.map((s, k) => ({ ...s, completed: all[k]!.completed, evaluators: all[k]!.evaluators }));
}

export async function runCommandMatrix(plan: MatrixPlan, options: MatrixOptions, onEvent?: (e: MatrixEvent) => void): Promise<Matrix> {
  const results: Record<string, Record<number, CellResult>> = {};
  const dtypes: Record<string, ExportDtype> = {};
  const runs: Record<string, Record<number, CellResult[]>> = {};
  let end: Extract<MatrixEvent, { type: 'end' }> | undefined;
  for await (const e of runMatrix(plan, options)) {
    if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
    if (e.type === 'variantStart') results[e.variant.name] ??= {};
    if (e.type === 'variantLoaded') dtypes[e.variant] = e.dtype;
    if (e.type === 'cellDone') {
      if (!e.run) (results[e.variant] ??= {})[e.caseIndex] = e.cell;
      ((runs[e.variant] ??= {})[e.caseIndex] ??= []).push(e.cell);
    }
    if (e.type === 'end') end = e;
    onEvent?.(e);
  }
  const scores = scoreMatrix({ evaluators: plan.prompt.evaluators, variants: plan.variants.map((v) => v.name), results });
  const repeat = plan.repeat ?? 1;
  const repeats = repeat > 1 ? Object.fromEntries(plan.variants.map((v) => [v.name, repeatScores(repeat, runs[v.name] ?? {})])) : undefined;
  return {
    ...plan,
    results,
    dtypes,
    passRates: end?.passRates ?? {},
    scores: repeats ? withEvaluatorsOverRuns(scores, plan, runs, repeat) : scores,
    ...(end?.modelSha256 ? { modelSha256: end.modelSha256 } : {}),
    ...(repeats ? { runs, repeats } : {}),
  };
}
