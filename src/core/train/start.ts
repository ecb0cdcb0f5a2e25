import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { TensorStore } from '../safetensors/checkpoint';
import { checkOutput } from '../fs/output';
import { findRoot } from '../fs/root';
import { describeFsError } from '../fs/text';
import { defaultCacheDir as hubCacheDir } from '../hub';
import { loadModelConfig } from '../models/config';
import { resolveModel } from '../models/resolve';
import { outputProtects, type Recipe } from '../recipes/recipe';
import { CANCEL, checkpointDir, checkpointSteps, createRunDir, EVENTS, inspectRun, launchDetached, ownerAlive } from './run';
import { loadRecipe, resolveSpec, SPEC_FILE, writeSpec } from './spec';
import { loraSpecOf, unmatchedTargetsWarning } from './lora-spec';
import { assertTrainingFits, type MemoryPlan, planTrainingMemory } from './memory';
import { availableMemory } from '../infer/memory';

/**
 * Launching runs: resolve a recipe, make the run folder, start the detached trainer. The extension
 * and the CLI both start runs this way; neither trains in its own process.
 */
export interface StartOptions {
  readonly runsDir: string;
  /** The bundled trainer entry (dist/trainer.js). */
  readonly trainerEntry: string;
  readonly threads?: number;
  /** Allow downloading a Hub base model the Hugging Face cache does not hold (needs network access). */
  readonly allowDownload?: boolean;
  /** How the user allows a download where the caller runs (`run with --download`), for the message when it is not allowed. */
  readonly downloadHint?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The workspace root the recipe's paths must stay inside (default: found from the recipe, core/fs/root.ts). */
  readonly root?: string;
  /** Folders a base model may be read from wherever they are (the embedded model); the Hub cache always may. */
  readonly trustedReads?: readonly string[];
  /** Replace the recipe's output folder even when it holds files Tuneloop did not write. */
  readonly force?: boolean;
  /** Bytes available for the memory check (default: what the system reports). */
  readonly availableMemory?: number;
  /**
   * The recipe run on another dataset (absolute path) under another name, its adapter copied to no
   * output: a distillation's baseline, the same student trained the same way on reference answers.
   */
  readonly variant?: { readonly name: string; readonly dataset: string };
}

async function resolveBaseDir(baseModel: string, recipeFile: string, options: StartOptions): Promise<string> {
  // A local folder (relative to the recipe), else a Hub id from the Hugging Face cache, downloaded only with permission.
  const place = { file: recipeFile, key: 'base_model' };
  const m = await resolveModel(baseModel, {
    base: path.dirname(recipeFile),
    allowDownload: options.allowDownload,
    downloadHint: options.downloadHint,
    place,
  });
  if (m.hub && m.hub.kind !== 'safetensors')
    throw new TuneloopError(`${baseModel} is an ONNX export; training needs the Hugging Face checkpoint (safetensors weights)`, place);
  TensorStore.openDir(m.dir).close(); // safetensors weights present and valid
  return m.dir;
}

/** Folders of the runs folder that can be written: an error that says so, instead of a trainer that dies without a trace. */
function checkWritable(dir: string, what: string): void {
  const probe = path.join(dir, `.tuneloop-write-check-${process.pid}`);
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' });
    fs.rmSync(probe, { force: true });
  } catch (e) {
    throw new TuneloopError(
      `cannot write in ${what}: ${describeFsError(e)}`,
      { file: dir },
      'choose a runs folder you can write (--runs DIR, or the tuneloop.runsFolder setting)',
    );
  }
}

/** The runs folder made (or found): an error naming the path when it is a file or cannot be made. */
export function ensureRunsDir(runsDir: string): void {
  try {
    const st = fs.statSync(runsDir, { throwIfNoEntry: false });
    if (st && !st.isDirectory())
      throw new TuneloopError('the runs folder is a file', { file: runsDir }, 'point --runs (or the tuneloop.runsFolder setting) at a folder');
    fs.mkdirSync(runsDir, { recursive: true });
  } catch (e) {
    if (e instanceof TuneloopError) throw e;
    throw new TuneloopError(
      `cannot make the runs folder: ${describeFsError(e)}`,
      { file: runsDir },
      'point --runs (or the tuneloop.runsFolder setting) at a folder you can write',
    );
  }
  checkWritable(runsDir, 'the runs folder');
}

export interface StartedRun {
  readonly runDir: string;
  readonly pid: number;
  /** Problems that do not stop the run (target_modules names that match nothing, …). */
  readonly warnings: readonly string[];
  /** The run's memory estimate against what is available (see train/memory.ts). */
  readonly memory: MemoryPlan;
}

export async function startRun(recipeFile: string, options: StartOptions): Promise<StartedRun> {
  const root = findRoot(recipeFile, options.root);
  const loaded = loadRecipe(recipeFile, { root, trustedReads: [...(options.trustedReads ?? []), hubCacheDir()] });
  const recipe = options.variant ? variantOf(loaded, options.variant) : loaded;
  const dataset = path.resolve(path.dirname(recipeFile), recipe.dataset.path);
  if (recipe.distill && !fs.existsSync(dataset))
    throw new TuneloopError(
      `dataset "${recipe.dataset.path}" is what tuneloop distill writes, and it has not been written yet`,
      { file: recipeFile, key: 'dataset.path' },
      `run tuneloop distill ${path.relative(process.cwd(), recipeFile) || recipeFile}`,
    );
  const baseDir = await resolveBaseDir(recipe.baseModel, recipeFile, options);
  const spec = resolveSpec(recipe, baseDir, { root, ...(options.threads ? { threads: options.threads } : {}), ...(options.force ? { force: true } : {}) });
  if (spec.output) {
    const s = recipe.spans.output;
    checkOutput(spec.output, {
      ...(options.force ? { force: true } : {}),
      protect: outputProtects(recipe, root),
      place: { file: recipeFile, ...(s ? { line: s.line, column: s.column } : { key: 'output' }) },
    });
  }
  const warnings: string[] = [];
  const cfg = loadModelConfig(baseDir);
  if (spec.method === 'lora') {
    const w = unmatchedTargetsWarning(cfg, loraSpecOf(cfg, spec).unmatched);
    if (w) warnings.push(w);
  }
  // Refused here, before a process starts, when the machine cannot hold the run (the trainer checks again).
  const memory = planTrainingMemory(cfg, spec, options.availableMemory ?? availableMemory());
  assertTrainingFits(memory, recipeFile);
  ensureRunsDir(options.runsDir);
  const runDir = createRunDir(options.runsDir, recipe.name);
  writeSpec(runDir, spec);
  const pid = launchDetached(options.trainerEntry, [runDir], runDir, options.env);
  return { runDir, pid, warnings, memory };
}

function variantOf(recipe: Recipe, variant: NonNullable<StartOptions['variant']>): Recipe {
  const { output: _output, ...rest } = recipe;
  return { ...rest, name: variant.name, dataset: { ...recipe.dataset, path: path.relative(path.dirname(recipe.file), variant.dataset) } };
}

/** The run's latest checkpoint folder, if any. */
export function latestCheckpoint(runDir: string): string | undefined {
  const [latest] = checkpointSteps(runDir);
  return latest === undefined ? undefined : checkpointDir(runDir, latest);
}

/** Continue a cancelled or failed run from its latest checkpoint, in the same folder. */
export function resumeRun(runDir: string, options: Pick<StartOptions, 'trainerEntry' | 'env'>): { pid: number; checkpoint: string; offset: number } {
  const st = fs.statSync(runDir, { throwIfNoEntry: false });
  if (!st?.isDirectory() || !fs.existsSync(path.join(runDir, SPEC_FILE))) {
    throw new TuneloopError(
      st ? 'not a run folder (it has no spec.json)' : 'no such run folder',
      { file: runDir },
      'name a folder under the runs folder, e.g. .tuneloop/runs/<time>-<name>',
    );
  }
  if (ownerAlive(runDir)) throw new TuneloopError('the run is still going', { file: runDir }, 'follow it, or cancel it before resuming');
  const summary = inspectRun(runDir);
  if (summary.state === 'done') {
    throw new TuneloopError(
      `the run finished at step ${summary.lastStep}: there is nothing to resume`,
      { file: runDir },
      'to train longer, raise max_steps in the recipe and start a new run',
    );
  }
  checkWritable(runDir, 'the run folder');
  const checkpoint = latestCheckpoint(runDir);
  if (!checkpoint) throw new TuneloopError('the run has no checkpoint to resume from', { file: runDir }, 'start it again');
  // The request that stopped the run must not stop its continuation.
  fs.rmSync(path.join(runDir, CANCEL), { force: true });
  // Followers start here: what the run held before (including the failure of a trainer that died,
  // which inspectRun has just recorded) belongs to the earlier part.
  const offset = fs.statSync(path.join(runDir, EVENTS), { throwIfNoEntry: false })?.size ?? 0;
  const pid = launchDetached(options.trainerEntry, [runDir, '--resume', checkpoint], runDir, options.env);
  return { pid, checkpoint, offset };
}
