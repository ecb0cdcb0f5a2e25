import { TuneloopError } from '../errors';
import { type Batch, type Example, makeBatch, type SoftTargets, shuffle } from './data';
import type { RunEventPayload } from './events';
import { type AdamWState, adamwStep, clipGradNorm, globalNorm } from './optim';
import { learningRate, type ScheduleName } from './schedule';

/**
 * The training loop, independent of how gradients are computed (the ONNX training-step graph in
 * practice, any function in tests). One optimizer step = `gradAccum` micro-batches of `batchSize`
 * examples; the loss back-propagated is each micro-batch's summed cross-entropy divided by the
 * targets counted over the whole step, so the step's loss is the mean over its targets; then
 * global-norm clipping, AdamW, and the schedule (exactly as train2 in test/fixtures/golden/README.md).
 */
export interface StepModel {
  /** Σ over counted targets of −log p(target), and its gradient w.r.t. each trainable tensor. */
  lossAndGrads(
    batch: Batch,
    params: ReadonlyMap<string, Float32Array>,
    where: { step: number; micro: number },
  ): Promise<{ lossSum: number; grads: Map<string, Float32Array> }>;
  /** Σ over counted targets, no gradients (validation). */
  lossSum(batch: Batch, params: ReadonlyMap<string, Float32Array>): Promise<number>;
}

export interface TrainConfig {
  readonly lr: number;
  readonly schedule: ScheduleName;
  readonly warmupSteps: number;
  readonly batchSize: number;
  readonly gradAccum: number;
  /** Either a number of epochs or of steps (steps win when both are given). */
  readonly epochs?: number;
  readonly maxSteps?: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  /** 0: no clipping. */
  readonly clipGradNorm: number;
  readonly seed: number;
  readonly padId: number;
  /** Pad every micro-batch to this length (static graph shapes), or to its longest example. */
  readonly padTo?: number;
  /** Token-level distillation: batches carry the teacher's top-k targets (data.ts makeBatch). */
  readonly soft?: SoftTargets;
  readonly evalEvery?: number;
  readonly checkpointEvery?: number;
  /** Also a checkpoint when this many seconds passed since the last one (default: none by time). */
  readonly checkpointSeconds?: number;
}

/** Recipes checkpoint every 50 steps or 10 minutes, whichever comes first, unless they say otherwise. */
export const DEFAULT_CHECKPOINT_EVERY = 50;
export const DEFAULT_CHECKPOINT_SECONDS = 600;

/**
 * A non-finite loss or gradient norm: the run stops before the optimizer applies it (the weights of
 * the step before stay as they were), and the trainer records it as a failure.
 */
export class DivergedError extends TuneloopError {
  constructor(
    readonly step: number,
    /** What went non-finite: the training loss, the validation loss, or the gradient norm. */
    readonly quantity: 'loss' | 'validation loss' | 'gradient norm',
    readonly value: number,
  ) {
    super(`diverged at step ${step}: the ${quantity} is ${value}`, {}, 'lower learning_rate (or raise warmup_steps) and train again');
    this.name = 'DivergedError';
  }
}

export interface TrainState {
  /** Optimizer steps done. */
  step: number;
  readonly params: Map<string, Float32Array>;
  readonly optimizer: AdamWState;
}

export function totalSteps(config: TrainConfig, trainExamples: number): number {
  if (config.maxSteps !== undefined) return config.maxSteps;
  const perStep = config.batchSize * config.gradAccum;
  return Math.max(1, Math.ceil(((config.epochs ?? 1) * trainExamples) / perStep));
}

/**
 * The examples of optimizer step `step`: positions [step·E, (step+1)·E) in the sequence of epochs,
 * each epoch a shuffle of the training set by (seed + epoch). The data position is a function of the
 * step, so a resumed run reads exactly what an uninterrupted one would.
 */
export function stepExamples(train: readonly Example[], config: TrainConfig, step: number): Example[][] {
  const E = config.batchSize * config.gradAccum;
  const out: Example[] = [];
  const orders = new Map<number, Example[]>();
  for (let pos = step * E; pos < (step + 1) * E; pos++) {
    const epoch = Math.floor(pos / train.length);
    let order = orders.get(epoch);
    if (!order) {
      order = shuffle(train, config.seed + epoch);
      orders.set(epoch, order);
    }
    out.push(order[pos % train.length]!);
  }
  return Array.from({ length: config.gradAccum }, (_, k) => out.slice(k * config.batchSize, (k + 1) * config.batchSize));
}

/** One optimizer step over micro-batches; returns the step's mean loss and the gradient norm before clipping. */
export async function optimizerStep(
  model: StepModel,
  micro: readonly Batch[],
  state: TrainState,
  lr: number,
  config: Pick<TrainConfig, 'weightDecay' | 'betas' | 'eps' | 'clipGradNorm'>,
): Promise<{ loss: number; gradNorm: number }> {
  const counted = micro.reduce((a, b) => a + b.counted, 0);
  if (counted === 0) throw new TuneloopError(`step ${state.step} has no counted targets`);
  const grads = new Map<string, Float32Array>();
  let lossSum = 0;
  for (let k = 0; k < micro.length; k++) {
    const r = await model.lossAndGrads(micro[k]!, state.params, { step: state.step, micro: k });
    lossSum += r.lossSum;
    for (const [name, g] of r.grads) {
      const acc = grads.get(name);
      if (!acc)
        grads.set(
          name,
          Float32Array.from(g, (x) => x / counted),
        );
      else for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]! / counted;
    }
  }
  const gradNorm = config.clipGradNorm > 0 ? clipGradNorm(grads, config.clipGradNorm) : globalNorm(grads.values());
  const loss = lossSum / counted;
  if (!Number.isFinite(loss)) throw new DivergedError(state.step + 1, 'loss', loss);
  if (!Number.isFinite(gradNorm)) throw new DivergedError(state.step + 1, 'gradient norm', gradNorm);
  adamwStep(state.params, grads, state.optimizer, lr, { betas: config.betas, eps: config.eps, weightDecay: config.weightDecay });
  return { loss, gradNorm };
}

export async function evaluate(model: StepModel, examples: readonly Example[], state: TrainState, config: TrainConfig): Promise<number> {
  let sum = 0;
  let counted = 0;
  for (let i = 0; i < examples.length; i += config.batchSize) {
    const b = makeBatch(examples.slice(i, i + config.batchSize), config.padId, config.padTo, config.soft);
    sum += await model.lossSum(b, state.params);
    counted += b.counted;
  }
  return counted ? sum / counted : Number.NaN;
}

export interface TrainHooks {
  readonly emit: (e: RunEventPayload) => void;
  /** Write a checkpoint of `state`; returns its path. */
  readonly checkpoint: (state: TrainState) => string;
  readonly signal?: AbortSignal;
  /** Generate a sample at evaluation time (optional). */
  readonly sample?: (
    state: TrainState,
  ) => Promise<{ prompt: string; output: string; messages?: { role: string; content: string }[]; line?: number } | undefined>;
}

export async function train(
  model: StepModel,
  config: TrainConfig,
  data: { train: readonly Example[]; validation: readonly Example[] },
  state: TrainState,
  hooks: TrainHooks,
): Promise<'done' | 'cancelled'> {
  const total = totalSteps(config, data.train.length);
  const started = Date.now();
  const firstStep = state.step;
  let lastCheckpoint = Date.now();
  while (state.step < total) {
    if (hooks.signal?.aborted) {
      const path = hooks.checkpoint(state);
      hooks.emit({ type: 'cancelled', step: state.step, checkpoint: path });
      return 'cancelled';
    }
    const t0 = Date.now();
    const micro = stepExamples(data.train, config, state.step).map((ex) => makeBatch(ex, config.padId, config.padTo, config.soft));
    const lr = learningRate(config.lr, { name: config.schedule, warmupSteps: config.warmupSteps, totalSteps: total }, state.step);
    const { loss, gradNorm } = await optimizerStep(model, micro, state, lr, config);
    state.step += 1;
    const tokens = micro.reduce((a, b) => a + b.attentionMask.reduce((s, m) => s + Number(m), 0), 0);
    const seconds = (Date.now() - t0) / 1000;
    const perStep = (Date.now() - started) / 1000 / (state.step - firstStep);
    hooks.emit({
      type: 'step',
      step: state.step,
      loss,
      lr,
      gradNorm,
      tokensPerSecond: seconds > 0 ? tokens / seconds : 0,
      etaSeconds: perStep * (total - state.step),
    });
    const last = state.step === total;
    if (data.validation.length && config.evalEvery && (state.step % config.evalEvery === 0 || last)) {
      const validation = await evaluate(model, data.validation, state, config);
      if (!Number.isFinite(validation)) throw new DivergedError(state.step, 'validation loss', validation);
      hooks.emit({ type: 'eval', step: state.step, loss: validation });
      const s = await hooks.sample?.(state);
      if (s) hooks.emit({ type: 'sample', step: state.step, ...s });
    }
    const bySteps = config.checkpointEvery !== undefined && state.step % config.checkpointEvery === 0;
    const byTime = config.checkpointSeconds !== undefined && Date.now() - lastCheckpoint >= config.checkpointSeconds * 1000;
    if ((bySteps || byTime) && !last) {
      hooks.emit({ type: 'checkpoint', step: state.step, path: hooks.checkpoint(state) });
      lastCheckpoint = Date.now();
    }
  }
  return 'done';
}
