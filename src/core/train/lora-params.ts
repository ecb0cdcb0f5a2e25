import { readAdapter, writeAdapter } from '../lora/adapter';
import { loraConfigJson, type LoraConfig } from '../lora/config';
import type { LinearModule } from '../lora/modules';
import type { ModelConfig } from '../models/config';
import type { ParamsFormat } from './checkpoint';
import { seededRandom } from '../random';
import { loraInputName } from './graph';

/** The LoRA modules a run trains, with their rank and scale. */
export interface LoraModuleSpec {
  readonly module: LinearModule;
  readonly r: number;
  readonly scale: number;
}

/**
 * PEFT's default initialisation: A kaiming-uniform with a = √5 (bound 1/√in), B zeros, so the
 * adapted model starts as the base model. Seeded, module by module in order.
 */
export function initLora(modules: readonly LoraModuleSpec[], seed: number): Map<string, Float32Array> {
  const r = seededRandom(seed);
  const params = new Map<string, Float32Array>();
  for (const m of modules) {
    const bound = 1 / Math.sqrt(m.module.inFeatures);
    params.set(
      loraInputName(m.module.name, 'A'),
      Float32Array.from({ length: m.r * m.module.inFeatures }, () => (r() * 2 - 1) * bound),
    );
    params.set(loraInputName(m.module.name, 'B'), new Float32Array(m.module.outFeatures * m.r));
  }
  return params;
}

/** Trainable LoRA tensors stored as a PEFT adapter folder (checkpoints and the final adapter). */
export function loraParamsFormat(
  base: ModelConfig,
  modules: readonly LoraModuleSpec[],
  config: Omit<LoraConfig, 'raw' | 'rankPattern' | 'alphaPattern'>,
): ParamsFormat {
  return {
    write(dir, params) {
      writeAdapter(
        `${dir}/adapter`,
        loraConfigJson(config),
        modules.map((m) => ({
          module: m.module,
          r: m.r,
          a: params.get(loraInputName(m.module.name, 'A'))!,
          b: params.get(loraInputName(m.module.name, 'B'))!,
        })),
      );
    },
    read(dir) {
      const a = readAdapter(`${dir}/adapter`, base);
      const params = new Map<string, Float32Array>();
      for (const m of a.modules.values()) {
        params.set(loraInputName(m.module.name, 'A'), m.a);
        params.set(loraInputName(m.module.name, 'B'), m.b);
      }
      return params;
    },
  };
}
