import { type ChildProcess, spawn } from 'node:child_process';
import { hugePagesEnv } from '../src/core/huge-pages';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DTYPE_SPECS, EXPORT_DTYPES, type ExportDtype } from '../src/core/dtypes';
import { exportCheckpoint } from '../src/core/export/export';
import { generate } from '../src/core/infer/generate';
import { loadCausalLM } from '../src/core/infer/load';
import { parameterCount, parseModelConfig } from '../src/core/models/config';
import { GraphBuilder } from '../src/core/onnx/builder';
import { encodeModel } from '../src/core/onnx/model';
import { type MemoryReport, MemorySampler, readProcStatus } from './memory';
import { readWeightBytes, type WeightBytes } from './onnx-weights';
import { pickByKey, SHAPES, type Shape, writeRandomCheckpoint } from './scale';
import { fastestRun } from './timing';

/**
 * Inference speed and memory per export dtype (issue 14), at the shapes bench/scale.ts defines
 * (random bf16 weights written by the project, the default model's tokenizer), for fp32, q8 and q4:
 *
 *   node out/bench/decode.js [--shapes smol,qwen,llama] [--dtypes fp32,q8,q4] [--threads 2]
 *                            [--tokens 128] [--prompt 512] [--work DIR] [--keep-exports]
 *
 * Each (shape, dtype) runs in two child processes of this script, measured from outside
 * (bench/memory.ts: VmRSS every 50 ms, and VmHWM):
 *   - the export: exportCheckpoint into an empty cache (seconds, and the process's peak RSS against
 *     the checkpoint's size in float32);
 *   - the inference: loadCausalLM, then generations through src/core/infer/generate.ts, batch 1,
 *     greedy: the first token of a 16-token prompt in the fresh process (load included), `--tokens`
 *     new tokens after a 16-token prompt (decode), with the RSS sampled while it decodes, and a
 *     512-token prompt's prefill (last: the process's peak includes it, the decode's RSS does not).
 * Beside each decode rate, its memory-bandwidth bound: bandwidth (a `--threads` onnxruntime
 * ReduceSum over 1 GiB of float32, one row per thread (see `bandwidth`), measured in this run,
 * before and after the children, the higher kept) over the bytes of weights a token reads as that export stores them (the .onnx's
 * initializers, read from the file: each once, a tied head that is one tensor once, a table that
 * only a Gather reads one row). Figures, never pass/fail; the issue's targets are printed beside them.
 *
 * --work DIR keeps the checkpoints there (reused on the next run); exports are always made afresh
 * (their seconds are a figure) and removed after their run unless --keep-exports.
 */

const GIB = 2 ** 30;
/** The prompt of the decode run and of the first-token figure. */
const SHORT_PROMPT = 16;

export interface DecodeFigures {
  /** loadCausalLM, seconds. */
  readonly loadSeconds: number;
  /** From loadCausalLM's start to the first token of a 16-token prompt, the process's first generation. */
  readonly firstTokenSeconds: number;
  readonly prefillTokens: number;
  readonly prefillSeconds: number;
  /** New tokens after the first, per second (generate's tokensPerSecond). */
  readonly decodeTokensPerSecond: number;
  /** One over the median interval between two tokens: less moved by a busy neighbour's bursts than the mean. */
  readonly decodeMedianTokensPerSecond: number;
  readonly decodeTokens: number;
}

export interface DecodeResult {
  readonly shape: Shape;
  readonly dtype: ExportDtype;
  readonly status: 'done' | 'failed';
  readonly message?: string;
  /** Parameters (tied counted once) and the checkpoint's size in float32. */
  readonly params: number;
  readonly checkpointF32Bytes: number;
  readonly exportSeconds?: number;
  /** The export process, whole. */
  readonly exportMemory?: MemoryReport;
  readonly weights?: WeightBytes;
  /** The export's files under onnx/, bytes. */
  readonly fileBytes?: number;
  readonly figures?: DecodeFigures;
  /** The inference process while it decodes (sampled from the decode's start to its end). */
  readonly decodeMemory?: MemoryReport;
  /** The inference process, whole (load included). */
  readonly processMemory?: MemoryReport;
}

// ---- the child processes ----------------------------------------------------------------------

/** What a child prints, one line each: `phase NAME` as it enters a phase, then `result JSON`. */
const PHASE = 'phase ';
const RESULT = 'result ';

async function childExport(src: string, dtype: ExportDtype, cacheDir: string): Promise<unknown> {
  const r = await exportCheckpoint(src, { dtype, cacheDir });
  if (r.cached) throw new Error(`the export of ${src} (${dtype}) was found in ${cacheDir}, which should be empty`);
  return { dir: r.dir, seconds: r.seconds };
}

async function childDecode(dir: string, dtype: ExportDtype, threads: number, tokens: number, promptTokens: number): Promise<DecodeFigures> {
  const t0 = performance.now();
  const loaded = await loadCausalLM(dir, { dtype, threads });
  const loadSeconds = (performance.now() - t0) / 1000;
  // Random weights may choose the end token at any step: no end token, so every run has `tokens` tokens.
  const lm = { ...loaded, eosTokenIds: [] };
  const vocab = Number((JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size);
  const prompt = Array.from({ length: Math.max(promptTokens, SHORT_PROMPT) }, (_, i) => 3 + ((i * 7919) % Math.min(vocab - 3, 49000)));
  const first = await generate(lm, { ids: prompt.slice(0, SHORT_PROMPT) }, { maxTokens: 4 });
  const firstTokenSeconds = loadSeconds + first.timeToFirstTokenMs / 1000;
  // Decode before the long prompt: the RSS while decoding is then that of a short prompt's run, not
  // onnxruntime's arena grown by the 512-token prefill (whose peak the process's VmHWM shows).
  process.stdout.write(`${PHASE}decode\n`);
  const stamps: number[] = [];
  const dec = await generate(lm, { ids: prompt.slice(0, SHORT_PROMPT) }, { maxTokens: tokens }, { onToken: () => stamps.push(performance.now()) });
  process.stdout.write(`${PHASE}decoded\n`);
  if (dec.tokens.length !== tokens) throw new Error(`generated ${dec.tokens.length} tokens, expected ${tokens} (finish: ${dec.finish})`);
  const pre = await generate(lm, { ids: prompt.slice(0, promptTokens) }, { maxTokens: 1 });
  const gaps = stamps
    .slice(1)
    .map((t, i) => t - stamps[i]!)
    .sort((a, b) => a - b);
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : Number.NaN;
  await loaded.dispose();
  return {
    loadSeconds,
    firstTokenSeconds,
    prefillTokens: promptTokens,
    prefillSeconds: pre.timeToFirstTokenMs / 1000,
    decodeTokensPerSecond: dec.tokensPerSecond,
    decodeMedianTokensPerSecond: 1000 / median,
    decodeTokens: tokens,
  };
}

/** Run as a child: do the work, print the result, and stay alive until the parent closes stdin (so it can read VmHWM). */
async function child(args: readonly string[]): Promise<void> {
  const value = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0 || i + 1 >= args.length) throw new Error(`child: ${name} missing`);
    return args[i + 1]!;
  };
  const dtype = value('--dtype') as ExportDtype;
  const result =
    value('--child') === 'export'
      ? await childExport(value('--src'), dtype, value('--cache'))
      : await childDecode(value('--dir'), dtype, Number(value('--threads')), Number(value('--tokens')), Number(value('--prompt')));
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => undefined);
    process.stdin.on('end', resolve);
    process.stdin.on('error', resolve);
  });
}

interface ChildRun {
  readonly result?: unknown;
  readonly error?: string;
  /** The whole process; its VmHWM read while it waited after its result. */
  readonly memory: MemoryReport;
  /** Sampled from `phase decode` to `phase decoded`, when it printed them. */
  readonly phaseMemory?: MemoryReport;
}

/** Runs this script as a child with `args` and measures it from outside. */
async function runChild(args: readonly string[], timeoutMs: number): Promise<ChildRun> {
  // In the environment the worker and the CLI's model commands run in (huge pages asked for).
  const proc: ChildProcess = spawn(process.execPath, [__filename, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: hugePagesEnv(process.env) });
  const sampler = new MemorySampler(proc.pid!, 50);
  let phase: MemorySampler | undefined;
  let phaseMemory: MemoryReport | undefined;
  let result: unknown;
  let memory: MemoryReport | undefined;
  let stderr = '';
  let pending = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (stderr += d));
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    pending += d;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line === `${PHASE}decode`) phase = new MemorySampler(proc.pid!, 50);
      else if (line === `${PHASE}decoded` && phase) phaseMemory = phase.stop();
      else if (line.startsWith(RESULT)) {
        result = JSON.parse(line.slice(RESULT.length));
        // The child waits for stdin to close: its VmHWM now is its peak over the whole run.
        memory = sampler.stop();
        const s = readProcStatus(proc.pid!);
        if (s) memory = { ...memory, hwm: Math.max(memory.hwm, s.hwm) };
        proc.stdin!.end();
      }
    }
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  phase?.stop();
  memory ??= sampler.stop();
  if (result === undefined) {
    const last = stderr.trim();
    return { error: `exited with ${code}${last ? `: ${last}` : ''}`, memory, ...(phaseMemory ? { phaseMemory } : {}) };
  }
  return { result, memory, ...(phaseMemory ? { phaseMemory } : {}) };
}

// ---- bandwidth --------------------------------------------------------------------------------

/**
 * Bytes per second `threads` onnxruntime threads read: a ReduceSum over `bytes` of float32 laid out
 * as [threads, n/threads] and summed along its rows (fastest of 5 runs). Reduced to one scalar
 * ([n] → []), onnxruntime's ReduceSum runs on one thread whatever intraOpNumThreads says: that
 * measures one core, 27–29 GB/s here, against 50–56 GB/s for two rows on two threads (and 44–47
 * GB/s for a 2-thread M = 1 MatMul streaming a 1 GiB float32 weight), so a bound from it is no bound.
 */
export async function bandwidth(threads: number, bytes = GIB): Promise<number> {
  const n = Math.floor(bytes / 4 / threads) * threads;
  const g = new GraphBuilder('bandwidth');
  const x = g.input('x', 'float32', [threads, n / threads]);
  g.output(g.op('ReduceSum', [x, g.i64(1)], { keepdims: 0 }), 'y', [threads]);
  const model = Buffer.concat(encodeModel(g.model({ producerName: 'tuneloop-bench', producerVersion: '0' })));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const feeds = { x: new ort.Tensor('float32', new Float32Array(n).fill(1), [threads, n / threads]) };
    return (n * 4) / (await fastestRun(session, feeds));
  } finally {
    await session.release();
  }
}

// ---- the whole benchmark ----------------------------------------------------------------------

export interface DecodeRequest {
  /** Checkpoints under models/, exports under cache/. */
  readonly work: string;
  readonly shapes: readonly Shape[];
  readonly dtypes: readonly ExportDtype[];
  readonly threads: number;
  readonly tokens: number;
  readonly promptTokens: number;
  /** The bandwidth measurement's size (default 1 GiB). */
  readonly bandwidthBytes?: number;
  readonly keepExports?: boolean;
  readonly log?: (line: string) => void;
}

export interface DecodeBench {
  readonly results: DecodeResult[];
  /** Bytes per second, the higher of the two measurements. */
  readonly bandwidth: number;
  readonly table: string;
  readonly targets: string;
}

function folderBytes(dir: string): number {
  return fs.existsSync(dir) ? fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0) : 0;
}

async function runOne(req: DecodeRequest, shape: Shape, dtype: ExportDtype, ckpt: string, params: number): Promise<DecodeResult> {
  const base = { shape, dtype, params, checkpointF32Bytes: params * 4 };
  const cacheDir = path.join(req.work, 'cache', `${shape.key}-${dtype}`);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  fs.mkdirSync(cacheDir, { recursive: true });
  try {
    const ex = await runChild(['--child', 'export', '--src', ckpt, '--dtype', dtype, '--cache', cacheDir], 30 * 60_000);
    if (ex.error) return { ...base, status: 'failed', message: `export ${ex.error}`, exportMemory: ex.memory };
    const { dir, seconds } = ex.result as { dir: string; seconds: number };
    const weights = readWeightBytes(path.join(dir, 'onnx', DTYPE_SPECS[dtype].file));
    const exported = { ...base, exportSeconds: seconds, exportMemory: ex.memory, weights, fileBytes: folderBytes(path.join(dir, 'onnx')) };
    const run = await runChild(
      [
        '--child',
        'decode',
        '--dir',
        dir,
        '--dtype',
        dtype,
        '--threads',
        String(req.threads),
        '--tokens',
        String(req.tokens),
        '--prompt',
        String(req.promptTokens),
      ],
      30 * 60_000,
    );
    const memory = { processMemory: run.memory, ...(run.phaseMemory ? { decodeMemory: run.phaseMemory } : {}) };
    if (run.error) return { ...exported, ...memory, status: 'failed', message: `inference ${run.error}` };
    return { ...exported, ...memory, status: 'done', figures: run.result as DecodeFigures };
  } finally {
    if (!req.keepExports) fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

const gib = (b: number | undefined) => (b === undefined ? '–' : (b / GIB).toFixed(2));
const fixed = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
/** A process's peak: the larger of VmHWM and the sampled peak (the kernel's RSS counters are per-CPU approximations). */
const peakOf = (m: MemoryReport | undefined) => (m && m.samples > 0 ? Math.max(m.hwm, m.peakRss) : undefined);

/** Tokens per second the bandwidth allows, reading `bytesPerToken` per token. */
export function boundOf(r: DecodeResult, bw: number): number | undefined {
  return r.weights ? bw / r.weights.bytesPerToken : undefined;
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

export function formatTable(results: readonly DecodeResult[], bw: number): string {
  const header = [
    'shape',
    'dtype',
    'MB/token',
    'bound tok/s',
    'decode tok/s',
    'decode/bound',
    'median tok/s',
    'prefill tok/s',
    'first token s',
    'load s',
    'decode RSS GiB',
    'process peak GiB',
    'export s',
    'export peak GiB',
    'export peak/f32',
    "others' CPU %",
  ];
  const rows: string[][] = [header];
  for (const r of results) {
    const bound = boundOf(r, bw);
    const f = r.figures;
    const exportPeak = peakOf(r.exportMemory);
    const row = [
      r.shape.name,
      r.dtype,
      r.weights ? (r.weights.bytesPerToken / 1e6).toFixed(0) : '–',
      fixed(bound, 1),
      fixed(f?.decodeTokensPerSecond, 1),
      f && bound ? `${((f.decodeTokensPerSecond / bound) * 100).toFixed(0)}%` : '–',
      fixed(f?.decodeMedianTokensPerSecond, 1),
      f ? (f.prefillTokens / f.prefillSeconds).toFixed(0) : '–',
      fixed(f?.firstTokenSeconds, 2),
      fixed(f?.loadSeconds, 2),
      gib(r.decodeMemory?.peakRss),
      gib(peakOf(r.processMemory)),
      fixed(r.exportSeconds, 1),
      gib(exportPeak),
      exportPeak ? (exportPeak / r.checkpointF32Bytes).toFixed(2) : '–',
      r.decodeMemory?.othersCpuShare !== undefined ? (r.decodeMemory.othersCpuShare * 100).toFixed(0) : '–',
    ];
    rows.push(row);
    if (r.status !== 'done') rows.push([`  ${r.shape.name} ${r.dtype} failed: ${r.message ?? ''}`]);
  }
  return columns(rows, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])).join('\n');
}

/** The issue's targets at the 1B shape (or the largest shape run), figure by figure. */
export function formatTargets(results: readonly DecodeResult[], bw: number): string {
  const key = results.some((r) => r.shape.key === 'llama') ? 'llama' : results.at(-1)?.shape.key;
  const at = results.filter((r) => r.shape.key === key);
  if (!at.length) return '';
  const by = (d: ExportDtype) => at.find((r) => r.dtype === d && r.status === 'done');
  const rate = (d: ExportDtype) => by(d)?.figures?.decodeTokensPerSecond;
  const lines = [`targets (issue 14) at the ${at[0]!.shape.name} shape:`];
  const line = (what: string, value: string, target: string, met: boolean | undefined) =>
    lines.push(`  ${what.padEnd(34)} ${value.padStart(9)}   target ${target.padEnd(8)} ${met === undefined ? '' : met ? 'met' : 'NOT met'}`);
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
  const q8 = ratio(rate('q8'), rate('fp32'));
  const q4 = ratio(rate('q4'), rate('fp32'));
  const q4r = by('q4');
  const q4Bound = q4r ? ratio(rate('q4'), boundOf(q4r, bw)) : undefined;
  line('decode q8 ÷ fp32', q8 === undefined ? '–' : `${q8.toFixed(2)}×`, '≥ 1.8×', q8 === undefined ? undefined : q8 >= 1.8);
  line('decode q4 ÷ fp32', q4 === undefined ? '–' : `${q4.toFixed(2)}×`, '≥ 3×', q4 === undefined ? undefined : q4 >= 3);
  line('decode q4 ÷ its bound', q4Bound === undefined ? '–' : `${(q4Bound * 100).toFixed(0)}%`, '≥ 70%', q4Bound === undefined ? undefined : q4Bound >= 0.7);
  const q4Rss = q4r?.decodeMemory?.peakRss;
  line('RSS while decoding, q4', q4Rss === undefined ? '–' : `${gib(q4Rss)} GiB`, '≤ 1.5 GiB', q4Rss === undefined ? undefined : q4Rss <= 1.5 * GIB);
  for (const r of at) {
    if (r.exportSeconds === undefined) continue;
    line(`export seconds, ${r.dtype}`, `${r.exportSeconds.toFixed(1)} s`, '≤ 60 s', r.exportSeconds <= 60);
    const peak = peakOf(r.exportMemory);
    if (peak) line(`export peak RSS ÷ f32 checkpoint, ${r.dtype}`, `${(peak / r.checkpointF32Bytes).toFixed(2)}`, '≤ 1.3', peak / r.checkpointF32Bytes <= 1.3);
  }
  return lines.join('\n');
}

/** Lines describing one (shape, dtype) in full. */
function describe(r: DecodeResult, bw: number): string[] {
  const lines = [`${r.shape.name} / ${r.dtype}: ${r.status}${r.message ? `: ${r.message}` : ''}`];
  if (r.weights) {
    const w = r.weights;
    const gathered = w.gatherOnly.map((t) => `${t.name} ${(t.bytes / 1e6).toFixed(0)} MB`).join(', ');
    lines.push(
      `  weights    ${(w.bytesPerToken / 1e6).toFixed(1)} MB read per token (${w.initializers.length} initializers, ${(w.storedBytes / 1e6).toFixed(1)} MB stored${gathered ? `, of which read one row per token: ${gathered}` : ''}); files ${((r.fileBytes ?? 0) / 1e6).toFixed(1)} MB; bound ${fixed(boundOf(r, bw), 1)} tokens/s`,
    );
  }
  if (r.exportSeconds !== undefined) {
    const m = r.exportMemory;
    lines.push(
      `  export     ${r.exportSeconds.toFixed(1)} s (the process used ${fixed(m?.cpuSeconds, 1)} s of CPU; others ${fixed(m?.othersCpuShare !== undefined ? m.othersCpuShare * 100 : undefined, 0)}% of the machine's meanwhile); peak RSS ${gib(peakOf(m))} GiB (VmHWM; ${m?.samples ?? 0} samples, longest gap ${fixed(m?.maxGapMs, 0)} ms) = ${fixed(peakOf(m) && peakOf(m)! / r.checkpointF32Bytes, 2)} × the checkpoint in float32 (${gib(r.checkpointF32Bytes)} GiB)`,
    );
  }
  const f = r.figures;
  if (f) {
    lines.push(
      `  inference  load ${f.loadSeconds.toFixed(2)} s; first token ${f.firstTokenSeconds.toFixed(2)} s after the load began (${SHORT_PROMPT}-token prompt); prefill ${(f.prefillTokens / f.prefillSeconds).toFixed(0)} tokens/s (${f.prefillTokens} tokens in ${f.prefillSeconds.toFixed(2)} s); decode ${f.decodeTokensPerSecond.toFixed(2)} tokens/s (${f.decodeTokens} new tokens after a ${SHORT_PROMPT}-token prompt; ${fixed(f.decodeMedianTokensPerSecond, 2)} at the median interval between tokens)`,
    );
  }
  const d = r.decodeMemory;
  if (d)
    lines.push(
      `  memory     decoding: RSS ${gib(d.firstRss)} → ${gib(d.peakRss)} GiB sampled (${d.samples} samples, longest gap ${d.maxGapMs.toFixed(0)} ms); the process's peak ${gib(peakOf(r.processMemory))} GiB (VmHWM, load included); others used ${fixed(d.othersCpuShare !== undefined ? d.othersCpuShare * 100 : undefined, 0)}% of the machine's CPU while it decoded`,
    );
  return lines;
}

export async function runDecode(req: DecodeRequest): Promise<DecodeBench> {
  const log = req.log ?? ((line: string) => console.log(line));
  const bwBytes = req.bandwidthBytes ?? GIB;
  const bwBefore = await bandwidth(req.threads, bwBytes);
  log(
    `bandwidth ${(bwBefore / 1e9).toFixed(1)} GB/s (onnxruntime ReduceSum over ${(bwBytes / 2 ** 20).toFixed(0)} MiB of float32, ${req.threads} rows on ${req.threads} threads)`,
  );
  const results: DecodeResult[] = [];
  for (const shape of req.shapes) {
    const t = performance.now();
    const ckpt = path.join(req.work, 'models', shape.key);
    const w = writeRandomCheckpoint(ckpt, shape.config);
    const params = parameterCount(parseModelConfig(shape.config));
    log(
      `${shape.name}: ${(params / 1e6).toFixed(1)}M parameters, ${gib(w.bytes)} GiB of bf16 ${w.written ? `written in ${((performance.now() - t) / 1000).toFixed(1)} s` : 'already there'} (${ckpt})`,
    );
    for (const dtype of req.dtypes) {
      const r = await runOne(req, shape, dtype, ckpt, params);
      for (const line of describe(r, bwBefore)) log(line);
      results.push(r);
    }
  }
  const bwAfter = await bandwidth(req.threads, bwBytes);
  const bw = Math.max(bwBefore, bwAfter);
  log(`bandwidth ${(bwAfter / 1e9).toFixed(1)} GB/s after the runs; the bounds use the higher, ${(bw / 1e9).toFixed(1)} GB/s`);
  const table = formatTable(results, bw);
  const targets = formatTargets(results, bw);
  log('');
  log(
    `${req.threads} threads on ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (${os.cpus().length} cores); batch 1, greedy; decode: ${req.tokens} new tokens after a ${SHORT_PROMPT}-token prompt; prefill: a ${req.promptTokens}-token prompt`,
  );
  log(table);
  log('');
  log(targets);
  return { results, bandwidth: bw, table, targets };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--child')) return child(args);
  const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const number = (name: string, dflt: number) => {
    const v = value(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return n;
  };
  const shapes = pickByKey(SHAPES, value('--shapes'), 'shape');
  const dtypes = pickByKey(
    EXPORT_DTYPES.map((key) => ({ key })),
    value('--dtypes'),
    'dtype',
  ).map((d) => d.key);
  const threads = number('--threads', 2);
  const tokens = number('--tokens', 128);
  const promptTokens = number('--prompt', 512);
  const keep = value('--work');
  const work = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-decode-'));
  fs.mkdirSync(work, { recursive: true });
  const started = performance.now();
  try {
    await runDecode({ work, shapes, dtypes, threads, tokens, promptTokens, keepExports: args.includes('--keep-exports') });
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`\nbench:decode took ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
