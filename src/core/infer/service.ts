import type { GenerationParams, GenerationResult, GeneratedToken, Prompt } from './generate';
import { generate } from './generate';
import { type LoadedModel, loadCausalLM, type LoadOptions } from './load';
import type { ExportDtype } from '../dtypes';

/**
 * One inference API for every caller: the CLI and tests use it in-process; the extension uses the same
 * interface backed by the worker process (src/worker/inference.ts), so loading a model never blocks
 * its host.
 */
export interface ModelInfo {
  readonly handle: string;
  readonly dir: string;
  readonly modelType: string;
  /** The dtype the model was loaded in (fp32, q8 or q4). */
  readonly dtype: ExportDtype;
}

export interface InferenceCallbacks {
  readonly onToken?: (token: GeneratedToken) => void;
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/** `allowDownload`: fetch a Hub model the Hugging Face cache does not hold (models/resolve.ts finds the rest offline). */
export type ServiceLoadOptions = Pick<LoadOptions, 'threads' | 'cacheDir' | 'contextTokens' | 'allowDownload' | 'dtype'>;

export interface Inference {
  load(source: string, options?: ServiceLoadOptions, callbacks?: InferenceCallbacks): Promise<ModelInfo>;
  generate(handle: string, prompt: Prompt, params: GenerationParams, callbacks?: InferenceCallbacks): Promise<GenerationResult>;
  unload(handle: string): Promise<void>;
  dispose(): Promise<void>;
}

/** Models loaded in this process, by handle. */
export class InProcessInference implements Inference {
  private readonly models = new Map<string, LoadedModel>();
  private next = 1;

  async load(source: string, options: ServiceLoadOptions = {}, callbacks: InferenceCallbacks = {}): Promise<ModelInfo> {
    const lm = await loadCausalLM(source, {
      ...options,
      ...(callbacks.onProgress ? { onProgress: callbacks.onProgress } : {}),
      ...(callbacks.signal ? { signal: callbacks.signal } : {}),
    });
    const handle = `model-${this.next++}`;
    this.models.set(handle, lm);
    return { handle, dir: lm.dir, modelType: lm.model.config.model_type as string, dtype: lm.dtype };
  }

  generate(handle: string, prompt: Prompt, params: GenerationParams, callbacks: InferenceCallbacks = {}): Promise<GenerationResult> {
    const lm = this.models.get(handle);
    if (!lm) return Promise.reject(new Error(`no model loaded as ${handle}`));
    return generate(lm, prompt, params, callbacks);
  }

  async unload(handle: string): Promise<void> {
    const lm = this.models.get(handle);
    this.models.delete(handle);
    await lm?.dispose();
  }

  async dispose(): Promise<void> {
    for (const h of [...this.models.keys()]) await this.unload(h);
  }
}
