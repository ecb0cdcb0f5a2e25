import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';
import { loadModelConfig, parameterCount } from '../models/config';
import { writeSafetensors } from '../safetensors';
import { TensorStore } from '../safetensors/checkpoint';
import { fromFloat32 } from '../safetensors/dtype';
import { type RunEvent, readEvents } from '../train/events';
import { createRunDir, EVENTS } from '../train/run';
import { loadRecipe, resolveSpec, withHashes, writeSpec } from '../train/spec';
import { runTraining } from '../train/trainer';
import { VERSION } from '../version';
import { baseCorpus, DEFAULT_CORPUS_ROWS, DEFAULT_CORPUS_SEED, sha256, toJsonl } from './corpus';
import { type ModelFigures, measureModel } from './figures';
import { DEFAULT_SHAPE, type DefaultModelShape, TOKENIZER_FILES, writeInitialCheckpoint } from './init';
import { readme } from './readme';

/**
 * Building the embedded default model: generate the corpus, write a randomly initialised checkpoint,
 * train every weight with the project's own trainer (a run folder with a `method: full` recipe, run by
 * runTraining, exactly as `tuneloop train` runs one), then write the result as a Hugging Face
 * checkpoint folder with `training.json` (the settings, the corpus hash, the loss of every step and
 * the model's figures on held-out questions), `README.md` and `SHA256SUMS`.
 *
 * Training kernels differ between processors, so a rebuild elsewhere gives other weights. What is
 * expected to hold: the first steps' losses (replayTraining, checked in CI against training.json),
 * and after a whole rebuild the held-out accuracy and answer loss. The weights built here are committed.
 */
export interface BuildSettings {
  /** Seeds the initial weights and the trainer (shuffle order). */
  readonly seed: number;
  /** Seeds the corpus generator. */
  readonly corpusSeed: number;
  /** Conversations in the corpus. */
  readonly corpusRows: number;
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
  /** How model.safetensors stores the weights (trained in float32; BF16 halves the file). */
  readonly storeDtype: 'F32' | 'BF16';
}

export const DEFAULT_SETTINGS: BuildSettings = {
  seed: 1234,
  corpusSeed: DEFAULT_CORPUS_SEED,
  corpusRows: DEFAULT_CORPUS_ROWS,
  shape: DEFAULT_SHAPE,
  steps: 1200,
  batchSize: 16,
  learningRate: 3e-3,
  warmupSteps: 50,
  weightDecay: 0.01,
  maxGradNorm: 1,
  maxSeqLen: 416,
  trainOnPrompt: true,
  threads: 2,
  storeDtype: 'F32',
};

export interface TrainingRecord {
  readonly format: 2;
  readonly model: 'tuneloop-default';
  readonly tuneloop: string;
  readonly settings: BuildSettings;
  readonly parameters: number;
  readonly corpus: { readonly rows: number; readonly sha256: string };
  /** The model's figures on held-out questions, measured on the weights as stored. */
  readonly figures: ModelFigures;
  readonly trainSeconds: number;
  /** The mean training loss of every optimizer step, in order (rebuilds replay the first ones). */
  readonly losses: readonly number[];
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

export function settingsOf(options: Partial<BuildSettings>): BuildSettings {
  const s = { ...DEFAULT_SETTINGS };
  for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof BuildSettings)[]) if (options[k] !== undefined) Object.assign(s, { [k]: options[k] });
  return s;
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
    `  checkpoint_every: ${s.steps}`,
    '',
  ].join('\n');
}

/** The corpus text, the random initial checkpoint, the recipe and a run folder for it, in `work`. */
function prepareRun(work: string, s: BuildSettings, tokenizerDir: string): { runDir: string; corpus: string } {
  fs.mkdirSync(work, { recursive: true });
  const corpus = toJsonl(baseCorpus({ seed: s.corpusSeed, rows: s.corpusRows }));
  fs.writeFileSync(path.join(work, 'corpus.jsonl'), corpus);
  writeInitialCheckpoint(path.join(work, 'init'), { shape: s.shape, seed: s.seed, tokenizerDir });
  const recipeFile = path.join(work, 'default-model.adapter.yml');
  fs.writeFileSync(recipeFile, recipeText(s));
  // Hashed here, with a cache folder in the scratch folder, so that nothing is written elsewhere.
  const spec = withHashes(resolveSpec(loadRecipe(recipeFile), path.join(work, 'init'), { threads: s.threads }), path.join(work, 'cache'));
  const runDir = createRunDir(path.join(work, 'runs'), 'default-model');
  writeSpec(runDir, spec);
  return { runDir, corpus };
}

type StepEvent = Extract<RunEvent, { type: 'step' }>;

/**
 * Run the trainer on `runDir`, handing each event to `onEvent` as it is written (polled), and
 * stopping the run once `stopAfter` steps are done. Returns the outcome and every event.
 */
async function train(runDir: string, options: { onEvent?: (e: RunEvent) => void; stopAfter?: number }) {
  const controller = new AbortController();
  let offset = 0;
  const poll = () => {
    const r = readEvents(path.join(runDir, EVENTS), offset);
    offset = r.offset;
    for (const e of r.events) {
      options.onEvent?.(e);
      if (options.stopAfter !== undefined && e.type === 'step' && e.step >= options.stopAfter) controller.abort();
    }
  };
  const timer = setInterval(poll, options.stopAfter === undefined ? 1000 : 50);
  let outcome: Awaited<ReturnType<typeof runTraining>>;
  try {
    outcome = await runTraining(runDir, { signal: controller.signal });
  } finally {
    clearInterval(timer);
  }
  poll();
  const events = readEvents(path.join(runDir, EVENTS)).events;
  if (outcome === 'failed') {
    const failed = events.find((e) => e.type === 'failed');
    throw new TuneloopError(`training the default model failed${failed && failed.type === 'failed' ? `: ${failed.message}` : ''}`, { file: runDir });
  }
  return { outcome, losses: events.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss) };
}

/** Rewrite model.safetensors with every tensor in `dtype` (from the float32 the trainer wrote). */
function storeAs(dir: string, dtype: 'F32' | 'BF16'): void {
  if (dtype === 'F32') return;
  const store = TensorStore.openDir(dir);
  const tensors = new Map<string, { dtype: 'BF16'; shape: number[]; data: Uint8Array }>();
  try {
    for (const name of store.names()) tensors.set(name, { dtype, shape: [...store.info(name).shape], data: fromFloat32(dtype, store.readFloat32(name)) });
  } finally {
    store.close();
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

function modelConfigFor(dir: string, s: BuildSettings): void {
  // The tokenizer's own limit follows the model's positions (the golden tokenizer says 256).
  const file = path.join(dir, 'tokenizer_config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, `${JSON.stringify({ ...cfg, model_max_length: s.shape.maxPositions }, null, 2)}\n`);
  if (s.storeDtype === 'BF16') {
    const c = path.join(dir, 'config.json');
    fs.writeFileSync(c, `${JSON.stringify({ ...JSON.parse(fs.readFileSync(c, 'utf8')), dtype: 'bfloat16' }, null, 2)}\n`);
  }
}

/**
 * Build the default model into `outDir` (replaced as a whole at the end). Returns what was written
 * to training.json.
 */
export async function buildDefaultModel(outDir: string, options: BuildOptions = {}): Promise<TrainingRecord> {
  const settings = settingsOf(options);
  const ownWork = options.workDir === undefined;
  const work = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-default-model-'));
  try {
    const { runDir, corpus } = prepareRun(work, settings, options.tokenizerDir ?? defaultTokenizerDir());
    const started = Date.now();
    const { losses } = await train(runDir, options.onEvent ? { onEvent: options.onEvent } : {});
    const trainSeconds = (Date.now() - started) / 1000;

    // The result, written beside outDir and renamed into place whole.
    const partial = `${outDir}.partial`;
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    for (const f of ['config.json', 'generation_config.json', ...TOKENIZER_FILES, 'model.safetensors'])
      fs.copyFileSync(path.join(runDir, 'model', f), path.join(partial, f));
    modelConfigFor(partial, settings);
    storeAs(partial, settings.storeDtype);
    const record: TrainingRecord = {
      format: 2,
      model: 'tuneloop-default',
      tuneloop: VERSION,
      settings,
      parameters: parameterCount(loadModelConfig(partial)),
      corpus: { rows: settings.corpusRows, sha256: sha256(corpus) },
      figures: await measureModel(partial, { threads: settings.threads }),
      trainSeconds,
      losses,
    };
    writeRecordFiles(partial, record);
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(path.resolve(outDir)), { recursive: true });
    fs.renameSync(partial, outDir);
    return record;
  } finally {
    if (ownWork) fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Measure a built model folder again (its figures on held-out questions, on the weights as stored),
 * and rewrite training.json's figures, README.md and SHA256SUMS to match; the weights and the losses
 * are left as they are. For when the measurement changes (a held-out template reworded), not the
 * model. Each file is replaced whole.
 */
export async function remeasureModel(dir: string): Promise<TrainingRecord> {
  const old = readTrainingRecord(dir);
  const record: TrainingRecord = { ...old, figures: await measureModel(dir, { threads: old.settings.threads }) };
  writeRecordFiles(dir, record);
  return record;
}

/** training.json, README.md and SHA256SUMS (last: it lists the other two) of a model folder, each replaced whole. */
function writeRecordFiles(dir: string, record: TrainingRecord): void {
  writeFileAtomic(path.join(dir, TRAINING_FILE), `${JSON.stringify(record, null, 2)}\n`);
  writeFileAtomic(path.join(dir, README_FILE), readme(record, fs.statSync(path.join(dir, 'model.safetensors')).size));
  writeFileAtomic(path.join(dir, SUMS_FILE), sha256Sums(dir));
}

/**
 * The first `steps` optimizer steps of a build with `settings`, run again exactly as the build runs
 * them (same corpus, initial weights, recipe and trainer), then stopped: their losses, to compare
 * with the ones a committed model's training.json records.
 */
export async function replayTraining(settings: BuildSettings, steps: number, options: { tokenizerDir?: string } = {}): Promise<number[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-default-replay-'));
  try {
    const { runDir } = prepareRun(work, settings, options.tokenizerDir ?? defaultTokenizerDir());
    const { losses } = await train(runDir, { stopAfter: steps });
    return losses.slice(0, steps);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function fileSha(file: string): string {
  return sha256(fs.readFileSync(file));
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

/** The settings a committed model was built with (from its training.json). */
export function readTrainingRecord(modelDir: string): TrainingRecord {
  const file = path.join(modelDir, TRAINING_FILE);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainingRecord;
  } catch (e) {
    throw new TuneloopError(`cannot read the training record: ${(e as Error).message}`, { file });
  }
}
