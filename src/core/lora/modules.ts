import { expectedWeights, familySpec, type ModelConfig } from '../models/config';

/** A linear layer of the base model, by its Hugging Face module path. */
export interface LinearModule {
  /** e.g. `model.layers.0.self_attn.q_proj`, `transformer.h.0.attn.c_attn` */
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** GPT-2's Conv1D: weight stored [in, out] (PEFT's fan_in_fan_out). */
  readonly conv1d: boolean;
}

/** Every linear layer of the model (the LM head last), from the weights its config implies. */
export function linearModules(cfg: ModelConfig): LinearModule[] {
  const spec = familySpec(cfg);
  const conv1d = spec.weightLayout === 'conv1d';
  const out: LinearModule[] = [];
  for (const w of expectedWeights(cfg)) {
    if (w.shape.length !== 2 || !w.name.endsWith('.weight') || spec.embeddings.test(w.name)) continue;
    const name = w.name.slice(0, -'.weight'.length);
    const isHead = name === 'lm_head';
    const [a, b] = w.shape as [number, number];
    out.push(conv1d && !isHead ? { name, inFeatures: a, outFeatures: b, conv1d: true } : { name, inFeatures: b, outFeatures: a, conv1d: false });
  }
  if (cfg.tieWordEmbeddings) out.push({ name: 'lm_head', inFeatures: cfg.hiddenSize, outFeatures: cfg.vocabSize, conv1d: false });
  return out;
}

/**
 * PEFT's rule for which modules an adapter targets (tuners_utils.check_target_module_exists): a string
 * is a regular expression the whole module name must match; a list matches a module whose name is an
 * entry or ends with `.entry`; `all-linear` is every linear layer but the output head.
 */
export function matchesTarget(name: string, target: string | readonly string[]): boolean {
  if (typeof target === 'string') {
    if (target === 'all-linear') return name !== 'lm_head';
    return new RegExp(`^(?:${target})$`).test(name);
  }
  return target.some((t) => name === t || name.endsWith(`.${t}`));
}

/** PEFT's pattern lookup for rank_pattern / alpha_pattern keys: the key matches the end of the module name. */
export function patternValue(name: string, patterns: Readonly<Record<string, number>>): number | undefined {
  for (const [key, value] of Object.entries(patterns)) {
    if (new RegExp(`(^|.*\\.)${key}$`).test(name)) return value;
  }
  return undefined;
}
