import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedWeights, loadModelConfig, matchWeights, type ModelConfig, parameterCount, parseModelConfig } from '../../src/core/models/config';
import { inspectCheckpoint } from '../../src/core/models/inspect';
import { TuneloopError } from '../../src/core/errors';
import { SafetensorsFile, writeSafetensors } from '../../src/core/safetensors';
import { GOLDEN, GOLDEN_ARCHS, tempDir } from '../helpers';

const llamaRaw = () => JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'config.json'), 'utf8')) as Record<string, unknown>;

function parse(raw: Record<string, unknown>): ModelConfig {
  return parseModelConfig(raw, 'config.json');
}

function rejectsKey(raw: Record<string, unknown>, key: string, pattern: RegExp): void {
  assert.throws(
    () => parse(raw),
    (e: unknown) => e instanceof TuneloopError && e.key === key && e.file === 'config.json' && pattern.test(e.message) && e.message.includes(key),
  );
}

describe('model configs: the golden checkpoints', () => {
  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: the weights the config implies are exactly those in model.safetensors (names and shapes)`, () => {
      const cfg = loadModelConfig(path.join(GOLDEN, arch));
      const f = SafetensorsFile.open(path.join(GOLDEN, arch, 'model.safetensors'));
      const onDisk = Object.fromEntries(f.names().map((n) => [n, [...f.info(n).shape]]));
      const implied = Object.fromEntries(expectedWeights(cfg).map((w) => [w.name, [...w.shape]]));
      assert.deepEqual(implied, onDisk);
      const elements = Object.values(onDisk).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
      assert.equal(parameterCount(cfg), elements);
      f.close();
    });
  }

  it('llama: grouped-query attention, RoPE from rope_parameters, untied head', () => {
    const c = loadModelConfig(path.join(GOLDEN, 'llama'));
    assert.equal(c.family, 'llama');
    assert.deepEqual([c.numHeads, c.numKvHeads, c.headDim, c.hiddenSize, c.intermediateSize, c.vocabSize, c.numLayers], [4, 2, 16, 64, 176, 512, 2]);
    assert.deepEqual(c.positions, { type: 'rope', rope: { type: 'default', theta: 10000 } });
    assert.deepEqual(c.norm, { type: 'rms', eps: 1e-5 });
    assert.equal(c.tieWordEmbeddings, false);
    assert.deepEqual(c.attention.slidingWindow, [null, null]);
    assert.equal(c.attention.scale[0], 0.25);
    assert.deepEqual([c.eosTokenIds, c.padTokenId, c.bosTokenId], [[2], 0, undefined]);
  });

  it('mistral: a sliding window of 8 on every layer', () => {
    const c = loadModelConfig(path.join(GOLDEN, 'mistral'));
    assert.deepEqual(c.attention.slidingWindow, [8, 8]);
    assert.equal(c.attention.qkvBias, false);
  });

  it('qwen2: q/k/v biases (not o), tied embeddings, full attention from layer_types', () => {
    const c = loadModelConfig(path.join(GOLDEN, 'qwen2'));
    assert.deepEqual([c.attention.qkvBias, c.attention.outputBias, c.tieWordEmbeddings], [true, false, true]);
    assert.deepEqual(c.attention.slidingWindow, [null, null]);
    assert.equal(c.norm.eps, 1e-6);
  });

  it('gpt2: learned positions, LayerNorm, gelu_new, n_inner null → 4·n_embd, tied by default', () => {
    const c = loadModelConfig(path.join(GOLDEN, 'gpt2'));
    assert.deepEqual(c.positions, { type: 'learned' });
    assert.deepEqual(c.norm, { type: 'layer', eps: 1e-5 });
    assert.equal(c.activation, 'gelu_new');
    assert.equal(c.intermediateSize, 256);
    assert.equal(c.tieWordEmbeddings, true);
    assert.deepEqual(c.mlp, { gated: false, bias: true });
    assert.equal(c.maxPositionEmbeddings, 256);
  });
});

describe('model configs: defaults as transformers applies them', () => {
  it('num_key_value_heads defaults to num_attention_heads, head_dim to hidden ÷ heads', () => {
    const raw = llamaRaw();
    delete raw.num_key_value_heads;
    delete raw.head_dim;
    const c = parse(raw);
    assert.deepEqual([c.numKvHeads, c.headDim], [4, 16]);
  });

  it('tie_word_embeddings defaults to false for llama-likes and true for gpt2', () => {
    const raw = llamaRaw();
    delete raw.tie_word_embeddings;
    assert.equal(parse(raw).tieWordEmbeddings, false);
    const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'config.json'), 'utf8'));
    delete g.tie_word_embeddings;
    assert.equal(parse(g).tieWordEmbeddings, true);
  });

  it('rms_norm_eps defaults to 1e-6; rope theta to 10000; hidden_act to silu', () => {
    const raw = llamaRaw();
    delete raw.rms_norm_eps;
    delete raw.rope_parameters;
    delete raw.hidden_act;
    const c = parse(raw);
    assert.equal(c.norm.eps, 1e-6);
    assert.deepEqual(c.positions, { type: 'rope', rope: { type: 'default', theta: 10000 } });
    assert.equal(c.activation, 'silu');
  });

  it('qwen3: head_dim defaults to 128 (not hidden ÷ heads), q/k norms, no biases by default', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), model_type: 'qwen3' };
    delete raw.head_dim;
    const c = parse(raw);
    assert.equal(c.headDim, 128);
    assert.equal(c.attention.qkNorm, true);
    assert.equal(c.attention.qkvBias, false);
    const names = expectedWeights(c).map((w) => w.name);
    assert.ok(names.includes('model.layers.0.self_attn.q_norm.weight') && names.includes('model.layers.1.self_attn.k_norm.weight'));
    assert.deepEqual(expectedWeights(c).find((w) => w.name === 'model.layers.0.self_attn.q_proj.weight')!.shape, [4 * 128, 64]);
  });

  it('mistral: sliding_window defaults to 4096, and null means none', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), model_type: 'mistral' };
    assert.deepEqual(parse(raw).attention.slidingWindow, [4096, 4096]);
    assert.deepEqual(parse({ ...raw, sliding_window: null }).attention.slidingWindow, [null, null]);
  });

  it('qwen2 without layer_types: sliding from max_window_layers on, only with use_sliding_window', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), model_type: 'qwen2', num_hidden_layers: 4, sliding_window: 32, max_window_layers: 2 };
    assert.deepEqual(parse(raw).attention.slidingWindow, [null, null, null, null]);
    assert.deepEqual(parse({ ...raw, use_sliding_window: true }).attention.slidingWindow, [null, null, 32, 32]);
    assert.deepEqual(
      parse({ ...raw, use_sliding_window: true, layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'full_attention'] }).attention
        .slidingWindow,
      [32, null, null, null],
    );
  });

  it('eos_token_id may be a list; llama attention_bias puts biases on q, k, v and o', () => {
    const c = parse({ ...llamaRaw(), eos_token_id: [2, 7], attention_bias: true, mlp_bias: true });
    assert.deepEqual(c.eosTokenIds, [2, 7]);
    const names = new Set(expectedWeights(c).map((w) => w.name));
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) assert.ok(names.has(`model.layers.0.self_attn.${m}.bias`), m);
    assert.ok(names.has('model.layers.1.mlp.down_proj.bias'));
  });

  it('gpt2: scale_attn_by_inverse_layer_idx and scale_attn_weights', () => {
    const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'config.json'), 'utf8'));
    assert.deepEqual(parse({ ...g, scale_attn_by_inverse_layer_idx: true }).attention.scale, [0.25, 0.125]);
    assert.deepEqual(parse({ ...g, scale_attn_weights: false }).attention.scale, [1, 1]);
  });
});

describe('model configs: rope settings in both spellings', () => {
  const llama3 = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 };
  const expected = { type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

  it('transformers 5: rope_parameters with rope_theta and rope_type', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), rope_parameters: { rope_theta: 500000.0, rope_type: 'llama3', ...llama3 } };
    assert.deepEqual(parse(raw).positions, { type: 'rope', rope: expected });
  });

  it('transformers 4: top-level rope_theta with rope_scaling.rope_type', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), rope_theta: 500000.0, rope_scaling: { rope_type: 'llama3', ...llama3 } };
    delete raw.rope_parameters;
    assert.deepEqual(parse(raw).positions, { type: 'rope', rope: expected });
  });

  it('older still: rope_scaling.type', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), rope_theta: 500000.0, rope_scaling: { type: 'llama3', ...llama3 } };
    delete raw.rope_parameters;
    assert.deepEqual(parse(raw).positions, { type: 'rope', rope: expected });
  });

  it('rope_scaling: null is the default rope; linear scaling keeps its factor', () => {
    const raw: Record<string, unknown> = { ...llamaRaw(), rope_theta: 1e6, rope_scaling: null };
    delete raw.rope_parameters;
    assert.deepEqual(parse(raw).positions, { type: 'rope', rope: { type: 'default', theta: 1e6 } });
    assert.deepEqual(parse({ ...raw, rope_scaling: { type: 'linear', factor: 2 } }).positions, {
      type: 'rope',
      rope: { type: 'linear', theta: 1e6, factor: 2 },
    });
  });
});

describe('model configs: errors name the key', () => {
  it('an unsupported model_type lists the supported ones', () => {
    rejectsKey({ ...llamaRaw(), model_type: 'bert' }, 'model_type', /unsupported architecture "bert".*llama, mistral, qwen2, qwen3, gpt2/);
  });

  it('a missing model_type', () => {
    const raw = llamaRaw();
    delete raw.model_type;
    rejectsKey(raw, 'model_type', /missing required key/);
  });

  it('a missing size key', () => {
    for (const key of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size']) {
      const raw = llamaRaw();
      delete raw[key];
      rejectsKey(raw, key, /missing required key/);
    }
    const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'config.json'), 'utf8'));
    delete g.n_embd;
    rejectsKey(g, 'n_embd', /missing required key/);
  });

  it('a key of the wrong type or range', () => {
    rejectsKey({ ...llamaRaw(), num_attention_heads: '4' }, 'num_attention_heads', /must be an integer, found "4"/);
    rejectsKey({ ...llamaRaw(), hidden_size: 0 }, 'hidden_size', /must be at least 1/);
    rejectsKey({ ...llamaRaw(), rms_norm_eps: -1 }, 'rms_norm_eps', /must be positive/);
    rejectsKey({ ...llamaRaw(), tie_word_embeddings: 'yes' }, 'tie_word_embeddings', /must be true or false/);
  });

  it('kv heads that do not divide the query heads', () => {
    rejectsKey({ ...llamaRaw(), num_key_value_heads: 3 }, 'num_key_value_heads', /3 does not divide num_attention_heads 4/);
  });

  it('an unsupported rope type, and a llama3 rope missing a factor, in either spelling', () => {
    rejectsKey(
      { ...llamaRaw(), rope_parameters: { rope_theta: 1e4, rope_type: 'yarn', factor: 4 } },
      'rope_parameters.rope_type',
      /unsupported rope type "yarn".*default, linear, llama3/,
    );
    const old: Record<string, unknown> = { ...llamaRaw(), rope_scaling: { type: 'dynamic', factor: 2 } };
    delete old.rope_parameters;
    rejectsKey(old, 'rope_scaling.type', /unsupported rope type "dynamic"/);
    rejectsKey(
      { ...llamaRaw(), rope_parameters: { rope_theta: 1e4, rope_type: 'llama3', factor: 8, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      'rope_parameters.low_freq_factor',
      /missing required key/,
    );
  });

  it('an unsupported activation', () => {
    rejectsKey({ ...llamaRaw(), hidden_act: 'swish2' }, 'hidden_act', /unsupported activation "swish2"/);
  });

  it('loadModelConfig names the file for a missing or broken config.json', () => {
    const d = tempDir();
    assert.throws(
      () => loadModelConfig(d),
      (e: unknown) => e instanceof TuneloopError && e.file === path.join(d, 'config.json') && /ENOENT/.test(e.message),
    );
    fs.writeFileSync(path.join(d, 'config.json'), '{"model_type": "llama",');
    assert.throws(() => loadModelConfig(d), /config\.json: not valid JSON/);
  });
});

describe('checkpoint weights against the config', () => {
  it('gpt2 saved without the "transformer." prefix and with old attn.bias buffers loads, the buffers reported as ignored', () => {
    const cfg = loadModelConfig(path.join(GOLDEN, 'gpt2'));
    const names = expectedWeights(cfg).map((w) => w.name.replace(/^transformer\./, ''));
    const m = matchWeights(cfg, [...names, 'h.0.attn.bias', 'h.1.attn.masked_bias']);
    assert.deepEqual(m.missing, []);
    assert.deepEqual(m.unexpected, []);
    assert.deepEqual(m.ignored, ['h.0.attn.bias', 'h.1.attn.masked_bias']);
    assert.equal(m.names.get('transformer.h.0.attn.c_attn.weight'), 'h.0.attn.c_attn.weight');
  });

  function copyWithEdit(edit: (tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Uint8Array }>) => void): string {
    const d = tempDir();
    fs.copyFileSync(path.join(GOLDEN, 'llama', 'config.json'), path.join(d, 'config.json'));
    const f = SafetensorsFile.open(path.join(GOLDEN, 'llama', 'model.safetensors'));
    const tensors = new Map(f.names().map((n) => [n, { dtype: 'F32' as const, shape: [...f.info(n).shape], data: f.readBytes(n) }]));
    f.close();
    edit(tensors);
    writeSafetensors(path.join(d, 'model.safetensors'), tensors);
    return d;
  }

  it('inspectCheckpoint names a missing weight', () => {
    const d = copyWithEdit((t) => t.delete('model.layers.1.mlp.up_proj.weight'));
    assert.throws(() => inspectCheckpoint(d), /model\.layers\.1\.mlp\.up_proj\.weight: weight missing from the checkpoint/);
  });

  it('inspectCheckpoint names a weight whose shape disagrees with the config', () => {
    const d = copyWithEdit((t) => t.set('model.norm.weight', { dtype: 'F32', shape: [32], data: new Uint8Array(128) }));
    assert.throws(() => inspectCheckpoint(d), /model\.norm\.weight: has shape \[32\] but config\.json implies \[64\]/);
  });

  it('inspectCheckpoint refuses tensors the architecture does not have', () => {
    const d = copyWithEdit((t) => t.set('model.layers.0.extra.weight', { dtype: 'F32', shape: [1], data: new Uint8Array(4) }));
    assert.throws(() => inspectCheckpoint(d), /1 tensor\(s\) that a LlamaForCausalLM does not have, first "model\.layers\.0\.extra\.weight"/);
  });

  it('inspectCheckpoint summarises a good checkpoint', () => {
    const s = inspectCheckpoint(path.join(GOLDEN, 'llama'));
    assert.equal(s.architecture, 'LlamaForCausalLM');
    assert.equal(s.parameters, s.weights.elements);
    assert.deepEqual(s.weights.dtypes, ['F32']);
    assert.deepEqual(s.weights.files, ['model.safetensors']);
  });
});
