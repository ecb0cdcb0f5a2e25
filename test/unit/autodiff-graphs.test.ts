import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../../src/core/models/config';
import { activation, attention, type DecoderOptions, MASK_VALUE, rmsNorm, ropeInverseFrequencies } from '../../src/core/models/graph/decoder';
import { buildGpt2Graph } from '../../src/core/models/graph/gpt2';
import { buildLlamaGraph } from '../../src/core/models/graph/llama';
import { WeightReader } from '../../src/core/models/graph/weights';
import { crossEntropySum } from '../../src/core/onnx/autodiff';
import { gradcheck, type GradcheckResult } from '../gradcheck';
import type { GraphBuilder, Value } from '../../src/core/onnx/builder';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { GOLDEN, tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';

/**
 * Whole graphs against finite differences: a llama-like block written with decoder.ts' pieces in
 * float64, then the real exported llama / mistral / qwen3 / gpt2 graphs, built with static shapes
 * (symbolic dims bound), every weight trainable, and run retyped to float64.
 *
 * The exported graphs' loss sums ten targets over a 512-token vocabulary (about 60), and some weight
 * gradients are as small as 1e-4: at h = 1e-6 the rounding error of f(x ± h) (about ε·|f|/h) is then
 * 1e-6 of the gradient, so those cases take h = 1e-5 (measured: 1e-7 against 1e-6 at h = 1e-6).
 */

const B = 2;
const S = 6;
const PAD = 2; // the second row is left-padded

function report(r: GradcheckResult): string {
  return r.tensors.map((t) => `${t.name}: ${t.maxError.toExponential(2)} (${t.worst.analytic} vs ${t.worst.numeric})`).join('\n');
}

/** Ids, mask, positions (counted over real tokens, as transformers.js derives them), targets and weights. */
function batch(vocab: number) {
  const ids = Array.from({ length: B * S }, (_, i) => 3 + ((i * 37) % (vocab - 3)));
  ids[S + 1] = ids[S + 3]!; // a repeated id: its embedding row gets two gradient contributions
  const mask = Array.from({ length: B * S }, (_, i) => (i >= S && i < S + PAD ? 0 : 1));
  const positions = mask.map((_, i) => {
    const [b, t] = [Math.floor(i / S), i % S];
    return b === 0 ? t : Math.max(t - PAD, 0);
  });
  // next-token targets; the last position of each row and the padding count for nothing
  const targets = ids.map((_, i) => (i % S === S - 1 ? 0 : ids[i + 1]!));
  const weights = targets.map((_, i) => (i % S === S - 1 || mask[i] === 0 || mask[i + 1] === 0 ? 0 : 1));
  const int = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [B, S]);
  return { ids, mask, positions, feeds: { input_ids: int(ids), attention_mask: int(mask), position_ids: int(positions), targets: int(targets) }, weights };
}

describe('autodiff: whole graphs against finite differences', function () {
  this.timeout(120_000);

  it('a llama-like block in float64: embedding (tied head), RMSNorm, rotary GQA attention over a padded batch, SwiGLU, loss', async () => {
    const cfg = parseModelConfig(
      llamaConfig({
        hidden_size: 16,
        head_dim: 4,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        intermediate_size: 24,
        vocab_size: 11,
        num_hidden_layers: 1,
        tie_word_embeddings: true,
      }),
    );
    const { hiddenSize: H, numHeads: nH, numKvHeads: kvH, headDim: d, intermediateSize: I, vocabSize: V } = cfg;
    const data = batch(V);
    const eps = cfg.norm.eps;
    // rotary tables for the positions, computed here (they are not differentiated)
    const inv = ropeInverseFrequencies(cfg.positions.type === 'rope' ? cfg.positions.rope : assert.fail('rope'), d);
    const cos = new Float64Array(B * S * d);
    const sin = new Float64Array(B * S * d);
    data.positions.forEach((p, i) => {
      for (let j = 0; j < d; j++) {
        cos[i * d + j] = Math.cos(p * inv[j % (d / 2)]!);
        sin[i * d + j] = Math.sin(p * inv[j % (d / 2)]!);
      }
    });
    const names = ['embed', 'norm1', 'qkv', 'o', 'norm2', 'gate_up', 'down', 'norm_f'];

    const r = await gradcheck(
      (g) => {
        const w = (name: string, dims: number[]) => g.input(name, 'float64', dims);
        const ids = g.input('input_ids', 'int64', [B, S]);
        const mask = g.input('attention_mask', 'int64', [B, S]);
        g.input('position_ids', 'int64', [B, S]);
        const targets = g.input('targets', 'int64', [B, S]);
        const weights = g.input('weights', 'float64', [B, S]);
        const ropeCos = g.input('cos', 'float64', [B, 1, S, d]);
        const ropeSin = g.input('sin', 'float64', [B, 1, S, d]);
        const past = { key: g.input('past.key', 'float64', [B, kvH, 0, d]), value: g.input('past.value', 'float64', [B, kvH, 0, d]) };
        const ws = [
          w('embed', [V, H]),
          w('norm1', [H]),
          w('qkv', [H, (nH + 2 * kvH) * d]),
          w('o', [nH * d, H]),
          w('norm2', [H]),
          w('gate_up', [H, 2 * I]),
          w('down', [I, H]),
          w('norm_f', [H]),
        ];
        const [embed, norm1, qkvW, oW, norm2, guW, downW, normF] = ws as [Value, Value, Value, Value, Value, Value, Value, Value];

        // causal ∧ padding mask [B, 1, S, S], as attentionMasks builds it
        const idx = g.range(g.scalarI(0), g.scalarI(S), g.scalarI(1)); // [S]
        const causal = g.lessOrEqual(g.unsqueeze(idx, [0]), g.unsqueeze(idx, [1])); // [S, S]
        const allowed = g.and(g.unsqueeze(g.equal(mask, g.scalarI(1)), [1, 2]), causal); // [B, 1, S, S]
        const bias = g.where(allowed, g.scalarF(0), g.scalarF(MASK_VALUE)); // the additive form attention() takes

        const x = g.gather(embed, ids); // [B, S, H]
        const h = rmsNorm(g, x, norm1, eps);
        const [q, k, v] = g.split(g.matmul(h, qkvW), 2, [nH * d, kvH * d, kvH * d]);
        const att = attention(g, { cfg, layer: 0, q: q!, k: k!, v: v!, past, mask: bias, rope: { cos: ropeCos, sin: ropeSin } });
        const r1 = g.add(x, g.matmul(att.out, oW));
        const [gate, up] = g.split(g.matmul(rmsNorm(g, r1, norm2, eps), guW), 2, [I, I]);
        const y = g.add(r1, g.matmul(g.mul(activation(g, gate!, 'silu'), up!), downW));
        const flat = g.reshape(rmsNorm(g, y, normF, eps), [-1, H]); // [B·S, H]
        const logits = g.reshape(g.gemmTransB(flat, embed), [B, S, V]); // tied head: embed used twice
        return { output: crossEntropySum(g, logits, targets, weights), wrt: ws };
      },
      {
        feeds: {
          ...data.feeds,
          weights: new ort.Tensor('float64', Float64Array.from(data.weights), [B, S]),
          cos: new ort.Tensor('float64', cos, [B, 1, S, d]),
          sin: new ort.Tensor('float64', sin, [B, 1, S, d]),
        },
        maxPerTensor: 24,
      },
    );
    assert.deepEqual(
      r.tensors.map((t) => t.name),
      names,
    );
    assert.ok(Number.isFinite(r.loss));
    assert.ok(r.maxError < 1e-6, report(r));
  });

  const CASES: Record<
    string,
    { config: Record<string, unknown>; build: (g: GraphBuilder, cfg: ReturnType<typeof parseModelConfig>, w: WeightReader, options: DecoderOptions) => void }
  > = {
    'llama (grouped-query heads)': { config: llamaConfig({ num_hidden_layers: 1 }), build: buildLlamaGraph },
    'mistral with a sliding window of 3': { config: llamaConfig({ model_type: 'mistral', sliding_window: 3, num_hidden_layers: 1 }), build: buildLlamaGraph },
    'qwen3 (q/k RMSNorm, tied embeddings)': {
      config: llamaConfig({ model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], tie_word_embeddings: true, num_hidden_layers: 1 }),
      build: buildLlamaGraph,
    },
    'gpt2 (LayerNorm, learned positions, tanh GELU, tied embeddings)': {
      config: { ...(JSON.parse(fs.readFileSync(path.join(GOLDEN, 'gpt2', 'config.json'), 'utf8')) as Record<string, unknown>), n_layer: 1 },
      build: buildGpt2Graph,
    },
  };

  for (const [name, c] of Object.entries(CASES)) {
    it(`the exported ${name} graph, static shapes, every weight trained, run in float64`, async () => {
      const dir = tempDir();
      makeCheckpoint(dir, c.config, 11);
      const cfg = parseModelConfig(c.config);
      const store = TensorStore.openDir(dir);
      const data = batch(cfg.vocabSize);
      try {
        const r = await gradcheck(
          (g) => {
            // Standard ONNX ops, as training graphs have them: the fused kernels of exports
            // (GroupQueryAttention, FusedMatMul) have no backward rules; engine-architectures checks them.
            c.build(g, cfg, new WeightReader(cfg, store), { plainOps: true });
            const logits = g.outputValue('logits')!; // [B, S, V]
            assert.deepEqual(logits.shape, [B, S, cfg.vocabSize]);
            const targets = g.input('targets', 'int64', [B, S]);
            const weights = g.input('weights', 'float32', [B, S]);
            const wrt = g.trainableTensors().map((t): Value => ({ name: t.name, dtype: t.dtype, shape: t.dims }));
            return { output: crossEntropySum(g, logits, targets, weights), wrt };
          },
          {
            builder: { dims: { batch_size: B, sequence_length: S, past_sequence_length: 0, total_sequence_length: S }, trainable: () => true },
            toFloat64: true,
            feeds: { ...data.feeds, weights: new ort.Tensor('float64', Float64Array.from(data.weights), [B, S]) },
            maxPerTensor: 6,
            h: 1e-5,
          },
        );
        assert.ok(r.tensors.length >= 8);
        assert.ok(r.maxError < 1e-6, report(r));
      } finally {
        store.close();
      }
    });
  }
});
