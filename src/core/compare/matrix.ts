import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, TuneloopError } from '../errors';
import { continuationLogProb, type FinishReason, type GeneratedToken, type GenerationParams, type GenerationResult, generate } from '../infer/generate';
import { type LoadedModel, type LoadOptions, loadCausalLM } from '../infer/load';
import { defaultCacheDir, fileSha256 } from '../export/cache';
import { exportCheckpoint } from '../export/export';
import { DEFAULT_DTYPE, DTYPE_SPECS, type ExportDtype } from '../dtypes';
import { casePassed, type EvaluationResult, evaluate, type PromptFile, renderMessages, type Variables } from '../prompts';
import { checkpointSha256 } from '../train/spec';
import { cellCompleted } from './scores';
import { repeatSeed } from './repeats';
import { eventsWhile } from './events-while';

/**
 * A prompt file's test cases × its variants (the base model, adapters merged into it, other full
 * weights): each output generated, each evaluator run, streamed as events. The one matrix behind
 * `tuneloop run`, `eval` and `demo` (src/cli) and the panel's compare view and matrix (the worker's
 * runMatrix), so that they agree on every output and pass rate, and "Accept as snapshot" in the
 * panel writes what `tuneloop eval` then finds.
 *
 * A pass rate is the share of completed cells that passed: a cell stopped by a cancel, or one that
 * failed, did not complete. A variant with no completed cell has no pass rate (and fails any
 * minPassRate: see meetsMinPassRate). Each evaluator's own rate, and each adapter's regressions
 * against the base, are computed from the cells by scores.ts.
 */
export interface MatrixVariant {
  readonly name: string;
  /** A PEFT adapter to merge into the base model. */
  readonly adapterDir?: string | undefined;
  /** Full weights to run instead of the base model (a run that trained every weight). */
  readonly modelDir?: string | undefined;
}

export interface MatrixCase {
  readonly index: number;
  readonly vars: Variables;
  /** The prompt this case runs with, where it is not the spec's (a probe's swapped messages, core/probes). */
  readonly prompt?: PromptFile | undefined;
}

export interface CellResult {
  readonly text: string;
  readonly tokens: readonly GeneratedToken[];
  readonly evaluations: readonly EvaluationResult[];
  readonly passed: boolean;
  readonly finish: FinishReason;
  readonly timeToFirstTokenMs: number;
  readonly tokensPerSecond: number;
  /** Tokens of the rendered prompt (what a call costs in input), and the seconds the generation took, prefill included. */
  readonly promptTokens?: number | undefined;
  readonly seconds?: number | undefined;
  /** With the spec's `scoreExpected`, where the case has a text `expected`: log p(expected | prompt), teacher-forced. */
  readonly expectedLogProb?: number | undefined;
}

export interface MatrixSpec {
  /** The prompt file, for messages. */
  readonly file: string;
  readonly prompt: PromptFile;
  /**
   * The base model: as named (for messages), and its folder, or how to find it the first time a
   * variant needs it (models/resolve.ts; a download reports progress), so that a model that cannot
   * be found is an error of the variants that need it.
   */
  readonly model: { readonly id: string; readonly dir: string | ((onProgress: (message: string) => void) => Promise<string>) };
  readonly variants: readonly MatrixVariant[];
  readonly cases: readonly MatrixCase[];
  readonly params: GenerationParams;
  /** The weights' dtype every variant runs in (default fp32): a checkpoint is exported in it, an adapter merged first. */
  readonly dtype?: ExportDtype | undefined;
  /**
   * Runs per test case (default 1). Above 1, run r of each case samples with seed `params.seed + r`
   * (repeats.ts), and each cell event carries its `run`. Pass rates count every completed run.
   */
  readonly repeat?: number | undefined;
  /** Also score each case's `expected` text as a continuation of its prompt (CellResult.expectedLogProb). */
  readonly scoreExpected?: boolean | undefined;
}

/** A model lent to the matrix for one variant's cells; `release` when they are done (dispose it, or keep it for later). */
export interface ModelLease {
  readonly model: LoadedModel;
  release(): Promise<void>;
}

export type ModelLoader = (dir: string, options: LoadOptions) => Promise<ModelLease>;

export interface MatrixOptions {
  /** Where exports and merged adapters are cached (default: $TUNELOOP_CACHE or ~/.cache/tuneloop). */
  readonly cacheDir?: string | undefined;
  readonly threads?: number | undefined;
  /** Stops between tokens; the cells done so far stay, and the end says `cancelled`. */
  readonly signal?: AbortSignal | undefined;
  /** Also hash the base model at the end (for a snapshot). */
  readonly hashModel?: boolean | undefined;
  /** How a variant's model is loaded (default: loaded for its cells, then disposed); the worker keeps a few between requests. */
  readonly loadModel?: ModelLoader | undefined;
}

export type MatrixEvent =
  | { readonly type: 'variantStart'; readonly variant: MatrixVariant }
  /** Loading (or merging, or finding the base model of) a variant failed: its cells do not run. */
  | { readonly type: 'variantError'; readonly variant: string; readonly error: unknown; readonly message: string }
  | { readonly type: 'progress'; readonly variant: string; readonly message: string }
  /** The variant's model is loaded, in this dtype (the loader's own word for what runs). */
  | { readonly type: 'variantLoaded'; readonly variant: string; readonly dtype: ExportDtype }
  /** `run`: which of a case's repeats (0, 1, …), only when the spec repeats cases. */
  | { readonly type: 'cellStart'; readonly variant: string; readonly caseIndex: number; readonly run?: number }
  | { readonly type: 'token'; readonly variant: string; readonly caseIndex: number; readonly run?: number; readonly token: GeneratedToken }
  | { readonly type: 'cellDone'; readonly variant: string; readonly caseIndex: number; readonly run?: number; readonly cell: CellResult }
  | {
      readonly type: 'cellError';
      readonly variant: string;
      readonly caseIndex: number;
      readonly run?: number;
      readonly error: unknown;
      readonly message: string;
    }
  | {
      readonly type: 'end';
      /** Passed ÷ completed cells, for each variant with a completed cell. */
      readonly passRates: Readonly<Record<string, number>>;
      readonly cancelled: boolean;
      /** With `hashModel`, unless cancelled. */
      readonly modelSha256?: string | undefined;
    };

/** Whether a variant meets its minPassRate; one with no completed cell has no pass rate and never does. */
export function meetsMinPassRate(passRate: number | undefined, minPassRate: number): boolean {
  return passRate !== undefined && passRate >= minPassRate;
}

/**
 * The base model's content hash, as snapshots record it: its weights, or, where it has no weights
 * (a transformers.js folder), the ONNX file of the dtype that runs.
 */
export function modelHash(dir: string, cacheDir: string, dtype: ExportDtype = DEFAULT_DTYPE): string {
  const onnx = path.join(dir, 'onnx', DTYPE_SPECS[dtype].file);
  if (fs.existsSync(onnx) && !fs.existsSync(path.join(dir, 'model.safetensors')) && !fs.existsSync(path.join(dir, 'model.safetensors.index.json'))) {
    return fileSha256(onnx, cacheDir);
  }
  return checkpointSha256(dir, cacheDir);
}

/** Load for the variant's cells, dispose after them. */
export const loadForOneVariant: ModelLoader = async (dir, options) => {
  const model = await loadCausalLM(dir, options);
  return { model, release: () => model.dispose() };
};

/**
 * The folder a variant runs: its own weights, or the base with its adapter applied (cached by
 * content). Either is exported in the matrix's dtype by the loader, or here with the adapter.
 */
async function variantDir(
  v: MatrixVariant,
  spec: MatrixSpec,
  baseDir: (onProgress: (message: string) => void) => Promise<string>,
  options: { cacheDir: string; signal: AbortSignal },
  onProgress: (message: string) => void,
): Promise<string> {
  if (v.modelDir) return v.modelDir;
  const base = await baseDir(onProgress);
  if (!v.adapterDir) return base;
  if (!fs.existsSync(path.join(base, 'config.json')) || fs.existsSync(path.join(base, 'onnx'))) {
    throw new TuneloopError(
      `adapters are merged into a Hugging Face checkpoint folder, and ${spec.model.id} is not one`,
      { file: spec.file },
      'point model (or --model) at the base checkpoint folder',
    );
  }
  return adapterOnBase(base, { name: v.name, dir: v.adapterDir }, spec.dtype ?? DEFAULT_DTYPE, { ...options, onProgress });
}

/**
 * An adapter on the base, exported in the matrix's dtype (one export per adapter and dtype, cached).
 * How it is applied is the exporter's default for the dtype (export.ts adapterMode: merged into the
 * weights for fp32; for q8 and q4, float32 LoRA branches beside the quantized weights, which keep the
 * adapter's change from being rounded to the base's step). The one place that decides it, so that
 * a choice of mode (merge, then quantize) is added here.
 */
async function adapterOnBase(
  base: string,
  adapter: { readonly name: string; readonly dir: string },
  dtype: ExportDtype,
  options: { cacheDir: string; signal: AbortSignal; onProgress: (message: string) => void },
): Promise<string> {
  options.onProgress(`${adapter.name}: ${dtype === 'fp32' ? 'merging the adapter into the base model' : `applying the adapter to the base model in ${dtype}`}`);
  return (await exportCheckpoint(base, { adapterDir: adapter.dir, dtype, cacheDir: options.cacheDir, signal: options.signal, onProgress: options.onProgress }))
    .dir;
}

/**
 * The matrix, variant by variant and case by case. A variant that cannot load is reported and the
 * others still run; a cell that fails is reported and the next runs. The consumer decides what an
 * error means (the CLI stops at the first, the panel shows each). Stopping the iteration early
 * cancels what is running and releases the model.
 */
export async function* runMatrix(spec: MatrixSpec, options: MatrixOptions = {}): AsyncGenerator<MatrixEvent, void, undefined> {
  const cacheDir = options.cacheDir || defaultCacheDir();
  const loadModel = options.loadModel ?? loadForOneVariant;
  // Our own signal: the caller's, or the consumer leaving the loop (which must not leave a generation running).
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const signal = stop.signal;
  let base: Promise<string> | undefined;
  const baseDir = (onProgress: (message: string) => void): Promise<string> => {
    const dir = spec.model.dir;
    base ??= typeof dir === 'string' ? Promise.resolve(dir) : dir(onProgress);
    return base;
  };
  const passRates: Record<string, number> = {};
  const dtype = spec.dtype ?? DEFAULT_DTYPE;
  const repeat = spec.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1) throw new TuneloopError(`repeat must be a whole number ≥ 1, got ${repeat}`, { file: spec.file });
  try {
    for (const v of spec.variants) {
      if (signal.aborted) break;
      yield { type: 'variantStart', variant: v };
      let lease: ModelLease;
      try {
        lease = yield* eventsWhile<MatrixEvent, ModelLease>(async (push) => {
          const onProgress = (message: string) => push({ type: 'progress', variant: v.name, message });
          const dir = await variantDir(v, spec, baseDir, { cacheDir, signal }, onProgress);
          onProgress(`${v.name}: loading the model`);
          // Not tied to the signal (the worker may keep the model for the next request): released at once if stopped meanwhile.
          const loaded = await loadModel(dir, { cacheDir, onProgress, dtype, ...(options.threads ? { threads: options.threads } : {}) });
          if (signal.aborted) {
            await loaded.release();
            throw new Error('stopped');
          }
          return loaded;
        }, onAbort);
      } catch (error) {
        if (signal.aborted) break;
        yield { type: 'variantError', variant: v.name, error, message: describeError(error) };
        continue;
      }
      yield { type: 'variantLoaded', variant: v.name, dtype: lease.model.dtype };
      let passed = 0;
      let completed = 0;
      try {
        for (const c of spec.cases) {
          for (let r = 0; r < repeat; r++) {
            if (signal.aborted) break;
            // Repeated runs name their run and sample with their own seed; a single run is as it always was.
            const run = repeat > 1 ? { run: r } : {};
            const params = repeat > 1 ? { ...spec.params, seed: repeatSeed(spec.params.seed, r) } : spec.params;
            yield { type: 'cellStart', variant: v.name, caseIndex: c.index, ...run };
            let cell: CellResult;
            try {
              const prompt = c.prompt ?? spec.prompt;
              const messages = renderMessages(prompt, c.vars);
              const result = yield* eventsWhile<MatrixEvent, GenerationResult>(
                (push) =>
                  generate(lease.model, { messages }, params, {
                    signal,
                    onToken: (token) => push({ type: 'token', variant: v.name, caseIndex: c.index, ...run, token }),
                  }),
                onAbort,
              );
              const evaluations = evaluate(prompt, result.text, c.vars);
              const expected = c.vars['expected'];
              const expectedLogProb =
                spec.scoreExpected && typeof expected === 'string' && expected !== '' && result.finish !== 'cancelled'
                  ? (await continuationLogProb(lease.model, { messages }, expected)).logprob
                  : undefined;
              cell = {
                text: result.text,
                tokens: result.tokens,
                evaluations,
                passed: casePassed(evaluations),
                finish: result.finish,
                timeToFirstTokenMs: result.timeToFirstTokenMs,
                tokensPerSecond: result.tokensPerSecond,
                promptTokens: result.promptIds.length,
                seconds: result.seconds,
                ...(expectedLogProb !== undefined ? { expectedLogProb } : {}),
              };
            } catch (error) {
              yield { type: 'cellError', variant: v.name, caseIndex: c.index, ...run, error, message: describeError(error) };
              continue;
            }
            if (cellCompleted(cell)) {
              completed++;
              if (cell.passed) passed++;
            }
            yield { type: 'cellDone', variant: v.name, caseIndex: c.index, ...run, cell };
          }
        }
      } finally {
        await lease.release();
      }
      if (completed > 0) passRates[v.name] = passed / completed;
    }
    const cancelled = options.signal?.aborted ?? false;
    yield {
      type: 'end',
      passRates,
      cancelled,
      ...(options.hashModel && !cancelled ? { modelSha256: modelHash(await baseDir(() => undefined), cacheDir, dtype) } : {}),
    };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}
