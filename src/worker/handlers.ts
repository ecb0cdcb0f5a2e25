import { TuneloopError } from '../core/errors';
import { describeModelFolder } from '../core/models/describe';
import { VERSION } from '../core/version';
import type { Params, RequestMethod, Result } from './protocol';

/** What the worker does for each request: one entry per method of the protocol. */
export const HANDLERS: { [M in RequestMethod]: (params: Params<M>, signal: AbortSignal) => Promise<Result<M>> | Result<M> } = {
  ping: () => ({ pid: process.pid, version: VERSION }),
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
