import { type Cells, scoreMatrix, type VariantScores } from '../../src/core/compare/scores';
import { cellKey, resultCells, type RunView } from './state';

/**
 * The page's view of a run through the scores every report uses (src/core/compare/scores.ts): each
 * evaluator's pass rate per variant and each adapter's regressions against the base, from the cells
 * received so far. A failed cell ("error") has no result, as in the core.
 */
export interface RunScores {
  /** The base variant's id, when the run has one. */
  readonly base: string | undefined;
  readonly evaluators: readonly string[];
  readonly byVariant: ReadonlyMap<string, VariantScores>;
  /** cellKey(variant, case) → the evaluators the base passed there and the variant failed. */
  readonly regressed: ReadonlyMap<string, readonly string[]>;
}

export function scoresOf(run: RunView): RunScores {
  const results = resultCells(run);
  // The evaluators' names, from the first cell with a result (every cell lists them in the prompt's order).
  const first = Object.values(results)
    .flatMap((cells) => Object.values(cells))
    .find((c) => c.evaluations.length > 0);
  const evaluators = first?.evaluations.map((e) => e.name) ?? [];
  const base = run.header.variants.find((v) => v.kind === 'base')?.id;
  const scores = scoreMatrix({
    evaluators: evaluators.map((name) => ({ name })),
    variants: run.header.variants.map((v) => v.id),
    results: results as Cells,
    base: base ?? '',
  });
  const regressed = new Map<string, string[]>();
  for (const s of scores) {
    for (const r of s.regressions ?? []) {
      const key = cellKey(s.variant, r.caseIndex);
      regressed.set(key, [...(regressed.get(key) ?? []), r.evaluator]);
    }
  }
  return { base, evaluators, byVariant: new Map(scores.map((s) => [s.variant, s])), regressed };
}
