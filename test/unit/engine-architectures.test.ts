import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { LOGITS_TO_KEEP } from '../../src/core/onnx/decoder-io';
import { decoderShapeOf, parseModelConfig } from '../../src/core/models/config';
import { exportCheckpoint } from '../../src/core/export/export';
import { openSession, runDecoderFull } from '../../src/core/onnx/session';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { GOLDEN, tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint, rng } from '../make-checkpoint';
import { NaiveDecoder } from '../reference/naive-decoder';
import { readOnnx } from '../onnx-read';

/**
 * Configurations beyond the golden folders, each exported from random weights and compared with the
 * float64 reference decoder (itself checked against Hugging Face in engine-golden.test.ts): the full
 * sequence, the same sequence token by token through the KV cache, and a left-padded batch.
 */
const gpt2Base = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'config.json'), 'utf8')) as Record<string, unknown>;
const llama3 = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 16 };

const CASES: Record<string, Record<string, unknown>> = {
  'qwen3 (q/k RMSNorm, head_dim 32 ≠ hidden/heads)': llamaConfig({
    model_type: 'qwen3',
    architectures: ['Qwen3ForCausalLM'],
    head_dim: 32,
    tie_word_embeddings: true,
  }),
  'llama3 rope scaling, transformers 5 spelling': llamaConfig({ rope_parameters: { rope_theta: 500000.0, rope_type: 'llama3', ...llama3 } }),
  'llama3 rope scaling, rope_theta + rope_scaling spelling': (() => {
    const c = llamaConfig({ rope_theta: 500000.0, rope_scaling: { rope_type: 'llama3', ...llama3 } });
    delete c.rope_parameters;
    return c;
  })(),
  'mistral, sliding window 4 over 12 tokens': llamaConfig({ model_type: 'mistral', sliding_window: 4 }),
  'qwen2, sliding window on layers from max_window_layers': llamaConfig({
    model_type: 'qwen2',
    use_sliding_window: true,
    sliding_window: 3,
    max_window_layers: 1,
    layer_types: undefined,
  }),
  'llama with attention and mlp biases, gelu_pytorch_tanh, multi-query': llamaConfig({
    attention_bias: true,
    mlp_bias: true,
    hidden_act: 'gelu_pytorch_tanh',
    num_key_value_heads: 1,
  }),
  'gpt2 with gelu and scale_attn_by_inverse_layer_idx': { ...gpt2Base, activation_function: 'gelu', scale_attn_by_inverse_layer_idx: true },
};

type Feeds = Record<string, ort.Tensor>;

async function step(session: ort.InferenceSession, layers: number, ids: number[], past: Feeds | undefined, pastLen: number, kvH: number, d: number, keep = 0) {
  const S = ids.length;
  const feeds: Feeds = {
    [LOGITS_TO_KEEP]: new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), []),
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + S).fill(1n), [1, pastLen + S]),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: S }, (_, i) => BigInt(pastLen + i)),
      [1, S],
    ),
  };
  for (let i = 0; i < layers; i++) {
    for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kv}`] = past?.[`present.${i}.${kv}`] ?? new ort.Tensor('float32', new Float32Array(0), [1, kvH, 0, d]);
    }
  }
  return session.run(feeds);
}

describe('exported graphs against the float64 reference', function () {
  this.timeout(120_000);
  const cacheDir = tempDir();
  const r = rng(7);
  const ids = Array.from({ length: 12 }, () => 3 + Math.floor(r() * 500));

  for (const [name, config] of Object.entries(CASES)) {
    for (const ops of ['fused', 'plain'] as const)
      it(`${name}, ${ops} ops`, async () => {
        const dir = tempDir();
        makeCheckpoint(dir, config, 3);
        const cfg = parseModelConfig(config);
        const exp = await exportCheckpoint(dir, { cacheDir, ops });
        // The fused export runs attention in onnxruntime's kernels, one GroupQueryAttention a layer,
        // which rotates q and k itself from the packed q/k/v (RotaryEmbedding on q and k only where
        // q/k RMSNorm comes between), and a llama-family layer's four linear groups (q/k/v, o,
        // gate/up, down) as FusedMatMul on the weights as stored, its residual additions inside
        // SkipSimplifiedLayerNormalization; the plain one has none of them (GPT-2's Conv1D weights are
        // [in, out] already: MatMul).
        const opTypes = readOnnx(fs.readFileSync(path.join(exp.dir, 'onnx', 'model.onnx'))).nodes.map((n) => n.opType);
        const count = (op: string) => opTypes.filter((o) => o === op).length;
        const rotary = cfg.positions.type === 'rope';
        const L = cfg.numLayers;
        const llama = cfg.family !== 'gpt2';
        assert.deepEqual(
          [count('GroupQueryAttention'), count('RotaryEmbedding'), count('FusedMatMul'), count('Softmax'), count('SkipSimplifiedLayerNormalization')],
          ops === 'fused' ? [L, rotary && cfg.attention.qkNorm ? 2 * L : 0, llama ? 4 * L : 0, 0, llama ? 2 * L : 0] : [0, 0, 0, L, 0],
        );
        const session = await openSession(path.join(exp.dir, 'onnx', 'model.onnx'), 2);
        const shape = decoderShapeOf(exp.dir);
        const V = cfg.vocabSize;
        const store = TensorStore.openDir(dir);
        const want = new NaiveDecoder(cfg, store).forward(ids);
        store.close();

        // 1. the full sequence
        const full = await runDecoderFull(session, shape, BigInt64Array.from(ids, BigInt), [1, ids.length]);
        let max = 0;
        want.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - full.logits[t * V + i]!)))));
        assert.ok(max < 2e-4, `full sequence: max abs err ${max}`);

        // 2. prefill 5 tokens, then one token at a time through the cache
        let out = await step(session, shape.numLayers, ids.slice(0, 5), undefined, 0, shape.numKvHeads, shape.headDim);
        let cacheErr = 0;
        const compare = (logits: Float32Array, t0: number, n: number) => {
          for (let t = 0; t < n; t++) for (let i = 0; i < V; i++) cacheErr = Math.max(cacheErr, Math.abs(logits[t * V + i]! - want[t0 + t]![i]!));
        };
        compare(out.logits!.data as Float32Array, 0, 5);
        // As transformers.js generates (num_logits_to_keep 1): the prefill gives the last row only.
        const last = await step(session, shape.numLayers, ids.slice(0, 5), undefined, 0, shape.numKvHeads, shape.headDim, 1);
        assert.deepEqual(last.logits!.dims, [1, 1, V]);
        const lastErr = (last.logits!.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - (out.logits!.data as Float32Array)[4 * V + i]!)), 0);
        assert.ok(lastErr < 1e-5, `the last row alone: ${lastErr} from the full prefill's`);
        for (let t = 5; t < ids.length; t++) {
          out = await step(session, shape.numLayers, [ids[t]!], out, t, shape.numKvHeads, shape.headDim, 1);
          assert.deepEqual(out[`present.0.key`]!.dims, [1, shape.numKvHeads, t + 1, shape.headDim]);
          compare(out.logits!.data as Float32Array, t, 1);
        }
        assert.ok(cacheErr < 2e-4, `through the KV cache: max abs err ${cacheErr}`);

        // 3. a left-padded batch: the real tokens of the padded row see what they would unpadded
        const pad = 3;
        const short = ids.slice(0, ids.length - pad);
        const batch = BigInt64Array.from([...new Array<number>(pad).fill(0), ...short, ...ids], BigInt);
        const mask = BigInt64Array.from([...new Array<number>(pad).fill(0), ...short.map(() => 1), ...ids.map(() => 1)], BigInt);
        const padded = await runDecoderFull(session, shape, batch, [2, ids.length], mask);
        let padErr = 0;
        short.forEach((_, t) => {
          for (let i = 0; i < V; i++) padErr = Math.max(padErr, Math.abs(padded.logits[(pad + t) * V + i]! - want[t]![i]!));
        });
        for (let t = 0; t < ids.length; t++)
          for (let i = 0; i < V; i++) padErr = Math.max(padErr, Math.abs(padded.logits[(ids.length + t) * V + i]! - want[t]![i]!));
        assert.ok(padErr < 2e-4, `left-padded batch: max abs err ${padErr}`);
        assert.ok(Array.from(padded.logits).every(Number.isFinite), 'fully masked (padding) rows stay finite');
        await session.release();
      });
  }

  it('the two rope spellings export to the same weights and graph', async () => {
    const [a, b] = [tempDir(), tempDir()];
    makeCheckpoint(a, CASES['llama3 rope scaling, transformers 5 spelling']!, 5);
    makeCheckpoint(b, CASES['llama3 rope scaling, rope_theta + rope_scaling spelling']!, 5);
    const ea = await exportCheckpoint(a, { cacheDir });
    const eb = await exportCheckpoint(b, { cacheDir });
    assert.notEqual(ea.dir, eb.dir, 'different config files, different cache keys');
    assert.ok(fs.readFileSync(path.join(ea.dir, 'onnx/model.onnx')).equals(fs.readFileSync(path.join(eb.dir, 'onnx/model.onnx'))));
  });
});
