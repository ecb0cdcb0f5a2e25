import type { GenerationParams, GenerationResult, Prompt } from '../src/core/infer/generate';
import type { Inference, InferenceCallbacks, ModelInfo, ServiceLoadOptions } from '../src/core/infer/service';
import { type WorkerClient, WorkerError } from '../src/worker/client';
import { TuneloopError } from '../src/core/errors';

/** The Inference API backed by the worker process: same calls, models held in the worker. */
export class WorkerInference implements Inference {
  constructor(private readonly worker: WorkerClient) {}

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      // User errors cross the boundary as data; make them TuneloopErrors again on this side.
      if (e instanceof WorkerError && e.info.user) throw new TuneloopError(e.info.message);
      throw e;
    }
  }

  load(source: string, options: ServiceLoadOptions = {}, callbacks: InferenceCallbacks = {}): Promise<ModelInfo> {
    return this.call(() =>
      this.worker.request('loadModel', { source, ...options }, callbacks.signal, (e) => {
        if (e.type === 'progress') callbacks.onProgress?.(e.message);
      }),
    );
  }

  generate(handle: string, prompt: Prompt, params: GenerationParams, callbacks: InferenceCallbacks = {}): Promise<GenerationResult> {
    return this.call(() =>
      this.worker.request('generate', { handle, prompt, params }, callbacks.signal, (e) => {
        if (e.type === 'token') callbacks.onToken?.(e.token);
      }),
    );
  }

  async unload(handle: string): Promise<void> {
    await this.call(() => this.worker.request('unloadModel', { handle }));
  }

  async dispose(): Promise<void> {
    this.worker.dispose();
  }
}
