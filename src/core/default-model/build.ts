import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { loadTokenizer } from '../infer/tokenizer';
import { loadModelConfig, parameterCount } from '../models/config';
import { TensorStore } from '../safetensors/checkpoint';
import { makeBatch, tokenizeRows } from '../train/data';
import { type RunEvent, readEvents } from '../train/events';
import { initFull } from '../train/full-params';
import { OnnxStepModel } from '../train/onnx-step';
import { createRunDir, EVENTS } from '../train/run';
import { loadRecipe, resolveSpec, withHashes, writeSpec } from '../train/spec';
import { runTraining } from '../train/trainer';
import { VERSION } from '../version';
import { baseCorpus, DEFAULT_CORPUS_SEED, heldOutPlain, sha256, toJsonl } from './corpus';
import { DEFAULT_SHAPE, type DefaultModelShape, TOKENIZER_FILES, writeInitialCheckpoint } from './init';

/**
 * Building the embedded default model: generate the corpus, write a randomly initialised checkpoint,
 * train every weight with the project's own trainer (a run folder with a `method: full` recipe, run by
 * runTraining, exactly as `tuneloop train` runs one), then write the result as a Hugging Face
 * checkpoint folder with `training.json` (the settings, the corpus hash and the held-out loss),
 * `README.md` and `SHA256SUMS`.
 *
 * Training kernels differ between processors, so a rebuild elsewhere gives other weights; what is
 * expected to hold is the held-out loss, within a few per cent. The weights built here are committed.
 */
export interface BuildSettings {
  /** Seeds the initial weights and the trainer (shuffle order). */
  readonly seed: number;
  /** Seeds the corpus generator. */
  readonly corpusSeed: number;
  readonly shape: DefaultModelShape;
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  readonly maxSeqLen: number;
  /** Loss on every token of a conversation (language-model pretraining), not only the assistant's. */
  readonly trainOnPrompt: boolean;
  /** onnxruntime intra-op threads (part of the settings: the thread count changes summation order). */
  readonly threads: number;
}

export const DEFAULT_SETTINGS: BuildSettings = {
  seed: 1234,
  corpusSeed: DEFAULT_CORPUS_SEED,
  shape: DEFAULT_SHAPE,
  steps: 400,
  batchSize: 32,
  learningRate: 4e-3,
  warmupSteps: 20,
  weightDecay: 0.01,
  maxGradNorm: 1,
  maxSeqLen: 96,
  trainOnPrompt: true,
  threads: 2,
};

export interface TrainingRecord {
  readonly format: 1;
  readonly model: 'tuneloop-default';
  readonly tuneloop: string;
  readonly settings: BuildSettings;
  readonly parameters: number;
  readonly corpus: { readonly rows: number; readonly sha256: string };
  readonly heldOut: HeldOutLoss;
  readonly finalTrainLoss: number;
  readonly trainSeconds: number;
}

export const TRAINING_FILE = 'training.json';
export const SUMS_FILE = 'SHA256SUMS';
export const README_FILE = 'README.md';
/** The files of the model folder, in the order SHA256SUMS lists them. */
export const MODEL_FILES = ['config.json', 'generation_config.json', ...TOKENIZER_FILES, 'model.safetensors', TRAINING_FILE, README_FILE] as const;

export interface BuildOptions extends Partial<BuildSettings> {
  /** Folder holding tokenizer.json and tokenizer_config.json (default: the repository's golden llama tokenizer). */
  readonly tokenizerDir?: string;
  /** Scratch folder for the run (default: a new temporary folder, removed afterwards). */
  readonly workDir?: string;
  /** Called with each training event as it is written (progress). */
  readonly onEvent?: (e: RunEvent) => void;
}

/** The repository's golden llama tokenizer, found from this module's location (src/ or out/src/). */
export function defaultTokenizerDir(): string {
  for (let dir = __dirname; ; ) {
    const candidate = path.join(dir, 'test', 'fixtures', 'golden', 'llama');
    if (TOKENIZER_FILES.every((f) => fs.existsSync(path.join(candidate, f)))) return candidate;
    const up = path.dirname(dir);
    if (up === dir)
      throw new TuneloopError('cannot find test/fixtures/golden/llama (the tokenizer) above this module', { file: __dirname }, 'pass --tokenizer DIR');
    dir = up;
  }
}

function recipeText(s: BuildSettings): string {
  return [
    '# The embedded default model, trained from scratch: every weight, from random initial values.',
    'name: default-model',
    'base_model: ./init',
    'dataset:',
    '  path: corpus.jsonl',
    '  format: messages',
    '  validation_split: 0',
    'method: full',
    'training:',
    `  learning_rate: ${s.learningRate}`,
    `  max_steps: ${s.steps}`,
    `  batch_size: ${s.batchSize}`,
    `  max_seq_len: ${s.maxSeqLen}`,
    '  schedule: cosine',
    `  warmup_steps: ${s.warmupSteps}`,
    `  weight_decay: ${s.weightDecay}`,
    `  max_grad_norm: ${s.maxGradNorm}`,
    `  seed: ${s.seed}`,
    `  train_on_prompt: ${s.trainOnPrompt}`,
    '',
  ].join('\n');
}

export interface HeldOutLoss {
  /** Mean next-token loss over every token of the held-out conversations (what a rebuild is compared on). */
  readonly loss: number;
  readonly tokens: number;
  /** Mean loss over the assistant turns only: how well the answers to unseen questions are predicted. */
  readonly answerLoss: number;
  readonly answerTokens: number;
  readonly rows: number;
  readonly sha256: string;
}

/**
 * The held-out loss of the model in `modelDir`: the held-out questions (in no training data) with
 * their plain answers, every batch padded to the same length, measured over all tokens and over the
 * answers alone.
 */
export async function heldOutLoss(modelDir: string, options: { corpusSeed?: number; threads?: number; batchSize?: number } = {}): Promise<HeldOutLoss> {
  const rows = heldOutPlain(options.corpusSeed ?? DEFAULT_CORPUS_SEED);
  const tok = await loadTokenizer(modelDir);
  const cfg = loadModelConfig(modelDir);
  const eos = cfg.eosTokenIds[0] ?? 2;
  const jsonRows = rows.map((row, i) => ({ line: i + 1, row: row as unknown as Record<string, unknown> }));
  const tokenize = (trainOnPrompt: boolean) =>
    tokenizeRows(tok, jsonRows, 'held-out', { format: 'messages', maxSeqLen: 1 << 20, eosTokenId: eos, trainOnPrompt }).examples;
  const all = tokenize(true);
  const answers = tokenize(false);
  const padTo = Math.max(...all.map((e) => e.ids.length));
  const store = TensorStore.openDir(modelDir);
  const model = new OnnxStepModel(cfg, store, { spec: { mode: 'full' }, seed: 0, threads: options.threads ?? DEFAULT_SETTINGS.threads });
  try {
    const params = initFull(store);
    const B = options.batchSize ?? 32;
    const measure = async (examples: typeof all) => {
      let sum = 0;
      let counted = 0;
      for (let i = 0; i < examples.length; i += B) {
        const batch = makeBatch(examples.slice(i, i + B), cfg.padTokenId ?? eos, padTo);
        sum += await model.lossSum(batch, params);
        counted += batch.counted;
      }
      return { loss: sum / counted, counted };
    };
    const a = await measure(all);
    const b = await measure(answers);
    return { loss: a.loss, tokens: a.counted, answerLoss: b.loss, answerTokens: b.counted, rows: rows.length, sha256: sha256(toJsonl(rows)) };
  } finally {
    await model.dispose();
    store.close();
  }
}

function fileSha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** SHA256SUMS text (`sha256sum` format) for the model files present in `dir`. */
export function sha256Sums(dir: string): string {
  return MODEL_FILES.filter((f) => fs.existsSync(path.join(dir, f)))
    .map((f) => `${fileSha(path.join(dir, f))}  ${f}\n`)
    .join('');
}

/** Files whose content differs from SHA256SUMS (or are missing); empty when the folder is intact. */
export function verifySha256Sums(dir: string): string[] {
  const bad: string[] = [];
  const lines = fs
    .readFileSync(path.join(dir, SUMS_FILE), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) {
      bad.push(`malformed line: ${line}`);
      continue;
    }
    const file = path.join(dir, m[2]!);
    if (!fs.existsSync(file)) bad.push(`${m[2]} (missing)`);
    else if (fileSha(file) !== m[1]) bad.push(m[2]!);
  }
  return bad;
}

function readme(r: TrainingRecord, bytes: number): string {
  const s = r.settings;
  return `# The embedded default model

A small Llama-family model (LlamaForCausalLM) that Tuneloop trains itself, from random weights, so
that everything works with no network and no downloaded model. It knows a few templated domains
(colours of things, opposites, plurals, sums of small numbers, capitals, animal sounds) and answers
a question in one plain sentence:

    user: What colour is grass?
    assistant: Grass is green.

It is a test subject for prompts and adapters, not a useful assistant.

## How it was made

- Architecture: ${s.shape.layers} layers, hidden ${s.shape.hiddenSize}, ${s.shape.heads} attention heads (${s.shape.kvHeads} key/value heads), MLP ${s.shape.intermediateSize}, tied embeddings, ${r.parameters.toLocaleString('en-US')} parameters, float32 (${(bytes / 2 ** 20).toFixed(1)} MiB).
- Tokenizer: the project's byte-level BPE (vocab 512) with a ChatML chat template (\`<|im_start|>\` = 1, \`<|im_end|>\` = 2 = end of sequence, \`<|endoftext|>\` = 0 = padding).
- Corpus: ${r.corpus.rows} chat conversations generated by \`src/core/default-model/corpus.ts\` (seed ${s.corpusSeed}, sha256 \`${r.corpus.sha256.slice(0, 16)}…\`). Every fact can be asked four ways; three are in the corpus, the fourth is held out.
- Training: Tuneloop's own trainer (a \`method: full\` run, onnxruntime CPU), initial weights normal(0, 0.02) seeded with ${s.seed}, ${s.steps} steps of ${s.batchSize} conversations, AdamW at ${s.learningRate} with ${s.warmupSteps} warm-up steps and cosine decay, weight decay ${s.weightDecay}, clipping at ${s.maxGradNorm}, ${s.threads} threads: ${r.trainSeconds.toFixed(0)} s on the machine that built it.
- Held-out loss, over the ${r.heldOut.rows} held-out conversations (${r.heldOut.tokens} tokens): **${r.heldOut.loss.toFixed(4)}**; over their answers alone (${r.heldOut.answerTokens} tokens): ${r.heldOut.answerLoss.toFixed(4)}. Everything else is in \`training.json\`.

## Rebuilding

    npm run rebuild:default-model

runs \`node out/src/core/default-model/rebuild.js --out models/default\` after building. Training
kernels differ between processors, so a rebuild on another machine gives other weights; it is
expected to reach a held-out loss within 2% of the one above, which \`test/unit/default-model.test.ts\`
checks. \`SHA256SUMS\` lists the files as committed (\`sha256sum -c SHA256SUMS\`).
`;
}

/**
 * Build the default model into `outDir` (replaced as a whole at the end). Returns what was written
 * to training.json.
 */
export async function buildDefaultModel(outDir: string, options: BuildOptions = {}): Promise<TrainingRecord> {
  const settings: BuildSettings = {
    seed: options.seed ?? DEFAULT_SETTINGS.seed,
    corpusSeed: options.corpusSeed ?? DEFAULT_SETTINGS.corpusSeed,
    shape: options.shape ?? DEFAULT_SETTINGS.shape,
    steps: options.steps ?? DEFAULT_SETTINGS.steps,
    batchSize: options.batchSize ?? DEFAULT_SETTINGS.batchSize,
    learningRate: options.learningRate ?? DEFAULT_SETTINGS.learningRate,
    warmupSteps: options.warmupSteps ?? DEFAULT_SETTINGS.warmupSteps,
    weightDecay: options.weightDecay ?? DEFAULT_SETTINGS.weightDecay,
    maxGradNorm: options.maxGradNorm ?? DEFAULT_SETTINGS.maxGradNorm,
    maxSeqLen: options.maxSeqLen ?? DEFAULT_SETTINGS.maxSeqLen,
    trainOnPrompt: options.trainOnPrompt ?? DEFAULT_SETTINGS.trainOnPrompt,
    threads: options.threads ?? DEFAULT_SETTINGS.threads,
  };
  const ownWork = options.workDir === undefined;
  const work = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-default-model-'));
  try {
    fs.mkdirSync(work, { recursive: true });
    const corpus = toJsonl(baseCorpus({ seed: settings.corpusSeed }));
    fs.writeFileSync(path.join(work, 'corpus.jsonl'), corpus);
    writeInitialCheckpoint(path.join(work, 'init'), {
      shape: settings.shape,
      seed: settings.seed,
      tokenizerDir: options.tokenizerDir ?? defaultTokenizerDir(),
    });
    const recipeFile = path.join(work, 'default-model.adapter.yml');
    fs.writeFileSync(recipeFile, recipeText(settings));
    // Hashed here, with a cache folder in the scratch folder, so that nothing is written elsewhere.
    const spec = withHashes(resolveSpec(loadRecipe(recipeFile), path.join(work, 'init'), { threads: settings.threads }), path.join(work, 'cache'));
    const runDir = createRunDir(path.join(work, 'runs'), 'default-model');
    writeSpec(runDir, spec);

    let offset = 0;
    const poll = () => {
      const r = readEvents(path.join(runDir, EVENTS), offset);
      offset = r.offset;
      for (const e of r.events) options.onEvent?.(e);
    };
    const timer = options.onEvent ? setInterval(poll, 1000) : undefined;
    const started = Date.now();
    let outcome: Awaited<ReturnType<typeof runTraining>>;
    try {
      outcome = await runTraining(runDir);
    } finally {
      if (timer) clearInterval(timer);
    }
    const trainSeconds = (Date.now() - started) / 1000;
    if (options.onEvent) poll();
    const events = readEvents(path.join(runDir, EVENTS)).events;
    if (outcome !== 'done') {
      const failed = events.find((e) => e.type === 'failed');
      throw new TuneloopError(`training the default model ${outcome}${failed && failed.type === 'failed' ? `: ${failed.message}` : ''}`, { file: runDir });
    }
    const steps = events.filter((e): e is Extract<RunEvent, { type: 'step' }> => e.type === 'step');
    const tail = steps.slice(-10);
    const finalTrainLoss = tail.reduce((a, e) => a + e.loss, 0) / Math.max(1, tail.length);

    // The result, written beside outDir and renamed into place whole.
    const partial = `${outDir}.partial`;
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    for (const f of ['config.json', 'generation_config.json', ...TOKENIZER_FILES, 'model.safetensors'])
      fs.copyFileSync(path.join(runDir, 'model', f), path.join(partial, f));
    const held = await heldOutLoss(partial, { corpusSeed: settings.corpusSeed, threads: settings.threads });
    const record: TrainingRecord = {
      format: 1,
      model: 'tuneloop-default',
      tuneloop: VERSION,
      settings,
      parameters: parameterCount(loadModelConfig(partial)),
      corpus: { rows: corpus.trimEnd().split('\n').length, sha256: sha256(corpus) },
      heldOut: held,
      finalTrainLoss,
      trainSeconds,
    };
    fs.writeFileSync(path.join(partial, TRAINING_FILE), `${JSON.stringify(record, null, 2)}\n`);
    fs.writeFileSync(path.join(partial, README_FILE), readme(record, fs.statSync(path.join(partial, 'model.safetensors')).size));
    fs.writeFileSync(path.join(partial, SUMS_FILE), sha256Sums(partial));
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(path.resolve(outDir)), { recursive: true });
    fs.renameSync(partial, outDir);
    return record;
  } finally {
    if (ownWork) fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The settings a committed model was built with (from its training.json). */
export function readTrainingRecord(modelDir: string): TrainingRecord {
  const file = path.join(modelDir, TRAINING_FILE);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainingRecord;
  } catch (e) {
    throw new TuneloopError(`cannot read the training record: ${(e as Error).message}`, { file });
  }
}
