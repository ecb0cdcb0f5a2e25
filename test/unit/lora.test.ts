import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../../src/core/errors';
import { mergeInto, moduleScale, readAdapter, targetedModules, writeAdapter } from '../../src/core/lora/adapter';
import { parseLoraConfig, readLoraConfig } from '../../src/core/lora/config';
import { linearModules, matchesTarget } from '../../src/core/lora/modules';
import { loadModelConfig } from '../../src/core/models/config';
import { readSafetensors, writeSafetensors } from '../../src/core/safetensors';
import { GOLDEN, tempDir } from '../helpers';

const llama = loadModelConfig(path.join(GOLDEN, 'llama'));
const gpt2 = loadModelConfig(path.join(GOLDEN, 'gpt2'));

describe('PEFT adapters', () => {
  it('reads the golden adapters with PEFT key names, shapes and scales (incl. rsLoRA and fan_in_fan_out)', () => {
    const a = readAdapter(path.join(GOLDEN, 'llama', 'adapter'), llama);
    assert.equal(a.modules.size, 2 * 7);
    const q = a.modules.get('model.layers.0.self_attn.q_proj')!;
    assert.deepEqual([q.r, q.scale, q.a.length, q.b.length], [4, 2, 4 * 64, 64 * 4]);
    const qwen = readAdapter(path.join(GOLDEN, 'qwen2', 'adapter'), loadModelConfig(path.join(GOLDEN, 'qwen2')));
    assert.equal([...qwen.modules.values()][0]!.scale, 8 / Math.sqrt(4));
    const g = readAdapter(path.join(GOLDEN, 'gpt2', 'adapter'), gpt2);
    assert.equal(g.modules.get('transformer.h.1.mlp.c_proj')!.module.conv1d, true);
    assert.equal(g.config.fanInFanOut, true);
  });

  it('matches target modules as PEFT does: names, suffixes, regular expressions and all-linear', () => {
    const names = linearModules(llama).map((m) => m.name);
    assert.ok(names.includes('lm_head') && names.includes('model.layers.1.mlp.down_proj'));
    assert.equal(matchesTarget('model.layers.0.self_attn.q_proj', ['q_proj']), true);
    assert.equal(matchesTarget('model.layers.0.self_attn.q_proj', ['self_attn.q_proj']), true);
    assert.equal(matchesTarget('model.layers.0.self_attn.q_proj', ['_proj']), false, 'suffix must start at a dot');
    assert.equal(matchesTarget('model.layers.0.self_attn.q_proj', '.*\\.0\\..*q_proj'), true);
    assert.equal(matchesTarget('model.layers.1.self_attn.q_proj', '.*\\.0\\..*q_proj'), false);
    const cfg = parseLoraConfig({ r: 4, target_modules: 'all-linear' });
    assert.equal(targetedModules(llama, cfg).length, 2 * 7, 'all-linear leaves out lm_head');
    assert.deepEqual(
      targetedModules(gpt2, parseLoraConfig({ target_modules: ['c_proj'] })).map((m) => m.name),
      ['transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj'],
    );
  });

  it('applies rank_pattern and alpha_pattern per module', () => {
    const c = parseLoraConfig({
      r: 8,
      lora_alpha: 16,
      target_modules: ['q_proj', 'v_proj'],
      rank_pattern: { v_proj: 2 },
      alpha_pattern: { 'layers.1.self_attn.q_proj': 4 },
    });
    assert.deepEqual(moduleScale(c, 'model.layers.0.self_attn.v_proj'), { r: 2, scale: 8 });
    assert.deepEqual(moduleScale(c, 'model.layers.1.self_attn.q_proj'), { r: 8, scale: 0.5 });
    assert.deepEqual(moduleScale(c, 'model.layers.0.self_attn.q_proj'), { r: 8, scale: 2 });
  });

  it('refuses what it does not implement, naming the key', () => {
    assert.throws(
      () => parseLoraConfig({ target_modules: ['q_proj'], use_dora: true }),
      (e: unknown) => e instanceof TuneloopError && e.key === 'use_dora',
    );
    assert.throws(() => parseLoraConfig({ target_modules: ['q_proj'], bias: 'all' }), /bias: only bias: "none" is supported/);
    assert.throws(() => parseLoraConfig({ target_modules: ['q_proj'], modules_to_save: ['lm_head'] }), /modules_to_save/);
    assert.throws(() => parseLoraConfig({ target_modules: [] }), /target_modules: must be/);
    assert.throws(() => parseLoraConfig({ peft_type: 'IA3', target_modules: ['q_proj'] }), /unsupported adapter type "IA3"/);
  });

  function copyAdapter(edit: (dir: string) => void): string {
    const d = tempDir();
    fs.cpSync(path.join(GOLDEN, 'llama', 'adapter'), d, { recursive: true });
    edit(d);
    return d;
  }

  it('names the module when an adapter does not fit the base model', () => {
    const file = (d: string) => path.join(d, 'adapter_model.safetensors');
    const extra = copyAdapter((d) => {
      const t = readSafetensors(file(d));
      t.set('base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight', { dtype: 'F32', shape: [4, 64], data: new Uint8Array(4 * 64 * 4) });
      writeSafetensors(file(d), t);
    });
    assert.throws(() => readAdapter(extra, llama), /adapter targets module "model\.layers\.7\.self_attn\.q_proj", which the base model does not have/);
    const shape = copyAdapter((d) => {
      const t = readSafetensors(file(d));
      t.set('base_model.model.model.layers.0.mlp.up_proj.lora_B.weight', { dtype: 'F32', shape: [170, 4], data: new Uint8Array(170 * 4 * 4) });
      writeSafetensors(file(d), t);
    });
    assert.throws(
      () => readAdapter(shape, llama),
      /module "model\.layers\.0\.mlp\.up_proj": lora_B has shape \[170, 4\], but the base model and r = 4 need \[176, 4\]/,
    );
    const missing = copyAdapter((d) => {
      const t = readSafetensors(file(d));
      t.delete('base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight');
      t.delete('base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight');
      writeSafetensors(file(d), t);
    });
    assert.throws(() => readAdapter(missing, llama), /module "model\.layers\.1\.mlp\.gate_proj" is targeted by target_modules but has no weights/);
    assert.throws(() => readAdapter(path.join(GOLDEN, 'llama', 'adapter'), gpt2), /which the base model does not have/);
    const pickled = copyAdapter((d) => {
      fs.renameSync(file(d), path.join(d, 'adapter_model.bin'));
    });
    assert.throws(() => readAdapter(pickled, llama), /adapter_model\.bin is pickled and is never loaded/);
  });

  it('writes adapters PEFT reads: same keys, shapes, dtypes and config values, atomically', () => {
    const src = readAdapter(path.join(GOLDEN, 'gpt2', 'adapter'), gpt2);
    const out = path.join(tempDir(), 'written');
    writeAdapter(out, { ...readLoraConfig(path.join(GOLDEN, 'gpt2', 'adapter')).raw }, src.modules.values());
    const a = readSafetensors(path.join(GOLDEN, 'gpt2', 'adapter', 'adapter_model.safetensors'));
    const b = readSafetensors(path.join(out, 'adapter_model.safetensors'));
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, t] of a) {
      assert.deepEqual(b.get(k)!.shape, t.shape);
      assert.equal(b.get(k)!.dtype, t.dtype);
      assert.deepEqual(b.get(k)!.data, t.data);
    }
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['written']);
  });

  it('merges W + scale·B·A, transposed for Conv1D, against a hand-computed case', () => {
    // in 2, out 3, r 1: B·A = [[1·1, 1·2], [2·1, 2·2], [3·1, 3·2]]
    const l = {
      module: { name: 'm', inFeatures: 2, outFeatures: 3, conv1d: false },
      r: 1,
      scale: 0.5,
      a: Float32Array.from([1, 2]),
      b: Float32Array.from([1, 2, 3]),
    };
    assert.deepEqual(Array.from(mergeInto(new Float32Array(6), l)), [0.5, 1, 1, 2, 1.5, 3]);
    const conv = { ...l, module: { ...l.module, conv1d: true } };
    assert.deepEqual(Array.from(mergeInto(new Float32Array(6), conv)), [0.5, 1, 1.5, 1, 2, 3]);
  });
});
