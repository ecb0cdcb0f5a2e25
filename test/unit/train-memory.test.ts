import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { targetedModulesWithScale } from '../../src/core/lora/adapter';
import { parseLoraConfig } from '../../src/core/lora/config';
import { expectedWeights, loadModelConfig, type ModelConfig } from '../../src/core/models/config';
import { type BaseDtype, FrozenWeights } from '../../src/core/models/graph/frozen';
import { f32ToBf16Bits } from '../../src/core/safetensors/dtype';
import { writeSafetensors } from '../../src/core/safetensors';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { type Batch, makeBatch } from '../../src/core/train/data';
import { loraInputName } from '../../src/core/train/graph';
import { initLora } from '../../src/core/train/lora-params';
import { optimizerStep } from '../../src/core/train/loop';
import { newAdamWState } from '../../src/core/train/optim';
import { OnnxStepModel, type OnnxStepOptions } from '../../src/core/train/onnx-step';
import { NaiveDecoder } from '../reference/naive-decoder';
import { GOLDEN, tempDir } from '../helpers';
import { rng } from '../make-checkpoint';

/**
 * The memory options of the training step (frozen weights fed from one copy, the LM head and loss in
 * chunks, activation recomputation, a bf16 or int8 base) against the plain graph and a float64
 * reference. Each option changes where values live, never what they are.
 */

function batchOf(cfg: ModelConfig, B: number, S: number, seed: number): Batch {
  const r = rng(seed);
  const examples = Array.from({ length: B }, (_, b) => {
    const ids = Array.from({ length: S - b }, () => 3 + Math.floor(r() * (cfg.vocabSize - 3)));
    return { line: b + 1, ids, mask: ids.map((_, t) => (t > 2 ? 1 : 0)) };
  });
  return makeBatch(examples, 0, S);
}

/** LoRA params with B ≠ 0, so that every gradient is non-trivial. */
function loraParams(cfg: ModelConfig) {
  const modules = targetedModulesWithScale(cfg, parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: 'all-linear' }));
  const params = initLora(modules, 3);
  const r = rng(11);
  for (const m of modules) {
    const b = params.get(loraInputName(m.module.name, 'B'))!;
    for (let i = 0; i < b.length; i++) b[i] = (r() - 0.5) * 0.2;
  }
  return { modules, params };
}

async function step(
  cfg: ModelConfig,
  store: TensorStore,
  options: Omit<OnnxStepOptions, 'seed' | 'spec'> & { spec?: Partial<OnnxStepOptions['spec']> },
  batch: Batch,
) {
  const { modules, params } = loraParams(cfg);
  const model = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, ...options, spec: { mode: 'lora', lora: modules, ...options.spec } });
  try {
    const r = await model.lossAndGrads(batch, params, { step: 0, micro: 0 });
    const validation = await model.lossSum(batch, params);
    return { ...r, validation };
  } finally {
    await model.dispose();
  }
}

/** Largest |a − b| over every gradient, relative to the largest |b|. */
function gradDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  let scale = 0;
  for (const [name, want] of b) {
    const got = a.get(name)!;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
  }
  assert.ok(scale > 0, 'the gradients are not all zero');
  return worst / scale;
}

describe('training memory options', function () {
  this.timeout(180_000);

  for (const arch of ['llama', 'qwen2', 'gpt2']) {
    it(`${arch}: fed weights, a chunked loss and recomputed layers give the plain graph's loss and gradients`, async () => {
      const dir = path.join(GOLDEN, arch);
      const cfg = loadModelConfig(dir);
      const store = TensorStore.openDir(dir);
      try {
        const batch = batchOf(cfg, 3, 12, 5);
        const plain = await step(cfg, store, {}, batch);
        // 36 tokens in chunks of 5: seven chunks, the last one smaller.
        const all = await step(cfg, store, { frozen: new FrozenWeights('fp32'), spec: { gradientCheckpointing: true, chunkTokens: 5 } }, batch);
        const fedOnly = await step(cfg, store, { frozen: new FrozenWeights('fp32') }, batch);
        for (const r of [all, fedOnly]) {
          assert.ok(Math.abs(r.lossSum - plain.lossSum) <= 1e-5 * Math.abs(plain.lossSum), `loss ${r.lossSum} vs ${plain.lossSum}`);
          assert.ok(Math.abs(r.validation - plain.validation) <= 1e-5 * Math.abs(plain.validation), `validation ${r.validation} vs ${plain.validation}`);
          const d = gradDiff(r.grads, plain.grads);
          assert.ok(d <= 1e-5, `gradients differ by ${d}`);
        }
      } finally {
        store.close();
      }
    });
  }

  it('recomputation alone changes no value: the gradients are those without it, to float32 rounding', async () => {
    const dir = path.join(GOLDEN, 'llama');
    const cfg = loadModelConfig(dir);
    const store = TensorStore.openDir(dir);
    try {
      const batch = batchOf(cfg, 2, 10, 8);
      const frozen = new FrozenWeights('fp32');
      const kept = await step(cfg, store, { frozen }, batch);
      const recomputed = await step(cfg, store, { frozen, spec: { gradientCheckpointing: true } }, batch);
      // Bit for bit, but for onnxruntime fusing the copy's ops a little differently from the forward's.
      assert.equal(recomputed.lossSum, kept.lossSum);
      const d = gradDiff(recomputed.grads, kept.grads);
      assert.ok(d <= 2e-6, `gradients differ by ${d}`);
    } finally {
      store.close();
    }
  });

  it('a LoRA trained on an int8 base, run on the float base, moves its loss only as much as the quantization moves the base model', async () => {
    const dir = path.join(GOLDEN, 'llama');
    const cfg = loadModelConfig(dir);
    const store = TensorStore.openDir(dir);
    const frozen = new FrozenWeights('int8');
    const { modules } = loraParams(cfg);
    const quantized = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, frozen, spec: { mode: 'lora', lora: modules } });
    const float = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, frozen: new FrozenWeights('fp32'), spec: { mode: 'lora', lora: modules } });
    try {
      const batch = batchOf(cfg, 4, 12, 21);
      const state = { step: 0, params: initLora(modules, 5), optimizer: newAdamWState() };
      const untrained = initLora(modules, 5);
      for (let i = 0; i < 12; i++) {
        await optimizerStep(quantized, [batch], state, 0.01, { weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8, clipGradNorm: 1 });
        state.step += 1;
      }
      const [trainedQ, trainedF, baseQ, baseF] = await Promise.all([
        quantized.lossSum(batch, state.params),
        float.lossSum(batch, state.params),
        quantized.lossSum(batch, untrained),
        float.lossSum(batch, untrained),
      ]);
      assert.ok(trainedQ < 0.8 * baseQ, `training on the int8 base lowered the loss: ${baseQ} → ${trainedQ}`);
      // The stated error: the weights' relative RMS error, about 1/(127·√3) of each channel's range.
      const q = frozen.quantizationError()!;
      assert.ok(q.relative > 1e-3 && q.relative < 2e-2, `relative error ${q.relative}`);
      assert.ok(q.worst.relative >= q.relative && /layers\.\d+\./.test(q.worst.name), JSON.stringify(q.worst));
      const shift = Math.abs(trainedF - trainedQ);
      const baseShift = Math.abs(baseF - baseQ);
      assert.ok(baseShift > 0, 'the quantization changes the base model');
      assert.ok(shift <= 3 * baseShift + 1e-4 * trainedQ, `the adapter moved ${shift} between the bases, the base model ${baseShift}`);
      assert.equal(new FrozenWeights('fp32').quantizationError(), undefined);
    } finally {
      await quantized.dispose();
      await float.dispose();
      store.close();
    }
  });

  for (const dtype of ['bf16', 'int8'] as const) {
    it(`a ${dtype} base computes with its dequantized weights: the float64 reference on them, and the plain graph on them`, async () => {
      const dir = path.join(GOLDEN, 'llama');
      const cfg = loadModelConfig(dir);
      const store = TensorStore.openDir(dir);
      const work = tempDir();
      try {
        // The checkpoint as the base dtype holds it, written back in float32: every linear layer's
        // matrix rounded to bf16, or quantized per output channel (a row of [out, in]) to int8.
        writeDequantized(store, cfg, dtype, path.join(work, 'model.safetensors'));
        for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(dir, f), path.join(work, f));
        const deq = TensorStore.openDir(work);
        try {
          const batch = batchOf(cfg, 2, 10, 6);
          const quantized = await step(cfg, store, { frozen: new FrozenWeights(dtype), spec: { gradientCheckpointing: true, chunkTokens: 7 } }, batch);
          const onDequantized = await step(cfg, deq, {}, batch);
          assert.ok(
            Math.abs(quantized.lossSum - onDequantized.lossSum) <= 1e-5 * Math.abs(onDequantized.lossSum),
            `${quantized.lossSum} vs ${onDequantized.lossSum}`,
          );
          const d = gradDiff(quantized.grads, onDequantized.grads);
          assert.ok(d <= 1e-5, `gradients differ by ${d}`);
          // And the loss against the float64 forward pass on the dequantized weights (B = 0: the base model).
          const { modules } = loraParams(cfg);
          const zero = initLora(modules, 3);
          const model = new OnnxStepModel(cfg, store, { seed: 1, threads: 2, frozen: new FrozenWeights(dtype), spec: { mode: 'lora', lora: modules } });
          const got = await model.lossSum(batch, zero);
          await model.dispose();
          const want = referenceLossSum(new NaiveDecoder(cfg, deq), batch);
          assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want), `engine ${got} vs float64 reference ${want}`);
          // The quantization is not a no-op: the plain weights give another loss.
          const orig = referenceLossSum(new NaiveDecoder(cfg, store), batch);
          assert.ok(Math.abs(orig - want) > 1e-4 * Math.abs(want), `the ${dtype} base changed nothing (${orig} vs ${want})`);
        } finally {
          deq.close();
        }
      } finally {
        store.close();
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  }
});

/** Σ over counted targets of −log p(target), in float64, for a batch (positions 0..S−1 per row). */
function referenceLossSum(ref: NaiveDecoder, batch: Batch): number {
  let sum = 0;
  const { size: B, length: S } = batch;
  for (let b = 0; b < B; b++) {
    const len = Array.from(batch.attentionMask.subarray(b * S, (b + 1) * S)).filter((m) => m === 1n).length;
    const ids = Array.from(batch.inputIds.subarray(b * S, b * S + len), Number);
    const logits = ref.forward(ids);
    for (let t = 0; t < len; t++) {
      if (batch.weights[b * S + t] === 0) continue;
      const row = logits[t]!;
      const max = Math.max(...row);
      let z = 0;
      for (const v of row) z += Math.exp(v - max);
      sum -= row[Number(batch.targets[b * S + t])]! - max - Math.log(z);
    }
  }
  return sum;
}

/** A float32 copy of the checkpoint with each matrix replaced by what a `dtype` base holds (written independently of FrozenWeights). */
function writeDequantized(store: TensorStore, cfg: ModelConfig, dtype: Exclude<BaseDtype, 'fp32'>, file: string): void {
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  const tensors = new Map(
    expectedWeights(cfg).map((w) => {
      const data = store.readFloat32(w.name).slice();
      // The linear layers' matrices; embeddings and the LM head stay float32.
      if (w.shape.length === 2 && !/embed|wte|wpe|lm_head/.test(w.name)) {
        if (dtype === 'bf16') {
          for (let i = 0; i < data.length; i++) {
            bits[0] = f32ToBf16Bits(data[i]!) << 16;
            data[i] = asFloat[0]!;
          }
        } else {
          // Linear weights [out, in]: one scale per row.
          const [rows, cols] = w.shape as [number, number];
          for (let r = 0; r < rows; r++) {
            const row = data.subarray(r * cols, (r + 1) * cols);
            const max = row.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
            const s = max > 0 ? Math.fround(max / 127) : 1;
            for (let c = 0; c < cols; c++) {
              const x = row[c]! / s;
              // round half to even
              const f = Math.floor(x);
              const q = x - f > 0.5 || (x - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
              row[c] = Math.fround(Math.max(-127, Math.min(127, q)) * s);
            }
          }
        }
      }
      return [w.name, { dtype: 'F32' as const, shape: w.shape, data: new Uint8Array(data.buffer) }];
    }),
  );
  writeSafetensors(file, tensors, { format: 'pt' });
}
