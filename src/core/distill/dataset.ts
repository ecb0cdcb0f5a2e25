import * as path from 'node:path';
import { chooseDtype } from '../compare/variants';
import { TuneloopError } from '../errors';
import { count } from '../format';
import { writeFileAtomic } from '../fs/atomic';
import { generationParams } from '../prompts/params';
import type { Variables } from '../prompts/render';
import { describePairs } from './contamination';
import { type DistillPlan, studentRow } from './plan';
import { runTeacher, teacherKey } from './teacher';

/**
 * A distillation's data stage, the same for `tuneloop distill` and the extension (through the
 * worker): the contamination check's verdict, then the teacher's answers (cached, resumable) written
 * as the student's rows to the recipe's dataset.path.
 */
export interface DistillDataset {
  readonly datasetFile: string;
  readonly rows: number;
  readonly generated: number;
  readonly cached: number;
  /** Answers that stopped at the teacher's maxTokens. */
  readonly cut: number;
  readonly cacheFile: string;
}

export interface DistillDataOptions {
  readonly cacheDir: string;
  readonly threads?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onMessage?: ((message: string) => void) | undefined;
  readonly onProgress?: ((done: number, total: number, cached: number) => void) | undefined;
}

/** With contamination.action refuse and an overlap: the error that lists the pairs. */
export function contaminationProblem(plan: DistillPlan): { readonly refuse: boolean; readonly message: string; readonly lines: string[] } | undefined {
  if (plan.contamination.length === 0) return undefined;
  const c = plan.distill.contamination;
  const inputs = new Set(plan.contamination.map((p) => p.input.source)).size;
  return {
    refuse: c.action === 'refuse',
    message: `${count(inputs, 'input')} overlap held-out test cases of ${path.basename(plan.teacherFile)} (${c.ngram}-grams, threshold ${c.threshold})`,
    lines: describePairs(plan.contamination),
  };
}

export function contaminationError(plan: DistillPlan, recipeFile: string): TuneloopError | undefined {
  const p = contaminationProblem(plan);
  if (!p?.refuse) return undefined;
  return new TuneloopError(
    `${p.message}:\n${p.lines.join('\n')}`,
    { file: recipeFile },
    'remove those inputs (or the test cases), or set contamination.action: warn to go on regardless',
  );
}

/** Rows as JSONL, written atomically (the student's dataset, and the CLI's --baseline rows). */
export function writeJsonl(file: string, rows: readonly unknown[]): void {
  writeFileAtomic(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

/** The teacher answers every input; the rows are written unless it was stopped first ('stopped'). */
export async function writeDistillDataset(plan: DistillPlan, options: DistillDataOptions): Promise<DistillDataset | 'stopped'> {
  const prompt = plan.teacherPrompt;
  const spec = {
    file: plan.teacherFile,
    prompt,
    model: { id: plan.teacherModelDir, dir: plan.teacherModelDir },
    variants: [{ name: 'teacher', ...(plan.teacherAdapterDir ? { adapterDir: plan.teacherAdapterDir } : {}) }],
    params: generationParams(prompt),
    dtype: chooseDtype(prompt).dtype,
  };
  const tokens = plan.distill.teacher.kind === 'token';
  const key = teacherKey(spec, plan.teacherModelDir, plan.teacherAdapterDir, options.cacheDir, tokens);
  const run = await runTeacher(
    spec,
    key,
    plan.inputs.map((r) => r.vars as Variables),
    { cacheDir: options.cacheDir, tokens, threads: options.threads, signal: options.signal, onMessage: options.onMessage, onProgress: options.onProgress },
  );
  if (run.cancelled || run.answers.some((a) => a === undefined)) return 'stopped';
  const rows = plan.inputs.map((r, i) => studentRow(plan.studentPrompt, r.vars as Variables, run.answers[i]!.text, run.answers[i]!.tokens));
  writeJsonl(plan.datasetFile, rows);
  return {
    datasetFile: plan.datasetFile,
    rows: rows.length,
    generated: run.generated,
    cached: run.cached,
    cut: run.answers.filter((a) => a!.finish === 'length').length,
    cacheFile: run.cacheFile,
  };
}
