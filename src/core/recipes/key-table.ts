import { BASE_DTYPES, CONTAMINATION_ACTIONS, DATASET_FORMATS, DISTILL_KINDS, SCHEDULE_NAMES } from './vocabulary';
import { jsonSchemaOf } from '../yaml/json-schema';
import type { JsonObject } from '../yaml/json';
import { type KeyTable, shape } from '../yaml/key-table';

/** The values of the enumerated keys, by place and key: the parser accepts these and nothing else. */
export const RECIPE_VALUES = {
  method: ['lora', 'full'],
  'dataset.format': [...DATASET_FORMATS, 'prompt-file'],
  'training.schedule': [...SCHEDULE_NAMES],
  'training.base_dtype': [...BASE_DTYPES],
  'teacher.kind': [...DISTILL_KINDS],
  'contamination.action': [...CONTAMINATION_ACTIONS],
} as const;

/**
 * The keys an adapter recipe may hold, by place: the one table that the parser (unknown keys,
 * number ranges, enumerated values), completion, hover and the JSON Schema read.
 */
export const RECIPE_KEYS: KeyTable = {
  '': {
    name: { doc: 'The run name (default: the file name without .adapter.yml).', shape: shape.scalar() },
    base_model: {
      doc: 'The base model: a local Hugging Face checkpoint folder (relative to this file) or a Hub id, optionally with @revision.',
      shape: shape.text(),
      required: true,
    },
    dataset: {
      doc: 'The training data: path (JSONL, relative to this file), format, prompt_file, validation_split.',
      shape: shape.map('dataset'),
      required: true,
    },
    method: { doc: 'lora (train low-rank adapters, the default) or full (train every weight).', shape: shape.choice(RECIPE_VALUES.method) },
    lora: { doc: "LoRA settings under PEFT's names: r, lora_alpha, lora_dropout, target_modules, use_rslora.", shape: shape.map('lora') },
    training: {
      doc: 'Optimisation: learning_rate, epochs or max_steps, batch_size, gradient_accumulation, max_seq_len, schedule, warmup_steps, weight_decay, max_grad_norm, seed, eval_every, checkpoint_every, train_on_prompt, gradient_checkpointing, base_dtype.',
      shape: shape.map('training'),
    },
    teacher: {
      doc: 'Distillation (tuneloop distill): the prompt file whose messages the teacher runs (its testData are the held-out cases, never inputs), optionally another model and an adapter. With teacher, dataset.path is where the generated rows are written.',
      shape: shape.map('teacher'),
    },
    student: {
      doc: "Distillation: the prompt file holding the short messages the student (base_model with this recipe's adapter) is called with.",
      shape: shape.map('student'),
    },
    inputs: {
      doc: 'Distillation: the rows of variables the teacher answers: path (JSONL) and/or expand (lists whose cross product gives rows), with near-duplicates dropped.',
      shape: shape.map('inputs'),
    },
    contamination: {
      doc: "Distillation: the check that no input overlaps a held-out test case of the teacher's prompt file (word n-grams): ngram, threshold, action.",
      shape: shape.map('contamination'),
    },
    output: {
      doc: 'A folder (relative to this file, inside the workspace) to copy the finished adapter to. Tuneloop replaces it only when it is new, empty, or holds its .tuneloop-output marker; otherwise training asks for --force.',
      shape: shape.text(),
    },
  },
  dataset: {
    path: { doc: 'The JSONL file (UTF-8), relative to this recipe and inside the workspace.', shape: shape.text(), required: true },
    format: {
      doc: 'text, prompt-completion, messages, alpaca, or prompt-file (rows of variables for prompt_file); detected from the first row when absent.',
      shape: shape.choice(RECIPE_VALUES['dataset.format']),
    },
    prompt_file: {
      doc: 'A prompt file whose messages format each row (with format prompt-file), so training and inference use the same template.',
      shape: shape.text(),
    },
    validation_split: {
      doc: 'A fraction (0 ≤ f < 1) or a count of rows held out to measure validation loss (default 0.1).',
      shape: shape.number({ minimum: 0 }),
      expects: 'a fraction below 1 or a whole number of rows',
    },
  },
  teacher: {
    prompt: {
      doc: 'The teacher: a prompt file (relative to this recipe) whose messages, model parameters and evaluators are used; its testData are the held-out cases the student is measured on.',
      shape: shape.text(),
      required: true,
    },
    model: {
      doc: "The teacher's model: a local checkpoint folder (relative to this recipe) or a Hub id (default: the prompt file's model).",
      shape: shape.text(),
    },
    adapter: { doc: 'A PEFT adapter folder (relative to this recipe) the teacher runs with.', shape: shape.text() },
    kind: {
      doc: "sequence (default): the teacher's outputs become the student's training rows. token: the rows also carry the teacher's top-5 log-probabilities at each answer token, learned with a soft cross-entropy (the teacher's and student's tokenizers must be the same).",
      shape: shape.choice(RECIPE_VALUES['teacher.kind']),
    },
    temperature: {
      doc: 'kind token: the temperature τ both distributions are softened by; the soft loss is scaled by τ² (default 2).',
      shape: shape.number({ exclusiveMinimum: 0 }),
    },
    alpha: {
      doc: 'kind token: the weight of the soft loss; the hard next-token loss on the same tokens gets 1 − alpha (default 0.5).',
      shape: shape.number({ minimum: 0, maximum: 1 }),
    },
  },
  student: {
    prompt: {
      doc: "The student's prompt file (relative to this recipe): its messages, rendered with each input's variables, become the rows' prompts.",
      shape: shape.text(),
      required: true,
    },
  },
  inputs: {
    path: { doc: 'A JSONL file of rows of variables (relative to this recipe), e.g. {"question": "..."}.', shape: shape.text() },
    expand: {
      doc: 'Variables given as lists, e.g. {colour: [red, green], thing: [car, door]}: their cross product gives rows (crossed with the rows of path, when both are given).',
      shape: shape.any(['object']),
    },
    paraphrase: {
      doc: 'More inputs: each input reworded n times by a prompt file run on a local model (sampled at its modelParameters, seeded); repeats are then dropped like any input. Keys: prompt, variable, n, seed.',
      shape: shape.map('inputs.paraphrase'),
    },
    dedupe: {
      doc: 'Drop inputs that repeat an earlier one: 1 drops exact repeats only (after case and spacing are normalised); below 1, also those whose word-trigram Jaccard similarity reaches it (default 0.9).',
      shape: shape.number({ exclusiveMinimum: 0, maximum: 1 }),
    },
  },
  'inputs.paraphrase': {
    prompt: {
      doc: "A prompt file (relative to this recipe) whose messages ask for a rewording of the input (they render the input's variables); its model, else base_model, runs it.",
      shape: shape.text(),
      required: true,
    },
    variable: { doc: 'The input variable the rewording replaces (e.g. question).', shape: shape.text(), required: true },
    n: { doc: 'Rewordings per input (default 1).', shape: shape.int(1, 16) },
    seed: { doc: 'Seed of the first rewording; the k-th uses seed + k (default 1).', shape: shape.int(0) },
  },
  contamination: {
    ngram: {
      doc: 'Word n-gram length compared between inputs and held-out test cases (default 8; a text shorter than that is compared whole).',
      shape: shape.int(1, 32),
    },
    threshold: {
      doc: "The share of a text's n-grams (the shorter one's) found in the other above which an input and a test case overlap (default 0.5).",
      shape: shape.number({ exclusiveMinimum: 0, maximum: 1 }),
    },
    action: {
      doc: 'refuse (default): distill stops and lists the overlapping pairs; warn: it lists them and goes on.',
      shape: shape.choice(RECIPE_VALUES['contamination.action']),
    },
  },
  lora: {
    r: { doc: 'The rank of the adapter (an integer ≥ 1; default 8).', shape: shape.int(1) },
    lora_alpha: { doc: 'The scale numerator: updates are scaled by lora_alpha / r (default 16).', shape: shape.number({ exclusiveMinimum: 0 }) },
    // 0.99 stands for "below 1": the parser has no exclusive maximum, and 1 would drop every input.
    lora_dropout: {
      doc: 'Dropout on the adapter input during training, 0 ≤ p < 1 (default 0).',
      shape: shape.number({ minimum: 0, maximum: 0.99 }),
      expects: 'a number from 0 to below 1',
    },
    target_modules: { doc: 'Module names to adapt (e.g. [q_proj, v_proj]), a regular expression, or all-linear (default).', shape: shape.textOrList() },
    use_rslora: { doc: 'Scale by lora_alpha / √r instead (rank-stabilised LoRA).', shape: shape.bool() },
  },
  training: {
    learning_rate: { doc: 'The peak learning rate (default 2e-4 for LoRA, 2e-5 for full).', shape: shape.number({ exclusiveMinimum: 0 }) },
    epochs: { doc: 'Passes over the training rows (default 1); max_steps wins when both are given.', shape: shape.number({ exclusiveMinimum: 0 }) },
    max_steps: { doc: 'Optimizer steps to take.', shape: shape.int(1) },
    batch_size: { doc: 'Rows per micro-batch (default 4).', shape: shape.int(1) },
    gradient_accumulation: { doc: 'Micro-batches per optimizer step (default 1).', shape: shape.int(1) },
    max_seq_len: { doc: 'Tokens per row; longer rows are cut and counted (default 512).', shape: shape.int(1) },
    schedule: { doc: 'constant, linear or cosine (default), each with warm-up.', shape: shape.choice(RECIPE_VALUES['training.schedule']) },
    warmup_steps: { doc: 'Steps of linear warm-up from 0 (default 0).', shape: shape.int(0) },
    weight_decay: { doc: 'AdamW weight decay (default 0).', shape: shape.number({ minimum: 0 }) },
    max_grad_norm: { doc: 'Clip the global gradient norm to this; 0 turns clipping off (default 1).', shape: shape.number({ minimum: 0 }) },
    seed: { doc: 'Seed for the shuffle, the split, initialisation and dropout (default 42).', shape: shape.int(0) },
    eval_every: { doc: 'Validation loss every N steps (default: 10 evaluations per run).', shape: shape.int(1) },
    checkpoint_every: {
      doc: 'A checkpoint every N steps (default: every 50 steps or 10 minutes, whichever comes first). The newest 2 are kept; resuming falls back to the newest one that loads.',
      shape: shape.int(1),
    },
    train_on_prompt: { doc: 'Loss on the prompt tokens too (default false: completion only).', shape: shape.bool() },
    gradient_checkpointing: {
      doc: "Activation recomputation per decoder layer (as transformers names it): the backward pass recomputes each decoder layer's activations from its input instead of keeping them, which cuts training memory at about a third more compute (default false).",
      shape: shape.bool(),
    },
    base_dtype: {
      doc: "The type the frozen base weights are held in during training, dequantized per layer as a step needs them (QLoRA's idea on a CPU): fp32 (default), bf16, or int8 (symmetric per-channel quantization). LoRA tensors and optimizer state stay float32. Only with method: lora (full trains every weight in float32).",
      shape: shape.choice(RECIPE_VALUES['training.base_dtype']),
    },
  },
};

export function recipeJsonSchema(): JsonObject {
  return jsonSchemaOf(RECIPE_KEYS, {
    id: 'https://tuneloop.dev/schemas/adapter-recipe.schema.json',
    title: 'Tuneloop adapter recipe (*.adapter.yml)',
    description: "How a LoRA adapter (or a full fine-tune) is trained: base model, dataset, LoRA settings under PEFT's names, and training settings.",
  });
}
