import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DTYPE_SPECS, type ExportDtype } from '../src/core/dtypes';
import { type AdapterMode, exportCheckpoint } from '../src/core/export/export';
import { generate } from '../src/core/infer/generate';
import { loadCausalLM } from '../src/core/infer/load';
import { decoderShapeOf } from '../src/core/models/config';
import { openSession, runDecoderFull } from '../src/core/onnx/session';
import { parsePromptText } from '../src/core/compare/prompt-file';
import { renderForModel } from '../src/core/prompts';

/**
 * How far q8 and q4 move the default model and the example's adapter from fp32, on the example's
 * 42 held-out cases (where greedy agreement means something: the goldens are tiny random models).
 *
 *   node out/bench/fidelity.js [--threads 2]
 *
 * Per variant and dtype: exact answers; greedy outputs (32 tokens) equal to fp32's; tokens that agree
 * with fp32's before the first difference; and, teacher-forced over the expected answers, top-1
 * agreement with fp32 and the perplexity of the expected answer tokens.
 */
const args = process.argv.slice(2);
const threads = Number(args[args.indexOf('--threads') + 1] || 2);
const ROOT = path.resolve(__dirname, '..', '..');
const MODEL = path.join(ROOT, 'models', 'default');
const ADAPTER = path.join(ROOT, 'examples', 'adapters', 'answer-format');
const PROMPT = path.join(ROOT, 'examples', 'answer-format.prompt.yml');

interface Variant {
  readonly name: string;
  readonly dtype: ExportDtype;
  readonly adapter?: AdapterMode;
}

interface Outcome {
  readonly texts: string[];
  readonly tokens: number[][];
  /** Per case: the top-1 token at each position of the expected answer (teacher-forced). */
  readonly argmax: number[][];
  nll: number;
  count: number;
}

async function main(): Promise<void> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-fidelity-'));
  const prompt = parsePromptText(fs.readFileSync(PROMPT, 'utf8'), PROMPT);
  const cases = prompt.testData ?? [];
  const variants: Variant[] = [];
  for (const dtype of ['fp32', 'q8', 'q4'] as const) {
    variants.push({ name: 'base', dtype });
    variants.push({ name: 'adapter', dtype, adapter: dtype === 'fp32' ? 'merge' : 'branches' });
    if (dtype !== 'fp32') variants.push({ name: 'adapter merged', dtype, adapter: 'merge' });
  }
  const results = new Map<string, Outcome>();
  try {
    console.log(`fidelity bench: the default model and the example's adapter, ${cases.length} cases, greedy, 32 tokens, ${threads} threads`);
    console.log('variant           dtype  exact  same output  tokens agreeing  top-1 (forced)  perplexity');
    for (const v of variants) {
      const exp = await exportCheckpoint(MODEL, { cacheDir, dtype: v.dtype, ...(v.adapter ? { adapterDir: ADAPTER, adapterMode: v.adapter } : {}) });
      const lm = await loadCausalLM(exp.dir, { dtype: v.dtype, threads });
      const session = await openSession(path.join(exp.dir, 'onnx', DTYPE_SPECS[v.dtype].file), threads);
      const shape = decoderShapeOf(exp.dir);
      const out: Outcome = { texts: [], tokens: [], argmax: [], nll: 0, count: 0 };
      let exact = 0;
      for (const c of cases) {
        const input = renderForModel(prompt, c.values, lm.tokenizer);
        const r = await generate(lm, input, { maxTokens: 32 });
        const ids = r.tokens.map((t) => t.id);
        const text = lm.tokenizer.decode(ids, { skip_special_tokens: true }).trim();
        out.texts.push(text);
        out.tokens.push(ids);
        if (text === String(c.values.expected)) exact++;
        // Teacher-forced: the prompt, then the expected answer and end of turn.
        const answer = lm.tokenizer.encode(String(c.values.expected), { add_special_tokens: false }) as number[];
        const full = [...input.ids, ...answer, ...lm.eosTokenIds.slice(0, 1)];
        const { logits } = await runDecoderFull(session, shape, BigInt64Array.from(full, BigInt), [1, full.length]);
        const V = logits.length / full.length;
        const picks: number[] = [];
        for (let t = input.ids.length - 1; t < full.length - 1; t++) {
          const row = logits.subarray(t * V, (t + 1) * V);
          let best = 0;
          let max = -Infinity;
          for (let k = 0; k < V; k++) if (row[k]! > max) [max, best] = [row[k]!, k];
          let sum = 0;
          for (let k = 0; k < V; k++) sum += Math.exp(row[k]! - max);
          out.nll += Math.log(sum) + max - row[full[t + 1]!]!;
          out.count++;
          picks.push(best);
        }
        out.argmax.push(picks);
      }
      await session.release();
      await lm.dispose();
      results.set(`${v.name}/${v.dtype}`, out);
      const ref = results.get(`${v.name === 'adapter merged' ? 'adapter' : v.name}/fp32`)!;
      const same = out.texts.filter((t, i) => t === ref.texts[i]).length;
      let agreeing = 0;
      let total = 0;
      out.tokens.forEach((ids, i) => {
        const want = ref.tokens[i]!;
        let k = 0;
        while (k < ids.length && k < want.length && ids[k] === want[k]) k++;
        agreeing += k;
        total += want.length;
      });
      let top1 = 0;
      let positions = 0;
      out.argmax.forEach((p, i) => {
        p.forEach((a, k) => {
          top1 += a === ref.argmax[i]![k] ? 1 : 0;
          positions++;
        });
      });
      const ppl = Math.exp(out.nll / out.count);
      const refPpl = Math.exp(ref.nll / ref.count);
      console.log(
        `${v.name.padEnd(17)} ${v.dtype.padEnd(5)}  ${`${exact}/${cases.length}`.padStart(5)}  ${`${same}/${cases.length}`.padStart(11)}  ${`${((agreeing / total) * 100).toFixed(1)}%`.padStart(15)}  ${`${((top1 / positions) * 100).toFixed(1)}%`.padStart(14)}  ${ppl.toFixed(4)} (${ppl >= refPpl ? '+' : ''}${(((ppl - refPpl) / refPpl) * 100).toFixed(2)}%)`,
      );
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
