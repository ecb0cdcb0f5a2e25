import * as fs from 'node:fs';
import * as path from 'node:path';
import { distillInputs, FORMAT_PATTERN, formatTestCases, formatTrainingRows, jsonTeacherSystemPrompt, toJsonl } from './corpus';

/**
 * The example workspace (examples/): a prompt file whose test cases are held-out questions (asked in
 * templates no training data uses, drawn seeded and uniformly, seven per domain), evaluators that
 * check the whole answer (`equals` the expected output), the fact whatever the format (`contains` the
 * answer word, which the base model passes, so an adapter that breaks facts shows regressions) and
 * the format; the fine-tuning rows; and the adapter recipe (LoRA) that teaches the embedded default
 * model to answer as "Answer: <sentence>", which it never does before tuning. Generated, so it can be
 * remade: `node out/src/core/default-model/example.js DIR`.
 */
export const EXAMPLE_RECIPE = {
  rows: 320,
  validationRows: 32,
  r: 8,
  alpha: 16,
  learningRate: 0.002,
  steps: 120,
  batchSize: 8,
  warmupSteps: 6,
  seed: 7,
};

export function writeExample(dir: string, options: { modelPath?: string } = {}): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const cases = formatTestCases({ perDomain: 7 });
  const quote = (s: string) => JSON.stringify(s);
  const x = EXAMPLE_RECIPE;
  const prompt = [
    '# Answer format: the base model answers in plain sentences ("Grass is green."); the adapter',
    '# teaches it to answer as "Answer: <sentence>". The test questions are asked in phrasings that',
    "# no training data uses (the default model's held-out templates), seven per domain.",
    'name: Answer format',
    'description: \'Short factual answers, always written as "Answer: <sentence>"\'',
    `model: ${options.modelPath ?? '../models/default'}`,
    'modelParameters:',
    '  maxTokens: 32',
    'messages:',
    '  - role: user',
    '    content: "{{question}}"',
    'testData:',
    ...cases.flatMap((c) => [`  - question: ${quote(c.question)}`, `    answer: ${quote(c.answer)}`, `    expected: ${quote(c.expected)}`]),
    'evaluators:',
    '  # The whole answer, exactly.',
    '  - name: exact answer',
    '    string:',
    '      equals: "{{expected}}"',
    '  # The fact, whatever the format: the base model passes it, so a tuned model that loses a fact',
    '  # shows a regression.',
    '  - name: right fact',
    '    string:',
    '      contains: "{{answer}}"',
    '  - name: answer format',
    `    regex: ${quote(FORMAT_PATTERN)}`,
    'adapters:',
    '  - path: answer-format.adapter.yml',
    '    minPassRate: 0.85',
    '    maxRegressions: 2',
    '# The base model is run for comparison; it is not expected to use the format.',
    'minPassRate: 0',
    'snapshot: answer-format.snapshot.json',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'answer-format.prompt.yml'), prompt);
  fs.writeFileSync(path.join(dir, 'data', 'answer-format.jsonl'), toJsonl(formatTrainingRows({ count: x.rows })));
  const recipe = [
    '# Teaches the default model to answer as "Answer: <sentence>" (LoRA, PEFT format).',
    'name: answer-format',
    `base_model: ${options.modelPath ?? '../models/default'}`,
    'dataset:',
    '  path: data/answer-format.jsonl',
    '  format: messages',
    `  validation_split: ${x.validationRows}`,
    'method: lora',
    'lora:',
    `  r: ${x.r}`,
    `  lora_alpha: ${x.alpha}`,
    '  target_modules: all-linear',
    'training:',
    `  learning_rate: ${x.learningRate}`,
    `  max_steps: ${x.steps}`,
    `  batch_size: ${x.batchSize}`,
    '  max_seq_len: 96',
    '  schedule: cosine',
    `  warmup_steps: ${x.warmupSteps}`,
    `  seed: ${x.seed}`,
    '  eval_every: 20',
    'output: adapters/answer-format',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'answer-format.adapter.yml'), recipe);
}

/**
 * The distillation example: a teacher prompt (a JSON instruction and six examples in the system
 * prompt) whose held-out test cases are the answer-format example's questions, a student prompt
 * (the question alone), 240 inputs (training questions, with their answer word and plain sentence
 * as reference answers), and the recipe that distils the teacher into a LoRA adapter.
 */
export const DISTILL_EXAMPLE = { inputs: 240, validationRows: 16, r: 8, alpha: 16, learningRate: 0.002, steps: 120, batchSize: 8, warmupSteps: 6, seed: 7 };

export function writeDistillExample(dir: string, options: { modelPath?: string } = {}): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const quote = (s: string) => JSON.stringify(s);
  const model = options.modelPath ?? '../models/default';
  const system = jsonTeacherSystemPrompt();
  const teacher = [
    '# The teacher of the distillation example (json-answers.adapter.yml): a long system prompt, a',
    '# JSON instruction and six examples, that makes the default model answer {"answer": "<word>"}.',
    '# Its test cases are the held-out questions the student is measured on; no input may overlap them.',
    'name: JSON answers (teacher)',
    `model: ${model}`,
    'modelParameters:',
    '  maxTokens: 24',
    'messages:',
    '  - role: system',
    `    content: ${quote(system)}`,
    '  - role: user',
    '    content: "{{question}}"',
    'testData:',
    ...formatTestCases({ perDomain: 7 }).flatMap((c) => [`  - question: ${quote(c.question)}`, `    answer: ${quote(c.answer)}`]),
    'evaluators:',
    '  # The whole answer, as the teacher is told to give it.',
    '  - name: json answer',
    '    string:',
    '      equals: \'{"answer": "{{answer}}"}\'',
    '  - name: right fact',
    '    string:',
    '      contains: "{{answer}}"',
    '# The teacher is the reference here; the base model without the system prompt is not expected to pass.',
    'minPassRate: 0.8',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'json-answers-teacher.prompt.yml'), teacher);
  const student = [
    '# The student of the distillation example: the question alone, which the distilled adapter',
    '# (json-answers.adapter.yml, tuneloop distill) answers as the teacher does with its long prompt.',
    'name: JSON answers (student)',
    `model: ${model}`,
    'modelParameters:',
    '  maxTokens: 24',
    'messages:',
    '  - role: user',
    '    content: "{{question}}"',
    'testData:',
    ...formatTestCases({ perDomain: 1 }).flatMap((c) => [`  - question: ${quote(c.question)}`, `    answer: ${quote(c.answer)}`]),
    'evaluators:',
    '  - name: json answer',
    '    string:',
    '      equals: \'{"answer": "{{answer}}"}\'',
    '# Without the adapter the question alone gets a plain sentence: the base is not expected to pass.',
    'minPassRate: 0',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'json-answers.prompt.yml'), student);
  fs.writeFileSync(path.join(dir, 'data', 'json-answers-inputs.jsonl'), toJsonl(distillInputs({ count: DISTILL_EXAMPLE.inputs })));
  const x = DISTILL_EXAMPLE;
  const recipe = [
    '# Distils the teacher prompt (a JSON instruction and six examples) into a LoRA adapter, so that the',
    '# question alone gets {"answer": "<word>"}: tuneloop distill json-answers.adapter.yml',
    'name: json-answers',
    `base_model: ${model}`,
    'teacher:',
    '  prompt: json-answers-teacher.prompt.yml',
    'student:',
    '  prompt: json-answers.prompt.yml',
    'inputs:',
    '  path: data/json-answers-inputs.jsonl',
    'contamination:',
    '  ngram: 8',
    '  threshold: 0.5',
    '  action: refuse',
    'dataset:',
    '  path: data/json-answers.distilled.jsonl',
    `  validation_split: ${x.validationRows}`,
    'method: lora',
    'lora:',
    `  r: ${x.r}`,
    `  lora_alpha: ${x.alpha}`,
    'training:',
    `  learning_rate: ${x.learningRate}`,
    `  max_steps: ${x.steps}`,
    `  batch_size: ${x.batchSize}`,
    '  max_seq_len: 64',
    `  warmup_steps: ${x.warmupSteps}`,
    `  seed: ${x.seed}`,
    '  eval_every: 20',
    'output: adapters/json-answers',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'json-answers.adapter.yml'), recipe);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: example DIR\n');
    process.exit(2);
  }
  writeExample(path.resolve(dir));
  writeDistillExample(path.resolve(dir));
}
