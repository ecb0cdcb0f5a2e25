import { type MatrixSpec, type ModelLease, runMatrix } from '../core/compare/matrix';
import { parsePromptText } from '../core/compare/prompt-file';
import { type LoadedModel, type LoadOptions, loadCausalLM } from '../core/infer/load';
import { resolveModel } from '../core/models/resolve';
import { runProbes } from '../core/probes/run';
import type { Variables } from '../core/prompts';
import type { HandlerContext } from './handlers';
import type { RequestParams, RequestResult } from './protocol';

/**
 * The worker's half of the panel's compare view and matrix (request `runMatrix`): the core's matrix
 * (src/core/compare/matrix.ts), the same that `tuneloop run` and `eval` run, with the variants and
 * cases chosen by the caller and every event forwarded as the protocol's. Models stay loaded
 * between requests (the user runs the same prompt again and again), a few at a time.
 */
const KEEP = 3;
const loaded = new Map<string, Promise<LoadedModel>>();

function modelFor(dir: string, options: LoadOptions): Promise<LoadedModel> {
  // One folder may hold several dtypes' files (a transformers.js folder): the dtype is part of the key.
  const key = `${dir}\n${options.dtype ?? 'fp32'}\n${options.threads ?? 0}`;
  const kept = loaded.get(key);
  if (kept) {
    loaded.delete(key);
    loaded.set(key, kept); // most recently used last
    return kept;
  }
  // Not tied to one request's signal: another request may use the model the first one started loading.
  const lm = loadCausalLM(dir, { ...options, signal: undefined });
  loaded.set(key, lm);
  lm.catch(() => loaded.get(key) === lm && loaded.delete(key));
  while (loaded.size > KEEP) {
    const [oldest, model] = loaded.entries().next().value!;
    loaded.delete(oldest);
    void model.then((m) => m.dispose()).catch(() => undefined);
  }
  return lm;
}

/** A kept model: released by the cache, not by the request. */
const keptModel = async (dir: string, options: LoadOptions): Promise<ModelLease> => ({ model: await modelFor(dir, options), release: async () => undefined });

/** How the panel's user allows a download, for the message when the request did not. */
const PANEL_DOWNLOAD_HINT = 'allow the download in the panel';

/** The base model as the matrix finds it: a folder, or a Hub id from the Hugging Face cache (downloaded when the request allows it). */
function baseModel(p: { model: string; allowDownload?: boolean | undefined }, ctx: HandlerContext) {
  return {
    id: p.model,
    dir: async (onProgress: (message: string) => void) =>
      (
        await resolveModel(p.model, {
          base: process.cwd(),
          allowDownload: p.allowDownload,
          downloadHint: PANEL_DOWNLOAD_HINT,
          signal: ctx.signal,
          onProgress,
        })
      ).dir,
  };
}

/** The matrix a request asks for: its prompt (as the editor holds it), base model, variants and cases. */
function matrixSpec(p: RequestParams<'runProbes'>, ctx: HandlerContext): MatrixSpec {
  return {
    file: p.promptFile,
    prompt: parsePromptText(p.promptText, p.promptFile),
    model: baseModel(p, ctx),
    variants: p.variants,
    cases: p.cases.map((c) => ({ index: c.index, vars: c.vars as Variables })),
    params: p.params,
    ...(p.dtype ? { dtype: p.dtype } : {}),
  };
}

/** The panel's Probes tab (request `runProbes`): core/probes/run.ts on kept models. */
export async function runProbesRequest(p: RequestParams<'runProbes'>, ctx: HandlerContext): Promise<RequestResult<'runProbes'>> {
  const { report, cancelled } = await runProbes(matrixSpec(p, ctx), {
    cacheDir: p.cacheDir,
    threads: p.threads,
    signal: ctx.signal,
    loadModel: keptModel,
    onProgress: (message) => ctx.emit({ type: 'progress', message }),
  });
  // The report's readonly arrays are the schema's, read-write: the same data, typed for the protocol.
  return { report: report as RequestResult<'runProbes'>['report'], cancelled };
}

export async function runMatrixRequest(p: RequestParams<'runMatrix'>, ctx: HandlerContext): Promise<RequestResult<'runMatrix'>> {
  const events = runMatrix(matrixSpec(p, ctx), { cacheDir: p.cacheDir, threads: p.threads, signal: ctx.signal, hashModel: p.hashModel, loadModel: keptModel });
  for await (const e of events) {
    switch (e.type) {
      case 'progress':
        ctx.emit({ type: 'progress', message: e.message });
        break;
      case 'variantError':
        ctx.emit({ type: 'variantError', variant: e.variant, message: e.message });
        break;
      case 'cellStart':
        ctx.emit({ type: 'cellStart', variant: e.variant, caseIndex: e.caseIndex });
        break;
      case 'token':
        ctx.emit({ type: 'cellToken', variant: e.variant, caseIndex: e.caseIndex, token: e.token });
        break;
      case 'cellDone': {
        const { evaluations, ...cell } = e.cell;
        ctx.emit({
          type: 'cell',
          variant: e.variant,
          caseIndex: e.caseIndex,
          cell: { ...cell, evaluations: evaluations.map((x) => ({ name: x.name, passed: x.passed ?? null, detail: x.detail })) },
        });
        break;
      }
      case 'cellError':
        ctx.emit({ type: 'cellError', variant: e.variant, caseIndex: e.caseIndex, message: e.message });
        break;
      case 'end':
        return { passRates: { ...e.passRates }, cancelled: e.cancelled, ...(e.modelSha256 ? { modelSha256: e.modelSha256 } : {}) };
      case 'variantLoaded':
        ctx.emit({ type: 'variantLoaded', variant: e.variant, dtype: e.dtype });
        break;
      case 'variantStart':
        break;
    }
  }
  throw new Error('the matrix ended without its end event');
}
