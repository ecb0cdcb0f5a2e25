import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DTYPE_SPECS, EXPORT_DTYPES, type ExportDtype } from '../src/core/dtypes';
import { exportCheckpoint } from '../src/core/export/export';
import { generate } from '../src/core/infer/generate';
import { loadCausalLM } from '../src/core/infer/load';
import { parseModelConfig } from '../src/core/models/config';
import { LOGITS_TO_KEEP } from '../src/core/onnx/decoder-io';
import { bandwidth } from './decode';
import { readWeightBytes, type WeightBytes } from './onnx-weights';
import { pickByKey, SHAPES, writeRandomCheckpoint } from './scale';

/**
 * Where one decode step's time goes (issue 14, part 4: fp32 at the 135M shape reaches 64–74% of its
 * bound): the export's graph run directly on onnxruntime-node, one new token after `--past` cached
 * ones, as transformers.js feeds it; timed plainly, then per kernel with onnxruntime's profiler, and
 * beside it the same model's decode through transformers.js (src/core/infer/generate.ts), so that
 * the time outside the graph shows too.
 *
 *   node out/bench/decode-profile.js [--shape smol] [--dtype fp32] [--past 128] [--steps 40]
 *                                    [--threads 2] [--work DIR] [--opt all|extended|basic|disabled]
 *                                    [--ops fused|plain]
 *
 * Kernel times are grouped by what the node does, read from the exported graph (the weight a node
 * multiplies by, or the op), not from onnxruntime's names alone: ORT fuses and renames nodes.
 */

interface ProfileEvent {
  readonly cat: string;
  readonly name: string;
  readonly dur: number;
  readonly args?: { readonly op_name?: string; readonly parameter_size?: string; readonly input_type_shape?: unknown; readonly output_type_shape?: unknown };
}

/** Feeds for one decode step: one token after `past` cached positions (zeros in the cache: the kernels' time does not depend on the values). */
function stepFeeds(session: ort.InferenceSession, past: number, cfg: ReturnType<typeof parseModelConfig>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from([17n]), [1, 1]);
    else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(past + 1).fill(1n), [1, past + 1]);
    else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from([BigInt(past)]), [1, 1]);
    else if (name === LOGITS_TO_KEEP)
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from([1n]), []); // as transformers.js generates
    else if (name.startsWith('past_key_values.'))
      feeds[name] = new ort.Tensor('float32', new Float32Array(cfg.numKvHeads * past * cfg.headDim), [1, cfg.numKvHeads, past, cfg.headDim]);
    else throw new Error(`unexpected input ${name}`);
  }
  return feeds;
}

/**
 * What a node of the exported graph does, from the weight it reads (by the initializer's name) or
 * its op: the groups the report sums over.
 */
function groupOf(opType: string, inputs: readonly string[], initializers: ReadonlySet<string>): string {
  const weight = inputs.find((i) => initializers.has(i) && !/\.(scales|zero_points)$/.test(i));
  if (weight && /^(MatMul|Gemm|MatMulNBits|FusedMatMul|FusedGemm|MatMulIntegerToFloat|DynamicQuantizeMatMul)$/.test(opType)) {
    if (/embed_tokens|lm_head|wte/.test(weight)) return 'LM head';
    if (/q_proj|k_proj|v_proj|qkv|c_attn/.test(weight)) return 'q/k/v projection';
    if (/o_proj|attn\.c_proj|out_proj/.test(weight)) return 'o projection';
    if (/gate_proj|up_proj|c_fc/.test(weight)) return 'gate/up projection';
    if (/down_proj|mlp\.c_proj/.test(weight)) return 'down projection';
    return `other linear (${opType})`;
  }
  if (opType === 'Gather' || opType === 'GatherBlockQuantized') return weight ? 'embedding lookup' : 'Gather';
  if (opType === 'Concat' && inputs.some((i) => i.startsWith('past_key_values.'))) return 'KV cache Concat';
  if (/^(MatMul|FusedMatMul)$/.test(opType)) return 'attention MatMul (QKᵀ, PV)';
  if (opType === 'Softmax') return 'attention Softmax';
  return opType;
}

/** Microseconds per step: the mean over the profiled steps, and the sum of each kernel's fastest run (what a quiet machine would approach). */
export interface Micros {
  readonly mean: number;
  readonly min: number;
}

export interface StepProfile {
  /** Fastest and median of plain step times, seconds. */
  readonly fastest: number;
  readonly median: number;
  /** Kernel time per step by group (with the weight bytes its nodes read), and by onnxruntime op. */
  readonly groups: readonly { readonly group: string; readonly us: Micros; readonly nodes: number; readonly weightBytes: number }[];
  readonly ops: readonly { readonly op: string; readonly us: Micros; readonly nodes: number }[];
  /** Kernels run per step. */
  readonly kernelsPerStep: number;
  /** model_run per profiled step (mean, and the fastest), and the sum of its kernels'. */
  readonly run: Micros;
  readonly kernels: Micros;
}

export async function profileStep(
  file: string,
  weights: WeightBytes,
  cfg: ReturnType<typeof parseModelConfig>,
  options: { threads: number; past: number; steps: number; opt: ort.InferenceSession.SessionOptions['graphOptimizationLevel']; work: string },
): Promise<StepProfile> {
  const base: ort.InferenceSession.SessionOptions = { intraOpNumThreads: options.threads, interOpNumThreads: 1, graphOptimizationLevel: options.opt ?? 'all' };
  // Plain timing, no profiler.
  const plain = await ort.InferenceSession.create(file, base);
  const feeds = stepFeeds(plain, options.past, cfg);
  for (let i = 0; i < 3; i++) await plain.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const t = performance.now();
    await plain.run(feeds);
    times.push((performance.now() - t) / 1000);
  }
  await plain.release();
  times.sort((a, b) => a - b);

  // Per kernel, with onnxruntime's profiler.
  const prefix = path.join(options.work, `profile-${process.pid}`);
  const profiled = await ort.InferenceSession.create(file, { ...base, enableProfiling: true, profileFilePrefix: prefix });
  for (let i = 0; i < 3 + options.steps; i++) await profiled.run(feeds);
  profiled.endProfiling();
  await profiled.release();
  const profileFile = fs
    .readdirSync(options.work)
    .filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json'))
    .map((f) => path.join(options.work, f))
    .at(-1);
  if (!profileFile) throw new Error(`no profile written under ${options.work}`);
  const events = JSON.parse(fs.readFileSync(profileFile, 'utf8')) as ProfileEvent[];
  fs.rmSync(profileFile);

  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const measured = runs.slice(3); // the warm-up runs are left out
  const n = Math.max(1, measured.length);
  // Kernel events precede their model_run event: those after the third run's are the measured steps'.
  const after = runs[2] ? events.indexOf(runs[2]) + 1 : 0;
  const kernelEvents = events.slice(after).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));

  // Per node: its op, its group, the weights it reads whole, and its time in every step.
  const initializers = new Set(weights.initializers.map((t) => t.name));
  const bytesOf = new Map(weights.initializers.map((t) => [t.name, t.bytes]));
  const byName = new Map(weights.nodes.map((node) => [node.name, node]));
  const nodes = new Map<string, { op: string; group: string; weightBytes: number; durations: number[] }>();
  for (const e of kernelEvents) {
    const name = e.name.slice(0, -'_kernel_time'.length);
    let k = nodes.get(name);
    if (!k) {
      const op = e.args?.op_name ?? '?';
      const node = byName.get(name);
      const weightBytes = node && !/Gather/.test(op) ? node.inputs.reduce((a, i) => a + (bytesOf.get(i) ?? 0), 0) : 0; // a lookup reads one row
      k = { op, group: node ? groupOf(op, node.inputs, initializers) : fusedGroup(op, name, e), weightBytes, durations: [] };
      nodes.set(name, k);
    }
    k.durations.push(e.dur);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const micros = (ks: readonly { durations: number[] }[]): Micros => ({
    mean: sum(ks.map((k) => sum(k.durations))) / n,
    min: sum(ks.map((k) => Math.min(...k.durations) * (k.durations.length / n))),
  });
  const by = <K extends string>(key: (k: { op: string; group: string }) => K) => {
    const m = new Map<K, { op: string; group: string; weightBytes: number; durations: number[] }[]>();
    for (const k of nodes.values()) m.set(key(k), [...(m.get(key(k)) ?? []), k]);
    return m;
  };
  return {
    fastest: times[0]!,
    median: times[Math.floor(times.length / 2)]!,
    groups: [...by((k) => k.group)]
      .map(([group, ks]) => ({ group, us: micros(ks), nodes: ks.length, weightBytes: sum(ks.map((k) => k.weightBytes)) }))
      .sort((a, b) => b.us.mean - a.us.mean),
    ops: [...by((k) => k.op)].map(([op, ks]) => ({ op, us: micros(ks), nodes: ks.length })).sort((a, b) => b.us.mean - a.us.mean),
    kernelsPerStep: kernelEvents.length / n,
    run: { mean: sum(measured.map((e) => e.dur)) / n, min: Math.min(...measured.map((e) => e.dur)) },
    kernels: micros([...nodes.values()]),
  };
}

/** A node onnxruntime made (fused or inserted): grouped by its op and, for a weight op, the size of its weights. */
function fusedGroup(op: string, name: string, e: ProfileEvent): string {
  const params = Number(e.args?.parameter_size ?? 0);
  if (params > 0 && /MatMul|Gemm/.test(op)) return `fused linear (${op}, ${name})`;
  return `${op} (fused or inserted by onnxruntime)`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const shape = pickByKey(SHAPES, value('--shape') ?? 'smol', 'shape')[0]!;
  const dtype = pickByKey(
    EXPORT_DTYPES.map((key) => ({ key })),
    value('--dtype') ?? 'fp32',
    'dtype',
  )[0]!.key as ExportDtype;
  const threads = Number(value('--threads') ?? 2);
  const past = Number(value('--past') ?? 128);
  const steps = Number(value('--steps') ?? 40);
  const opt = (value('--opt') ?? 'all') as ort.InferenceSession.SessionOptions['graphOptimizationLevel'];
  const ops = value('--ops') ?? 'fused';
  if (ops !== 'fused' && ops !== 'plain') throw new Error(`--ops: fused or plain, not ${ops}`);
  const keep = value('--work');
  const work = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-decode-profile-'));
  fs.mkdirSync(work, { recursive: true });
  try {
    const ckpt = path.join(work, 'models', shape.key);
    writeRandomCheckpoint(ckpt, shape.config);
    const cfg = parseModelConfig(shape.config);
    const exp = await exportCheckpoint(ckpt, { dtype, ops, cacheDir: path.join(work, 'profile-cache') });
    const file = path.join(exp.dir, 'onnx', DTYPE_SPECS[dtype].file);
    const weights = readWeightBytes(file);
    const bw = await bandwidth(threads);
    const boundS = weights.bytesPerToken / bw;
    console.log(
      `${shape.name} ${dtype}: ${(weights.bytesPerToken / 1e6).toFixed(1)} MB per token; bandwidth ${(bw / 1e9).toFixed(1)} GB/s → ${(boundS * 1000).toFixed(2)} ms a token at the bound (${(1 / boundS).toFixed(1)} tokens/s); ${threads} threads, one token after ${past} cached, graph optimization ${opt}, ${ops} ops`,
    );
    const p = await profileStep(file, weights, cfg, { threads, past, steps, opt, work });
    console.log(
      `graph step: fastest ${(p.fastest * 1000).toFixed(2)} ms, median ${(p.median * 1000).toFixed(2)} ms (${steps} steps) = ${((boundS / p.fastest) * 100).toFixed(0)}% / ${((boundS / p.median) * 100).toFixed(0)}% of the bound`,
    );
    const ms = (us: number) => (us / 1000).toFixed(3).padStart(8);
    console.log(
      `profiled: model_run ${ms(p.run.mean)} ms a step (fastest ${ms(p.run.min).trim()}), of which kernels ${ms(p.kernels.mean).trim()} ms; ${p.kernelsPerStep.toFixed(0)} kernels a step`,
    );
    console.log('\nby what the node does, per step: mean, and the sum of each kernel\'s fastest run ("quiet"), with the weights read');
    for (const g of p.groups) {
      const w =
        g.weightBytes > 1e5
          ? `  ${(g.weightBytes / 1e6).toFixed(1).padStart(6)} MB, ${(g.weightBytes / g.us.min / 1e3).toFixed(1).padStart(5)} GB/s quiet (${((g.weightBytes / bw) * 1000).toFixed(3)} ms at the bound)`
          : '';
      console.log(`  ${g.group.padEnd(44)} ${ms(g.us.mean)} ms  quiet ${ms(g.us.min)} ms  ${String(g.nodes).padStart(4)} nodes${w}`);
    }
    const weighty = p.groups.filter((g) => g.weightBytes > 1e5);
    const weightMin = weighty.reduce((a, g) => a + g.us.min, 0);
    const weightMean = weighty.reduce((a, g) => a + g.us.mean, 0);
    console.log(
      `  weight-reading kernels ${ms(weightMean).trim()} ms (quiet ${ms(weightMin).trim()}); other kernels ${ms(p.kernels.mean - weightMean).trim()} ms (quiet ${ms(p.kernels.min - weightMin).trim()}); model_run outside kernels ${ms(p.run.mean - p.kernels.mean).trim()} ms (fastest run − quiet kernels ${ms(p.run.min - p.kernels.min).trim()})`,
    );
    console.log('\nby onnxruntime op, per step:');
    for (const o of p.ops) console.log(`  ${o.op.padEnd(36)} ${ms(o.us.mean)} ms  quiet ${ms(o.us.min)} ms  ${String(o.nodes).padStart(4)} nodes`);

    // The same model through transformers.js: what a user's decode costs beyond the graph. Each
    // token's interval (from the streamer) against the graph's plain steps above.
    const lm = await loadCausalLM(exp.dir, { dtype, threads });
    const prompt = Array.from({ length: past }, (_, i) => 3 + ((i * 7919) % 400));
    const eosFree = { ...lm, eosTokenIds: [] };
    await generate(eosFree, { ids: prompt.slice(0, 16) }, { maxTokens: 4 });
    const stamps: number[] = [];
    const dec = await generate(eosFree, { ids: prompt }, { maxTokens: steps }, { onToken: () => stamps.push(performance.now()) });
    const gaps = stamps
      .slice(1)
      .map((t, k) => (t - stamps[k]!) / 1000)
      .sort((a, b) => a - b);
    const perToken = 1 / dec.tokensPerSecond;
    console.log(
      `\ntransformers.js decode after a ${past}-token prompt: ${dec.tokensPerSecond.toFixed(1)} tokens/s = ${(perToken * 1000).toFixed(2)} ms a token on average (${((boundS / perToken) * 100).toFixed(0)}% of the bound); fastest token ${(gaps[0]! * 1000).toFixed(2)} ms (${((boundS / gaps[0]!) * 100).toFixed(0)}%), median ${(gaps[Math.floor(gaps.length / 2)]! * 1000).toFixed(2)} ms`,
    );
    console.log(
      `the graph alone: fastest step ${(p.fastest * 1000).toFixed(2)} ms, median ${(p.median * 1000).toFixed(2)} ms: transformers.js adds ${((gaps[0]! - p.fastest) * 1000).toFixed(2)} ms a token (fastest against fastest)`,
    );
    await lm.dispose();
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
