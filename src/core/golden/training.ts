import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Adapter, readAdapter, writeAdapter } from '../lora/adapter';
import { loraConfigJson, readLoraConfig } from '../lora/config';
import { loadModelConfig, type ModelConfig } from '../models/config';
import { readSafetensors } from '../safetensors';
import { TensorStore } from '../safetensors/checkpoint';
import { type Batch, makeBatch } from '../train/data';
import { loraInputName } from '../train/graph';
import { optimizerStep, type TrainState } from '../train/loop';
import { FrozenWeights } from '../models/graph/frozen';
import { OnnxStepModel } from '../train/onnx-step';
import { newAdamWState } from '../train/optim';
import { learningRate, SCHEDULES, type ScheduleName } from '../train/schedule';
import { TuneloopError } from '../errors';
import { type CheckResult, maxAbsDiff } from './compare';
import type { Check, Context } from './run';

/**
 * The training checks of `tuneloop golden`, as test/fixtures/golden/README.md (a copy of the reference folders' README) defines them: gradients of
 * the LoRA loss, the eight-step AdamW trace, the train2 loop (padding, completion-only masks,
 * accumulation, weight decay, schedule, clipping), and the adapter files the trainer writes.
 */
export const GRAD_TOL = { abs: 1e-4, rel: 1e-3 };
export const LOSS_TOL = 1e-3;
export const TRAINED_TOL = 1e-3;
/**
 * train2's `lrs`: float64 arithmetic on both sides (transformers' lambda times the base rate), the
 * same operations in the same order, so only a last-bit difference in cos is allowed: 1e-12 against
 * rates of at most 5e-3, far below the 1e-4 that the smallest schedule mistake (a step off) costs.
 */
export const LR_TOL = 1e-12;
interface TrainContext {
  readonly cfg: ModelConfig;
  readonly store: TensorStore;
  readonly adapter: Adapter;
  readonly model: OnnxStepModel;
}

const cache = new WeakMap<Context, Promise<TrainContext>>();

function trainContext(ctx: Context): Promise<TrainContext> {
  let t = cache.get(ctx);
  if (!t) {
    t = (async () => {
      const cfg = loadModelConfig(ctx.dir);
      const store = TensorStore.openDir(ctx.dir);
      const adapter = readAdapter(path.join(ctx.dir, 'adapter'), cfg);
      const lora = [...adapter.modules.values()].map((m) => ({ module: m.module, r: m.r, scale: m.scale }));
      const memory = ctx.options.trainingMemoryOptions === true;
      const model = new OnnxStepModel(cfg, store, {
        spec: { mode: 'lora', lora, ...(memory ? { gradientCheckpointing: true, chunkTokens: 5 } : {}) },
        ...(memory ? { frozen: new FrozenWeights('fp32') } : {}),
        seed: 0,
        ...(ctx.options.threads ? { threads: ctx.options.threads } : {}),
      });
      ctx.onClose(async () => {
        await model.dispose();
        store.close();
      });
      return { cfg, store, adapter, model };
    })();
    cache.set(ctx, t);
  }
  return t;
}

function freshState(adapter: Adapter): TrainState {
  const params = new Map<string, Float32Array>();
  for (const m of adapter.modules.values()) {
    params.set(loraInputName(m.module.name, 'A'), m.a.slice());
    params.set(loraInputName(m.module.name, 'B'), m.b.slice());
  }
  return { step: 0, params, optimizer: newAdamWState() };
}

/** The golden batch `input_ids` [2, 16] with labels = input_ids: every position after the first counts. */
function fullBatch(ctx: Context): Batch {
  const { data, dims } = ctx.ids('input_ids');
  const [B, S] = dims;
  const ids = Array.from(data, Number);
  return makeBatch(
    Array.from({ length: B }, (_, b) => ({ line: b + 1, ids: ids.slice(b * S, (b + 1) * S), mask: new Array<number>(S).fill(1) })),
    0,
    S,
  );
}

function adapterFrom(base: Adapter, state: TrainState): Adapter {
  const modules = new Map(
    [...base.modules].map(([name, m]) => [name, { ...m, a: state.params.get(loraInputName(name, 'A'))!, b: state.params.get(loraInputName(name, 'B'))! }]),
  );
  return { ...base, modules };
}

interface AdamwJson {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  steps: number;
  losses: number[];
}

/** The `adamw` trace, run once and shared by the `adamw` and `adapter_files` checks. */
const adamwRuns = new WeakMap<Context, Promise<{ losses: number[]; state: TrainState }>>();
function runAdamw(ctx: Context): Promise<{ losses: number[]; state: TrainState }> {
  let r = adamwRuns.get(ctx);
  if (!r) {
    r = (async () => {
      const t = await trainContext(ctx);
      const spec = ctx.json.adamw as AdamwJson;
      const state = freshState(t.adapter);
      const batch = fullBatch(ctx);
      const losses: number[] = [];
      for (let i = 0; i < spec.steps; i++) {
        const { loss } = await optimizerStep(t.model, [batch], state, spec.lr, {
          weightDecay: spec.weight_decay,
          betas: spec.betas,
          eps: spec.eps,
          clipGradNorm: 0,
        });
        losses.push(loss);
        state.step++;
      }
      return { losses, state };
    })();
    adamwRuns.set(ctx, r);
  }
  return r;
}

/** `trained` written by the trainer's writer into a temporary folder, handed to `f`, then removed. */
async function withWrittenAdapter<T>(ctx: Context, trained: Adapter, f: (dir: string) => Promise<T>): Promise<T> {
  const src = readLoraConfig(path.join(ctx.dir, 'adapter'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-golden-adapter-'));
  try {
    const written = path.join(out, 'adapter');
    writeAdapter(written, loraConfigJson(src), trained.modules.values());
    return await f(written);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/**
 * An adapter folder the engine wrote against PEFT's `reference` folder, as the golden README holds
 * them: the same tensor keys, shapes and dtypes; the largest value difference (held to TRAINED_TOL by
 * the caller); adapter_config.json with the same values for the keys that change what it computes.
 */
function compareAdapterFolders(written: string, reference: string): { problems: string[]; err: number } {
  const ref = readSafetensors(path.join(reference, 'adapter_model.safetensors'));
  const mine = readSafetensors(path.join(written, 'adapter_model.safetensors'));
  const problems: string[] = [];
  if ([...ref.keys()].sort().join() !== [...mine.keys()].sort().join()) problems.push('tensor keys differ');
  let err = 0;
  for (const [k, r] of ref) {
    const m = mine.get(k);
    if (!m) continue;
    if (m.dtype !== r.dtype || m.shape.join() !== r.shape.join())
      problems.push(`${k}: ${m.dtype}${JSON.stringify(m.shape)} vs ${r.dtype}${JSON.stringify(r.shape)}`);
    else
      err = Math.max(
        err,
        maxAbsDiff(
          new Float32Array(m.data.buffer, m.data.byteOffset, m.data.byteLength / 4),
          new Float32Array(r.data.buffer, r.data.byteOffset, r.data.byteLength / 4),
        ),
      );
  }
  const refCfg = JSON.parse(fs.readFileSync(path.join(reference, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  const myCfg = JSON.parse(fs.readFileSync(path.join(written, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  for (const key of ['peft_type', 'task_type', 'r', 'lora_alpha', 'lora_dropout', 'use_rslora', 'fan_in_fan_out', 'bias']) {
    if (JSON.stringify(refCfg[key]) !== JSON.stringify(myCfg[key]))
      problems.push(`adapter_config.json ${key}: ${JSON.stringify(myCfg[key])} vs ${JSON.stringify(refCfg[key])}`);
  }
  const asSet = (v: unknown) => JSON.stringify(typeof v === 'string' ? v : [...(v as string[])].sort());
  if (asSet(refCfg.target_modules) !== asSet(myCfg.target_modules)) problems.push('adapter_config.json target_modules differ');
  return { problems, err };
}

/** train2.json's schedule name (transformers' get_<name>_schedule_with_warmup) as the engine's. */
function scheduleOf(name: string): ScheduleName {
  const s = name.replace(/_with_warmup$/, '');
  if (!Object.hasOwn(SCHEDULES, s))
    throw new TuneloopError(
      `unknown schedule "${name}" in train2.json`,
      {},
      `the engine has ${Object.keys(SCHEDULES)
        .map((k) => `${k}_with_warmup`)
        .join(', ')}`,
    );
  return s as ScheduleName;
}

function traceResult(name: string, got: readonly number[], want: readonly number[], tol: number, relative = false): CheckResult {
  let err = got.length === want.length ? 0 : Infinity;
  want.forEach((w, i) => {
    const d = Math.abs((got[i] ?? Infinity) - w) / (relative ? Math.abs(w) : 1);
    err = Math.max(err, Number.isNaN(d) ? Infinity : d);
  });
  return { name, maxAbsErr: err, tol, ok: err <= tol };
}

export const TRAINING_CHECKS: Check[] = [
  {
    // Every grad.<PEFT key> tensor: d loss_lora / d LoRA tensor at adapter/.
    name: 'grad',
    async run(ctx) {
      const t = await trainContext(ctx);
      const batch = fullBatch(ctx);
      const r = await t.model.lossAndGrads(batch, freshState(t.adapter).params, { step: 0, micro: 0 });
      const results: CheckResult[] = [];
      for (const name of ctx.golden.names().filter((n) => n.startsWith('grad.'))) {
        const m = /^grad\.base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(name);
        const got = m ? r.grads.get(loraInputName(m[1]!, m[2] as 'A' | 'B')) : undefined;
        const want = ctx.golden.readFloat32(name);
        if (!got) {
          results.push({ name, maxAbsErr: Infinity, tol: 0, ok: false, detail: 'no such trainable tensor' });
          continue;
        }
        let maxRef = 0;
        for (const v of want) maxRef = Math.max(maxRef, Math.abs(v));
        const tol = GRAD_TOL.abs + GRAD_TOL.rel * maxRef;
        const err = maxAbsDiff(
          Float32Array.from(got, (g) => g / batch.counted),
          want,
        );
        results.push({ name, maxAbsErr: err, tol, ok: err <= tol });
      }
      return results;
    },
  },
  {
    name: 'adamw',
    async run(ctx) {
      const { losses } = await runAdamw(ctx);
      return traceResult('adamw', losses, (ctx.json.adamw as AdamwJson).losses, LOSS_TOL);
    },
  },
  {
    name: 'train2',
    async run(ctx) {
      const t = await trainContext(ctx);
      const dir = path.join(ctx.dir, 'train2');
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'train2.json'), 'utf8')) as {
        optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
        schedule: { name: string; warmup_steps: number; total_steps: number };
        clip_grad_norm: number;
        micro_batches: number[][];
        lengths: number[];
        pad_id: number;
        losses: number[];
        grad_norms_before_clip: number[];
        lrs?: number[];
      };
      const tensors = readSafetensors(path.join(dir, 'train2.safetensors'));
      const ids = tensors.get('input_ids')!;
      const S = ids.shape[1]!;
      const idArr = new BigInt64Array(ids.data.buffer, ids.data.byteOffset, ids.data.byteLength / 8);
      const labels = tensors.get('labels')!;
      const labArr = new BigInt64Array(labels.data.buffer, labels.data.byteOffset, labels.data.byteLength / 8);
      const examples = spec.lengths.map((len, b) => ({
        line: b + 1,
        ids: Array.from(idArr.subarray(b * S, b * S + len), Number),
        mask: Array.from(labArr.subarray(b * S, b * S + len), (l) => (l === -100n ? 0 : 1)),
      }));
      const micro = spec.micro_batches.map((rows) =>
        makeBatch(
          rows.map((r) => examples[r]!),
          spec.pad_id,
          S,
        ),
      );
      const state = freshState(t.adapter);
      const losses: number[] = [];
      const norms: number[] = [];
      const lrs: number[] = [];
      const schedule = { name: scheduleOf(spec.schedule.name), warmupSteps: spec.schedule.warmup_steps, totalSteps: spec.schedule.total_steps };
      for (let step = 0; step < spec.schedule.total_steps; step++) {
        const lr = learningRate(spec.optimizer.lr, schedule, step);
        const r = await optimizerStep(t.model, micro, state, lr, {
          weightDecay: spec.optimizer.weight_decay,
          betas: spec.optimizer.betas,
          eps: spec.optimizer.eps,
          clipGradNorm: spec.clip_grad_norm,
        });
        lrs.push(lr);
        losses.push(r.loss);
        norms.push(r.gradNorm);
        state.step++;
      }
      const mask = tensors.get('attention_mask')!;
      const want = tensors.get('logits_trained')!;
      // The adapter as the trainer writes it, read back: its files against train2/adapter_trained/, its logits against logits_trained.
      const { files, logitErr } = await withWrittenAdapter(ctx, adapterFrom(t.adapter, state), async (written) => {
        const logits = await ctx.adapterLogits(
          readAdapter(written, t.cfg),
          { data: idArr, dims: [ids.shape[0]!, S] },
          new BigInt64Array(mask.data.buffer, mask.data.byteOffset, mask.data.byteLength / 8),
        );
        return {
          files: compareAdapterFolders(written, path.join(dir, 'adapter_trained')),
          logitErr: maxAbsDiff(logits, new Float32Array(want.data.buffer, want.data.byteOffset, want.data.byteLength / 4)),
        };
      });
      return [
        traceResult('train2.losses', losses, spec.losses, LOSS_TOL),
        traceResult('train2.grad_norms_before_clip', norms, spec.grad_norms_before_clip, 1e-3, true),
        traceResult('train2.lrs', lrs, spec.lrs ?? [], LR_TOL),
        { name: 'train2.logits_trained', maxAbsErr: logitErr, tol: TRAINED_TOL, ok: logitErr <= TRAINED_TOL },
        {
          name: 'train2.adapter_files',
          maxAbsErr: files.problems.length ? Infinity : files.err,
          tol: TRAINED_TOL,
          ok: files.problems.length === 0 && files.err <= TRAINED_TOL,
          ...(files.problems.length ? { detail: files.problems.join('; ') } : {}),
        },
      ];
    },
  },
  {
    // The adapter the trainer writes after the adamw steps, against PEFT's adapter_trained/.
    name: 'adapter_files',
    async run(ctx) {
      const t = await trainContext(ctx);
      const { state } = await runAdamw(ctx);
      const { problems, err, logitErr } = await withWrittenAdapter(ctx, adapterFrom(t.adapter, state), async (written) => {
        const logits = await ctx.adapterLogits(readAdapter(written, t.cfg), ctx.ids('input_ids'));
        return {
          ...compareAdapterFolders(written, path.join(ctx.dir, 'adapter_trained')),
          logitErr: maxAbsDiff(logits, ctx.golden.readFloat32('logits_trained')),
        };
      });
      const worst = Math.max(err, logitErr);
      return {
        name: 'adapter_files',
        maxAbsErr: problems.length ? Infinity : worst,
        tol: TRAINED_TOL,
        ok: problems.length === 0 && worst <= TRAINED_TOL,
        detail: problems.length ? problems.join('; ') : `values ${err.toExponential(2)}, logits ${logitErr.toExponential(2)}`,
      };
    },
  },
];
