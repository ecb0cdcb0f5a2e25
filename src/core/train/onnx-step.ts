import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../models/config';
import type { FrozenWeights } from '../models/graph/frozen';
import { WeightReader } from '../models/graph/weights';
import { writeModelFile } from '../onnx/model';
import { threadOptions } from '../onnx/session';
import type { TensorStore } from '../safetensors/checkpoint';
import type { Batch } from './data';
import { seededRandom } from '../random';
import { buildTrainingGraph, type TrainingGraph, type TrainingGraphSpec } from './graph';
import type { StepModel } from './loop';

/**
 * The loop's StepModel on onnxruntime: one training-step session per batch shape (graphs have static
 * shapes), built on first use and kept. Positions are 0..S−1 in every row, as Hugging Face's forward
 * pass numbers them for right-padded batches.
 */
export interface OnnxStepOptions {
  readonly spec: Omit<TrainingGraphSpec, 'batch' | 'seq' | 'lossOnly' | 'outputLogits' | 'frozen'>;
  /** The process's frozen weights, fed to every session (see FrozenWeights); initializers when absent. */
  readonly frozen?: FrozenWeights;
  readonly threads?: number;
  /** Seeds the LoRA dropout masks (per step, micro-batch and module). */
  readonly seed: number;
  /** onnxruntime's per-node profile, written to `<profile>_<date>.json` when the model is disposed (benchmarks). */
  readonly profile?: string;
}

interface Compiled {
  readonly session: ort.InferenceSession;
  readonly graph: Pick<TrainingGraph, 'trainable' | 'dropoutInputs'>;
  /** The frozen weights this session reads, as tensors over the held buffers (no copy). */
  readonly frozen: Record<string, ort.Tensor>;
}

/**
 * Session settings for graphs that dequantize frozen weights: no QDQ transformations. One of them
 * (EnsureUniqueDQForNodeUnit) gives every consumer of a DequantizeLinear its own copy of the node, so
 * a tied int8 LM head read by every loss chunk was dequantized eight times over, all at once (4.2 GB
 * at the 0.5B shape).
 */
export const TRAINING_SESSION_CONFIG: ort.InferenceSession.SessionOptions = { extra: { session: { disable_quant_qdq: '1' } } };

/** Tensors over the held frozen weights that a session reads (its inputs of those names). */
export function frozenFeeds(frozen: FrozenWeights | undefined, inputNames: readonly string[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  if (!frozen) return out;
  const wanted = new Set(inputNames);
  for (const t of frozen.tensors()) if (wanted.has(t.name)) out[t.name] = new ort.Tensor(t.dtype, t.data, [...t.dims]);
  return out;
}

export class OnnxStepModel implements StepModel {
  private readonly sessions = new Map<string, Promise<Compiled>>();

  constructor(
    readonly cfg: ModelConfig,
    private readonly store: TensorStore,
    private readonly options: OnnxStepOptions,
  ) {}

  private compiled(batch: number, seq: number, lossOnly: boolean): Promise<Compiled> {
    const key = `${batch}x${seq}${lossOnly ? '-loss' : ''}`;
    let c = this.sessions.get(key);
    if (!c) {
      c = (async () => {
        const frozen = this.options.frozen;
        const graph = buildTrainingGraph(this.cfg, new WeightReader(this.cfg, this.store), {
          ...this.options.spec,
          batch,
          seq,
          lossOnly,
          ...(frozen ? { frozen } : {}),
        });
        const session = await this.open(graph);
        // Only the names and shapes are kept: the model (its weights included) is left to the collector.
        return {
          session,
          graph: { trainable: graph.trainable, dropoutInputs: graph.dropoutInputs },
          frozen: frozenFeeds(frozen, session.inputNames),
        };
      })();
      this.sessions.set(key, c);
    }
    return c;
  }

  /**
   * A session for the graph, through a file with external data rather than one buffer: the weights
   * are not copied into a contiguous model buffer first, and onnxruntime maps them from the file.
   * For LoRA on the 135M shape this saves 1.4 s of the session's start and 0.4 GiB of memory.
   */
  private async open(graph: TrainingGraph): Promise<ort.InferenceSession> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-step-'));
    try {
      const file = path.join(dir, 'train.onnx');
      writeModelFile(file, graph.model, true);
      return await ort.InferenceSession.create(file, {
        ...threadOptions(this.options.threads),
        graphOptimizationLevel: 'all',
        // No memory pattern: with one, onnxruntime gives each run's intermediates a block of fresh
        // pages, and touching them again costs more than the work. Measured on the LoRA benchmark
        // (bench/train.ts, 135M shape, 4 × 256): 331k page faults and 7.1 s per step with the
        // pattern, 84k and 3.6 s without, and a peak RSS of 5.5 GiB instead of 7.4.
        enableMemPattern: false,
        ...TRAINING_SESSION_CONFIG,
        ...(this.options.profile ? { enableProfiling: true, profileFilePrefix: this.options.profile } : {}),
      });
    } finally {
      // Removing a file onnxruntime has mapped is fine where files are unlinked (Linux, macOS); where
      // it is refused (Windows), the folder is left to the system's temporary files.
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        /* left in the temporary folder */
      }
    }
  }

  private feeds(
    batch: Batch,
    params: ReadonlyMap<string, Float32Array>,
    { graph, frozen }: Compiled,
    where?: { step: number; micro: number },
  ): Record<string, ort.Tensor> {
    const { size: B, length: S } = batch;
    const positions = new BigInt64Array(B * S);
    for (let i = 0; i < B * S; i++) positions[i] = BigInt(i % S);
    const feeds: Record<string, ort.Tensor> = {
      ...frozen,
      input_ids: new ort.Tensor('int64', batch.inputIds, [B, S]),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, [B, S]),
      position_ids: new ort.Tensor('int64', positions, [B, S]),
      targets: new ort.Tensor('int64', batch.targets, [B, S]),
      weights: new ort.Tensor('float32', batch.weights, [B, S]),
    };
    const soft = this.options.spec.softTargets;
    if (soft) {
      // A batch without the teacher's targets (none of its rows has them) has soft weights 0.
      const n = B * S * soft.k;
      if (batch.k !== undefined && batch.k !== soft.k) throw new Error(`the batch has ${batch.k} soft targets per position, the graph ${soft.k}`);
      feeds['soft_ids'] = new ort.Tensor('int64', batch.softIds ?? new BigInt64Array(n), [B, S, soft.k]);
      feeds['soft_q'] = new ort.Tensor('float32', batch.softQ ?? new Float32Array(n), [B, S, soft.k]);
    }
    for (const t of graph.trainable) {
      const p = params.get(t.name);
      if (!p) throw new Error(`no value for trainable tensor ${t.name}`);
      feeds[t.name] = new ort.Tensor('float32', p, [...t.shape]);
    }
    const p = this.options.spec.loraDropout ?? 0;
    graph.dropoutInputs.forEach((d, k) => {
      const n = d.shape.reduce((a, b) => a * b, 1);
      const mask = new Float32Array(n);
      if (where) {
        const r = seededRandom((this.options.seed * 1_000_003 + where.step * 1009 + where.micro * 101 + k) >>> 0);
        const keep = 1 / (1 - p);
        for (let i = 0; i < n; i++) mask[i] = r() >= p ? keep : 0;
      } else mask.fill(1); // evaluation: no dropout
      feeds[d.name] = new ort.Tensor('float32', mask, [...d.shape]);
    });
    return feeds;
  }

  async lossAndGrads(batch: Batch, params: ReadonlyMap<string, Float32Array>, where: { step: number; micro: number }) {
    const compiled = await this.compiled(batch.size, batch.length, false);
    const { session, graph } = compiled;
    const out = await session.run(this.feeds(batch, params, compiled, where));
    const grads = new Map<string, Float32Array>();
    for (const t of graph.trainable) grads.set(t.name, out[`grad.${t.name}`]!.data as Float32Array);
    return { lossSum: (out.loss_sum!.data as Float32Array)[0]!, grads };
  }

  async lossSum(batch: Batch, params: ReadonlyMap<string, Float32Array>): Promise<number> {
    const compiled = await this.compiled(batch.size, batch.length, true);
    const out = await compiled.session.run(this.feeds(batch, params, compiled), ['loss_sum']);
    return (out.loss_sum!.data as Float32Array)[0]!;
  }

  async dispose(): Promise<void> {
    for (const c of this.sessions.values()) {
      const { session } = await c;
      if (this.options.profile) session.endProfiling();
      await session.release();
    }
    this.sessions.clear();
  }
}
