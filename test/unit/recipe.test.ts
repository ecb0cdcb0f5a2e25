import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../../src/core/errors';
import { checkRecipeFile, parseRecipe } from '../../src/core/recipes/recipe';
import { loadRecipe, readSpec, resolveSpec, SPEC_FILE } from '../../src/core/train/spec';
import { tempDir } from '../helpers';

const GOOD = `name: support-tone
base_model: ./base
dataset:
  path: data/train.jsonl
  format: messages
  validation_split: 0.2
method: lora
lora:
  r: 16
  lora_alpha: 32
  lora_dropout: 0.05
  target_modules: [q_proj, v_proj]
  use_rslora: true
training:
  learning_rate: 1e-3
  max_steps: 40
  batch_size: 2
  gradient_accumulation: 2
  max_seq_len: 128
  schedule: linear
  warmup_steps: 4
  weight_decay: 0.01
  max_grad_norm: 1.0
  seed: 7
  eval_every: 10
  checkpoint_every: 20
  gradient_checkpointing: true
  base_dtype: int8
output: adapters/support-tone
`;

function errorsAt(text: string): { line: number; message: string; severity: string }[] {
  return parseRecipe(text, 'x.adapter.yml').diagnostics.map((d) => ({ line: d.line, message: d.message, severity: d.severity }));
}

describe('adapter recipes', () => {
  it('parses every setting under PEFT’s and the trainer’s names', () => {
    const r = parseRecipe(GOOD, 'support-tone.adapter.yml');
    assert.deepEqual(r.diagnostics, []);
    const x = r.recipe!;
    assert.equal(x.baseModel, './base');
    assert.deepEqual(x.dataset, { path: 'data/train.jsonl', format: 'messages', validationSplit: 0.2 });
    assert.deepEqual(x.lora, { r: 16, loraAlpha: 32, loraDropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: true });
    assert.equal(x.training.learningRate, 1e-3);
    assert.equal(x.training.maxSteps, 40);
    assert.equal(x.training.schedule, 'linear');
    assert.equal(x.training.gradientCheckpointing, true);
    assert.equal(x.training.baseDtype, 'int8');
    assert.equal(x.output, 'adapters/support-tone');
  });

  it('fills defaults and names the run after the file', () => {
    const r = parseRecipe('base_model: org/model@main\ndataset:\n  path: d.jsonl\n', '/x/tone.adapter.yml');
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.recipe!.name, 'tone');
    assert.equal(r.recipe!.lora.targetModules, 'all-linear');
    assert.deepEqual([r.recipe!.lora.r, r.recipe!.lora.loraAlpha, r.recipe!.training.batchSize, r.recipe!.training.schedule], [8, 16, 4, 'cosine']);
    assert.equal(r.recipe!.training.gradientCheckpointing, false);
    assert.equal(r.recipe!.training.baseDtype, 'fp32');
  });

  it('reads base_dtype bf16, and gradient_checkpointing and base_dtype fp32 with method: full', () => {
    const lora = parseRecipe('base_model: a/b\ndataset:\n  path: d\ntraining:\n  base_dtype: bf16\n  gradient_checkpointing: false\n');
    assert.deepEqual(lora.diagnostics, []);
    assert.deepEqual([lora.recipe!.training.baseDtype, lora.recipe!.training.gradientCheckpointing], ['bf16', false]);
    const full = parseRecipe('base_model: a/b\ndataset:\n  path: d\nmethod: full\ntraining:\n  gradient_checkpointing: true\n  base_dtype: fp32\n');
    assert.deepEqual(full.diagnostics, []);
    assert.deepEqual([full.recipe!.training.baseDtype, full.recipe!.training.gradientCheckpointing], ['fp32', true]);
  });

  const BAD: [string, string, number, RegExp][] = [
    ['missing base_model', 'dataset:\n  path: d.jsonl\n', 1, /missing "base_model"/],
    ['missing dataset path', 'base_model: a/b\ndataset:\n  format: text\n', 2, /missing "dataset.path"/],
    ['unknown method', 'base_model: a/b\ndataset:\n  path: d\nmethod: qlora\n', 4, /"method" must be one of lora, full, got "qlora"/],
    ['rank as text', 'base_model: a/b\ndataset:\n  path: d\nlora:\n  r: "8"\n', 5, /"r" must be an integer ≥ 1, got the text "8" \(remove the quotes\)/],
    ['dropout out of range', 'base_model: a/b\ndataset:\n  path: d\nlora:\n  lora_dropout: 1.5\n', 5, /"lora_dropout" must be a number from 0 to below 1/],
    [
      'misspelt key',
      'base_model: a/b\ndataset:\n  path: d\ntraining:\n  learning_rat: 0.1\n',
      5,
      /unknown key "learning_rat" in training.*did you mean "learning_rate"/,
    ],
    [
      'bad schedule',
      'base_model: a/b\ndataset:\n  path: d\ntraining:\n  schedule: cosin\n',
      5,
      /"schedule" must be one of constant, linear, cosine.*did you mean "cosine"/,
    ],
    [
      'unknown base_dtype',
      'base_model: a/b\ndataset:\n  path: d\ntraining:\n  base_dtype: fp16\n',
      5,
      /"base_dtype" must be one of fp32, bf16, int8, got "fp16"/,
    ],
    [
      'gradient_checkpointing as text',
      'base_model: a/b\ndataset:\n  path: d\ntraining:\n  gradient_checkpointing: "true"\n',
      5,
      /"gradient_checkpointing" must be true or false/,
    ],
    [
      'base_dtype int8 with method: full',
      'base_model: a/b\ndataset:\n  path: d\nmethod: full\ntraining:\n  base_dtype: int8\n',
      6,
      /"base_dtype: int8" needs method: lora: method full trains every weight in float32.*remove base_dtype/,
    ],
    [
      'base_dtype bf16 with method: full',
      'base_model: a/b\ndataset:\n  path: d\nmethod: full\ntraining:\n  base_dtype: bf16\n',
      6,
      /"base_dtype: bf16" needs method: lora/,
    ],
    ['bad regex', 'base_model: a/b\ndataset:\n  path: d\nlora:\n  target_modules: "q_proj("\n', 5, /not a valid regular expression/],
    ['YAML syntax', 'base_model: a/b\ndataset:\n  path: [d\n', 4, /must be sufficiently indented and end with a \]/],
    ['prompt-file without prompt_file', 'base_model: a/b\ndataset:\n  path: d\n  format: prompt-file\n', 4, /needs "prompt_file"/],
  ];
  for (const [what, text, line, re] of BAD) {
    it(`reports ${what} at line ${line}`, () => {
      const ds = errorsAt(text);
      const hit = ds.find((d) => d.line === line && re.test(d.message));
      assert.ok(hit, `expected ${re} at line ${line}, got ${JSON.stringify(ds)}`);
    });
  }

  it('checks the files a recipe names, relative to it', () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'r.adapter.yml'), 'base_model: ./missing-model\ndataset:\n  path: data/none.jsonl\n');
    const r = checkRecipeFile(path.join(d, 'r.adapter.yml'));
    assert.deepEqual(
      r.diagnostics.map((x) => [x.line, x.severity]),
      [
        [1, 'error'],
        [3, 'error'],
      ],
    );
    assert.match(r.diagnostics[1]!.message, /dataset "data\/none\.jsonl" not found/);
  });

  it('refuses a non-fp32 base_dtype with method: full when loading, naming the file and the key', () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'd.jsonl'), '{"text": "x"}\n');
    const file = path.join(d, 'full.adapter.yml');
    fs.writeFileSync(file, 'base_model: org/model\ndataset:\n  path: d.jsonl\nmethod: full\ntraining:\n  base_dtype: int8\n');
    assert.throws(
      () => loadRecipe(file, { root: d }),
      (e: unknown) =>
        e instanceof TuneloopError && e.file === file && e.line === 6 && e.message.startsWith(`${file}:6:15: "base_dtype: int8" needs method: lora`),
    );
  });

  it('carries gradient_checkpointing and base_dtype into the run spec, and reads older specs without them as false and fp32', () => {
    const d = tempDir();
    const { recipe } = parseRecipe(
      'base_model: a/b\ndataset:\n  path: d.jsonl\ntraining:\n  gradient_checkpointing: true\n  base_dtype: bf16\n',
      path.join(d, 'r.adapter.yml'),
    );
    const spec = resolveSpec(recipe!, path.join(d, 'base'));
    assert.deepEqual([spec.training.gradientCheckpointing, spec.training.baseDtype], [true, 'bf16']);
    fs.writeFileSync(path.join(d, SPEC_FILE), JSON.stringify(spec));
    assert.deepEqual(readSpec(d), spec);
    // A run folder from before these keys: its spec.json lacks them.
    const { gradientCheckpointing: _g, baseDtype: _b, ...older } = spec.training;
    fs.writeFileSync(path.join(d, SPEC_FILE), JSON.stringify({ ...spec, training: older }));
    assert.deepEqual([readSpec(d).training.gradientCheckpointing, readSpec(d).training.baseDtype], [false, 'fp32']);
    fs.writeFileSync(path.join(d, SPEC_FILE), JSON.stringify({ ...spec, training: { ...spec.training, baseDtype: 'fp16' } }));
    assert.throws(
      () => readSpec(d),
      (e: unknown) => e instanceof TuneloopError && e.key === 'training.baseDtype',
    );
  });
});
