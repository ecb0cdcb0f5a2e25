import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { ADAPTER_CONFIG } from '../lora/config';
import { hostedModel, type PromptFile } from '../prompts';
import { readEvents } from '../train/events';
import { EVENTS } from '../train/run';
import { loadRecipe, readSpec } from '../train/spec';
import { RECIPE_FILE, type RecipeCheckOptions } from '../recipes/recipe';
import { DEFAULT_DTYPE, type ExportDtype } from '../dtypes';

/**
 * What a prompt file is run on: the base model and each adapter it lists. An adapter entry is a PEFT
 * adapter folder, or an adapter recipe whose trained adapter is found in its `output` folder or in
 * the newest finished run of that recipe.
 */
export interface Variant {
  readonly name: string;
  readonly adapterDir?: string;
  readonly minPassRate: number;
  /** For an adapter: the most regressions against the base it may have (core/compare/scores.ts); absent, no limit. */
  readonly maxRegressions?: number | undefined;
  /** The most probe flips it may have (core/probes/report.ts); absent, no limit. */
  readonly maxProbeFlips?: number | undefined;
}

export interface ModelChoice {
  /** The model as named (a folder or a Hub id), for reports and snapshots. */
  readonly id: string;
  /** Why this one: the --model flag, the prompt's `model`, or the default. */
  readonly from: 'option' | 'prompt' | 'default';
  /** Set when the prompt names a hosted model that runs locally as the default instead. */
  readonly hosted?: string;
}

/** The model to run: an explicit choice, the prompt's `model` unless it is hosted, else the default. */
export function chooseModel(prompt: PromptFile, promptFile: string, options: { model?: string | undefined; defaultModel: string }): ModelChoice {
  if (options.model) return { id: options.model, from: 'option' };
  if (prompt.model) {
    const hosted = hostedModel(prompt.model);
    if (!hosted) {
      const local = path.resolve(path.dirname(promptFile), prompt.model);
      return { id: fs.existsSync(local) ? local : prompt.model, from: 'prompt' };
    }
    return { id: options.defaultModel, from: 'default', hosted: prompt.model };
  }
  return { id: options.defaultModel, from: 'default' };
}

export interface DtypeChoice {
  readonly dtype: ExportDtype;
  /** Why this one: the --dtype flag, the prompt's `dtype`, the tuneloop.dtype setting, or the default (fp32). */
  readonly from: 'option' | 'prompt' | 'setting' | 'default';
}

/**
 * The dtype every variant runs in: the command line's --dtype, else the prompt file's `dtype`, else
 * the extension's tuneloop.dtype setting, else fp32. One rule for the CLI and the panel.
 */
export function chooseDtype(prompt: PromptFile, options: { option?: ExportDtype | undefined; setting?: ExportDtype | undefined } = {}): DtypeChoice {
  if (options.option) return { dtype: options.option, from: 'option' };
  if (prompt.dtype) return { dtype: prompt.dtype, from: 'prompt' };
  if (options.setting) return { dtype: options.setting, from: 'setting' };
  return { dtype: DEFAULT_DTYPE, from: 'default' };
}

/** The adapter a recipe produced: its output folder, else the newest run of it that finished. */
export function trainedAdapterOf(recipeFile: string, runsDirs: readonly string[], paths: RecipeCheckOptions = {}): string {
  const recipe = loadRecipe(recipeFile, paths);
  if (recipe.output) {
    const out = path.resolve(path.dirname(recipeFile), recipe.output);
    if (fs.existsSync(path.join(out, ADAPTER_CONFIG))) return out;
  }
  const abs = path.resolve(recipeFile);
  let best: { dir: string; name: string } | undefined;
  for (const runs of runsDirs) {
    if (!fs.existsSync(runs)) continue;
    for (const name of fs.readdirSync(runs)) {
      const dir = path.join(runs, name);
      try {
        if (readSpec(dir).recipeFile !== abs) continue;
      } catch {
        continue;
      }
      const done = readEvents(path.join(dir, EVENTS)).events.some((e) => e.type === 'done');
      if (done && fs.existsSync(path.join(dir, 'adapter', ADAPTER_CONFIG)) && (!best || name > best.name)) best = { dir: path.join(dir, 'adapter'), name };
    }
  }
  if (!best)
    throw new TuneloopError(
      'this adapter recipe has not been trained yet',
      { file: recipeFile },
      `run: tuneloop train ${path.relative(process.cwd(), recipeFile) || recipeFile}`,
    );
  return best.dir;
}

/**
 * The name of the variant for an adapter (a recipe or a PEFT folder) at `p`: its file name without
 * `.adapter.yml`, made unique among `seen` (and added to it). The panel names them the same way, so
 * that the snapshots it accepts match what `tuneloop eval` reads.
 */
export function adapterVariantName(p: string, seen: Set<string>): string {
  let name = path.basename(p).replace(RECIPE_FILE, '');
  for (let i = 2; seen.has(name); i++) name = `${path.basename(p)}-${i}`;
  seen.add(name);
  return name;
}

/** The variants, with adapters resolved only for those in `only` (when given). */
export function resolveVariants(
  prompt: PromptFile,
  promptFile: string,
  options: { runsDirs: readonly string[]; only?: readonly string[]; paths?: RecipeCheckOptions },
): Variant[] {
  const base: Variant = {
    name: 'base',
    minPassRate: prompt.minPassRate ?? 1,
    ...(prompt.maxProbeFlips !== undefined ? { maxProbeFlips: prompt.maxProbeFlips } : {}),
  };
  const seen = new Set(['base']);
  const adapters: Variant[] = [];
  for (const a of prompt.adapters) {
    const p = path.resolve(path.dirname(promptFile), a.path);
    const isRecipe = RECIPE_FILE.test(p);
    const name = adapterVariantName(p, seen);
    if (options.only && !options.only.includes(name)) continue;
    if (!isRecipe && !fs.existsSync(path.join(p, ADAPTER_CONFIG))) {
      throw new TuneloopError(`adapter "${a.path}" is neither an adapter recipe nor a PEFT adapter folder`, {
        file: promptFile,
        ...(a.span ? { line: a.span.line, column: a.span.column } : {}),
      });
    }
    const adapterDir = isRecipe ? trainedAdapterOf(p, options.runsDirs, options.paths) : p;
    const maxRegressions = a.maxRegressions ?? prompt.maxRegressions;
    const maxProbeFlips = a.maxProbeFlips ?? prompt.maxProbeFlips;
    adapters.push({
      name,
      adapterDir,
      minPassRate: a.minPassRate ?? prompt.minPassRate ?? 1,
      ...(maxRegressions !== undefined ? { maxRegressions } : {}),
      ...(maxProbeFlips !== undefined ? { maxProbeFlips } : {}),
    });
  }
  return [base, ...adapters].filter((v) => !options.only || options.only.includes(v.name));
}
