import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { recipeCodeLenses, recipeCompletionsAt, recipeDiagnostics, recipeHoverAt } from '../../src/core/recipes/language';
import { RECIPE_KEYS, RECIPE_VALUES } from '../../src/core/recipes/key-table';
import { LENS_COMMANDS } from '../../src/extension/language/lens-commands';

function cursor(textWithCursor: string): { text: string; offset: number } {
  const offset = textWithCursor.indexOf('‸');
  return { text: textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1), offset };
}

const labels = (textWithCursor: string, trigger?: string) => {
  const { text, offset } = cursor(textWithCursor);
  return recipeCompletionsAt(text, offset, trigger).map((i) => i.label);
};

const RECIPE = `name: support-tone
base_model: ./models/base
dataset:
  path: data/train.jsonl
  format: messages
method: lora
lora:
  r: 8
  lora_alpha: 16
training:
  max_steps: 20
`;

describe('adapter recipe language', () => {
  it('completes the lora: keys not yet written, with their docs', () => {
    const { text, offset } = cursor(RECIPE.replace('  lora_alpha: 16\n', '  lora_alpha: 16\n  ‸\n'));
    const items = recipeCompletionsAt(text, offset);
    assert.deepEqual(
      items.map((i) => i.label),
      ['lora_dropout', 'target_modules', 'use_rslora'],
    );
    assert.equal(items[0]!.documentation, RECIPE_KEYS['lora']!['lora_dropout']!.doc);
    assert.equal(items.find((i) => i.label === 'use_rslora')!.snippet, 'use_rslora: ${1|true,false|}');
  });

  it('completes method:, schedule: and format: values from RECIPE_VALUES', () => {
    assert.deepEqual(labels('method: ‸', ' '), [...RECIPE_VALUES['method']!]);
    assert.deepEqual(labels('training:\n  schedule: ‸', ' '), [...RECIPE_VALUES['training.schedule']!]);
    assert.deepEqual(labels('dataset:\n  format: mes‸'), [...RECIPE_VALUES['dataset.format']!]);
    assert.deepEqual(labels('lora:\n  use_rslora: ‸', ' '), ['true', 'false']);
    assert.deepEqual(labels('base_model: ‸', ' '), []);
  });

  it('completes gradient_checkpointing and base_dtype under training:, with their docs and base_dtype’s values', () => {
    const { text, offset } = cursor(`${RECIPE}  ‸\n`);
    const items = recipeCompletionsAt(text, offset);
    const labels_ = items.map((i) => i.label);
    assert.ok(!labels_.includes('max_steps'), 'max_steps is already written');
    assert.deepEqual(labels_.slice(-3), ['train_on_prompt', 'gradient_checkpointing', 'base_dtype']);
    const gc = items.find((i) => i.label === 'gradient_checkpointing')!;
    assert.equal(gc.snippet, 'gradient_checkpointing: ${1|true,false|}');
    assert.match(String(gc.documentation), /recomputes each decoder layer's activations/);
    const bd = items.find((i) => i.label === 'base_dtype')!;
    assert.equal(bd.snippet, 'base_dtype: ${1|fp32,bf16,int8|}');
    assert.match(String(bd.documentation), /symmetric per-channel/);
    assert.deepEqual(labels('training:\n  base_dtype: ‸', ' '), ['fp32', 'bf16', 'int8']);
    assert.deepEqual(labels('training:\n  gradient_checkpointing: ‸', ' '), ['true', 'false']);
  });

  it('completes top-level keys as blocks or choices', () => {
    const { text, offset } = cursor('base_model: x\n‸');
    const items = recipeCompletionsAt(text, offset);
    assert.deepEqual(
      items.map((i) => i.label),
      Object.keys(RECIPE_KEYS['']!).filter((k) => k !== 'base_model'),
    );
    assert.equal(items.find((i) => i.label === 'training')!.snippet, 'training:\n\t$0');
    assert.equal(items.find((i) => i.label === 'method')!.snippet, 'method: ${1|lora,full|}');
  });

  it('hovers keys with their documentation and enumerated values with the choices', () => {
    const k = cursor(RECIPE.replace('  lora_alpha', '  lora_al‸pha'));
    const h = recipeHoverAt(k.text, k.offset)!;
    assert.ok(h.markdown.startsWith('**lora_alpha** (number > 0)'));
    assert.ok(h.markdown.includes(RECIPE_KEYS['lora']!['lora_alpha']!.doc));
    const v = cursor(RECIPE.replace('method: lora', 'method: lo‸ra'));
    assert.match(recipeHoverAt(v.text, v.offset)!.markdown, /^\*\*method\*\*: `lora`, `full`/);
  });

  it('hovers gradient_checkpointing and base_dtype with their documentation', () => {
    const text = `${RECIPE}  gradient_checkpointing: true\n  base_dtype: int8\n`;
    const at = (s: string) => recipeHoverAt(text, text.indexOf(s) + 3)!.markdown;
    const gc = at('gradient_checkpointing');
    assert.ok(gc.startsWith('**gradient_checkpointing**'), gc);
    assert.match(gc, /Activation recomputation per decoder layer \(as transformers names it\).*about a third more compute/);
    const bd = at('base_dtype');
    assert.ok(bd.startsWith('**base_dtype**'), bd);
    assert.match(bd, /frozen base weights.*dequantized per layer.*QLoRA.*symmetric per-channel.*stay float32/);
    assert.match(at('int8'), /^\*\*base_dtype\*\*: `fp32`, `bf16`, `int8`/);
  });

  it('puts a Fine-tune lens above the recipe', () => {
    const lenses = recipeCodeLenses(`# comment\n${RECIPE}`);
    assert.equal(lenses.length, 1);
    assert.equal(LENS_COMMANDS[lenses[0]!.action], 'tuneloop.trainAdapter');
    assert.equal(lenses[0]!.offset, '# comment\n'.length);
    assert.match(lenses[0]!.tooltip, /LoRA r=8 of \.\/models\/base/);
    // A distillation recipe (teacher:) gets Distill instead: its dataset is the teacher's answers.
    const distill = recipeCodeLenses(
      `${RECIPE}teacher:\n  prompt: long.prompt.yml\nstudent:\n  prompt: short.prompt.yml\ninputs:\n  path: data/inputs.jsonl\n`,
    );
    assert.deepEqual(
      distill.map((l) => [LENS_COMMANDS[l.action], l.title]),
      [['tuneloop.distillRecipe', '$(mortar-board) Distill']],
    );
  });

  it('diagnoses the recipe and the paths it names, at their values', () => {
    const file = path.join(path.sep, 'w', 'x.adapter.yml');
    const exists = (p: string) => p === path.join(path.sep, 'w', 'data', 'train.jsonl');
    const ds = recipeDiagnostics(RECIPE.replace('method: lora', 'method: lorra'), file, exists);
    assert.ok(ds.some((d) => d.code === 'unknown-value' && /did you mean "lora"/.test(d.message)));
    const missing = ds.filter((d) => d.code === 'file');
    assert.equal(missing.length, 1);
    assert.match(missing[0]!.message, /base model folder "\.\/models\/base" not found/);
    assert.deepEqual([missing[0]!.line, missing[0]!.column, missing[0]!.endColumn], [2, 13, 26]);
    // A Hub id is not looked for on disk; an unsaved recipe has no folder to look in.
    assert.equal(recipeDiagnostics(RECIPE.replace('./models/base', 'HuggingFaceTB/SmolLM2-135M'), file, exists).length, 0);
    assert.equal(recipeDiagnostics(RECIPE, undefined, () => false).length, 0);
  });

  it('diagnoses a wrong base_dtype, and a non-fp32 one with method: full, at the value', () => {
    const wrong = recipeDiagnostics(`${RECIPE}  base_dtype: fp16\n`);
    assert.deepEqual(
      wrong.map((d) => [d.line, d.severity, d.code]),
      [[12, 'error', 'unknown-value']],
    );
    assert.match(wrong[0]!.message, /"base_dtype" must be one of fp32, bf16, int8, got "fp16"/);
    const full = recipeDiagnostics(`${RECIPE.replace('method: lora', 'method: full')}  base_dtype: bf16\n`).filter((d) => d.severity === 'error');
    assert.deepEqual(
      full.map((d) => [d.line, d.column]),
      [[12, 15]],
    );
    assert.match(full[0]!.message, /"base_dtype: bf16" needs method: lora/);
  });

  it('diagnoses paths outside the workspace root: the dataset, and an output that would delete the recipe', () => {
    const file = path.join(path.sep, 'w', 'x.adapter.yml');
    const text = `${RECIPE.replace('path: data/train.jsonl', 'path: ../../etc/passwd')}output: .\n`;
    const ds = recipeDiagnostics(text, file, () => true, { root: path.join(path.sep, 'w') }).filter((d) => d.code === 'file');
    const lineOf = (s: string) => text.split('\n').findIndex((l) => l.includes(s)) + 1;
    assert.deepEqual(
      ds.map((d) => [d.line, d.severity]),
      [
        [lineOf('etc/passwd'), 'error'],
        [lineOf('output: .'), 'error'],
      ],
    );
    assert.match(ds[0]!.message, /dataset "\.\.\/\.\.\/etc\/passwd" resolves outside the workspace root/);
    assert.match(ds[1]!.message, /output "\.": the output folder .* holds .*, which replacing it would delete/);
  });
});
