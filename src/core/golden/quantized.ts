import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { DTYPE_SPECS } from '../dtypes';
import { exportCheckpoint } from '../export/export';
import { decoderShapeOf, expectedWeights, familySpec, loadModelConfig, type ModelConfig } from '../models/config';
import { buildDecoderModel } from '../models/graph';
import { dequantizeRows, type QuantSpec, quantizeRows } from '../models/graph/quantize';
import { transpose, WeightReader } from '../models/graph/weights';
import type { ModelDef, NodeDef, TensorDef } from '../onnx/model';
import { CONTRIB_DOMAIN } from '../onnx/builder';
import { openSession, openSessionFromModel, runDecoderFull } from '../onnx/session';
import { seededRandom } from '../random';
import { TensorStore } from '../safetensors/checkpoint';
import { type CheckResult, maxAbsDiff } from './compare';
import type { Check, Context } from './run';

/**
 * Fidelity of the quantized exports (q8, q4) against the float32 reference, with tolerances derived
 * from the quantization steps rather than fixed numbers. See README "Quantized exports: fidelity".
 *
 * What the quantized model computes is known exactly: MatMulNBits multiplies by the dequantized
 * weights (dequantizeRows), after rounding its input to int8 per block of 32 (accuracy_level 4).
 * Round-to-nearest leaves errors uniform in ±step/2, independent from one value to the next. So each
 * error has a *noise twin*: the float32 model with every quantized value moved instead by seeded
 * uniform noise in ±step/2 of its own block. A correct quantizer's error is statistically the twin's;
 * a wrong scale, packing or zero point is a systematic error, several times larger.
 *
 * - weights: each block's step as the spec defines it (blockStep: 8-bit symmetric or 4-bit
 *   asymmetric blocks of 32; an all-zero block is exact);
 * - activations: each block of 32 of a quantized MatMul's input has step max|x| / 127 (the kernel's
 *   int8 quantization).
 *
 * The checks, per dtype: `kernel` (the export against float32 on its dequantized weights, held to
 * the activation twins), `logits` (against logits_base, held to the twins), `top1` (teacher-forced
 * over the golden text, where the reference's top-1/top-2 gap exceeds what the twins' noise moves)
 * and `perplexity` (the increase of the mean NLL, held to the twins' per-token change).
 */

export type QuantDtype = 'q8' | 'q4';
export const QUANT_DTYPES: readonly QuantDtype[] = ['q8', 'q4'];

/** The kernel's activation quantization: int8, symmetric, per block of this many values along K. */
export const ACT_BLOCK = 32;
export const ACT_LEVELS = 127;

export interface Text {
  readonly name: string;
  readonly ids: BigInt64Array;
  readonly dims: [number, number];
}

/** The golden text: input_ids (2 × 16), the base and LoRA greedy sequences (32 each) and the chat (49). */
function goldenTexts(ctx: Context): Text[] {
  const batch = ctx.ids('input_ids');
  const texts: Text[] = [{ name: 'input_ids', ids: batch.data, dims: batch.dims }];
  const chat = ctx.json.chat as { ids_full: number[] } | undefined;
  const seqs: [string, readonly number[] | undefined][] = [
    ['greedy_base', ctx.json.greedy_base],
    ['greedy_lora', ctx.json.greedy_lora],
    ['chat.ids_full', chat?.ids_full],
  ];
  for (const [name, s] of seqs) if (s && s.length > 0) texts.push({ name, ids: BigInt64Array.from(s, BigInt), dims: [1, s.length] });
  return texts;
}

/** Logits of every text: one Float32Array [B, S, V] per text. */
async function textLogits(session: ort.InferenceSession, dir: string, texts: readonly Text[]): Promise<Float32Array[]> {
  const shape = decoderShapeOf(dir);
  const out: Float32Array[] = [];
  for (const t of texts) out.push((await runDecoderFull(session, shape, t.ids, t.dims)).logits);
  return out;
}

async function withSession<T>(open: Promise<ort.InferenceSession>, f: (s: ort.InferenceSession) => Promise<T>): Promise<T> {
  const s = await open;
  try {
    return await f(s);
  } finally {
    await s.release();
  }
}

type Transform = (name: string, data: Float32Array) => Float32Array;

/**
 * The checkpoint tensors the quantized graph quantizes: every 2-D weight except those it keeps as
 * float32 initializers under their own name (learned position tables). Read from the graph itself,
 * so that the float32 twins quantize exactly what the export quantizes.
 */
function quantizedWeights(cfg: ModelConfig, qmodel: ModelDef): Map<string, readonly number[]> {
  const kept = new Set(qmodel.graph.initializers.filter((t) => t.dtype === 'float32').map((t) => t.name));
  return new Map(expectedWeights(cfg).flatMap((w) => (w.shape.length === 2 && !kept.has(w.name) ? [[w.name, w.shape] as const] : [])));
}

/**
 * A WeightReader transform that applies `edit` to each quantized matrix in the quantizer's layout
 * W [rows, cols] (rows = outputs, blocks along the inputs): GPT-2's Conv1D weights, stored [in, out],
 * are transposed there and back.
 */
function perMatrix(
  cfg: ModelConfig,
  names: ReadonlyMap<string, readonly number[]>,
  edit: (name: string, w: Float32Array, rows: number, cols: number) => Float32Array,
): Transform {
  const spec = familySpec(cfg);
  return (name, data) => {
    const shape = names.get(name);
    if (!shape) return data;
    const [d0, d1] = shape as [number, number];
    const conv = spec.weightLayout === 'conv1d' && !spec.embeddings.test(name);
    if (!conv) return edit(name, data, d0, d1);
    return transpose(edit(name, transpose(data, d0, d1), d1, d0), d1, d0);
  };
}

/** What the quantized model's weights are: each quantized matrix through quantizeRows and back. */
function dequantized(cfg: ModelConfig, names: ReadonlyMap<string, readonly number[]>, spec: QuantSpec): Transform {
  return perMatrix(cfg, names, (_n, w, rows, cols) => dequantizeRows(quantizeRows(w, rows, cols, spec)));
}

/** A seed per (twin seed, tensor name), so that a tensor read twice gets the same noise. */
function seedOf(seed: number, name: string): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The quantization step of one block, from the spec's definition (not from quantizeRows' scales, so
 * that a quantizer choosing too coarse a step does not loosen its own tolerances): symmetric,
 * max|w| / (2^(bits−1) − 1); asymmetric, (max − min) / (2^bits − 1) over the block with 0 included.
 */
export function blockStep(w: Float32Array, start: number, end: number, spec: QuantSpec): number {
  let lo = 0;
  let hi = 0;
  for (let k = start; k < end; k++) {
    if (w[k]! < lo) lo = w[k]!;
    if (w[k]! > hi) hi = w[k]!;
  }
  return spec.symmetric ? Math.max(hi, -lo) / (2 ** (spec.bits - 1) - 1) : (hi - lo) / (2 ** spec.bits - 1);
}

/** The weight twin: each quantized matrix plus uniform noise in ±step/2 of its block (an all-zero block, stored exactly, gets none). */
function weightNoise(cfg: ModelConfig, names: ReadonlyMap<string, readonly number[]>, spec: QuantSpec, seed: number): Transform {
  return perMatrix(cfg, names, (name, w, rows, cols) => {
    const rnd = seededRandom(seedOf(seed, name));
    const out = new Float32Array(w);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c += spec.blockSize) {
        const start = r * cols + c;
        const end = r * cols + Math.min(cols, c + spec.blockSize);
        const step = blockStep(w, start, end, spec);
        for (let k = start; k < end; k++) out[k] = w[k]! + (rnd() - 0.5) * step;
      }
    }
    return out;
  });
}

/**
 * The activation twin: `model` with the input of every float MatMul, Gemm or FusedMatMul whose weight is a 2-D
 * initializer (the products MatMulNBits computes in the quantized graph) moved by uniform noise in
 * ±step/2, where step is the kernel's int8 step for the value's block: blocks of ACT_BLOCK values
 * along K (the last one padded with zeros), step = max|x| / ACT_LEVELS. The noise is drawn here,
 * seeded, into tables of `maxRows` rows (at least the rows of any input the graph will be run on).
 */
export function withActivationNoise(model: ModelDef, seed: number, maxRows: number): { model: ModelDef; sites: number } {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const nodes: NodeDef[] = [];
  const added: TensorDef[] = [];
  const rnd = seededRandom(seed);
  let sites = 0;
  const i64 = (name: string, v: readonly number[]): string => {
    added.push({ name, dtype: 'int64', dims: [v.length], data: new Uint8Array(BigInt64Array.from(v, BigInt).buffer) });
    return name;
  };
  const f32 = (name: string, dims: readonly number[], v: Float32Array): string => {
    added.push({ name, dtype: 'float32', dims, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    return name;
  };
  for (const n of model.graph.nodes) {
    const w = inits.get(n.inputs[1] ?? '');
    const product = ((n.opType === 'MatMul' || n.opType === 'Gemm') && n.domain === '') || (n.opType === 'FusedMatMul' && n.domain === CONTRIB_DOMAIN);
    if (!(product && w?.dtype === 'float32' && w.dims.length === 2)) {
      nodes.push(n);
      continue;
    }
    const transB = n.attributes.find(([k]) => k === 'transB')?.[1];
    const K = n.opType !== 'MatMul' && transB?.kind === 'int' && transB.value === 1 ? w.dims[1]! : w.dims[0]!;
    const Kp = Math.ceil(K / ACT_BLOCK) * ACT_BLOCK;
    const p = `tuneloop_actnoise${sites++}`;
    const op = (opType: string, inputs: string[], out: string, attributes: NodeDef['attributes'] = []): string => {
      nodes.push({ opType, domain: '', name: `${p}/${out}`, inputs, outputs: [`${p}/${out}`], attributes });
      return `${p}/${out}`;
    };
    const x = n.inputs[0]!;
    const zero = i64(`${p}/zero`, [0]);
    const blocks = i64(`${p}/blocks`, [-1, ACT_BLOCK]);
    let x2 = op('Reshape', [x, i64(`${p}/rowsK`, [-1, K])], 'x2'); // [M, K]
    if (Kp > K) x2 = op('Pad', [x2, i64(`${p}/pads`, [0, 0, 0, Kp - K])], 'x2p'); // [M, Kp]
    const xb = op('Reshape', [x2, blocks], 'xb'); // [M·Kp/32, 32]
    const amax = op('ReduceMax', [op('Abs', [xb], 'abs'), i64(`${p}/axis1`, [1])], 'amax'); // [M·Kp/32, 1]
    const step = op('Div', [amax, f32(`${p}/levels`, [], Float32Array.of(ACT_LEVELS))], 'step');
    const u = new Float32Array(maxRows * Kp);
    for (let i = 0; i < u.length; i++) u[i] = rnd() - 0.5;
    const rows = op('Shape', [x2], 'rows', [
      ['start', { kind: 'int', value: 0 }],
      ['end', { kind: 'int', value: 1 }],
    ]);
    const noise = op('Slice', [f32(`${p}/table`, [maxRows, Kp], u), zero, rows, i64(`${p}/axis0`, [0])], 'noise'); // [M, Kp]
    const xn = op('Add', [xb, op('Mul', [op('Reshape', [noise, blocks], 'noiseb'), step], 'delta')], 'xn');
    let y2 = op('Reshape', [xn, i64(`${p}/rowsKp`, [-1, Kp])], 'y2');
    if (Kp > K) y2 = op('Slice', [y2, zero, i64(`${p}/K`, [K]), `${p}/axis1`], 'y2s');
    const y = op('Reshape', [y2, op('Shape', [x], 'shape')], 'y');
    nodes.push({ ...n, inputs: [y, ...n.inputs.slice(1)] });
  }
  return { model: { ...model, graph: { ...model.graph, nodes, initializers: [...model.graph.initializers, ...added] } }, sites };
}

/** Twins per dtype and folder: the tolerances use their mean, so that one unlucky draw does not set them. */
export const TWIN_SEEDS = 8;
/** A correct quantizer's error is one more draw of its twin's: allowed this many times the twins' mean. */
export const TWIN_FACTOR = 2;
/** A top-1 decision counts when its gap exceeds this many RMS changes that the twins make in a top-1/top-2 gap. */
export const DECIDED_SIGMAS = 3;
export const TOP1_MIN = 0.95;

/** The logits, per text, of everything the checks of one dtype compare. */
export interface Measured {
  readonly dtype: QuantDtype;
  readonly texts: readonly Text[];
  /** The fp32 export (logits_base reproduces the golden logits with it). */
  readonly reference: Float32Array[];
  /** logits_base, for texts[0] (input_ids). */
  readonly golden: Float32Array;
  /** The quantized export. */
  readonly quantized: Float32Array[];
  /** Float32 on the dequantized weights: what the quantized export means, less the kernel's activation rounding. */
  readonly dequantized: Float32Array[];
  /** Per seed: the twin (weights and activations moved by noise of their steps). */
  readonly twins: Float32Array[][];
  /** Per seed: the activation twin (the dequantized weights, activations moved by noise of the kernel's step). */
  readonly activationTwins: Float32Array[][];
  /** MatMulNBits in the quantized graph, and float products the twins move the inputs of: the same products. */
  readonly quantizedMatMuls: number;
  readonly noiseSites: number;
}

export interface MeasureOptions {
  readonly seeds?: number;
  /**
   * Tests: alter the quantized model before it runs (a broken quantizer must fail the checks). With
   * it, the quantized model is built in memory as the export builds it, rather than exported.
   */
  readonly alterQuantized?: (model: ModelDef, dtype: QuantDtype) => ModelDef;
}

const referenceCache = new WeakMap<Context, Promise<Float32Array[]>>();

export async function measure(ctx: Context, dtype: QuantDtype, options: MeasureOptions = {}): Promise<Measured> {
  const spec = DTYPE_SPECS[dtype].quantize!;
  const cfg = loadModelConfig(ctx.dir);
  const texts = goldenTexts(ctx);
  const maxRows = Math.max(...texts.map((t) => t.dims[0] * t.dims[1]));
  const threads = ctx.options.threads;
  const runFile = (file: string) => withSession(openSession(file, threads), (s) => textLogits(s, ctx.dir, texts));
  const run = (model: ModelDef) => withSession(openSessionFromModel(model, threads), (s) => textLogits(s, ctx.dir, texts));
  let reference = referenceCache.get(ctx);
  if (!reference) {
    reference = ctx.exportDir().then((d) => runFile(path.join(d, 'onnx', DTYPE_SPECS.fp32.file)));
    referenceCache.set(ctx, reference);
  }
  const store = TensorStore.openDir(ctx.dir);
  try {
    const build = (transform?: Transform, quantize?: QuantSpec) =>
      buildDecoderModel(cfg, new WeightReader(cfg, store, transform), quantize ? { quantize } : {});
    const qmodel = build(undefined, spec);
    let quantized: Float32Array[];
    if (options.alterQuantized) quantized = await run(options.alterQuantized(qmodel, dtype));
    else {
      const exported = await exportCheckpoint(ctx.dir, {
        dtype,
        ...(ctx.options.cacheDir ? { cacheDir: ctx.options.cacheDir } : {}),
        ...(ctx.options.onProgress ? { onProgress: ctx.options.onProgress } : {}),
      });
      quantized = await runFile(path.join(exported.dir, 'onnx', DTYPE_SPECS[dtype].file));
    }
    const names = quantizedWeights(cfg, qmodel);
    const deqModel = build(dequantized(cfg, names, spec));
    const twins: Float32Array[][] = [];
    const activationTwins: Float32Array[][] = [];
    let noiseSites = 0;
    for (let seed = 1; seed <= (options.seeds ?? TWIN_SEEDS); seed++) {
      const a = withActivationNoise(deqModel, seed, maxRows);
      noiseSites = a.sites;
      activationTwins.push(await run(a.model));
      twins.push(await run(withActivationNoise(build(weightNoise(cfg, names, spec, seed)), seed, maxRows).model));
    }
    return {
      dtype,
      texts,
      reference: await reference,
      golden: ctx.golden.readFloat32('logits_base'),
      quantized,
      dequantized: await run(deqModel),
      twins,
      activationTwins,
      quantizedMatMuls: qmodel.graph.nodes.filter((n) => n.opType === 'MatMulNBits').length,
      noiseSites,
    };
  } finally {
    store.close();
  }
}

/** max |a − b| over every text (Infinity for a NaN or a length mismatch). */
function maxAbs(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return Math.max(...a.map((x, i) => maxAbsDiff(x, b[i]!)));
}

function rms(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let s = 0;
  let n = 0;
  a.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) s += (x[j]! - b[i]![j]!) ** 2;
    n += x.length;
  });
  return Math.sqrt(s / n);
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const e = (x: number, d = 2) => x.toExponential(d);

/**
 * One entry per distinct prefix of the golden text (the greedy sequences share their prompt): where
 * its logits are (text, offset of the row of V), and the token that follows, if any.
 */
interface Position {
  readonly text: number;
  readonly at: number;
  readonly next: number | undefined;
}

function positions(texts: readonly Text[]): Position[] {
  const seen = new Set<string>();
  const out: Position[] = [];
  texts.forEach((t, i) => {
    const [B, S] = t.dims;
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        const key = t.ids.subarray(b * S, b * S + s + 1).join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ text: i, at: b * S + s, next: s + 1 < S ? Number(t.ids[b * S + s + 1]) : undefined });
      }
    }
  });
  return out;
}

/** The largest and second-largest logits of the row. */
function top2(row: Float32Array): { first: number; second: number } {
  let first = 0;
  let second = -1;
  for (let v = 1; v < row.length; v++) {
    if (row[v]! > row[first]!) {
      second = first;
      first = v;
    } else if (second < 0 || row[v]! > row[second]!) second = v;
  }
  return { first, second };
}

/** −log p(next) of the row. */
function nll(row: Float32Array, next: number): number {
  let m = -Infinity;
  for (const x of row) if (x > m) m = x;
  let s = 0;
  for (const x of row) s += Math.exp(x - m);
  return m + Math.log(s) - row[next]!;
}

/** The checks of one dtype from what `measure` gave. */
export function fidelityChecks(m: Measured): CheckResult[] {
  const d = m.dtype;
  const V = m.golden.length / (m.texts[0]!.dims[0] * m.texts[0]!.dims[1]);
  const row = (logits: Float32Array[], p: Position) => logits[p.text]!.subarray(p.at * V, (p.at + 1) * V);
  const out: CheckResult[] = [];

  // (a) the kernel: the export against float32 on its dequantized weights; what is left is the activation rounding.
  {
    const err = maxAbs(m.quantized, m.dequantized);
    const twin = m.activationTwins.map((t) => maxAbs(t, m.dequantized));
    const tol = TWIN_FACTOR * mean(twin);
    const sites = m.noiseSites === m.quantizedMatMuls ? '' : `; the twins move ${m.noiseSites} products, the graph quantizes ${m.quantizedMatMuls}`;
    out.push({
      name: `${d}.kernel`,
      maxAbsErr: err,
      tol,
      ok: err <= tol && sites === '',
      detail: `against float32 on the dequantized weights; activation twin ${e(mean(twin))} (${e(Math.min(...twin))}–${e(Math.max(...twin))}, ${twin.length} seeds); rms ${e(rms(m.quantized, m.dequantized))}${sites}`,
    });
  }

  // (b) the logits against the golden reference.
  {
    const q = [m.quantized[0]!];
    const g = [m.golden];
    const err = maxAbs(q, g);
    const twin = m.twins.map((t) => maxAbs([t[0]!], g));
    const tol = TWIN_FACTOR * mean(twin);
    out.push({
      name: `${d}.logits`,
      maxAbsErr: err,
      tol,
      ok: err <= tol,
      detail: `twin ${e(mean(twin))} (${e(Math.min(...twin))}–${e(Math.max(...twin))}); weights alone ${e(maxAbs([m.dequantized[0]!], g))}; rms ${e(rms(q, g))}, twin ${e(mean(m.twins.map((t) => rms([t[0]!], g))))}`,
    });
  }

  const ps = positions(m.texts);
  // (c) teacher-forced top-1 over the golden text, where the reference decides at this precision.
  {
    const changes: number[] = [];
    const refTop = ps.map((p) => {
      const r = row(m.reference, p);
      const { first, second } = top2(r);
      for (const t of m.twins) {
        const tr = row(t, p);
        changes.push(tr[first]! - tr[second]! - (r[first]! - r[second]!));
      }
      return { first, gap: r[first]! - r[second]! };
    });
    const threshold = DECIDED_SIGMAS * Math.sqrt(mean(changes.map((c) => c * c)));
    let decided = 0;
    let agree = 0;
    let rawAgree = 0;
    let twinAgree = 0;
    ps.forEach((p, i) => {
      const same = top2(row(m.quantized, p)).first === refTop[i]!.first;
      for (const t of m.twins) if (top2(row(t, p)).first === refTop[i]!.first) twinAgree++;
      if (same) rawAgree++;
      if (refTop[i]!.gap > threshold) {
        decided++;
        if (same) agree++;
      }
    });
    const rate = decided ? agree / decided : 1;
    out.push({
      name: `${d}.top1`,
      maxAbsErr: 1 - rate,
      tol: 1 - TOP1_MIN,
      ok: rate >= TOP1_MIN,
      detail: `${agree}/${decided} decided positions agree (gap > ${e(threshold)}), ${ps.length - decided} ties at this precision; all positions ${rawAgree}/${ps.length} (twins ${(twinAgree / m.twins.length).toFixed(1)})`,
    });
  }

  // (d) perplexity of the golden text against the fp32 export's. The change of the mean NLL is at most
  // the RMS of the per-token changes (Cauchy–Schwarz): a stable average, which the twins give. Both the
  // increase and that RMS are held to twice the twins' RMS.
  {
    const scored = ps.filter((p) => p.next !== undefined);
    const nlls = (logits: Float32Array[]) => scored.map((p) => nll(row(logits, p), p.next!));
    const base = nlls(m.reference);
    const change = (logits: Float32Array[]) => {
      const d = nlls(logits).map((x, i) => x - base[i]!);
      return { mean: mean(d), rms: Math.sqrt(mean(d.map((x) => x * x))) };
    };
    const q = change(m.quantized);
    const twins = m.twins.map(change);
    const tol = TWIN_FACTOR * mean(twins.map((t) => t.rms));
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${((Math.exp(x) - 1) * 100).toFixed(2)}%`;
    const ppl = Math.exp(mean(base));
    out.push({
      name: `${d}.perplexity`,
      maxAbsErr: Math.max(0, q.mean),
      tol,
      ok: q.mean <= tol && q.rms <= tol,
      detail: `${ppl.toFixed(1)} → ${(ppl * Math.exp(q.mean)).toFixed(1)} (${pct(q.mean)}) over ${scored.length} tokens, twins ${pct(mean(twins.map((t) => t.mean)))}; error: the increase in nats; per-token change rms ${e(q.rms)} (twins ${e(mean(twins.map((t) => t.rms)))}), held to the same tolerance`,
    });
  }
  return out;
}

export const QUANTIZED_CHECKS: Check[] = QUANT_DTYPES.map((dtype) => ({
  name: dtype,
  async run(ctx: Context) {
    const alter = ctx.options.alterQuantized;
    return fidelityChecks(await measure(ctx, dtype, alter ? { alterQuantized: alter } : {}));
  },
}));
