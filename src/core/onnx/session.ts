import * as ort from 'onnxruntime-node';
import { TuneloopError } from '../errors';
import { LOGITS_TO_KEEP } from './decoder-io';
import { encodeModel, type ModelDef } from './model';

/**
 * Direct onnxruntime access for exported decoder graphs (checks and benchmarks run the full
 * sequence through the graph without transformers.js in between).
 */
export interface DecoderShape {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/** onnxruntime's thread options: `threads` intra-op threads and one inter-op, or its defaults. */
export function threadOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {};
}

export async function openSession(onnxPath: string, threads?: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(onnxPath, threadOptions(threads));
  } catch (e) {
    throw new TuneloopError(`onnxruntime could not load the model: ${(e as Error).message.split('\n')[0]}`, { file: onnxPath }, 'export it again');
  }
}

/** A session for a model built in memory (graphs built for a check or a sampler, never written to disk). */
export async function openSessionFromModel(
  model: ModelDef,
  threads?: number,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(Buffer.concat(encodeModel(model)), { ...threadOptions(threads), ...options });
}

/**
 * Logits [B, S, V] for a batch with no cache. Positions are counted over real tokens, as generation
 * derives them (transformers.js, and Hugging Face's generate: padded slots get 1), or with
 * `positions: 'arange'` are 0..S−1 in every row, as Hugging Face's forward pass numbers them when it
 * is given no position_ids (the same for the real tokens of a right-padded batch).
 */
export async function runDecoderFull(
  session: ort.InferenceSession,
  shape: DecoderShape,
  inputIds: BigInt64Array,
  dims: readonly [number, number],
  attentionMask?: BigInt64Array,
  positionsFrom: 'mask' | 'arange' = 'mask',
): Promise<{ logits: Float32Array; dims: readonly number[] }> {
  const [B, S] = dims;
  const mask = attentionMask ?? new BigInt64Array(B * S).fill(1n);
  const positions = new BigInt64Array(B * S);
  for (let b = 0; b < B; b++) {
    let seen = 0n;
    for (let t = 0; t < S; t++) {
      const m = mask[b * S + t]!;
      positions[b * S + t] = positionsFrom === 'arange' ? BigInt(t) : m ? seen : 1n;
      seen += m;
    }
  }
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', inputIds, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]),
    position_ids: new ort.Tensor('int64', positions, [B, S]),
  };
  for (let i = 0; i < shape.numLayers; i++) {
    for (const kv of ['key', 'value'])
      feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [B, shape.numKvHeads, 0, shape.headDim]);
  }
  if (session.inputNames.includes(LOGITS_TO_KEEP)) feeds[LOGITS_TO_KEEP] = new ort.Tensor('int64', BigInt64Array.from([0n]), []); // every position's
  const out = await session.run(feeds, ['logits']);
  const logits = out.logits!;
  return { logits: logits.data as Float32Array, dims: logits.dims };
}
