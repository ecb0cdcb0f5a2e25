import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import { readJsonFile } from '../fs/json';
import { readTextFile } from '../fs/text';
import { BASE_DTYPES, DATASET_FORMATS, DISTILL_TOP_K, SCHEDULE_NAMES } from '../recipes/vocabulary';
import { z } from 'zod';
import { defaultCacheDir, fileSha256 } from '../export/cache';
import { parsePrompt, renderMessages } from '../prompts';
import type { Recipe } from '../recipes/recipe';
import { checkRecipeFile, type RecipeCheckOptions } from '../recipes/recipe';
import { TensorStore } from '../safetensors/checkpoint';
import { type Example, readJsonl, type SoftTargets, splitTrainValidation, tokenizeRows } from './data';

/**
 * What a run needs, resolved from its recipe once, at launch: absolute paths, the base model's and
 * dataset's content hashes, and every setting. The trainer reads this (spec.json); recipe.yml beside
 * it is the recipe as written, plus the resolved values, for people.
 */
export interface RunSpec {
  readonly format: 1;
  readonly recipeFile: string;
  readonly name: string;
  readonly baseModel: string;
  readonly baseDir: string;
  /** Content hashes, recorded by the trainer when the run starts (hashing a large checkpoint takes a while). */
  readonly baseSha256?: string;
  readonly dataset: string;
  readonly datasetSha256?: string;
  readonly datasetFormat?: Recipe['dataset']['format'];
  readonly promptFile?: string;
  readonly validationSplit: number;
  readonly method: Recipe['method'];
  readonly lora: Recipe['lora'];
  readonly training: Recipe['training'];
  readonly output?: string;
  /** Replace `output` even when it holds files Tuneloop did not write (--force, or the panel's question). */
  readonly force?: boolean;
  /** The workspace root the recipe's paths were checked against (real path). */
  readonly root?: string;
  readonly threads?: number;
  /** Token-level distillation (a recipe with teacher.kind token): the soft loss's top k, temperature and weight. */
  readonly softTargets?: SoftTargets;
}

/** The type the frozen base weights are held in during training (RunSpec.training.baseDtype). */
export type { BaseDtype } from '../recipes/vocabulary';

export const SPEC_FILE = 'spec.json';

/** spec.json as the trainer reads it back: checked, so a damaged or hand-edited file is an error naming the key. */
const RunSpecFile = z.object({
  format: z.literal(1),
  recipeFile: z.string(),
  name: z.string(),
  baseModel: z.string(),
  baseDir: z.string(),
  baseSha256: z.string().optional(),
  dataset: z.string(),
  datasetSha256: z.string().optional(),
  datasetFormat: z.enum([...DATASET_FORMATS, 'prompt-file']).optional(),
  promptFile: z.string().optional(),
  validationSplit: z.number().nonnegative(),
  method: z.enum(['lora', 'full']),
  lora: z.object({
    r: z.number().int().positive(),
    loraAlpha: z.number(),
    loraDropout: z.number(),
    targetModules: z.union([z.string(), z.array(z.string())]),
    useRslora: z.boolean(),
  }),
  training: z.object({
    learningRate: z.number(),
    epochs: z.number().optional(),
    maxSteps: z.number().int().optional(),
    batchSize: z.number().int().positive(),
    gradientAccumulation: z.number().int().positive(),
    maxSeqLen: z.number().int().positive(),
    schedule: z.enum(SCHEDULE_NAMES),
    warmupSteps: z.number().int().nonnegative(),
    weightDecay: z.number(),
    maxGradNorm: z.number(),
    seed: z.number().int(),
    evalEvery: z.number().int().optional(),
    checkpointEvery: z.number().int().optional(),
    trainOnPrompt: z.boolean(),
    // Added after format 1 shipped: absent in older run folders' spec.json, which trained with these defaults.
    gradientCheckpointing: z.boolean().default(false),
    baseDtype: z.enum(BASE_DTYPES).default('fp32'),
  }),
  output: z.string().optional(),
  force: z.boolean().optional(),
  softTargets: z.object({ k: z.number().int().positive(), temperature: z.number().positive(), alpha: z.number().min(0).max(1) }).optional(),
  root: z.string().optional(),
  threads: z.number().int().positive().optional(),
});
// The schema names exactly RunSpec's keys (zod drops keys it does not know, which would lose a new field).
const SCHEMA_KEYS_MATCH: keyof RunSpec extends keyof z.infer<typeof RunSpecFile>
  ? keyof z.infer<typeof RunSpecFile> extends keyof RunSpec
    ? true
    : never
  : never = true;
void SCHEMA_KEYS_MATCH;

/** The recipe's problems as one error (the first error, positioned), or the recipe. */
export function loadRecipe(file: string, options: RecipeCheckOptions = {}): Recipe {
  const r = checkRecipeFile(file, options);
  const err = r.diagnostics.find((d) => d.severity === 'error');
  if (err || !r.recipe) {
    const d = err ?? r.diagnostics[0];
    throw new TuneloopError(
      d ? d.message : 'cannot read the recipe',
      { file, ...(d ? { line: d.line, column: d.column } : {}) },
      'run tuneloop check on it for every problem',
    );
  }
  return r.recipe;
}

/** Content hash of a checkpoint folder's config and weights. */
export function checkpointSha256(dir: string, cacheDir = defaultCacheDir()): string {
  const store = TensorStore.openDir(dir);
  try {
    const files = [path.join(dir, 'config.json'), ...store.files.map((f) => f.path)];
    const h = crypto.createHash('sha256');
    for (const f of files) h.update(`${path.basename(f)} ${fileSha256(f, cacheDir)}\n`);
    return h.digest('hex');
  } finally {
    store.close();
  }
}

/** The spec of a recipe, without hashes: cheap enough for an extension host or a CLI to make. */
export function resolveSpec(recipe: Recipe, baseDir: string, options: { threads?: number; root?: string; force?: boolean } = {}): RunSpec {
  const near = (rel: string) => path.resolve(path.dirname(recipe.file), rel);
  const dataset = near(recipe.dataset.path);
  return {
    format: 1,
    recipeFile: path.resolve(recipe.file),
    name: recipe.name,
    baseModel: recipe.baseModel,
    baseDir,
    dataset,
    ...(recipe.dataset.format ? { datasetFormat: recipe.dataset.format } : {}),
    ...(recipe.dataset.promptFile ? { promptFile: near(recipe.dataset.promptFile) } : {}),
    validationSplit: recipe.dataset.validationSplit,
    method: recipe.method,
    lora: recipe.lora,
    training: recipe.training,
    ...(recipe.output ? { output: near(recipe.output) } : {}),
    ...(options.force ? { force: true } : {}),
    ...(options.root ? { root: options.root } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(recipe.distill?.teacher.kind === 'token'
      ? { softTargets: { k: DISTILL_TOP_K, temperature: recipe.distill.teacher.temperature, alpha: recipe.distill.teacher.alpha } }
      : {}),
  };
}

/** The spec with the base model's and dataset's content hashes (the trainer records them as it starts). */
export function withHashes(spec: RunSpec, cacheDir = defaultCacheDir()): RunSpec {
  return {
    ...spec,
    baseSha256: spec.baseSha256 ?? checkpointSha256(spec.baseDir, cacheDir),
    datasetSha256: spec.datasetSha256 ?? fileSha256(spec.dataset, cacheDir),
  };
}

/** Write spec.json and recipe.yml (the recipe as written, then what it resolved to). */
export function writeSpec(runDir: string, spec: RunSpec): void {
  writeFileAtomic(path.join(runDir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  const original = fs.readFileSync(spec.recipeFile, 'utf8');
  const resolved = [
    '',
    '# Resolved by tuneloop when this run started:',
    'resolved:',
    `  recipe: ${JSON.stringify(spec.recipeFile)}`,
    `  base_model_dir: ${JSON.stringify(spec.baseDir)}`,
    `  base_model_sha256: ${spec.baseSha256 ?? 'pending'}`,
    `  dataset: ${JSON.stringify(spec.dataset)}`,
    `  dataset_sha256: ${spec.datasetSha256 ?? 'pending'}`,
    '',
  ].join('\n');
  writeFileAtomic(path.join(runDir, 'recipe.yml'), `${original.trimEnd()}\n${resolved}`);
}

export function readSpec(runDir: string): RunSpec {
  return readJsonFile(path.join(runDir, SPEC_FILE), RunSpecFile, "run's spec", 'the run folder is damaged: start the run again') as RunSpec;
}

/** Rows of the dataset as examples, split into training and validation as the spec says. */
export function prepareData(
  spec: RunSpec,
  tok: PreTrainedTokenizer,
  eosTokenId: number,
): { train: Example[]; validation: Example[]; truncated: number; tokensCut: number } {
  let rows = readJsonl(spec.dataset);
  let format = spec.datasetFormat;
  if (format === 'prompt-file') {
    // Each row holds the prompt file's variables plus the answer (completion or expected): the
    // prompt file's messages, rendered, and the answer as the assistant turn.
    const promptFile = spec.promptFile!;
    const parsed = parsePrompt(readTextFile(promptFile, 'prompt file'), promptFile);
    if (!parsed.prompt) throw new TuneloopError('the prompt file has errors', { file: promptFile }, 'run tuneloop check on it');
    const prompt = parsed.prompt;
    rows = rows.map(({ line, row }) => {
      const answer = row.completion ?? row.expected;
      if (typeof answer !== 'string')
        throw new TuneloopError('a prompt-file row needs "completion" (or "expected"): the answer to learn', { file: spec.dataset, line });
      const messages = [...renderMessages(prompt, row as Record<string, string>), { role: 'assistant' as const, content: answer }];
      return { line, row: { messages } };
    });
    format = 'messages';
  }
  const report = tokenizeRows(tok, rows, spec.dataset, {
    ...(format ? { format } : {}),
    maxSeqLen: spec.training.maxSeqLen,
    trainOnPrompt: spec.training.trainOnPrompt,
    eosTokenId,
  });
  const split = splitTrainValidation(report.examples, spec.validationSplit, spec.training.seed);
  return { ...split, truncated: report.truncated, tokensCut: report.tokensCut };
}
