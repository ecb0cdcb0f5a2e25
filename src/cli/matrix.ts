import { type CellResult, type MatrixEvent, type MatrixOptions, runMatrix } from '../core/compare/matrix';
import type { MatrixPlan } from '../core/compare/plan';
import { scoreMatrix, type VariantScores } from '../core/compare/scores';
import type { ExportDtype } from '../core/dtypes';

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
}

export async function runCommandMatrix(plan: MatrixPlan, options: MatrixOptions, onEvent?: (e: MatrixEvent) => void): Promise<Matrix> {
  const results: Record<string, Record<number, CellResult>> = {};
  const dtypes: Record<string, ExportDtype> = {};
  let end: Extract<MatrixEvent, { type: 'end' }> | undefined;
  for await (const e of runMatrix(plan, options)) {
    if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
    if (e.type === 'variantStart') results[e.variant.name] ??= {};
    if (e.type === 'variantLoaded') dtypes[e.variant] = e.dtype;
    if (e.type === 'cellDone') (results[e.variant] ??= {})[e.caseIndex] = e.cell;
    if (e.type === 'end') end = e;
    onEvent?.(e);
  }
  const scores = scoreMatrix({ evaluators: plan.prompt.evaluators, variants: plan.variants.map((v) => v.name), results });
  return { ...plan, results, dtypes, passRates: end?.passRates ?? {}, scores, ...(end?.modelSha256 ? { modelSha256: end.modelSha256 } : {}) };
}
