import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { adamwStep, clipGradNorm, globalNorm, newAdamWState } from '../../src/core/train/optim';
import { learningRate, type ScheduleName } from '../../src/core/train/schedule';
import { GOLDEN } from '../helpers';

describe('learning-rate schedules (transformers definitions)', () => {
  it('cosine with warm-up reproduces the rates recorded in the golden train2 trace', () => {
    const t = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'train2', 'train2.json'), 'utf8'));
    const got = t.lrs.map((_: number, i: number) => learningRate(0.005, { name: 'cosine', warmupSteps: 2, totalSteps: 8 }, i));
    got.forEach((v: number, i: number) => assert.ok(Math.abs(v - t.lrs[i]) < 1e-12, `step ${i}: ${v} vs ${t.lrs[i]}`));
  });

  it('linear and constant, with warm-up, hand-computed', () => {
    const s = (name: ScheduleName) => [0, 1, 2, 3, 4, 5].map((i) => learningRate(1, { name, warmupSteps: 2, totalSteps: 6 }, i));
    assert.deepEqual(s('linear'), [0, 0.5, 1, 0.75, 0.5, 0.25]);
    assert.deepEqual(s('constant'), [0, 0.5, 1, 1, 1, 1]);
    assert.deepEqual(
      [0, 3].map((i) => learningRate(2, { name: 'constant', warmupSteps: 0, totalSteps: 4 }, i)),
      [2, 2],
    );
  });
});

describe('AdamW and clipping (PyTorch semantics)', () => {
  it('two steps on hand-computed values, with decoupled weight decay and bias correction', () => {
    const p = new Map([['w', Float32Array.from([1, -2])]]);
    const state = newAdamWState();
    const cfg = { betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.1 };
    adamwStep(p, new Map([['w', Float32Array.from([0.5, 0.2])]]), state, 0.01, cfg);
    // step 1: p·(1 − 0.001), then m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) = ±0.01
    assert.ok(Math.abs(p.get('w')![0]! - (1 * 0.999 - 0.01)) < 1e-6);
    assert.ok(Math.abs(p.get('w')![1]! - (-2 * 0.999 - 0.01)) < 1e-6);
    adamwStep(p, new Map([['w', Float32Array.from([-0.5, 0.2])]]), state, 0.01, cfg);
    // step 2, first element: m = 0.9·0.5·0.1... computed in float64 here
    const m = 0.9 * (0.1 * 0.5) + 0.1 * -0.5;
    const v = 0.999 * (0.001 * 0.25) + 0.001 * 0.25;
    const expected = (1 * 0.999 - 0.01) * 0.999 - (0.01 / (1 - 0.81)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.998001) + 1e-8));
    assert.ok(Math.abs(p.get('w')![0]! - expected) < 1e-6, `${p.get('w')![0]} vs ${expected}`);
    assert.equal(state.step, 2);
  });

  it('clips by the global norm, as clip_grad_norm_ does, and reports the norm before', () => {
    const g = new Map([
      ['a', Float32Array.from([3, 0])],
      ['b', Float32Array.from([0, 4])],
    ]);
    assert.equal(clipGradNorm(g, 1), 5);
    assert.ok(Math.abs(globalNorm(g.values()) - 5 / (5 + 1e-6)) < 1e-6);
    const small = new Map([['a', Float32Array.from([0.3, 0.4])]]);
    clipGradNorm(small, 1);
    assert.deepEqual(Array.from(small.get('a')!), [Math.fround(0.3), Math.fround(0.4)]);
  });
});
