import { TuneloopError } from '../errors';
import { targetedModulesWithScale } from '../lora/adapter';
import { parseLoraConfig } from '../lora/config';
import { linearModules, matchesTarget } from '../lora/modules';
import type { ModelConfig } from '../models/config';
import type { LoraModuleSpec } from './lora-params';
import type { RunSpec } from './spec';

/**
 * A run's LoRA settings matched to its model: the modules trained, with rank and scale. Light enough
 * for the extension host and the CLI to check a recipe before they launch the trainer.
 */
export function loraSpecOf(
  cfg: ModelConfig,
  spec: Pick<RunSpec, 'lora' | 'baseModel' | 'recipeFile'>,
): { modules: LoraModuleSpec[]; config: ReturnType<typeof parseLoraConfig>; unmatched: string[] } {
  const config = parseLoraConfig({
    r: spec.lora.r,
    lora_alpha: spec.lora.loraAlpha,
    lora_dropout: spec.lora.loraDropout,
    target_modules: spec.lora.targetModules,
    use_rslora: spec.lora.useRslora,
    base_model_name_or_path: spec.baseModel,
  });
  const modules = targetedModulesWithScale(cfg, config);
  if (modules.length === 0)
    throw new TuneloopError(
      `target_modules ${JSON.stringify(spec.lora.targetModules)} matches no linear layer of this ${cfg.modelType} model`,
      { file: spec.recipeFile, key: 'lora.target_modules' },
      'use module names such as q_proj and v_proj, or all-linear',
    );
  // Names in a list that match no module are typos PEFT would also ignore: they are reported, not dropped silently.
  const unmatched = Array.isArray(spec.lora.targetModules)
    ? spec.lora.targetModules.filter((n) => !modules.some((m) => matchesTarget(m.module.name, [n])))
    : [];
  return { modules, config, unmatched };
}

/** The warning for target_modules names that match no module of the model. */
export function unmatchedTargetsWarning(cfg: ModelConfig, unmatched: readonly string[]): string | undefined {
  if (unmatched.length === 0) return undefined;
  const names = [...new Set(linearModules(cfg).map((m) => m.name.split('.').at(-1)!))];
  return `target_modules ${unmatched.map((n) => `"${n}"`).join(', ')} match${unmatched.length === 1 ? 'es' : ''} no module of this ${cfg.modelType} model and ${unmatched.length === 1 ? 'is' : 'are'} ignored (its linear modules: ${names.join(', ')})`;
}

/** Parameters a LoRA adapter trains: r · (in + out) per module (A is [r, in], B is [out, r]). */
export function loraParameterCount(
  modules: readonly { readonly r: number; readonly module: { readonly inFeatures: number; readonly outFeatures: number } }[],
): number {
  return modules.reduce((a, m) => a + m.r * (m.module.inFeatures + m.module.outFeatures), 0);
}
