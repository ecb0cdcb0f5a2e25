import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, type ParamsFormat, saveCheckpoint } from '../../src/core/train/checkpoint';
import { readSafetensors, writeSafetensors } from '../../src/core/safetensors';
import { fromFloat32, toFloat32 } from '../../src/core/safetensors/dtype';
import { type Batch, type Example, makeBatch } from '../../src/core/train/data';
import { EventWriter, followEvents, readEvents, type RunEvent } from '../../src/core/train/events';
import { DivergedError, optimizerStep, type StepModel, stepExamples, train, type TrainConfig, type TrainState } from '../../src/core/train/loop';
import { newAdamWState } from '../../src/core/train/optim';
import { tempDir } from '../helpers';
import { rng } from '../make-checkpoint';

/**
 * The loop on a model small enough to differentiate by hand: a bigram table W [V, V], logits of the
 * next token = W[current token]. Its gradient is softmax − one-hot, summed over counted targets.
 */
const V = 6;
class Bigram implements StepModel {
  private forward(batch: Batch, W: Float32Array, grads?: Float32Array): number {
    let loss = 0;
    for (let i = 0; i < batch.weights.length; i++) {
      if (!batch.weights[i]) continue;
      const cur = Number(batch.inputIds[i]);
      const tgt = Number(batch.targets[i]);
      const row = W.subarray(cur * V, (cur + 1) * V);
      const max = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp(x - max), 0);
      loss += -(row[tgt]! - max - Math.log(z));
      if (grads) for (let j = 0; j < V; j++) grads[cur * V + j]! += Math.exp(row[j]! - max) / z - (j === tgt ? 1 : 0);
    }
    return loss;
  }
  async lossAndGrads(batch: Batch, params: ReadonlyMap<string, Float32Array>) {
    const g = new Float32Array(V * V);
    return { lossSum: this.forward(batch, params.get('W')!, g), grads: new Map([['W', g]]) };
  }
  async lossSum(batch: Batch, params: ReadonlyMap<string, Float32Array>) {
    return this.forward(batch, params.get('W')!);
  }
}

// Sequences that follow a fixed successor rule with a little noise: learnable.
const r = rng(11);
const examples: Example[] = Array.from({ length: 24 }, (_, n) => {
  const ids = [1 + (n % 5)];
  for (let t = 0; t < 7; t++) ids.push(r() < 0.9 ? 1 + (ids[t]! % 5) : 1 + Math.floor(r() * 5));
  return { line: n + 1, ids, mask: ids.map((_, t) => (t >= 2 ? 1 : 0)) };
});
const config: TrainConfig = {
  lr: 0.1,
  schedule: 'cosine',
  warmupSteps: 2,
  batchSize: 2,
  gradAccum: 2,
  maxSteps: 12,
  weightDecay: 0.01,
  betas: [0.9, 0.999],
  eps: 1e-8,
  clipGradNorm: 1,
  seed: 5,
  padId: 0,
  evalEvery: 4,
  checkpointEvery: 5,
};
/** The bigram's tensors as one plain safetensors file (the checkpoint format's stand-in for a PEFT adapter). */
const SAFETENSORS_PARAMS: ParamsFormat = {
  write(dir, params) {
    const t = new Map([...params].map(([k, p]) => [k, { dtype: 'F32' as const, shape: [p.length], data: fromFloat32('F32', p) }]));
    writeSafetensors(path.join(dir, 'params.safetensors'), t);
  },
  read(dir) {
    return new Map([...readSafetensors(path.join(dir, 'params.safetensors'))].map(([k, t]) => [k, toFloat32(t.dtype, t.data).slice()]));
  },
};
const fresh = (): TrainState => ({ step: 0, params: new Map([['W', new Float32Array(V * V)]]), optimizer: newAdamWState() });

async function run(dir: string, state: TrainState, signalAt?: number) {
  const events: RunEvent[] = [];
  const writer = new EventWriter(path.join(dir, 'events.jsonl'));
  const controller = new AbortController();
  const outcome = await train(new Bigram(), config, { train: examples.slice(0, 20), validation: examples.slice(20) }, state, {
    emit: (e) => {
      const ev = writer.append(e);
      events.push(ev);
      if (ev.type === 'step' && ev.step === signalAt) controller.abort();
    },
    checkpoint: (s) => saveCheckpoint(path.join(dir, 'checkpoints', `step-${s.step}`), s, SAFETENSORS_PARAMS, { seed: config.seed, examplesPerStep: 4 }),
    signal: controller.signal,
  });
  writer.close();
  return { outcome, events };
}

describe('training loop', () => {
  it('lowers the training and validation loss', async () => {
    const { outcome, events } = await run(tempDir(), fresh());
    assert.equal(outcome, 'done');
    const steps = events.filter((e) => e.type === 'step');
    const evals = events.filter((e) => e.type === 'eval');
    assert.equal(steps.length, 12);
    assert.ok(steps.at(-1)!.loss < steps[0]!.loss * 0.6, `${steps[0]!.loss} → ${steps.at(-1)!.loss}`);
    assert.ok(evals.at(-1)!.loss < evals[0]!.loss, `${evals[0]!.loss} → ${evals.at(-1)!.loss}`);
    assert.deepEqual(
      events.filter((e) => e.type === 'checkpoint').map((e) => (e as { step: number }).step),
      [5, 10],
    );
  });

  it('cancelled, then resumed from its checkpoint, gives the loss trace of an uninterrupted run', async () => {
    const whole = await run(tempDir(), fresh());
    const dir = tempDir();
    const first = await run(dir, fresh(), 7);
    assert.equal(first.outcome, 'cancelled');
    const cancelled = first.events.at(-1)!;
    assert.equal(cancelled.type, 'cancelled');
    const { state } = loadCheckpoint((cancelled as { checkpoint: string }).checkpoint, SAFETENSORS_PARAMS);
    assert.equal(state.step, 7);
    const second = await run(dir, state);
    const trace = (evs: RunEvent[]) => evs.filter((e) => e.type === 'step').map((e) => [(e as { step: number }).step, (e as { loss: number }).loss]);
    assert.deepEqual([...trace(first.events), ...trace(second.events)], trace(whole.events));
    // events.jsonl holds both parts, in order
    const all = readEvents(path.join(dir, 'events.jsonl')).events;
    assert.deepEqual(trace(all), trace(whole.events));
  });

  it('accumulating micro-batches gives the same step as one batch (sum ÷ the step’s targets)', async () => {
    const ex = stepExamples(examples, config, 0).flat();
    const a = fresh();
    const b = fresh();
    const cfg = { weightDecay: 0, betas: [0.9, 0.999] as const, eps: 1e-8, clipGradNorm: 0 };
    const one = await optimizerStep(new Bigram(), [makeBatch(ex, 0)], a, 0.1, cfg);
    const two = await optimizerStep(new Bigram(), [makeBatch(ex.slice(0, 2), 0), makeBatch(ex.slice(2), 0)], b, 0.1, cfg);
    assert.ok(Math.abs(one.loss - two.loss) < 1e-6);
    a.params.get('W')!.forEach((w, i) => assert.ok(Math.abs(w - b.params.get('W')![i]!) < 1e-6));
  });

  it('a follower sees every event, including those written after it started, until the end', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.jsonl');
    const seen: RunEvent[] = [];
    const w = new EventWriter(file);
    w.append({ type: 'started', pid: process.pid, totalSteps: 2, trainExamples: 1, validationExamples: 0 });
    const following = followEvents(file, (e) => seen.push(e), { pollMs: 10 });
    await new Promise((res) => setTimeout(res, 30));
    w.append({ type: 'step', step: 1, loss: 1, lr: 0.1, gradNorm: 1, tokensPerSecond: 1, etaSeconds: 1 });
    fs.appendFileSync(file, '{"type": "step", "partial'); // a line being written is not read yet
    await new Promise((res) => setTimeout(res, 30));
    assert.deepEqual(
      seen.map((e) => e.type),
      ['started', 'step'],
    );
    fs.appendFileSync(file, '"}\n');
    w.append({ type: 'done', step: 2, result: 'x', kind: 'adapter' });
    w.close();
    const last = await following;
    assert.equal(last?.type, 'done');
    assert.deepEqual(
      seen.map((e) => e.type),
      ['started', 'step', 'done'],
    );
    assert.equal(readEvents(file).invalid.length, 1, 'the malformed line is reported, not hidden');
  });

  it('a follower reports a failure when the owner dies without a final event', async () => {
    const file = path.join(tempDir(), 'events.jsonl');
    const w = new EventWriter(file);
    w.append({ type: 'started', pid: 999999, totalSteps: 2, trainExamples: 1, validationExamples: 0 });
    w.close();
    const last = await followEvents(file, () => undefined, { pollMs: 5, isOwnerAlive: () => false });
    assert.equal(last?.type, 'failed');
  });
});

describe('training loop: divergence and checkpoints by time', () => {
  /** The bigram, poisoned: from step `at` on, its loss (or gradient, or validation loss) is not finite. */
  class Poisoned extends Bigram {
    constructor(
      private readonly at: number,
      private readonly what: 'loss' | 'gradient' | 'validation',
    ) {
      super();
    }
    override async lossAndGrads(batch: Batch, params: ReadonlyMap<string, Float32Array>, where?: { step: number; micro: number }) {
      const r = await super.lossAndGrads(batch, params);
      if (!where) return r;
      if (where.step + 1 < this.at) return r;
      if (this.what === 'loss') return { ...r, lossSum: Number.NaN };
      if (this.what === 'gradient') r.grads.get('W')![3] = Number.POSITIVE_INFINITY;
      return r;
    }
    override async lossSum(batch: Batch, params: ReadonlyMap<string, Float32Array>) {
      return this.what === 'validation' ? Number.NaN : super.lossSum(batch, params);
    }
  }

  for (const [what, quantity, at] of [
    ['loss', 'loss', 3],
    ['gradient', 'gradient norm', 5],
    ['validation', 'validation loss', 4],
  ] as const) {
    it(`a non-finite ${quantity} stops the run at its step, before the optimizer applies it`, async () => {
      const state = fresh();
      const before: Float32Array[] = [];
      const emitted: string[] = [];
      const model = new Poisoned(at, what);
      const go = train(model, { ...config, evalEvery: 4 }, { train: examples.slice(0, 20), validation: examples.slice(20) }, state, {
        emit: (e) => {
          emitted.push(e.type);
          if (e.type === 'step') before.push(state.params.get('W')!.slice());
        },
        checkpoint: () => 'x',
      });
      await assert.rejects(go, (e: Error) => {
        assert.ok(e instanceof DivergedError, String(e));
        assert.equal(e.step, at);
        assert.equal(e.quantity, quantity);
        assert.match(e.message, new RegExp(`diverged at step ${at}: the ${quantity} is (NaN|Infinity)`));
        return true;
      });
      // The weights are those of the last finite step: every value finite, and (for the training loss or
      // gradient) unchanged since that step was recorded.
      assert.ok(state.params.get('W')!.every(Number.isFinite));
      if (what !== 'validation') assert.deepEqual(state.params.get('W'), before.at(-1), 'the poisoned step changed nothing');
      assert.ok(!emitted.includes('checkpoint') || what === 'validation');
    });
  }

  it('checkpoints by time when checkpointSeconds have passed, even between checkpointEvery steps', async () => {
    const saved: number[] = [];
    const slow = new (class extends Bigram {
      override async lossAndGrads(batch: Batch, params: ReadonlyMap<string, Float32Array>) {
        await new Promise((r) => setTimeout(r, 30));
        return super.lossAndGrads(batch, params);
      }
    })();
    await train(slow, { ...config, maxSteps: 6, checkpointEvery: 100, checkpointSeconds: 0.05 }, { train: examples.slice(0, 20), validation: [] }, fresh(), {
      emit: () => undefined,
      checkpoint: (s) => {
        saved.push(s.step);
        return 'x';
      },
    });
    // Two micro-batches of 30 ms a step: past 50 ms every step (the last one ends the run instead).
    assert.deepEqual(saved, [1, 2, 3, 4, 5]);
  });
});

describe('events.jsonl: the result of a finished run', () => {
  it("names its folder and kind; a run written before that (done.adapter) reads as the same, a full fine-tune's as a model", () => {
    const file = path.join(tempDir(), 'events.jsonl');
    const t = '2026-01-01T00:00:00.000Z';
    fs.writeFileSync(
      file,
      [
        { type: 'done', time: t, step: 3, result: '/r/adapter', kind: 'adapter' },
        { type: 'done', time: t, step: 4, adapter: '/r/adapter' },
        { type: 'done', time: t, step: 5, adapter: '/r/model' },
      ]
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    );
    const { events, invalid } = readEvents(file);
    assert.deepEqual(invalid, []);
    assert.deepEqual(
      events.map((e) => (e.type === 'done' ? [e.step, e.result, e.kind] : e.type)),
      [
        [3, '/r/adapter', 'adapter'],
        [4, '/r/adapter', 'adapter'],
        [5, '/r/model', 'model'],
      ],
    );
  });
});
