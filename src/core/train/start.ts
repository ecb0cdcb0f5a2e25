import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { fetchModel } from '../hub';
import { TensorStore } from '../safetensors/checkpoint';
import { CANCEL, checkpointDir, checkpointSteps, createRunDir, launchDetached, ownerAlive } from './run';
import { loadRecipe, resolveSpec, writeSpec } from './spec';

/**
 * Launching runs: resolve a recipe, make the run folder, start the detached trainer. The extension
 * and the CLI both start runs this way; neither trains in its own process.
 */
export interface StartOptions {
  readonly runsDir: string;
  /** The bundled trainer entry (dist/trainer.js). */
  readonly trainerEntry: string;
  readonly threads?: number;
  /** Allow downloading a Hub base model (needs network access). */
  readonly allowDownload?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

async function resolveBaseDir(baseModel: string, recipeFile: string, options: StartOptions): Promise<string> {
  const local = path.resolve(path.dirname(recipeFile), baseModel);
  let dir: string;
  if (fs.existsSync(local)) dir = local;
  else if (/^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(baseModel)) {
    // A Hub id: the standard Hugging Face cache is searched first; downloading needs permission.
    const m = await fetchModel(baseModel, options.allowDownload ? {} : { offline: true });
    if (m.kind !== 'safetensors') throw new TuneloopError(`${baseModel} is an ONNX export; training needs the Hugging Face checkpoint (safetensors weights)`, { file: recipeFile, key: 'base_model' });
    dir = m.dir;
  } else throw new TuneloopError(`base model folder "${baseModel}" not found (looked for ${local})`, { file: recipeFile, key: 'base_model' });
  TensorStore.openDir(dir).close(); // safetensors weights present and valid
  return dir;
}

export async function startRun(recipeFile: string, options: StartOptions): Promise<{ runDir: string; pid: number }> {
  const recipe = loadRecipe(recipeFile);
  const baseDir = await resolveBaseDir(recipe.baseModel, recipeFile, options);
  const spec = resolveSpec(recipe, baseDir, options.threads ? { threads: options.threads } : {});
  const runDir = createRunDir(options.runsDir, recipe.name);
  writeSpec(runDir, spec);
  const pid = launchDetached(options.trainerEntry, [runDir], runDir, options.env);
  return { runDir, pid };
}

/** The run's latest checkpoint folder, if any. */
export function latestCheckpoint(runDir: string): string | undefined {
  const [latest] = checkpointSteps(runDir);
  return latest === undefined ? undefined : checkpointDir(runDir, latest);
}

/** Continue a cancelled or failed run from its latest checkpoint, in the same folder. */
export function resumeRun(runDir: string, options: Pick<StartOptions, 'trainerEntry' | 'env'>): { pid: number; checkpoint: string } {
  if (ownerAlive(runDir)) throw new TuneloopError('the run is still going', { file: runDir }, 'follow it, or cancel it before resuming');
  const checkpoint = latestCheckpoint(runDir);
  if (!checkpoint) throw new TuneloopError('the run has no checkpoint to resume from', { file: runDir }, 'start it again');
  // The request that stopped the run must not stop its continuation.
  fs.rmSync(path.join(runDir, CANCEL), { force: true });
  const pid = launchDetached(options.trainerEntry, [runDir, '--resume', checkpoint], runDir, options.env);
  return { pid, checkpoint };
}
