import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPromptPaths, readPromptFile } from '../compare/prompt-file';
import { chooseDtype } from '../compare/variants';
import { defaultCacheDir } from '../export/cache';
import { TuneloopError } from '../errors';
import { defaultCacheDir as hubCacheDir } from '../hub';
import { resolveModel } from '../models/resolve';
import { type ChatMessage, renderMessages, type Variables } from '../prompts/render';
import type { PromptFile } from '../prompts/types';
import { variableNames } from '../prompts/template';
import type { DistillSpec, Recipe } from '../recipes/recipe';
import type { TeacherTokens } from '../train/data';
import { loadRecipe } from '../train/spec';
import { type ContaminationItem, contaminatedPairs, type OverlapPair } from './contamination';
import { type DroppedInput, dedupeInputs, expandInputs, type InputRow } from './inputs';
import { paraphraseInputs } from './paraphrase';

/**
 * A distillation recipe made ready to run: its prompt files read, the teacher's model found, the
 * inputs read, expanded and deduplicated, and checked against the held-out test cases (the teacher
 * prompt file's testData). Every mistake is an error here, before any model runs.
 */
export interface DistillPlan {
  readonly recipe: Recipe;
  readonly distill: DistillSpec;
  readonly teacherFile: string;
  readonly teacherPrompt: PromptFile;
  readonly teacherModelDir: string;
  readonly teacherAdapterDir?: string | undefined;
  /** The student's model (the recipe's base_model), found. */
  readonly studentModelDir: string;
  readonly studentFile: string;
  readonly studentPrompt: PromptFile;
  readonly inputs: readonly InputRow[];
  readonly dropped: readonly DroppedInput[];
  /** Inputs that overlap held-out test cases (each pair), whatever the action. */
  readonly contamination: readonly OverlapPair[];
  /** The generated dataset (recipe's dataset.path), absolute. */
  readonly datasetFile: string;
}

export interface DistillPlanOptions {
  readonly root?: string | undefined;
  /** Where exports are cached (paraphrasing loads a model); default the export cache's. */
  readonly cacheDir?: string | undefined;
  readonly threads?: number | undefined;
  readonly trustedReads?: readonly string[] | undefined;
  readonly allowDownload?: boolean | undefined;
  readonly downloadHint?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
}

/** The variables a prompt's messages render (what an input must give). */
export function messageVariables(prompt: Pick<PromptFile, 'messages'>): string[] {
  return [...new Set(prompt.messages.flatMap((m) => variableNames(m.content)))];
}

/** What an input or test case is compared by: the values the student's messages render, one per line. */
export function inputText(vars: Variables, names: readonly string[]): string {
  return names.map((n) => (vars[n] === undefined ? '' : typeof vars[n] === 'string' ? (vars[n] as string) : JSON.stringify(vars[n]))).join('\n');
}

/** The student's row for an input: its short messages rendered, then the teacher's answer. */
export function studentRow(student: PromptFile, vars: Variables, answer: string, tokens?: TeacherTokens): { messages: ChatMessage[]; teacher?: TeacherTokens } {
  return { messages: [...renderMessages(student, vars), { role: 'assistant', content: answer }], ...(tokens ? { teacher: tokens } : {}) };
}

/**
 * Token-level distillation compares the teacher's and the student's distributions token by token,
 * so both must use one tokenizer: the same tokenizer.json.
 */
export function checkSharedTokenizer(teacherDir: string, studentDir: string, recipeFile: string): void {
  // The vocabulary and merges (`model`) and the added tokens decide the ids; formatting does not.
  const read = (dir: string) => {
    try {
      const t = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as { model?: unknown; added_tokens?: unknown };
      return JSON.stringify([t.model, t.added_tokens]);
    } catch {
      return undefined;
    }
  };
  const a = read(teacherDir);
  const b = read(studentDir);
  if (a !== undefined && a === b) return;
  const why = !a
    ? `${teacherDir} has no tokenizer.json`
    : !b
      ? `${studentDir} has no tokenizer.json`
      : `the vocabulary of ${path.join(teacherDir, 'tokenizer.json')} differs from that of ${path.join(studentDir, 'tokenizer.json')}`;
  throw new TuneloopError(
    `teacher.kind: token needs the teacher and the student to share a tokenizer, and ${why}`,
    { file: recipeFile, key: 'teacher.kind' },
    "use teacher.kind: sequence (the teacher's answers as text), which works across tokenizers",
  );
}

/** The inputs' rewordings (paraphrase.ts), by the paraphrase prompt's model or else the student's. */
async function paraphrase(
  p: NonNullable<DistillSpec['inputs']['paraphrase']>,
  rows: readonly InputRow[],
  studentModelDir: string,
  recipeFile: string,
  options: DistillPlanOptions,
): Promise<InputRow[]> {
  const file = path.resolve(path.dirname(recipeFile), p.prompt);
  const prompt = readPromptFile(file);
  checkPromptPaths(file, prompt, {
    ...(options.root ? { root: options.root } : {}),
    trustedReads: [...(options.trustedReads ?? []), hubCacheDir()],
  });
  const lacking = rows.find((r) => r.vars[p.variable] === undefined);
  if (lacking) throw new TuneloopError(`input ${lacking.source} has no "${p.variable}" to reword`, { file: recipeFile, key: 'inputs.paraphrase.variable' });
  const modelDir = prompt.model
    ? (
        await resolveModel(prompt.model, {
          base: path.dirname(file),
          place: { file, key: 'model' },
          allowDownload: options.allowDownload,
          downloadHint: options.downloadHint,
          signal: options.signal,
        })
      ).dir
    : studentModelDir;
  let last = 0;
  return paraphraseInputs(
    rows,
    { file, prompt, modelDir, variable: p.variable, n: p.n, seed: p.seed, dtype: chooseDtype(prompt).dtype },
    {
      cacheDir: options.cacheDir ?? defaultCacheDir(),
      threads: options.threads,
      signal: options.signal,
      onProgress: (done, total) => {
        if (done === total || Date.now() - last > 2000) {
          last = Date.now();
          options.onProgress?.(`paraphrase: ${done}/${total}`);
        }
      },
    },
  );
}

export async function planDistill(recipeFile: string, options: DistillPlanOptions = {}): Promise<DistillPlan> {
  const trustedReads = [...(options.trustedReads ?? []), hubCacheDir()];
  const recipe = loadRecipe(recipeFile, { ...(options.root ? { root: options.root } : {}), trustedReads });
  const distill = recipe.distill;
  if (!distill)
    throw new TuneloopError(
      'is not a distillation recipe: it has no "teacher"',
      { file: recipeFile },
      'add teacher: {prompt: LONG.prompt.yml}, student: {prompt: SHORT.prompt.yml} and inputs: {path: data/inputs.jsonl}, or train it with tuneloop train',
    );
  const near = (rel: string) => path.resolve(path.dirname(recipeFile), rel);
  const paths = { ...(options.root ? { root: options.root } : {}), trustedReads };
  const teacherFile = near(distill.teacher.prompt);
  const teacherPrompt = readPromptFile(teacherFile);
  checkPromptPaths(teacherFile, teacherPrompt, { ...paths, ...(distill.teacher.model ? { ignoreModel: true } : {}) });
  const studentFile = near(distill.student.prompt);
  const studentPrompt = readPromptFile(studentFile);
  checkPromptPaths(studentFile, studentPrompt, { ...paths, ignoreModel: true });
  if (!teacherPrompt.testData?.length)
    throw new TuneloopError(
      'has no testData: they are the held-out cases the student is measured on (and that no input may overlap)',
      { file: teacherFile },
      'add testData to the teacher prompt file',
    );

  // The teacher's model: the recipe's teacher.model, else the teacher prompt's model, else the student's.
  const [id, base, place] = distill.teacher.model
    ? [distill.teacher.model, path.dirname(recipeFile), { file: recipeFile, key: 'teacher.model' }]
    : teacherPrompt.model
      ? [teacherPrompt.model, path.dirname(teacherFile), { file: teacherFile, key: 'model' }]
      : [recipe.baseModel, path.dirname(recipeFile), { file: recipeFile, key: 'base_model' }];
  const teacherModelDir = (
    await resolveModel(id, {
      base,
      place,
      allowDownload: options.allowDownload,
      downloadHint: options.downloadHint,
      signal: options.signal,
      onProgress: options.onProgress,
    })
  ).dir;

  const studentModelDir = (
    await resolveModel(recipe.baseModel, {
      base: path.dirname(recipeFile),
      place: { file: recipeFile, key: 'base_model' },
      allowDownload: options.allowDownload,
      downloadHint: options.downloadHint,
      signal: options.signal,
      onProgress: options.onProgress,
    })
  ).dir;
  if (distill.teacher.kind === 'token') checkSharedTokenizer(teacherModelDir, studentModelDir, recipeFile);

  const inputsFile = distill.inputs.path !== undefined ? near(distill.inputs.path) : undefined;
  const originals = expandInputs(distill.inputs, inputsFile);
  const rows = distill.inputs.paraphrase
    ? [...originals, ...(await paraphrase(distill.inputs.paraphrase, originals, studentModelDir, recipeFile, options))]
    : originals;
  // Every input must give what both prompts' messages render.
  for (const [file, prompt] of [
    [teacherFile, teacherPrompt],
    [studentFile, studentPrompt],
  ] as const) {
    for (const name of messageVariables(prompt)) {
      const lacking = rows.find((r) => r.vars[name] === undefined);
      if (lacking)
        throw new TuneloopError(
          `input ${lacking.source} has no "${name}", which the messages of ${path.basename(file)} use`,
          {},
          `give every input row "${name}" (or list it under inputs.expand)`,
        );
    }
  }
  const names = messageVariables(studentPrompt);
  const { kept, dropped } = dedupeInputs(rows, distill.inputs.dedupe, (r) => inputText(r.vars, names));
  const tests: ContaminationItem[] = teacherPrompt.testData.map((t) => ({
    text: inputText(t.values as Variables, names),
    source: `${teacherFile}:${t.span?.line ?? 1}`,
  }));
  const contamination = contaminatedPairs(
    kept.map((r) => ({ text: inputText(r.vars, names), source: r.source })),
    tests,
    distill.contamination,
  );
  return {
    recipe,
    distill,
    teacherFile,
    teacherPrompt,
    teacherModelDir,
    ...(distill.teacher.adapter ? { teacherAdapterDir: near(distill.teacher.adapter) } : {}),
    studentModelDir,
    studentFile,
    studentPrompt,
    inputs: kept,
    dropped,
    contamination,
    datasetFile: near(recipe.dataset.path),
  };
}
