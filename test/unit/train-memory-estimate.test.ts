import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHAPES } from '../../bench/scale';
import { parseModelConfig } from '../../src/core/models/config';
import { estimateTrainingMemory, type TrainingMemoryOptions, suggestMemoryFix } from '../../src/core/train/memory';
import { startRun } from '../../src/core/train/start';
import { tempDir } from '../helpers';
import { llamaConfig, makeCheckpoint } from '../make-checkpoint';

/** The pre-flight memory estimate's structure (its figures are checked against measured peaks by `npm run bench:scale`). */

// The Qwen2.5-0.5B shape bench:scale measures.
const qwen = parseModelConfig(SHAPES.find((x) => x.key === 'qwen')!.config);
const batch = { batchSize: 4, maxSeqLen: 256 };
const base: TrainingMemoryOptions = { method: 'lora', gradientCheckpointing: false, baseDtype: 'fp32' };
const GIB = 2 ** 30;

describe('training memory estimate', () => {
  it('each option lowers the part it acts on: checkpointing the activations, a bf16 or int8 base the linear layers', () => {
    const plain = estimateTrainingMemory(qwen, batch, 4_399_104, base);
    const ckpt = estimateTrainingMemory(qwen, batch, 4_399_104, { ...base, gradientCheckpointing: true });
    const bf16 = estimateTrainingMemory(qwen, batch, 4_399_104, { ...base, gradientCheckpointing: true, baseDtype: 'bf16' });
    const int8 = estimateTrainingMemory(qwen, batch, 4_399_104, { ...base, gradientCheckpointing: true, baseDtype: 'int8' });
    assert.ok(ckpt.activations < plain.activations / 4, `${ckpt.activations} vs ${plain.activations}`);
    assert.equal(ckpt.weights, plain.weights);
    // 494M parameters, 136M of them the (float32) embedding: the linear layers hold 358M.
    const linear = 357_826_560;
    assert.equal(plain.weights - bf16.weights, linear * 2);
    assert.ok(Math.abs(plain.weights - int8.weights - linear * 3) < 2e6, `${plain.weights - int8.weights}`);
    assert.ok(int8.total < bf16.total && bf16.total < ckpt.total && ckpt.total < plain.total);
  });

  it('suggests the cheapest change that makes a run fit, in order: checkpointing, a bf16 base, an int8 base, a smaller batch', () => {
    const t = 4_399_104;
    const total = (o: Partial<TrainingMemoryOptions>, b = batch) => estimateTrainingMemory(qwen, b, t, { ...base, ...o }).total;
    const fix = (available: number) => suggestMemoryFix(qwen, batch, t, base, available)?.change;
    assert.equal(fix(total({})), undefined, 'it fits as it is');
    assert.equal(fix(total({}) - 1), 'gradient_checkpointing: true');
    assert.equal(fix(total({ gradientCheckpointing: true }) - 1), 'gradient_checkpointing: true and base_dtype: bf16');
    assert.equal(fix(total({ gradientCheckpointing: true, baseDtype: 'bf16' }) - 1), 'gradient_checkpointing: true and base_dtype: int8');
    assert.equal(fix(total({ gradientCheckpointing: true, baseDtype: 'int8' }) - 1), 'gradient_checkpointing: true and base_dtype: int8 and batch_size: 2');
    assert.equal(fix(0.1 * GIB), undefined, 'nothing makes it fit');
    // Full fine-tuning has no base dtype to change.
    const full = suggestMemoryFix(
      qwen,
      batch,
      494e6,
      { ...base, method: 'full' },
      estimateTrainingMemory(qwen, batch, 494e6, { ...base, method: 'full' }).total - 1,
    );
    assert.ok(full && !/base_dtype/.test(full.change), full?.change);
  });

  it('a run the machine cannot hold is refused before its process starts, naming the recipe and the option that fits', async () => {
    const ws = tempDir();
    // The golden llama's shape with 8 layers: checkpointing keeps 2 layers' activations instead of 8.
    const dir = path.join(ws, 'model');
    makeCheckpoint(dir, llamaConfig({ num_hidden_layers: 8 }));
    fs.writeFileSync(path.join(ws, 'd.jsonl'), `${JSON.stringify({ text: 'hello there' })}\n`.repeat(8));
    const recipe = path.join(ws, 'r.adapter.yml');
    fs.writeFileSync(recipe, `base_model: ${dir}\ndataset:\n  path: d.jsonl\n  validation_split: 0\ntraining:\n  batch_size: 64\n  max_seq_len: 512\n`);
    const runs = path.join(ws, 'runs');
    const cfg = parseModelConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const b = { batchSize: 64, maxSeqLen: 512 };
    const lora = 2 * 8 * (7 * 64 + 64 * 3 + 176 * 3); // about the run's LoRA size: its state is tiny next to the gap asserted below
    const plain = estimateTrainingMemory(cfg, b, lora, base).total;
    const ckpt = estimateTrainingMemory(cfg, b, lora, { ...base, gradientCheckpointing: true }).total;
    assert.ok(ckpt < plain - 64 * 2 ** 20, `${plain} vs ${ckpt}: room between them for the memory available`);
    await assert.rejects(
      startRun(recipe, { runsDir: runs, trainerEntry: '/nonexistent', trustedReads: [dir], availableMemory: Math.round((plain + ckpt) / 2) }),
      (e: Error) =>
        /r\.adapter\.yml.*training needs about .* is available.*set gradient_checkpointing: true under training:/s.test(e.message) || assert.fail(e.message),
    );
    assert.ok(!fs.existsSync(runs) || fs.readdirSync(runs).length === 0, 'no run folder was made');
  });
});
