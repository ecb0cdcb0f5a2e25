import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import type { ModelConfig } from '../models/config';
import { readSafetensors, writeSafetensors } from '../safetensors';
import { fromFloat32, toFloat32 } from '../safetensors/dtype';
import { assertFinite } from '../safetensors/finite';
import { ADAPTER_WEIGHTS, type LoraConfig, readLoraConfig, writeLoraConfig } from './config';
import { type LinearModule, linearModules, matchesTarget, patternValue } from './modules';

/**
 * A LoRA adapter in PEFT's format, matched to a base model: for each targeted linear module, A [r, in]
 * and B [out, r] (float32) and its scale, lora_alpha / r (or / √r with use_rslora). PEFT's keys are
 * `base_model.model.<module>.lora_A.weight` and `.lora_B.weight`.
 */
export interface LoraWeights {
  readonly module: LinearModule;
  readonly r: number;
  readonly scale: number;
  /** [r, in] */
  readonly a: Float32Array;
  /** [out, r] */
  readonly b: Float32Array;
}

export interface Adapter {
  readonly dir: string;
  readonly config: LoraConfig;
  /** By module name. */
  readonly modules: ReadonlyMap<string, LoraWeights>;
}

export const PEFT_PREFIX = 'base_model.model.';

export function peftKey(module: string, which: 'A' | 'B'): string {
  return `${PEFT_PREFIX}${module}.lora_${which}.weight`;
}

/** lora_alpha / r, or lora_alpha / √r with rsLoRA, with PEFT's per-module rank and alpha patterns. */
export function moduleScale(config: LoraConfig, module: string): { r: number; scale: number } {
  const r = patternValue(module, config.rankPattern) ?? config.r;
  const alpha = patternValue(module, config.alphaPattern) ?? config.loraAlpha;
  return { r, scale: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

/** The modules `c` targets in the model, each with its rank and scale: what a LoRA training graph is built from. */
export function targetedModulesWithScale(cfg: ModelConfig, c: LoraConfig): { module: LinearModule; r: number; scale: number }[] {
  return targetedModules(cfg, c).map((module) => ({ module, ...moduleScale(c, module.name) }));
}

/** The modules of `base` an adapter config targets. */
export function targetedModules(base: ModelConfig, config: LoraConfig): LinearModule[] {
  return linearModules(base).filter((m) => matchesTarget(m.name, config.targetModules));
}

/**
 * Read an adapter folder and match it to the base model. A key for a module the base lacks, a shape
 * that disagrees, or a targeted module without weights is an error naming the module.
 */
export function readAdapter(dir: string, base: ModelConfig): Adapter {
  const config = readLoraConfig(dir);
  const file = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(file)) {
    const bin = path.join(dir, 'adapter_model.bin');
    throw new TuneloopError(
      `missing ${ADAPTER_WEIGHTS}`,
      { file },
      fs.existsSync(bin)
        ? 'adapter_model.bin is pickled and is never loaded: save the adapter with safe_serialization=True'
        : 'a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors',
    );
  }
  const tensors = readSafetensors(file);
  const all = new Map(linearModules(base).map((m) => [m.name, m]));
  const modules = new Map<string, LoraWeights>();
  const seen = new Set<string>();
  for (const key of tensors.keys()) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.[\w-]+)?\.weight$/.exec(key);
    if (!m) throw new TuneloopError('is not a LoRA weight key', { file, key }, `expected ${PEFT_PREFIX}<module>.lora_A.weight / .lora_B.weight`);
    const name = m[1]!;
    if (!all.has(name)) {
      throw new TuneloopError(
        `adapter targets module "${name}", which the base model does not have`,
        { file, key },
        'was this adapter trained on another base model?',
      );
    }
    seen.add(name);
  }
  for (const name of seen) {
    const mod = all.get(name)!;
    const { r, scale } = moduleScale(config, name);
    const get = (which: 'A' | 'B', shape: [number, number]): Float32Array => {
      const key = peftKey(name, which);
      const t = tensors.get(key) ?? tensors.get(`${PEFT_PREFIX}${name}.lora_${which}.default.weight`);
      if (!t) throw new TuneloopError(`lora_${which} is missing for module "${name}"`, { file, key });
      if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
        throw new TuneloopError(
          `module "${name}": lora_${which} has shape [${t.shape.join(', ')}], but the base model and r = ${r} need [${shape.join(', ')}]`,
          { file, key },
          'was this adapter trained on another base model?',
        );
      }
      return assertFinite(toFloat32(t.dtype, t.data).slice(), { file, key });
    };
    modules.set(name, { module: mod, r, scale, a: get('A', [r, mod.inFeatures]), b: get('B', [mod.outFeatures, r]) });
  }
  for (const m of targetedModules(base, config)) {
    if (!modules.has(m.name))
      throw new TuneloopError(`module "${m.name}" is targeted by target_modules but has no weights`, { file }, 'the adapter files are incomplete');
  }
  return { dir, config, modules };
}

/**
 * Write an adapter as PEFT does: adapter_config.json and adapter_model.safetensors with PEFT's keys,
 * float32. The folder is written under a temporary name and renamed, so it is never half there.
 */
export function writeAdapter(dir: string, configJson: Record<string, unknown>, modules: Iterable<Pick<LoraWeights, 'module' | 'r' | 'a' | 'b'>>): void {
  const tmp = `${dir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Uint8Array }>();
    for (const m of modules) {
      tensors.set(peftKey(m.module.name, 'A'), { dtype: 'F32', shape: [m.r, m.module.inFeatures], data: fromFloat32('F32', m.a) });
      tensors.set(peftKey(m.module.name, 'B'), { dtype: 'F32', shape: [m.module.outFeatures, m.r], data: fromFloat32('F32', m.b) });
    }
    writeSafetensors(path.join(tmp, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
    writeLoraConfig(tmp, configJson);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * W + scale · B·A for a module's weight as stored: [out, in] for Linear, and transposed for GPT-2's
 * Conv1D [in, out] (fan_in_fan_out), as PEFT's merge does.
 */
export function mergeInto(weight: Float32Array, l: LoraWeights): Float32Array {
  const { inFeatures: inp, outFeatures: out, conv1d } = l.module;
  const merged = weight.slice();
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) {
      let s = 0;
      for (let k = 0; k < l.r; k++) s += l.b[o * l.r + k]! * l.a[k * inp + i]!;
      const idx = conv1d ? i * out + o : o * inp + i;
      merged[idx] = merged[idx]! + l.scale * s;
    }
  }
  return merged;
}
