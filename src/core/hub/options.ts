import * as os from 'node:os';
import * as path from 'node:path';
import { TuneloopError } from '../errors';

/** Progress of one file's transfer; `bytes` counts from the start of the file, resumed bytes included. */
export interface HubProgress {
  /** The path of the file inside the repo (`onnx/model.onnx`). */
  file: string;
  bytes: number;
  /** Unknown when the server sends no size. */
  total: number | undefined;
}

export interface HubOptions {
  /** Default: `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string | undefined;
  /** Sent as `Authorization: Bearer …` to the endpoint. Default: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`. */
  token?: string | undefined;
  /** Default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (where huggingface_hub looks). */
  cacheDir?: string | undefined;
  /** Called as bytes arrive, for every chunk; throttle on the receiving side if needed. */
  onProgress?: ((p: HubProgress) => void) | undefined;
  /** Aborting stops the transfer and keeps the partial file, so the next attempt resumes. */
  signal?: AbortSignal | undefined;
  /**
   * Give up on a connection that sends nothing for this many milliseconds, while waiting for an
   * answer or in the middle of a body (a half-open connection would otherwise hang for ever). A
   * download cut this way is retried, and keeps its partial file to resume from. Default:
   * `TUNELOOP_HUB_IDLE_TIMEOUT_MS`, else 30000.
   */
  idleTimeoutMs?: number | undefined;
  /** Default: the global fetch. Must support `redirect: 'manual'` returning the 3xx response, as Node's does. */
  fetch?: typeof fetch | undefined;
  /** Use only the cache, send no request. Default: `HF_HUB_OFFLINE` set to 1 (or true/yes/on, as huggingface_hub reads it). */
  offline?: boolean | undefined;
}

export interface ResolvedHubOptions {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  onProgress: ((p: HubProgress) => void) | undefined;
  signal: AbortSignal | undefined;
  idleTimeoutMs: number;
  fetch: typeof fetch;
  offline: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** The longest delay setTimeout takes; a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** An empty variable counts as unset, as it does for huggingface_hub. */
function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

/** The cache folder huggingface_hub uses, so models a user already downloaded with it are found. */
export function defaultCacheDir(): string {
  const hubCache = env('HF_HUB_CACHE');
  if (hubCache !== undefined) return path.resolve(hubCache);
  const hfHome = env('HF_HOME');
  if (hfHome !== undefined) return path.resolve(hfHome, 'hub');
  return path.join(os.homedir(), '.cache', 'huggingface', 'hub');
}

function idleTimeoutMs(opts: HubOptions): number {
  const raw = opts.idleTimeoutMs ?? env('TUNELOOP_HUB_IDLE_TIMEOUT_MS');
  if (raw === undefined) return DEFAULT_IDLE_TIMEOUT_MS;
  const ms = Number(raw);
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) {
    const where = opts.idleTimeoutMs !== undefined ? 'the idleTimeoutMs option' : 'TUNELOOP_HUB_IDLE_TIMEOUT_MS';
    throw new TuneloopError(
      `${where} must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, found ${JSON.stringify(raw)}`,
      {},
      `unset it to wait ${DEFAULT_IDLE_TIMEOUT_MS} ms`,
    );
  }
  return ms;
}

/** Fill in defaults from the environment; read at call time so a changed environment takes effect. */
export function resolveHubOptions(opts: HubOptions = {}): ResolvedHubOptions {
  const endpoint = (opts.endpoint ?? env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = opts.token ?? env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  return {
    endpoint,
    token: token === '' ? undefined : token,
    cacheDir: opts.cacheDir !== undefined ? path.resolve(opts.cacheDir) : defaultCacheDir(),
    onProgress: opts.onProgress,
    signal: opts.signal,
    idleTimeoutMs: idleTimeoutMs(opts),
    // Looked up at call time and called unbound: some fetch implementations refuse another `this`.
    fetch: opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    offline: opts.offline ?? isTruthy(env('HF_HUB_OFFLINE')),
  };
}
