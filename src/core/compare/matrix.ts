import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import type { GeneratedToken } from '../infer/generate';
import { generate } from '../infer/generate';
import { type LoadedModel, loadCausalLM } from '../infer/load';
import { exportCheckpoint } from '../models/export';
import {
  casePassed,
  type EvaluationResult,
  evaluate,
  generationParams,
  parsePrompt,
  type PathCheckOptions,
  promptPathProblems,
  type PromptFile,
  renderMessages,
  type Variables,
} from '../prompts';
import { readTextFile } from '../fs/text';
import { defaultCacheDir as hubCacheDir } from '../hub';
import { fileSha256, defaultCacheDir } from '../models/cache';
import { checkpointSha256 } from '../train/spec';
import { chooseModel, type ModelChoice, resolveVariants, type Variant } from './variants';
import { RECIPE_FILE } from '../recipes/recipe';

/**
 * A prompt file's test cases × its variants (base and adapters): each output generated, each
 * evaluator run. The same core serves `tuneloop run`, `tuneloop eval` and the panel's matrix.
 */
export interface CellResult {
  readonly text: string;
  readonly tokens: readonly GeneratedToken[];
  readonly evaluations: readonly EvaluationResult[];
  readonly passed: boolean;
  readonly timeToFirstTokenMs: number;
  readonly tokensPerSecond: number;
}

export interface Matrix {
  readonly file: string;
  readonly prompt: PromptFile;
  readonly model: ModelChoice & { readonly sha256: string };
  readonly variants: readonly Variant[];
  readonly cases: readonly { readonly index: number; readonly vars: Variables }[];
  /** results[variant][caseIndex] */
  readonly results: Readonly<Record<string, Readonly<Record<number, CellResult>>>>;
  readonly passRates: Readonly<Record<string, number>>;
}

export interface MatrixOptions {
  readonly model?: string;
  readonly defaultModel: string;
  readonly threads?: number;
  readonly cacheDir?: string;
  readonly runsDirs?: readonly string[];
  /** Only these test cases (indices) / variants (names). */
  readonly cases?: readonly number[];
  readonly variants?: readonly string[];
  /** Values for a file without testData (one case). */
  readonly vars?: Variables;
  readonly signal?: AbortSignal;
  readonly onVariant?: (v: Variant) => void;
  readonly onToken?: (variant: string, caseIndex: number, token: GeneratedToken) => void;
  readonly onCell?: (variant: string, caseIndex: number, cell: CellResult) => void;
  readonly onProgress?: (message: string) => void;
  /** The workspace root the prompt's paths must stay inside (default: found from the file, core/fs/root.ts). */
  readonly root?: string;
  /** Folders a model may be read from wherever they are (the embedded model, the Hub cache). */
  readonly trustedReads?: readonly string[];
}

export function readPromptFile(file: string): PromptFile {
  const text = readTextFile(file, 'prompt file');
  const { prompt, diagnostics } = parsePrompt(text, file);
  const err = diagnostics.find((d) => d.severity === 'error');
  if (err || !prompt) {
    throw new TuneloopError(
      err?.message ?? 'cannot read the prompt file',
      { file, ...(err ? { line: err.line, column: err.column } : {}) },
      'run tuneloop check on it for every problem',
    );
  }
  return prompt;
}

/** The base model's content hash, as snapshots record it: its weights, or its ONNX file where it has no weights. */
export function modelHash(dir: string, cacheDir: string): string {
  if (
    fs.existsSync(path.join(dir, 'onnx', 'model.onnx')) &&
    !fs.existsSync(path.join(dir, 'model.safetensors')) &&
    !fs.existsSync(path.join(dir, 'model.safetensors.index.json'))
  ) {
    return fileSha256(path.join(dir, 'onnx', 'model.onnx'), cacheDir);
  }
  return checkpointSha256(dir, cacheDir);
}

/** The prompt file's paths checked (core/prompts/check.ts): the first problem as an error at its line. */
export function checkPromptPaths(file: string, prompt: PromptFile, options: PathCheckOptions): void {
  const d = promptPathProblems(file, prompt, options)[0];
  if (d) throw new TuneloopError(d.message, { file, line: d.line, column: d.column }, 'run tuneloop check on it for every problem');
}

export async function runMatrix(file: string, options: MatrixOptions): Promise<Matrix> {
  const prompt = readPromptFile(file);
  checkPromptPaths(file, prompt, {
    ...(options.root ? { root: options.root } : {}),
    trustedReads: [...(options.trustedReads ?? []), hubCacheDir()],
    ...(options.model ? { ignoreModel: true } : {}),
  });
  const choice = chooseModel(prompt, file, options);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  if (!fs.existsSync(choice.id)) {
    throw new TuneloopError(
      `model "${choice.id}" is not a local folder`,
      { file },
      choice.from === 'prompt' ? 'download it first, or run with --model DIR' : 'pass --model DIR',
    );
  }
  const baseDir = path.resolve(choice.id);
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
  const allCases = prompt.testData ? prompt.testData.map((t, index) => ({ index, vars: t.values as Variables })) : [{ index: 0, vars: options.vars ?? {} }];
  const cases = options.cases ? allCases.filter((c) => options.cases!.includes(c.index)) : allCases;
  if (options.cases)
    for (const i of options.cases)
      if (!allCases.some((c) => c.index === i)) throw new TuneloopError(`no test case ${i}`, { file }, `cases are 0 to ${allCases.length - 1}`);
  const params = generationParams(prompt);
  const results: Record<string, Record<number, CellResult>> = {};
  const passRates: Record<string, number> = {};
  for (const v of variants) {
    if (options.signal?.aborted) break;
    options.onVariant?.(v);
    let dir = baseDir;
    if (v.adapterDir) {
      if (!fs.existsSync(path.join(baseDir, 'config.json')) || fs.existsSync(path.join(baseDir, 'onnx'))) {
        throw new TuneloopError(
          `adapters are merged into a Hugging Face checkpoint folder, and ${choice.id} is not one`,
          { file },
          'point model (or --model) at the base checkpoint folder',
        );
      }
      options.onProgress?.(`merging ${v.name} into the base model`);
      dir = (await exportCheckpoint(baseDir, { adapterDir: v.adapterDir, cacheDir })).dir;
    }
    const lm: LoadedModel = await loadCausalLM(dir, {
      cacheDir,
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    results[v.name] = {};
    try {
      for (const c of cases) {
        if (options.signal?.aborted) break;
        const r = await generate(lm, { messages: renderMessages(prompt, c.vars) }, params, {
          ...(options.signal ? { signal: options.signal } : {}),
          onToken: (t) => options.onToken?.(v.name, c.index, t),
        });
        const evaluations = evaluate(prompt, r.text, c.vars);
        const cell: CellResult = {
          text: r.text,
          tokens: r.tokens,
          evaluations,
          passed: casePassed(evaluations),
          timeToFirstTokenMs: r.timeToFirstTokenMs,
          tokensPerSecond: r.tokensPerSecond,
        };
        results[v.name]![c.index] = cell;
        options.onCell?.(v.name, c.index, cell);
      }
    } finally {
      await lm.dispose();
    }
    const cells = Object.values(results[v.name]!);
    passRates[v.name] = cells.length ? cells.filter((c) => c.passed).length / cells.length : 1;
  }
  return { file, prompt, model: { ...choice, sha256: modelHash(baseDir, cacheDir) }, variants, cases, results, passRates };
}
