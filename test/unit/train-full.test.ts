import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { targetedModulesWithScale } from '../../src/core/lora/adapter';
import { parseLoraConfig } from '../../src/core/lora/config';
import { loadModelConfig } from '../../src/core/models/config';
import { inspectCheckpoint } from '../../src/core/models/inspect';
import { TensorStore } from '../../src/core/safetensors/checkpoint';
import { makeBatch } from '../../src/core/train/data';
import { readEvents } from '../../src/core/train/events';
import { initFull } from '../../src/core/train/full-params';
import { loraInputName } from '../../src/core/train/graph';
import { initLora } from '../../src/core/train/lora-params';
import { OnnxStepModel } from '../../src/core/train/onnx-step';
import { createRunDir, EVENTS } from '../../src/core/train/run';
import { loadRecipe, prepareData, resolveSpec, writeSpec } from '../../src/core/train/spec';
import { loadTokenizer } from '../../src/core/infer/tokenizer';
import { runTraining } from '../../src/core/train/trainer';
import { GOLDEN, tempDir } from '../helpers';

const dir = path.join(GOLDEN, 'llama');

describe('full fine-tuning', function () {
  this.timeout(120_000);

  it('agrees with LoRA: at B = 0, dL/dB = scale · dL/dW · Aᵀ for every module', async () => {
    const cfg = loadModelConfig(dir);
    const store = TensorStore.openDir(dir);
    const golden = TensorStore.openFiles([path.join(dir, 'golden.safetensors')]);
    const ids = Array.from(new BigInt64Array(golden.readBytes('input_ids').buffer), Number);
    const batch = makeBatch(
      [0, 1].map((b) => ({ line: b, ids: ids.slice(b * 16, b * 16 + 16), mask: new Array<number>(16).fill(1) })),
      0,
      16,
    );
    const full = new OnnxStepModel(cfg, store, { spec: { mode: 'full' }, seed: 0, threads: 2 });
    const g = await full.lossAndGrads(batch, initFull(store), { step: 0, micro: 0 });
    const lcfg = parseLoraConfig({ r: 3, lora_alpha: 6, target_modules: 'all-linear' });
    const modules = targetedModulesWithScale(cfg, lcfg);
    const params = initLora(modules, 9);
    const lora = new OnnxStepModel(cfg, store, { spec: { mode: 'lora', lora: modules }, seed: 0, threads: 2 });
    const l = await lora.lossAndGrads(batch, params, { step: 0, micro: 0 });
    assert.ok(Math.abs(l.lossSum - g.lossSum) < 1e-3, 'same function at B = 0');
    let worst = 0;
    for (const m of modules) {
      const { inFeatures: I, outFeatures: O, name } = m.module;
      const G = g.grads.get(`${name}.weight`)!; // [O, I]
      const A = params.get(loraInputName(name, 'A'))!; // [r, I]
      const dB = l.grads.get(loraInputName(name, 'B'))!; // [O, r]
      let scaleRef = 0;
      for (let o = 0; o < O; o++) {
        for (let k = 0; k < m.r; k++) {
          let s = 0;
          for (let i = 0; i < I; i++) s += G[o * I + i]! * A[k * I + i]!;
          const want = m.scale * s;
          scaleRef = Math.max(scaleRef, Math.abs(want));
          worst = Math.max(worst, Math.abs(dB[o * m.r + k]! - want));
        }
      }
      assert.ok(worst <= 1e-4 + 1e-3 * scaleRef, `${name}: ${worst}`);
    }
    await full.dispose();
    await lora.dispose();
    golden.close();
    store.close();
  });

  it('a full fine-tune from a recipe lowers the loss and writes a checkpoint folder that loads', async () => {
    const ws = tempDir();
    const rows = Array.from({ length: 24 }, (_, i) => JSON.stringify({ prompt: `n${i % 6}:`, completion: ` yes ${i % 6}` }));
    fs.writeFileSync(path.join(ws, 'd.jsonl'), rows.join('\n'));
    fs.writeFileSync(
      path.join(ws, 'full.adapter.yml'),
      `base_model: ${dir}\ndataset:\n  path: d.jsonl\n  validation_split: 4\nmethod: full\ntraining:\n  learning_rate: 0.003\n  max_steps: 12\n  batch_size: 4\n  schedule: constant\n  eval_every: 6\n`,
    );
    const spec = resolveSpec(loadRecipe(path.join(ws, 'full.adapter.yml'), { trustedReads: [dir] }), dir, { threads: 2 });
    const runDir = createRunDir(path.join(ws, 'runs'), 'full');
    writeSpec(runDir, spec);
    assert.equal(await runTraining(runDir), 'done');
    const events = readEvents(path.join(runDir, EVENTS)).events;
    const evals = events.filter((e): e is Extract<typeof e, { type: 'eval' }> => e.type === 'eval');
    assert.ok(evals.at(-1)!.loss < evals[0]!.loss, evals.map((e) => e.loss).join(' → '));
    const s = inspectCheckpoint(path.join(runDir, 'model'));
    assert.equal(s.architecture, 'LlamaForCausalLM');
  });

  it('refuses a run the machine cannot hold, before training, saying what to change', async () => {
    const ws = tempDir();
    fs.writeFileSync(path.join(ws, 'd.jsonl'), `${JSON.stringify({ text: 'hello there' })}\n${JSON.stringify({ text: 'hi' })}`);
    fs.writeFileSync(path.join(ws, 'r.adapter.yml'), `base_model: ${dir}\ndataset:\n  path: d.jsonl\n  validation_split: 0\n`);
    const spec = resolveSpec(loadRecipe(path.join(ws, 'r.adapter.yml'), { trustedReads: [dir] }), dir);
    const runDir = createRunDir(path.join(ws, 'runs'), 'big');
    writeSpec(runDir, spec);
    assert.equal(await runTraining(runDir, { availableMemory: 10_000_000 }), 'failed');
    const last = readEvents(path.join(runDir, EVENTS)).events.at(-1)!;
    assert.ok(
      last.type === 'failed' && /training needs about .* but 9\.5 MiB is available \(lower batch_size or max_seq_len/.test(last.message),
      JSON.stringify(last),
    );
  });
});

describe('LoRA dropout and prompt-file datasets', function () {
  this.timeout(60_000);

  it('dropout masks are seeded: the same step gives the same gradients, another step others, evaluation none', async () => {
    const cfg = loadModelConfig(dir);
    const store = TensorStore.openDir(dir);
    const lcfg = parseLoraConfig({ r: 2, lora_alpha: 4, target_modules: ['q_proj'] });
    const modules = targetedModulesWithScale(cfg, lcfg);
    const params = initLora(modules, 1);
    for (const [k, v] of params) if (k.endsWith('lora_B')) v.fill(0.05); // make the branch matter
    const batch = makeBatch([{ line: 1, ids: [1, 5, 9, 13, 17, 21], mask: [0, 1, 1, 1, 1, 1] }], 0, 6);
    const dropped = new OnnxStepModel(cfg, store, { spec: { mode: 'lora', lora: modules, loraDropout: 0.5 }, seed: 4 });
    const plain = new OnnxStepModel(cfg, store, { spec: { mode: 'lora', lora: modules }, seed: 4 });
    const a = await dropped.lossAndGrads(batch, params, { step: 3, micro: 0 });
    const b = await dropped.lossAndGrads(batch, params, { step: 3, micro: 0 });
    const c = await dropped.lossAndGrads(batch, params, { step: 4, micro: 0 });
    const key = loraInputName(modules[0]!.module.name, 'A');
    assert.deepEqual(a.grads.get(key), b.grads.get(key));
    assert.notDeepEqual(a.grads.get(key), c.grads.get(key));
    const p = await plain.lossAndGrads(batch, params, { step: 3, micro: 0 });
    assert.notEqual(a.lossSum, p.lossSum, 'dropout changes the training loss');
    assert.ok(Math.abs((await dropped.lossSum(batch, params)) - p.lossSum) < 1e-4, 'evaluation runs without dropout');
    await dropped.dispose();
    await plain.dispose();
    store.close();
  });

  it('rows of variables for a prompt file train on its rendered messages with the answer as the assistant turn', async () => {
    const ws = tempDir();
    fs.writeFileSync(
      path.join(ws, 'ask.prompt.yml'),
      'messages:\n  - role: system\n    content: Answer in one word.\n  - role: user\n    content: "What colour is {{thing}}?"\n',
    );
    fs.writeFileSync(
      path.join(ws, 'd.jsonl'),
      [JSON.stringify({ thing: 'grass', completion: 'green' }), JSON.stringify({ thing: 'sky', expected: 'blue' })].join('\n'),
    );
    fs.writeFileSync(
      path.join(ws, 'r.adapter.yml'),
      `base_model: ${dir}\ndataset:\n  path: d.jsonl\n  format: prompt-file\n  prompt_file: ask.prompt.yml\n  validation_split: 0\n`,
    );
    const spec = resolveSpec(loadRecipe(path.join(ws, 'r.adapter.yml'), { trustedReads: [dir] }), dir);
    const tok = await loadTokenizer(dir);
    const data = prepareData(spec, tok, 2);
    const texts = data.train.map((e) => tok.decode([...e.ids], { skip_special_tokens: false })).sort();
    assert.match(
      texts[0]!,
      /<\|im_start\|>system\nAnswer in one word\.<\|im_end\|>\n<\|im_start\|>user\nWhat colour is grass\?<\|im_end\|>\n<\|im_start\|>assistant\ngreen<\|im_end\|>/,
    );
    const learned = data.train
      .map((e) =>
        tok.decode(
          e.ids.filter((_, t) => e.mask[t] === 1),
          { skip_special_tokens: false },
        ),
      )
      .sort();
    assert.deepEqual(
      learned.map((t) => t.replace(/<\|im_end\|>\n?$/, '')),
      ['blue', 'green'],
    );
  });
});
