import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../errors';
import { generate } from '../infer/generate';
import { type LoadedModel, loadCausalLM } from '../infer/load';
import { exportCheckpoint } from '../export/export';
import { type Adapter, readAdapter } from '../lora/adapter';
import { type CheckResult, maxAbsDiff } from './compare';
import { QUANTIZED_CHECKS, type QuantDtype } from './quantized';
import { TRAINING_CHECKS } from './training';
import { loadTokenizer } from '../infer/tokenizer';
import { type ChatMessage, renderChat } from '../prompts';
import { initializerLora } from '../lora/graph';
import { decoderShapeOf, loadModelConfig } from '../models/config';
import { buildDecoderModel } from '../models/graph';
import { WeightReader } from '../models/graph/weights';
import type { ModelDef } from '../onnx/model';
import { openSession, openSessionFromModel, runDecoderFull } from '../onnx/session';
import { TensorStore } from '../safetensors/checkpoint';
import { toNumbers } from '../safetensors/dtype';

/**
 * `tuneloop golden DIR`: the engine against the Hugging Face (+ PEFT) references in DIR, as defined
 * in the golden folders' README. One entry per check, named by the golden key it compares; later
 * engine parts add their entries to the table.
 */
export type { CheckResult } from './compare';

export interface GoldenOptions {
  readonly cacheDir?: string;
  readonly threads?: number;
  /** Run only these checks. */
  readonly only?: readonly string[];
  readonly onResult?: (r: CheckResult) => void;
  readonly onProgress?: (message: string) => void;
  /**
   * Train with the memory options on (the training checks): frozen weights fed from one copy, the
   * LM head and loss in chunks of 5 tokens, and gradient checkpointing.
   */
  readonly trainingMemoryOptions?: boolean;
  /**
   * Tests: alter each quantized model (q8, q4) before its checks run, to see a broken quantizer fail
   * them. With it, the quantized models are built in memory as the export builds them, rather than exported.
   */
  readonly alterQuantized?: (model: ModelDef, dtype: QuantDtype) => ModelDef;
}

export const LOGITS_TOL = 2e-4;
export const TIE_GAP = 4e-4;

interface GoldenJson {
  greedy_base: number[];
  greedy_gaps_base: number[];
  greedy_lora: number[];
  greedy_gaps_lora: number[];
  [key: string]: unknown;
}

/** What the checks share, made on first use. */
export class Context {
  private exported: Promise<string> | undefined;
  private loaded: Promise<LoadedModel> | undefined;
  private readonly merged = new Map<string, Promise<string>>();
  private readonly closers: (() => Promise<void>)[] = [];
  readonly golden: TensorStore;
  readonly json: GoldenJson;

  constructor(
    readonly dir: string,
    readonly options: GoldenOptions,
  ) {
    const st = path.join(dir, 'golden.safetensors');
    const js = path.join(dir, 'golden.json');
    for (const f of [st, js])
      if (!fs.existsSync(f))
        throw new TuneloopError(
          'missing golden reference file',
          { file: f },
          'a golden folder holds config.json, model.safetensors, tokenizer files, golden.json and golden.safetensors',
        );
    this.golden = TensorStore.openFiles([st]);
    this.json = JSON.parse(fs.readFileSync(js, 'utf8')) as GoldenJson;
  }

  exportDir(): Promise<string> {
    this.exported ??= exportCheckpoint(this.dir, {
      ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
      ...(this.options.onProgress ? { onProgress: this.options.onProgress } : {}),
    }).then((r) => r.dir);
    return this.exported;
  }

  /** The export with an adapter folder (relative to DIR) merged into the weights. */
  mergedExportDir(adapter: string): Promise<string> {
    let p = this.merged.get(adapter);
    if (!p) {
      p = exportCheckpoint(this.dir, { adapterDir: path.join(this.dir, adapter), ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}) }).then(
        (r) => r.dir,
      );
      this.merged.set(adapter, p);
    }
    return p;
  }

  /** Full-sequence logits of `input_ids` with the adapter folder `adapter` kept as separate LoRA branches (PEFT's unmerged forward). */
  logitsWithBranches(adapter: string): Promise<Float32Array> {
    return this.adapterLogits(readAdapter(path.join(this.dir, adapter), loadModelConfig(this.dir)), this.ids('input_ids'));
  }

  /**
   * Logits of `ids` (with an attention mask) with `adapter` as unmerged branches. Positions are
   * 0..S−1 in every row, as Hugging Face's forward pass numbers them when given no position_ids.
   */
  async adapterLogits(adapter: Adapter, ids: { data: BigInt64Array; dims: [number, number] }, mask?: BigInt64Array): Promise<Float32Array> {
    const cfg = loadModelConfig(this.dir);
    const store = TensorStore.openDir(this.dir);
    try {
      const model = buildDecoderModel(cfg, new WeightReader(cfg, store), { lora: initializerLora(adapter) });
      const session = await openSessionFromModel(model, this.options.threads);
      try {
        return (
          await runDecoderFull(session, { numLayers: cfg.numLayers, numKvHeads: cfg.numKvHeads, headDim: cfg.headDim }, ids.data, ids.dims, mask, 'arange')
        ).logits;
      } finally {
        await session.release();
      }
    } finally {
      store.close();
    }
  }

  model(): Promise<LoadedModel> {
    this.loaded ??= this.exportDir().then((d) => loadCausalLM(d, this.options.threads ? { threads: this.options.threads } : {}));
    return this.loaded;
  }

  ids(key: string): { data: BigInt64Array; dims: [number, number] } {
    const t = this.golden.read(key);
    return { data: new BigInt64Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 8), dims: [t.shape[0]!, t.shape[1]!] };
  }

  /** Run `f` when the checks are done (to release sessions a check opened). */
  onClose(f: () => Promise<void>): void {
    this.closers.push(f);
  }

  async close(): Promise<void> {
    for (const f of this.closers) await f();
    this.golden.close();
    if (this.loaded) await (await this.loaded).dispose();
  }
}

/** Greedy token ids against the reference; a differing step whose recorded gap is under TIE_GAP is a tie. */
export function compareGreedy(name: string, got: readonly number[], want: readonly number[], gaps: readonly number[], promptLength: number): CheckResult {
  for (let t = promptLength; t < want.length; t++) {
    if (got[t] === want[t]) continue;
    const step = t - promptLength;
    const gap = gaps[step] ?? Infinity;
    if (gap < TIE_GAP) return { name, maxAbsErr: 0, tol: 0, ok: true, detail: `tie at step ${step} (gap ${gap.toExponential(2)}), compared up to there` };
    return {
      name,
      maxAbsErr: 1,
      tol: 0,
      ok: false,
      detail: `first difference at step ${step}: got ${got[t] ?? 'nothing'}, expected ${want[t]} (recorded gap ${gap.toExponential(2)})`,
    };
  }
  if (got.length !== want.length)
    return { name, maxAbsErr: 1, tol: 0, ok: false, detail: `${got.length - promptLength} tokens generated, expected ${want.length - promptLength}` };
  return { name, maxAbsErr: 0, tol: 0, ok: true };
}

export interface Check {
  readonly name: string;
  /** One result, or several named by their golden keys (grad.<PEFT key>, train2.losses, ...). */
  run(ctx: Context): Promise<CheckResult | CheckResult[]>;
}

const CHECKS: Check[] = [
  logitsCheck('logits_base', async (ctx) => exportedLogits(ctx, await ctx.exportDir())),
  {
    name: 'greedy_base',
    async run(ctx) {
      const lm = await ctx.model();
      const prompt = toNumbers('I64', ctx.golden.readBytes('prompt_ids'));
      const want = ctx.json.greedy_base;
      const r = await generate(lm, { ids: prompt }, { maxTokens: want.length - prompt.length });
      return compareGreedy('greedy_base', [...prompt, ...r.tokens.map((t) => t.id)], want, ctx.json.greedy_gaps_base, prompt.length);
    },
  },
];

/** A logits check: the reference tensor `name` against what `compute` gives. */
function logitsCheck(name: string, compute: (ctx: Context) => Promise<Float32Array>): Check {
  return {
    name,
    async run(ctx) {
      const err = maxAbsDiff(await compute(ctx), ctx.golden.readFloat32(name));
      return { name, maxAbsErr: err, tol: LOGITS_TOL, ok: err <= LOGITS_TOL };
    },
  };
}

async function exportedLogits(ctx: Context, dir: string): Promise<Float32Array> {
  const session = await openSession(path.join(dir, 'onnx', 'model.onnx'), ctx.options.threads);
  try {
    const { data, dims } = ctx.ids('input_ids');
    return (await runDecoderFull(session, decoderShapeOf(dir), data, dims)).logits;
  } finally {
    await session.release();
  }
}

CHECKS.push(
  logitsCheck('logits_lora', (ctx) => ctx.logitsWithBranches('adapter')),
  logitsCheck('logits_trained', (ctx) => ctx.logitsWithBranches('adapter_trained')),
  logitsCheck('logits_merged_trained', async (ctx) => exportedLogits(ctx, await ctx.mergedExportDir('adapter_trained'))),
  {
    name: 'greedy_lora',
    async run(ctx) {
      const lm = await loadCausalLM(await ctx.mergedExportDir('adapter'), ctx.options.threads ? { threads: ctx.options.threads } : {});
      try {
        const prompt = toNumbers('I64', ctx.golden.readBytes('prompt_ids'));
        const want = ctx.json.greedy_lora;
        const r = await generate(lm, { ids: prompt }, { maxTokens: want.length - prompt.length });
        return compareGreedy('greedy_lora', [...prompt, ...r.tokens.map((t) => t.id)], want, ctx.json.greedy_gaps_lora, prompt.length);
      } finally {
        await lm.dispose();
      }
    },
  },
);

CHECKS.push({
  // The chat template through transformers.js' Jinja against Hugging Face's apply_chat_template.
  name: 'chat',
  async run(ctx) {
    const chat = ctx.json.chat as {
      messages: ChatMessage[];
      text_full: string;
      ids_full: number[];
      text_generation_prompt: string;
      ids_generation_prompt: number[];
    };
    const tok = await loadTokenizer(ctx.dir);
    const full = renderChat(tok, chat.messages, false);
    const gen = renderChat(tok, chat.messages.slice(0, 2), true);
    const problems: string[] = [];
    if (full.text !== chat.text_full) problems.push('text_full differs');
    if (JSON.stringify(full.ids) !== JSON.stringify(chat.ids_full)) problems.push('ids_full differ');
    if (gen.text !== chat.text_generation_prompt) problems.push('text_generation_prompt differs');
    if (JSON.stringify(gen.ids) !== JSON.stringify(chat.ids_generation_prompt)) problems.push('ids_generation_prompt differ');
    return { name: 'chat', maxAbsErr: problems.length, tol: 0, ok: problems.length === 0, ...(problems.length ? { detail: problems.join('; ') } : {}) };
  },
});
// q8 and q4 exports against the float32 reference (quantized.ts): q8.kernel, q8.logits, q8.top1, q8.perplexity, then q4.*.
CHECKS.push(...QUANTIZED_CHECKS);
CHECKS.push(...TRAINING_CHECKS);

export const CHECK_NAMES = CHECKS.map((c) => c.name);

export async function runGolden(dir: string, options: GoldenOptions = {}): Promise<{ ok: boolean; checks: CheckResult[] }> {
  for (const n of options.only ?? []) if (!CHECK_NAMES.includes(n)) throw new TuneloopError(`unknown check "${n}"`, {}, `checks: ${CHECK_NAMES.join(', ')}`);
  const ctx = new Context(dir, options);
  const checks: CheckResult[] = [];
  try {
    for (const c of CHECKS) {
      if (options.only && !options.only.includes(c.name)) continue;
      let rs: CheckResult[];
      try {
        const r = await c.run(ctx);
        rs = Array.isArray(r) ? r : [r];
      } catch (e) {
        if (e instanceof TuneloopError) throw e;
        rs = [{ name: c.name, maxAbsErr: Infinity, tol: 0, ok: false, detail: `failed to run: ${(e as Error).stack ?? (e as Error).message}` }];
      }
      for (const r of rs) {
        checks.push(r);
        options.onResult?.(r);
      }
    }
  } finally {
    await ctx.close();
  }
  return { ok: checks.every((c) => c.ok), checks };
}
