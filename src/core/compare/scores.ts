import type { FinishReason } from '../infer/generate';

/**
 * The matrix's cells (core/compare/matrix.ts) turned into what the reports put first: each
 * evaluator's pass rate for each variant, and each adapter's regressions against the base model.
 * One number over all evaluators lets a format check carry the result (an adapter that learnt the
 * format and forgot the facts still "passes"); these figures cannot hide that. Computed here once,
 * with no runtime imports, so that `tuneloop eval`, `run`, `demo` and the panel agree.
 *
 * - A cell is *completed* unless a cancel stopped it (a cell that failed has no result at all): the
 *   same cells the matrix's overall pass rate counts.
 * - An evaluator's pass rate is passed ÷ the completed cells it ran on: a judge not run here (a
 *   hosted one) counts neither way, and one that ran on no completed cell has no rate.
 * - A *regression* is a (test case, evaluator) pair where the base model's completed cell passed that
 *   evaluator and the variant's completed cell failed it. A judge not run on either side counts
 *   neither way. A variant's regression count, which `maxRegressions` limits, is the number of such
 *   pairs: a case that regressed on two evaluators counts twice.
 *
 * Evaluators are matched by position (a cell's evaluations are in the prompt's evaluator order,
 * prompts/evaluate.ts), so that two evaluators with one name stay apart.
 */

/** What the scores read of a cell: the matrix's CellResult has it, and so does the panel's. */
export interface ScoredCell {
  readonly text: string;
  readonly finish: FinishReason;
  /** In the prompt's evaluator order; `passed` undefined or null: not run here. */
  readonly evaluations: readonly { readonly passed?: boolean | null | undefined }[];
}

/** results[variant][caseIndex], as the CLI collects them (cli/matrix.ts). */
export type Cells = Readonly<Record<string, Readonly<Record<number, ScoredCell>>>>;

export interface EvaluatorScore {
  readonly name: string;
  /** Completed cells it passed. */
  readonly passed: number;
  /** Completed cells it ran on. */
  readonly ran: number;
  /** passed ÷ ran; undefined when it ran on no completed cell. */
  readonly rate?: number | undefined;
}

export interface Regression {
  readonly caseIndex: number;
  /** The evaluator's name. */
  readonly evaluator: string;
  /** The base model's output and the variant's. */
  readonly base: string;
  readonly output: string;
}

export interface VariantScores {
  readonly variant: string;
  /** Completed cells. */
  readonly completed: number;
  /** One per evaluator of the prompt, in its order. */
  readonly evaluators: readonly EvaluatorScore[];
  /** Against the base, by case then evaluator; undefined for the base itself and where the base did not run. */
  readonly regressions?: readonly Regression[] | undefined;
}

/** Whether a cell counts in pass rates: it was not stopped by a cancel. */
export function cellCompleted(cell: Pick<ScoredCell, 'finish'>): boolean {
  return cell.finish !== 'cancelled';
}

const ran = (passed: boolean | null | undefined): passed is boolean => passed === true || passed === false;

function caseIndices(cells: Readonly<Record<number, ScoredCell>> | undefined): number[] {
  return Object.keys(cells ?? {})
    .map(Number)
    .sort((a, b) => a - b);
}

/** The completed cell of a variant for a case, if any. */
function completedCell(results: Cells, variant: string, caseIndex: number): ScoredCell | undefined {
  const cell = results[variant]?.[caseIndex];
  return cell && cellCompleted(cell) ? cell : undefined;
}

/** Each evaluator's rate for each variant, and each other variant's regressions against `base` (default "base"). */
export function scoreMatrix(input: {
  readonly evaluators: readonly { readonly name: string }[];
  readonly variants: readonly string[];
  readonly results: Cells;
  readonly base?: string | undefined;
}): VariantScores[] {
  const base = input.base ?? 'base';
  const baseRan = input.results[base] !== undefined;
  return input.variants.map((variant) => {
    const indices = caseIndices(input.results[variant]);
    const completed = indices.filter((i) => completedCell(input.results, variant, i) !== undefined);
    const evaluators = input.evaluators.map((e, k): EvaluatorScore => {
      let passed = 0;
      let count = 0;
      for (const i of completed) {
        const verdict = input.results[variant]![i]!.evaluations[k]?.passed;
        if (!ran(verdict)) continue;
        count++;
        if (verdict) passed++;
      }
      return { name: e.name, passed, ran: count, ...(count > 0 ? { rate: passed / count } : {}) };
    });
    if (variant === base || !baseRan) return { variant, completed: completed.length, evaluators };
    const regressions: Regression[] = [];
    for (const i of completed) {
      const b = completedCell(input.results, base, i);
      if (!b) continue;
      const v = input.results[variant]![i]!;
      input.evaluators.forEach((e, k) => {
        if (b.evaluations[k]?.passed === true && v.evaluations[k]?.passed === false)
          regressions.push({ caseIndex: i, evaluator: e.name, base: b.text, output: v.text });
      });
    }
    return { variant, completed: completed.length, evaluators, regressions };
  });
}

/**
 * Whether a variant keeps to its maxRegressions: no limit always does; with a limit, one whose
 * regressions could not be counted (the base did not run) does not, as a variant with no pass rate
 * fails its minPassRate (matrix.ts: meetsMinPassRate).
 */
export function meetsMaxRegressions(regressions: number | undefined, maxRegressions: number | undefined): boolean {
  if (maxRegressions === undefined) return true;
  return regressions !== undefined && regressions <= maxRegressions;
}

/** How one test case went for a variant against the base, counted in evaluators. */
export interface CaseVerdict {
  readonly caseIndex: number;
  /** Evaluators the base passed and the variant failed. */
  readonly regressed: number;
  /** Evaluators the variant failed. */
  readonly failed: number;
  /** Evaluators the base failed and the variant passed. */
  readonly gained: number;
}

/** Each case both the base and the variant completed, by case index. */
export function caseVerdicts(results: Cells, variant: string, base = 'base'): CaseVerdict[] {
  const out: CaseVerdict[] = [];
  for (const i of caseIndices(results[variant])) {
    const v = completedCell(results, variant, i);
    const b = completedCell(results, base, i);
    if (!v || !b) continue;
    let regressed = 0;
    let failed = 0;
    let gained = 0;
    v.evaluations.forEach((e, k) => {
      const was = b.evaluations[k]?.passed;
      if (e.passed === false) failed++;
      if (e.passed === false && was === true) regressed++;
      if (e.passed === true && was === false) gained++;
    });
    out.push({ caseIndex: i, regressed, failed, gained });
  }
  return out;
}

/**
 * The worst case for a variant: the one that regressed on the most evaluators; among equals, the one
 * it fails on the most evaluators; then the first. Undefined when no case was completed by both.
 */
export function worstCase(verdicts: readonly CaseVerdict[]): CaseVerdict | undefined {
  let worst: CaseVerdict | undefined;
  for (const v of verdicts) if (!worst || v.regressed > worst.regressed || (v.regressed === worst.regressed && v.failed > worst.failed)) worst = v;
  return worst;
}
