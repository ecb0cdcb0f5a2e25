import * as fs from 'node:fs';
import * as path from 'node:path';
import { TuneloopError } from '../core/errors';
import { generate } from '../core/infer/generate';
import { type LoadedModel, loadCausalLM } from '../core/infer/load';
import { modelHash } from '../core/compare/matrix';
import { defaultCacheDir } from '../core/models/cache';
import { exportCheckpoint } from '../core/models/export';
import { casePassed, evaluate, parsePrompt, renderMessages, type Variables } from '../core/prompts';
import type { HandlerContext } from './handlers';
import type { Params, Result } from './protocol';

/**
 * The worker's half of the panel's compare view and matrix (request `runMatrix`): the same steps as
 * the CLI's runMatrix (src/core/compare/matrix.ts), with the variants and cases chosen by the caller
 * and every cell streamed as events. Models stay loaded between requests (the user runs the same
 * prompt again and again), a few at a time.
 */
const KEEP = 3;
const loaded = new Map<string, Promise<LoadedModel>>();

function modelFor(dir: string, options: { threads?: number; cacheDir: string; onProgress: (m: string) => void }): Promise<LoadedModel> {
  const key = `${dir}\n${options.threads ?? 0}`;
  const kept = loaded.get(key);
  if (kept) {
    loaded.delete(key);
    loaded.set(key, kept); // most recently used last
    return kept;
  }
  // Not tied to one request's signal: another request may use the model the first one started loading.
  const lm = loadCausalLM(dir, { cacheDir: options.cacheDir, onProgress: options.onProgress, ...(options.threads ? { threads: options.threads } : {}) });
  loaded.set(key, lm);
  lm.catch(() => loaded.get(key) === lm && loaded.delete(key));
  while (loaded.size > KEEP) {
    const [oldest, model] = loaded.entries().next().value!;
    loaded.delete(oldest);
    void model.then((m) => m.dispose()).catch(() => undefined);
  }
  return lm;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runMatrixRequest(p: Params<'runMatrix'>, ctx: HandlerContext): Promise<Result<'runMatrix'>> {
  const { prompt, diagnostics } = parsePrompt(p.promptText, p.promptFile);
  const err = diagnostics.find((d) => d.severity === 'error');
  if (!prompt || err)
    throw new TuneloopError(err?.message ?? 'cannot read the prompt file', { file: p.promptFile, ...(err ? { line: err.line, column: err.column } : {}) });
  const cacheDir = p.cacheDir || defaultCacheDir();
  const base = path.resolve(p.model);
  const passRates: Record<string, number> = {};
  const onProgress = (m: string) => ctx.emit({ type: 'progress', message: m });
  for (const v of p.variants) {
    if (ctx.signal.aborted) break;
    let lm: LoadedModel;
    try {
      let dir = v.modelDir ?? base;
      if (v.adapterDir) {
        if (!fs.existsSync(path.join(base, 'config.json')) || fs.existsSync(path.join(base, 'onnx'))) {
          throw new TuneloopError(`adapters are merged into a Hugging Face checkpoint folder, and ${p.model} is not one`, { file: p.promptFile });
        }
        onProgress(`${v.name}: merging the adapter into the base model`);
        dir = (await exportCheckpoint(base, { adapterDir: v.adapterDir, cacheDir, signal: ctx.signal, onProgress })).dir;
      }
      onProgress(`${v.name}: loading the model`);
      lm = await modelFor(dir, { cacheDir, onProgress, ...(p.threads ? { threads: p.threads } : {}) });
    } catch (e) {
      if (ctx.signal.aborted) break;
      ctx.emit({ type: 'variantError', variant: v.name, message: message(e) });
      continue;
    }
    let passed = 0;
    let done = 0;
    for (const c of p.cases) {
      if (ctx.signal.aborted) break;
      ctx.emit({ type: 'cellStart', variant: v.name, caseIndex: c.index });
      try {
        const vars = c.vars as Variables;
        const r = await generate(lm, { messages: renderMessages(prompt, vars) }, p.params, {
          signal: ctx.signal,
          onToken: (token) => ctx.emit({ type: 'cellToken', variant: v.name, caseIndex: c.index, token }),
        });
        const results = evaluate(prompt, r.text, vars);
        const evaluations = results.map((e) => ({ name: e.name, passed: e.passed ?? null, detail: e.detail }));
        const ok = casePassed(results);
        if (r.finish !== 'cancelled') {
          done++;
          if (ok) passed++;
        }
        ctx.emit({
          type: 'cell',
          variant: v.name,
          caseIndex: c.index,
          cell: {
            text: r.text,
            tokens: r.tokens,
            evaluations,
            passed: ok,
            finish: r.finish,
            timeToFirstTokenMs: r.timeToFirstTokenMs,
            tokensPerSecond: r.tokensPerSecond,
          },
        });
      } catch (e) {
        ctx.emit({ type: 'cellError', variant: v.name, caseIndex: c.index, message: message(e) });
      }
    }
    if (done > 0) passRates[v.name] = passed / done;
  }
  const cancelled = ctx.signal.aborted;
  return { passRates, cancelled, ...(p.hashModel && !cancelled ? { modelSha256: modelHash(base, cacheDir) } : {}) };
}
