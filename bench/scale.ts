import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { expectedWeights, loadModelConfig, type ModelConfig, parameterCount, parseModelConfig } from '../src/core/models/config';
import { f32ToBf16Bits, numel, type TensorToWrite, writeSafetensors } from '../src/core/safetensors';
import { seededRandom } from '../src/core/random';
import { readEvents, type RunEvent } from '../src/core/train/events';
import { loraParameterCount, loraSpecOf } from '../src/core/train/lora-spec';
import { EVENTS, readLock } from '../src/core/train/run';
import { type RunSpec, readSpec } from '../src/core/train/spec';
import { planTrainingMemory } from '../src/core/train/memory';
import { matmulFlops } from './matmul';
import { type MemoryReport, MemorySampler } from './memory';

/**
 * Real-size LoRA fine-tunes on this machine (issue 13): three model shapes written as random bf16
 * checkpoints with the project's own safetensors writer (nothing is downloaded), each trained with
 * each memory option through the path a user takes: `tuneloop train RECIPE` from dist/cli.js, which
 * launches the detached trainer (dist/trainer.js). The trainer process itself is measured from
 * outside (bench/memory.ts): VmRSS every 50 ms and its VmHWM, beside the trainer's memory estimate,
 * with tokens/s, the seconds to the first step, model FLOP utilisation and the smallest
 * MemAvailable seen. Figures, never pass/fail: a run the trainer refuses prints its message.
 *
 *   node out/bench/scale.js [--shapes smol,qwen,llama] [--options baseline,checkpointing,bf16,int8]
 *                           [--steps 6] [--threads 2] [--work DIR]
 *
 * --steps: measured steps, after 2 warm-up steps (the first builds the graph and session, the second
 * still grows onnxruntime's arena). --work DIR keeps the checkpoints and runs there (and reuses
 * checkpoints already written); without it a temporary folder is used and removed.
 */

/** The repository root (this file runs as out/bench/scale.js). */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The embedded default model, whose tokenizer every shape borrows. */
const DEFAULT_MODEL = path.join(ROOT, 'models', 'default');

export interface Shape {
  readonly key: string;
  /** The model whose shape it is. */
  readonly name: string;
  /** Its config.json. */
  readonly config: Record<string, unknown>;
}

/**
 * The default model's tokenizer (vocab 512, ChatML template) stands in for each model's own: its
 * ids are below 512, valid in every vocabulary here, and its end token (<|im_end|>, 2) and padding
 * (<|endoftext|>, 0) are what the configs name.
 */
const TOKENS = { bos_token_id: null, eos_token_id: 2, pad_token_id: 0 };

/** Parameters as Hugging Face counts them (tied embeddings once): 134.5M, 494.0M, 1,235.8M. */
export const SHAPES: readonly Shape[] = [
  {
    key: 'smol',
    name: 'SmolLM2-135M',
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 576,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      intermediate_size: 1536,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      hidden_act: 'silu',
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      ...TOKENS,
    },
  },
  {
    key: 'qwen',
    name: 'Qwen2.5-0.5B',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2', // q/k/v biases always, as in transformers' Qwen2
      hidden_size: 896,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      intermediate_size: 4864,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      hidden_act: 'silu',
      use_sliding_window: false,
      sliding_window: 32768,
      max_window_layers: 24,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      ...TOKENS,
    },
  },
  {
    key: 'llama',
    name: 'Llama-3.2-1B',
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 2048,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      intermediate_size: 8192,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      hidden_act: 'silu',
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      ...TOKENS,
    },
  },
];

export interface MemoryOption {
  readonly key: string;
  readonly name: string;
  /** Keys added under the recipe's `training:`. */
  readonly training?: Readonly<Record<string, unknown>>;
}

/** The memory options, each a recipe variant (training.gradient_checkpointing, training.base_dtype). */
export const OPTIONS: readonly MemoryOption[] = [
  { key: 'baseline', name: 'baseline' },
  { key: 'checkpointing', name: 'checkpointing', training: { gradient_checkpointing: true } },
  { key: 'bf16', name: 'checkpointing + bf16 base', training: { gradient_checkpointing: true, base_dtype: 'bf16' } },
  { key: 'int8', name: 'checkpointing + int8 base', training: { gradient_checkpointing: true, base_dtype: 'int8' } },
];

/** The recipe's fixed settings: LoRA r = 8 on every linear layer, micro-batches of exactly 4 × 256 tokens. */
export const BATCH = 4;
export const SEQ = 256;
export const WARMUP_STEPS = 2;
const VALIDATION_ROWS = 4;

// ---- the checkpoint -------------------------------------------------------------------------

/** `n` normal values (mean 0, standard deviation `std`) as bfloat16, from a seeded generator (Box–Muller). */
function normalBf16(n: number, seed: number, std: number): Uint8Array {
  const out = new Uint16Array(n);
  const r = seededRandom(seed);
  for (let i = 0; i < n; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(1 - r())); // 1 − r() is in (0, 1]
    const angle = 2 * Math.PI * r();
    out[i] = f32ToBf16Bits(radius * Math.cos(angle));
    if (i + 1 < n) out[i + 1] = f32ToBf16Bits(radius * Math.sin(angle));
  }
  return new Uint8Array(out.buffer);
}

/**
 * A Hugging Face checkpoint folder for `config`: bf16 weights, random normal (std 0.02, seeded, norm
 * weights 1), written by src/core/safetensors/write.ts, which asks for each tensor's bytes only as
 * it writes it, so no more than the largest tensor (the embedding) is held at once; and the default
 * model's tokenizer. A folder already holding the same config.json (written last) is kept as it is.
 */
export function writeRandomCheckpoint(dir: string, config: Record<string, unknown>, seed = 1, std = 0.02): { written: boolean; bytes: number } {
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  const configFile = path.join(dir, 'config.json');
  const weightsFile = path.join(dir, 'model.safetensors');
  if (fs.existsSync(weightsFile) && fs.existsSync(configFile) && fs.readFileSync(configFile, 'utf8') === configText) {
    return { written: false, bytes: fs.statSync(weightsFile).size };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const cfg = parseModelConfig(config, configFile);
  const tensors = new Map<string, TensorToWrite>();
  expectedWeights(cfg).forEach((w, i) => {
    const n = numel(w.shape);
    const isNorm = /norm/.test(w.name) && w.name.endsWith('.weight');
    tensors.set(w.name, {
      dtype: 'BF16',
      shape: w.shape,
      data: () => (isNorm ? new Uint8Array(new Uint16Array(n).fill(f32ToBf16Bits(1)).buffer) : normalBf16(n, (seed * 1_000_003 + i) >>> 0, std)),
    });
  });
  writeSafetensors(weightsFile, tensors, { format: 'pt' });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(DEFAULT_MODEL, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), `${JSON.stringify(TOKENS)}\n`);
  fs.writeFileSync(configFile, configText);
  return { written: true, bytes: fs.statSync(weightsFile).size };
}

// ---- the data and the recipe ----------------------------------------------------------------

const WORDS = ['red', 'blue', 'green', 'river', 'city', 'capital', 'north', 'south', 'snow', 'sun', 'moon', 'water', 'stone', 'tree', 'bird', 'cold'];
const PLACES = ['France', 'Italy', 'Spain', 'Japan', 'Egypt', 'Peru', 'Kenya', 'Norway', 'Chile', 'India', 'Canada', 'Turkey'];

/**
 * Chat rows whose assistant turn runs far past max_seq_len (about 1,200 characters, some 600
 * tokens of the default tokenizer), so that every row is cut to exactly 256 tokens: each
 * micro-batch is 4 × 256 real tokens, none padding. The trainer's log says how many rows were cut.
 */
export function writeDataset(file: string, rows: number, seed = 1): void {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    let answer = 'Answer:';
    while (answer.length < 1200)
      answer += ` The ${pick(WORDS)} ${pick(WORDS)} of ${pick(PLACES)} is ${pick(PLACES)}, ${1 + Math.floor(r() * 99)} ${pick(WORDS)}s.`;
    const question = `Tell me about the ${pick(WORDS)} of ${pick(PLACES)}.`;
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'user', content: question },
          { role: 'assistant', content: answer },
        ],
      }),
    );
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Training rows for every step to see fresh ones, plus the validation rows. */
export function datasetRows(totalSteps: number): number {
  return BATCH * totalSteps + VALIDATION_ROWS;
}

/** The recipe of one run, as a user would write it: validation (and its sample) once, at the last step. */
export function recipeOf(shape: Shape, option: MemoryOption, totalSteps: number): Record<string, unknown> {
  return {
    name: `scale-${shape.key}-${option.key}`,
    base_model: `models/${shape.key}`,
    dataset: { path: 'data/scale.jsonl', format: 'messages', validation_split: VALIDATION_ROWS },
    method: 'lora',
    lora: { r: 8, lora_alpha: 16, target_modules: 'all-linear' },
    training: {
      learning_rate: 0.0002,
      max_steps: totalSteps,
      batch_size: BATCH,
      gradient_accumulation: 1,
      max_seq_len: SEQ,
      eval_every: totalSteps,
      seed: 1,
      ...option.training,
    },
  };
}

// ---- figures --------------------------------------------------------------------------------

/**
 * The trainer's memory estimate for a run: what its `started` event reports, or, for a run refused
 * before it started, the same plan computed on its spec.json (src/core/train/memory.ts).
 */
export function trainerEstimate(cfg: ModelConfig, spec: RunSpec, started?: Extract<RunEvent, { type: 'started' }>): { bytes: number; loraParams: number } {
  const lora = loraSpecOf(cfg, spec);
  const loraParams = loraParameterCount(lora.modules);
  return { bytes: started?.memory?.estimateBytes ?? planTrainingMemory(cfg, spec, Number.POSITIVE_INFINITY).memory.total, loraParams };
}

/**
 * Model FLOPs of one step, as bench/train.ts counts them: (4 × frozen + 6 × LoRA parameters) ×
 * tokens (forward 2, backward 2 for the input gradient, plus 2 for the LoRA weights' gradient), plus
 * attention (QKᵀ and AV, 4·B·S²·heads·head_dim per layer, three times for forward and backward).
 * Gradient checkpointing recomputes the forward pass, but recomputation is not useful work: the
 * model FLOPs stay the same for every option.
 */
export function modelFlopsPerStep(cfg: ModelConfig, loraParams: number, batch = BATCH, seq = SEQ): number {
  const tokens = batch * seq;
  const attention = 3 * 4 * batch * seq * seq * cfg.numHeads * cfg.headDim * cfg.numLayers;
  return (4 * parameterCount(cfg) + 6 * loraParams) * tokens + attention;
}

export interface RunResult {
  readonly shape: Shape;
  readonly option: MemoryOption;
  readonly status: 'done' | 'refused' | 'failed';
  /** Why it was refused or failed. */
  readonly message?: string;
  readonly runDir?: string;
  /** The trainer's pid, and what confirmed it is the process that owns the run. */
  readonly pid?: number;
  readonly pidConfirmedBy?: 'owner.lock' | 'started event' | 'nothing';
  readonly memory?: MemoryReport;
  readonly estimateBytes?: number;
  readonly loraParams?: number;
  readonly frozenParams: number;
  /** Step seconds of every step, in order (from the step events' tokens/s). */
  readonly stepSeconds: readonly number[];
  /** Tokens per second over the measured steps (after the warm-up ones). */
  readonly tokensPerSecond?: number;
  /** From `tuneloop train` starting to the trainer's first step event, and to its started event. */
  readonly firstStepSeconds?: number;
  readonly startedSeconds?: number;
  readonly totalSeconds: number;
  /** Model FLOP/s over the dense MatMul FLOP/s (a fraction). */
  readonly mfu?: number;
  /** Whether every row filled max_seq_len (so each micro-batch is exactly 4 × 256 tokens). */
  readonly fullRows?: boolean;
  readonly validationLoss?: number;
  readonly sample?: string;
  readonly warnings: readonly string[];
}

export interface RunRequest {
  /** The workspace: models/, data/, recipes and runs/ are made inside it. */
  readonly work: string;
  readonly shape: Shape;
  readonly option: MemoryOption;
  /** Measured steps (after WARMUP_STEPS). */
  readonly steps: number;
  readonly threads: number;
  /** Dense MatMul FLOP/s for MFU. */
  readonly peakFlops: number;
  /** The CLI (default: dist/cli.js). */
  readonly cli?: string;
  readonly intervalMs?: number;
}

const GIB = 2 ** 30;

/** One `tuneloop train` of `shape` with `option`, measured. The checkpoint and data must be written already. */
export async function runOne(req: RunRequest): Promise<RunResult> {
  const { work, shape, option } = req;
  const total = WARMUP_STEPS + req.steps;
  const recipe = path.join(work, `${shape.key}-${option.key}.adapter.yml`);
  fs.writeFileSync(recipe, stringify(recipeOf(shape, option, total)));
  const cfg = loadModelConfig(path.join(work, 'models', shape.key));
  const frozenParams = parameterCount(cfg);
  const warnings: string[] = [];

  const started = Date.now();
  const cli = spawn(
    process.execPath,
    [req.cli ?? path.join(ROOT, 'dist', 'cli.js'), 'train', recipe, '--runs', path.join(work, 'runs'), '--threads', String(req.threads), '--root', work],
    { cwd: work, env: { ...process.env, TUNELOOP_CACHE: path.join(work, 'cache') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let sampler: MemorySampler | undefined;
  let runDir: string | undefined;
  let launchedPid: number | undefined;
  let lockPid: number | undefined;
  let lockPoll: NodeJS.Timeout | undefined;
  cli.stdout.setEncoding('utf8');
  cli.stderr.setEncoding('utf8');
  cli.stderr.on('data', (d: string) => (stderr += d));
  cli.stdout.on('data', (d: string) => {
    stdout += d;
    if (sampler) return;
    // `tuneloop train` prints the run folder and the pid of the trainer it launched (src/cli/train.ts).
    const m = /^run (.+) \(trainer pid (\d+)\)$/m.exec(stdout);
    if (!m) return;
    runDir = m[1]!;
    launchedPid = Number(m[2]);
    sampler = new MemorySampler(launchedPid, req.intervalMs ?? 50);
    // The trainer's first act is to take the run's lock, owner.lock, with its own pid: the process
    // that owns the run, whatever launched it. Sample that one should it differ.
    const dir = runDir;
    lockPoll = setInterval(() => {
      const l = readLock(dir);
      if (!l) return;
      lockPid = l.pid;
      clearInterval(lockPoll);
      if (l.pid !== sampler!.pid) sampler!.retarget(l.pid);
    }, 10);
  });
  const code = await new Promise<number>((resolve) => cli.on('close', (c) => resolve(c ?? 1)));
  clearInterval(lockPoll);
  const base = { shape, option, frozenParams, warnings, stepSeconds: [] as number[] };
  if (!sampler || !runDir) {
    // Refused before any trainer ran (the memory check, the recipe check, the output folder, …): the CLI's message.
    const message = stderr.trim().replace(/^tuneloop train: error: /, '') || `tuneloop train exited with ${code} and printed: ${stdout.trim()}`;
    return { ...base, status: /training needs about/.test(message) ? 'refused' : 'failed', message, totalSeconds: (Date.now() - started) / 1000 };
  }
  // The CLI returns at the trainer's last event; the trainer then releases its sessions and exits.
  const ended = await sampler.whenEnded(120_000);
  const memory = sampler.stop();
  if (!ended) warnings.push(`the trainer (pid ${memory.pid}) was still alive 120 s after its last event; sampling stopped there`);
  const totalSeconds = (Date.now() - started) / 1000;
  for (const line of stderr.split('\n')) if (line.startsWith('warning: ')) warnings.push(line.slice('warning: '.length));

  const events: RunEvent[] = readEvents(path.join(runDir, EVENTS)).events;
  const startedEvent = events.find((e): e is Extract<RunEvent, { type: 'started' }> => e.type === 'started');
  const pidConfirmedBy: RunResult['pidConfirmedBy'] = lockPid === memory.pid ? 'owner.lock' : startedEvent?.pid === memory.pid ? 'started event' : 'nothing';
  if (startedEvent && startedEvent.pid !== memory.pid) warnings.push(`the started event names pid ${startedEvent.pid}, the bench measured ${memory.pid}`);
  if (memory.othersCpuShare !== undefined && memory.othersCpuShare > 0.1)
    warnings.push(
      `other processes (tuneloop train following the run and this bench among them) used ${(memory.othersCpuShare * 100).toFixed(0)}% of the machine's CPU during the run: tokens/s, first step and MFU measure them too`,
    );
  if (memory.maxGapMs > 100)
    warnings.push(
      `${memory.gapsOver100Ms} of ${memory.samples - 1} gaps between memory samples exceeded 100 ms (the longest ${memory.maxGapMs.toFixed(0)} ms): the machine is busy; VmHWM is exact regardless`,
    );

  let estimateBytes: number | undefined;
  let loraParams: number | undefined;
  try {
    ({ bytes: estimateBytes, loraParams } = trainerEstimate(cfg, readSpec(runDir), startedEvent));
  } catch (e) {
    warnings.push(`no estimate: ${(e as Error).message}`);
  }

  const last = events.at(-1);
  const common = {
    ...base,
    runDir,
    pid: memory.pid,
    pidConfirmedBy,
    memory,
    totalSeconds,
    ...(estimateBytes !== undefined ? { estimateBytes } : {}),
    ...(loraParams !== undefined ? { loraParams } : {}),
  };
  if (last?.type !== 'done') {
    // The trainer's messages begin with the recipe's path, which the table does not need.
    const message =
      last?.type === 'failed' ? last.message.replace(`${recipe}: `, '') : `the run ended with ${last?.type ?? 'no event'} (tuneloop train exit ${code})`;
    // The trainer's pre-flight check: "training needs about X but Y is available" (trainer.ts).
    return { ...common, status: /training needs about/.test(message) ? 'refused' : 'failed', message };
  }

  const steps = events.filter((e): e is Extract<RunEvent, { type: 'step' }> => e.type === 'step');
  const tokensPerStep = BATCH * SEQ;
  // Every step has the same tokens, so a step's seconds are its tokens over its tokens/s.
  const stepSeconds = steps.map((s) => (s.tokensPerSecond > 0 ? tokensPerStep / s.tokensPerSecond : Number.NaN));
  const measured = stepSeconds.slice(WARMUP_STEPS).length ? stepSeconds.slice(WARMUP_STEPS) : stepSeconds;
  const measuredSeconds = measured.reduce((a, b) => a + b, 0);
  const tokensPerSecond = measured.length && measuredSeconds > 0 ? (measured.length * tokensPerStep) / measuredSeconds : undefined;
  const cut = events.find((e) => e.type === 'log' && /row\(s\) were longer than max_seq_len/.test(e.message));
  const rowsCut = cut?.type === 'log' ? Number(/^(\d+)/.exec(cut.message)?.[1] ?? 0) : 0;
  const rows = (startedEvent?.trainExamples ?? 0) + (startedEvent?.validationExamples ?? 0);
  const fullRows = rows > 0 && rowsCut === rows;
  if (!fullRows)
    warnings.push(`only ${rowsCut} of ${rows} rows filled max_seq_len ${SEQ}: steps had fewer than ${tokensPerStep} tokens, and MFU counts ${tokensPerStep}`);
  const firstStep = steps[0];
  const evalEvent = [...events].reverse().find((e): e is Extract<RunEvent, { type: 'eval' }> => e.type === 'eval');
  const sampleEvent = [...events].reverse().find((e): e is Extract<RunEvent, { type: 'sample' }> => e.type === 'sample');
  const mfu =
    tokensPerSecond !== undefined && loraParams !== undefined && req.peakFlops > 0
      ? (modelFlopsPerStep(cfg, loraParams) * (tokensPerSecond / tokensPerStep)) / req.peakFlops
      : undefined;
  return {
    ...common,
    status: 'done',
    stepSeconds,
    fullRows,
    ...(tokensPerSecond !== undefined ? { tokensPerSecond } : {}),
    ...(firstStep ? { firstStepSeconds: (Date.parse(firstStep.time) - started) / 1000 } : {}),
    ...(startedEvent ? { startedSeconds: (Date.parse(startedEvent.time) - started) / 1000 } : {}),
    ...(mfu !== undefined ? { mfu } : {}),
    ...(evalEvent ? { validationLoss: evalEvent.loss } : {}),
    ...(sampleEvent ? { sample: sampleEvent.output } : {}),
  };
}

// ---- printing -------------------------------------------------------------------------------

const gib = (b: number | undefined) => (b === undefined ? '–' : (b / GIB).toFixed(2));

/** The run's peak: the kernel's VmHWM where it was read, else the sampled peak. */
export function peakOf(r: RunResult): number | undefined {
  if (!r.memory || r.memory.samples === 0) return undefined;
  return r.memory.hwm || r.memory.peakRss;
}

/** Lines describing one run in full. */
export function describeRun(r: RunResult): string[] {
  const head = `${r.shape.name} / ${r.option.name}: ${r.status}${r.message ? `: ${r.message}` : ''} (${r.totalSeconds.toFixed(1)} s)`;
  const lines = [head];
  if (r.pid !== undefined) lines.push(`  trainer pid ${r.pid} (confirmed by ${r.pidConfirmedBy}), run ${r.runDir}`);
  if (r.memory && r.memory.samples > 0) {
    const m = r.memory;
    lines.push(
      `  memory     peak RSS ${gib(m.peakRss)} GiB sampled (${m.samples} samples, longest gap ${m.maxGapMs.toFixed(0)} ms), VmHWM ${gib(m.hwm)} GiB, ${(m.firstRss / 2 ** 20).toFixed(0)} MiB at the first sample; min MemAvailable ${gib(m.minAvailable)} GiB`,
    );
  }
  if (r.memory?.cpuSeconds !== undefined)
    lines.push(
      `  CPU        the trainer used ${r.memory.cpuSeconds.toFixed(1)} s of CPU (${(r.memory.cpuSeconds / r.totalSeconds).toFixed(2)} cores on average); other processes (this bench and the CLI included) ${r.memory.othersCpuShare !== undefined ? `${(r.memory.othersCpuShare * 100).toFixed(0)}%` : '–'} of the machine's CPU meanwhile`,
    );
  if (r.estimateBytes !== undefined) {
    const peak = peakOf(r);
    lines.push(
      `  estimate   ${gib(r.estimateBytes)} GiB (the trainer's estimate for the run)${peak ? `, ${(r.estimateBytes / peak).toFixed(2)} × the peak` : ''}`,
    );
  }
  if (r.stepSeconds.length)
    lines.push(
      `  steps      ${r.stepSeconds.map((s) => s.toFixed(2)).join(', ')} s (the first ${WARMUP_STEPS} are warm-up); ${r.tokensPerSecond?.toFixed(0) ?? '–'} tokens/s over the rest`,
    );
  if (r.firstStepSeconds !== undefined)
    lines.push(
      `  first step ${r.firstStepSeconds.toFixed(1)} s after \`tuneloop train\` started (the trainer's started event at ${r.startedSeconds?.toFixed(1)} s)`,
    );
  if (r.mfu !== undefined)
    lines.push(`  MFU        ${(r.mfu * 100).toFixed(1)}% of dense MatMul (${r.loraParams} LoRA parameters on ${r.frozenParams} frozen)`);
  if (r.validationLoss !== undefined) lines.push(`  validation loss ${r.validationLoss.toFixed(4)}; sample ${JSON.stringify((r.sample ?? '').slice(0, 60))}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

function columns(rows: readonly (readonly string[])[], right: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r.length > 1 ? (r[i] ?? '').length : 0))));
  return rows.map((r) =>
    r.length === 1
      ? r[0]!
      : r
          .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
  );
}

/** The table: one row per shape × option. */
export function formatTable(results: readonly RunResult[]): string {
  const header = [
    'shape',
    'option',
    'tokens/s',
    'peak RSS GiB',
    'VmHWM GiB',
    'estimate GiB',
    'est/peak',
    'first step s',
    'MFU %',
    'min MemAvail GiB',
    "others' CPU %",
  ];
  const rows: string[][] = [header];
  for (const r of results) {
    if (r.status !== 'done') {
      rows.push([r.shape.name, r.option.name, `${r.status}: ${r.message ?? ''}`]);
      continue;
    }
    const peak = peakOf(r);
    rows.push([
      r.shape.name,
      r.option.name,
      r.tokensPerSecond?.toFixed(0) ?? '–',
      gib(r.memory?.peakRss),
      gib(r.memory?.hwm),
      gib(r.estimateBytes),
      r.estimateBytes !== undefined && peak ? (r.estimateBytes / peak).toFixed(2) : '–',
      r.firstStepSeconds?.toFixed(1) ?? '–',
      r.mfu !== undefined ? (r.mfu * 100).toFixed(1) : '–',
      gib(r.memory?.minAvailable),
      r.memory?.othersCpuShare !== undefined ? (r.memory.othersCpuShare * 100).toFixed(0) : '–',
    ]);
  }
  // A refused or failed row keeps its message on one line, past the columns.
  const out = columns(
    rows.map((r) => (r.length === 3 ? [`${r[0]}  ${r[1]}  ${r[2]}`] : r)),
    new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]),
  );
  return out.join('\n');
}

/** A markdown table for the README: memory and tokens/s per shape and option. */
export function markdownTable(results: readonly RunResult[], context: { threads: number; steps: number }): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const lines = [
    `LoRA r = 8 on every linear layer, micro-batches of ${BATCH} × ${SEQ} tokens, ${context.threads} threads on ${cpu} (${os.cpus().length} cores, ${(os.totalmem() / GIB).toFixed(0)} GiB); random bf16 weights at each model's shape; peak RSS of the trainer process over the whole run (validation and sample included); tokens/s over ${context.steps} steps after ${WARMUP_STEPS} warm-up steps (\`npm run bench:scale\`).`,
    '',
    '| Model | Memory option | Peak RSS | Trainer estimate | Tokens/s | MFU | First step |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    if (r.status !== 'done') {
      lines.push(`| ${r.shape.name} | ${r.option.name} | ${r.status}: ${(r.message ?? '').replace(/\|/g, '\\|')} | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.shape.name} | ${r.option.name} | ${gib(peakOf(r))} GiB | ${gib(r.estimateBytes)} GiB | ${r.tokensPerSecond?.toFixed(0) ?? '–'} | ${r.mfu !== undefined ? `${(r.mfu * 100).toFixed(0)}%` : '–'} | ${r.firstStepSeconds?.toFixed(0) ?? '–'} s |`,
    );
  }
  return lines.join('\n');
}

// ---- the whole benchmark --------------------------------------------------------------------

export interface ScaleRequest {
  readonly work: string;
  readonly shapes: readonly Shape[];
  readonly options: readonly MemoryOption[];
  readonly steps: number;
  readonly threads: number;
  /** MatMul shapes for the peak FLOP/s (default: each model's MLP and attention projections at 1024 tokens, and 2048³). */
  readonly matmulShapes?: readonly (readonly [number, number, number])[];
  readonly cli?: string;
  readonly log?: (line: string) => void;
}

export async function runScale(req: ScaleRequest): Promise<{ results: RunResult[]; table: string; markdown: string }> {
  const log = req.log ?? ((line: string) => console.log(line));
  const total = WARMUP_STEPS + req.steps;
  log(
    `tokenizer: ${path.relative(ROOT, DEFAULT_MODEL)} (vocab 512, ChatML): its ids are below 512, so valid in every shape's vocabulary; end token 2, padding 0`,
  );
  const shapes = req.matmulShapes ?? [
    ...req.shapes.flatMap((s) => {
      const c = parseModelConfig(s.config);
      return [
        [1024, c.hiddenSize, c.intermediateSize],
        [1024, c.hiddenSize, c.numHeads * c.headDim],
      ] as const;
    }),
    [2048, 2048, 2048] as const,
  ];
  const peak = await matmulFlops(shapes, req.threads);
  log(
    `dense MatMul ${(peak.flops / 1e9).toFixed(1)} GFLOP/s (the best of ${shapes.length} shape${shapes.length === 1 ? '' : 's'}: [${peak.shape.join(' × ')}], weight pre-packed, ${req.threads} threads)`,
  );

  writeDataset(path.join(req.work, 'data', 'scale.jsonl'), datasetRows(total));
  const results: RunResult[] = [];
  for (const shape of req.shapes) {
    const t = performance.now();
    const dir = path.join(req.work, 'models', shape.key);
    const w = writeRandomCheckpoint(dir, shape.config);
    const cfg = loadModelConfig(dir);
    log(
      `${shape.name}: ${(parameterCount(cfg) / 1e6).toFixed(1)}M parameters, ${(w.bytes / GIB).toFixed(2)} GiB of bf16 ${w.written ? `written in ${((performance.now() - t) / 1000).toFixed(1)} s` : 'already there'} (${dir})`,
    );
    for (const option of req.options) {
      const r = await runOne({
        work: req.work,
        shape,
        option,
        steps: req.steps,
        threads: req.threads,
        peakFlops: peak.flops,
        ...(req.cli ? { cli: req.cli } : {}),
      });
      for (const line of describeRun(r)) log(line);
      results.push(r);
    }
  }
  const table = formatTable(results);
  const markdown = markdownTable(results, { threads: req.threads, steps: req.steps });
  log('');
  log(table);
  log('');
  log(markdown);
  return { results, table, markdown };
}

export function pickByKey<T extends { key: string }>(all: readonly T[], value: string | undefined, what: string): T[] {
  if (value === undefined) return [...all];
  return value.split(',').map((k) => {
    const found = all.find((x) => x.key === k.trim());
    if (!found) throw new Error(`unknown ${what} ${JSON.stringify(k)}: choose from ${all.map((x) => x.key).join(', ')}`);
    return found;
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const number = (name: string, dflt: number) => {
    const v = value(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return n;
  };
  const shapes = pickByKey(SHAPES, value('--shapes'), 'shape');
  const options = pickByKey(OPTIONS, value('--options'), 'option');
  const steps = number('--steps', 6);
  const threads = number('--threads', 2);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run node scripts/build.mjs first');
  const keep = value('--work');
  const work = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-scale-'));
  fs.mkdirSync(work, { recursive: true });
  try {
    await runScale({ work, shapes, options, steps, threads });
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
