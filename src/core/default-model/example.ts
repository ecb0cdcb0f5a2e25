import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatPattern, formatTestCases, formatTrainingRows, toJsonl } from './corpus';

/**
 * The example workspace (examples/): a prompt file whose 40 test cases are held-out questions (in
 * no training data), an evaluator for the answer format, the fine-tuning rows, and the adapter
 * recipe (LoRA r = 8) that teaches the embedded default model to answer as "Answer: <sentence>",
 * which it never does before tuning. Generated, so it can be remade: `node out/src/core/default-model/example.js DIR`.
 */
export function writeExample(dir: string, options: { modelPath?: string } = {}): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const cases = formatTestCases({ count: 40, format: 'prefix' });
  const quote = (s: string) => JSON.stringify(s);
  const prompt = [
    '# Answer format: the base model answers in plain sentences ("Grass is green."); the adapter',
    '# teaches it to answer as "Answer: <sentence>". The test questions are in no training data.',
    'name: Answer format',
    'description: \'Short factual answers, always written as "Answer: <sentence>"\'',
    `model: ${options.modelPath ?? '../models/default'}`,
    'modelParameters:',
    '  maxTokens: 24',
    'messages:',
    '  - role: user',
    '    content: "{{question}}"',
    'testData:',
    ...cases.flatMap((c) => [`  - question: ${quote(c.question)}`, `    expected: ${quote(c.expected)}`]),
    'evaluators:',
    '  - name: answer format',
    `    regex: ${quote(formatPattern('prefix'))}`,
    'adapters:',
    '  - path: answer-format.adapter.yml',
    '    minPassRate: 0.8',
    '# The base model is run for comparison; it is not expected to use the format.',
    'minPassRate: 0',
    'snapshot: answer-format.snapshot.json',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'answer-format.prompt.yml'), prompt);
  fs.writeFileSync(path.join(dir, 'data', 'answer-format.jsonl'), toJsonl(formatTrainingRows({ format: 'prefix', count: 240 })));
  const recipe = [
    '# Teaches the default model to answer as "Answer: <sentence>" (LoRA, PEFT format).',
    'name: answer-format',
    `base_model: ${options.modelPath ?? '../models/default'}`,
    'dataset:',
    '  path: data/answer-format.jsonl',
    '  format: messages',
    '  validation_split: 24',
    'method: lora',
    'lora:',
    '  r: 8',
    '  lora_alpha: 16',
    '  target_modules: all-linear',
    'training:',
    '  learning_rate: 0.003',
    '  max_steps: 60',
    '  batch_size: 8',
    '  max_seq_len: 96',
    '  schedule: cosine',
    '  warmup_steps: 4',
    '  seed: 7',
    '  eval_every: 20',
    'output: adapters/answer-format',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'answer-format.adapter.yml'), recipe);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: example DIR\n');
    process.exit(2);
  }
  writeExample(path.resolve(dir));
}
