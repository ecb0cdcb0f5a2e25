import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { availableMemory } from '../infer/memory';
import { loadTokenizer } from '../infer/tokenizer';
import { targetedModulesWithScale } from '../lora/adapter';
import { parseLoraConfig } from '../lora/config';
import { formatBytes } from '../format';
import { loadModelConfig, type ModelConfig, parameterCount } from '../models/config';
import { TensorStore } from '../safetensors/checkpoint';
import { loadCheckpoint, type ParamsFormat, saveCheckpoint } from './checkpoint';
import { EventWriter, type RunEventPayload } from './events';
import { totalSteps, train, type TrainConfig, type TrainState } from './loop';
import { fullParamsFormat, initFull } from './full-params';
import { initLora, type LoraModuleSpec, loraParamsFormat } from './lora-params';
import { OnnxStepModel } from './onnx-step';
import { TrainingSampler } from './sampler';
import { newAdamWState } from './optim';
import { acquireLock, cancelRequested, checkpointDir, EVENTS, releaseLock } from './run';
import { prepareData, readSpec, type RunSpec, withHashes, writeSpec } from './spec';

/**
 * A training run, start to end, in the process that owns it (the detached trainer, or a test). Every
 * outcome ends in events.jsonl: done, cancelled (after a checkpoint) or failed (with the error).
 */
export interface RunOptions {
  /** Continue from this checkpoint folder (checkpoints/step-N). */
  readonly resume?: string;
  readonly signal?: AbortSignal;
  /** Bytes available for the memory check (default: what the system reports). */
  readonly availableMemory?: number;
}

export function loraSpecOf(cfg: ModelConfig, spec: RunSpec): { modules: LoraModuleSpec[]; config: ReturnType<typeof parseLoraConfig> } {
  const config = parseLoraConfig({ r: spec.lora.r, lora_alpha: spec.lora.loraAlpha, lora_dropout: spec.lora.loraDropout, target_modules: spec.lora.targetModules, use_rslora: spec.lora.useRslora, base_model_name_or_path: spec.baseModel });
  const modules = targetedModulesWithScale(cfg, config);
  if (modules.length === 0) throw new TuneloopError(`target_modules ${JSON.stringify(spec.lora.targetModules)} matches no linear layer of this ${cfg.modelType} model`, { file: spec.recipeFile, key: 'lora.target_modules' }, 'use module names such as q_proj and v_proj, or all-linear');
  return { modules, config };
}

/**
 * What a training step holds in memory: the frozen weights four times over (the model bytes handed
 * to onnxruntime, its initializers, and the pre-packed copies the forward and backward matmuls
 * make), for full fine-tuning the weights again as inputs plus gradients and AdamW's two moments,
 * and activations kept for the backward pass (a generous per-token, per-layer allowance).
 * bench/train prints this next to the peak RSS it measures: for LoRA on the 135M shape at 4 × 256,
 * an estimate of 4.87 GiB for 4.24 GiB measured above the process's start (it errs on the safe side).
 */
export function estimateTrainingBytes(cfg: ModelConfig, batch: { readonly batchSize: number; readonly maxSeqLen: number }, trainableParams: number): number {
  const weights = parameterCount(cfg) * 4;
  const tokens = batch.batchSize * batch.maxSeqLen;
  const perLayer = (12 * cfg.hiddenSize + 4 * cfg.intermediateSize + 2 * cfg.numHeads * batch.maxSeqLen) * 4;
  const activations = tokens * (perLayer * cfg.numLayers + 3 * cfg.vocabSize * 4);
  return Math.ceil(4 * weights + 4 * trainableParams * 4 + activations + 256 * 2 ** 20);
}

export async function runTraining(runDir: string, options: RunOptions = {}): Promise<'done' | 'cancelled' | 'failed'> {
  acquireLock(runDir);
  const events = new EventWriter(path.join(runDir, EVENTS));
  const emit = (e: RunEventPayload) => events.append(e);
  let store: TensorStore | undefined;
  let model: OnnxStepModel | undefined;
  let sampler: TrainingSampler | undefined;
  try {
    let spec = readSpec(runDir);
    if (!spec.baseSha256 || !spec.datasetSha256) {
      spec = withHashes(spec);
      writeSpec(runDir, spec);
    }
    const cfg = loadModelConfig(spec.baseDir);
    store = TensorStore.openDir(spec.baseDir);
    const tok = await loadTokenizer(spec.baseDir);
    const eos = cfg.eosTokenIds[0] ?? (tok.eos_token_id as number | undefined);
    if (eos === undefined) throw new TuneloopError('the model names no end-of-sequence token', { file: path.join(spec.baseDir, 'config.json'), key: 'eos_token_id' });
    const data = prepareData(spec, tok, eos);
    if (data.truncated > 0) emit({ type: 'log', level: 'warn', message: `${data.truncated} row(s) were longer than max_seq_len ${spec.training.maxSeqLen}: ${data.tokensCut} token(s) cut` });
    const lora = spec.method === 'lora' ? loraSpecOf(cfg, spec) : undefined;
    const trainable = lora ? lora.modules.reduce((a, m) => a + m.r * (m.module.inFeatures + m.module.outFeatures), 0) : parameterCount(cfg);
    const need = estimateTrainingBytes(cfg, spec.training, trainable);
    const have = options.availableMemory ?? availableMemory();
    if (need > have) {
      throw new TuneloopError(`training needs about ${formatBytes(need)} but ${formatBytes(have)} is available`, { file: spec.recipeFile }, 'lower batch_size or max_seq_len, or close other programs');
    }
    const t = spec.training;
    const base: TrainConfig = {
      lr: t.learningRate,
      schedule: t.schedule,
      warmupSteps: t.warmupSteps,
      batchSize: t.batchSize,
      gradAccum: t.gradientAccumulation,
      ...(t.epochs !== undefined ? { epochs: t.epochs } : {}),
      ...(t.maxSteps !== undefined ? { maxSteps: t.maxSteps } : {}),
      weightDecay: t.weightDecay,
      betas: [0.9, 0.999],
      eps: 1e-8,
      clipGradNorm: t.maxGradNorm,
      seed: t.seed,
      padId: cfg.padTokenId ?? eos,
      // One static shape per run: every micro-batch is padded to the longest example.
      padTo: Math.max(...data.train.map((e) => e.ids.length), ...data.validation.map((e) => e.ids.length)),
      ...(t.checkpointEvery !== undefined ? { checkpointEvery: t.checkpointEvery } : {}),
    };
    // Ten validation measurements a run unless the recipe says otherwise.
    const config: TrainConfig = { ...base, evalEvery: t.evalEvery ?? Math.max(1, Math.round(totalSteps(base, data.train.length) / 10)) };
    const openStore = store;
    const format: ParamsFormat = lora
      ? loraParamsFormat(cfg, lora.modules, { ...lora.config, baseModelNameOrPath: spec.baseModel })
      : fullParamsFormat(spec.baseDir, new Map(openStore.names().map((n) => [n, openStore.info(n).shape])));
    let state: TrainState;
    if (options.resume) {
      state = loadCheckpoint(options.resume, format).state;
    } else {
      state = { step: 0, params: lora ? initLora(lora.modules, t.seed) : initFull(openStore), optimizer: newAdamWState() };
    }
    model = new OnnxStepModel(cfg, store, {
      spec: lora ? { mode: 'lora', lora: lora.modules, loraDropout: spec.lora.loraDropout } : { mode: 'full' },
      seed: t.seed,
      ...(spec.threads ? { threads: spec.threads } : {}),
    });
    const total = totalSteps(config, data.train.length);
    emit({ type: 'started', pid: process.pid, totalSteps: total, ...(options.resume ? { resumedFrom: state.step } : {}), trainExamples: data.train.length, validationExamples: data.validation.length });
    const examplesPerStep = config.batchSize * config.gradAccum;
    const checkpoint = (s: TrainState) => saveCheckpoint(checkpointDir(runDir, s.step), s, format, { seed: t.seed, examplesPerStep });
    // Samples at each evaluation: the first validation row's prompt, greedy, with the weights of the moment.
    const probe = data.validation[0];
    sampler = probe ? new TrainingSampler(cfg, store, tok, lora?.modules, { eosTokenIds: cfg.eosTokenIds, ...(spec.threads ? { threads: spec.threads } : {}) }) : undefined;
    const sample = sampler && probe ? (s: TrainState) => sampler!.sample(TrainingSampler.promptOf(probe), s.params) : undefined;
    const outcome = await train(model, config, data, state, { emit, checkpoint, ...(options.signal ? { signal: options.signal } : {}), ...(sample ? { sample } : {}) });
    if (outcome === 'cancelled') return 'cancelled';
    // The result: adapter/ (a PEFT adapter) or model/ (a full checkpoint), written whole then renamed.
    const kind = lora ? 'adapter' : 'model';
    const final = path.join(runDir, kind);
    const tmp = path.join(runDir, '.final');
    fs.rmSync(tmp, { recursive: true, force: true });
    format.write(tmp, state.params);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, kind), final);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (spec.output) {
      fs.rmSync(spec.output, { recursive: true, force: true });
      fs.mkdirSync(path.dirname(spec.output), { recursive: true });
      fs.cpSync(final, spec.output, { recursive: true });
    }
    emit({ type: 'done', step: state.step, adapter: final });
    return 'done';
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    emit({ type: 'failed', message, ...(e instanceof TuneloopError ? {} : { stderr: (e as Error).stack ?? '' }) });
    return 'failed';
  } finally {
    await model?.dispose();
    await sampler?.dispose();
    store?.close();
    events.close();
    releaseLock(runDir);
  }
}

/** Cancellation for the trainer process: SIGTERM or SIGINT, or the run's cancel file (polled). */
export function cancellationFor(runDir: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const timer = setInterval(() => {
    if (cancelRequested(runDir)) stop();
  }, 250);
  timer.unref();
  return {
    signal: controller.signal,
    dispose() {
      clearInterval(timer);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    },
  };
}
