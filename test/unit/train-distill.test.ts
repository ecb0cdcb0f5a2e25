import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { targetedModulesWithScale } from '../../src/core/lora/adapter';
import { parseLoraConfig } from '../../src/core/lora/config';
import { loadModelConfig, type ModelConfig } from '../../src/core/models/config';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { type Example, makeBatch, type SoftTargets } from '../../src/core/train/data';
import { optimizerStep } from '../../src/core/train/loop';
import { newAdamWState } from '../../src/core/train/optim';
import { loraInputName } from '../../src/core/train/graph';
import { initLora } from '../../src/core/train/lora-params';
import { OnnxStepModel } from '../../src/core/train/onnx-step';
import { distillLossSum, referenceDistillTrace } from '../reference/distill-trace';
import { NaiveDecoder } from '../reference/naive-decoder';
import { GOLDEN } from '../helpers';
import { rng } from '../make-checkpoint';

/**
 * Token-level distillation in the training step: batches carry the teacher's top-k targets, and the
 * loss adds the soft cross-entropy (α·τ²·Σ q·−log softmax(z/τ)) to the hard one (weighted 1 − α).
 * Checked against a float64 reference written here on the naive decoder (the loss), central
 * differences of the engine's own loss (the gradients), and the chunked head against the whole one.
 */
const SOFT: SoftTargets = { k: 3, temperature: 2, alpha: 0.6 };

/** Rows of random ids whose learned part has the teacher's top-3 at each token (the token itself first). */
function examples(cfg: ModelConfig, B: number, S: number, seed: number): Example[] {
  const r = rng(seed);
  const id = () => 3 + Math.floor(r() * (cfg.vocabSize - 3));
  return Array.from({ length: B }, (_, b) => {
    const ids = Array.from({ length: S - b }, id);
    const start = 3;
    const top = ids.slice(start).map((t) => {
      const raw = [t, id(), id()].map((v, k) => [v, -0.3 - k * (0.5 + r())] as [number, number]);
      const z = Math.log(raw.reduce((a, [, l]) => a + Math.exp(l), 0));
      return raw.map(([v, l]) => [v, l - z] as [number, number]);
    });
    // The last row's teacher agreed for only part of its answer: soft targets stop there.
    return { line: b + 1, ids, mask: ids.map((_, t) => (t >= start ? 1 : 0)), soft: { start, top: b === B - 1 ? top.slice(0, 2) : top } };
  });
}

describe('token-level distillation in the training step', function () {
  this.timeout(120_000);
  const dir = path.join(GOLDEN, 'llama');
  const cfg = loadModelConfig(dir);
  const modules = targetedModulesWithScale(cfg, parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: 'all-linear' }));

  it('batches: q = α·τ²·softmax(logprob/τ) over the top k at the position before each answer token, hard weight 1 − α there', () => {
    const ex = examples(cfg, 2, 9, 5);
    const batch = makeBatch(ex, 0, 9, SOFT);
    const S = 9;
    // Row 0, answer token j = 0 is ids[3], predicted at position 2.
    const top = ex[0]!.soft!.top[0]!;
    const e = top.map(([, lp]) => Math.exp(lp / SOFT.temperature));
    const z = e.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 3; k++) {
      assert.equal(Number(batch.softIds![2 * 3 + k]), top[k]![0]);
      assert.ok(Math.abs(batch.softQ![2 * 3 + k]! - (SOFT.alpha * 4 * e[k]!) / z) < 1e-6);
    }
    assert.ok(Math.abs(batch.weights[2]! - (1 - SOFT.alpha)) < 1e-7);
    // Row 1 has soft targets for two tokens only (positions 2 and 3): the rest keep weight 1 and no q.
    assert.ok(Math.abs(batch.weights[S + 3]! - (1 - SOFT.alpha)) < 1e-7);
    assert.equal(batch.weights[S + 4], 1);
    assert.equal(batch.softQ![(S + 4) * 3], 0);
    // Prompt positions carry nothing.
    assert.equal(batch.weights[0], 0);
    assert.equal(batch.softQ![0], 0);
  });

  it('the loss equals the float64 reference (hard + soft) on the golden llama; the chunked head gives the same loss and gradients', async () => {
    const store = TensorStore.openDir(dir);
    try {
      const batch = makeBatch(examples(cfg, 2, 10, 7), 0, 10, SOFT);
      const zero = initLora(modules, 3);
      const whole = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, spec: { mode: 'lora', lora: modules, softTargets: SOFT } });
      const chunked = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, spec: { mode: 'lora', lora: modules, softTargets: SOFT, chunkTokens: 7 } });
      const plain = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, spec: { mode: 'lora', lora: modules } });
      try {
        const got = await whole.lossSum(batch, zero);
        const want = distillLossSum(new NaiveDecoder(cfg, store), batch, SOFT.temperature);
        assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want), `engine ${got} vs float64 reference ${want}`);
        // The soft part is there: without it the loss is the hard part alone.
        const hardOnly = await plain.lossSum(batch, zero);
        assert.ok(want - hardOnly > 0.1, `soft part ${want - hardOnly}`);
        // With B ≠ 0 the gradients of the whole and the chunked head agree.
        const params = initLora(modules, 3);
        const r = rng(11);
        for (const m of modules) {
          const b = params.get(loraInputName(m.module.name, 'B'))!;
          for (let i = 0; i < b.length; i++) b[i] = (r() - 0.5) * 0.2;
        }
        const a = await whole.lossAndGrads(batch, params, { step: 0, micro: 0 });
        const c = await chunked.lossAndGrads(batch, params, { step: 0, micro: 0 });
        assert.ok(Math.abs(a.lossSum - c.lossSum) <= 1e-5 * Math.abs(a.lossSum), `${a.lossSum} vs ${c.lossSum}`);
        for (const [name, g] of a.grads) {
          const h = c.grads.get(name)!;
          for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i]! - h[i]!) <= 1e-5 + 1e-4 * Math.abs(g[i]!), `${name}[${i}]: ${g[i]} vs ${h[i]}`);
        }
        // Central differences of the engine's loss in a few directions: d loss / d B along a random direction.
        for (const m of modules.slice(0, 4)) {
          const name = loraInputName(m.module.name, 'B');
          const p = params.get(name)!;
          const dir = Float32Array.from(p, () => r() - 0.5);
          const analytic = a.grads.get(name)!.reduce((s, gi, i) => s + gi * dir[i]!, 0);
          const at = async (e: number) => {
            const q = new Map(params);
            q.set(
              name,
              Float32Array.from(p, (v, i) => v + e * dir[i]!),
            );
            return whole.lossSum(batch, q);
          };
          const h = 1e-2;
          const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
          assert.ok(Math.abs(analytic - numeric) <= 2e-3 + 2e-2 * Math.abs(numeric), `${name}: ${analytic} vs ${numeric}`);
        }
      } finally {
        await whole.dispose();
        await chunked.dispose();
        await plain.dispose();
      }
    } finally {
      store.close();
    }
  });

  it('two optimizer steps follow a float64 reference trace (test/reference/distill-trace.ts): losses and gradient norms', async function () {
    this.timeout(300_000);
    const store = TensorStore.openDir(dir);
    try {
      // LoRA on one module keeps the reference's central differences to 256 parameters.
      const one = targetedModulesWithScale(cfg, parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: 'model\\.layers\\.0\\.self_attn\\.q_proj' }));
      assert.equal(one.length, 1);
      const batch = makeBatch(examples(cfg, 1, 9, 13), 0, 9, SOFT);
      const init = initLora(one, 5);
      const model = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, spec: { mode: 'lora', lora: one, softTargets: SOFT } });
      const engine: { loss: number; gradNorm: number }[] = [];
      try {
        const state = { step: 0, params: new Map([...init].map(([k, v]) => [k, Float32Array.from(v)])), optimizer: newAdamWState() };
        for (let k = 0; k < 2; k++) {
          engine.push(await optimizerStep(model, [batch], state, 0.01, { weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8, clipGradNorm: 1 }));
          state.step++;
        }
      } finally {
        await model.dispose();
      }
      const reference = referenceDistillTrace(
        new NaiveDecoder(cfg, store),
        batch,
        one.map((m) => ({ name: m.module.name, r: m.r, scale: m.scale })),
        new Map([...init].map(([k, v]) => [k, Float64Array.from(v)])),
        { steps: 2, lr: 0.01, clip: 1, temperature: SOFT.temperature },
      );
      engine.forEach((e, k) => {
        const r = reference[k]!;
        assert.ok(Math.abs(e.loss - r.loss) <= 1e-4 * r.loss, `step ${k + 1}: loss ${e.loss} vs float64 ${r.loss}`);
        assert.ok(Math.abs(e.gradNorm - r.gradNorm) <= 1e-3 * r.gradNorm, `step ${k + 1}: gradient norm ${e.gradNorm} vs float64 ${r.gradNorm}`);
      });
      // The steps did something: the second loss is below the first.
      assert.ok(reference[1]!.loss < reference[0]!.loss, `${reference[0]!.loss} → ${reference[1]!.loss}`);
    } finally {
      store.close();
    }
  });
});
