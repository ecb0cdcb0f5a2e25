import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, TuneloopError } from '../errors';
import { checkOutput, replaceOutput } from '../fs/output';
import { realPathLoose } from '../fs/root';
import { describeFsError } from '../fs/text';
import { availableMemory } from '../infer/memory';
import { loadTokenizer } from '../infer/tokenizer';
import { loadModelConfig } from '../models/config';
import { FrozenWeights } from '../models/graph/frozen';
import { TensorStore } from '../safetensors/checkpoint';
import { loadCheckpoint, type ParamsFormat, saveCheckpoint } from './checkpoint';
import { EventWriter, type RunEventPayload } from './events';
import { DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_SECONDS, DivergedError, totalSteps, train, type TrainConfig, type TrainState } from './loop';
import { fullParamsFormat, initFull } from './full-params';
import { initLora, loraParamsFormat } from './lora-params';
import { loraSpecOf, unmatchedTargetsWarning } from './lora-spec';
import { OnnxStepModel } from './onnx-step';
import { TrainingSampler } from './sampler';
import { newAdamWState } from './optim';
import { assertTrainingFits, planTrainingMemory } from './memory';
import { acquireLock, cancelRequested, checkpointDir, checkpointSteps, EVENTS, releaseLock } from './run';
import { prepareData, readSpec, type RunSpec, withHashes, writeSpec } from './spec';

/** How many validation rows' prompts the training samples rotate through. */
const SAMPLE_PROMPTS = 4;

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

/** What the output folder must never hold: the workspace root, the recipe, its data (see recipes/recipe.ts). */
function protectedPaths(spec: RunSpec): string[] {
  return [...(spec.root ? [spec.root] : []), spec.recipeFile, spec.dataset, ...(spec.promptFile ? [spec.promptFile] : [])].map(realPathLoose);
}

/** Checkpoints kept per run: the newest two, so a damaged latest one has one to fall back to. */
export const KEEP_CHECKPOINTS = 2;

/** Remove all but the newest `keep` checkpoints of a run. */
export function pruneCheckpoints(runDir: string, keep = KEEP_CHECKPOINTS): void {
  for (const step of checkpointSteps(runDir).slice(keep)) fs.rmSync(checkpointDir(runDir, step), { recursive: true, force: true });
}

/**
 * The state to resume from: `first`, or when it does not load (truncated, corrupt, half-written by
 * a crash), the newest older checkpoint of the run that does, with a warning for each one passed over.
 */
function loadResumable(runDir: string, first: string, format: ParamsFormat, warn: (m: string) => void): TrainState {
  const firstStep = Number(/step-(\d+)$/.exec(first)?.[1] ?? Number.POSITIVE_INFINITY);
  const candidates = [
    first,
    ...checkpointSteps(runDir)
      .filter((s) => s < firstStep)
      .map((s) => checkpointDir(runDir, s)),
  ];
  const problems: string[] = [];
  for (const dir of candidates) {
    try {
      const state = loadCheckpoint(dir, format).state;
      if (problems.length) warn(`resuming from ${path.basename(dir)}: ${problems.join('; ')}`);
      return state;
    } catch (e) {
      problems.push(`${path.basename(dir)} does not load (${describeError(e)})`);
    }
  }
  throw new TuneloopError(`no checkpoint of the run loads: ${problems.join('; ')}`, { file: runDir }, 'start the run again');
}

export async function runTraining(runDir: string, options: RunOptions = {}): Promise<'done' | 'cancelled' | 'failed'> {
  acquireLock(runDir);
  let events: EventWriter;
  try {
    events = new EventWriter(path.join(runDir, EVENTS));
  } catch (e) {
    releaseLock(runDir);
    throw new TuneloopError(
      `cannot write the run's events: ${describeFsError(e)}`,
      { file: path.join(runDir, EVENTS) },
      'check that the runs folder can be written',
    );
  }
  const emit = (e: RunEventPayload) => events.append(e);
  let store: TensorStore | undefined;
  let model: OnnxStepModel | undefined;
  let sampler: TrainingSampler | undefined;
  let spec: RunSpec | undefined;
  try {
    spec = readSpec(runDir);
    if (!spec.baseSha256 || !spec.datasetSha256) {
      spec = withHashes(spec);
      writeSpec(runDir, spec);
    }
    const cfg = loadModelConfig(spec.baseDir);
    store = TensorStore.openDir(spec.baseDir);
    const tok = await loadTokenizer(spec.baseDir);
    const eos = cfg.eosTokenIds[0] ?? (tok.eos_token_id as number | undefined);
    if (eos === undefined)
      throw new TuneloopError('the model names no end-of-sequence token', { file: path.join(spec.baseDir, 'config.json'), key: 'eos_token_id' });
    const data = prepareData(spec, tok, eos);
    if (data.truncated > 0)
      emit({
        type: 'log',
        level: 'warn',
        message: `${data.truncated} row(s) were longer than max_seq_len ${spec.training.maxSeqLen}: ${data.tokensCut} token(s) cut`,
      });
    if (spec.softTargets) {
      // Token-level distillation: how much of the data carries the teacher's distributions.
      const all = [...data.train, ...data.validation];
      const rows = all.filter((e) => e.soft).length;
      const tokens = all.reduce((a, e) => a + (e.soft?.top.length ?? 0), 0);
      const answer = all.reduce((a, e) => a + e.mask.filter((m, t) => m === 1 && t > 0).length, 0);
      emit({
        type: 'log',
        level: rows === 0 ? 'warn' : 'info',
        message:
          rows === 0
            ? 'token-level distillation: no row carries the teacher\'s top-k ("teacher" in the dataset): training uses the hard targets only; run tuneloop distill with teacher.kind: token'
            : `token-level distillation: ${rows} of ${all.length} rows carry the teacher's top-${spec.softTargets.k}, on ${tokens} of ${answer} answer tokens (τ ${spec.softTargets.temperature}, α ${spec.softTargets.alpha})`,
      });
    }
    const lora = spec.method === 'lora' ? loraSpecOf(cfg, spec) : undefined;
    const unmatched = lora ? unmatchedTargetsWarning(cfg, lora.unmatched) : undefined;
    if (unmatched) emit({ type: 'log', level: 'warn', message: unmatched });
    const plan = planTrainingMemory(cfg, spec, options.availableMemory ?? availableMemory());
    assertTrainingFits(plan, spec.recipeFile);
    if (spec.output)
      checkOutput(spec.output, { ...(spec.force ? { force: true } : {}), protect: protectedPaths(spec), place: { file: spec.recipeFile, key: 'output' } });
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
      ...(spec.softTargets ? { soft: spec.softTargets } : {}),
      // Unless the recipe says otherwise: every 50 steps or 10 minutes, whichever comes first.
      ...(t.checkpointEvery !== undefined
        ? { checkpointEvery: t.checkpointEvery }
        : { checkpointEvery: DEFAULT_CHECKPOINT_EVERY, checkpointSeconds: DEFAULT_CHECKPOINT_SECONDS }),
    };
    // Ten validation measurements a run unless the recipe says otherwise.
    const config: TrainConfig = { ...base, evalEvery: t.evalEvery ?? Math.max(1, Math.round(totalSteps(base, data.train.length) / 10)) };
    const openStore = store;
    const format: ParamsFormat = lora
      ? loraParamsFormat(cfg, lora.modules, { ...lora.config, baseModelNameOrPath: spec.baseModel })
      : fullParamsFormat(spec.baseDir, new Map(openStore.names().map((n) => [n, openStore.info(n).shape])));
    let state: TrainState;
    if (options.resume) {
      state = loadResumable(runDir, options.resume, format, (message) => emit({ type: 'log', level: 'warn', message }));
    } else {
      state = { step: 0, params: lora ? initLora(lora.modules, t.seed) : initFull(openStore), optimizer: newAdamWState() };
    }
    // One copy of the frozen weights for the training, validation and sampling sessions (LoRA).
    const frozen = lora ? new FrozenWeights(t.baseDtype) : undefined;
    model = new OnnxStepModel(cfg, store, {
      spec: {
        ...(lora
          ? { mode: 'lora' as const, lora: lora.modules, loraDropout: spec.lora.loraDropout, gradientCheckpointing: t.gradientCheckpointing }
          : { mode: 'full' as const, gradientCheckpointing: t.gradientCheckpointing }),
        ...(spec.softTargets ? { softTargets: { k: spec.softTargets.k, temperature: spec.softTargets.temperature } } : {}),
      },
      ...(frozen ? { frozen } : {}),
      seed: t.seed,
      ...(spec.threads ? { threads: spec.threads } : {}),
    });
    const total = totalSteps(config, data.train.length);
    emit({
      type: 'started',
      pid: process.pid,
      totalSteps: total,
      ...(options.resume ? { resumedFrom: state.step } : {}),
      trainExamples: data.train.length,
      validationExamples: data.validation.length,
      memory: { estimateBytes: plan.memory.total, availableBytes: plan.available },
    });
    const examplesPerStep = config.batchSize * config.gradAccum;
    const checkpoint = (s: TrainState) => {
      const dir = saveCheckpoint(checkpointDir(runDir, s.step), s, format, { seed: t.seed, examplesPerStep });
      pruneCheckpoints(runDir);
      return dir;
    };
    // Samples at each evaluation, greedy, with the weights of the moment: the first few validation rows'
    // prompts in turn, so that the panel shows more than one question.
    const probes = data.validation.slice(0, SAMPLE_PROMPTS);
    sampler =
      probes.length > 0
        ? new TrainingSampler(cfg, store, tok, lora?.modules, {
            eosTokenIds: cfg.eosTokenIds,
            ...(spec.threads ? { threads: spec.threads } : {}),
            ...(frozen ? { frozen } : {}),
          })
        : undefined;
    const sample = sampler
      ? async (s: TrainState) => {
          // The k-th evaluation's row, from the step (so that a resumed run samples as the uninterrupted one).
          const k = config.evalEvery ? Math.ceil(s.step / config.evalEvery) - 1 : 0;
          const probe = probes[k % probes.length]!;
          const r = await sampler!.sample(TrainingSampler.promptOf(probe), s.params);
          return { ...r, line: probe.line, ...(probe.shown ? { messages: [...probe.shown] } : {}) };
        }
      : undefined;
    const outcome = await train(model, config, data, state, {
      emit,
      checkpoint,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(sample ? { sample } : {}),
    });
    if (outcome === 'cancelled') return 'cancelled';
    const q = frozen?.quantizationError();
    if (q)
      emit({
        type: 'log',
        level: 'info',
        message:
          q.worst.relative === 0
            ? `base_dtype ${t.baseDtype}: the checkpoint's weights are held exactly (they are ${t.baseDtype} values already), so the adapter runs on the float base as it trained`
            : `base_dtype ${t.baseDtype}: the adapter was trained on linear weights with a relative error of ${percent(q.relative)} (RMS over every layer; at most ${percent(q.worst.relative)}, in ${q.worst.name}); it is saved for the float base, where its outputs differ from the trained model's by what that error makes`,
      });
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
      replaceOutput(spec.output, (dir) => fs.cpSync(final, dir, { recursive: true }), {
        ...(spec.force ? { force: true } : {}),
        protect: protectedPaths(spec),
        place: { file: spec.recipeFile, key: 'output' },
        note: `Written by Tuneloop from the run ${path.basename(runDir)} of ${path.basename(spec.recipeFile)}.`,
      });
    }
    emit({ type: 'done', step: state.step, result: final, kind, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
    return 'done';
  } catch (e) {
    if (e instanceof DivergedError) {
      const lr = spec ? ` (it is ${spec.training.learningRate})` : '';
      emit({
        type: 'failed',
        reason: 'diverged',
        step: e.step,
        message: `diverged at step ${e.step}: the ${e.quantity} is ${e.value}; lower learning_rate${lr} or raise warmup_steps, and train again`,
      });
    } else {
      const message = e instanceof Error ? e.message : String(e);
      emit({ type: 'failed', message, ...(e instanceof TuneloopError ? {} : { stderr: (e as Error).stack ?? '' }) });
    }
    return 'failed';
  } finally {
    await model?.dispose();
    await sampler?.dispose();
    store?.close();
    events.close();
    releaseLock(runDir);
  }
}

function percent(x: number): string {
  return `${(x * 100).toPrecision(2)}%`;
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
