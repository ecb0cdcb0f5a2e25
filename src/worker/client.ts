import { type ChildProcess, fork } from 'node:child_process';
import { TuneloopError } from '../core/errors';
import {
  describeIssues,
  FromWorker,
  type ErrorInfo,
  type RequestParams,
  type RequestEvent,
  type RequestMethod,
  REQUESTS,
  type RequestResult,
  type ToWorker,
} from './protocol';
import { hugePagesEnv } from '../core/huge-pages';

export class WorkerError extends Error {
  constructor(readonly info: ErrorInfo) {
    super(info.message);
    this.name = info.user ? 'TuneloopError' : 'WorkerError';
  }
}

interface Pending {
  method: RequestMethod;
  onEvent: ((e: RequestEvent) => void) | undefined;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export interface WorkerClientOptions {
  /** Path of the bundled worker entry (dist/worker.js). */
  readonly entry: string;
  readonly onLog?: (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Host side of the worker boundary: forks the worker, sends typed requests, validates every reply.
 * A worker that dies fails its pending requests with its exit status; the next request starts a new one.
 */
export class WorkerClient {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly options: WorkerClientOptions) {}

  request<M extends RequestMethod>(method: M, params: RequestParams<M>, signal?: AbortSignal, onEvent?: (e: RequestEvent) => void): Promise<RequestResult<M>> {
    const checked = REQUESTS[method].params.safeParse(params);
    if (!checked.success) return Promise.reject(new TuneloopError(`invalid params for ${method}: ${describeIssues(checked.error)}`));
    return this.start().then(
      () =>
        new Promise<RequestResult<M>>((resolve, reject) => {
          if (signal?.aborted) return reject(new Error('cancelled'));
          const id = this.nextId++;
          this.pending.set(id, { method, onEvent, resolve: resolve as (v: unknown) => void, reject });
          signal?.addEventListener('abort', () => this.post({ kind: 'cancel', id }), { once: true });
          this.post({ kind: 'request', id, method, params: checked.data });
        }),
    );
  }

  dispose(): void {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (child && child.exitCode === null) child.kill();
    this.failAll(new Error('worker stopped'));
  }

  private post(message: ToWorker): void {
    this.child?.send(message);
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const child = fork(this.options.entry, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: hugePagesEnv(this.options.env ?? process.env) });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.stdout?.on('data', (d: Buffer) => this.options.onLog?.('debug', `worker: ${d.toString().trimEnd()}`));
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (raw) => {
        const parsed = FromWorker.safeParse(raw);
        if (!parsed.success) {
          this.options.onLog?.('error', `worker sent an invalid message: ${describeIssues(parsed.error)}`);
          return;
        }
        const m = parsed.data;
        if (m.kind === 'ready') return resolve();
        if (m.kind === 'log') return this.options.onLog?.(m.level, m.message);
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.kind === 'event') return p.onEvent?.(m.event);
        this.pending.delete(m.id);
        if (m.kind === 'error') return p.reject(new WorkerError(m.error));
        const result = REQUESTS[p.method].result.safeParse(m.result);
        if (result.success) p.resolve(result.data);
        else p.reject(new Error(`worker returned an invalid ${p.method} result: ${describeIssues(result.error)}`));
      });
      child.on('exit', (code, signal) => {
        const why = new Error(`worker exited (${signal ?? `status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`);
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        reject(why);
        this.failAll(why);
      });
      child.on('error', reject);
    });
    return this.ready;
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
