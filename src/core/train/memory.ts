import { TuneloopError } from '../errors';
import { formatBytes } from '../format';
import { linearModules } from '../lora/modules';
import { type ModelConfig, parameterCount } from '../models/config';
import type { BaseDtype } from '../recipes/vocabulary';
import { lossChunkTokens } from './graph';
import { loraParameterCount, loraSpecOf } from './lora-spec';
import type { RunSpec } from './spec';

/**
 * What a training run holds in memory at its peak, the trainer process's RSS over the whole run
 * (validation and samples included), from the shape, the batch and the memory options. The trainer
 * refuses a run that does not fit before it loads anything; `tuneloop train` and the extension show
 * the figure before the run starts; bench/scale.ts prints it beside the measured peak.
 *
 * The parts (B·S = N tokens, L layers, hidden H, MLP width I, nH heads, vocabulary V):
 * - runtime: Node, onnxruntime, the tokenizer and the graphs, measured at about 0.35 GiB;
 * - weights: the frozen weights, held once (LoRA: the linear layers' matrices in the base dtype,
 *   everything else float32); full fine-tuning holds every weight as a trained tensor, its gradient,
 *   the accumulated gradient and AdamW's two moments (and onnxruntime's initializers of the graph);
 * - activations: per token and layer, (12H + 4I + 2·nH·S) floats kept for the backward pass; with
 *   gradient checkpointing only each layer's input is kept, plus one layer's activations forward and
 *   backward at a time, plus that layer's dequantized matrices for a bf16 or int8 base;
 * - loss: the logits a chunk of the head holds (logits, log-probabilities and their gradient), or the
 *   whole [N, V] when the head is not chunked (full fine-tuning);
 * - validation and sampling: their sessions keep their own onnxruntime arenas, each about one layer's
 *   forward activations plus a loss chunk (validation), or the prompt's logits (sampling).
 * The coefficients were fit on bench/scale.ts's runs at three shapes (see the README's table).
 */
export interface TrainingMemoryOptions {
  readonly method: 'lora' | 'full';
  readonly gradientCheckpointing: boolean;
  readonly baseDtype: BaseDtype;
}

export interface TrainingMemory {
  readonly runtime: number;
  readonly weights: number;
  readonly activations: number;
  readonly loss: number;
  /** The validation and sampling sessions' own working memory. */
  readonly sessions: number;
  readonly total: number;
}

const GIB = 2 ** 30;
const RUNTIME = 0.35 * GIB;
const DTYPE_BYTES: Record<BaseDtype, number> = { fp32: 4, bf16: 2, int8: 1 };
/** Bytes a dequantized element takes while its layer runs: the float32 copy, and for bf16 the int32 table indices and the copy of the bits. */
const DEQUANT_BYTES: Record<BaseDtype, number> = { fp32: 0, bf16: 10, int8: 4 };

export function estimateTrainingMemory(
  cfg: ModelConfig,
  batch: { readonly batchSize: number; readonly maxSeqLen: number },
  trainableParams: number,
  options: TrainingMemoryOptions,
): TrainingMemory {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numLayers: L, vocabSize: V } = cfg;
  const S = batch.maxSeqLen;
  const N = batch.batchSize * S;
  const params = parameterCount(cfg);
  const linear = linearModules(cfg).filter((m) => m.name !== 'lm_head');
  const linearParams = linear.reduce((a, m) => a + m.inFeatures * m.outFeatures, 0);
  const lora = options.method === 'lora';

  // The trained tensors (value, gradient, accumulated gradient, two moments), float32.
  const trained = 5 * 4 * trainableParams;
  const weights = lora
    ? linearParams * DTYPE_BYTES[options.baseDtype] +
      (params - linearParams) * 4 +
      (options.baseDtype === 'int8' ? linear.reduce((a, m) => a + 4 * m.outFeatures, 0) : 0) +
      trained
    : // full: the trained tensors, and the graph's constants (norms) and the checkpoint read to start from
      trained + params * 4;

  const perLayerToken = (12 * H + 4 * I + 2 * nH * S) * 4; // bytes kept per token and layer
  const layer = N * perLayerToken;
  // The largest matrix a layer dequantizes at once (q/k/v and gate/up are fused).
  const perLayer = layerMatrices(cfg);
  const dequant = DEQUANT_BYTES[lora ? options.baseDtype : 'fp32'] * Math.max(0, ...perLayer);
  // Checkpointing keeps each layer's input, one layer forward and backward, and dequantizes twice.
  const activations = options.gradientCheckpointing ? N * L * H * 4 + 2 * layer + 2 * dequant : L * layer + dequant;

  const chunked = lora && lossChunkTokens(V) < N;
  const chunk = (chunked ? lossChunkTokens(V) : N) * V * 4;
  const loss = 3 * chunk; // logits, log-probabilities, their gradient

  // Validation runs forward only, freeing as it goes; sampling holds the prompt's logits.
  const validation = chunk + layer / 2 + dequant;
  const sampling = S * V * 4 + dequant;
  const sessions = validation + sampling;

  const total = RUNTIME + weights + activations + loss + sessions;
  return { runtime: RUNTIME, weights, activations, loss, sessions, total: Math.ceil(total) };
}

/** Elements of the matrices each decoder layer multiplies by, fused as the graph fuses them (q/k/v, gate/up). */
function layerMatrices(cfg: ModelConfig): number[] {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: kvH, headDim: d } = cfg;
  return cfg.family === 'gpt2' ? [H * 3 * H, H * H, H * I, I * H] : [H * (nH + 2 * kvH) * d, nH * d * H, H * 2 * I, I * H];
}

/** The estimate as one line: the total and its parts. */
export function describeTrainingMemory(m: TrainingMemory): string {
  return `about ${formatBytes(m.total)} (frozen weights ${formatBytes(m.weights)}, activations ${formatBytes(m.activations)}, loss ${formatBytes(m.loss)}, validation and samples ${formatBytes(m.sessions)})`;
}

/**
 * The first change, in order of what it costs the run, that brings the estimate under `available`:
 * gradient checkpointing (about a quarter more compute), then a bf16 and an int8 base (LoRA), then a
 * smaller batch. Undefined when the run fits, or when nothing listed makes it fit.
 */
export function suggestMemoryFix(
  cfg: ModelConfig,
  batch: { readonly batchSize: number; readonly maxSeqLen: number },
  trainableParams: number,
  options: TrainingMemoryOptions,
  available: number,
): { readonly change: string; readonly memory: TrainingMemory } | undefined {
  const fits = (o: TrainingMemoryOptions, b = batch) => {
    const m = estimateTrainingMemory(cfg, b, trainableParams, o);
    return m.total <= available ? m : undefined;
  };
  if (fits(options)) return undefined;
  const tries: { change: string; options: TrainingMemoryOptions; batch?: typeof batch }[] = [];
  let o = options;
  if (!o.gradientCheckpointing) tries.push({ change: 'gradient_checkpointing: true', options: (o = { ...o, gradientCheckpointing: true }) });
  if (o.method === 'lora') {
    const prefix = options.gradientCheckpointing ? '' : 'gradient_checkpointing: true and ';
    if (o.baseDtype === 'fp32') tries.push({ change: `${prefix}base_dtype: bf16`, options: (o = { ...o, baseDtype: 'bf16' }) });
    if (o.baseDtype !== 'int8') tries.push({ change: `${prefix}base_dtype: int8`, options: (o = { ...o, baseDtype: 'int8' }) });
  }
  const withOptions = tries.at(-1)?.change;
  for (let b = Math.floor(batch.batchSize / 2); b >= 1; b = Math.floor(b / 2)) {
    tries.push({ change: `${withOptions ? `${withOptions} and ` : ''}batch_size: ${b}`, options: o, batch: { ...batch, batchSize: b } });
    if (b === 1) break;
  }
  for (const t of tries) {
    const m = fits(t.options, t.batch);
    if (m) return { change: t.change, memory: m };
  }
  return undefined;
}

/** A run's estimate against the memory available now, with the change that would make it fit when it does not. */
export interface MemoryPlan {
  readonly memory: TrainingMemory;
  readonly available: number;
  readonly fits: boolean;
  readonly fix?: { readonly change: string; readonly memory: TrainingMemory };
}

export function planTrainingMemory(cfg: ModelConfig, spec: RunSpec, available: number): MemoryPlan {
  const lora = spec.method === 'lora' ? loraSpecOf(cfg, spec) : undefined;
  const trainable = lora ? loraParameterCount(lora.modules) : parameterCount(cfg);
  const options: TrainingMemoryOptions = {
    method: spec.method,
    gradientCheckpointing: spec.training.gradientCheckpointing,
    baseDtype: spec.training.baseDtype,
  };
  const memory = estimateTrainingMemory(cfg, spec.training, trainable, options);
  const fix = suggestMemoryFix(cfg, spec.training, trainable, options, available);
  return { memory, available, fits: memory.total <= available, ...(fix ? { fix } : {}) };
}

/** One line for the CLI and the log: the estimate and what is available. */
export function describeMemoryPlan(p: MemoryPlan): string {
  return `memory: ${describeTrainingMemory(p.memory)}; ${formatBytes(p.available)} available`;
}

/** Refuse a run the machine cannot hold, naming the recipe and the change that would make it fit. */
export function assertTrainingFits(p: MemoryPlan, recipeFile: string): void {
  if (p.fits) return;
  throw new TuneloopError(
    `training needs ${describeTrainingMemory(p.memory)} but ${formatBytes(p.available)} is available`,
    { file: recipeFile },
    p.fix
      ? `set ${p.fix.change} under training: (about ${formatBytes(p.fix.memory.total)}), or close other programs`
      : 'lower batch_size or max_seq_len, or close other programs',
  );
}
