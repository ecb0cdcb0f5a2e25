import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedWeights, parseModelConfig } from '../src/core/models/config';
import { writeSafetensors } from '../src/core/safetensors';
import { GOLDEN } from './helpers';

/** The project's seeded generator, so random checkpoints are the same on every run. */
export { seededRandom as rng } from '../src/core/random';
import { seededRandom as rng } from '../src/core/random';

/**
 * Write a Hugging Face checkpoint folder for `config` with random weights (uniform in ±scale, norm
 * weights around 1) and the golden llama tokenizer (vocab 512, ChatML template).
 */
export function makeCheckpoint(dir: string, config: Record<string, unknown>, seed = 1, scale = 0.1): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const cfg = parseModelConfig(config, path.join(dir, 'config.json'));
  const r = rng(seed);
  const tensors = new Map(
    expectedWeights(cfg).map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const isNorm = /norm|ln_/.test(w.name) && w.name.endsWith('.weight');
      const data = Float32Array.from({ length: n }, () => (isNorm ? 1 + (r() - 0.5) * 0.2 : (r() * 2 - 1) * scale));
      return [w.name, { dtype: 'F32' as const, shape: w.shape, data: new Uint8Array(data.buffer) }];
    }),
  );
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(GOLDEN, 'llama', f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 2, pad_token_id: 0 }));
}

/** The golden llama's config with changes. */
export function llamaConfig(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'config.json'), 'utf8')) as Record<string, unknown>;
  return { ...base, ...changes };
}
