import { runMatrix } from '../compare/matrix';
import type { ExportDtype } from '../dtypes';
import { generationParams } from '../prompts/params';
import type { Variables } from '../prompts/render';
import type { PromptFile } from '../prompts/types';
import type { InputRow } from './inputs';

/**
 * Augmentation by rewording: each input's `variable` rewritten `n` times by a prompt file run on a
 * local model, sampled at the prompt's modelParameters with seed `seed + k` for the k-th rewording,
 * so the same recipe gives the same rows. The rewordings are new inputs beside the originals, and go
 * through deduplication and the contamination check like any input. Nothing here judges whether a
 * rewording is a good one: that is the paraphrasing prompt's and the model's business.
 */
export interface ParaphraseSpec {
  readonly file: string;
  readonly prompt: PromptFile;
  readonly modelDir: string;
  readonly variable: string;
  readonly n: number;
  readonly seed: number;
  readonly dtype?: ExportDtype | undefined;
}

export async function paraphraseInputs(
  rows: readonly InputRow[],
  spec: ParaphraseSpec,
  options: {
    readonly cacheDir: string;
    readonly threads?: number | undefined;
    readonly signal?: AbortSignal | undefined;
    readonly onProgress?: (done: number, total: number) => void;
  },
): Promise<InputRow[]> {
  const out: InputRow[][] = rows.map(() => []);
  const total = rows.length * spec.n;
  let done = 0;
  const params = { ...generationParams(spec.prompt), seed: spec.seed };
  for await (const e of runMatrix(
    {
      file: spec.file,
      prompt: spec.prompt,
      model: { id: spec.modelDir, dir: spec.modelDir },
      variants: [{ name: 'paraphrase' }],
      cases: rows.map((r, index) => ({ index, vars: r.vars as Variables })),
      params,
      dtype: spec.dtype,
      // Run k of a case samples with seed + k (compare/repeats.ts); one run is seed itself.
      ...(spec.n > 1 ? { repeat: spec.n } : {}),
    },
    { cacheDir: options.cacheDir, threads: options.threads, signal: options.signal },
  )) {
    if (e.type === 'variantError' || e.type === 'cellError') throw e.error;
    if (e.type !== 'cellDone' || e.cell.finish === 'cancelled') continue;
    const text = e.cell.text.trim();
    const k = e.run ?? 0;
    const row = rows[e.caseIndex]!;
    if (text !== '') out[e.caseIndex]![k] = { vars: { ...row.vars, [spec.variable]: text }, source: `${row.source} (paraphrase ${k + 1})`, paraphrase: k + 1 };
    options.onProgress?.(++done, total);
  }
  return out.flatMap((list) => list.filter((r) => r !== undefined));
}
