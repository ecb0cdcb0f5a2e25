import { TuneloopError } from '../core/errors';
import { describeModelFolder } from '../core/infer/describe';
import { VERSION } from '../core/version';
import { InProcessInference } from '../core/infer/service';
import type { RequestEvent, RequestMethod, RequestParams, RequestResult } from './protocol';
import { runMatrixRequest, runProbesRequest } from './matrix';
import { renderPrompt } from './render';
import { distillDataRequest, distillReportRequest } from './distill';

export interface HandlerContext {
  readonly signal: AbortSignal;
  emit(event: RequestEvent): void;
}

/**
 * Models live in the worker; the host holds handles. A Hub model comes from the Hugging Face cache,
 * or is downloaded when the request allows it (models/resolve.ts); cancelling the request (the
 * panel's Stop) cancels its download.
 */
const inference = new InProcessInference();

/** What the worker does for each request: one entry per method of the protocol. */
export const HANDLERS: { [M in RequestMethod]: (params: RequestParams<M>, ctx: HandlerContext) => Promise<RequestResult<M>> | RequestResult<M> } = {
  ping: () => ({ pid: process.pid, version: VERSION }),
  loadModel: ({ source, ...options }, ctx) =>
    inference.load(source, options, { signal: ctx.signal, onProgress: (message) => ctx.emit({ type: 'progress', message }) }),
  generate: ({ handle, prompt, params }, ctx) =>
    inference.generate(handle, prompt, params, { signal: ctx.signal, onToken: (token) => ctx.emit({ type: 'token', token }) }),
  unloadModel: async ({ handle }) => {
    await inference.unload(handle);
    return {};
  },
  renderPrompt: (params) => renderPrompt(params),
  runMatrix: (params, ctx) => runMatrixRequest(params, ctx),
  runProbes: (params, ctx) => runProbesRequest(params, ctx),
  distillData: (params, ctx) => distillDataRequest(params, ctx),
  distillReport: (params, ctx) => distillReportRequest(params, ctx),
  describeCheckpoint: async ({ dir }) => {
    const { summary, lines } = await describeModelFolder(dir);
    return { architecture: summary.architecture, modelType: summary.config.modelType, parameters: summary.parameters, lines };
  },
};

export function errorInfo(e: unknown): { message: string; file?: string; key?: string; user: boolean } {
  if (e instanceof TuneloopError) {
    return { message: e.message, ...(e.file !== undefined && { file: e.file }), ...(e.key !== undefined && { key: e.key }), user: true };
  }
  return { message: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e), user: false };
}
