import { type CellResult, type MatrixOptions, type MatrixSpec, runMatrix } from '../compare/matrix';
import type { ExportDtype } from '../dtypes';
import type { GenerationParams } from '../infer/generate';
import type { Variables } from '../prompts/render';
import type { PromptFile } from '../prompts/types';

/**
 * The held-out comparison a distillation ends with: on the teacher prompt file's test cases, the
 * teacher (its long prompt, its model) against students (the short prompt on the student's model,
 * with an adapter or without), all scored by the teacher prompt file's evaluators. Figures: pass
 * rates, the student's pass rate on the cases the teacher passes, exact agreement with the teacher,
 * each evaluator's pass rate, input tokens per call and seconds per case.
 */
export interface HeldOutSide {
  readonly name: string;
  /** The prompt file the side runs (messages); its evaluators are replaced by the teacher's. */
  readonly prompt: PromptFile;
  readonly file: string;
  readonly modelDir: string;
  readonly adapterDir?: string | undefined;
}

export interface SideFigures {
  readonly name: string;
  readonly passed: number;
  readonly cases: number;
  readonly passRate: number;
  /** Each evaluator's pass rate, by name (evaluators that ran here). */
  readonly evaluators: Readonly<Record<string, number>>;
  readonly meanPromptTokens: number;
  readonly meanSeconds: number;
  /** Against the teacher (absent on the teacher): outputs equal to the teacher's, and passes on the cases the teacher passes. */
  readonly agreement?: { readonly exact: number; readonly passedWhereTeacherPassed: number; readonly teacherPassed: number };
  readonly outputs: readonly string[];
  /** Whether each case passed (every evaluator that ran here passed). */
  readonly casePassed: readonly boolean[];
}

export interface HeldOutReport {
  readonly cases: number;
  readonly teacher: SideFigures;
  readonly students: readonly SideFigures[];
  /** 1 − student's ÷ teacher's mean input tokens per call (the first student's). */
  readonly inputTokenSaving: number;
}

async function runSide(
  side: HeldOutSide,
  evaluators: PromptFile['evaluators'],
  cases: readonly { index: number; vars: Variables }[],
  params: GenerationParams,
  dtype: ExportDtype | undefined,
  options: MatrixOptions,
): Promise<CellResult[]> {
  const spec: MatrixSpec = {
    file: side.file,
    prompt: { ...side.prompt, evaluators },
    model: { id: side.modelDir, dir: side.modelDir },
    variants: [{ name: side.name, ...(side.adapterDir ? { adapterDir: side.adapterDir } : {}) }],
    cases,
    params,
    dtype,
  };
  const cells: CellResult[] = [];
  for await (const e of runMatrix(spec, options)) {
    if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
    if (e.type === 'cellDone') cells[e.caseIndex] = e.cell;
  }
  return cells;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function figures(name: string, cells: readonly CellResult[], teacher?: readonly CellResult[]): SideFigures {
  const byEvaluator: Record<string, { passed: number; ran: number }> = {};
  for (const c of cells)
    for (const e of c.evaluations) {
      if (e.passed === undefined) continue;
      const f = (byEvaluator[e.name] ??= { passed: 0, ran: 0 });
      f.ran++;
      if (e.passed) f.passed++;
    }
  const passedCount = cells.filter((c) => c.passed).length;
  let agreement: SideFigures['agreement'];
  if (teacher) {
    const teacherPassed = cells.filter((_, i) => teacher[i]?.passed).length;
    agreement = {
      exact: mean(cells.map((c, i) => (c.text.trim() === teacher[i]?.text.trim() ? 1 : 0))),
      teacherPassed,
      passedWhereTeacherPassed: teacherPassed ? cells.filter((c, i) => teacher[i]?.passed && c.passed).length / teacherPassed : 0,
    };
  }
  return {
    name,
    passed: passedCount,
    cases: cells.length,
    passRate: cells.length ? passedCount / cells.length : 0,
    evaluators: Object.fromEntries(Object.entries(byEvaluator).map(([k, f]) => [k, f.passed / f.ran])),
    meanPromptTokens: mean(cells.map((c) => c.promptTokens ?? 0)),
    meanSeconds: mean(cells.map((c) => c.seconds ?? 0)),
    ...(agreement ? { agreement } : {}),
    outputs: cells.map((c) => c.text),
    casePassed: cells.map((c) => c.passed),
  };
}

/**
 * Runs the teacher and each student on the held-out cases (greedy, with the teacher prompt file's
 * generation parameters) and compares them.
 */
export async function heldOutReport(
  teacher: HeldOutSide,
  students: readonly HeldOutSide[],
  options: MatrixOptions & { readonly params: GenerationParams; readonly dtype?: ExportDtype | undefined; readonly onSide?: (name: string) => void },
): Promise<HeldOutReport> {
  const evaluators = teacher.prompt.evaluators;
  const cases = (teacher.prompt.testData ?? []).map((t, index) => ({ index, vars: t.values as Variables }));
  options.onSide?.(teacher.name);
  const teacherCells = await runSide(teacher, evaluators, cases, options.params, options.dtype, options);
  const t = figures(teacher.name, teacherCells);
  const out: SideFigures[] = [];
  for (const s of students) {
    options.onSide?.(s.name);
    out.push(figures(s.name, await runSide(s, evaluators, cases, options.params, options.dtype, options), teacherCells));
  }
  return {
    cases: cases.length,
    teacher: t,
    students: out,
    inputTokenSaving: out[0] && t.meanPromptTokens ? 1 - out[0].meanPromptTokens / t.meanPromptTokens : 0,
  };
}
