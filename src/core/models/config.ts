import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { ConfigReader } from './config-reader';
import type { DecoderShape } from '../onnx/session';
import { FAMILIES, type FamilySpec } from './families';
import type { ModelConfig, WeightSpec } from './model-config';

export * from './model-config';

/**
 * Hugging Face `config.json` → one normalised description of the model, for every family the engine
 * supports. Each family's spec (families/) applies the defaults that its transformers config class
 * applies, so that a checkpoint loads here exactly as `AutoConfig.from_pretrained` would read it.
 *
 * Keys that fix the shapes of the weights (sizes, layer and head counts) are required: transformers
 * would fill in the defaults of a 7B model, which can only disagree with the weights on disk.
 */

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

/** The family spec a parsed config belongs to. */
export function familySpec(cfg: ModelConfig): FamilySpec {
  return FAMILIES[cfg.family];
}

function familyOf(c: ConfigReader): { spec: FamilySpec; modelType: string } {
  const modelType = c.string('model_type');
  const spec = (FAMILIES as Readonly<Record<string, FamilySpec>>)[modelType];
  if (!spec || !Object.hasOwn(FAMILIES, modelType)) {
    c.error('model_type', `unsupported architecture ${JSON.stringify(modelType)}`, `Tuneloop supports ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  return { spec, modelType };
}

/** Parse a config object (already read from `file`, which is named in errors). */
export function parseModelConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TuneloopError('must be a JSON object', { file });
  }
  const c = new ConfigReader(raw as Record<string, unknown>, file);
  const { spec, modelType } = familyOf(c);
  return spec.parse(c, modelType);
}

/** Read and parse `config.json` from a checkpoint folder (or a path to the file itself). */
export function loadModelConfig(dirOrFile: string): ModelConfig {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TuneloopError(
      `cannot read the model config: ${(e as NodeJS.ErrnoException).code ?? e}`,
      { file },
      'a Hugging Face checkpoint folder holds config.json beside its weights',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TuneloopError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  return parseModelConfig(raw, file);
}

export function architectureOf(cfg: ModelConfig): string {
  return familySpec(cfg).architecture;
}

/** The checkpoint's weight tensors, by Hugging Face name, with their shapes. */
export function expectedWeights(cfg: ModelConfig): WeightSpec[] {
  return familySpec(cfg).weights(cfg);
}

/** Parameters of the model (tied embeddings counted once), from the config alone. */
export function parameterCount(cfg: ModelConfig): number {
  let n = 0;
  for (const w of expectedWeights(cfg)) n += w.shape.reduce((a, b) => a * b, 1);
  return n;
}

export interface WeightMatch {
  /** Expected (canonical) name → the name in the checkpoint. */
  readonly names: ReadonlyMap<string, string>;
  readonly missing: readonly WeightSpec[];
  /** In the checkpoint, not expected, and not a known ignorable buffer. */
  readonly unexpected: readonly string[];
  /** In the checkpoint and ignored as transformers ignores them (old buffers, a tied head saved anyway). */
  readonly ignored: readonly string[];
}

/** Match a checkpoint's tensor names to the weights the config implies, as transformers' loader does. */
export function matchWeights(cfg: ModelConfig, available: readonly string[]): WeightMatch {
  const spec = familySpec(cfg);
  const have = new Set(available);
  const names = new Map<string, string>();
  const missing: WeightSpec[] = [];
  for (const w of spec.weights(cfg)) {
    const short = w.name.startsWith(spec.basePrefix) ? w.name.slice(spec.basePrefix.length) : undefined;
    if (have.has(w.name)) names.set(w.name, w.name);
    else if (short !== undefined && have.has(short)) names.set(w.name, short);
    else missing.push(w);
  }
  const used = new Set(names.values());
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const n of available) {
    if (used.has(n)) continue;
    const tiedHead = cfg.tieWordEmbeddings && n === 'lm_head.weight';
    if (tiedHead || spec.ignoredWeights.some((re) => re.test(n))) ignored.push(n);
    else unexpected.push(n);
  }
  return { names, missing, unexpected, ignored };
}

/** The KV-cache shape of a model folder (a checkpoint or its export), from its parsed config. */
export function decoderShapeOf(dir: string): DecoderShape {
  const cfg = loadModelConfig(dir);
  return { numLayers: cfg.numLayers, numKvHeads: cfg.numKvHeads, headDim: cfg.headDim };
}
