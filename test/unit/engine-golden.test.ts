import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareGreedy, runGolden } from '../../src/core/golden/run';
import { loadModelConfig } from '../../src/core/models/config';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { GOLDEN, GOLDEN_ARCHS, tempDir } from '../helpers';
import { NaiveDecoder } from '../reference/naive-decoder';

/** The same checks as `tuneloop golden`, on the fixtures: the engine against Hugging Face. */
describe('golden parity (tuneloop golden)', function () {
  this.timeout(120_000);
  const cacheDir = tempDir();

  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: every check passes (inference, LoRA, chat template, gradients, AdamW, train2, adapter files)`, async () => {
      const r = await runGolden(path.join(GOLDEN, arch), { cacheDir, threads: 2 });
      for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.maxAbsErr} > ${c.tol} ${c.detail ?? ''}`);
      const names = r.checks.map((c) => c.name);
      const grads = JSON.parse(fs.readFileSync(path.join(GOLDEN, arch, 'manifest.json'), 'utf8'))['golden.safetensors'];
      const gradKeys = Object.keys(grads).filter((k) => k.startsWith('grad.')).sort();
      assert.deepEqual(names.filter((n) => n.startsWith('grad.')).sort(), gradKeys, 'one check per grad.* tensor');
      assert.deepEqual(
        names.filter((n) => !n.startsWith('grad.')),
        ['logits_base', 'greedy_base', 'logits_lora', 'logits_trained', 'logits_merged_trained', 'greedy_lora', 'chat', 'adamw', 'train2.losses', 'train2.grad_norms_before_clip', 'train2.logits_trained', 'adapter_files'],
      );
      assert.ok(r.checks[0]!.maxAbsErr < 1e-5, `logits within float32 rounding: ${r.checks[0]!.maxAbsErr}`);
    });
  }

  it('fails when the graph is wrong: mistral exported without its sliding window', async () => {
    const d = tempDir();
    fs.cpSync(path.join(GOLDEN, 'mistral'), d, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, sliding_window: null }));
    const r = await runGolden(d, { cacheDir, threads: 2, only: ['logits_base'] });
    assert.equal(r.ok, false);
    assert.ok(r.checks[0]!.maxAbsErr > 1e-3, `error ${r.checks[0]!.maxAbsErr}`);
  });

  it('greedy comparison: identical passes, a difference fails, a near-tie passes', () => {
    const want = [1, 2, 3, 4, 5];
    assert.equal(compareGreedy('g', [1, 2, 3, 4, 5], want, [1, 1, 1], 2).ok, true);
    const bad = compareGreedy('g', [1, 2, 3, 9, 5], want, [1, 1, 1], 2);
    assert.equal(bad.ok, false);
    assert.match(bad.detail!, /first difference at step 1: got 9, expected 4 \(recorded gap 1\.00e\+0\)/);
    assert.equal(compareGreedy('g', [1, 2, 3, 9, 7], want, [1, 3e-4, 1], 2).ok, true);
    assert.equal(compareGreedy('g', [1, 2, 3, 4], want, [1, 1, 1], 2).ok, false);
  });
});

describe('the float64 reference decoder against Hugging Face', function () {
  this.timeout(60_000);
  for (const arch of GOLDEN_ARCHS) {
    it(`${arch}: reproduces logits_base`, () => {
      const dir = path.join(GOLDEN, arch);
      const store = TensorStore.openDir(dir);
      const golden = TensorStore.openFiles([path.join(dir, 'golden.safetensors')]);
      const ids = Array.from(new BigInt64Array(golden.readBytes('input_ids').buffer), Number);
      const want = golden.readFloat32('logits_base');
      const ref = new NaiveDecoder(loadModelConfig(dir), store);
      const S = 16;
      const V = 512;
      let max = 0;
      for (let b = 0; b < 2; b++) {
        const logits = ref.forward(ids.slice(b * S, (b + 1) * S));
        logits.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - want[(b * S + t) * V + i]!)))));
      }
      assert.ok(max < 2e-4, `max abs err ${max}`);
      store.close();
      golden.close();
    });
  }
});
