import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import { ConfigReader } from '../models/config-reader';

/**
 * PEFT's `adapter_config.json` for LoRA: what Tuneloop reads, writes and refuses. Keys are PEFT's;
 * features Tuneloop does not implement (DoRA, biases, modules_to_save, layer selection) are refused
 * with the key named rather than silently ignored.
 */
export interface LoraConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  readonly targetModules: string | readonly string[];
  readonly useRslora: boolean;
  readonly fanInFanOut: boolean;
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  readonly baseModelNameOrPath: string | null;
  /** Everything in the file, so that writing it back keeps keys Tuneloop does not interpret. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

function numberMap(c: ConfigReader, key: string): Record<string, number> {
  const o = c.object(key);
  if (!o) return {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.raw)) {
    if (typeof v !== 'number' || !(v > 0)) o.error(k, `must be a positive number, found ${JSON.stringify(v)}`);
    out[k] = v as number;
  }
  return out;
}

export function parseLoraConfig(raw: unknown, file = ADAPTER_CONFIG): LoraConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TuneloopError('must be a JSON object', { file });
  const c = new ConfigReader(raw as Record<string, unknown>, file);
  const type = c.string('peft_type', 'LORA');
  if (type !== 'LORA') c.error('peft_type', `unsupported adapter type ${JSON.stringify(type)}`, 'Tuneloop reads LoRA adapters');
  const task = c.string('task_type', 'CAUSAL_LM');
  if (task !== 'CAUSAL_LM') c.error('task_type', `unsupported task ${JSON.stringify(task)}`, 'Tuneloop adapts causal language models (CAUSAL_LM)');
  const unsupported: [string, (v: unknown) => boolean, string][] = [
    ['use_dora', (v) => v === true, 'DoRA adapters are not supported'],
    ['bias', (v) => v !== undefined && v !== null && v !== 'none', 'only bias: "none" is supported'],
    ['lora_bias', (v) => v === true, 'LoRA biases are not supported'],
    ['modules_to_save', (v) => Array.isArray(v) && v.length > 0, 'fully trained extra modules (modules_to_save) are not supported'],
    ['layers_to_transform', (v) => v !== undefined && v !== null, 'layers_to_transform is not supported; use target_modules'],
    ['exclude_modules', (v) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0), 'exclude_modules is not supported'],
    ['target_parameters', (v) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0), 'target_parameters is not supported'],
    ['use_qalora', (v) => v === true, 'QALoRA is not supported'],
  ];
  for (const [key, bad, why] of unsupported) if (bad(c.raw[key])) c.error(key, why);
  const tm = c.raw.target_modules;
  let targetModules: string | string[];
  if (typeof tm === 'string') targetModules = tm;
  else if (Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string')) targetModules = tm as string[];
  else return c.error('target_modules', `must be a module name list, a regular expression or "all-linear", found ${JSON.stringify(tm)}`);
  const dropout = c.number('lora_dropout', 0);
  if (dropout < 0 || dropout >= 1) c.error('lora_dropout', `must be in [0, 1), found ${dropout}`);
  const base = c.raw.base_model_name_or_path;
  return {
    r: c.int('r', 8, 1),
    loraAlpha: c.positive('lora_alpha', 8),
    loraDropout: dropout,
    targetModules,
    useRslora: c.bool('use_rslora', false),
    fanInFanOut: c.bool('fan_in_fan_out', false),
    rankPattern: numberMap(c, 'rank_pattern'),
    alphaPattern: numberMap(c, 'alpha_pattern'),
    baseModelNameOrPath: typeof base === 'string' ? base : null,
    raw: raw as Record<string, unknown>,
  };
}

export function readLoraConfig(dir: string): LoraConfig {
  const file = path.join(dir, ADAPTER_CONFIG);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TuneloopError(
      `cannot read the adapter config: ${(e as NodeJS.ErrnoException).code ?? e}`,
      { file },
      'a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TuneloopError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  return parseLoraConfig(raw, file);
}

/** The config PEFT would write for these settings (keys as PEFT 0.21 writes them). */
export function loraConfigJson(
  c: Omit<LoraConfig, 'raw' | 'rankPattern' | 'alphaPattern'> & Partial<Pick<LoraConfig, 'rankPattern' | 'alphaPattern'>>,
): Record<string, unknown> {
  return {
    alpha_pattern: c.alphaPattern ?? {},
    base_model_name_or_path: c.baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: c.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: c.rankPattern ?? {},
    target_modules: typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: c.useRslora,
  };
}

export function writeLoraConfig(dir: string, json: Record<string, unknown>): void {
  writeFileAtomic(path.join(dir, ADAPTER_CONFIG), `${JSON.stringify(json, null, 2)}\n`);
}
