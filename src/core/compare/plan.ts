import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { defaultCacheDir as hubCacheDir } from '../hub';
import { resolveModel } from '../models/resolve';
import { generationParams, type Variables } from '../prompts';
import { RECIPE_FILE } from '../recipes/recipe';
import type { MatrixCase, MatrixSpec } from './matrix';
import { checkPromptPaths, readPromptFile } from './prompt-file';
import { chooseDtype, chooseModel, type DtypeChoice, type ModelChoice, resolveVariants, type Variant } from './variants';
import type { ExportDtype } from '../dtypes';

/**
 * A prompt file on disk made ready for the matrix (core/compare/matrix.ts), as the CLI runs it: the
 * file read and its paths checked, the model chosen and found (models/resolve.ts), its variants
 * (adapters and trained recipes) and test cases picked. Every mistake is an error here, before
 * any model runs. The panel does the same from the editor's text (extension/panel/sources.ts).
 */
export interface MatrixPlan extends MatrixSpec {
  readonly model: ModelChoice & { readonly dir: string };
  readonly variants: readonly Variant[];
  readonly dtype: ExportDtype;
  /** Where the dtype came from (core/compare/variants.ts chooseDtype), for reports. */
  readonly dtypeFrom: DtypeChoice['from'];
}

export interface PlanOptions {
  readonly model?: string | undefined;
  readonly defaultModel: string;
  /** --dtype: overrides the prompt's `dtype` (default fp32). */
  readonly dtype?: ExportDtype | undefined;
  readonly runsDirs?: readonly string[] | undefined;
  /** Only these test cases (indices) / variants (names). */
  readonly cases?: readonly number[] | undefined;
  readonly variants?: readonly string[] | undefined;
  /** Values for a file without testData (one case). */
  readonly vars?: Variables | undefined;
  /** The workspace root the prompt's paths must stay inside (default: found from the file, core/fs/root.ts). */
  readonly root?: string | undefined;
  /** Folders a model may be read from wherever they are (the embedded model, the Hub cache). */
  readonly trustedReads?: readonly string[] | undefined;
  /** Download a Hub model the Hugging Face cache does not hold. */
  readonly allowDownload?: boolean | undefined;
  /** How the user allows a download (`run with --download`), for the message when it is not allowed. */
  readonly downloadHint?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
}

export async function planMatrix(file: string, options: PlanOptions): Promise<MatrixPlan> {
  const prompt = readPromptFile(file);
  checkPromptPaths(file, prompt, {
    ...(options.root ? { root: options.root } : {}),
    trustedReads: [...(options.trustedReads ?? []), hubCacheDir()],
    ...(options.model ? { ignoreModel: true } : {}),
  });
  const choice = chooseModel(prompt, file, options);
  // --model is relative to the current folder, the prompt's own model to the prompt file.
  const found = await resolveModel(choice.id, {
    base: choice.from === 'prompt' ? path.dirname(file) : process.cwd(),
    allowDownload: options.allowDownload,
    downloadHint: options.downloadHint,
    place: { file },
    signal: options.signal,
    onProgress: options.onProgress,
  });
  const runsDirs = options.runsDirs ?? [path.resolve('.tuneloop', 'runs'), path.join(path.dirname(path.resolve(file)), '.tuneloop', 'runs')];
  const paths = { ...(options.root ? { root: options.root } : {}), trustedReads: options.trustedReads ?? [] };
  const variants = resolveVariants(prompt, file, { runsDirs, paths, ...(options.variants ? { only: options.variants } : {}) });
  if (options.variants)
    for (const n of options.variants)
      if (!variants.some((v) => v.name === n))
        throw new TuneloopError(
          `no variant "${n}"`,
          { file },
          `variants: base, ${prompt.adapters.map((a) => path.basename(a.path).replace(RECIPE_FILE, '')).join(', ')}`,
        );
  const allCases: MatrixCase[] = prompt.testData
    ? prompt.testData.map((t, index) => ({ index, vars: t.values as Variables }))
    : [{ index: 0, vars: options.vars ?? {} }];
  const only = options.cases;
  const cases = only ? allCases.filter((c) => only.includes(c.index)) : allCases;
  if (only)
    for (const i of only)
      if (!allCases.some((c) => c.index === i)) throw new TuneloopError(`no test case ${i}`, { file }, `cases are 0 to ${allCases.length - 1}`);
  const dtype = chooseDtype(prompt, { option: options.dtype });
  return { file, prompt, model: { ...choice, dir: found.dir }, variants, cases, params: generationParams(prompt), dtype: dtype.dtype, dtypeFrom: dtype.from };
}
