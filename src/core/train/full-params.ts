import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '../safetensors';
import { fromFloat32, toFloat32 } from '../safetensors/dtype';
import type { TensorStore } from '../safetensors/checkpoint';
import { assertFinite } from '../safetensors/finite';
import type { ParamsFormat } from './checkpoint';

const COPIED = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** Every weight of the checkpoint as float32, by its Hugging Face name: the starting point of full fine-tuning. */
export function initFull(store: TensorStore): Map<string, Float32Array> {
  return new Map(store.names().map((n) => [n, assertFinite(store.readFloat32(n).slice(), { file: store.info(n).file, key: n })]));
}

/**
 * Fully fine-tuned weights stored as a Hugging Face checkpoint folder (`<dir>/model/`: config,
 * tokenizer and model.safetensors in float32), so a checkpoint or the result loads, exports and
 * trains again like any other checkpoint.
 */
export function fullParamsFormat(baseDir: string, shapes: ReadonlyMap<string, readonly number[]>): ParamsFormat {
  return {
    write(dir, params) {
      const out = path.join(dir, 'model');
      fs.mkdirSync(out, { recursive: true });
      for (const f of COPIED) if (fs.existsSync(path.join(baseDir, f))) fs.copyFileSync(path.join(baseDir, f), path.join(out, f));
      const tensors = new Map([...params].map(([k, p]) => [k, { dtype: 'F32' as const, shape: shapes.get(k) ?? [p.length], data: fromFloat32('F32', p) }]));
      writeSafetensors(path.join(out, 'model.safetensors'), tensors, { format: 'pt' });
    },
    read(dir) {
      return new Map([...readSafetensors(path.join(dir, 'model', 'model.safetensors'))].map(([k, t]) => [k, toFloat32(t.dtype, t.data).slice()]));
    },
  };
}
