import { decoderShapeOf } from '../../src/core/models/config';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../../src/core/errors';
import { generate, type GeneratedToken } from '../../src/core/infer/generate';
import { type LoadedModel, loadCausalLM } from '../../src/core/infer/load';
import { Tensor } from '@huggingface/transformers';
import { logSoftmax, RecordLogProbs, RepetitionPenalty, TopK, TopP } from '../../src/core/infer/processors';
import { exportCheckpoint } from '../../src/core/export/export';
import { openSession, runDecoderFull } from '../../src/core/onnx/session';
import { GOLDEN, tempDir } from '../helpers';

describe('generation through transformers.js', function () {
  this.timeout(60_000);
  let lm: LoadedModel;
  let exportDir: string;
  const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'llama', 'golden.json'), 'utf8'));
  const prompt: number[] = golden.greedy_base.slice(0, 8);

  before(async () => {
    exportDir = (await exportCheckpoint(path.join(GOLDEN, 'llama'), { cacheDir: tempDir() })).dir;
    lm = await loadCausalLM(exportDir, { threads: 2 });
  });
  after(() => lm.dispose());

  it('streams each token as it is chosen; the pieces add up to the text', async () => {
    const seen: GeneratedToken[] = [];
    const r = await generate(lm, { ids: prompt }, { maxTokens: 24 }, { onToken: (t) => seen.push(t) });
    assert.deepEqual(r.tokens, seen);
    assert.deepEqual([...prompt, ...r.tokens.map((t) => t.id)], golden.greedy_base);
    assert.equal(seen.map((t) => t.text).join(''), r.text);
    assert.equal(r.finish, 'length');
    assert.ok(r.timeToFirstTokenMs > 0 && r.tokensPerSecond > 0);
  });

  for (const [how, params] of [
    ['greedy', { maxTokens: 6 }],
    [
      'sampled with a temperature and a repetition penalty, which change the logits after they are recorded',
      { maxTokens: 6, temperature: 0.7, repetitionPenalty: 1.3, seed: 3 },
    ],
  ] as const)
    it(`reports each chosen token’s log-probability under the model (checked against the full-sequence logits), ${how}`, async () => {
      const r = await generate(lm, { ids: prompt }, params);
      const seq = [...prompt, ...r.tokens.map((t) => t.id)];
      const s = await openSession(path.join(exportDir, 'onnx/model.onnx'));
      const { logits } = await runDecoderFull(s, decoderShapeOf(exportDir), BigInt64Array.from(seq, BigInt), [1, seq.length]);
      await s.release();
      r.tokens.forEach((t, k) => {
        const pos = prompt.length - 1 + k;
        const all = logSoftmax(logits.subarray(pos * 512, (pos + 1) * 512));
        const want = all[t.id]!;
        assert.ok(Math.abs(t.logprob - want) < 1e-4, `token ${k}: ${t.logprob} vs ${want}`);
        assert.ok(t.logprob <= 0);
        // The five most likely tokens at the step, by a full sort of the same distribution.
        const best = [...all.keys()].sort((a, b) => all[b]! - all[a]! || a - b).slice(0, 5);
        assert.deepEqual(
          t.top?.map((x) => x.id),
          best,
          `token ${k}`,
        );
        t.top?.forEach((x, j) => assert.ok(Math.abs(x.logprob - all[best[j]!]!) < 1e-4));
        assert.deepEqual(
          t.top?.map((x) => x.text),
          best.map((id) => lm.tokenizer.decode([id], { skip_special_tokens: false })),
        );
        if (how === 'greedy') assert.equal(t.top?.[0]?.id, t.id, 'greedy picks the most likely');
      });
    });

  it('samples reproducibly with a seed, and differently with another', async () => {
    const p = { maxTokens: 16, temperature: 1.5, topK: 100, topP: 0.95 };
    const a = await generate(lm, { ids: prompt }, { ...p, seed: 42 });
    const b = await generate(lm, { ids: prompt }, { ...p, seed: 42 });
    const c = await generate(lm, { ids: prompt }, { ...p, seed: 43 });
    assert.deepEqual(
      a.tokens.map((t) => t.id),
      b.tokens.map((t) => t.id),
    );
    assert.notDeepEqual(
      a.tokens.map((t) => t.id),
      c.tokens.map((t) => t.id),
    );
    assert.notDeepEqual(
      a.tokens.map((t) => t.id),
      golden.greedy_base.slice(8, 24),
      'sampling is not greedy',
    );
  });

  it('top-k = 1 sampling is greedy; repetition penalty changes a repetitive greedy output', async () => {
    const k1 = await generate(lm, { ids: prompt }, { maxTokens: 24, temperature: 0.7, topK: 1, seed: 1 });
    assert.deepEqual(
      k1.tokens.map((t) => t.id),
      golden.greedy_base.slice(8),
    );
    const penalised = await generate(lm, { ids: prompt }, { maxTokens: 24, repetitionPenalty: 1.5 });
    assert.notDeepEqual(
      penalised.tokens.map((t) => t.id),
      golden.greedy_base.slice(8),
      'the golden greedy output repeats token 311 twelve times',
    );
  });

  it('stops at a stop string and cuts the text before it', async () => {
    const full = await generate(lm, { ids: prompt }, { maxTokens: 24 });
    const stop = full.text.slice(10, 14);
    assert.ok(stop.trim().length > 0, `a stop string from the output: ${JSON.stringify(full.text)}`);
    const r = await generate(lm, { ids: prompt }, { maxTokens: 24, stop: [stop] });
    assert.equal(r.finish, 'stop');
    assert.equal(r.text, full.text.slice(0, full.text.indexOf(stop)));
    assert.ok(r.tokens.length < full.tokens.length);
  });

  it('cancels within one token', async () => {
    const controller = new AbortController();
    let count = 0;
    const r = await generate(
      lm,
      { ids: prompt },
      { maxTokens: 24 },
      {
        signal: controller.signal,
        onToken: () => {
          if (++count === 3) controller.abort();
        },
      },
    );
    assert.equal(r.finish, 'cancelled');
    assert.equal(r.tokens.length, 3);
  });

  it('renders chat messages with the tokenizer’s template (the ids Hugging Face’s apply_chat_template gave)', async () => {
    const messages = golden.chat.messages.slice(0, 2);
    const r = await generate(lm, { messages }, { maxTokens: 1 });
    assert.deepEqual(r.promptIds, golden.chat.ids_generation_prompt);
  });

  it('refuses bad parameters with the key named', async () => {
    await assert.rejects(generate(lm, { ids: prompt }, { maxTokens: 0 }), (e: unknown) => e instanceof TuneloopError && e.key === 'maxTokens');
    await assert.rejects(generate(lm, { ids: prompt }, { maxTokens: 4, topP: 1.5 }), /topP: must be in \(0, 1\]/);
    await assert.rejects(generate(lm, { ids: [] }, { maxTokens: 4 }), /the prompt is empty/);
  });
});

describe('logits processors (Hugging Face semantics, hand-computed cases)', () => {
  const row = (xs: number[]) => Float32Array.from(xs);

  it('top-p keeps the smallest set reaching p', () => {
    // probabilities ≈ [0.0321, 0.0871, 0.2369, 0.6439]
    const r = row([1, 2, 3, 4]);
    new TopP(0.8).process([], r);
    assert.deepEqual(Array.from(r), [-Infinity, -Infinity, 3, 4]);
    const r2 = row([1, 2, 3, 4]);
    new TopP(0.5).process([], r2);
    assert.deepEqual(Array.from(r2), [-Infinity, -Infinity, -Infinity, 4]);
  });

  it('top-k keeps ties with the k-th value', () => {
    const r = row([5, 1, 3, 3, 0]);
    new TopK(2).process([], r);
    assert.deepEqual(Array.from(r), [5, -Infinity, 3, 3, -Infinity]);
  });

  it('the top k recorded: largest first, ties by the lower id, k past the vocabulary gives it all', () => {
    const record = new RecordLogProbs();
    const logits = new Tensor('float32', Float32Array.from([1, 5, 3, 5, 0, 4]), [1, 6]);
    record._call([[0n]], logits);
    const z = Math.log([1, 5, 3, 5, 0, 4].reduce((a, x) => a + Math.exp(x), 0));
    assert.deepEqual(
      record.top(0, 3).map((t) => [t.id, Number((t.logprob + z).toFixed(5))]),
      [
        [1, 5],
        [3, 5],
        [5, 4],
      ],
    );
    assert.deepEqual(
      record.top(0, 10).map((t) => t.id),
      [1, 3, 5, 2, 0, 4],
    );
    assert.ok(Math.abs(record.logprob(0, 1) - (5 - z)) < 1e-6);
    assert.deepEqual(record.top(0, 0), []);
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens, once each', () => {
    const r = row([2, -2, 2, -2]);
    new RepetitionPenalty(2).process([0n, 1n, 1n], r);
    assert.deepEqual(Array.from(r), [1, -4, 2, -2]);
  });
});
